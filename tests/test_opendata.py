"""Open data: JSON as printed, CSVs Excel can open safely, a datapackage describing every file."""
from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import pytest

from gongkai import opendata, urls
from gongkai.derive import outline
from gongkai.config import load_config
from gongkai.site import load

FIXTURE = Path(__file__).parent / "fixtures" / "site"
REPO = Path(__file__).resolve().parent.parent


def years_of(config_path: Path):
    config, _ = load_config(config_path)
    years, problems = load(config)
    assert not [p for p in problems if p.is_error]
    return years


def build_data(years, title):
    """Every file of data/ for these agency years, as the build makes them."""
    files: dict[str, bytes] = {}
    for facts in years:
        files.update(opendata.year_data(facts))
    files.update(opendata.site_wide_data([outline(f) for f in years], files.__getitem__, title))
    return files


@pytest.fixture(scope="module")
def years():
    return years_of(FIXTURE / "site_config.yaml")


@pytest.fixture(scope="module")
def files(years):
    return build_data(years, "测试站点")


def record_breaks_without_cr(text: str) -> int:
    """Line breaks outside quoted cells that are not CRLF (RFC 4180 wants CRLF)."""
    quoted, count = False, 0
    for i, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif char == "\n" and not quoted and text[i - 1] != "\r":
            count += 1
    return count


def rows(data: bytes) -> list[dict]:
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM, so Excel reads Chinese"
    text = data[3:].decode("utf-8")
    assert text.endswith("\r\n") and not record_breaks_without_cr(text)
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_files(files):
    assert sorted(files) == [
        "data/2021-shiyan-bumen-indicators.csv", "data/2021-shiyan-bumen-projects.csv",
        "data/2021-shiyan-bumen.json", "data/2022-287001-indicators.csv",
        "data/2022-287001-projects.csv", "data/2022-287001.json", "data/datapackage.json",
        "data/indicators.csv", "data/projects.csv", "data/schema-indicators.json",
        "data/schema-projects.json"]


def test_csv_lines_end_crlf_and_cells_keep_line_breaks(files):
    data = files["data/2022-287001-projects.csv"]
    lines = data[3:].decode("utf-8").split("\r\n")
    assert lines[0].startswith("年度,地区,部门名称,部门编码")
    projects = rows(data)
    assert projects[0]["绩效目标"] == ("1.开展全县关心下一代工作，组织老同志参加青少年教育工作。\n"
                                   "2.充分发挥老干部传帮带作用，传承优良作风，让下一代健康成长。")
    assert projects[0]["资金支出计划"] == "3 月底：1.50；6 月底：2.50；10 月底：3.50；12 月底：5.00"
    assert projects[1]["资金支出计划"] == "3 月底：30；6 月底：（空白）；12 月底：90"


def test_amounts_exactly_as_printed(files):
    projects = rows(files["data/2021-shiyan-bumen-projects.csv"])
    assert projects[0]["预算数"] == "4000.00" and projects[1]["预算数"] == "100"
    assert projects[0]["其他资金"] == ""        # blank is not zero
    data = json.loads(files["data/2021-shiyan-bumen.json"])
    project = data["parts"][1]["projects"][0]
    assert project["budget"] == "4000.00" and project["other"] is None
    assert project["plan"][0] == {"period": "3月底", "value": "60.00"}


def test_formula_injection_neutralised(files):
    """A text cell starting with = + - @ tab or CR gets a leading apostrophe; numbers do not."""
    indicators = rows(files["data/2021-shiyan-bumen-indicators.csv"])
    assert [r["指标值"] for r in indicators] == ["'=1+1", "'-5", "及时"]
    assert indicators[0]["指标值确定依据"] == "'@cmd"
    assert rows(files["data/2022-287001-indicators.csv"])[-1]["指标值确定依据"] == "'=SUM(A1)"
    assert opendata._cell("-5") == "'-5" and opendata._cell(opendata.Decimal("-5.00")) == "-5.00"
    assert all(opendata._cell(c + "x").startswith("'") for c in "=+-@\t\r")
    # JSON keeps the text exactly as printed.
    data = json.loads(files["data/2021-shiyan-bumen.json"])
    assert data["parts"][1]["projects"][0]["indicators"][0]["value"] == "=1+1"
    assert "单引号" in json.loads(files["data/datapackage.json"])["description"]


def test_row_cells_and_plain_match_the_generic_rules():
    """The per-row and per-type fast paths (for speed) give what the generic rules give."""
    import datetime
    from gongkai.model import Indicator, ParsedValue, TocEntry
    values = ["", "文字", "-5", "=1+1", "\tx", 0, 7, True, None, opendata.Decimal("-5.00"), 1.5,
              datetime.date(2022, 3, 1)]
    assert opendata._cells(values) == [opendata._cell(v) for v in values]
    indicator = Indicator(level1="产出指标", value="≥95%", parsed=ParsedValue("≥", opendata.Decimal("95"), "%"))
    assert opendata.plain(indicator) == {
        "level1": "产出指标", "level2": None, "level3": None, "description": None, "value": "≥95%",
        "basis": None, "parsed": {"comparator": "≥", "number": "95", "unit": "%"}}
    assert opendata.plain((TocEntry("目录", 3), [datetime.date(2022, 3, 1)])) == [
        {"text": "目录", "page": 3}, ["2022-03-01"]]
    rows = [["a", "b"], ["a,b", "c"], ['say "x"', ""], ["line\nbreak", "cr\r"], [""], ["", ""],
            ["x"], ["，全角", "'=1"]]
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerows([["h1", "h2"]] + rows)
    assert opendata.to_csv([opendata.Column("h1", "", "", None), opendata.Column("h2", "", "", None)], rows) == buffer.getvalue().encode("utf-8-sig")


def test_indicator_rows_expand_merged_cells(files):
    indicators = rows(files["data/2022-287001-indicators.csv"])
    second = indicators[1]
    assert second["一级指标（原文）"] == "" and second["一级指标（派生）"] == "产出指标"
    assert second["二级指标（原文）"] == "质量指标"
    assert (indicators[0]["比较符（派生）"], indicators[0]["数值（派生）"], indicators[0]["计量单位（派生）"]) == ("≥", "4", "次")
    assert indicators[0]["解析来源（派生）"] == "程序解析"
    assert indicators[2]["数值（派生）"] == ""          # 明显提高: no number


def test_site_wide_files_hold_every_year(files, years):
    per_year = sum(len(rows(files[urls.year_data(f.year.year, f.year.agency.ident)["indicators"]])) for f in years)
    assert len(rows(files["data/indicators.csv"])) == per_year
    assert len(rows(files["data/projects.csv"])) == sum(len(f.projects) for f in years)


def test_json_has_the_whole_agency_year_and_marks_derived(files):
    data = json.loads(files["data/2022-287001.json"])
    assert data["year"] == 2022 and data["agency"]["code"] == "287001"
    assert data["document"]["published"] == "2022-02-15"
    assert data["parts"][0]["sections"][0]["toc"] == {"text": "一、总体绩效目标", "page": 1}
    project = data["parts"][1]["projects"][0]
    assert project["derived"]["page"] == "2022/287001/13012322P00258110508R/index.html"
    assert project["derived"]["plan_percent_of_budget"] == ["30.00", "50.00", "70.00", "100.00"]
    assert data["derived"]["total_budget"] == "15.00"
    assert "pos" not in project and "source" not in data


@pytest.mark.parametrize("config", [FIXTURE / "site_config.yaml", REPO / "site_config.yaml"])
def test_datapackage_describes_every_file(config):
    years = years_of(config)
    files = build_data(years, "站点")
    package = json.loads(files["data/datapackage.json"])
    assert package["profile"] == "data-package"
    described = {r["path"]: r for r in package["resources"]}
    assert set(described) == {p.removeprefix("data/") for p in files if p != "data/datapackage.json"}
    names = [r["name"] for r in package["resources"]]
    assert len(set(names)) == len(names)
    for path, resource in described.items():
        data = files["data/" + path]
        assert ".." not in path and not path.startswith("/")
        assert all(c.islower() or c.isdigit() or c in "-._" for c in resource["name"])
        assert resource["bytes"] == len(data)
        assert resource["hash"] == "sha256:" + hashlib.sha256(data).hexdigest()
        if resource["format"] == "csv":
            if isinstance(resource["schema"], str):       # a path beside the package
                resource = dict(resource, schema=json.loads(files["data/" + resource["schema"]]))
            header = next(csv.reader(io.StringIO(data[3:].decode("utf-8"))))
            assert [f["name"] for f in resource["schema"]["fields"]] == header
            assert {f["type"] for f in resource["schema"]["fields"]} <= {"string", "number", "integer"}
            for row in rows(data):                     # values fit their declared types
                for field in resource["schema"]["fields"]:
                    value = row[field["name"]]
                    if value and field["type"] == "number":
                        float(value)
                    if value and field["type"] == "integer":
                        int(value)
        else:
            json.loads(data)
