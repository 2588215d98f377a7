"""`build.py import`: turn an extracted document text into a content YAML file.

Two families of extracted text exist (see ../shared/docs/document-format.md and the seeds):

- Word-exported text: `TC` field codes after headings (the 目录 entries), one table cell per
  line starting with a TAB, a cell's further lines without the TAB, blank lines between rows.
- PDF-extracted text: a printed 目录 with dotted leaders, one table row per line with
  TAB-separated cells, cells wrapped with spaces, tables split across pages.

The importer removes extraction noise only and places every other line in the model of
docs/content-format.md. A line it cannot place is reported with its line number and the
import fails, unless `--keep-unplaced` keeps such lines under `unplaced:`. The YAML is
written by `yamlout.py`.
"""
from __future__ import annotations

import errno
import functools
import filecmp
import os
import re
import shutil
import stat
import sys
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Callable, Optional

from . import load, yamlout
from .validate import model_text, unsafe_file_name

CN = "一二三四五六七八九十百零〇"
PART_RE = re.compile(rf"^第([{CN}]+)部分\s*(.*)$")
NUMBER_RE = re.compile(rf"^(第[{CN}]+部分|[{CN}]+、|（[{CN}]+）|\([{CN}]+\)|\d{{1,3}}[、.．])\s*(.*)$")
PROJECT_RE = re.compile(r"^(\d{1,3}[、.．])\s*(.*绩效目标表)$")
# Word TC field: `<heading> TC <entry text> \f <table> \l <level>`; the entry may be quoted.
# LibreOffice writes it without `\f` (`TC "…" \l 2`): one of the two switches is required.
TC_RE = re.compile(r'^(?P<head>.*?)\s+TC\s+"?(?P<toc>.*?)"?'
                   r'(?:\s+\\f\s+(?P<kind>\w)(?:\s+\\l\s+\d+)?|\s+\\l\s+\d+)\s*$')
BOOKMARK_RE = re.compile(r"\[bookmark:[^\]]*\]")
TOC_HEAD_RE = re.compile(r"^目\s*录$")
# [0-9], not \d: a full-width ５ is printed text, never a page number or an amount to rewrite.
LEADER_RE = re.compile(r"^(?P<text>.*?)\s*(?:\.{2,}|…+|·{2,})\s*(?P<page>[0-9]+)$")
PAGE_NUMBER_RE = re.compile(r"^[0-9]{1,3}$")
YEAR_RE = re.compile(r"((?:19|20|21)\d\d)\s*年")
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
SECTION_MAX = 40          # a section heading is a short line …
PARAGRAPH_MIN = 60        # … and a paragraph broken by a page is a long one
# Characters that end a sentence or a quotation: a paragraph ending in one is complete.
CLOSERS = "。！？；：…”’」』）》】〕.!?;:)"
MD_SPECIAL = set("\\`*_[]<>|~&")
TITLES = {"word": "部门预算绩效文本（Word 导出文本）", "pdf": "部门预算绩效文本（PDF 提取文本）"}
# Files read by gongkai/read/ (text extracted by python-docx / pdfplumber); any other file
# is an extracted text already. The title names the original as what it is.
DOCUMENTS = {".docx": "部门预算绩效文本（Word 文件）", ".doc": "部门预算绩效文本（Word 97-2003 文件）",
             ".pdf": "部门预算绩效文本（PDF 文件）"}


class ImportFailure(Exception):
    """A fact the importer needs is missing (year, region, agency): message for the user."""


@dataclass
class Line:
    no: int          # 1-based line number in the source
    raw: str         # as in the file, without the line end
    text: str        # bookmarks removed, surrounding whitespace removed

    @property
    def blank(self) -> bool:
        return not self.text


@dataclass
class Heading:
    kind: str                       # part | section | project
    start: int                      # index of its first line
    end: int                        # index after its last line
    number: Optional[str]
    title: str
    toc: Optional[dict] = None
    full: str = ""                  # number and title as printed, for 目录 matching


@dataclass
class TocEntry:
    text: str
    page: Optional[int]
    line: int
    used: bool = False


@dataclass
class Result:
    data: dict
    family: str
    unplaced: list[tuple[int, str]] = field(default_factory=list)
    remarks: list[tuple[int, str]] = field(default_factory=list)   # text under a table, kept as its remarks


# --- command ---------------------------------------------------------------------------
#
# What an import writes is checked before it is written: the YAML goes to a temporary
# name beside its place and is read back by the validator exactly as `check` reads a file
# (size limit, then `validate.model_text`); the original is copied to a temporary name
# too; only when both are complete are they renamed into place. A failure removes the
# temporary files and any folder the import made, so nothing is ever half-written.

# A real extracted text is 10–30 KB. Four times the content file limit bounds the time and
# memory an import can take (a 39 MB text is refused after 7.6 s and 220 MB; a larger one at
# once); a text over it would have to be three quarters noise to give a YAML under the limit.
MAX_SOURCE_BYTES = 4 * load.MAX_BYTES
STDOUT_LABEL = "（标准输出）"
# Content keys whose value an option gives: a problem there is the option's.
OPTION_KEYS = {"year": "--year", "agency.region": "--region", "agency.slug": "--agency-code",
               "agency.code": "--agency-code", "agency.name": "--agency-name", "unit": "--unit"}


class Refusal(Exception):
    """The command stops; `lines` are the messages for the editor, already formatted."""

    def __init__(self, *lines: str):
        super().__init__("\n".join(lines))
        self.lines = lines


def say(where: str, severity: str, message: str, hint: str = "") -> str:
    """One message line in the form every tool of the site prints: `where: severity: text (hint: …)`."""
    return f"{where}: {severity}: {message}" + (f" (hint: {hint})" if hint else "")


def import_command(args) -> int:
    """Run `build.py import`: print or write the YAML; exit 1 on unplaced lines or errors."""
    try:
        return _import(args)
    except Refusal as exc:
        for line in exc.lines:
            print(line, file=sys.stderr)
        return 1


def _import(args) -> int:
    source = Path(args.source)
    document = source.suffix.lower() in DOCUMENTS
    text = read_document(source) if document else read_source(source)
    if getattr(args, "show_text", False):
        sys.stdout.write(text)
        return 0
    # Line numbers are those of the extracted text; for a document, --show-text prints it.
    at = (lambda no: f"{args.source}（提取文本第 {no} 行）") if document else (lambda no: f"{args.source}:{no}")
    try:
        result = import_text(text, year=args.year, agency_code=args.agency_code, region=args.region,
                             agency_name=args.agency_name, unit=args.unit, wrapped=not document)
    except ImportFailure as exc:
        raise Refusal(say(args.source, "error", str(exc))) from None
    for no, line in result.remarks:
        print(f'{at(no)}: warning: 表格下方的文字不是表格的行，已作为该表的备注（remarks）保存："{line}"',
              file=sys.stderr)
    for no, line in result.unplaced:
        severity = "warning" if args.keep_unplaced else "error"
        print(f'{at(no)}: {severity}: 无法确定此行的位置："{line}"', file=sys.stderr)
    if result.unplaced and not args.keep_unplaced:
        raise Refusal(f"{args.source}: {len(result.unplaced)} 行无法确定位置，未写入任何文件"
                      "（加 --keep-unplaced 可将它们保留在 `unplaced:` 下）")
    if result.unplaced:
        result.data["unplaced"] = [{"line": no, "text": line} for no, line in result.unplaced]
    if not args.output:
        write_stdout(yamlout.dump(result.data).encode("utf-8"), args)
        return 0
    write_output(result, source, Path(args.output), args)
    return 0


def read_document(source: Path) -> str:
    """The text of a .docx, .doc or .pdf file, in one of the two families import_text reads."""
    read_source(source, decode=False)   # the same checks: a regular file within the size limit
    from . import read   # python-docx and pdfplumber load only when a document is imported
    try:
        return read.document_text(source)
    except read.ReadFailure as exc:
        raise Refusal(say(str(source), "error", exc.message, exc.hint)) from None


def read_source(source: Path, decode: bool = True) -> str:
    """The extracted text; refused unless it is a regular file of UTF-8 text within the size limit.

    The type is checked before the file is opened, and it is opened without blocking, so a
    FIFO or a device never hangs the import; at most MAX_SOURCE_BYTES + 1 bytes are read,
    so neither does /dev/zero behind a symlink.
    """
    where = str(source)
    try:
        if not stat.S_ISREG(os.stat(source).st_mode):
            raise Refusal(say(where, "error", "不是普通文件，不能导入",
                              "给出从 Word 或 PDF 导出的文本文件（.txt）"))
        with open(os.open(source, os.O_RDONLY | os.O_NONBLOCK), "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):   # replaced since the stat
                raise Refusal(say(where, "error", "不是普通文件，不能导入"))
            data = f.read(MAX_SOURCE_BYTES + 1)
    except OSError as exc:
        raise Refusal(say(where, "error", f"无法读取：{why_not(exc)}",
                          "检查文件是否存在、是否有读取权限")) from None
    if len(data) > MAX_SOURCE_BYTES:
        raise Refusal(say(where, "error", f"文件超过 {MAX_SOURCE_BYTES} 字节，超出导入上限",
                          "一份部门预算绩效文本通常只有几十 KB；检查是否选错了文件"))
    if not decode:
        return ""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise Refusal(say(f"{where}:{line}:{column}", "error", f"不是 UTF-8 文本（字节 0x{data[exc.start]:02x}）",
                          f"先转换编码：iconv -f GB18030 -t UTF-8 {source.name} > 新文件.txt")) from None


def write_stdout(data: bytes, args) -> None:
    """Check the YAML as `check` would, then print it; nothing is printed when it fails."""
    fd, name = tempfile.mkstemp(prefix="gongkai-import-", suffix=".yaml")
    try:
        with open(fd, "wb") as f:
            f.write(data)
        checked(Path(name), STDOUT_LABEL, args)
    except OSError as exc:
        raise Refusal(say(name, "error", f"无法写入临时文件：{why_not(exc)}")) from None
    finally:
        os.unlink(name)
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    except OSError as exc:
        # Point stdout at /dev/null, so the interpreter's own flush at exit fails no more.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise Refusal(say(STDOUT_LABEL, "error", f"无法写入：{why_not(exc)}")) from None


def write_output(result: Result, source: Path, output: Path, args) -> None:
    """Write the YAML to `output` and copy the source, byte for byte, beside it: both or nothing."""
    data = with_original(result, source.name)
    ident = data["agency"].get("slug") or data["agency"]["code"]
    expected = f"{data['year']}/{ident}.yaml"
    folder = output.parent / ident
    target = folder / source.name
    why = unsafe_file_name(source.name)
    if why:
        raise Refusal(say(str(source), "error", f"文件名不能用作原件的文件名：{why}",
                          "把文件改名为不以“.”开头、不含反斜杠和控制字符的名称"))
    replace_ok(output, data["year"], ident, args.force)
    copy = not _same_file(target, source)
    if copy and os.path.lexists(target) and not target.is_file():
        raise Refusal(say(str(target), "error", "原件的位置已有同名的文件夹或特殊文件，未写入任何文件",
                          "移走它，或把导入的文本改名"))
    if copy and os.path.lexists(target) and not args.force and not _same_bytes(target, source):
        raise Refusal(say(str(target), "error", "原件已存在且内容与本次导入的文本不同，未覆盖",
                          "确认要用本次的文本替换它时加 --force"))
    if not ("/" + output.as_posix()).endswith("/" + expected):
        print(f"warning: {output}: `build.py check` 要求此文件位于 content/{expected}", file=sys.stderr)
    staged = Staged()
    try:
        staged.write(output, yamlout.dump(data).encode("utf-8"))
        checked(staged.temps[0][0], str(output), args)
        if copy:
            staged.copy(target, source)
        staged.commit()
    except OSError as exc:
        where = staged.final_of(exc.filename) or str(output)
        raise Refusal(say(where, "error", f"无法写入：{why_not(exc)}；未写入任何文件",
                          "检查路径中的文件夹是否存在、是否可写，磁盘是否已满")) from None
    finally:
        staged.discard()
    print(f"已写入 {output} 和 {target}", file=sys.stderr)


def replace_ok(output: Path, year: int, ident: str, force: bool) -> None:
    """Refuse to write over anything but a file of the same agency year, and over that
    one only with --force (an editor may have changed it since it was imported)."""
    try:
        mode = os.stat(output).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise Refusal(say(str(output), "error", f"无法访问：{why_not(exc)}；未写入任何文件")) from None
    where = str(output)
    if not stat.S_ISREG(mode):
        kind = "文件夹" if stat.S_ISDIR(mode) else "特殊文件（设备、管道等）"
        raise Refusal(say(where, "error", f"已存在，是{kind}，不能写入",
                          "-o 给出要写入的 YAML 文件的路径，例如 content/2020/287002.yaml"))
    blank, held = agency_year_of(output)
    elsewhere = output.parent.parent / str(year) if output.parent.name.isdigit() else output.parent
    if held is not None and held != (year, ident):
        raise Refusal(say(where, "error", f"文件已存在，是 {held[0]} 年 {held[1]} 的内容，而本次导入的是 "
                                         f"{year} 年 {ident}；不会覆盖另一个部门年度的文件",
                          f"改用 -o {elsewhere / (ident + '.yaml')}"))
    if held is None and not blank:
        raise Refusal(say(where, "error", "文件已存在，但没有通过校验，无法确定它属于哪个部门年度；未覆盖",
                          "先用 build.py check 检查它，确认不再需要后删除或移走，再导入"))
    if not force:
        raise Refusal(say(where, "error", "文件已存在，未覆盖",
                          "确认要用本次导入的结果替换它（包括其中手工修改的内容）时加 --force"))


def agency_year_of(path: Path) -> tuple[bool, Optional[tuple[int, str]]]:
    """Whether a content file is blank, and its (year, identifier) when it is valid."""
    text, _ = load.read_text(path, str(path))
    if text is None:
        return False, None
    model, _, _ = model_text(text, str(path))
    return not text.strip(), (model.year, model.agency.ident) if model is not None else None


def checked(path: Path, label: str, args) -> None:
    """Read the written YAML back as `check` does; refuse with the validator's problems."""
    text, problems = load.read_text(path, label)
    if text is not None:
        _, problems, _ = model_text(text, label)
    errors = [p for p in problems if p.is_error]
    for problem in problems:
        print(problem.format(), file=sys.stderr)
    if not errors:
        return
    given = {"--year": args.year, "--region": args.region, "--agency-code": args.agency_code,
             "--agency-name": args.agency_name, "--unit": args.unit}
    for problem in errors:
        option = OPTION_KEYS.get(problem.key)
        if option and given[option] is not None:
            print(say(f"{problem.file}:{problem.line}:{problem.column}", "note",
                      f"{problem.key}: 此值来自选项 {option} {given[option]!r}，请改正该选项"), file=sys.stderr)
    raise Refusal(say(args.source, "error", "导入结果没有通过校验，未写入任何文件",
                      "上面的行号是将要写入的 YAML 中的行号"))


class Staged:
    """Files written under temporary names beside their places, renamed into place together."""

    def __init__(self):
        self.temps: list[tuple[Path, Path]] = []   # (temporary, final)
        self.made: list[Path] = []                 # folders this import created

    def _open(self, final: Path):
        missing = [p for p in (final.parent, *final.parent.parents) if not p.exists()]
        for folder in reversed(missing):
            folder.mkdir()
            self.made.append(folder)
        temp = final.with_name(f".{final.name}.import-{os.getpid()}.tmp")
        f = open(temp, "xb")
        self.temps.append((temp, final))
        return f

    def write(self, final: Path, data: bytes) -> None:
        with self._open(final) as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())

    def copy(self, final: Path, source: Path) -> None:
        with self._open(final) as f, open(source, "rb") as src:
            shutil.copyfileobj(src, f)
            f.flush()
            os.fsync(f.fileno())

    def final_of(self, name) -> Optional[str]:
        """The place a path of this import stands for (its temporary name is never shown)."""
        names = {str(temp): str(final) for temp, final in self.temps}
        return names.get(str(name), str(name)) if name else None

    def commit(self) -> None:
        """Rename every file into place, the original first and the YAML naming it last; if a
        rename fails, the ones done are undone (a replaced file is kept aside until then)."""
        done: list[tuple[Path, Optional[Path]]] = []     # (final, the file it replaced, set aside)
        try:
            for temp, final in reversed(self.temps):
                aside = None
                if os.path.lexists(final):
                    aside = final.with_name(f".{final.name}.import-{os.getpid()}.old")
                    os.replace(final, aside)
                done.append((final, aside))
                os.replace(temp, final)
        except OSError:
            for final, aside in reversed(done):
                if aside is not None:
                    os.replace(aside, final)
                else:
                    final.unlink(missing_ok=True)
            raise
        for _, aside in done:
            if aside is not None:
                aside.unlink()
        self.temps = []
        self.made = []

    def discard(self) -> None:
        """Remove what is left of an import that did not complete."""
        for temp, _ in self.temps:
            temp.unlink(missing_ok=True)
        for folder in reversed(self.made):
            try:
                folder.rmdir()
            except OSError:
                pass


WHY_NOT = {errno.ENOSPC: "磁盘已满", errno.EDQUOT: "超出磁盘配额", errno.EROFS: "文件系统是只读的",
           errno.EACCES: "没有权限", errno.EPERM: "没有权限", errno.ENOENT: "文件或文件夹不存在",
           errno.ENOTDIR: "路径中有一项不是文件夹", errno.EISDIR: "是文件夹", errno.EPIPE: "管道已关闭",
           errno.ENAMETOOLONG: "文件名太长", errno.ELOOP: "符号链接太多层"}


def why_not(exc: OSError) -> str:
    """An OS error in the editor's words, with the system's own text for anything else."""
    return WHY_NOT.get(exc.errno) or exc.strerror or str(exc)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _same_bytes(a: Path, b: Path) -> bool:
    try:
        return filecmp.cmp(a, b, shallow=False)
    except OSError:
        return False


def with_original(result: Result, file_name: str) -> dict:
    """The result's data listing the source text as the original file, after `unit`."""
    title = DOCUMENTS.get(Path(file_name).suffix.lower(), TITLES[result.family])
    originals = [{"file": file_name, "title": title}]
    return _insert_after(result.data, "unit", "originals", originals)


def _insert_after(data: dict, after: str, key: str, value) -> dict:
    """A copy of `data` with `key` placed right after `after` (key order is the format's)."""
    out = {}
    for k, v in data.items():
        out[k] = v
        if k == after:
            out[key] = value
    return out


# --- the whole document -----------------------------------------------------------------

def import_text(text: str, year: Optional[int] = None, agency_code: Optional[str] = None,
                region: Optional[str] = None, agency_name: Optional[str] = None,
                unit: Optional[str] = None, wrapped: bool = True) -> Result:
    """The content data of one extracted document text, and the lines it could not place.

    The options give what the document does not print (or override what it does, with a
    warning); each fact taken from an option is listed under `given:` in the content.
    `wrapped`: whether PDF table cells carry the spaces an extraction tool puts where a cell
    wrapped (gongkai/read joins wraps itself: every space in its text was printed)."""
    text = text.removeprefix("\ufeff")
    lines = [Line(i + 1, raw.rstrip("\r"), BOOKMARK_RE.sub("", raw).strip())
             for i, raw in enumerate(text.split("\n"))]
    family = "pdf" if any("\t" in line.raw.lstrip("\t") for line in lines) else "word"
    unplaced: list[tuple[int, str]] = []
    body, document, preamble_lines, toc = front_matter(lines)
    headings = find_headings(lines, body, family, toc)
    remarks: list[tuple[int, str]] = []
    parts = build_parts(lines, headings, family, unplaced, remarks, unwrap if wrapped else _as_printed)
    unplaced += [(e.line, lines[e.line - 1].text) for e in toc if not e.used]   # page number too
    preamble = markdown(preamble_lines, family)

    given: list[str] = []
    printed = _printed_year(document)
    if year is not None and printed and year != printed:
        print(f"warning: --year {year} 与原文印出的年度 {printed} 不同；使用 {year}", file=sys.stderr)
    if year is not None and year != printed:
        given.append("year")
    year = printed if year is None else year      # --year 0 is the editor's, to be refused
    if year is None:
        raise ImportFailure("原文没有印出预算年度；请用 --year 给出")
    if not region:
        raise ImportFailure("请用 --region 给出部门所属地区（site_config.yaml 中 regions 列出的地区之一）")
    projects = [p for part in parts for p in part.get("projects", [])]
    printed_unit = next((p["unit"] for p in projects if p.get("unit")), None)
    document_unit = _given(printed_unit, unit, "unit", "--unit", "金额单位", given)
    if document_unit is None and any(p.get(k) is not None for p in projects for k in AMOUNTS):
        raise ImportFailure("原文没有印出金额单位，而表中有金额；请用 --unit 给出（如 --unit 元），"
                            "本工具不会假定单位")
    for project in projects:
        if project.get("unit") == document_unit:
            del project["unit"]  # only a unit that differs from the document's is kept
    who = agency(projects, agency_code, agency_name, region, given)
    data = {
        "year": year,
        "agency": who,
        "document": document or None,
        "unit": document_unit,
        "given": [key for key in GIVEN_ORDER if key in given] or None,
        "preamble": preamble,
        "parts": parts,
    }
    unplaced.sort()
    return Result(data, family, unplaced, remarks)


GIVEN_ORDER = ("year", "agency.name", "agency.code", "unit")


def _given(printed: Optional[str], option: Optional[str], key: str, flag: str, what: str,
           given: list[str]) -> Optional[str]:
    """A fact as printed, or as an option gives it (noted in `given`); an option that
    differs from the printed text wins, with a warning."""
    if option is None or option == printed:
        return printed
    if printed is not None:
        print(f"warning: {flag} {option} 与原文印出的{what} {printed} 不同；使用 {option}", file=sys.stderr)
    given.append(key)
    return option


def agency(projects: list[dict], agency_code: Optional[str], agency_name: Optional[str],
           region: str, given: list[str]) -> dict:
    """The agency as printed on the first table's agency line; `--agency-name` and
    `--agency-code` give what is not printed. A code that differs from the printed one
    becomes the `slug` (the printed code stays as printed)."""
    line = next((p["agency_line"] for p in projects if p.get("agency_line")), None)
    match = AGENCY_RE.match(line) if line else None
    printed_name, printed_code = (match.group(2), match.group(1)) if match else (None, None)
    name = _given(printed_name, agency_name, "agency.name", "--agency-name", "部门名称", given)
    if name is None:
        raise ImportFailure("原文没有印出部门（表格上方的单位行）；请用 --agency-name 给出部门名称，"
                            "用 --agency-code 给出部门编码或网址标识")
    out = {"name": name}
    if printed_code is not None:
        out["code"] = printed_code
        if agency_code and agency_code != printed_code:
            if not SLUG_RE.match(agency_code):
                raise ImportFailure(f"--agency-code {agency_code!r} 只能包含 a-z、0-9 和“-”")
            out["slug"] = agency_code
    elif agency_code:
        if not SLUG_RE.match(agency_code):
            raise ImportFailure(f"--agency-code {agency_code!r} 只能包含 a-z、0-9 和“-”")
        out["code"] = agency_code
        given.append("agency.code")
    else:
        raise ImportFailure("原文没有印出部门编码；请用 --agency-code 给出部门编码，"
                            "或由 a-z、0-9 和“-”组成的网址标识")
    out["region"] = region
    return out


def _printed_year(document: dict) -> Optional[int]:
    match = YEAR_RE.search(document.get("title", ""))
    return int(match.group(1)) if match else None


def cn_number(text: str) -> int:
    """一 → 1, 十二 → 12: the Chinese numerals used for part numbers."""
    digits = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0}
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (digits.get(tens, 1) if tens else 1) * 10 + (digits.get(ones, 0) if ones else 0)
    return digits.get(text, 0)


# --- title page and printed 目录 --------------------------------------------------------

def front_matter(lines: list[Line]) -> tuple[int, dict, list[Line], list[TocEntry]]:
    """Title page facts, preamble lines and 目录 entries before the first part; and where it starts."""
    toc: list[TocEntry] = []
    in_toc = False
    document: dict = {}
    title: list[str] = []
    preamble: list[Line] = []
    for i, line in enumerate(lines):
        part = PART_RE.match(line.text)
        if part and cn_number(part.group(1)) == 1:
            # Inside a printed 目录, `第一部分 …` followed by dotted-leader entries is an entry.
            following = next((n for n in lines[i + 1:] if n.text), None)
            if not (in_toc and following and LEADER_RE.match(following.text)):
                break
        if line.blank:
            if preamble and preamble[-1].text:
                preamble.append(line)
            continue
        if TOC_HEAD_RE.match(line.text):
            in_toc = True
            document["toc_printed"] = True
        elif in_toc:
            leader = LEADER_RE.match(line.raw.strip())
            if leader:
                toc.append(TocEntry(leader.group("text").strip(), int(leader.group("page")), line.no))
            else:
                toc.append(TocEntry(line.text, None, line.no))
        elif re.match(r"^[(（].*[)）]$", line.text) and "status" not in document:
            document["status"] = line.text        # a second such line is text, never overwrites
        elif line.text.endswith("编制") and "compiler" not in document:
            document["compiler"] = line.text
        elif line.text.endswith("审核") and "reviewer" not in document:
            document["reviewer"] = line.text
        elif not PART_RE.match(line.text) and len(line.text) <= SECTION_MAX and not preamble \
                and line.text[-1] not in CLOSERS:
            title.append(line.text)
        else:
            preamble.append(line)
    else:
        raise ImportFailure("找不到“第一部分”标题，无法确定正文从哪里开始")
    if title:
        document = {"title": "\n".join(title)} | document
    order = ("title", "status", "compiler", "reviewer", "published", "toc_printed")
    document = {k: document[k] for k in order if k in document}
    return i, document, preamble, toc


# --- headings ---------------------------------------------------------------------------

def find_headings(lines: list[Line], start: int, family: str, toc: list[TocEntry]) -> list[Heading]:
    """Part, section and project headings of the body, in order.

    Sections are recognised by the strongest evidence the text has: Word `TC` codes when
    there are any; else the printed 目录; else a short numbered line in the numbering style of
    the part's first such line (later lines in other styles are the sections' own lists).
    """
    has_tc = any(TC_RE.match(line.text) for line in lines)
    continuation = word_continuations(lines) if family == "word" else set()
    headings: list[Heading] = []
    next_part, style = 1, None
    i = start
    while i < len(lines):
        line = lines[i]
        heading = None
        tc = TC_RE.match(line.text)
        part = PART_RE.match(line.text)
        if line.blank or line.raw.startswith("\t") or (family == "pdf" and "\t" in line.raw):
            pass
        elif tc:
            heading = _tc_heading(tc, i)
        elif part and cn_number(part.group(1)) == next_part:
            heading = _part_heading(lines, i, part)
        elif PROJECT_RE.match(line.text):
            match = PROJECT_RE.match(line.text)
            heading = Heading("project", i, i + 1, match.group(1), match.group(2), full=line.text)
        elif i in continuation:
            pass   # e.g. "2、…" of a multi-line 绩效目标 cell, not a section
        elif not has_tc and _section_like(line.text):
            if toc:  # the next 目录 entry not yet found in the body
                pending = next((e for e in toc if not e.used), None)
                if pending and _norm(pending.text) == _norm(line.text):
                    heading = _numbered("section", line.text, i)
            else:    # the part's first numbered line sets the style of its sections
                style = style or _style(line.text)
                if _style(line.text) == style:
                    heading = _numbered("section", line.text, i)
        if heading is None:
            i += 1
            continue
        if heading.kind == "part":
            next_part += 1
            style = None
        if toc and heading.toc is None:
            heading.toc = _match_toc(toc, heading.full)
        headings.append(heading)
        i = heading.end
    return headings


def _tc_heading(tc: re.Match, i: int) -> Heading:
    """A heading marked by a Word TC field: the field's text is its 目录 entry."""
    head = tc.group("head").strip()
    kind = "project" if (tc.group("kind") or "").upper() == "C" or PROJECT_RE.match(head) else "section"
    heading = _numbered(kind, head, i)
    heading.toc = {"text": tc.group("toc").strip()}
    return heading


def _part_heading(lines: list[Line], i: int, match: re.Match) -> Heading:
    """`第一部分 标题`, or `第一部分` with the title on the next non-blank line."""
    number, title, end = f"第{match.group(1)}部分", match.group(2).strip(), i + 1
    if not title:
        j = i + 1
        while j < len(lines) and lines[j].blank:
            j += 1
        if j < len(lines) and _title_like(lines[j]):
            title, end = lines[j].text, j + 1
    return Heading("part", i, end, number, title or number, full=number + title)


def _title_like(line: Line) -> bool:
    return (not line.raw.startswith("\t") and "\t" not in line.raw and len(line.text) <= SECTION_MAX
            and not TC_RE.match(line.text) and not NUMBER_RE.match(line.text))


def _numbered(kind: str, text: str, i: int) -> Heading:
    match = NUMBER_RE.match(text)
    if match and match.group(2):
        return Heading(kind, i, i + 1, match.group(1), match.group(2).strip(), full=text)
    return Heading(kind, i, i + 1, None, text, full=text)


def _section_like(text: str) -> bool:
    match = NUMBER_RE.match(text)
    return bool(match and not match.group(1).startswith("第") and match.group(2)
                and len(text) <= SECTION_MAX and "。" not in text)


def _style(text: str) -> str:
    """The numbering style of a heading: 一、 （一） 1、 1. are different levels."""
    number = NUMBER_RE.match(text).group(1)
    return re.sub(rf"[{CN}]+", "一", re.sub(r"\d+", "1", number))


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _match_toc(toc: list[TocEntry], full: str) -> Optional[dict]:
    """The first unused 目录 entry with this heading's text (spaces ignored), marked used."""
    for entry in toc:
        if not entry.used and _norm(entry.text) == _norm(full):
            entry.used = True
            return {"text": entry.text, "page": entry.page}
    return None


def word_continuations(lines: list[Line]) -> set[int]:
    """Indexes of Word lines that continue a table cell: text right below a cell, no TAB."""
    out: set[int] = set()
    in_cell = False
    for i, line in enumerate(lines):
        if line.raw.startswith("\t"):
            in_cell = True
        elif line.blank:
            in_cell = False
        elif in_cell:
            out.add(i)
    return out


# --- parts, sections, projects ----------------------------------------------------------

def build_parts(lines: list[Line], headings: list[Heading], family: str,
                unplaced: list[tuple[int, str]], remarks: list[tuple[int, str]],
                fold: Callable[[str], str] = None) -> list[dict]:
    """Parts with their sections and projects; each heading owns the lines up to the next."""
    parts: list[dict] = []
    for n, heading in enumerate(headings):
        end = headings[n + 1].start if n + 1 < len(headings) else len(lines)
        block = lines[heading.end:end]
        item = {"number": heading.number, "title": heading.title, "toc": _toc(heading.toc)}
        if heading.kind == "part":
            item["text"] = _text(block, family, unplaced)
            parts.append(item)
            continue
        if not parts:  # cannot happen: the body starts with a part heading
            raise ImportFailure(f"第 {lines[heading.start].no} 行：标题出现在第一部分之前")
        if heading.kind == "section":
            item["text"] = _text(block, family, unplaced)
            parts[-1].setdefault("sections", []).append(item)
        else:
            rows = pdf_rows(block, unplaced, fold or unwrap) if family == "pdf" else word_rows(block, unplaced)
            item.update(parse_table(rows, family, unplaced, remarks, fold or unwrap))
            parts[-1].setdefault("projects", []).append(item)
    for part in parts:  # key order of the format: sections before projects
        if "projects" in part and "sections" in part:
            part["projects"] = part.pop("projects")
    return parts


def _toc(toc: Optional[dict]) -> Optional[dict]:
    if toc is None:
        return None
    return {k: v for k, v in toc.items() if v is not None}


def _text(block: list[Line], family: str, unplaced: list[tuple[int, str]]) -> Optional[str]:
    """Free text of a block as Markdown; table cells outside a project table cannot be placed."""
    keep = []
    for line in block:
        if line.raw.startswith("\t") or (family == "pdf" and "\t" in line.raw):
            if line.text:
                unplaced.append((line.no, line.raw.strip()))
            continue
        keep.append(line)
    return markdown(keep, family)


# --- free text as Markdown --------------------------------------------------------------

def markdown(lines: list[Line], family: str) -> Optional[str]:
    """Printed paragraphs as Markdown: blank line between paragraphs, line breaks kept."""
    paragraphs: list[list[str]] = [[]]
    texts = [line.text for line in lines]
    for n, text in enumerate(texts):
        prev_blank = n == 0 or not texts[n - 1]
        next_blank = n + 1 >= len(texts) or not texts[n + 1]
        if not text or (PAGE_NUMBER_RE.match(text) and prev_blank and next_blank):
            if paragraphs[-1]:
                paragraphs.append([])  # a lone page number is noise, like a blank line
            continue
        paragraphs[-1].append(text)
    paragraphs = [p for p in paragraphs if p]
    if family == "pdf":
        paragraphs = join_page_breaks(paragraphs)
    out = ["\n".join(md_line(line, family) for line in p) for p in paragraphs]
    return "\n\n".join(out) or None


def join_page_breaks(paragraphs: list[list[str]]) -> list[list[str]]:
    """Re-join PDF paragraphs that a page break split.

    The break shows as a blank line inside a sentence. A paragraph is taken to continue in
    the next one when it is long (≥ PARAGRAPH_MIN characters, so short labels and list
    items are never joined), does not end in sentence-final or closing punctuation
    (CLOSERS), and the next one does not start like a heading or list item. The halves are
    joined without a space: the extraction adds none at a line end in Chinese text.
    """
    out: list[list[str]] = []
    for p in paragraphs:
        if out:
            last = out[-1][-1]
            if (len(last) >= PARAGRAPH_MIN and last[-1] not in CLOSERS and not NUMBER_RE.match(p[0])
                    and not p[0].startswith("- ") and not PART_RE.match(p[0])):
                out[-1] = out[-1][:-1] + [last + p[0]] + p[1:]
                continue
        out.append(list(p))
    return out


def md_line(text: str, family: str) -> str:
    """One printed line as Markdown that renders to exactly this text.

    Inline markup characters are backslash-escaped wherever they occur (they are rare in
    these documents, and an escape always renders as the character itself). At the line
    start, what CommonMark would read as a heading, list, quote or rule is escaped too.
    Exception: PDF extraction writes a printed bullet as `- `; that stays a Markdown list.
    """
    if family == "pdf" and text.startswith("- ") and text[2:].strip():
        return "- " + md_line(text[2:].strip(), "word")
    out = "".join("\\" + c if c in MD_SPECIAL else c for c in text)
    ordered = re.match(r"^(\d{1,9})([.)])(?=\s|$)", out)
    if ordered:
        return ordered.group(1) + "\\" + out[len(ordered.group(1)):]
    if out[:1] in ("#", "-", "+", "="):
        return "\\" + out
    return out


# --- project tables ---------------------------------------------------------------------
#
# Both families are first cut into rows of cells; one parser then reads the rows by their
# printed labels. Word rows are the groups of TAB lines between blank lines; PDF rows are
# lines. Column positions of the 资金支出计划 and indicator rows come from their header
# rows, so the PDF's empty spacer columns need no special case.

AGENCY_RE = re.compile(r"^(\d{3,})\s*(\S.*)$")
UNIT_RE = re.compile(r"^单位[：:]\s*(\S.*)$")
AMOUNT_RE = re.compile(r"^-?[0-9]+(?:\.[0-9]+)?$")
# Han ideographs, CJK symbols and punctuation, fullwidth forms.
CJK = "\u2e80-\u2fdf\u3001-\u303f\u31c0-\u31ef\u3200-\u4dbf\u4e00-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"
WRAP_RE = re.compile(rf"(?<=[{CJK}])\s+(?=[{CJK}])")
FIELDS = {"项目编码": "code", "项目名称": "name", "预算数": "budget", "其中：财政资金": "fiscal",
          "其他资金": "other"}
AMOUNTS = ("budget", "fiscal", "other")
GROUP_LABEL, PLAN_LABEL, GOALS_LABEL = "预算规模及资金用途", "资金支出计划（%）", "绩效目标"
COLUMNS = {"一级指标": "level1", "二级指标": "level2", "三级指标": "level3",
           "绩效指标描述": "description", "指标值": "value", "指标值确定依据": "basis"}
PROJECT_KEYS = ("agency_line", "unit", "code", "name", "budget", "fiscal", "other", "purpose",
                "plan", "goals", "indicators", "remarks")


@dataclass
class Cell:
    text: str
    line: int
    loose: bool = False    # a line of text outside the table's rows (a note under it)


# Text printed under a table that belongs to it, never a cell: 注：…, 备注：…, 说明：….
NOTE_RE = re.compile(r"^(?:注|备注|说明)\s*[：:]")


def _as_printed(text: str) -> str:
    return text


def unwrap(text: str) -> str:
    """Remove the spaces a PDF inserts where a cell wrapped: whitespace between CJK characters."""
    return WRAP_RE.sub("", text)


def label(text: str) -> str:
    """A cell as a label key: no whitespace, ASCII colon and brackets as printed fullwidth."""
    return _norm(text).replace(":", "：").replace("(", "（").replace(")", "）")


def word_rows(block: list[Line], unplaced: list[tuple[int, str]]) -> list[list[Cell]]:
    """Word table rows: a TAB line starts a cell, a following line without TAB continues it."""
    rows: list[list[Cell]] = []
    row: list[Cell] = []
    in_cell = False
    for line in block:
        if line.raw.startswith("\t"):
            row.append(Cell(BOOKMARK_RE.sub("", line.raw[1:]).strip(), line.no))
            in_cell = True
        elif line.blank:
            if row:
                rows.append(row)
                row = []
            in_cell = False
        elif in_cell and not NOTE_RE.match(line.text):
            row[-1].text = f"{row[-1].text}\n{line.text}" if row[-1].text else line.text
        elif not PAGE_NUMBER_RE.match(line.text):  # a lone page number is noise
            if row:
                rows.append(row)
                row = []
            in_cell = False
            rows.append([Cell(line.text, line.no, loose=True)])
    if row:
        rows.append(row)
    return rows


def pdf_rows(block: list[Line], unplaced: list[tuple[int, str]],
             fold: Callable[[str], str] = None) -> list[list[Cell]]:
    """PDF table rows: one line each, cells split at TABs and unwrapped."""
    rows = []
    for line in block:
        if line.blank:
            continue
        if "\t" not in line.raw:
            if not PAGE_NUMBER_RE.match(line.text):
                rows.append([Cell(line.text, line.no, loose=True)])  # agency line, 单位, a note
            continue
        rows.append([Cell((fold or unwrap)(c.strip()), line.no) for c in line.raw.split("\t")])
    return rows


def parse_table(rows: list[list[Cell]], family: str, unplaced: list[tuple[int, str]],
                remarks: list[tuple[int, str]], fold: Callable[[str], str] = None) -> dict:
    """The fields of one 绩效目标表 (agency line to indicators), in the format's key order.
    Lines of text under the indicator rows (a note, a signature) are the table's remarks."""
    found: dict = {}
    in_group = False
    i = 0
    while i < len(rows):
        row, first = rows[i], label(rows[i][0].text)
        if first in COLUMNS:
            read = word_indicators if family == "word" else functools.partial(pdf_indicators, fold=fold or unwrap)
            table = [r for r in rows[i + 1:] if not (len(r) == 1 and r[0].loose)]
            under = [r[0] for r in rows[i + 1:] if len(r) == 1 and r[0].loose]
            found["indicators"] = read(row, table, unplaced)
            if under:
                found["remarks"] = "\n".join(c.text for c in under)
                remarks += [(c.line, c.text) for c in under]
            break
        if first in FIELDS or first == GROUP_LABEL:
            _label_values(row, found, unplaced)
            in_group = in_group or any(label(c.text) == GROUP_LABEL for c in row)
        elif first == PLAN_LABEL and "plan" not in found:   # printed twice: the second is unplaced
            values = rows[i + 1] if i + 1 < len(rows) and not rows[i + 1][0].text else []
            found["plan"] = _plan(row, values, unplaced)
            i += 1 if values else 0
        elif first == GOALS_LABEL and "goals" not in found:
            found["goals"] = _single(row[1:], unplaced)
        elif not row[0].text and in_group and "purpose" not in found:
            found["purpose"] = _single(row, unplaced)  # the unlabelled cell under 资金用途
        else:
            _loose_cells(row, found, unplaced)
        i += 1
    for key in AMOUNTS:
        if key in found and found[key] is not None:
            found[key] = _amount(found[key], unplaced)
    if found.get("code"):
        found["code"] = _norm(found["code"].text)  # a code never holds spaces; PDFs break it
    out = {}
    for key in PROJECT_KEYS:
        value = found.get(key)
        out[key] = value.text if isinstance(value, Cell) else value
    return out


def _single(cells: list[Cell], unplaced: list[tuple[int, str]]) -> Optional[str]:
    """The one non-empty cell of a value row; any further non-empty cell cannot be placed."""
    texts = [c for c in cells if c.text]
    unplaced += [(c.line, c.text) for c in texts[1:]]
    return texts[0].text if texts else None


def _label_values(row: list[Cell], found: dict, unplaced: list[tuple[int, str]]) -> None:
    """`label value label value …` rows: each label takes the first non-empty cell after it."""
    current = None
    for cell in row:
        key = label(cell.text)
        if key in FIELDS:
            current = FIELDS[key]
        elif key == GROUP_LABEL:
            current = None
        elif not cell.text:
            continue
        elif current and current not in found:
            found[current] = cell
        else:
            unplaced.append((cell.line, cell.text))


def _loose_cells(row: list[Cell], found: dict, unplaced: list[tuple[int, str]]) -> None:
    """Cells outside the labelled rows: the agency line and 单位, else unplaceable."""
    for cell in row:
        if not cell.text:
            continue
        unit = UNIT_RE.match(cell.text)
        if "agency_line" not in found and AGENCY_RE.match(cell.text):
            found["agency_line"] = cell.text
        elif "unit" not in found and unit:
            found["unit"] = unit.group(1)
        else:
            unplaced.append((cell.line, cell.text))


def _amount(cell: Cell, unplaced: list[tuple[int, str]]) -> Optional[Decimal]:
    """A printed amount as an exact decimal; a cell that is not one cannot be placed."""
    digits = re.sub(r"\s+", "", cell.text)   # a space inside an amount is where the cell wrapped
    if AMOUNT_RE.match(digits):
        return Decimal(digits)
    unplaced.append((cell.line, cell.text))
    return None


def _plan(header: list[Cell], values: list[Cell], unplaced: list[tuple[int, str]]) -> list[dict]:
    """资金支出计划 periods from the header row, each with the value in the same column."""
    periods = {j: c.text for j, c in enumerate(header) if j and c.text}
    plan = {j: {"period": text} for j, text in periods.items()}
    for j, cell in enumerate(values):
        if not cell.text:
            continue
        if j in plan and AMOUNT_RE.match(cell.text):
            plan[j]["value"] = Decimal(cell.text)
        else:
            unplaced.append((cell.line, cell.text))
    return [plan[j] for j in sorted(plan)]


def _columns(header: list[Cell], unplaced: list[tuple[int, str]]) -> list[Optional[str]]:
    """Indicator key per header column; None for spacer (empty) or unknown columns."""
    keys = []
    for cell in header:
        key = COLUMNS.get(label(cell.text))
        if key is not None and key in keys:
            key = None   # a column printed twice: its cells would overwrite the first one's
        if cell.text and key is None:
            unplaced.append((cell.line, cell.text))
        keys.append(key)
    return keys


def _indicator(cells: list[Cell], keys: list[Optional[str]], unplaced: list[tuple[int, str]]) -> dict:
    """Cells of one indicator row by column key; text in a spacer column cannot be placed."""
    row: dict = {}
    for j, cell in enumerate(cells):
        key = keys[j] if j < len(keys) else None
        if key is not None and cell.text:
            row[key] = cell.text
        elif cell.text:
            unplaced.append((cell.line, cell.text))
    return row


def _ordered(row: dict) -> dict:
    """Indicator keys in the format's order; empty (merged or blank) cells left out."""
    return {key: row[key] for key in COLUMNS.values() if row.get(key)}


def word_indicators(header: list[Cell], rows: list[list[Cell]],
                    unplaced: list[tuple[int, str]]) -> list[dict]:
    """Word indicator rows: every header-width run of cells is one row.

    Blank lines are no row boundary here: Word puts them inside rows too (after a multi-line
    cell), so the cells are counted instead.
    """
    keys = _columns(header, unplaced)
    cells = [c for row in rows for c in row]
    whole = len(cells) - len(cells) % len(keys)
    out = [_ordered(_indicator(cells[k:k + len(keys)], keys, unplaced)) for k in range(0, whole, len(keys))]
    unplaced += [(c.line, c.text) for c in cells[whole:] if c.text]
    return out


def pdf_indicators(header: list[Cell], rows: list[list[Cell]],
                   unplaced: list[tuple[int, str]], fold: Callable[[str], str] = None) -> list[dict]:
    """PDF indicator rows, one per line; a row split by a page break is joined again.

    After a page break the header row is printed again, and a row whose 一级指标 and
    指标值确定依据 cells are empty, or whose 一级/二级/三级 cells all are, holds the rest of
    the previous row's cells: each is appended to its cell without a space (the break cut
    a word, not between words).
    """
    keys = _columns(header, unplaced)
    head = [label(c.text) for c in header]
    out: list[dict] = []
    after_break = False
    for row in rows:
        if [label(c.text) for c in row] == head:
            after_break = True   # the header repeated on a new page
            continue
        cells = _indicator(row, keys, unplaced)
        # The rest of a row cut by the break: no 一级 cell, and either no 依据 (the usual cut) or
        # no 二级/三级 either (a new row always names its indicator).
        continued = not cells.get("level1") and (not cells.get("basis") or not (cells.get("level2") or cells.get("level3")))
        if after_break and out and continued:
            for key, text in cells.items():
                out[-1][key] = (fold or unwrap)(out[-1].get(key, "") + text)
        else:
            out.append(cells)
        after_break = False
    return [_ordered(row) for row in out]
