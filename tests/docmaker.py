"""Write a .docx from a content YAML file, the way agencies make their documents.

The layout copies what the Word-exported seed texts (shared/seeds 000, 001, 003) show of
their originals: title page lines, `第一部分 …` headings, section headings carrying a Word
`TC` field (their 目录 entry) where the content file records one, free text paragraphs,
then per project a numbered title paragraph (with a `TC` field and a `_Toc` bookmark), the
project table and the indicator table. A document that printed its own 目录 (`toc_printed`)
gets one: each entry with a dotted-leader tab and its page number, as Word's TOC prints it.

The project table, as the Word export prints it (one cell per line):

    agency line             | 单位：元
    项目编码 | code          | 项目名称 | name
    预算规模及资金用途 | 预算数 | budget | 其中：财政资金 | fiscal | 其他资金 | other
    (merged with the above) | purpose
    资金支出计划（%） | 3月底 | 6月底 | …
    (merged with the above) | value | value | …
    绩效目标 | goals

The indicator table has the six columns; its header row repeats on every page (as in the
PDF seed 002), and an 一级指标/二级指标 cell that the content file leaves out is merged with
the cell above it (a real vertical merge). A cell's lines are separate paragraphs.

Each project starts on a new page and no table row breaks across a page (Word's 允许跨页断行
off), so the PDF of a document has the same tables whatever the fonts; a long indicator table
still goes on over the next page, between rows. `rows_split=True` lets indicator rows break.
"""
from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import yaml
from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_TAB_ALIGNMENT, WD_TAB_LEADER
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt

PLAN_LABEL = "资金支出计划（%）"
COLUMNS = ("level1", "level2", "level3", "description", "value", "basis")
HEADER = ("一级指标", "二级指标", "三级指标", "绩效指标描述", "指标值", "指标值确定依据")
GRID = 7   # columns of the project table: the widest row is the 预算规模 row


class DecimalLoader(yaml.SafeLoader):
    """The safe loader, but amounts stay as printed: `4000.00` is Decimal('4000.00')."""


DecimalLoader.add_constructor(
    "tag:yaml.org,2002:float", lambda loader, node: Decimal(loader.construct_scalar(node)))


def load_content(path: Path) -> dict:
    """A committed content file, amounts as exact decimals (a float would print 4000.0)."""
    return yaml.load(path.read_text(encoding="utf-8"), Loader=DecimalLoader)


def make_docx(data: dict, path: Path, rows_split: bool = False) -> None:
    """Write the agency year `data` (a content file's mapping) as a Word document."""
    doc = Document()
    normal = doc.styles["Normal"]
    normal.font.size = Pt(12)
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), "宋体")
    footer = doc.sections[0].footer.paragraphs[0]          # page numbers, as printed documents have
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _field(footer, "PAGE", result="1")

    document = data.get("document") or {}
    for line in (document.get("title") or "").splitlines():
        _centered(doc, line, 22)
    for key in ("status", "compiler", "reviewer"):
        if document.get(key):
            _centered(doc, document[key], 14)
    _markdown(doc, data.get("preamble"))
    printed_toc = bool(document.get("toc_printed"))
    if printed_toc:
        _printed_toc(doc, data)
    toc_of = _toc_field if not printed_toc else (lambda paragraph, toc, kind: None)

    bookmark = 39670309
    for part in data["parts"]:
        assert printed_toc or not part.get("toc"), "a part's 目录 entry needs a printed 目录"
        heading = doc.add_paragraph(" ".join(filter(None, (part.get("number"), part["title"]))))
        heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
        heading.runs[0].bold = True
        _markdown(doc, part.get("text"))
        for section in part.get("sections") or []:
            _section(doc, section, toc_of)
        for project in part.get("projects") or []:
            title = doc.add_paragraph()
            title.paragraph_format.page_break_before = True     # each table on a new page
            title.paragraph_format.keep_with_next = True
            _bookmark(title, f"_Toc{bookmark}", (project.get("number") or "") + project["title"])
            bookmark += 1
            toc_of(title, project.get("toc"), "C")
            _project_table(doc, project, data["unit"])
            doc.add_paragraph()
            _indicator_table(doc, project.get("indicators") or [], rows_split)
            doc.add_paragraph()
    doc.save(str(path))


def _section(doc, section: dict, toc_of) -> None:
    heading = doc.add_paragraph((section.get("number") or "") + section["title"])
    heading.runs[0].bold = True
    toc_of(heading, section.get("toc"), "A")
    _markdown(doc, section.get("text"))
    for sub in section.get("sections") or []:
        _section(doc, sub, toc_of)


def _centered(doc, text: str, size: int) -> None:
    paragraph = doc.add_paragraph()
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph.add_run(text).font.size = Pt(size)


def _markdown(doc, text) -> None:
    """Markdown free text as paragraphs: a blank line between paragraphs, a line break within
    one as a soft line break, `- ` list items as bulleted paragraphs, escapes removed."""
    if not text:
        return
    for block in re.split(r"\n\s*\n", text):
        lines = block.split("\n")
        if all(line.startswith("- ") for line in lines):
            for line in lines:
                doc.add_paragraph(_plain(line[2:]), style="List Bullet")
            continue
        paragraph = doc.add_paragraph()
        paragraph.paragraph_format.first_line_indent = Pt(24)    # 首行缩进 2 字符
        for n, line in enumerate(lines):
            run = paragraph.add_run(_plain(line))
            if n + 1 < len(lines):
                run.add_break()


def _plain(line: str) -> str:
    """The printed text of one Markdown line: backslash escapes removed."""
    return re.sub(r"\\(.)", r"\1", line)


def _printed_toc(doc, data: dict) -> None:
    """目录 as Word prints it: each entry, a right tab stop with a dotted leader, the page."""
    _centered(doc, "目 录", 16)
    entries = []
    for part in data["parts"]:
        entries.append(part.get("toc"))
        entries += [s.get("toc") for s in part.get("sections") or []]
        entries += [p.get("toc") for p in part.get("projects") or []]
    section = doc.sections[0]
    right = section.page_width - section.left_margin - section.right_margin
    for toc in filter(None, entries):
        paragraph = doc.add_paragraph()
        paragraph.paragraph_format.tab_stops.add_tab_stop(right, WD_TAB_ALIGNMENT.RIGHT, WD_TAB_LEADER.DOTS)
        paragraph.add_run(toc["text"])
        if toc.get("page") is not None:
            paragraph.add_run("\t" + str(toc["page"]))


def _toc_field(paragraph, toc, kind: str) -> None:
    """The heading's 目录 entry as a Word TC field: ` TC "entry" \\f kind \\l 1 `."""
    if toc:
        _field(paragraph, f' TC "{toc["text"]}" \\f {kind} \\l 1 ')


def _field(paragraph, instruction: str, result: str = "") -> None:
    """A complex field (begin, instruction, [separate, result,] end) at the paragraph's end."""
    def char(kind):
        run = paragraph.add_run()
        element = OxmlElement("w:fldChar")
        element.set(qn("w:fldCharType"), kind)
        run._r.append(element)

    char("begin")
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = instruction
    paragraph.add_run()._r.append(instr)
    if result:
        char("separate")
        paragraph.add_run(result)
    char("end")


def _bookmark(paragraph, name: str, text: str) -> None:
    start, end = OxmlElement("w:bookmarkStart"), OxmlElement("w:bookmarkEnd")
    start.set(qn("w:id"), name[-3:])
    start.set(qn("w:name"), name)
    end.set(qn("w:id"), name[-3:])
    paragraph._p.append(start)
    paragraph.add_run(text)
    paragraph._p.append(end)


def _text(cell, text) -> None:
    """A cell's text: one paragraph per line."""
    lines = str(text).split("\n") if text is not None else [""]
    cell.paragraphs[0].text = lines[0]
    for line in lines[1:]:
        cell.add_paragraph(line)


def _row(table, r: int, spans: list[int], texts: list) -> None:
    """Fill row r: cell n covers spans[n] grid columns and holds texts[n]."""
    c = 0
    for span, text in zip(spans, texts):
        cell = table.cell(r, c)
        if span > 1:
            cell = cell.merge(table.cell(r, c + span - 1))
        _text(cell, text)
        c += span


def _spread(n: int, width: int) -> list[int]:
    """n cells over `width` grid columns, the first ones one column wider."""
    return [width // n + (1 if k < width % n else 0) for k in range(n)]


def _unsplittable(table) -> None:
    """No row breaks across a page (Word's 允许跨页断行 off); tables still do, between rows."""
    for row in table.rows:
        row._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))


def _project_table(doc, project: dict, unit: str) -> None:
    plan = project.get("plan") or []
    grid = max(GRID, 1 + len(plan))
    table = doc.add_table(rows=7, cols=grid)
    _unsplittable(table)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    _row(table, 0, [grid - 2, 2], [project.get("agency_line"), "单位：" + (project.get("unit") or unit)])
    _row(table, 1, [1, 2, 2, grid - 5], ["项目编码", project.get("code"), "项目名称", project.get("name")])
    _row(table, 2, [1] * 6 + [grid - 6], ["预算规模及资金用途", "预算数", project.get("budget"),
                                           "其中：财政资金", project.get("fiscal"), "其他资金", project.get("other")])
    _row(table, 3, [1, grid - 1], ["", project.get("purpose")])
    table.cell(2, 0).merge(table.cell(3, 0))
    spans = [1] + _spread(max(len(plan), 1), grid - 1)
    _row(table, 4, spans, [PLAN_LABEL] + [p["period"] for p in plan])
    _row(table, 5, spans, [""] + [p.get("value") for p in plan])
    table.cell(4, 0).merge(table.cell(5, 0))
    _row(table, 6, [1, grid - 1], ["绩效目标", project.get("goals")])


def _indicator_table(doc, indicators: list[dict], rows_split: bool) -> None:
    table = doc.add_table(rows=1 + len(indicators), cols=len(COLUMNS))
    if not rows_split:
        _unsplittable(table)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    header = table.rows[0]
    header._tr.get_or_add_trPr().append(OxmlElement("w:tblHeader"))   # repeated on each page
    for c, text in enumerate(HEADER):
        _text(header.cells[c], text)
    for r, indicator in enumerate(indicators, start=1):
        for c, key in enumerate(COLUMNS):
            _text(table.cell(r, c), indicator.get(key))
    for c, key in enumerate(COLUMNS[:2]):   # a left-out 一级/二级指标 is merged with the cell above
        top = None
        for r, indicator in enumerate(indicators, start=1):
            if indicator.get(key) or r == 1:
                top = r
            elif top is not None:
                table.cell(top, c).merge(table.cell(r, c))
