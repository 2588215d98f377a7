"""Read a published document (.docx, .pdf, .doc) as the text `build.py import` imports.

`document_text(path)` gives text in one of the two families that `gongkai.importer` reads
(see its docstring and shared/docs/document-format.md):

- a .docx (and a .doc, converted to .docx by LibreOffice) gives the Word-exported family:
  paragraphs as lines, a heading's Word `TC` field as ` TC <entry> \\f <kind> \\l <level>`
  after its text, each table row as one line per cell starting with a TAB (a cell's
  further lines without it) and a blank line after the row (`docx.py`);
- a .pdf gives the PDF-extracted family: paragraphs as lines, each table row as one line
  of TAB-separated cells, the rows of a table that a page break split kept together
  (`pdf.py`).

Any other suffix is not read here: the importer reads such a file as text. A file that
cannot be read raises `ReadFailure`, whose message and hint are for the editor (Chinese);
nothing here lets a parser's traceback through.

python-docx and pdfplumber are imported only when such a file is read.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

SUFFIXES = (".docx", ".pdf", ".doc")
SOFFICE_TIMEOUT = 180          # seconds for converting one .doc; a normal one takes 2–5 s
SOFFICE_PACKAGE = "libreoffice-writer-nogui"
# What a file saved as .doc starts with: Word 97–2003 (OLE), .docx, RTF, HTML or XML (Word
# opens all of them as .doc). LibreOffice reads anything else as plain text, garbage too.
DOC_MAGIC = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"PK\x03\x04", b"{\\rtf", b"<", b"\xef\xbb\xbf<")


class ReadFailure(Exception):
    """A document that cannot be read: `message` and `hint` are for the editor (zh-CN)."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.message = message
        self.hint = hint


def readable(path: Path) -> bool:
    """Whether `document_text` reads this file (by its suffix, in any letter case)."""
    return Path(path).suffix.lower() in SUFFIXES


def document_text(path: Path) -> str:
    """The text of a .docx, .pdf or .doc file, in the family the importer reads."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"not a document this module reads: {path}")
    _check_file(path)
    if suffix == ".pdf":
        from .pdf import pdf_text
        return pdf_text(path)
    from .docx import docx_text
    if suffix == ".docx":
        return docx_text(path)
    with tempfile.TemporaryDirectory(prefix="gongkai-doc-") as folder:
        return docx_text(convert_doc(path, Path(folder)))


def _check_file(path: Path) -> None:
    """A regular, readable file; else the editor is told what is wrong with the path."""
    try:
        if not path.is_file():
            raise ReadFailure("文件不存在或不是普通文件，无法读取", "检查文件路径是否正确")
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise ReadFailure(f"无法读取：{exc.strerror or exc}", "检查文件是否存在、是否有读取权限") from None


def soffice() -> str:
    """The LibreOffice program on PATH; ReadFailure naming the package when there is none."""
    program = shutil.which("soffice") or shutil.which("libreoffice")
    if program is None:
        raise ReadFailure(
            "读取 .doc 文件需要 LibreOffice，但本机没有安装（找不到 soffice 命令）",
            f"在 Debian/Ubuntu 上安装：sudo apt-get install {SOFFICE_PACKAGE}；"
            "也可以在 Word 或 WPS 中打开此文件，另存为 .docx 后再导入")
    return program


def convert_doc(path: Path, folder: Path) -> Path:
    """Convert a .doc to .docx in `folder` with LibreOffice; the path of the .docx.

    LibreOffice runs headless with its own user profile inside `folder`, so parallel
    imports (and an editor's open LibreOffice) never share a profile; it is given
    SOFFICE_TIMEOUT seconds, then its whole process group is killed.
    """
    with open(path, "rb") as f:
        head = f.read(8)
    if not head.lstrip(b" \t\r\n").startswith(DOC_MAGIC):
        raise ReadFailure("不是 Word 文档（.doc）：文件已损坏，或实际是其他格式",
                          "在 Word 或 WPS 中打开此文件，另存为 .docx 后再导入")
    program = soffice()
    source = folder / ("source" + path.suffix.lower())   # a plain name: no option-like or odd file names
    shutil.copyfile(path, source)
    profile = (folder / "profile").resolve().as_uri()
    command = [program, f"-env:UserInstallation={profile}", "--headless", "--norestore",
               "--convert-to", "docx", "--outdir", str(folder), str(source)]
    try:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
    except OSError as exc:
        raise ReadFailure(f"无法启动 LibreOffice（{program}）：{exc.strerror or exc}",
                          f"检查 LibreOffice 是否完整安装（{SOFFICE_PACKAGE}）；也可以在 Word 或 WPS 中另存为 .docx") from None
    try:
        output, _ = proc.communicate(timeout=SOFFICE_TIMEOUT)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise ReadFailure(f"LibreOffice 转换 .doc 超过 {SOFFICE_TIMEOUT} 秒仍未完成，已停止",
                          "在 Word 或 WPS 中打开此文件，另存为 .docx 后再导入") from None
    result = folder / "source.docx"
    if proc.returncode != 0 or not result.is_file() or result.stat().st_size == 0:
        detail = output.decode("utf-8", "replace").strip().splitlines()[-1:] if output else []
        raise ReadFailure("LibreOffice 无法转换此 .doc 文件（文件可能已损坏、已加密，或不是 Word 文档）"
                          + (f"：{detail[0]}" if detail else ""),
                          "在 Word 或 WPS 中打开此文件，另存为 .docx 后再导入")
    return result


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill the process group that `proc` leads (started with start_new_session), while
    `proc` still runs (so the group id is still its own)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
