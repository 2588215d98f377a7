"""Check a content file's node tree against the content format and build the model from it.

Every problem is collected (never the first only), each naming file, line, column, key path,
what was expected and what was found. See docs/content-format.md for the format itself.
"""
from __future__ import annotations

import bisect
import dataclasses
import datetime
import difflib
import os
import re
import threading
import types
import typing
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import Callable, Optional

from markdown_it import helpers
from markdown_it.common.entities import entities
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from . import load, urls
from .errors import ERROR, NOTE, Problem
from .model import (COLUMN_KEYS, FIELD_LABELS, STANDARD_COLUMNS, Amount, Column, Field, FieldTable, Agency, AgencyYear, ContentLink, Document, Indicator, Original, Part, ParsedValue,
                    PlanPoint, Pos, Project, Section, TocEntry, Unplaced)

T = "tag:yaml.org,2002:"
NULL, STR, INT, FLOAT = T + "null", T + "str", T + "int", T + "float"
AMOUNT_RE = re.compile(r"^-?[0-9]+(?:\.[0-9]+)?$")   # not \d: full-width digits are text
GROUPED_RE = re.compile(r"^-?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?$")   # 3,309,840.00 as printed
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
URL_SAFE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
HTML_RE = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(\s[^<>]*)?/?>|<!--")
# Zero-width and bidirectional formatting characters: invisible, often pasted along with text.
INVISIBLE_RE = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
# A label is at most 999 characters (CommonMark): unbounded, `[^\]]+` ran from every line
# that starts with `[` to the next `]`, quadratic in the number of such lines.
MD_LINK_RE = re.compile(r"\]\(\s*<?([^()\s>]*(?:\([^()\s]*\))?)|^\s{0,3}\[[^\]]{1,999}\]:\s*<?(\S+?)>?(?:\s|$)|<([A-Za-z][A-Za-z0-9+.-]{1,31}:[^<>\s]*)>",
                        re.MULTILINE)
SAFE_SCHEMES = ("http:", "https:", "mailto:")
COMPARATORS = {"≥", ">", "≤", "<", "="}
MAX_LISTED = 200          # problems listed per file; a pathological file could give 100,000
MAX_DIGITS = 100          # in one amount: derived sums stay exact (derive.DERIVED) and cheap
MAX_INT_DIGITS = 18       # in a whole number (year, page, line): int() of 4,300 digits raises
DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")   # exactly YYYY-MM-DD, ASCII digits
# Markdown. markdown-it's work is linear in the text except where a `[` starts a link: it
# looks for the label's end (and then a destination and title) as far as the end of the
# paragraph, and again for every `[`: 1 MB of `[` took 64 s. A field holding a `[` is
# therefore parsed once while checking, with every such step counted (`_Meter`), and refused
# when a file's Markdown needs more than MD_BASE_STEPS plus MD_STEPS_PER_CHAR per character
# of those fields (a step takes about 0.5 µs; real text with links needs under 1 per character).
MD_BASE_STEPS = 1_000_000
MD_STEPS_PER_CHAR = 3
MD_BRACKET_RE = re.compile(r"\\[\s\S]|\[")    # an escaped character, or a `[` that may start a link
MD_DEST_END_RE = re.compile(r"[\x00-\x20\x7f]")  # where a destination's scan stops at the latest
MD_ANGLE_END_RE = re.compile(r"[\n<>]")            # … one written in <…>
# The rest of markdown-it's work is linear, at up to 10 µs per emphasis mark (`*`, `_`, `~`)
# and 33 µs per line (a list item): a file's Markdown may hold this many marks, a line
# counting as 3, so that no file takes more than a few seconds (1 MB of `*_` took 8 s, and
# 2 MB 20 s). Text as printed holds a few per hundred characters.
MD_MAX_MARKS = 400_000
MD_MAX_DEPTH = 32         # quotes and list items inside each other; markdown-it drops text at 100 levels
# A line whose leading quote/list/indent characters could open MD_MAX_DEPTH levels: only a
# field with one gets the exact check (a block parse).
MD_MAYBE_DEEP_RE = re.compile(r"^[ \t>*+\-0-9.)]{%d,}" % MD_MAX_DEPTH, re.MULTILINE)
MD_CONTAINERS = {"blockquote_open": 1, "list_item_open": 1, "blockquote_close": -1, "list_item_close": -1}
# Character references as markdown-it decodes them (rules_inline/entity.py).
MD_ENTITY_RE = re.compile(r"&(?:#([xX][0-9A-Fa-f]{1,6}|[0-9]{1,7})|([A-Za-z][A-Za-z0-9]{1,31}));")
# Names Windows reserves for devices, whatever extension follows (`NUL.pdf`, `com1.txt`).
WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL"} | {f"{port}{n}" for port in ("COM", "LPT") for n in "123456789¹²³"}
WINDOWS_BAD_CHARS = set('<>:"|?*')


class Ctx:
    """Where we are: the file label and the problems found so far."""

    def __init__(self, label: str, earlier: tuple[Problem, ...] = (), source: str = ""):
        self.label = label
        self.source = source      # the file's text: positions inside multi-line values
        self.links: list[ContentLink] = []
        self.problems: list[Problem] = []
        self.earlier = earlier    # problems found while loading, so they are not repeated
        self.earlier_errors = sorted((p.line, p.column) for p in earlier if p.is_error)
        self.md_steps = MD_BASE_STEPS   # Markdown link-parsing steps this file may still take (-1: none)
        self.md_marks = 0               # emphasis marks and line ends (x3) in its Markdown so far

    def error_at(self, pos: Pos, key: str, message: str, hint: str = "", severity: str = ERROR) -> None:
        self.problems.append(Problem(pos.file, pos.line, pos.column, message, severity, key, hint))

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
        return "映射（“键: 值”各行）"
    if isinstance(node, SequenceNode):
        return "列表"
    tag, raw = node.tag, node.value
    if tag == T + "str":
        return f"文字 {raw!r}"
    value = load.resolved(node)
    if tag == T + "bool":
        return f"不带引号的 {raw}（YAML 把它读作布尔值 {str(value).lower()}）"
    if tag == T + "int":
        same = str(value) == raw
        return f"数字 {raw}" + ("" if same else f"（YAML 把不带引号的 {raw} 读作 {value}）")
    if tag == T + "float":
        same = repr(value) == raw
        return f"数字 {raw}" + ("" if same else f"（YAML 把不带引号的 {raw} 读作 {value}）")
    if tag == T + "null":
        return "空值"
    if tag == T + "timestamp":
        return f"日期 {raw}"
    return repr(raw)


# --- scalar converters: (ctx, node, key) -> value or None ----------------------------------

def text(ctx: Ctx, node: Node, key: str) -> Optional[str]:
    if node.tag != STR or not isinstance(node, ScalarNode):
        if node.tag == NULL and isinstance(node, ScalarNode):
            return None
        hint = "把文字写在键的同一行，或在键下面写成 `|-` 文字块"
        if isinstance(node, ScalarNode):
            hint = f'加上引号，按原文保留："{node.value}"'
        ctx.error(node, key, f"应为文字，实为{describe(node)}", hint)
        return None
    value = node.value
    if node.style == '"':   # only escapes (`"\x01"`) can make what load.py refuses in the file
        bad = load.BAD_CHAR_RE.search(value)
        if bad:
            name = unicodedata.name(bad.group(0), "控制字符")
            ctx.error(node, key, f"文字中含有以转义写成的不可见字符 U+{ord(bad.group(0)):04X}（{name}）",
                      hint="删去这个 `\\` 转义；页面、订阅和数据文件不能包含这个字符")
            return None
    if "<" in value and HTML_RE.search(value):   # every match starts with "<"
        ctx.note(node, key, "文字看起来像 HTML；它会按输入的原样显示，不会当作标记")
    if INVISIBLE_RE.search(value):
        ctx.note(node, key, "文字中含有不可见字符（零宽空格或文字方向控制符），将按原样发布",
                 hint="除非原文印有它们，否则请删除：它们会妨碍搜索，还可能改变文字的显示顺序")
    return value


def markdown(ctx: Ctx, node: Node, key: str) -> Optional[str]:
    value = text(ctx, node, key)
    if value:
        start = 0
        for match in MD_LINK_RE.finditer(value):
            dest = next(g for g in match.groups() if g is not None)
            scheme = dest.split("/", 1)[0].lower()
            if ":" in scheme and not scheme.startswith(SAFE_SCHEMES):
                ctx.error(node, key, f"不允许链接到 {dest!r}",
                          hint="链接只能是 http(s)://、mailto: 或相对地址")
            elif ":" not in scheme and dest:   # checked against the built pages
                pos, start = ctx.pos_in(node, dest, start)
                ctx.links.append(ContentLink(dest, pos))
        _markdown_marks(ctx, node, key, value)
        _markdown_structure(ctx, node, key, value)
        if "&" in value:
            _markdown_entities(ctx, node, key, value)
    return value


def _markdown_marks(ctx: Ctx, node: Node, key: str, value: str) -> None:
    """Refuse a file whose Markdown holds more than MD_MAX_MARKS emphasis marks and line
    ends (item 4: bounded work). Reported once, at the field that passes the limit."""
    if ctx.md_marks > MD_MAX_MARKS:
        return
    ctx.md_marks += value.count("*") + value.count("_") + value.count("~") + 3 * value.count("\n")
    if ctx.md_marks > MD_MAX_MARKS:
        ctx.error(node, key, f"本文件的 Markdown 文本中强调符号（* _ ~）和换行过多（换行按 3 个计，超过 "
                  f"{MD_MAX_MARKS:,} 个），生成页面会耗时过长",
                  hint="真实的文件不会有这么多：请检查是否粘贴了多余内容；不是强调的 * 和 _ 请写成 \\* 和 \\_")


def _markdown_structure(ctx: Ctx, node: Node, key: str, value: str) -> None:
    """Refuse Markdown that would take too long to render (D7: see MD_BASE_STEPS) or whose
    quotes and lists nest more than MD_MAX_DEPTH deep (D8: markdown-it stops at 100 levels
    and drops the rest of the text without a word). Only a field that holds a `[` or a line
    that could start that deep is parsed here."""
    links = "[" in value and any(m.group() == "[" for m in MD_BRACKET_RE.finditer(value))
    if not links and not MD_MAYBE_DEEP_RE.search(value):
        return
    if (links and ctx.md_steps < 0) or ctx.md_marks > MD_MAX_MARKS:
        return   # this file's Markdown is refused already: not parsed again, not reported twice
    if links:
        md = _parser("metered")
        meter = md.meter
        meter.left = ctx.md_steps + MD_STEPS_PER_CHAR * len(value)
        try:
            tokens = md.parse(value)
        except _Exhausted:
            ctx.md_steps = -1
            ctx.error(node, key, "Markdown 文本中的方括号 `[` 太多或没有配对，生成页面会耗时过长",
                      hint="不是链接的 `[` 请写成 `\\[`，或改用全角括号【】")
            return
        ctx.md_steps = meter.left
    else:
        tokens = _parser("blocks").parse(value)
    depth = 0
    for token in tokens:
        depth += MD_CONTAINERS.get(token.type, 0)
        if depth > MD_MAX_DEPTH:
            line = value.split("\n")[token.map[0]] if token.map else ""
            pos = ctx.pos_in(node, line, node.start_mark.index)[0] if line.strip() else ctx.pos(node)
            ctx.error_at(pos, key, f"Markdown 引用（`>`）和列表嵌套超过 {MD_MAX_DEPTH} 层；"
                         "更深处的文字不会出现在页面上",
                         hint="减少嵌套层数；如果 `>` 是原文文字，请写成 `\\>`")
            return


class _Exhausted(Exception):
    """A Markdown field needs more link-parsing steps than its file has left."""


class _Meter:
    """Steps left; markdown-it's link helpers and `skipToken` (the loop behind link labels)
    take one per call or per character they scan."""
    left = 0

    def take(self, steps: int) -> None:
        self.left -= steps
        if self.left < 0:
            raise _Exhausted


_PARSERS: dict = {}   # (kind, thread) -> parser: serve reads files in more than one thread


def _parser(kind: str):
    """markdown-it as the pages use it (render.views.make_markdown): "blocks" (block rules
    only) or "metered" (everything, with the steps of link parsing counted on its `meter`)."""
    md = _PARSERS.get((kind, threading.get_ident()))
    if md is not None:
        return md
    from .render.views import make_markdown   # here: render imports this module
    md = make_markdown()
    if kind == "blocks":
        md.disable("inline")
    else:
        skip = md.inline.skipToken
        meter = md.meter = _Meter()

        def skip_token(state) -> None:
            meter.take(1)
            skip(state)

        def destination(string: str, pos: int, maximum: int):
            result = helpers.parseLinkDestination(string, pos, maximum)
            if result.ok:
                meter.take(1 + result.pos - pos)
            else:   # it stopped where its scan must stop at the latest
                end_re = MD_ANGLE_END_RE if string.startswith("<", pos) else MD_DEST_END_RE
                stop = end_re.search(string, pos + 1, maximum)
                meter.take(1 + (stop.start() if stop else maximum) - pos)
            return result

        def title(string: str, start: int, maximum: int, prev_state=None):
            result = helpers.parseLinkTitle(string, start, maximum, prev_state)
            opens = prev_state is not None or (start < maximum and string[start] in "\"'(")
            meter.take(1 + ((result.pos if result.ok else maximum) - start if opens else 0))
            return result

        md.inline.skipToken = skip_token
        md.helpers = types.SimpleNamespace(parseLinkLabel=helpers.parseLinkLabel,
                                           parseLinkDestination=destination, parseLinkTitle=title)
    _PARSERS[(kind, threading.get_ident())] = md
    return md


def _markdown_entities(ctx: Ctx, node: Node, key: str, value: str) -> None:
    """Character references (`&#x202E;`, `&ZeroWidthSpace;`) get what the character itself
    would get (D25): a note for an invisible formatting character, an error for a control
    character or line separator."""
    noted = False
    start = 0
    for match in MD_ENTITY_RE.finditer(value):
        number, name = match.groups()
        if number is not None:
            code = int(number[1:], 16) if number[0] in "xX" else int(number)
            char = chr(code) if code <= 0x10FFFF else ""
        else:
            char = entities.get(name, "")
        if len(char) != 1:
            continue
        bad, invisible = load.BAD_CHAR_RE.match(char), INVISIBLE_RE.match(char)
        if not bad and (not invisible or noted):
            continue
        pos, start = ctx.pos_in(node, match.group(0), start)
        described = f"U+{ord(char):04X}（{unicodedata.name(char, 'CONTROL CHARACTER')}）"
        if bad:
            ctx.error_at(pos, key, f"字符引用 `{match.group(0)}` 表示不可见字符 {described}，不允许使用",
                         hint="删除它；页面、订阅和数据文件不能包含这个字符")
        else:
            noted = True
            ctx.error_at(pos, key, f"字符引用 `{match.group(0)}` 表示不可见字符 {described}，将按原样发布",
                         hint="除非原文印有它，否则请删除：它会妨碍搜索，还可能改变文字的显示顺序", severity=NOTE)


def amount(ctx: Ctx, node: Node, key: str) -> Optional[Decimal]:
    if isinstance(node, ScalarNode):
        if node.tag == NULL:
            return None
        if node.tag in (INT, FLOAT, STR):
            digits = node.value.strip()
            if AMOUNT_RE.match(digits):
                if len(digits) - digits.startswith("-") - ("." in digits) > MAX_DIGITS:
                    ctx.error(node, key, f"金额有 {len(digits):,} 个字符，超过 {MAX_DIGITS} 位数字的上限",
                              hint="金额照原文填写；这么长的数字不是金额，请检查是否粘贴了多余内容")
                    return None
                return Decimal(digits)  # the file's own digits: 4000.00 stays 4000.00
            if node.tag == STR and GROUPED_RE.match(digits) and len(digits) <= 2 * MAX_DIGITS:
                return Amount(digits)
    ctx.error(node, key, f"应为按原文书写的金额，如 4000.00，实为{describe(node)}",
              hint="只写数字，可带小数点；原文有千位分隔逗号时加引号照写（\"3,309,840.00\"）；不要写单位或空格")
    return None


def integer(ctx: Ctx, node: Node, key: str) -> Optional[int]:
    if isinstance(node, ScalarNode) and node.tag == T + "int" and node.value.isdigit():
        if len(node.value) > MAX_INT_DIGITS:
            ctx.error(node, key, f"整数有 {len(node.value):,} 位，超过 {MAX_INT_DIGITS} 位的上限",
                      hint="年度、页码和行号都不会这么长：请检查是否粘贴了多余内容")
            return None
        return int(node.value)
    ctx.error(node, key, f"应为整数，实为{describe(node)}", hint="只写数字，不加引号")
    return None


def year(ctx: Ctx, node: Node, key: str) -> Optional[int]:
    value = integer(ctx, node, key)
    if value is not None and not 1949 <= value <= 2200:
        ctx.error(node, key, f"应为预算年度，如 2022，实为 {value}",
                  hint="写 1949 到 2200 之间的四位数字")
        return None
    return value


def page(ctx: Ctx, node: Node, key: str):
    if isinstance(node, ScalarNode) and node.tag == T + "int" and node.value.isdigit():
        return integer(ctx, node, key)
    return text(ctx, node, key)


def boolean(ctx: Ctx, node: Node, key: str) -> Optional[bool]:
    if isinstance(node, ScalarNode) and node.tag == T + "bool":
        return bool(load.resolved(node))
    ctx.error(node, key, f"应为 true 或 false，实为{describe(node)}", hint="写 true 或 false，不加引号")
    return None


DATE_HINT = ("写成“年-月-日”：四位年份、两位月份、两位日期，如 2022-02-15，且须是日历上真实存在的日期，"
             "在文件年度的前一年 1 月 1 日到后一年 12 月 31 日之间；原文没有印日期时，删去这一项")


def date(ctx: Ctx, node: Node, key: str) -> Optional[datetime.date]:
    """A date written exactly YYYY-MM-DD (not 20200215, not 2020-W07-6: Python 3.11's
    fromisoformat reads those too) that exists in the calendar. Its range is checked
    against the document's year in `build_model`."""
    if isinstance(node, ScalarNode) and node.tag in (T + "timestamp", T + "str"):
        written = node.value.strip()
        if DATE_RE.match(written):
            try:
                return datetime.date.fromisoformat(written)
            except ValueError:
                pass
    found = repr(node.value) if isinstance(node, ScalarNode) else "列表或映射"
    ctx.error(node, key, f"应为日期，如 2022-02-15，实为 {found}", hint=DATE_HINT)
    return None


def _check_date_range(ctx: Ctx, root: Node, values: dict) -> None:
    """A printed date lies between 1 January of the year before the document's year and
    31 December of the year after (D27: `0001-01-01` for a 2020 document is a typo)."""
    document, year = values.get("document"), values.get("year")
    published = document.published if document is not None else None
    if published is None or year is None or year - 1 <= published.year <= year + 1:
        return
    node = _find(root, ["document", "published"])
    ctx.error(node, "document.published",
              f"日期 {published.isoformat()} 与文件年度 {year} 相差太远（应在 {year - 1}-01-01 到 {year + 1}-12-31 之间）",
              hint=DATE_HINT)


# --- structure ---------------------------------------------------------------------------

Spec = dict[str, tuple[Callable, bool]]


def mapping(ctx: Ctx, node: Node, key: str, spec: Spec) -> Optional[dict]:
    """Convert a mapping by `spec` (name -> (converter, required)); unknown keys are errors."""
    if not isinstance(node, MappingNode):
        ctx.error(node, key, f"应为映射（“键: 值”各行），实为{describe(node)}",
                  hint="在它下面缩进写 `键: 值` 各行；参见 docs/content-format.md")
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
            hint = f"是否想写 {close[0]!r}？" if close else "允许的键：" + ", ".join(spec)
            ctx.error(key_node, path, "未知的键", hint)
            continue
        before = len(ctx.problems)
        if value_node.tag == NULL and isinstance(value_node, ScalarNode):
            value = None
        else:
            value = entry[0](ctx, value_node, path)
        if entry[1] and (value is None or (type(value) is str and not value.strip())):
            # A required text left empty ("", spaces) would publish an empty title or unit.
            if not _has_error_at(ctx, value_node, before):
                ctx.error(value_node, path, "必填项为空", hint="在冒号后按原文写上值")
        elif value is not None:
            out[name] = value
    missing = [name for name, (_, required) in spec.items() if required and name not in out]
    for name in missing:
        if not any(isinstance(k, ScalarNode) and k.value == name for k, _ in node.value):
            ctx.error(node, f"{key}.{name}" if key else name, f"缺少必填项 {name!r}",
                      hint=f"在这里加一行 `{name}:`；参见 docs/content-format.md")
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
            ctx.error(node, key, f"应为列表（以 '- ' 开头的各行），实为{describe(node)}",
                      hint="在键下面每项各写一行，以 '- ' 开头")
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
        ctx.error(node, key + ".parsed.comparator", f"应为 {' '.join(sorted(COMPARATORS))} 之一，"
                  f"实为 {parsed.comparator!r}", hint="照抄原文的值中的比较符")
    printed = values.get("value") or ""
    number = format(parsed.number, "f")
    if number not in printed.replace(" ", ""):
        ctx.error(node, key + ".parsed.number",
                  f"{number} 没有出现在原文的值 {printed!r} 中",
                  hint="`parsed` 只说明原文的值怎样解读，不能添加原文没有的数字")


def _check_slug(ctx: Ctx, node: Node, key: str, values: dict) -> None:
    slug = values.get("slug")
    if slug is not None and not SLUG_RE.match(slug):
        ctx.error(node, key + ".slug", f"slug {slug!r} 只能包含 a-z、0-9 和 '-'",
                  hint="只用小写字母、数字和 '-'，并以字母或数字开头")
    if slug is None:
        code = values.get("code")
        if code is None and not any(isinstance(k, ScalarNode) and k.value == "code" for k, _ in node.value):
            ctx.error(node, key, "需要 `code`（按原文）或 `slug`（自选）来命名它的页面",
                      hint='按原文加上 `code: "…"`，或加上由 a-z、0-9 和 \'-\' 组成的 `slug:`')
        elif code is not None and not URL_SAFE_RE.match(code):
            ctx.error(node, key + ".code", f"code {code!r} 不能用作网址",
                      hint="加上由 a-z、0-9 和 '-' 组成的 `slug:`，用它代替")
    ident, which = (slug, "slug") if slug is not None else (values.get("code"), "code")
    if ident is not None and windows_device(ident):
        ctx.error(node, f"{key}.{which}", f"{ident!r} 是 Windows 保留的设备名，不能用作网站的文件夹名",
                  hint=("加上" if which == "code" else "换一个") + "用作文件夹名的 `slug:`（小写字母、数字和 '-'）")


def _parsed_value(ctx: Ctx, node: Node, key: str):
    values = mapping(ctx, node, key, {"comparator": (text, True), "number": (amount, True),
                                      "unit": (text, False)})
    if values is None or "comparator" not in values or "number" not in values:
        return None
    return ParsedValue(values["comparator"], values["number"], values.get("unit"))


def text_map(ctx: Ctx, node: Node, key: str) -> Optional[dict]:
    """A mapping of printed labels to printed text (`labels`, `more`), in written order."""
    if not isinstance(node, MappingNode):
        ctx.error(node, key, f"应为映射（“标签: 文字”各行），实为{describe(node)}",
                  hint="在它下面缩进写 `标签: 文字` 各行；参见 docs/content-format.md")
        return None
    out: dict = {}
    for key_node, value_node in node.value:
        name = text(ctx, key_node, key)
        if name is None:
            continue
        value = text(ctx, value_node, f"{key}.{name}")
        if value is not None:
            out[name] = value
    return out


def column(ctx: Ctx, node: Node, key: str) -> Optional[Column]:
    """A printed column label, or `{label, key}` for a known column under another label."""
    if isinstance(node, ScalarNode):
        label = text(ctx, node, key)
        if label is None:
            return None
        known = next((c.key for c in STANDARD_COLUMNS if c.label == label), None)
        return Column(label, known)
    values = mapping(ctx, node, key, {"label": (text, True), "key": (text, False)})
    if values is None or "label" not in values:
        return None
    if values.get("key") is not None and values["key"] not in COLUMN_KEYS:
        ctx.error(node, key + ".key", f"未知的指标列 {values['key']!r}", hint="应为 " + "、".join(COLUMN_KEYS) + " 之一")
        return None
    return Column(values["label"], values.get("key"))


TOC = record(TocEntry, {"text": (text, True), "page": (page, False)}, with_pos=False)
INDICATOR = record(Indicator, {
    "level1": (text, False), "level2": (text, False), "level3": (text, False),
    "description": (text, False), "value": (text, False), "basis": (text, False),
    "parsed": (_parsed_value, False), "more": (text_map, False)}, post=_check_parsed)
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
            base = args[0] if args else kind
            convert = converters[typing.get_origin(base) or base]
        spec[f.name] = (convert, f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
    return spec


def _child(node: Node, name: str) -> Optional[Node]:
    if isinstance(node, MappingNode):
        for k, v in node.value:
            if isinstance(k, ScalarNode) and k.value == name:
                return v
    return None


def _check_form(ctx: Ctx, node: Node, key: str, values: dict) -> None:
    """A project of another province's form: labels name known fields, the columns of each
    indicator table are unique, and every row fills only the columns its table has."""
    for name in values.get("labels") or {}:
        if name not in FIELD_LABELS:
            ctx.error(_child(node, "labels") or node, f"{key}.labels.{name}", "不是已知字段",
                      hint="应为 " + "、".join(FIELD_LABELS) + " 之一；其他字段写在 `fields:` 下")
    for rows_key, columns_key in (("indicators", "columns"), ("period_indicators", "period_columns")):
        columns = values.get(columns_key) or ()
        labels = [c.label for c in columns]
        keys = [c.key for c in columns if c.key]
        for twice in sorted({x for x in labels if labels.count(x) > 1}):
            ctx.error(_child(node, columns_key) or node, f"{key}.{columns_key}", f"列“{twice}”出现了不止一次",
                      hint="同一表中的列名应各不相同；两块并列的指标表分别写在 columns 与 period_columns 中")
        for twice in sorted({x for x in keys if keys.count(x) > 1}):
            ctx.error(_child(node, columns_key) or node, f"{key}.{columns_key}", f"已知列 {twice} 用了不止一次")
        known = set(keys) if columns else set(COLUMN_KEYS)
        further = {c.label for c in columns if not c.key}
        rows_node = _child(node, rows_key)
        for i, row in enumerate(values.get(rows_key) or ()):
            where = rows_node.value[i] if isinstance(rows_node, SequenceNode) and i < len(rows_node.value) else node
            for name in COLUMN_KEYS:
                if getattr(row, name) is not None and name not in known:
                    ctx.error(_child(where, name) or where, f"{key}.{rows_key}[{i}].{name}",
                              f"本表没有这一列（{columns_key} 中没有 {name}）",
                              hint=f"在 `{columns_key}:` 中加上这一列，或把内容移到它所在的列")
            for label in row.more or {}:
                if label not in further:
                    ctx.error(_child(where, "more") or where, f"{key}.{rows_key}[{i}].more.{label}",
                              f"本表没有名为“{label}”的其他列",
                              hint=f"在 `{columns_key}:` 中按原文加上这一列的列名")


def _field(ctx: Ctx, node: Node, key: str):
    return FIELD(ctx, node, key)


FIELD_TABLE = record(FieldTable, {"header": (seq(text), False), "rows": (seq(seq(text)), False)},
                     with_pos=False)
FIELD = record(Field, {"label": (text, True), "value": (text, False), "fields": (seq(_field), False),
                       "table": (FIELD_TABLE, False)}, with_pos=False)
PROJECT = record(Project, schema_of(Project, {str: text, Decimal: amount, TocEntry: TOC,
                                              PlanPoint: PLAN, Indicator: INDICATOR, dict: text_map,
                                              Field: FIELD, Column: column}),
                 post=_check_form)


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
ORIGINAL = record(Original, {"file": (text, True), "title": (text, True), "note": (text, False),
                             "page_offset": (integer, False)},
                  with_pos=False)
UNPLACED = record(Unplaced, {"line": (integer, True), "text": (text, True)}, with_pos=False)
def unit(ctx: Ctx, node: Node, key: str) -> Optional[str]:
    """The unit of amounts: left out when not printed, never written empty."""
    value = text(ctx, node, key)
    if value is not None and not value.strip():
        ctx.error(node, key, "单位为空", hint="原文未印出金额单位时删去 `unit:` 这一行，页面会显示“未注明”；否则按原文写上单位")
        return None
    return value


GIVEN = ("year", "agency.name", "agency.code", "agency.region", "unit")


def given(ctx: Ctx, node: Node, key: str) -> Optional[str]:
    """One fact the document does not print, named by its key in this file."""
    value = text(ctx, node, key)
    if value is not None and value not in GIVEN:
        ctx.error(node, key, f"{value!r} 不是导入时可给出的事实", hint="应为 " + "、".join(GIVEN) + " 之一")
        return None
    return value


TOP: Spec = {
    "year": (year, True), "agency": (AGENCY, True), "document": (DOCUMENT, False),
    "unit": (unit, False), "originals": (seq(ORIGINAL), False), "preamble": (markdown, False),
    "parts": (seq(PART), True), "unplaced": (seq(UNPLACED), False), "given": (seq(given), False)}


def build_model(root: Node, label: str, earlier: tuple[Problem, ...] = (), source: str = ""
                ) -> tuple[Optional[AgencyYear], list[Problem]]:
    """The model for one checked node tree (`source`: its text), or None with the problems
    that prevent it."""
    ctx = Ctx(label, earlier, source)
    values = mapping(ctx, root, "", TOP)
    if values is not None:
        _check_date_range(ctx, root, values)
    if (values is None or any(p.is_error for p in ctx.problems)
            or any(required and name not in values for name, (_, required) in TOP.items())):
        return None, ctx.problems
    if not values["parts"]:
        ctx.error(root, "parts", "文件至少需要一个部分（part）",
                  hint="在 `parts:` 下加上 `- title: …`；参见 docs/content-format.md")
        return None, ctx.problems
    values.setdefault("unit", None)
    values["source"] = label
    values["links"] = tuple(ctx.links)
    values["pos"] = ctx.pos(root)
    return AgencyYear(**values), ctx.problems


# --- whole files ---------------------------------------------------------------------------

def unsafe_file_name(name: str) -> Optional[str]:
    """Why `name` cannot be an original file's name, or None if it is safe."""
    if not name or name in (".", ".."):
        return "为空"
    if "\x00" in name:
        return "含有 NUL 字符"
    if "\\" in name:
        return "含有反斜杠"
    if name.startswith("/") or PurePosixPath(name).is_absolute() or re.match(r"^[A-Za-z]:", name):
        return "是绝对路径"
    if "/" in name or name.startswith("."):
        return "必须是部门文件夹中的普通文件名（不含文件夹，不以“.”开头）"
    if any(ord(c) < 32 for c in name):
        return "含有控制字符"
    return None


def windows_device(name: str) -> bool:
    """Whether Windows reserves `name` for a device: CON, nul.txt, COM1.pdf, `AUX .txt` …"""
    return name.split(".", 1)[0].rstrip(" ").upper() in WINDOWS_DEVICES


def windows_unsafe_name(name: str) -> Optional[str]:
    """Why Windows (IIS, SMB shares) cannot hold a file named `name`, in an editor's words;
    None when it can."""
    if windows_device(name):
        return "是 Windows 保留的设备名（CON、PRN、AUX、NUL、COM1–COM9、LPT1–LPT9，带扩展名也一样）"
    if name.endswith((".", " ")):
        return "以句点或空格结尾，Windows 会把它们去掉"
    bad = "".join(sorted(set(name) & WINDOWS_BAD_CHARS))
    if bad:
        return f"含有 Windows 文件名不允许的字符 {bad}"
    return None


def name_key(name: str) -> str:
    """What a case-insensitive file system (Windows, a default macOS disk) compares."""
    return unicodedata.normalize("NFC", name).casefold()


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
    if rel is not None and rel.as_posix() != expected:
        problems.append(_error_at(anchors.root, "", f"文件位于 content/{rel.as_posix()}，但按其年度和部门应位于 content/{expected}",
                                  hint="给文件改名，或更正 `year` / `agency.code` / `agency.slug`"))
    folder = urls.originals_folder(path, ident)
    names: dict[str, int] = {}
    for i, (original, pos) in enumerate(zip(model.originals, anchors.originals)):
        key = f"originals[{i}].file"
        why = unsafe_file_name(original.file)
        if why:
            problems.append(_error_at(pos, key, f"文件名 {original.file!r} {why}",
                                      hint=f"把文件放在 content/{model.year}/{ident}/ 中，这里只写文件名"))
            continue
        why = windows_unsafe_name(original.file)
        if why:
            problems.append(_error_at(pos, key, f"文件名 {original.file!r} {why}；发布到 Windows 服务器时无法保存",
                                      hint="给文件换一个名字（同时改这里和文件本身）"))
            continue
        first = names.setdefault(name_key(original.file), i)
        if first != i and model.originals[first].file != original.file:
            problems.append(_error_at(pos, key, f"文件名 {original.file!r} 与 originals[{first}] 的 "
                                      f"{model.originals[first].file!r} 只有大小写不同；在 Windows 和 macOS 上它们是同一个文件",
                                      hint="给其中一个文件换一个名字"))
            continue
        target = folder / original.file
        if not target.resolve().is_relative_to(content_real):
            problems.append(_error_at(pos, key, f"{original.file!r} 通过符号链接指向 content/ 之外",
                                      hint="把文件复制到文件夹中，不要用链接"))
            continue
        try:
            kind = load.not_regular(os.stat(target).st_mode)   # stat only: a FIFO is never opened
        except OSError:
            problems.append(_error_at(pos, key, f"找不到原件：content/{model.year}/{ident}/{original.file}",
                                      hint="把文件放到那里，或更正文件名"))
            continue
        if kind:
            problems.append(_error_at(pos, key, f"原件 content/{model.year}/{ident}/{original.file} 不是普通文件，"
                                      f"而是{kind}；不能发布", hint="换成文件本身"))
    if regions is not None and model.agency.region not in regions:
        close = difflib.get_close_matches(model.agency.region, regions, n=1)
        problems.append(_error_at(anchors.region, "agency.region",
                                  f"地区 {model.agency.region!r} 未列在 site_config.yaml 中",
                                  hint=(f"是否想写 {close[0]!r}？如果不是，" if close else "") + "请在 site_config.yaml 的 `regions:` 下加上它"))
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
        f"… 从这里起还有 {len(rest)} 个问题（其中 {errors} 个错误）未列出",
        hint=f"先改正前面的问题再检查；每个文件只列出 {limit} 个")]


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


def leads_outside(path: Path, content_dir: Path, label: str) -> Optional[Problem]:
    """A file under content/ that a symbolic link (of the file or of a folder above it)
    leads outside content/: refused before it is opened (D3)."""
    if not path.absolute().is_relative_to(content_dir.absolute()):
        return None   # a file given by its own path, outside content/ (`check /tmp/x.yaml`)
    if path.resolve().is_relative_to(content_dir.resolve()):
        return None
    return Problem(label, 1, 1, "文件通过符号链接指向 content/ 之外",
                   hint="把文件（或文件夹）复制到 content/ 中，不要用链接")


def validate_file(path: Path, content_dir: Path, regions: Optional[tuple[str, ...]],
                  label: Optional[str] = None, cache=None) -> tuple[Optional[AgencyYear], list[Problem]]:
    """Load, check and model one agency-year file. Errors mean None; notes may come with a model.

    With a `cache` (gongkai.cache.ParseCache), the text-only part is looked up by content.
    """
    label = label or str(path)
    outside = leads_outside(Path(path), content_dir, label)
    if outside is not None:   # refused by its name: the target is never read, nor quoted
        return None, [outside]
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
