"""Reading .docx, .pdf and .doc files for `build.py import` (gongkai/read/).

The round trips: each seed content file is written as a .docx the way agencies make them
(tests/docmaker.py), the .docx is read and imported, and the result must equal the committed
YAML except for the differences listed below (each is the format's own, with the reason).
The same .docx is converted to PDF by LibreOffice, read and imported, and compared the same
way. The other tests cover what the seeds do not: Word features (list numbers, revisions,
hidden text, fields, text boxes), exact spacing in PDF text, tables split across pages, a
.doc, and every file that cannot be read (a Chinese message, never a traceback).
"""
from __future__ import annotations

import copy
import re
import shlex
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from docx import Document
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls
from PIL import Image

import docmaker
from gongkai.importer import BOOKMARK_RE, ImportFailure, import_text
from gongkai.read import ReadFailure, document_text, readable

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "content"
SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


def recorded_options() -> dict[str, dict]:
    """year, region, agency_code of each seed file, from the import commands content/README.md records."""
    out = {}
    for line in (CONTENT / "README.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("python build.py import "):
            argv = shlex.split(line)
            option = {name: argv[argv.index(name) + 1] if name in argv else None
                      for name in ("--year", "--region", "--agency-code", "-o")}
            key = Path(option["-o"]).relative_to("content").with_suffix("").as_posix()
            out[key] = {"year": int(option["--year"]), "region": option["--region"],
                        "agency_code": option["--agency-code"]}
    return out


OPTIONS = recorded_options()
SEEDS = sorted(OPTIONS)             # 2020/203002, 2020/287002, 2020/610002, 2022/287001
# The Word-exported seed texts, for the documents made from them.
WORD_SEEDS = {"2020/287002": "000_531445c7814c7dcd.txt", "2020/610002": "001_00e1585d0ef32045.txt",
              "2020/203002": "003_afdd2bb79f6936ce.txt"}


def soffice(fmt: str, sources: list[Path], outdir: Path) -> None:
    """Convert files with LibreOffice (one run, its own profile) into `outdir`."""
    profile = outdir / ".profile"
    subprocess.run([SOFFICE, f"-env:UserInstallation={profile.resolve().as_uri()}", "--headless",
                    "--convert-to", fmt, "--outdir", str(outdir), *map(str, sources)],
                   check=True, capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    """The test documents as .docx and, converted in one LibreOffice run, as .pdf."""
    assert SOFFICE, "LibreOffice (soffice) is needed: `make test` installs libreoffice-writer-nogui"
    folder = tmp_path_factory.mktemp("read")
    docs = []
    for key in SEEDS:
        docs.append(folder / (key.replace("/", "-") + ".docx"))
        docmaker.make_docx(expected_data(key), docs[-1])
    for name, data in SPLIT_ROWS.items():
        docs.append(folder / f"{name}.docx")
        docmaker.make_docx(data, docs[-1], rows_split=True)
    docs.append(folder / "spacing.docx")
    spacing_docx(docs[-1])
    soffice("pdf", docs, folder)
    return folder


def expected_data(key: str) -> dict:
    data = docmaker.load_content(CONTENT / f"{key}.yaml")
    data.pop("originals", None)
    return data


def imported(text: str, key: str, family: str = "") -> tuple[dict, list]:
    """The import of a document's text with the options recorded for `key`: data, unplaced lines."""
    result = import_text(text, **OPTIONS[key])
    assert result.family == (family or result.family)
    return plain(result.data), result.unplaced


def plain(value):
    """Data as the YAML file holds it: absent values left out, amounts as printed."""
    if isinstance(value, dict):
        items = {k: plain(v) for k, v in value.items()}
        return {k: v for k, v in items.items() if v not in (None, [], {})}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)      # exact: 4000.00 is not 4000.0
    return value


# --- the differences that are the formats' own ---------------------------------------------

def bullets_printed(data: dict) -> dict:
    """Markdown list items `- …` (as the PDF seed's extraction wrote bullets) come out of a
    document as the printed bullet `• …`, which the importer keeps as text."""
    data = copy.deepcopy(data)
    for part in data["parts"]:
        for section in part.get("sections", []):
            if section.get("text"):
                section["text"] = re.sub(r"(?m)^- ", "• ", section["text"])
    return data


def word_view(data: dict) -> dict:
    """What a .docx keeps of an agency year: everything; bullets printed (bullets_printed)."""
    return bullets_printed(data)


def from_tc_fields(data: dict) -> bool:
    """Whether the document's 目录 entries are Word TC fields (no printed 目录)."""
    toc = any(s.get("toc") for p in data["parts"] for s in p.get("sections", []) + p.get("projects", []))
    return toc and not (data.get("document") or {}).get("toc_printed")


def pdf_view(data: dict, tc: bool) -> dict:
    """What a PDF keeps of an agency year, as compared here:

    - TC fields are not printed: a document whose 目录 entries were TC fields (`tc`) has no
      `toc` in its PDF, and the importer finds its sections by numbering style, so numbered
      lines in a section's text become sections too: such a part's sections are compared as
      the one sequence of their headings and text lines (`outline`).
    - A line break and a paragraph break look alike in a PDF: free text is compared line by
      line, blank lines left out.
    - A PDF has no space where a line wrapped, and a wrap inside a word or number is not
      marked; a table row is one line, so a cell's line breaks are gone, and the importer
      removes spaces between CJK characters in cells (it cannot tell them from wraps): every
      text is compared without whitespace. Spacing is checked exactly in
      test_pdf_spacing_is_as_printed.
    - Bullets are printed (bullets_printed).
    """
    data = bullets_printed(data)
    for part in data["parts"]:
        sections = part.pop("sections", [])
        if tc:
            part["outline"] = [line for s in sections
                               for line in [(s.get("number") or "") + s["title"]] + text_lines(s.get("text"))]
            for project in part.get("projects", []):
                project.pop("toc", None)
        elif sections:
            part["sections"] = [{**s, "text": text_lines(s.get("text"))} for s in sections]
        if part.get("text"):
            part["text"] = text_lines(part["text"])
    if data.get("preamble"):
        data["preamble"] = text_lines(data["preamble"])
    return _squeezed(data)


def text_lines(text) -> list[str]:
    return [line for line in (text or "").split("\n") if line.strip()]


def _squeezed(value):
    if isinstance(value, dict):
        return {k: _squeezed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_squeezed(v) for v in value]
    if isinstance(value, str):
        return re.sub(r"\s+", "", value)
    return value


# --- round trips -------------------------------------------------------------------------

@pytest.mark.parametrize("key", SEEDS)
def test_docx_imports_as_its_content_file(made, key):
    text = document_text(made / (key.replace("/", "-") + ".docx"))
    data, unplaced = imported(text, key, family="word")
    assert unplaced == []
    assert data == plain(word_view(expected_data(key)))


@pytest.mark.parametrize("key", SEEDS)
def test_pdf_imports_as_its_content_file(made, key):
    text = document_text(made / (key.replace("/", "-") + ".pdf"))
    data, unplaced = imported(text, key, family="pdf")
    assert unplaced == []
    expected = plain(expected_data(key))
    tc = from_tc_fields(expected)
    assert tc == (key in ("2020/287002", "2020/610002"))
    assert pdf_view(data, tc) == pdf_view(expected, tc)
    if tc:   # what the comparison folds: sections from numbered lines, in the same order
        assert len(data["parts"][0]["sections"]) > len(expected["parts"][0]["sections"])


@pytest.mark.parametrize("key", sorted(WORD_SEEDS))
def test_docx_text_is_the_word_export(made, key):
    """The reader prints a document made like the seed's original as the seed's Word export
    prints it: same lines (blank lines aside), same table cells, merged cells empty."""
    text = document_text(made / (key.replace("/", "-") + ".docx"))
    seed = (CONTENT / key / WORD_SEEDS[key]).read_text(encoding="utf-8")
    ours = [line for line in text.split("\n") if line]
    theirs = [BOOKMARK_RE.sub("", line).rstrip(" ") for line in seed.split("\n")]
    theirs = [line.lstrip(" ") for line in theirs if line.strip(" ")]
    # The seed prints a part's number and title on two lines (or two spaces apart), the
    # made document on one line, one space apart.
    joined: list[str] = []
    for line in theirs:
        if joined and re.fullmatch(r"第.部分", joined[-1]) and not line.startswith("\t"):
            joined[-1] += " " + line
        else:
            joined.append(re.sub(r"^(第.部分) +", r"\1 ", line))
    if key == "2020/287002":   # the seed ends with a page number from its footer; footers are not read
        assert joined[-1] == "1"
        joined.pop()
    assert ours == joined


# --- Word features ------------------------------------------------------------------------

NUMBERING = f"""<w:abstractNum {nsdecls('w')} w:abstractNumId="90">
  <w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/><w:suff w:val="nothing"/><w:lvlText w:val="%1、"/></w:lvl>
  <w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/><w:lvlText w:val="（%2）"/></w:lvl>
  <w:lvl w:ilvl="2"><w:start w:val="1"/><w:numFmt w:val="decimal"/><w:lvlText w:val="%3."/></w:lvl>
</w:abstractNum>"""


def numbered(paragraph, num_id: int, level: int) -> None:
    paragraph._p.get_or_add_pPr().append(parse_xml(
        f'<w:numPr {nsdecls("w")}><w:ilvl w:val="{level}"/><w:numId w:val="{num_id}"/></w:numPr>'))


def test_docx_prints_word_features(tmp_path):
    """List numbers as Word shows them, field results but no field codes, inserted but not
    deleted revisions, no hidden text, text boxes after their paragraph, tabs never leading."""
    doc = Document()
    numbering = doc.part.numbering_part.element
    numbering.insert(0, parse_xml(NUMBERING))
    numbering.append(parse_xml(f'<w:num {nsdecls("w")} w:numId="90"><w:abstractNumId w:val="90"/></w:num>'))
    numbering.append(parse_xml(f'<w:num {nsdecls("w")} w:numId="91"><w:abstractNumId w:val="90"/>'
                               '<w:lvlOverride w:ilvl="2"><w:startOverride w:val="1"/></w:lvlOverride></w:num>'))
    for text, num, level in [("总体绩效目标", 90, 0), ("产出", 90, 1), ("数量", 90, 2), ("质量", 90, 2),
                             ("效益", 90, 1), ("成本", 90, 2), ("重新编号", 91, 2), ("分项绩效目标", 90, 0)]:
        numbered(doc.add_paragraph(text), num, level)
    doc.add_paragraph("项目", style="List Bullet")
    doc.add_paragraph("\t缩进的段落\t中间有制表符")
    p = doc.add_paragraph("修订：")
    p._p.append(parse_xml(f'<w:ins {nsdecls("w")} w:id="1" w:author="a"><w:r><w:t>新增</w:t></w:r></w:ins>'))
    p._p.append(parse_xml(f'<w:del {nsdecls("w")} w:id="2" w:author="a"><w:r><w:delText>删除</w:delText></w:r></w:del>'))
    p._p.append(parse_xml(f'<w:r {nsdecls("w")}><w:rPr><w:vanish/></w:rPr><w:t>隐藏</w:t></w:r>'))
    p._p.append(parse_xml(f'<w:r {nsdecls("w")}><w:fldChar w:fldCharType="begin"/></w:r>'))
    p._p.append(parse_xml(f'<w:r {nsdecls("w")}><w:instrText xml:space="preserve"> PAGEREF _Toc1 \\h </w:instrText></w:r>'))
    p._p.append(parse_xml(f'<w:r {nsdecls("w")}><w:fldChar w:fldCharType="separate"/></w:r>'))
    p._p.append(parse_xml(f'<w:r {nsdecls("w")}><w:t>12</w:t></w:r>'))
    p._p.append(parse_xml(f'<w:r {nsdecls("w")}><w:fldChar w:fldCharType="end"/></w:r>'))
    p._p.append(parse_xml(f'<w:r {nsdecls("w")}><w:sym w:font="Symbol" w:char="F0B3"/><w:t>90%</w:t></w:r>'))
    box = doc.add_paragraph("框外")
    box._p.append(parse_xml(
        f'<w:r {nsdecls("w")}><w:pict><w:txbxContent><w:p><w:r><w:t>文本框里的字</w:t></w:r></w:p></w:txbxContent></w:pict></w:r>'))
    path = tmp_path / "features.docx"
    doc.save(path)
    assert document_text(path).split("\n") == [
        "一、总体绩效目标", "（一）产出", "1. 数量", "2. 质量", "（二）效益", "1. 成本", "1. 重新编号", "二、分项绩效目标",
        "• 项目", "", "缩进的段落 中间有制表符", "", "修订：新增12≥90%", "", "框外", "", "文本框里的字", ""]


def test_docx_tables_merged_and_nested(tmp_path):
    """A horizontally merged cell once, a vertical continuation empty, a nested table's
    cells as further lines of its cell, empty paragraphs in a cell left out."""
    doc = Document()
    table = doc.add_table(rows=3, cols=3)
    table.cell(0, 0).merge(table.cell(0, 1)).text = "横向合并"
    table.cell(0, 2).text = "右"
    table.cell(1, 0).merge(table.cell(2, 0)).text = "纵向合并"
    cell = table.cell(1, 1)
    cell.text = "第一段"
    cell.add_paragraph("")
    cell.add_paragraph("第二段")
    inner = table.cell(1, 2).add_table(rows=1, cols=2)
    inner.cell(0, 0).text, inner.cell(0, 1).text = "内甲", "内乙"
    table.cell(2, 1).text = "末"
    path = tmp_path / "table.docx"
    doc.save(path)
    assert document_text(path).replace("\t", "→").split("\n") == [
        "→横向合并", "→右", "",
        "→纵向合并", "→第一段", "第二段", "→内甲", "内乙", "",
        "→", "→末", "→", ""]


# --- PDF specifics --------------------------------------------------------------------------

def spacing_docx(path: Path) -> None:
    """Spaces as typed, CJK beside digits without one (set a little apart by LibreOffice), a
    paragraph wrapping over several lines, two paragraphs distinguished by their indent."""
    doc = Document()
    doc.add_paragraph("2022 年部门预算绩效文本")
    doc.add_paragraph("3月底完成率≥90%为优")
    for text in (LONG, "第二段：" + LONG):
        doc.add_paragraph(text).paragraph_format.first_line_indent = docmaker.Pt(24)
    doc.save(str(path))


LONG = "组织老干部开展青少年教育活动，" * 8 + "资金 5 万元。"


def test_pdf_spacing_is_as_printed(made):
    assert document_text(made / "spacing.pdf").split("\n") == [
        "2022 年部门预算绩效文本", "", "3月底完成率≥90%为优", "", LONG, "", "第二段：" + LONG, ""]


def split_row_data(basis: str) -> dict:
    """One project whose second indicator row is too tall for the page it starts on."""
    long = "反映老干部活动开展情况。" * 15
    return {"year": 2022, "unit": "万元", "parts": [
        {"number": "第一部分", "title": "部门整体绩效目标"},
        {"number": "第二部分", "title": "预算项目绩效目标", "projects": [{
            "number": "1、", "title": "测试项目绩效目标表", "agency_line": "999001测试单位",
            "code": "999-0101-JBN-TEST", "name": "测试项目", "budget": Decimal("5.00"),
            "fiscal": Decimal("5.00"), "purpose": "用途", "goals": "目标",
            "plan": [{"period": "12月底", "value": Decimal("100.00")}],
            "indicators": [
                {"level1": "产出指标", "level2": "数量指标", "level3": "甲", "description": "甲",
                 "value": "≥1次", "basis": "历史标准"},
                {"level2": "质量指标", "level3": "乙", "description": long, "value": "100%", "basis": basis},
                {"level1": "满意度指标", "level2": "服务对象满意度指标", "level3": "丙", "description": "丙",
                 "value": "≥90%", "basis": "历史标准"}]}]}]}


SPLIT_ROWS = {"split-row": split_row_data("历史标准"),
              "split-row-basis": split_row_data("依据" + "冀财预〔2021〕1号文件规定，" * 12)}


def split_row_import(made, name: str) -> dict:
    text = document_text(made / f"{name}.pdf")
    assert text.count("一级指标\t") == 2, "the row must be split by a page break, the header repeated"
    result = import_text(text, year=2022, region="石家庄市正定县")
    assert result.unplaced == []
    return plain(result.data)["parts"][1]["projects"][0]


def test_pdf_row_split_by_a_page_is_joined(made):
    """The header row repeats on the next page and the rest of the broken row follows it;
    the importer drops the header and joins the row (its 一级指标 and 依据 cells are empty)."""
    project = split_row_import(made, "split-row")
    expected = SPLIT_ROWS["split-row"]["parts"][1]["projects"][0]["indicators"]
    assert [i["level3"] for i in project["indicators"]] == ["甲", "乙", "丙"]
    assert project["indicators"][1]["description"] == expected[1]["description"]


def test_pdf_row_split_with_its_basis_is_joined(made):
    project = split_row_import(made, "split-row-basis")
    expected = SPLIT_ROWS["split-row-basis"]["parts"][1]["projects"][0]["indicators"]
    assert [i.get("level3") for i in project["indicators"]] == ["甲", "乙", "丙"]   # now 甲 乙 None 丙
    assert project["indicators"][1]["basis"] == expected[1]["basis"]


# --- .doc ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def doc_files(made) -> Path:
    folder = made / "doc"
    folder.mkdir()
    soffice("doc", [made / "2020-203002.docx", made / "2020-287002.docx"], folder)
    return folder


def test_doc_imports_as_its_docx(made, doc_files):
    doc = document_text(doc_files / "2020-203002.doc")
    assert imported(doc, "2020/203002") == imported(document_text(made / "2020-203002.docx"), "2020/203002")


def test_doc_with_tc_fields_imports_as_its_docx(made, doc_files):
    text = document_text(doc_files / "2020-287002.doc")
    assert "一、总体绩效目标 TC 总体绩效目标 \\l 2" in text.split("\n")    # what the reader gives
    assert imported(text, "2020/287002") == imported(document_text(made / "2020-287002.docx"), "2020/287002")


def test_doc_without_libreoffice_names_the_package(doc_files, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ReadFailure) as failure:
        document_text(doc_files / "2020-203002.doc")
    assert "LibreOffice" in failure.value.message
    assert "libreoffice-writer-nogui" in failure.value.hint and "另存为 .docx" in failure.value.hint


# --- files that cannot be read ---------------------------------------------------------------

def test_scanned_pdf_has_no_text_layer(tmp_path):
    page = Image.new("RGB", (595, 842), "white")
    page.paste((0, 0, 0), (100, 100, 495, 140))       # a "line of text" that is only pixels
    path = tmp_path / "scan.pdf"
    page.save(path, "PDF", resolution=72)
    with pytest.raises(ReadFailure) as failure:
        document_text(path)
    assert failure.value.message.startswith("此 PDF 没有文字层（可能是扫描件）")
    assert "OCR" in failure.value.hint and "Word" in failure.value.hint


@pytest.mark.parametrize("name, content, message", [
    ("broken.pdf", b"%PDF-1.4\nnot a pdf at all\n", "无法读取此 PDF 文件"),
    ("truncated.pdf", None, "无法读取此 PDF 文件"),
    ("broken.docx", b"this is no zip file", "不是有效的 .docx 文件"),
    ("truncated.docx", None, "不是有效的 .docx 文件"),
    ("empty.docx", b"PK\x05\x06" + bytes(18), "无法读取此 .docx 文件"),
    ("old.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504), "旧版 Word（.doc）"),
    ("noise.doc", bytes(range(7, 256)) * 4, "不是 Word 文档（.doc）"),
])
def test_unreadable_files_give_a_chinese_message(made, tmp_path, name, content, message):
    path = tmp_path / name
    if content is None:   # the first half of a real file
        real = (made / "2020-287002").with_suffix(path.suffix).read_bytes()
        content = real[:len(real) // 2]
    path.write_bytes(content)
    with pytest.raises(ReadFailure) as failure:
        document_text(path)
    assert message in failure.value.message
    assert re.search(r"[\u4e00-\u9fff]", failure.value.hint)


def test_encrypted_pdf_says_so(made, tmp_path):
    options = ('pdf:writer_pdf_Export:{"EncryptFile":{"type":"boolean","value":"true"},'
               '"DocumentOpenPassword":{"type":"string","value":"secret"}}')
    soffice(options, [made / "spacing.docx"], tmp_path)
    with pytest.raises(ReadFailure) as failure:
        document_text(tmp_path / "spacing.pdf")
    assert "已加密" in failure.value.message


def test_missing_file_and_suffixes(tmp_path):
    with pytest.raises(ReadFailure) as failure:
        document_text(tmp_path / "none.PDF")
    assert "不存在" in failure.value.message
    assert readable(Path("a.DOCX")) and readable(Path("b.Pdf")) and readable(Path("c.doc"))
    assert not readable(Path("d.txt"))
    with pytest.raises(ValueError):
        document_text(tmp_path / "d.txt")
