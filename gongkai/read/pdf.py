"""A .pdf as PDF-extracted family text (see gongkai/importer.py and the seed 002).

Per page, pdfplumber finds the tables from the ruling lines; the characters outside them
are grouped into lines by position. What the text then holds, page after page:

- Text outside tables in reading order (top to bottom), one printed paragraph per line and
  a blank line after it (items of a bulleted list stay together, without blank lines).
  The lines a paragraph wrapped into are joined again. A line continues on the next one
  when it is full (it ends near the right margin, or the next line's first word, or CJK
  character with the punctuation that may not start a line, would not have fitted after
  it), the next one starts where a continuation starts (the left margin under an indented
  first line, or the text after a hanging bullet or number, or where the paragraph's
  second line started), both have one font size, and it is no further below than the
  document's usual line pitch; a line ending a sentence followed by a numbered item is
  never continued. A paragraph that a page break cut is joined the same way across the
  page. A page number alone at the top or bottom of a page is left out.
- Each table row as one line of TAB-separated cells over the table's column grid: a cell
  that a merge covers, or that is blank, is an empty cell (consecutive TABs). A cell's
  lines are joined as a paragraph's are. A row whose cells are all empty is left out. A
  table that continues at the top of the next page (same width) is written on without a
  break, over one column grid, its repeated header row included: the importer drops that
  header and joins a row that the page break cut (`pdf_indicators`).

Joined lines get nothing between them where either side is a CJK character (Chinese is set
without spaces; the importer's `unwrap` would remove such a space in a cell anyway), the
first ends in a hyphen, or a number goes on (`100000.` + `00`: a narrow cell broke an
amount); one space otherwise. A PDF does not say whether a space stood where a line
wrapped: none is assumed next to CJK characters.

Spaces inside a line are where the PDF has a space character, or a gap wider than a fifth
of the font size between Latin letters and digits (PDFs made by TeX hold no spaces). Next to
a CJK character only a space character counts (in a PDF that has any): LibreOffice and Word
set CJK a little apart from Latin letters and digits, and that gap is not a space. A gap of
over four font sizes splits a text line in two (e.g. an agency line and `单位：万元` printed
side by side outside a table).

A PDF without characters on any page (a scan) or whose fonts do not map to characters, an
encrypted PDF that needs a password, and a damaged file raise ReadFailure.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from . import ReadFailure

SPACE_GAP = 0.2         # of the font size: a wider gap between Latin letters or digits is a space
WIDE_GAP = 0.6          # of the font size: … next to a CJK character, in a PDF with space characters
SPLIT_GAP = 4.0         # of the font size: a wider gap splits a text line in two
INDENT_SLACK = 0.3      # of the font size: two lines start "at the same place" within this
FULL_SLACK = 1.5        # of the font size: a line ending this close to the right margin is full
GRID_SLACK = 1.5        # points: cell edges this close are one column edge of the grid
PITCH_SLACK = 1.3       # a line further below the previous one than this × the usual pitch starts a paragraph
CJK = "\u2e80-\u2fdf\u3001-\u303f\u31c0-\u31ef\u3200-\u4dbf\u4e00-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"
CJK_RE = re.compile(f"[{CJK}]")
BULLETS = "•●◆◇■□▪▫►▶○◎★☆✓✔➢➤·-–—"
BULLET_MARKS = BULLETS.replace("-", "").replace("–", "").replace("—", "")   # not dashes: text starts so too
NUMBER_RE = re.compile(r"^(?:[0-9]{1,3}[.、．)）]|[（(][0-9一二三四五六七八九十]{1,3}[）)]|[一二三四五六七八九十]{1,3}、)$")
NO_LINE_START = "，。、；：？！”’）》」』】〕…‥·%‰,.;:!?)]}"     # kinsoku: never at a line's start
SENTENCE_END = "。！？；：!?;:"
ITEM_START_RE = re.compile(r"^(?:[0-9]{1,3}[.、．)）]|[（(][0-9一二三四五六七八九十]{1,3}[）)]|[一二三四五六七八九十]{1,3}、"
                           r"|第[一二三四五六七八九十]+[部分章节条])")
NUMBER_END_RE = re.compile(r"[0-9.]$")
NUMBER_START_RE = re.compile(r"^[0-9.%‰]")
LEADER_END_RE = re.compile(r"(?:\.{2,}|…+|·{2,})\s*[0-9]+$")
PAGE_NUMBER_RE = re.compile(r"^[-—–－\s]*(?:第\s*)?(?:[0-9]{1,4}|[ivxlcIVXLC]{1,6})(?:\s*页)?"
                            r"(?:\s*[/／]\s*[0-9]{1,4}|\s*共\s*[0-9]{1,4}\s*页)?[-—–－\s]*$")
SYMBOL = {0xF0B7: "•", 0xF0B3: "≥", 0xF0A3: "≤", 0xF0B1: "±", 0xF0B4: "×", 0xF0B8: "÷",
          0xF0B0: "°", 0xF0B9: "≠", 0xF0BB: "≈", 0xF0AE: "→", 0xF06C: "●", 0xF0A7: "▪"}
INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f\x85\u2028\u2029]")


@dataclass
class Char:
    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float


@dataclass
class Line:
    """A line of text outside tables (or one side of a line split at a wide gap)."""
    page: int
    top: float
    bottom: float
    x0: float
    x1: float
    size: float
    text: str
    hang: Optional[float] = None    # where the text after a leading bullet or number starts
    lead: float = 0.0               # width of its first word (a CJK character is a word)


@dataclass
class Table:
    """A table, or the parts of one that continues over pages: each row's cells as
    (left edge, text); the column grid is made from the left edges of all its rows."""
    page: int
    top: float
    bottom: float
    x0: float
    x1: float
    rows: list[list[tuple[float, str]]]

    def grid_rows(self) -> list[list[str]]:
        """Each row over the table's column grid: '' where a merged cell covers a column."""
        edges: list[float] = []
        for x in sorted(x for row in self.rows for x, _ in row):
            if not edges or x - edges[-1] > GRID_SLACK:
                edges.append(x)
        out = []
        for row in self.rows:
            cells = [""] * len(edges)
            for x, text in row:
                column = min(range(len(edges)), key=lambda n: abs(edges[n] - x))
                cells[column] = text
            out.append(cells)
        return out


@dataclass
class Paragraph:
    lines: list[Line] = field(default_factory=list)


def pdf_text(path: Path) -> str:
    """The PDF-family text of a PDF file; ReadFailure when it has no usable text."""
    pages = _extract(path)
    chars = [c for page_chars, _, _ in pages for c in page_chars] + \
            [c for _, tables, _ in pages for _, rows in tables for row in rows for _, cell in row for c in cell]
    visible = [c for c in chars if not c.text.isspace()]
    if not visible:
        raise ReadFailure("此 PDF 没有文字层（可能是扫描件），无法提取文字",
                          "先用 OCR 软件识别为可复制文字的 PDF，或向部门索取 Word 原文件（.docx/.doc）")
    if sum(c.text.startswith("(cid:") for c in visible) > len(visible) // 2:
        raise ReadFailure("此 PDF 的字体没有字符编码表，提取出的不是文字",
                          "向部门索取 Word 原文件（.docx/.doc），或用 OCR 软件识别后再导入")
    gap = WIDE_GAP if any(c.text.isspace() for c in chars) else SPACE_GAP
    blocks = [_page_blocks(n, page_chars, tables, gap) for n, (page_chars, tables, _) in enumerate(pages)]
    width = Counter(round(w) for _, _, w in pages).most_common(1)[0][0]
    return _render(_assemble(blocks, width))


# --- reading the file (every parser error becomes a ReadFailure) --------------------------

def _extract(path: Path) -> list[tuple[list[Char], list, float]]:
    """Per page: the characters outside tables; each table's bbox and its rows' cells as
    (left edge, characters); the page width."""
    import pdfplumber
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
    try:
        with pdfplumber.open(path) as pdf:
            return [_page(page) for page in pdf.pages]
    except ReadFailure:
        raise
    except Exception as exc:   # pdfminer raises many kinds on a damaged file
        cause = exc.args[0] if exc.args and isinstance(exc.args[0], Exception) else exc
        if isinstance(cause, (PDFPasswordIncorrect, PDFEncryptionError)):
            raise ReadFailure("此 PDF 已加密（需要密码才能打开），无法读取",
                              "向部门索取未加密的文件，或在 PDF 软件中输入密码后另存为不加密的 PDF") from None
        raise ReadFailure(f"无法读取此 PDF 文件（{type(cause).__name__}：文件已损坏或不是 PDF）",
                          "用 PDF 阅读器打开确认文件完好，或向部门索取 Word 原文件（.docx/.doc）") from None


def _page(page):
    page = page.dedupe_chars()
    chars = [Char(_char_text(c["text"]), c["x0"], c["x1"], c["top"], c["bottom"], c.get("size") or 0)
             for c in page.chars if c.get("upright", True) and c["text"]]
    tables = []
    taken: set[int] = set()
    for table in page.find_tables():
        candidates = [i for i, c in enumerate(chars) if i not in taken and _within(c, table.bbox)]
        rows = []
        for row in table.rows:
            cells = []
            for bbox in row.cells:
                if bbox is None:
                    continue     # a grid position that a merged cell covers
                inside = [i for i in candidates if i not in taken and _within(chars[i], bbox)]
                taken.update(inside)
                cells.append((bbox[0], [chars[i] for i in inside]))
            rows.append(cells)
        tables.append((table.bbox, rows))
    return [c for i, c in enumerate(chars) if i not in taken], tables, page.width


def _within(c: Char, bbox) -> bool:
    x, y = (c.x0 + c.x1) / 2, (c.top + c.bottom) / 2
    return bbox[0] <= x <= bbox[2] and bbox[1] <= y <= bbox[3]


def _char_text(text: str) -> str:
    """A character as printed: Symbol-font code points mapped, invisible controls removed."""
    if len(text) == 1 and 0xF000 <= ord(text) <= 0xF0FF:
        return SYMBOL.get(ord(text), "•")
    return INVISIBLE.sub("", text)


# --- lines ----------------------------------------------------------------------------

def _lines(chars: list[Char]) -> list[list[Char]]:
    """Characters grouped into printed lines (by vertical position), each left to right."""
    lines: list[list[Char]] = []
    for c in sorted(chars, key=lambda c: (round(c.top, 1), c.x0)):
        mid = (c.top + c.bottom) / 2
        for line in reversed(lines[-4:]):
            if line[0].top - 0.5 <= mid <= line[0].bottom + 0.5:
                line.append(c)
                break
        else:
            lines.append([c])
    for line in lines:
        line.sort(key=lambda c: c.x0)
    lines.sort(key=lambda line: line[0].top)
    return lines


def _segments(line: list[Char]) -> list[list[Char]]:
    """A line's characters, split where the gap between two is wider than SPLIT_GAP sizes."""
    segments: list[list[Char]] = [[]]
    prev = None
    for c in line:
        if c.text.isspace():
            segments[-1].append(c)
            continue
        if prev is not None and c.x0 - prev.x1 > SPLIT_GAP * max(prev.size, c.size, 1):
            segments.append([])
        segments[-1].append(c)
        prev = c
    return [s for s in segments if any(not c.text.isspace() for c in s)]


def _text(chars: list[Char], gap: float) -> str:
    """The text of characters on one line: a space where the PDF has one, or leaves a gap
    wider than SPACE_GAP font sizes, or `gap` next to a CJK character (LibreOffice and Word
    set CJK a little apart from Latin letters and digits, without a space)."""
    out: list[str] = []
    prev = None
    space = False
    for c in chars:
        if c.text.isspace():
            space = prev is not None
            continue
        if prev is not None:
            wide = gap if CJK_RE.match(prev.text) or CJK_RE.match(c.text) else SPACE_GAP
            if space or c.x0 - prev.x1 > wide * max(prev.size, c.size, 1):
                out.append(" ")
        out.append(c.text)
        prev, space = c, False
    return "".join(out)


def _hang(chars: list[Char]) -> Optional[float]:
    """Where the text starts after a leading bullet or list number followed by a gap."""
    visible = [c for c in chars if not c.text.isspace()]
    for n in range(1, min(6, len(visible))):
        head = "".join(c.text for c in visible[:n])
        gap = visible[n].x0 - visible[n - 1].x1
        if gap > 0.4 * visible[n].size and (head in BULLETS or NUMBER_RE.match(head)):
            return visible[n].x0
    return None


def _size(chars: list[Char]) -> float:
    sizes = Counter(round(c.size, 1) for c in chars if not c.text.isspace())
    return sizes.most_common(1)[0][0] if sizes else 0.0


def _lead(chars: list[Char], gap: float) -> float:
    """The width of what a line break could not have split from the line's start: a CJK
    character with the punctuation that may not start a line after it (`清”、`), or Latin
    letters and digits up to a space."""
    visible = [c for c in chars if not c.text.isspace()]
    if not visible:
        return 0.0
    end = visible[0]
    cjk = bool(CJK_RE.match(end.text))
    for prev, c in zip(visible, visible[1:]):
        apart = c.x0 - prev.x1 > gap * max(c.size, 1) or \
            any(s.text.isspace() and prev.x1 <= s.x0 < c.x0 for s in chars)
        if apart or (c.text not in NO_LINE_START if cjk else CJK_RE.match(c.text) and c.text not in NO_LINE_START):
            break
        end = c
    return end.x1 - visible[0].x0


def cell_text(chars: Optional[list[Char]], gap: float) -> str:
    """A table cell's text: its printed lines joined as a paragraph's are (see `_join`)."""
    if not chars:
        return ""
    return _join([" ".join(_text(s, gap) for s in _segments(line)) for line in _lines(chars)]).strip()


def _page_blocks(page: int, chars: list[Char], tables, gap: float) -> list:
    """The page's text lines and tables, top to bottom; page numbers at its top or bottom left out."""
    blocks: list = []
    for line in _lines(chars):
        for segment in _segments(line):
            text = _text(segment, gap).strip()
            if text:
                visible = [c for c in segment if not c.text.isspace()]
                blocks.append(Line(page, min(c.top for c in visible), max(c.bottom for c in visible),
                                   visible[0].x0, visible[-1].x1, _size(visible), text, _hang(segment),
                                   _lead(segment, gap)))
    for bbox, rows in tables:
        texts = [[(x, cell_text(cell, gap)) for x, cell in row] for row in rows]
        texts = [row for row in texts if any(text for _, text in row)]
        if texts:
            blocks.append(Table(page, bbox[1], bbox[3], bbox[0], bbox[2], texts))
    blocks.sort(key=lambda b: (round(b.top, 1), b.x0 if isinstance(b, Line) else 0))
    while blocks and isinstance(blocks[-1], Line) and PAGE_NUMBER_RE.match(blocks[-1].text):
        blocks.pop()
    while blocks and isinstance(blocks[0], Line) and PAGE_NUMBER_RE.match(blocks[0].text) and len(blocks) > 1 \
            and blocks[1].top - blocks[0].bottom > blocks[0].size:
        blocks.pop(0)
    return blocks


# --- paragraphs and tables across pages ---------------------------------------------------

@dataclass
class Layout:
    left: float      # the left margin
    body: float      # where most lines start: a line starting further right is indented
    right: float     # the right margin
    pitch: dict[float, float]   # font size -> usual distance from one line's top to the next's


def _layout(pages: list[list], width: float) -> Layout:
    """Margins and line pitch of the document's text. The left margin is where the leftmost
    lines start; the right margin is as far from the page's right edge (documents set both
    alike, or the right one narrower: GB/T 9704 has 28 and 26 mm). The longest lines do not
    tell it: a 目录 page number may stand beyond it, and a short document has no full line."""
    lines = [b for blocks in pages for b in blocks if isinstance(b, Line)]
    left = min((line.x0 for line in lines), default=0.0)
    body = Counter(round(line.x0) for line in lines).most_common(1)[0][0] if lines else 0.0
    right = width - left
    pitches: dict[float, Counter] = {}
    for blocks in pages:
        for a, b in zip(blocks, blocks[1:]):
            if isinstance(a, Line) and isinstance(b, Line) and a.size == b.size and b.top > a.top \
                    and a.x1 >= right - FULL_SLACK * a.size:
                pitches.setdefault(a.size, Counter())[round(b.top - a.top, 1)] += 1
    return Layout(left, body, right, {size: c.most_common(1)[0][0] for size, c in pitches.items()})


def _assemble(pages: list[list], width: float) -> list:
    """Paragraphs and tables in reading order, each joined across lines and pages."""
    layout = _layout(pages, width)
    out: list = []
    for blocks in pages:
        for n, block in enumerate(blocks):
            last = out[-1] if out else None
            first_on_page = n == 0
            if isinstance(block, Table):
                if isinstance(last, Table) and first_on_page and last.page == block.page - 1 \
                        and abs(last.x0 - block.x0) <= GRID_SLACK and abs(last.x1 - block.x1) <= GRID_SLACK:
                    last.rows += block.rows       # the table goes on from the previous page
                    last.page = block.page
                else:
                    out.append(Table(block.page, block.top, block.bottom, block.x0, block.x1, list(block.rows)))
                continue
            if isinstance(last, Paragraph) and _continues(last, block, layout, first_on_page):
                last.lines.append(block)
            else:
                out.append(Paragraph([block]))
    return out


def _continues(paragraph: Paragraph, b: Line, layout: Layout, first_on_page: bool) -> bool:
    """Whether line `b` continues the paragraph (see the module docstring)."""
    a = paragraph.lines[-1]
    size = max(a.size, 1.0)
    full = a.x1 >= layout.right - FULL_SLACK * size or a.x1 + b.lead > layout.right   # b's first word did not fit
    if abs(a.size - b.size) > 0.5 or not full or LEADER_END_RE.search(a.text):
        return False
    if a.text[-1:] in SENTENCE_END and ITEM_START_RE.match(b.text):
        return False        # a sentence ends, a numbered item starts: a line of its own
    if b.page == a.page:
        pitch = layout.pitch.get(a.size, 1.5 * size)
        if not 0 < b.top - a.top <= PITCH_SLACK * pitch:
            return False
    elif not (first_on_page and b.page == a.page + 1):
        return False
    slack = INDENT_SLACK * size
    if len(paragraph.lines) >= 2:
        return abs(b.x0 - paragraph.lines[1].x0) <= slack
    if a.hang is not None and abs(b.x0 - a.hang) <= slack:
        return True
    indented = a.x0 > layout.body + slack
    if indented and abs(b.x0 - a.x0) <= slack:
        return False        # two first lines of paragraphs indented alike
    return b.x0 <= a.x0 + slack


def _join(lines: list[str]) -> str:
    """Printed lines of one paragraph or cell as one: nothing between them where either side
    is a CJK character (Chinese is set without spaces), the first ends in a hyphen, or a
    number goes on (`100000.` + `00`: a narrow cell broke an amount); else one space."""
    text = lines[0] if lines else ""
    for line in lines[1:]:
        tight = (CJK_RE.match(text[-1:]) or CJK_RE.match(line[:1]) or text.endswith("-")
                 or (NUMBER_END_RE.search(text) and NUMBER_START_RE.match(line)))
        text += ("" if tight or not text else " ") + line
    return text


def _bulleted(text: str) -> bool:
    return bool(text) and text[0] in BULLET_MARKS


def _render(blocks: list) -> str:
    """Paragraphs and tables, a blank line after each; items of a bulleted list stay together."""
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Paragraph):
            text = _join([line.text for line in block.lines])
            if _bulleted(text) and len(out) >= 2 and _bulleted(out[-2]):
                out.pop()      # the blank line after the previous item
            out.append(text)
        else:
            out += ["\t".join(cell.replace("\t", " ") for cell in row) for row in block.grid_rows()]
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"
