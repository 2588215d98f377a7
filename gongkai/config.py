"""Site configuration (`site_config.yaml`): read, checked, and handed to the other stages.

Read like a content file (gongkai/load.py: size, encoding, invisible characters, anchors,
duplicate keys, positions), then stricter, since every value is published on every page:
no YAML tag anywhere (on keys too), a plain value where text is meant is the text as written
(`postcode: 066000` stays 066000: no octal, no booleans, no dates), every setting typed and
checked, and every problem reported at once with `file:line:col` and the key path.
"""
from __future__ import annotations

import datetime
import difflib
import os
import re
import stat
import urllib.parse
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Callable, Optional

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from . import load, validate
from .errors import Problem
from .validate import Ctx


class ConfigCtx(Ctx):
    """Ctx with the nodes that carry a YAML tag: reported once, then passed over."""

    def __init__(self, label: str, earlier: tuple[Problem, ...], tagged: set[int]):
        super().__init__(label, earlier)
        self.tagged = tagged


def source_date_epoch() -> Optional[datetime.date]:
    """The date of SOURCE_DATE_EPOCH (reproducible builds), or None when it is not set;
    ValueError when it is not a whole number of seconds."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not value:
        return None
    why = "应为从 1970-01-01 起的整数秒数"
    if value.isascii() and value.isdigit():
        try:
            return datetime.datetime.fromtimestamp(int(value), datetime.timezone.utc).date()
        except (OverflowError, OSError, ValueError):
            why = "超出可表示的日期范围"
    raise ValueError(f"环境变量 SOURCE_DATE_EPOCH={value[:40]!r} {why}（例如提交时间：git log -1 --format=%ct）")


MAX_BYTES = 1024 * 1024   # a province's config (170 regions) is about 10 KB
MAX_TEXT = 200            # characters in one setting: each is repeated on every page
CONTACT_KEYS = ("phone", "email", "address", "fax", "postcode")   # the footer labels them
EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOST_RE = re.compile(rf"^{LABEL}(?:\.{LABEL})*$")
# What a site_url may hold once its scheme and host are checked: unreserved characters,
# percent escapes and the sub-delimiters that no HTML, XML or robots.txt writer changes.
URL_PATH_RE = re.compile(r"^[A-Za-z0-9._~!$()*+,;=:@/-]*$")
BAD_PERCENT_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")
LINE_BREAK_RE = re.compile("[\n\r]")
EXAMPLE_URL = "https://example.gov.cn/zwgk/jxgk/"


# --- converters: (ctx, node, key) -> value, or None with the problem in ctx ----------------

def _shown(node: Node) -> str:
    """What was written, in words an editor understands (Chinese)."""
    if isinstance(node, MappingNode):
        return "映射（key: value 行）"
    if isinstance(node, SequenceNode):
        return "列表"
    if not node.value:
        return "空值"
    return repr(node.value) if len(node.value) <= 60 else repr(node.value[:59] + "…")


def text(ctx: Ctx, node: Node, key: str) -> Optional[str]:
    """One line of text, exactly as written: a plain value YAML would read as a number,
    boolean or date is its text (`066000`, `NO`, `2020-01-01`); `~`, `null` or nothing is empty."""
    if not isinstance(node, ScalarNode):
        ctx.error(node, key, f"应为一行文字，实为{_shown(node)}",
                  hint="把文字写在冒号后的同一行；有多项时只写一项")
        return None
    if node.tag == validate.NULL:
        return None
    value = node.value
    bad = load.BAD_CHAR_RE.search(value)   # only an escape (`"\x0c"`) gets past load.py
    if bad:
        ctx.error(node, key, f"含不可见字符 U+{ord(bad.group(0)):04X}（以转义形式写出），不允许",
                  hint="删除该 `\\` 转义；网页、订阅源和数据文件都不能包含它")
        return None
    if LINE_BREAK_RE.search(value):
        ctx.error(node, key, "设置项须写成一行，不能含换行符",
                  hint="删除换行（或 `\\n` 转义），不要用 `|` 块写设置项")
        return None
    if len(value) > MAX_TEXT:
        ctx.error(node, key, f"文字过长：{len(value)} 个字符，上限为 {MAX_TEXT}",
                  hint="设置项会出现在每个页面上，只写简短的名称或号码")
        return None
    # The content checks that still apply (notes on HTML look-alikes and invisible characters).
    return validate.text(ctx, ScalarNode(validate.STR, value, node.start_mark, node.end_mark, node.style), key)


def port(ctx: Ctx, node: Node, key: str) -> Optional[int]:
    if isinstance(node, ScalarNode) and re.fullmatch(r"[1-9][0-9]{0,4}", node.value) and int(node.value) <= 65535:
        return int(node.value)
    ctx.error(node, key, f"应为 1 到 65535 之间的端口号，实为{_shown(node)}",
              hint="写十进制整数，不以 0 开头，例如 8000")
    return None


def email(ctx: Ctx, node: Node, key: str) -> Optional[str]:
    value = text(ctx, node, key)
    if value and not EMAIL_RE.match(value):
        ctx.error(node, key, f"不是有效的电子邮箱地址：{value!r}",
                  hint="形如 jxgk@example.gov.cn：只含英文字母、数字和 . _ % + -，一个 @，不含空格")
        return None
    return value


def domain(ctx: Ctx, node: Node, key: str) -> Optional[str]:
    value = text(ctx, node, key)
    if value and not HOST_RE.match(value):
        ctx.error(node, key, f"不是有效的域名：{value!r}",
                  hint="形如 example.gov.cn，不含 http://、路径和空格" + _punycode_hint(value))
        return None
    return value


def site_url(ctx: Ctx, node: Node, key: str) -> Optional[str]:
    """An absolute http(s) address of the site's root folder, written so that no writer
    (HTML, XML, robots.txt) changes it: sitemap.xml and robots.txt print it as it is."""
    value = text(ctx, node, key)
    if not value:
        return value
    why, hint = _url_problem(value)
    if why:
        ctx.error(node, key, f"{why}：{value!r}", hint=hint + f"；例如 {EXAMPLE_URL}")
        return None
    return value


def _url_problem(value: str) -> tuple[str, str]:
    """Why `value` cannot be the site's address, and a hint; ("", "") when it can."""
    if not value.isascii():
        quoted = urllib.parse.quote(value, safe="".join(chr(c) for c in range(33, 127)))
        return "网址含非 ASCII 字符", (f"中文等非 ASCII 字符须按 UTF-8 百分号编码，写作 {quoted}"
                                   + _punycode_hint(urllib.parse.urlsplit(value).hostname or ""))
    odd = re.search(r"[\s\"'<>`\\{}|^&]", value)
    if odd:
        return (f"网址含不允许的字符 {odd.group(0)!r}",
                "网址中不能有空格、引号、尖括号、反斜杠或 &；路径中确需这些字符时请百分号编码（如空格写作 %20，& 写作 %26）")
    if "?" in value or "#" in value:
        return "网址不能带查询串（?…）或片段（#…）", "只写网站根目录的地址"
    if not value.startswith(("http://", "https://")):
        return "网址须以 http:// 或 https:// 开头", "写完整的绝对地址（小写的 http 或 https）"
    parts = urllib.parse.urlsplit(value)
    if "@" in parts.netloc:
        return "网址不能含用户名或密码（@）", "删除 @ 及其前面的部分"
    host, _, number = parts.netloc.partition(":")
    if not HOST_RE.match(host) or (number and not (number.isdigit() and 1 <= int(number) <= 65535)):
        return "网址的主机名或端口无效", "主机名形如 example.gov.cn，端口为 1 到 65535"
    if not parts.path.endswith("/"):
        return "网址须以 / 结尾", "sitemap.xml 中的地址由它加上页面路径组成，须写成文件夹地址"
    if BAD_PERCENT_RE.search(parts.path) or not URL_PATH_RE.match(parts.path.replace("%", "")):
        return "网址的路径含无效的百分号编码或字符", "% 后须跟两位十六进制数字"
    if any(segment in (".", "..") for segment in parts.path.split("/")):
        return "网址的路径不能含 . 或 .. 段", "写出实际的文件夹路径"
    return "", ""


def _punycode_hint(host: str) -> str:
    if host.isascii():
        return ""
    try:
        return f"；中文域名请写 Punycode 形式 {host.encode('idna').decode('ascii')}"
    except UnicodeError:
        return "；中文域名请写 Punycode（xn--…）形式"


def regions(ctx: Ctx, node: Node, key: str) -> Optional[tuple[str, ...]]:
    if isinstance(node, ScalarNode) and node.tag == validate.NULL:
        return ()
    if not isinstance(node, SequenceNode):
        ctx.error(node, key, f"应为地区列表（以 '- ' 开头的行），实为{_shown(node)}",
                  hint="每个地区写一行，以 '- ' 开头，缩进写在 regions: 下面")
        return None
    out: dict[str, Node] = {}
    for i, item in enumerate(node.value):
        name = text(ctx, item, f"{key}[{i}]")
        if name is not None and not name.strip():
            name = None
        if name is None:
            if not _reported(ctx, item):
                ctx.error(item, f"{key}[{i}]", "地区名称不能为空", hint="写出地区名称，或删除这一行")
        elif name in out:
            ctx.error(item, f"{key}[{i}]", f"地区 {name!r} 重复（第 {out[name].start_mark.line + 1} 行已列出）",
                      hint="删除重复的一行：首页按地区分组，重复会把同一部门列出两次")
        else:
            out[name] = item
    return tuple(out)


def contact(ctx: Ctx, node: Node, key: str) -> Optional[dict]:
    spec = {name: (email if name == "email" else text, False) for name in CONTACT_KEYS}
    values = _settings(ctx, node, key, spec)
    return None if values is None else {name: value for name, value in values.items() if value}


LICENSE_KEYS = ("name", "title", "path")


def data_license(ctx: ConfigCtx, node: Node, key: str) -> Optional[dict]:
    """The open data's licence, as datapackage.json states it (Frictionless `licenses`)."""
    values = _settings(ctx, node, key, {name: (text, False) for name in LICENSE_KEYS})
    if values is None:
        return None
    values = {name: values[name] for name in LICENSE_KEYS if values.get(name)}
    if values and not ({"name", "path"} & set(values)):
        ctx.error(node, key, "许可需要 name（如 CC-BY-4.0）或 path（许可全文的网址）",
                  hint="例如 name: CC-BY-4.0，path: https://creativecommons.org/licenses/by/4.0/")
        return None
    return values


# --- the settings --------------------------------------------------------------------------

@dataclass(frozen=True)
class Config:
    """The settings; each field's `read` is its converter, and a field without a default
    is required and may not be empty."""
    title: str = field(metadata={"read": text})
    owner: str = field(metadata={"read": text})
    regions: tuple[str, ...] = field(metadata={"read": regions})
    output: str = field(default="_site", metadata={"read": text})
    serve_port: int = field(default=8000, metadata={"read": port})
    contact: dict = field(default_factory=dict, metadata={"read": contact})
    site_id_code: str = field(default="", metadata={"read": text})
    icp: str = field(default="", metadata={"read": text})
    police_record: str = field(default="", metadata={"read": text})
    site_domain: str = field(default="", metadata={"read": domain})
    column_name: str = field(default="", metadata={"read": text})
    column_type: str = field(default="", metadata={"read": text})     # 政府网站 meta ColumnType
    site_url: str = field(default="", metadata={"read": site_url})    # sitemap.xml, robots.txt, 404.html
    data_license: dict = field(default_factory=dict, metadata={"read": data_license})  # datapackage.json
    root: Path = Path(".")          # folder holding site_config.yaml (not a setting)

    @property
    def base_path(self) -> str:
        """The site's path on its host (`/zwgk/jxgk/`), from site_url; `/` without one."""
        path = urllib.parse.urlsplit(self.site_url).path if self.site_url else "/"
        return path if path.endswith("/") else path + "/"

    @property
    def content_folder(self) -> str:
        """content/ relative to the project root (as git and `AgencyYear.source` name it)."""
        return os.path.relpath(self.content_dir, self.root)

    @property
    def content_dir(self) -> Path:
        return self.root / "content"

    @property
    def output_dir(self) -> Path:
        return (self.root / self.output)


Spec = dict[str, tuple[Callable, bool]]
SETTINGS: Spec = {f.name: (f.metadata["read"], f.default is MISSING and f.default_factory is MISSING)
                  for f in fields(Config) if "read" in f.metadata}


def _settings(ctx: ConfigCtx, node: Node, key: str, spec: Spec) -> Optional[dict]:
    """A mapping read by `spec` (name -> (converter, required)): unknown keys with a
    suggestion, missing and empty required values, each at its position."""
    if isinstance(node, ScalarNode) and node.tag == validate.NULL:
        node = MappingNode(validate.T + "map", [], node.start_mark, node.end_mark)
    if not isinstance(node, MappingNode):
        ctx.error(node, key, f"应为设置项的映射（缩进的 key: value 行），实为{_shown(node)}",
                  hint="每项写一行 `名称: 值`" + (f"，缩进写在 {key}: 下面" if key else ""))
        return None
    prefix = f"{key}." if key else ""
    out: dict = {}
    for key_node, value_node in node.value:
        if id(key_node) in ctx.tagged:
            continue   # reported as a tag; what it names is unknown
        name = key_node.value
        path = prefix + (name if name.isprintable() else repr(name))
        if name not in spec:
            close = difflib.get_close_matches(name, spec, n=1, cutoff=0.6)
            ctx.error(key_node, path, "未知设置项",
                      hint=f"是否应为 {close[0]!r}？" if close else "可用的设置项：" + "、".join(spec))
            continue
        convert, required = spec[name]
        if id(value_node) in ctx.tagged:
            continue
        value = convert(ctx, value_node, path)
        if isinstance(value, str) and not value.strip():
            value = None   # an optional setting keeps its default; a required one is missing
        if value is None or value == ():
            if required and not _reported(ctx, value_node):
                ctx.error(value_node, path, "必填设置项不能为空", hint="在冒号后写出它的值")
            continue
        out[name] = value
    written = {k.value for k, _ in node.value if isinstance(k, ScalarNode)}
    for name, (_, required) in spec.items():
        if required and name not in written:
            ctx.error(node, prefix + name, f"缺少必填设置项 {name!r}", hint=f"加一行 `{name}: …`")
    return out


def _reported(ctx: Ctx, node: Node) -> bool:
    """Whether an error was already reported inside `node` (so 'empty' would repeat it)."""
    start = (node.start_mark.line + 1, node.start_mark.column + 1)
    end = (node.end_mark.line + 1, node.end_mark.column + 1)
    return any(p.is_error and start <= (p.line, p.column) <= end for p in ctx.problems + list(ctx.earlier))


# --- the file ------------------------------------------------------------------------------

def _file_problem(path: Path, label: str) -> Optional[Problem]:
    """Why `path` cannot be read as the configuration, judged by its name before it is
    opened: a FIFO would block, a device (or a link to /dev/zero) never ends."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return Problem(label, 1, 1, "找不到配置文件", hint="在项目根目录运行，或用 --config 指定 site_config.yaml 的路径")
    except OSError as exc:
        return Problem(label, 1, 1, f"无法读取配置文件：{exc.strerror or exc}", hint="检查路径和读取权限")
    if not stat.S_ISREG(info.st_mode):
        kind = ("文件夹" if stat.S_ISDIR(info.st_mode) else "命名管道（FIFO）" if stat.S_ISFIFO(info.st_mode)
                else "设备文件" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
                else "套接字" if stat.S_ISSOCK(info.st_mode) else "特殊文件")
        through = "（经由符号链接）" if path.is_symlink() else ""
        return Problem(label, 1, 1, f"配置文件不是普通文件，而是{kind}{through}，未打开",
                       hint="用 --config 指定一个普通的 site_config.yaml 文件")
    if info.st_size > MAX_BYTES:
        return Problem(label, 1, 1, f"配置文件有 {info.st_size} 字节，上限为 {MAX_BYTES}（1 MB）",
                       hint="配置只含网站名称、页脚信息和地区列表，通常不到 10 KB")
    return None


def _tags(text: str, root: Node, label: str) -> tuple[list[Problem], set[int]]:
    """Every YAML tag (`!!int`, `!!str`, `!x`, on a key or a value) is an error; the ids
    of the nodes they are on, so that nothing else is said about those."""
    problems: list[Problem] = []
    tagged: set[int] = set()
    tokens = [t for t in yaml.scan(text, Loader=load.Loader) if isinstance(t, yaml.TagToken)]
    if not tokens:
        return problems, tagged
    at: dict[int, tuple[Node, str]] = {}
    stack: list[tuple[Node, str]] = [(root, "")]
    while stack:
        node, path = stack.pop()
        # Later (deeper) nodes win: a tag where a block mapping and its first key start is the key's.
        at[node.start_mark.index] = (node, path)
        if isinstance(node, MappingNode):
            for k, v in node.value:
                name = f"{path}.{k.value}" if path else str(k.value)
                at[k.start_mark.index] = (k, name)
                stack.append((v, name))
        elif isinstance(node, SequenceNode):
            stack.extend((item, f"{path}[{i}]") for i, item in enumerate(node.value))
    for token in tokens:
        node, path = at.get(token.start_mark.index, (None, ""))
        written = text[token.start_mark.index:token.end_mark.index]
        problems.append(Problem(label, token.start_mark.line + 1, token.start_mark.column + 1,
                                f"不允许使用 YAML 标签 `{written}`", key=path,
                                hint="删除 `!…` 标签：配置只含文字、数字和列表，数字和日期照原样读作文字"))
        if node is not None:
            tagged.add(id(node))
    return problems, tagged


def load_config(path: str | Path) -> tuple[Optional[Config], list[Problem]]:
    """Read and check the configuration; return (config or None, problems)."""
    path = Path(path)
    label = str(path)
    refused = _file_problem(path, label)
    if refused is not None:
        return None, [refused]
    text_, problems = load.read_text(path, label)
    if text_ is None:
        return None, problems
    node, problems = load.parse(text_, label)
    if node is None:
        return None, problems
    tag_problems, tagged = _tags(text_, node, label)
    spots = {(p.line, p.column) for p in tag_problems}   # load.py's word on a tag is not repeated
    earlier = tuple(p for p in problems if (p.line, p.column) not in spots) + tuple(tag_problems)
    ctx = ConfigCtx(label, earlier, tagged)
    values = _settings(ctx, node, "", SETTINGS)
    problems = sorted(list(earlier) + ctx.problems, key=lambda p: (p.line, p.column))
    if values is None or any(p.is_error for p in problems):
        return None, problems
    return Config(**values, root=path.resolve().parent), problems
