"""The importer on documents unlike the seeds: facts given as options (never invented), text
under a table kept as the table's remarks, and a document of the same family that no other
test uses (three parts, no agency line, no codes or amounts, cells of several paragraphs,
empty rows for unused 二级 categories), as Word-exported and as PDF-extracted text."""
from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
import yaml

import build
from gongkai.config import Config
from gongkai.importer import GROUP_LABEL, ImportFailure, import_text
from gongkai.model import FIELD_LABELS, STANDARD_COLUMNS
from gongkai.site import load, render_site

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "import"
REGION = "秦皇岛市山海关区"
UNSEEN = FIXTURES / "unseen_word.txt"
NAME_AND_CODE = ["--agency-name", "某县文化馆", "--agency-code", "wenhuaguan"]
# The Hebei form's labels: the model's keys hold their cells, so the labels are not text.
FORM_LABELS = set(FIELD_LABELS.values()) | {c.label for c in STANDARD_COLUMNS} | {GROUP_LABEL}


def pdf_family(word_text: str) -> str:
    """The same document as PDF extraction prints it: a table row per line, cells split
    at TABs, a cell's lines joined with a space."""
    out, row = [], []
    for line in word_text.split("\n"):
        if line.startswith("\t"):
            row.append(line[1:])
        elif row and line:
            row[-1] += " " + line
        else:
            if row:
                out.append("\t".join(row))
                row = []
            out.append(line)
    return "\n".join(out)


def imported(tmp_path: Path, source: Path, *options: str, capsys) -> tuple[int, dict, str]:
    out = tmp_path / "content" / "2023" / "wenhuaguan.yaml"
    code = build.main(["import", str(source), "--region", REGION, *options, "-o", str(out)])
    err = capsys.readouterr().err
    data = yaml.safe_load(out.read_text(encoding="utf-8")) if out.exists() else {}
    return code, data, err


def strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def visible(page: bytes) -> str:
    text = page.decode("utf-8")
    text = text[text.index("<main"):text.index("</main>")]
    return html.unescape(re.sub(r"<[^>]+>", "", text))


# --- facts the document does not print ----------------------------------------------------

def test_without_an_agency_line_the_import_names_the_options(tmp_path, capsys):
    code, _, err = imported(tmp_path, UNSEEN, capsys=capsys)
    assert code == 1
    assert "原文没有印出部门" in err and "--agency-name" in err and "--agency-code" in err
    assert not (tmp_path / "content").exists()


def test_given_facts_are_recorded_and_every_cell_is_kept(tmp_path, capsys):
    code, data, err = imported(tmp_path, UNSEEN, *NAME_AND_CODE, capsys=capsys)
    assert code == 0, err
    assert data["given"] == ["agency.name", "agency.code"]     # the year is printed in the title
    assert data["year"] == 2023 and "unit" not in data         # no amounts: no unit, none invented
    printed = [line.strip() for line in UNSEEN.read_text(encoding="utf-8").split("\n")]
    kept = "\n".join(strings(data))
    for line in printed:
        cell = re.sub(r"\s+TC\s.*$", "", line)                 # a heading without its TC field
        cell = re.sub(r"^(第[一二三]部分|[一二三]、|1、(?=免费))", "", cell)
        if cell not in FORM_LABELS:
            assert cell in kept, line
    assert [p["title"] for p in data["parts"]] == ["部门整体绩效目标", "预算项目绩效目标", "其他说明"]


def test_empty_rows_of_unused_categories_stay_rows(tmp_path, capsys):
    _, data, _ = imported(tmp_path, UNSEEN, *NAME_AND_CODE, capsys=capsys)
    rows = data["parts"][1]["projects"][0]["indicators"]
    assert {"level1": "效益指标", "level2": "经济效益指标"} in rows
    assert {"level2": "生态效益指标"} in rows
    assert len(rows) == 6


def test_a_note_under_a_table_is_its_remarks_never_a_row(tmp_path, capsys):
    code, data, err = imported(tmp_path, UNSEEN, *NAME_AND_CODE, capsys=capsys)
    assert code == 0
    project = data["parts"][1]["projects"][0]
    assert project["remarks"] == "注：本表指标值以年度考核结果为准。"
    assert not any("注：" in s for row in project["indicators"] for s in strings(row))
    assert "已作为该表的备注（remarks）保存：\"注：本表指标值以年度考核结果为准。\"" in err


def test_the_same_document_as_pdf_text_imports_the_same(tmp_path, capsys):
    source = tmp_path / "unseen_pdf.txt"
    source.write_text(pdf_family(UNSEEN.read_text(encoding="utf-8")), encoding="utf-8")
    assert "\t" in source.read_text(encoding="utf-8").split("第二部分")[1]
    code, from_pdf, err = imported(tmp_path / "pdf", source, *NAME_AND_CODE, capsys=capsys)
    assert code == 0, err
    _, from_word, _ = imported(tmp_path / "word", UNSEEN, *NAME_AND_CODE, capsys=capsys)
    # Joined with a space by the extraction, a cell's lines come back as one line.
    word_project = from_word["parts"][1]["projects"][0]
    pdf_project = from_pdf["parts"][1]["projects"][0]
    assert pdf_project["purpose"] == word_project["purpose"].replace("\n", "")
    assert pdf_project["remarks"] == word_project["remarks"]
    assert [r.get("level3") for r in pdf_project["indicators"]] == [r.get("level3") for r in word_project["indicators"]]


def test_amounts_without_a_unit_are_refused_naming_the_option():
    text = UNSEEN.read_text(encoding="utf-8").replace("\t预算数\n\t\n", "\t预算数\n\t120.00\n")
    with pytest.raises(ImportFailure, match="--unit"):
        import_text(text, region=REGION, agency_name="某县文化馆", agency_code="wenhuaguan")
    data = import_text(text, region=REGION, agency_name="某县文化馆", agency_code="wenhuaguan", unit="万元").data
    assert data["unit"] == "万元" and data["given"] == ["agency.name", "agency.code", "unit"]
    assert data["parts"][1]["projects"][0]["budget"] == 120


def test_a_year_given_over_a_printed_one_is_recorded(capsys):
    data = import_text(UNSEEN.read_text(encoding="utf-8"), year=2024, region=REGION,
                       agency_name="某县文化馆", agency_code="wenhuaguan").data
    assert data["year"] == 2024 and data["given"][0] == "year"
    assert "--year 2024 与原文印出的年度 2023 不同" in capsys.readouterr().err


def test_the_pages_say_what_was_given_and_that_no_unit_is_printed(tmp_path, capsys):
    code, _, err = imported(tmp_path, UNSEEN, *NAME_AND_CODE, capsys=capsys)
    assert code == 0, err
    config = Config(title="t", owner="o", regions=(REGION,), root=tmp_path)
    years, problems = load(config)
    assert years, [p.format() for p in problems]
    site, problems = render_site(config, years)
    assert site is not None, problems
    year_page = visible(site.files["2023/wenhuaguan/index.html"])
    assert "金额单位未注明" in re.sub(r"\s+", "", year_page)
    assert "某县文化馆（原文未印出，由编辑给出）" in year_page
    project_page = visible(site.files["2023/wenhuaguan/1/index.html"])
    assert "单位：未注明" in project_page
    assert "注：本表指标值以年度考核结果为准。" in project_page


# --- the same unseen document as a Word file and as its PDF --------------------------------

def unseen_docx(path: Path) -> None:
    """The unseen document as an agency makes it in Word: headings with TC fields, the
    project table with merged label cells, the indicator table with vertically merged
    一级/二级 cells and cells of two paragraphs, a note under it, a third part."""
    from docx import Document
    from docmaker import _row, _text, _toc_field
    doc = Document()
    for line in ("某县文化馆", "2023年部门预算绩效文本", "第一部分", "部门整体绩效目标"):
        doc.add_paragraph(line)
    for number, title, text in (("一、", "总体绩效目标", "全年开展公益性文化活动，保障场馆免费开放。"),
                                ("二、", "工作保障措施", "加强制度建设，严格资金管理。")):
        _toc_field(doc.add_paragraph(number + title), {"text": title}, "A")
        doc.add_paragraph(text)
    doc.add_paragraph("第二部分")
    doc.add_paragraph("预算项目绩效目标")
    _toc_field(doc.add_paragraph("1、免费开放运行绩效目标表"), {"text": "1、免费开放运行绩效目标表"}, "C")
    table = doc.add_table(rows=4, cols=7)
    table.style = "Table Grid"
    _row(table, 0, [1, 6], ["项目名称", "免费开放运行"])
    _row(table, 1, [1] * 7, ["预算规模及资金用途", "预算数", "", "其中：财政资金", "", "其他资金", ""])
    _row(table, 2, [1, 6], ["", "场馆免费开放的日常运行。\n含水电、保洁和安保。"])
    table.cell(1, 0).merge(table.cell(2, 0))
    _row(table, 3, [1, 6], ["绩效目标", "1、全年免费开放不少于300天\n2、群众满意度不低于90%"])
    doc.add_paragraph()
    rows = [("一级指标", "二级指标", "三级指标", "绩效指标描述", "指标值", "指标值确定依据"),
            ("产出指标", "数量指标", "开放天数", "全年免费开放的天数\n（不含闭馆维护日）", "≥300天", "历史标准"),
            ("", "质量指标", "活动安全事故", "", "0起", "行业标准"),
            ("效益指标", "经济效益指标", "", "", "", ""),
            ("", "社会效益指标", "群众文化参与度", "参加活动的人次", "明显提高", ""),
            ("", "生态效益指标", "", "", "", ""),
            ("满意度指标", "服务对象满意度指标", "群众满意度", "抽样调查", "≥90%", "历史标准")]
    indicators = doc.add_table(rows=len(rows), cols=6)
    indicators.style = "Table Grid"
    for r, cells in enumerate(rows):
        for c, text in enumerate(cells):
            _text(indicators.cell(r, c), text)
    for top, bottom in ((1, 2), (3, 5)):     # 一级 cells merged over their rows
        indicators.cell(top, 0).merge(indicators.cell(bottom, 0))
    doc.add_paragraph("注：本表指标值以年度考核结果为准。")
    doc.add_paragraph("第三部分")
    doc.add_paragraph("其他说明")
    _toc_field(doc.add_paragraph("一、名词解释"), {"text": "名词解释"}, "A")
    doc.add_paragraph("免费开放：指场馆基本服务项目不收取费用。")
    doc.save(str(path))


def comparable(data: dict) -> dict:
    """Content data without what a format decides itself: the original's file and title,
    and line breaks inside free text and cells (a PDF does not keep where a cell wrapped)."""
    out = {k: v for k, v in data.items() if k != "originals"}
    return json_squash(out)


def json_squash(value):
    if isinstance(value, str):
        return re.sub(r"\s+", "", value)
    if isinstance(value, dict):
        return {k: json_squash(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_squash(v) for v in value]
    return value


@pytest.fixture(scope="module")
def unseen_files(tmp_path_factory) -> Path:
    import shutil
    import subprocess
    folder = tmp_path_factory.mktemp("unseen")
    unseen_docx(folder / "unseen.docx")
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    assert soffice, "LibreOffice (soffice) is needed: `make test` installs libreoffice-writer-nogui"
    subprocess.run([soffice, f"-env:UserInstallation=file://{folder}/profile", "--headless",
                    "--convert-to", "pdf", "--outdir", str(folder), str(folder / "unseen.docx")],
                   check=True, capture_output=True, timeout=180)
    return folder


@pytest.mark.parametrize("suffix", [".docx", ".pdf"])
def test_the_unseen_document_as_a_file_imports_as_its_text(tmp_path, capsys, unseen_files, suffix):
    _, from_text, _ = imported(tmp_path / "text", UNSEEN, *NAME_AND_CODE, capsys=capsys)
    code, from_file, err = imported(tmp_path / "file", unseen_files / f"unseen{suffix}", *NAME_AND_CODE, capsys=capsys)
    assert code == 0, err
    assert "已作为该表的备注（remarks）保存" in err
    assert from_file["originals"] == [{"file": f"unseen{suffix}", "title": {
        ".docx": "部门预算绩效文本（Word 文件）", ".pdf": "部门预算绩效文本（PDF 文件）"}[suffix]}]
    if suffix == ".docx":
        assert from_file | {"originals": None} == from_text | {"originals": None}
    else:
        # A PDF prints no TC fields: its sections carry no 目录 entry. Else the same.
        for part in from_text["parts"]:
            for item in part.get("sections", []) + part.get("projects", []):
                if suffix == ".pdf" and "sections" in part and item in part["sections"]:
                    item.pop("toc", None)
        for part in from_text["parts"]:
            for project in part.get("projects", []):
                project.pop("toc", None)
        assert comparable(from_file) == comparable(from_text)
    copied = tmp_path / "file" / "content" / "2023" / "wenhuaguan" / f"unseen{suffix}"
    assert copied.read_bytes() == (unseen_files / f"unseen{suffix}").read_bytes()
