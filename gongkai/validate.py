"""Check a content file's node tree against the content format and build the model from it.

Every problem is collected (never the first only), each naming file, line, column, key path,
what was expected and what was found. See docs/content-format.md for the format itself.
"""
from __future__ import annotations

import bisect
import dataclasses
import datetime
import difflib
import re
import typing
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import Callable, Optional

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from . import load, urls
from .errors import NOTE, Problem
from .model import (Agency, AgencyYear, ContentLink, Document, Indicator, Original, Part, ParsedValue,
                    PlanPoint, Pos, Project, Section, TocEntry, Unplaced)

T = "tag:yaml.org,2002:"
NULL, STR, INT, FLOAT = T + "null", T + "str", T + "int", T + "float"
AMOUNT_RE = re.compile(r"^-?[0-9]+(?:\.[0-9]+)?$")   # not \d: full-width digits are text
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
URL_SAFE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
HTML_RE = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(\s[^<>]*)?/?>|<!--")
# Zero-width and bidirectional formatting characters: invisible, often pasted along with text.
INVISIBLE_RE = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
MD_LINK_RE = re.compile(r"\]\(\s*<?([^()\s>]*(?:\([^()\s]*\))?)|^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)|<([A-Za-z][A-Za-z0-9+.-]{1,31}:[^<>\s]*)>",
                        re.MULTILINE)
SAFE_SCHEMES = ("http:", "https:", "mailto:")
COMPARATORS = {"≥", ">", "≤", "<", "="}
MAX_LISTED = 200          # problems listed per file; a pathological file could give 100,000


class Ctx:
    """Where we are: the file label and the problems found so far."""

    def __init__(self, label: str, earlier: tuple[Problem, ...] = (), source: str = ""):
        self.label = label
        self.source = source      # the file's text: positions inside multi-line values
        self.links: list[ContentLink] = []
        self.problems: list[Problem] = []
        self.earlier = earlier    # problems found while loading, so they are not repeated
        self.earlier_errors = sorted((p.line, p.column) for p in earlier if p.is_error)

    def error(self, node: Optional[Node], key: str, message: str, hint: str = "") -> None:
        self.problems.append(Problem.at(self.label, node, message, key=key, hint=hint))

    def note(self, node: Optional[Node], key: str, message: str, hint: str = "") -> None:
        self.problems.append(Problem.at(self.label, node, message, key=key, hint=hint, severity=NOTE))

    def pos(self, node: Node) -> Pos:
        return Pos(self.label, node.start_mark.line + 1, node.start_mark.column + 1)

    def pos_in(self, node: Node, text: str, start: int) -> tuple[Pos, int]:
        """Where `text` is written in `node`'s value, looking from index `start` of the file
        (the node's start when not found), and the index to look on from."""
        found = self.source.find(text, max(start, node.start_mark.index), node.end_mark.index)
        if found < 0:
            return self.pos(node), start
        line = self.source.count("\n", 0, found) + 1
        return Pos(self.label, line, found - self.source.rfind("\n", 0, found)), found + len(text)


def describe(node: Node) -> str:
    """What YAML made of a node, in words an editor understands."""
    if isinstance(node, MappingNode):
        return "a mapping (key: value lines)"
    if isinstance(node, SequenceNode):
        return "a list"
    tag, raw = node.tag, node.value
    if tag == T + "str":
        return f"the text {raw!r}"
    value = load.resolved(node)
    if tag == T + "bool":
        return f"{raw} (YAML reads unquoted {raw} as the boolean {str(value).lower()})"
    if tag == T + "int":
        same = str(value) == raw
        return f"the number {raw}" + ("" if same else f" (YAML reads unquoted {raw} as {value})")
    if tag == T + "float":
        same = repr(value) == raw
        return f"the number {raw}" + ("" if same else f" (YAML reads unquoted {raw} as {value})")
    if tag == T + "null":
        return "nothing"
    if tag == T + "timestamp":
        return f"the date {raw}"
    return repr(raw)


# --- scalar converters: (ctx, node, key) -> value or None ----------------------------------

def text(ctx: Ctx, node: Node, key: str) -> Optional[str]:
    if node.tag != STR or not isinstance(node, ScalarNode):
        if node.tag == NULL and isinstance(node, ScalarNode):
            return None
        hint = "write the text on the same line as the key, or as a `|-` block below it"
        if isinstance(node, ScalarNode):
            hint = f'write it in quotes to keep it as printed: "{node.value}"'
        ctx.error(node, key, f"expected text, found {describe(node)}", hint)
        return None
    value = node.value
    if node.style == '"':   # only escapes (`"\x01"`) can make what load.py refuses in the file
        bad = load.BAD_CHAR_RE.search(value)
        if bad:
            name = unicodedata.name(bad.group(0), "control character")
            ctx.error(node, key, f"text holds the invisible character U+{ord(bad.group(0)):04X} ({name}), "
                      "written as an escape", hint="remove the `\\` escape; pages, feeds and data files cannot hold it")
            return None
    if "<" in value and HTML_RE.search(value):   # every match starts with "<"
        ctx.note(node, key, "text looks like HTML; it will be shown exactly as typed, not as markup")
    if INVISIBLE_RE.search(value):
        ctx.note(node, key, "text holds invisible characters (zero-width spaces or text-direction "
                 "controls); they are published as written",
                 hint="delete them unless the document prints them: they break search and can reorder what is shown")
    return value


def markdown(ctx: Ctx, node: Node, key: str) -> Optional[str]:
    value = text(ctx, node, key)
    if value:
        start = 0
        for match in MD_LINK_RE.finditer(value):
            dest = next(g for g in match.groups() if g is not None)
            scheme = dest.split("/", 1)[0].lower()
            if ":" in scheme and not scheme.startswith(SAFE_SCHEMES):
                ctx.error(node, key, f"link to {dest!r} is not allowed",
                          hint="links may only be http(s)://, mailto: or relative")
            elif ":" not in scheme and dest:   # checked against the built pages
                pos, start = ctx.pos_in(node, dest, start)
                ctx.links.append(ContentLink(dest, pos))
    return value


def amount(ctx: Ctx, node: Node, key: str) -> Optional[Decimal]:
    if isinstance(node, ScalarNode):
        if node.tag == NULL:
            return None
        if node.tag in (INT, FLOAT, STR):
            digits = node.value.strip()
            if AMOUNT_RE.match(digits):
                return Decimal(digits)  # the file's own digits: 4000.00 stays 4000.00
    ctx.error(node, key, f"expected an amount written as printed, like 4000.00, found {describe(node)}",
              hint="digits with an optional decimal point; no commas, units or spaces")
    return None


def integer(ctx: Ctx, node: Node, key: str) -> Optional[int]:
    if isinstance(node, ScalarNode) and node.tag == T + "int" and node.value.isdigit():
        return int(node.value)
    ctx.error(node, key, f"expected a whole number, found {describe(node)}", hint="digits only, no quotes")
    return None


def year(ctx: Ctx, node: Node, key: str) -> Optional[int]:
    value = integer(ctx, node, key)
    if value is not None and not 1949 <= value <= 2200:
        ctx.error(node, key, f"expected a budget year such as 2022, found {value}",
                  hint="four digits between 1949 and 2200")
        return None
    return value


def page(ctx: Ctx, node: Node, key: str):
    if isinstance(node, ScalarNode) and node.tag == T + "int" and node.value.isdigit():
        return int(node.value)
    return text(ctx, node, key)


def boolean(ctx: Ctx, node: Node, key: str) -> Optional[bool]:
    if isinstance(node, ScalarNode) and node.tag == T + "bool":
        return bool(load.resolved(node))
    ctx.error(node, key, f"expected true or false, found {describe(node)}", hint="write true or false, unquoted")
    return None


def date(ctx: Ctx, node: Node, key: str) -> Optional[datetime.date]:
    if isinstance(node, ScalarNode) and node.tag in (T + "timestamp", T + "str"):
        try:
            return datetime.date.fromisoformat(node.value.strip())
        except ValueError:
            pass
    ctx.error(node, key, f"expected a date like 2022-02-15, found {describe(node)}",
              hint="year-month-day with two-digit month and day; leave the key out when no date is printed")
    return None


# --- structure ---------------------------------------------------------------------------

Spec = dict[str, tuple[Callable, bool]]


def mapping(ctx: Ctx, node: Node, key: str, spec: Spec) -> Optional[dict]:
    """Convert a mapping by `spec` (name -> (converter, required)); unknown keys are errors."""
    if not isinstance(node, MappingNode):
        ctx.error(node, key, f"expected a mapping (key: value lines), found {describe(node)}",
                  hint="write `key: value` lines indented below it; see docs/content-format.md")
        return None
    out: dict = {}
    prefix = f"{key}." if key else ""
    for key_node, value_node in node.value:
        name = key_node.value if isinstance(key_node, ScalarNode) else "?"
        path = prefix + name
        entry = spec.get(name)
        if entry is None:
            # Suggestions cost time; beyond the problems that get listed, nobody reads them.
            close = difflib.get_close_matches(name, spec, n=1) if len(ctx.problems) < MAX_LISTED else []
            hint = f"did you mean {close[0]!r}?" if close else "allowed keys: " + ", ".join(spec)
            ctx.error(key_node, path, "unknown key", hint)
            continue
        before = len(ctx.problems)
        if value_node.tag == NULL and isinstance(value_node, ScalarNode):
            value = None
        else:
            value = entry[0](ctx, value_node, path)
        if value is not None:
            out[name] = value
        elif entry[1] and not _has_error_at(ctx, value_node, before):
            ctx.error(value_node, path, "required value is empty", hint="write the value as printed after the colon")
    missing = [name for name, (_, required) in spec.items() if required and name not in out]
    for name in missing:
        if not any(isinstance(k, ScalarNode) and k.value == name for k, _ in node.value):
            ctx.error(node, f"{key}.{name}" if key else name, f"missing required key {name!r}",
                      hint=f"add a `{name}:` line here; see docs/content-format.md")
    return out


def _has_error_at(ctx: Ctx, node: Node, since: int) -> bool:
    """Whether an error was already reported inside `node` (so 'empty' would only repeat it):
    while loading, or since `ctx.problems` held `since` problems (while converting `node`).
    Never a scan of every problem: a file with 50,000 empty titles would take minutes."""
    start = (node.start_mark.line + 1, node.start_mark.column + 1)
    end = (node.end_mark.line + 1, node.end_mark.column + 1)
    i = bisect.bisect_left(ctx.earlier_errors, start)
    if i < len(ctx.earlier_errors) and ctx.earlier_errors[i] <= end:
        return True
    return any(p.is_error and start <= (p.line, p.column) <= end for p in ctx.problems[since:])


def seq(item: Callable) -> Callable:
    def convert(ctx: Ctx, node: Node, key: str):
        if not isinstance(node, SequenceNode):
            if isinstance(node, ScalarNode) and node.tag == NULL:
                return ()
            ctx.error(node, key, f"expected a list (lines starting with '- '), found {describe(node)}",
                      hint="write each item on its own line below the key, starting with '- '")
            return None
        out = []
        for i, n in enumerate(node.value):
            x = item(ctx, n, f"{key}[{i}]")
            if x is not None:
                out.append(x)
        return tuple(out)
    return convert


def record(cls, spec: Spec, with_pos: bool = True, post: Optional[Callable] = None) -> Callable:
    required = [name for name, (_, needed) in spec.items() if needed]

    def convert(ctx: Ctx, node: Node, key: str):
        values = mapping(ctx, node, key, spec)
        if values is None or any(name not in values for name in required):
            return None
        if post is not None:
            post(ctx, node, key, values)
        if with_pos:
            values["pos"] = ctx.pos(node)
        return cls(**values)
    return convert


def _check_parsed(ctx: Ctx, node: Node, key: str, values: dict) -> None:
    parsed = values.get("parsed")
    if parsed is None:
        return
    if parsed.comparator not in COMPARATORS:
        ctx.error(node, key + ".parsed.comparator", f"expected one of {' '.join(sorted(COMPARATORS))}, "
                  f"found {parsed.comparator!r}", hint="copy the comparator from the printed value")
    printed = values.get("value") or ""
    number = format(parsed.number, "f")
    if number not in printed.replace(" ", ""):
        ctx.error(node, key + ".parsed.number",
                  f"{number} does not occur in the printed value {printed!r}",
                  hint="`parsed` states how the printed value reads; it cannot add a number")


def _check_slug(ctx: Ctx, node: Node, key: str, values: dict) -> None:
    slug = values.get("slug")
    if slug is not None and not SLUG_RE.match(slug):
        ctx.error(node, key + ".slug", f"slug {slug!r} may hold only a-z, 0-9 and '-'",
                  hint="lowercase letters, digits and '-', starting with a letter or digit")
    if slug is None:
        code = values.get("code")
        if code is None and not any(isinstance(k, ScalarNode) and k.value == "code" for k, _ in node.value):
            ctx.error(node, key, "needs `code` (as printed) or `slug` (chosen) to name its pages",
                      hint='add `code: "…"` as printed, or `slug:` with a-z, 0-9 and \'-\'')
        elif code is not None and not URL_SAFE_RE.match(code):
            ctx.error(node, key + ".code", f"code {code!r} cannot name a web address",
                      hint="add `slug:` with a-z, 0-9 and '-' to use instead")


def _parsed_value(ctx: Ctx, node: Node, key: str):
    values = mapping(ctx, node, key, {"comparator": (text, True), "number": (amount, True),
                                      "unit": (text, False)})
    if values is None or "comparator" not in values or "number" not in values:
        return None
    return ParsedValue(values["comparator"], values["number"], values.get("unit"))


TOC = record(TocEntry, {"text": (text, True), "page": (page, False)}, with_pos=False)
INDICATOR = record(Indicator, {
    "level1": (text, False), "level2": (text, False), "level3": (text, False),
    "description": (text, False), "value": (text, False), "basis": (text, False),
    "parsed": (_parsed_value, False)}, post=_check_parsed)
PLAN = record(PlanPoint, {"period": (text, True), "value": (amount, False)}, with_pos=False)


def schema_of(cls, converters: dict) -> Spec:
    """A record's spec read from its dataclass: each field's converter by its type (a
    tuple of records is a list of them), required when it has no default. A field added
    to the model is read and checked with no change here."""
    spec: Spec = {}
    for f in dataclasses.fields(cls):
        if f.name == "pos":
            continue
        kind = typing.get_type_hints(cls)[f.name]
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if typing.get_origin(kind) is tuple:
            convert = seq(converters[args[0]])
        else:
            convert = converters[args[0] if args else kind]
        spec[f.name] = (convert, f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
    return spec


PROJECT = record(Project, schema_of(Project, {str: text, Decimal: amount, TocEntry: TOC,
                                              PlanPoint: PLAN, Indicator: INDICATOR}))


def _section(ctx: Ctx, node: Node, key: str):
    return SECTION(ctx, node, key)


SECTION = record(Section, {
    "number": (text, False), "title": (text, True), "toc": (TOC, False),
    "text": (markdown, False), "sections": (seq(_section), False)})
PART = record(Part, {
    "number": (text, False), "title": (text, True), "toc": (TOC, False),
    "text": (markdown, False), "sections": (seq(SECTION), False),
    "projects": (seq(PROJECT), False)})
AGENCY = record(Agency, {"name": (text, True), "code": (text, False), "slug": (text, False),
                         "region": (text, True)}, with_pos=False, post=_check_slug)
DOCUMENT = record(Document, {
    "title": (text, False), "status": (text, False), "compiler": (text, False),
    "reviewer": (text, False), "published": (date, False), "toc_printed": (boolean, False)},
    with_pos=False)
ORIGINAL = record(Original, {"file": (text, True), "title": (text, True), "note": (text, False)},
                  with_pos=False)
UNPLACED = record(Unplaced, {"line": (integer, True), "text": (text, True)}, with_pos=False)
TOP: Spec = {
    "year": (year, True), "agency": (AGENCY, True), "document": (DOCUMENT, False),
    "unit": (text, True), "originals": (seq(ORIGINAL), False), "preamble": (markdown, False),
    "parts": (seq(PART), True), "unplaced": (seq(UNPLACED), False)}


def build_model(root: Node, label: str, earlier: tuple[Problem, ...] = (), source: str = ""
                ) -> tuple[Optional[AgencyYear], list[Problem]]:
    """The model for one checked node tree (`source`: its text), or None with the problems
    that prevent it."""
    ctx = Ctx(label, earlier, source)
    values = mapping(ctx, root, "", TOP)
    if (values is None or any(p.is_error for p in ctx.problems)
            or any(required and name not in values for name, (_, required) in TOP.items())):
        return None, ctx.problems
    if not values["parts"]:
        ctx.error(root, "parts", "the document needs at least one part",
                  hint="add `- title: …` under `parts:`; see docs/content-format.md")
        return None, ctx.problems
    values["source"] = label
    values["links"] = tuple(ctx.links)
    values["pos"] = ctx.pos(root)
    return AgencyYear(**values), ctx.problems


# --- whole files ---------------------------------------------------------------------------

def unsafe_file_name(name: str) -> Optional[str]:
    """Why `name` cannot be an original file's name, or None if it is safe."""
    if not name or name in (".", ".."):
        return "is empty"
    if "\x00" in name:
        return "contains a NUL character"
    if "\\" in name:
        return "contains a backslash"
    if name.startswith("/") or PurePosixPath(name).is_absolute() or re.match(r"^[A-Za-z]:", name):
        return "is an absolute path"
    if "/" in name or name.startswith("."):
        return "must be a plain file name inside the agency's folder (no folders, no leading dot)"
    if any(ord(c) < 32 for c in name):
        return "contains a control character"
    return None


@dataclass(frozen=True)
class Anchors:
    """Positions needed by the checks that depend on the file's surroundings."""
    root: Pos
    region: Pos
    originals: tuple[Pos, ...]


def _error_at(pos: Pos, key: str, message: str, hint: str = "") -> Problem:
    return Problem(pos.file, pos.line, pos.column, message, key=key, hint=hint)


def check_placement(model: AgencyYear, anchors: Anchors, path: Path, content_dir: Path,
                    regions: Optional[tuple[str, ...]]) -> list[Problem]:
    """The file sits at content/{year}/{ident}.yaml, its originals beside it inside content/,
    and its region is one the site knows."""
    problems = []
    ident = model.agency.ident
    content_real = content_dir.resolve()   # once: each resolve is a system call per folder level
    try:
        rel = path.resolve().relative_to(content_real)
    except ValueError:
        rel = None
    expected = f"{model.year}/{ident}.yaml"
    if rel is None and path.absolute().is_relative_to(content_dir.absolute()):
        problems.append(_error_at(anchors.root, "", "file leads outside content/ (through a symbolic link)",
                                  hint="copy the file (or folder) into content/ instead of linking it"))
    elif rel is not None and rel.as_posix() != expected:
        problems.append(_error_at(anchors.root, "", f"file is at content/{rel.as_posix()} but its year and agency put it at content/{expected}",
                                  hint="rename the file, or correct `year` / `agency.code` / `agency.slug`"))
    folder = urls.originals_folder(path, ident)
    for i, (original, pos) in enumerate(zip(model.originals, anchors.originals)):
        key = f"originals[{i}].file"
        why = unsafe_file_name(original.file)
        if why:
            problems.append(_error_at(pos, key, f"file name {original.file!r} {why}",
                                      hint=f"put the file in content/{model.year}/{ident}/ and give its plain name"))
            continue
        target = folder / original.file
        if not target.resolve().is_relative_to(content_real):
            problems.append(_error_at(pos, key, f"{original.file!r} leads outside content/ (through a symlink)",
                                      hint="copy the file into the folder instead of linking it"))
        elif not target.is_file():
            problems.append(_error_at(pos, key, f"original file not found: content/{model.year}/{ident}/{original.file}",
                                      hint="add the file there, or correct the name"))
    if regions is not None and model.agency.region not in regions:
        close = difflib.get_close_matches(model.agency.region, regions, n=1)
        problems.append(_error_at(anchors.region, "agency.region",
                                  f"region {model.agency.region!r} is not listed in site_config.yaml",
                                  hint=(f"did you mean {close[0]!r}? " if close else "") + "add it under `regions:` there"))
    return problems


def _find(node: Node, path: list) -> Node:
    """The node at `path` (keys and indexes) below `node`, or the deepest one found."""
    for step in path:
        if isinstance(step, int) and isinstance(node, SequenceNode) and step < len(node.value):
            node = node.value[step]
        elif isinstance(step, str) and isinstance(node, MappingNode):
            match = [v for k, v in node.value if isinstance(k, ScalarNode) and k.value == step]
            if not match:
                return node
            node = match[0]
        else:
            return node
    return node


def _at_most(problems: list[Problem], limit: int) -> list[Problem]:
    """The first `limit` problems by position, then one line saying how many more there are."""
    if len(problems) <= limit:
        return problems
    problems = sorted(problems, key=lambda p: (p.line, p.column))
    rest = problems[limit:]
    errors = sum(p.is_error for p in rest)
    return problems[:limit] + [Problem(
        rest[0].file, rest[0].line, rest[0].column,
        f"… and {len(rest)} more problem(s) from here on ({errors} error(s)), not listed",
        hint=f"fix the first ones and check again; only {limit} are listed per file")]


def model_text(text: str, label: str) -> tuple[Optional[AgencyYear], list[Problem], Optional[Anchors]]:
    """Parse and check one file's text: the part of validation that depends on the text alone."""
    with load.no_gc():
        return _model_text(text, label)


def _model_text(text: str, label: str) -> tuple[Optional[AgencyYear], list[Problem], Optional[Anchors]]:
    root, problems = load.parse(text, label)
    if root is None:
        return None, problems, None
    model, schema_problems = build_model(root, label, tuple(problems), text)
    problems = problems + schema_problems
    if model is None or any(p.is_error for p in problems):
        return None, _at_most(problems, MAX_LISTED), None
    ctx = Ctx(label)
    anchors = Anchors(ctx.pos(root), ctx.pos(_find(root, ["agency", "region"])),
                      tuple(ctx.pos(_find(root, ["originals", i, "file"])) for i in range(len(model.originals))))
    return model, problems, anchors


def validate_file(path: Path, content_dir: Path, regions: Optional[tuple[str, ...]],
                  label: Optional[str] = None, cache=None) -> tuple[Optional[AgencyYear], list[Problem]]:
    """Load, check and model one agency-year file. Errors mean None; notes may come with a model.

    With a `cache` (gongkai.cache.ParseCache), the text-only part is looked up by content.
    """
    label = label or str(path)
    text, problems = load.read_text(Path(path), label)
    if text is None:
        return None, problems
    key = cache.key(label, text) if cache is not None else None
    hit = cache.get(key) if cache is not None else None
    if hit is None:
        hit = model_text(text, label)
        if cache is not None:
            cache.put(key, hit)
    model, problems, anchors = hit
    if model is None:
        return None, problems
    problems = problems + check_placement(model, anchors, Path(path), content_dir, regions)
    if any(p.is_error for p in problems):
        return None, problems
    return model, problems
