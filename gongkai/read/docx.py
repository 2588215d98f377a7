"""A .docx as Word-exported family text (see gongkai/importer.py and the seeds 000, 001, 003).

The body is walked in document order, paragraphs and tables interleaved (content controls
and text boxes opened on the way; headers, footers, footnotes and comments are not body
text). What each gives:

- A paragraph: its printed text on one line, then a blank line (consecutive list items
  stay together, as the lines of one paragraph). A line break inside it starts a new line.
  Automatic list numbers are printed as Word shows them (`一、`, `（二）`, `3.`); a bullet
  as `•`. A TAB inside a line becomes a space, or the leader of its tab stop (`……` in a
  目录 entry); no line starts with a TAB, which marks a table cell in this family.
- A heading holding a Word TC field (`w:instrText` ` TC "entry" \\f A \\l 1 `): its text,
  then ` TC entry \\f A \\l 1`, as the Word export prints it (the importer reads the 目录
  entry from it); the `\\f` and `\\l` switches as the field has them. Other field codes are
  not text; field results are (a 目录 entry's page number, a PAGEREF).
- A table row: each cell on a line starting with a TAB, the cell's further lines without
  it, a blank line after the row. A cell merged across columns (gridSpan, hMerge) appears
  once; a cell continuing a vertical merge (vMerge) appears as an empty cell, as the seeds
  show merged 一级指标 cells. Empty paragraphs in a cell are left out (a blank line ends a
  row); a table nested in a cell gives its cells' lines as further lines of that cell.

Bookmarks are left out: the importer removes the `[bookmark: …]` markers the seeds hold.
Deleted revisions, hidden text and ruby annotations are not printed, so not read.
"""
from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Iterator, Optional

from . import ReadFailure

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"   # a .doc, or an encrypted .docx
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
# Run children that print something, by qualified name.
TAGS = {W + name: name for name in ("fldChar", "instrText", "t", "tab", "ptab", "br", "cr",
                                    "noBreakHyphen", "sym")}
# Private-use code points of the Symbol font (w:sym, bullets) that documents use.
SYMBOL = {0xF0B7: "•", 0xF0B3: "≥", 0xF0A3: "≤", 0xF0B1: "±", 0xF0B4: "×", 0xF0B8: "÷",
          0xF0B0: "°", 0xF0B9: "≠", 0xF0BB: "≈", 0xF0AE: "→", 0xF06C: "●", 0xF0A7: "▪"}
LEADERS = {"dot": "……", "heavy": "……", "middleDot": "······", "hyphen": "------",
           "underscore": "______"}
TC_RE = re.compile(r'^\s*TC\s+(?:"(?P<quoted>[^"]*)"|(?P<word>\S+))(?P<switches>.*)$', re.S)
INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f]")
LINE_ENDS = re.compile("[\r\x0b\x0c\x85\u2028\u2029]")
CJK_END = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]$")
# Counting styles of Word's numFmt, for list numbers printed as Word prints them.
CN_DIGITS = "〇一二三四五六七八九"
CN_LEGAL = "零壹贰叁肆伍陆柒捌玖"
TIANGAN = "甲乙丙丁戊己庚辛壬癸"
DIZHI = "子丑寅卯辰巳午未申酉戌亥"


def _qn(tag: str) -> str:
    """`w:p` → `{…wordprocessingml…}p` (only the w: prefix is used here)."""
    prefix, _, name = tag.partition(":")
    assert prefix == "w"
    return W + name


def docx_text(path: Path) -> str:
    """The Word-family text of a .docx file; ReadFailure when it is not one."""
    document = _open(path)
    reader = _Reader(document)
    reader.blocks(document.element.body)
    return reader.result()


def _open(path: Path):
    with open(path, "rb") as f:
        head = f.read(8)
    if head == OLE_MAGIC:
        raise ReadFailure("此文件不是 .docx 格式：它是旧版 Word（.doc）文档，或是设了打开密码的加密文档",
                          "若是 .doc 文档，把文件扩展名改为 .doc 再导入；若已加密，在 Word 或 WPS 中去除密码后另存为 .docx")
    if not zipfile.is_zipfile(path):
        raise ReadFailure("不是有效的 .docx 文件（文件已损坏，或实际是其他格式）",
                          "在 Word 或 WPS 中打开此文件，另存为 .docx 后再导入")
    import docx
    try:
        return docx.Document(str(path))
    except Exception as exc:   # python-docx, zipfile and lxml raise many kinds on a broken package
        raise ReadFailure(f"无法读取此 .docx 文件（{type(exc).__name__}：文件已损坏或不是 Word 文档）",
                          "在 Word 或 WPS 中打开此文件，另存为 .docx 后再导入") from None


class _Reader:
    """The body's lines, collected in document order."""

    P, TBL, TR, TC = W + "p", W + "tbl", W + "tr", W + "tc"
    SDT, SDTCONTENT, CUSTOMXML = W + "sdt", W + "sdtContent", W + "customXml"

    def __init__(self, document):
        self.document = document
        self.lines: list[str] = []
        self.numbering = _Numbering(document)
        self.last_was_list = False

    # --- output -------------------------------------------------------------------------

    def blank(self) -> None:
        if self.lines and self.lines[-1] != "":
            self.lines.append("")

    def result(self) -> str:
        while self.lines and self.lines[-1] == "":
            self.lines.pop()
        return "\n".join(self.lines) + "\n"

    # --- body ---------------------------------------------------------------------------

    def _children(self, parent) -> Iterator:
        """Block-level children in order, content controls and custom XML opened."""
        for child in parent.iterchildren():
            if child.tag in (self.SDT, self.CUSTOMXML):
                content = child.find(self.SDTCONTENT) if child.tag == self.SDT else child
                if content is not None:
                    yield from self._children(content)
            else:
                yield child

    def blocks(self, parent) -> None:
        for child in self._children(parent):
            if child.tag == self.P:
                self.paragraph(child)
            elif child.tag == self.TBL:
                self.blank()
                self.table(child)
                self.last_was_list = False

    def paragraph(self, p) -> None:
        text, is_list = self.paragraph_text(p)
        lines = [_clean_line(s) for s in text.split("\n")]
        while lines and not lines[-1]:
            lines.pop()
        while lines and not lines[0]:
            lines.pop(0)
        if lines:
            if not (is_list and self.last_was_list):
                self.blank()
            self.lines += lines
            self.last_was_list = is_list
        for box in self.text_boxes(p):   # text boxes anchored in this paragraph, after it
            self.blocks(box)

    def text_boxes(self, p) -> list:
        out = []
        for box in p.iter(_qn("w:txbxContent")):
            if _owner(box, self.P) is p and not _inside(box, p, {MC_FALLBACK}):
                out.append(box)
        return out

    # --- tables -------------------------------------------------------------------------

    def table(self, tbl) -> None:
        """Each row: one line per cell, starting with a TAB; a blank line after it."""
        for tr in self._own(tbl, self.TR):
            for tc in self._own(tr, self.TC):
                merge = _merge(tc)
                if merge == "hcontinue":
                    continue
                lines = [] if merge == "vcontinue" else self.cell_lines(tc)
                self.lines.append("\t" + (lines[0] if lines else ""))
                self.lines += lines[1:]
            self.lines.append("")

    def _own(self, parent, tag) -> list:
        """Rows of a table or cells of a row, also inside content controls; not nested ones."""
        return [child for child in self._children(parent) if child.tag == tag]

    def cell_lines(self, tc) -> list[str]:
        """A cell's non-empty lines: its paragraphs', and the cells' of tables nested in it."""
        lines: list[str] = []
        for child in self._children(tc):
            if child.tag == self.P:
                text, _ = self.paragraph_text(child)
                lines += [line for line in (_clean_line(s) for s in text.split("\n")) if line]
                for box in self.text_boxes(child):
                    lines += self.cell_lines(box)
            elif child.tag == self.TBL:
                for tr in self._own(child, self.TR):
                    for cell in self._own(tr, self.TC):
                        if _merge(cell) is None or _merge(cell) == "restart":
                            lines += self.cell_lines(cell)
        return lines

    # --- paragraph text -----------------------------------------------------------------

    def paragraph_text(self, p) -> tuple[str, bool]:
        """The printed text of a paragraph (list number first, TC field last), and whether
        it is a list item."""
        from docx.text.paragraph import Paragraph
        paragraph = Paragraph(p, self.document._body)
        number = self.numbering.label(paragraph)
        parts: list[str] = []
        fields: list[list[str]] = []     # instruction texts of the open complex fields
        tc: Optional[str] = None
        for run in _runs(p):
            if _hidden(run):
                continue
            for child in run.iterchildren():
                tag = TAGS.get(child.tag)
                if tag == "fldChar":
                    kind = child.get(_qn("w:fldCharType"))
                    if kind == "begin":
                        fields.append([])
                    elif kind == "end" and fields:
                        tc = tc or _tc("".join(fields.pop()))
                elif tag == "instrText" and fields:
                    fields[-1].append(child.text or "")
                elif tag == "t":
                    parts.append(child.text or "")
                elif tag in ("tab", "ptab"):
                    parts.append("\t")
                elif tag in ("br", "cr"):
                    parts.append("\n")
                elif tag == "noBreakHyphen":
                    parts.append("-")
                elif tag == "sym":
                    parts.append(_symbol(child.get(_qn("w:char")) or ""))
        for simple in p.iter(_qn("w:fldSimple")):
            if _owner(simple, self.P) is p:
                tc = tc or _tc(simple.get(_qn("w:instr")) or "")
        text = LINE_ENDS.sub("\n", "".join(parts))
        if "\t" in text:
            text = _tabs(text, _leader(paragraph))
        if number:
            text = number + text
        if tc:
            text = text.rstrip() + " " + tc
        return text, bool(number)


def _runs(p) -> Iterator:
    """The paragraph's own runs in order: inside hyperlinks, insertions, content controls,
    smart tags and simple fields too; not deleted or moved-away text, not ruby annotations,
    not the paragraphs of text boxes, not the fallback copy of alternate content."""
    skip = {_qn("w:del"), _qn("w:moveFrom"), _qn("w:rt"), _qn("w:txbxContent"), MC_FALLBACK}
    for run in p.iter(_qn("w:r")):
        if not _inside(run, p, skip):
            yield run


def _inside(element, stop, tags: set) -> bool:
    """Whether an ancestor of `element` below `stop` has one of `tags`."""
    parent = element.getparent()
    while parent is not None and parent is not stop:
        if parent.tag in tags:
            return True
        parent = parent.getparent()
    return False


def _owner(element, tag):
    """The nearest ancestor of `element` with this tag."""
    parent = element.getparent()
    while parent is not None and parent.tag != tag:
        parent = parent.getparent()
    return parent


def _hidden(run) -> bool:
    rpr = run.rPr
    vanish = rpr.find(_qn("w:vanish")) if rpr is not None else None
    return vanish is not None and vanish.get(_qn("w:val")) not in ("0", "false", "off")


def _merge(tc) -> Optional[str]:
    """'vcontinue', 'hcontinue' (a cell continuing a merge), 'restart', or None."""
    v = tc.vMerge
    if v is not None:
        return "restart" if v == "restart" else "vcontinue"
    tcpr = tc.tcPr
    h = tcpr.find(_qn("w:hMerge")) if tcpr is not None else None
    if h is not None and h.get(_qn("w:val")) != "restart":
        return "hcontinue"
    return None


def _tc(instruction: str) -> Optional[str]:
    """A TC field instruction as the Word export prints it: `TC entry \\f A \\l 1`."""
    match = TC_RE.match(instruction)
    if not match:
        return None
    entry = match.group("quoted") if match.group("quoted") is not None else match.group("word")
    out = f"TC {entry.strip()}"
    kind = re.search(r'\\f\s+"?(\w)', match.group("switches"))
    level = re.search(r'\\l\s+"?(\d+)', match.group("switches"))
    if kind:
        out += f" \\f {kind.group(1)}"
    if level:
        out += f" \\l {level.group(1)}"
    return out


def _symbol(code: str) -> str:
    try:
        value = int(code, 16)
    except ValueError:
        return ""
    if value in SYMBOL:
        return SYMBOL[value]
    return chr(value) if 0xF000 > value or value > 0xF0FF else ""


def _leader(paragraph) -> Optional[str]:
    """The leader of the paragraph's tab stops (its own, then its styles'), if any."""
    stops = list(paragraph.paragraph_format.tab_stops)
    style = paragraph.style
    while style is not None:
        stops += list(style.paragraph_format.tab_stops)
        style = style.base_style
    for stop in stops:
        leader = stop._tab.get(_qn("w:leader"))
        if leader in LEADERS:
            return LEADERS[leader]
    return None


def _tabs(text: str, leader: Optional[str]) -> str:
    """Tabs inside a paragraph: the last one before a page number printed as the tab stop's
    leader (a 目录 entry), every other one as a space."""
    if leader:
        text = re.sub(r"\t+(?=\s*[0-9]+\s*$)", leader, text)
    return re.sub(r"[ \t]*\t[ \t]*", " ", text)


def _clean_line(text: str) -> str:
    """One output line: control characters out, no surrounding whitespace (so no leading TAB)."""
    return INVISIBLE.sub("", text.replace("\t", " ")).strip()


# --- list numbering ---------------------------------------------------------------------

class _Numbering:
    """Word's automatic list numbers (numbering.xml), counted in document order."""

    def __init__(self, document):
        try:
            self.root = document.part.numbering_part.element
        except (KeyError, NotImplementedError, AttributeError):
            self.root = None
        self.counters: dict[str, list[Optional[int]]] = {}   # abstractNumId -> counter per level
        self.started: set[tuple[str, int]] = set()  # (numId, level) whose override was applied

    def label(self, paragraph) -> str:
        """The number (with its suffix) Word prints before this paragraph, or ''."""
        if self.root is None:
            return ""
        num_id, level = _num_pr(paragraph)
        if not num_id or num_id == "0":
            return ""
        num = _first(_xpath(self.root, f'w:num[@w:numId="{num_id}"]'))
        if num is None:
            return ""
        abstract_id = _first(_xpath(num, "w:abstractNumId/@w:val"))
        abstract = _first(_xpath(self.root, f'w:abstractNum[@w:abstractNumId="{abstract_id}"]'))
        if abstract is None:
            return ""
        levels = {int(lvl.get(_qn("w:ilvl"), "0")): lvl for lvl in _xpath(abstract, "w:lvl")}
        lvl = levels.get(level)
        if lvl is None:
            return ""
        counters = self.counters.setdefault(abstract_id, [None] * 10)
        if (num_id, level) not in self.started:   # a list instance that restarts its numbering
            self.started.add((num_id, level))
            if _xpath(num, f'w:lvlOverride[@w:ilvl="{level}"]/w:startOverride'):
                counters[level] = None
        current = counters[level]
        counters[level] = current + 1 if current is not None else _start(lvl, num, level)
        for deeper in range(level + 1, 10):
            counters[deeper] = None
        fmt = _val(lvl, "w:numFmt") or "decimal"
        text = _val(lvl, "w:lvlText")
        if text is None:
            return ""
        if fmt == "bullet":
            label = "".join(SYMBOL.get(ord(c), "•" if 0xF000 <= ord(c) <= 0xF0FF else c) for c in text)
        else:
            def level_text(match):
                n = int(match.group(1)) - 1
                other = levels.get(n)
                value = counters[n] if counters[n] is not None else (_start(other, num, n) if other is not None else 1)
                legal = lvl.find(_qn("w:isLgl")) is not None
                return _format(value, "decimal" if legal else (_val(other, "w:numFmt") if other is not None else "decimal"))
            label = re.sub(r"%([1-9])", level_text, text)
        if not label:
            return ""
        suffix = _val(lvl, "w:suff") or "tab"
        if suffix == "nothing" or CJK_END.search(label):
            return label
        return label + " "


def _num_pr(paragraph) -> tuple[Optional[str], int]:
    """(numId, level) of a paragraph: its own numPr, else its style's (through basedOn)."""
    ppr = paragraph._p.pPr
    num_pr = ppr.numPr if ppr is not None else None
    num_id = level = None
    if num_pr is not None:
        num_id = num_pr.numId.val if num_pr.numId is not None else None
        level = num_pr.ilvl.val if num_pr.ilvl is not None else None
    style = paragraph.style
    while num_id is None and style is not None:
        sppr = style.element.pPr
        snum = sppr.numPr if sppr is not None else None
        if snum is not None and snum.numId is not None:
            num_id = snum.numId.val
            if level is None and snum.ilvl is not None:
                level = snum.ilvl.val
        style = style.base_style
    return (str(num_id) if num_id is not None else None), int(level or 0)


def _xpath(element, expression: str) -> list:
    """XPath with the w: prefix on any element (python-docx's own classes and plain lxml)."""
    from lxml import etree
    return etree._Element.xpath(element, expression, namespaces={"w": W[1:-1]})


def _first(items):
    return items[0] if items else None


def _val(element, tag: str) -> Optional[str]:
    child = element.find(_qn(tag))
    return child.get(_qn("w:val")) if child is not None else None


def _start(lvl, num, level: int) -> int:
    override = _first(_xpath(num, f'w:lvlOverride[@w:ilvl="{level}"]/w:startOverride/@w:val'))
    value = override if override is not None else _val(lvl, "w:start")
    try:
        return int(value) if value is not None else 1
    except ValueError:
        return 1


def _format(n: int, fmt: Optional[str]) -> str:
    """A list counter in a Word number format (the common ones; others as decimal)."""
    if fmt in ("chineseCounting", "chineseCountingThousand", "japaneseCounting", "taiwaneseCounting"):
        return _chinese(n, CN_DIGITS)
    if fmt == "chineseLegalSimplified":
        return _chinese(n, CN_LEGAL, ten="拾")
    if fmt == "ideographTraditional":
        return TIANGAN[(n - 1) % 10]
    if fmt == "ideographZodiac":
        return DIZHI[(n - 1) % 12]
    if fmt == "ideographDigital":
        return "".join(CN_DIGITS[int(d)] for d in str(n))
    if fmt in ("decimalEnclosedCircle", "decimalEnclosedCircleChinese") and 1 <= n <= 20:
        return chr(0x2460 + n - 1)
    if fmt == "decimalFullWidth":
        return "".join(chr(0xFF10 + int(d)) for d in str(n))
    if fmt == "decimalZero":
        return f"{n:02d}"
    if fmt in ("upperLetter", "lowerLetter"):
        letter = chr(ord("A") + (n - 1) % 26) * ((n - 1) // 26 + 1)
        return letter if fmt == "upperLetter" else letter.lower()
    if fmt in ("upperRoman", "lowerRoman"):
        roman = _roman(n)
        return roman if fmt == "upperRoman" else roman.lower()
    if fmt == "none":
        return ""
    return str(n)


def _chinese(n: int, digits: str, ten: str = "十") -> str:
    """1 → 一, 10 → 十, 11 → 十一, 20 → 二十, 105 → 一百零五 (counting style)."""
    if n <= 0:
        return digits[0]
    if n < 10:
        return digits[n]
    if n < 20:
        return ten + (digits[n - 10] if n > 10 else "")
    if n < 100:
        return digits[n // 10] + ten + (digits[n % 10] if n % 10 else "")
    hundred = "佰" if ten == "拾" else "百"
    rest = n % 100
    tail = "" if not rest else (digits[0] + _chinese(rest, digits, ten) if rest < 10
                               else (digits[1] + _chinese(rest, digits, ten) if rest < 20 else _chinese(rest, digits, ten)))
    return _chinese(n // 100, digits, ten) + hundred + tail


def _roman(n: int) -> str:
    out = ""
    for value, letters in ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
                           (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while n >= value:
            out += letters
            n -= value
    return out
