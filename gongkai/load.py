"""Read YAML into a node tree that keeps line and column of every value.

Only what the content format allows gets through: UTF-8 text under a size cap, no anchors or
aliases, no tags outside the YAML core schema, no duplicate keys. Everything else becomes a
`Problem` naming file, line and column; nothing here raises on bad input.
"""
from __future__ import annotations

import contextlib
import gc
import os
import re
import stat
import unicodedata
from pathlib import Path
from typing import Optional

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import Problem

try:  # libyaml is 10x faster; the pure-Python loader is the fallback, never the default.
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _BaseLoader


class Loader(_BaseLoader):
    """The safe loader with a cheaper tag resolver; the tags it gives are the same.

    libyaml calls the Python-level `resolve` for every node and `descend_resolver` /
    `ascend_resolver` around it: over a third of composing. Without path resolvers (the safe
    loader has none) the latter do nothing and a collection's tag is the default one; a
    plain scalar is matched against the patterns for its first character once per distinct
    text (keys and amounts repeat), and quoted ones are strings."""

    def __init__(self, stream):
        super().__init__(stream)
        self._implicit = self.yaml_implicit_resolvers
        self._tags: dict[str, str] = {}   # plain text -> tag, for this one document
        if self.yaml_path_resolvers or None in self._implicit:
            self.resolve = super().resolve   # wildcard or path resolvers: the general code
        else:
            self.descend_resolver = _ignore_two
            self.ascend_resolver = _ignore_none

    def resolve(self, kind, value, implicit):
        if kind is ScalarNode:
            if not implicit[0]:
                return self.DEFAULT_SCALAR_TAG
            tag = self._tags.get(value)
            if tag is None:
                tag = self.DEFAULT_SCALAR_TAG
                for candidate, regexp in self._implicit.get(value[:1], ()):   # "" for the empty value
                    if regexp.match(value):
                        tag = candidate
                        break
                self._tags[value] = tag
            return tag
        if kind is MappingNode:
            return self.DEFAULT_MAPPING_TAG
        if kind is SequenceNode:
            return self.DEFAULT_SEQUENCE_TAG
        return super().resolve(kind, value, implicit)


def _ignore_two(_a, _b) -> None:
    return None


def _ignore_none() -> None:
    return None


MAX_BYTES = 10 * 1024 * 1024
MAX_DEPTH = 64
MAX_VALUES = 200_000      # keys, texts and list items in one file; the largest seed has 1,700
# Characters YAML refuses (C0/C1 controls, DEL, non-characters) or reads as a line end
# (NEL, LINE/PARAGRAPH SEPARATOR): invisible, usually pasted from Word or a PDF.
BAD_CHAR_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufffe\uffff]")

# An anchor (&name) or alias (*name) token: a name needs a character other than a space or
# line end (`元 * 9` is text), and YAML only starts a token after whitespace, the file's
# start or punctuation, never right after a letter or digit (`6*2`, `R&D` are inside a
# scalar). An over-estimate: a match only means the exact event scan runs.
ANCHOR_OR_ALIAS_RE = re.compile(r"[&*](?=[^ \t\r\n])")
WORD_RE = re.compile(r"\w")

CORE_TAGS = {
    "tag:yaml.org,2002:" + t
    for t in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")
}


def read_text(path: Path, label: str) -> tuple[Optional[str], list[Problem]]:
    """The file's text, or problems if it is not a regular file, too big, not UTF-8, or unreadable.

    A pipe, device or folder under a content file's name is refused by its name (`stat`)
    before it is opened: reading `/dev/zero` never ends, and opening a FIFO blocks until a
    writer comes. The open is non-blocking and checked again (`fstat`) in case the name
    changed in between, and never more than MAX_BYTES + 1 bytes are read."""
    try:
        kind = not_regular(os.stat(path).st_mode)
        if kind:
            return None, [not_regular_problem(label, kind)]
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb") as stream:
            info = os.fstat(fd)
            kind = not_regular(info.st_mode)
            if kind:
                return None, [not_regular_problem(label, kind)]
            if info.st_size > MAX_BYTES:
                return None, [_too_big(label, info.st_size)]
            data = stream.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:   # grew after the fstat
            return None, [_too_big(label, len(data))]
    except OSError as exc:
        return None, [Problem(label, 1, 1, f"无法读取文件：{exc.strerror or exc}",
                              hint="检查文件是否存在、你是否有权读取它")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        hint = "把文件另存为 UTF-8 编码"
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            hint = "文件是 UTF-16 编码；请在编辑器中另存为 UTF-8"
        try:
            data.decode("gb18030")
            hint = ("文件看起来是 GBK/GB18030 编码；请用 "
                    f"`iconv -f GB18030 -t UTF-8 {path.name} > new.yaml` 转换，或在编辑器中另存为 UTF-8")
        except UnicodeDecodeError:
            pass
        return None, [Problem(label, line, column, f"不是有效的 UTF-8 编码（字节 0x{data[exc.start]:02x}）", hint=hint)]
    if text.startswith("\ufeff"):
        text = text[1:]  # A BOM from Windows editors is harmless: drop it, keep positions.
    bad = bad_characters(text, label)
    if bad:
        return None, bad
    return text, []


# What an entry that is not a regular file is, in an editor's words (the file type bits).
_KINDS = ((stat.S_ISDIR, "文件夹"), (stat.S_ISFIFO, "命名管道（FIFO）"), (stat.S_ISCHR, "字符设备"),
          (stat.S_ISBLK, "块设备"), (stat.S_ISSOCK, "套接字"))


def not_regular(mode: int) -> Optional[str]:
    """What a file of `mode` is when it is not a regular file (None when it is one)."""
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in _KINDS if test(mode)), "特殊文件")


def not_regular_problem(label: str, kind: str) -> Problem:
    """The refusal of a file that is not a regular one (it was not opened)."""
    return Problem(label, 1, 1, f"不是普通文件，而是{kind}；没有读取",
                   hint="这里须是普通的 YAML 文本文件：删除它，或换成文件本身（不是链接）")


def _too_big(label: str, size: int) -> Problem:
    """The refusal of a file over MAX_BYTES."""
    return Problem(label, 1, 1, f"文件有 {size} 字节，超过 {MAX_BYTES} 字节（10 MB）的上限",
                   hint="把文件拆开，或删去粘贴进来的二进制数据")


def bad_characters(text: str, label: str, limit: int = 10) -> list[Problem]:
    """Control characters and Unicode line separators, each with its line and column."""
    problems = []
    for match in BAD_CHAR_RE.finditer(text):
        i = match.start()
        char = match.group(0)
        name = unicodedata.name(char, "控制字符")
        line, column = text.count("\n", 0, i) + 1, i - text.rfind("\n", 0, i)
        problems.append(Problem(label, line, column, f"不允许使用不可见字符 U+{ord(char):04X}（{name}）",
                                hint="删除它（它通常来自从 Word 或 PDF 粘贴的文字）；"
                                     "YAML 会把它当作行尾或拒绝它。文字中的换行请写在 `|-` 文字块里"))
        if len(problems) >= limit:
            break
    return problems


def parse(text: str, label: str) -> tuple[Optional[Node], list[Problem]]:
    """Compose `text` into a checked node tree; (None, problems) on any structural error."""
    if not text.strip():
        return None, [Problem(label, 1, 1, "文件为空", hint="文件应包含的内容参见 docs/content-format.md")]
    deep = _too_deep(text, label)
    if deep:
        return None, [deep]
    may_share = _may_hold_anchor(text)   # only an alias makes a node appear twice in the tree
    problems = _anchor_problems(text, label) if may_share else []
    try:
        node = yaml.compose(text, Loader=Loader)
    except yaml.MarkedYAMLError as exc:
        return None, problems + [_syntax_problem(exc, label, text)]
    except yaml.YAMLError as exc:  # a reader error: bad_characters() finds those first
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return None, [Problem(label, 1, 1, f"YAML 错误：{first}", hint="把文件另存为 UTF-8 纯文本")]
    except RecursionError:
        return None, [Problem(label, 1, 1, "嵌套层数太深", hint=f"内容文件不需要超过 {MAX_DEPTH} 层：请检查缩进")]
    if node is None:
        return None, [Problem(label, 1, 1, "文件中没有数据", hint="文件应包含的内容参见 docs/content-format.md")]
    if not may_share and _is_clean(node):
        return node, []   # what check_tree would say, found without building its bookkeeping
    tree_problems, fatal = check_tree(node, label, report_aliases=not problems)
    return (None if fatal else node), problems + tree_problems


@contextlib.contextmanager
def no_gc():
    """The cyclic garbage collector paused while one file is read and checked.

    A node tree holds thousands of objects and no reference cycles; collections during
    composing and checking scan it again and again (and promote it to the old generation,
    which full collections then scan) only to find nothing. It is freed by reference
    counting once the file is done. Resumed only if it was running, so nesting is harmless."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load_file(path: Path, label: Optional[str] = None) -> tuple[Optional[Node], list[Problem]]:
    label = label or str(path)
    text, problems = read_text(Path(path), label)
    if text is None:
        return None, problems
    return parse(text, label)


def _syntax_problem(exc: yaml.MarkedYAMLError, label: str, text: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    message = (exc.problem or str(exc)).strip()
    if exc.context:
        message = f"{exc.context.strip()}: {message}"
    hint = "检查这一行和上一行的缩进以及 `键: 值` 的写法"
    lines = text.splitlines()
    if "\t" in message or (mark and 0 < line <= len(lines) and "\t" in lines[line - 1][: column]):
        hint = "YAML 的缩进必须用空格，不能用制表符（Tab）"
    elif "mapping values are not allowed" in message:
        hint = "含有 ': ' 的值必须加引号；否则是上面的键缩进有误"
    return Problem(label, line, column, f"YAML 语法错误：{message}", hint=hint)


def _could_be_deep(text: str) -> bool:
    """A cheap over-estimate: only texts that pass it get the exact (slower) depth scan."""
    deep = " " * (MAX_DEPTH + 1)
    if text.startswith(deep) or "\n" + deep in text:   # a line indented by more than MAX_DEPTH spaces
        return True
    if text.count("[") + text.count("{") <= MAX_DEPTH // 2:
        return False   # bracket depth never exceeds the number of opening brackets
    depth = top = 0
    for match in re.finditer(r"[\[\]{}]", text):
        depth = depth + 1 if match.group(0) in "[{" else max(depth - 1, 0)
        top = max(top, depth)
    return top > MAX_DEPTH // 2


def _may_hold_anchor(text: str) -> bool:
    """Whether an anchor or alias token could be in `text` (never False when one is)."""
    if "&" not in text and "*" not in text:
        return False
    # Not a lookbehind in the pattern: that is tried at every position and costs 7x more.
    return any(not (match.start() and WORD_RE.match(text, match.start() - 1))
               for match in ANCHOR_OR_ALIAS_RE.finditer(text))


def _too_deep(text: str, label: str) -> Optional[Problem]:
    """Nesting beyond MAX_DEPTH or more than MAX_VALUES values, found on the event stream
    before composing. The event parser is iterative (unlike the composer, whose recursion
    can overflow the C stack on 100,000 levels) and keeps nothing, while composing makes an
    object per value (a 10 MB file of `a: 1` lines takes gigabytes and minutes). Only texts
    that could break a limit are scanned: long ones, or ones `_could_be_deep` flags."""
    if len(text) < MAX_VALUES // 2 and not _could_be_deep(text):
        return None
    depth = count = 0
    try:
        for event in yaml.parse(text, Loader=Loader):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    return Problem(label, mark.line + 1, mark.column + 1,
                                   f"嵌套超过 {MAX_DEPTH} 层", hint="检查缩进")
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
                continue
            elif not isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent)):
                continue
            count += 1
            if count > MAX_VALUES:
                mark = event.start_mark
                return Problem(label, mark.line + 1, mark.column + 1,
                               f"一个文件中的值（键、文字、列表项）超过 {MAX_VALUES:,} 个",
                               hint="一个部门年度最多只需几千个：请拆分文件，"
                                    "或检查是否有粘贴后重复了多次的数据")
    except yaml.MarkedYAMLError:
        return None  # compose reports the syntax error with its position
    return None


def _anchor_problems(text: str, label: str) -> list[Problem]:
    """Anchors and aliases are refused before composing: an alias bomb never expands."""
    problems = []
    try:
        for event in yaml.parse(text, Loader=Loader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                kind = "alias" if isinstance(event, yaml.AliasEvent) else "anchor"
                mark = event.start_mark
                problems.append(Problem(
                    label, mark.line + 1, mark.column + 1,
                    f"不允许使用 YAML {'别名（alias）' if kind == 'alias' else '锚点（anchor）'}`{'*' if kind == 'alias' else '&'}{event.anchor}`",
                    hint="在用到的地方把值完整写出；如果文字本身以 & 或 * 开头，"
                         "请加上引号"))
                if len(problems) >= 20:
                    break
    except yaml.MarkedYAMLError:
        return []  # compose reports the syntax error with its position
    return problems


def check_tree(root: Node, label: str, report_aliases: bool = True) -> tuple[list[Problem], bool]:
    """Tags, duplicate keys, depth and shared nodes, checked without recursion.

    Returns (problems, fatal). The tree is repaired so that the schema check can still run
    and report its own problems: a second use of a node (an alias) becomes an empty value,
    so nothing is ever expanded, and a disallowed tag is dropped. Only too deep a tree is fatal.
    """
    problems: list[Problem] = []
    fatal = False
    seen: set[int] = set()
    stack = [(root, 1, None, None)]
    while stack:
        node, depth, parent, index = stack.pop()
        if id(node) in seen:
            if report_aliases:
                problems.append(Problem.at(label, node, "不允许使用 YAML 别名（alias）",
                                           hint="在用到的地方把值完整写出"))
            # An empty value of the same kind: the schema check goes on without expanding anything.
            if isinstance(node, ScalarNode):
                empty = ScalarNode("tag:yaml.org,2002:null", "", node.start_mark, node.end_mark)
            else:
                empty = type(node)(node.tag, [], node.start_mark, node.end_mark)
            _replace(parent, index, empty)
            continue
        seen.add(id(node))
        if node.tag not in CORE_TAGS:
            problems.append(Problem.at(label, node, f"不允许使用 YAML 标签（tag）`{node.tag}`",
                                       hint="删去 `!…` 标签；内容只能是普通文字、数字和列表"))
            # Drop the tagged value: the schema check then sees an empty value at this spot.
            _replace(parent, index, ScalarNode("tag:yaml.org,2002:null", "", node.start_mark, node.end_mark))
            continue
        if depth > MAX_DEPTH:
            problems.append(Problem.at(label, node, f"嵌套超过 {MAX_DEPTH} 层",
                                       hint="检查缩进"))
            fatal = True
            break
        if isinstance(node, MappingNode):
            first: dict[str, Node] = {}
            for key, value in node.value:
                merge = key.tag == "tag:yaml.org,2002:merge" and key.value == "<<"   # reported below
                if key.tag not in CORE_TAGS and not merge:
                    problems.append(Problem.at(label, key, f"键上的 YAML 标签 `{key.tag}` 不允许使用",
                                               hint="删除键前面的 `!…` 标签；内容文件的键只能是普通的词"))
                if isinstance(key, ScalarNode):
                    if key.value == "<<" and key.tag == "tag:yaml.org,2002:merge":
                        problems.append(Problem.at(label, key, "不允许使用 YAML 合并键 `<<`",
                                                   hint="在这里把各个键完整写出"))
                    elif key.value in first:
                        earlier = first[key.value].start_mark.line + 1
                        problems.append(Problem.at(
                            label, key, f"重复的键 {key.value!r}（第一次写在第 {earlier} 行）",
                            hint="只保留其中一个；YAML 会不加提示地只用最后一个"))
                    else:
                        first[key.value] = key
                else:
                    problems.append(Problem.at(label, key, "键必须是普通的词，不能是列表或映射",
                                               hint="删去键周围的 `?`、`[`…`]` 或 `{`…`}`"))
                    fatal = True
            stack.extend((value, depth + 1, node, i) for i, (_, value) in enumerate(node.value))
        elif isinstance(node, SequenceNode):
            stack.extend((item, depth + 1, node, i) for i, item in enumerate(node.value))
    problems.sort(key=lambda p: (p.line, p.column))
    return problems, fatal


def _is_clean(root: Node) -> bool:
    """Whether check_tree would find nothing in `root`, a tree in which no node appears twice.

    The same walk (values and items, not keys) without positions, parents or a set of
    visited nodes: it stops at the first thing check_tree would report or repair."""
    core = CORE_TAGS
    if root.tag not in core:
        return False
    stack = [(root, 1)]   # containers whose own tag and depth are fine
    while stack:
        node, depth = stack.pop()
        items = node.value
        if not items:
            continue
        depth += 1
        if depth > MAX_DEPTH:
            return False
        if isinstance(node, MappingNode):
            names = set()
            for key, value in items:
                if not isinstance(key, ScalarNode) or value.tag not in core or key.tag not in core:
                    return False
                names.add(key.value)
                if not isinstance(value, ScalarNode):
                    stack.append((value, depth))
            if len(names) != len(items) or "<<" in names:   # duplicate or (maybe) merge key
                return False
        elif isinstance(node, SequenceNode):
            for item in items:
                if item.tag not in core:
                    return False
                if not isinstance(item, ScalarNode):
                    stack.append((item, depth))
    return True


def _replace(parent: Optional[Node], index: Optional[int], new: Node) -> None:
    if isinstance(parent, MappingNode):
        parent.value[index] = (parent.value[index][0], new)
    elif isinstance(parent, SequenceNode):
        parent.value[index] = new


def plain(node: Node):
    """Python values for a checked node tree (used for small files such as the config)."""
    return yaml.constructor.SafeConstructor().construct_document(node)


def resolved(node: ScalarNode):
    """The Python value YAML would give a scalar (str, int, float, bool, None, date)."""
    try:
        return yaml.constructor.SafeConstructor().construct_object(node)
    except (yaml.YAMLError, ValueError, IndexError):
        return node.value
