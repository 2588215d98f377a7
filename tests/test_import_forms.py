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
