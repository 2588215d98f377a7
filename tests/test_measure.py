"""Measurability (gongkai/measure.py): the class of each printed 指标值, the derived share,
and where both are shown (pages, open data, the method page)."""
from __future__ import annotations

import csv
import html
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from gongkai import measure
from gongkai.config import load_config
from gongkai.derive import _rows
from gongkai.measure import (BLANK, MEASURABLE, NUMBER, SCALE, UNCLASSIFIED, WORDS, Tally, classify,
                             tally, total)
from gongkai.model import Indicator, ParsedValue
from gongkai import site as pipeline
from gongkai.site import render_site
from gongkai import urls
from gongkai.values import parse_value

REPO = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).parent / "fixtures" / "site"


def kind(value):
    """The class of a printed value as the Hebei form gives it (no further columns)."""
    return _rows((Indicator(level3="指标", value=value),))[0].measure


# --- the rules, with printed values of the seed documents ---------------------------------

@pytest.mark.parametrize("value", [
    "≥95%", "≥4 次", "≥10 人", "540元/人·月", "≥9595%及以上", "≥100100%", "100等于100%",
    "≥90大于等于90%", "≥4每年4部电教片及以上", "100百分比",
])
def test_a_number_with_unit_is_measurable(value):
    assert kind(value) == MEASURABLE


def test_a_bare_target_with_unit_is_measurable_though_no_comparator_is_printed():
    """`100%` prints no comparator; the reading's `=` is the site's. A target value with its
    unit can be checked, so it is measurable (docs/measurability.md)."""
    assert parse_value("100%") == ParsedValue("=", Decimal(100), "%")
    assert kind("100%") == MEASURABLE


@pytest.mark.parametrize("value", ["≥70及时缴纳车辆保险", "100有效改善", "≥100按计划完成", "95", "≥60"])
def test_a_number_without_unit_is_number(value):
    assert kind(value) == NUMBER


@pytest.mark.parametrize("value", [
    "≧90%为优；80%-90%为良；70%-80%为中；70%以下为差。",
    "≧90%为优秀\n90%-80%为良好\n80%-70%为中\n70%以下为差",
    "完成为合格，未完成为不合格",
])
def test_a_grading_scale_is_scale(value):
    assert kind(value) == SCALE


@pytest.mark.parametrize("value", ["为老干部安度晚年提供关心关爱", "明显提高", "及时", "进一步提高"])
def test_words_only(value):
    assert kind(value) == WORDS


@pytest.mark.parametrize("value", [None, "", "   ", "\n"])
def test_blank(value):
    assert kind(value) == BLANK


@pytest.mark.parametrize("value", [
    "≥903次及以上",          # "≥90 | 3次及以上" or "≥903 次 | 及以上"
    "≥953次及以上", "≥33次以上", "≥955个以上",
    "≥100大于等于90%",       # the remark states another number
    ">100大于90%",
    "９５％",                 # full-width digits: the parser reads ASCII digits only
    "百分之九十五",            # a number in Chinese numerals
    "三次",
    "建筑面积2.6万平方米,展示面积1万平方米",   # two numbers
])
def test_ambiguous_values_stay_unclassified(value):
    assert parse_value(value) is None
    assert kind(value) == UNCLASSIFIED


def test_other_forms_read_comparator_and_unit_from_their_columns():
    """Sichuan/Chongqing forms print 指标性质 and 度量单位/计量单位 in columns of their own."""
    rows = _rows((
        Indicator(level3="维护社会稳定", value="95", more={"指标性质": "≥", "度量单位": "%"}),
        Indicator(level3="预算执行率", value="100", more={"计量单位": "%", "指标性质": "="}),
        Indicator(level3="个数", value="3", more={"指标性质": "≥", "度量单位": ""}),
        Indicator(level3="定性", value="95", more={"指标性质": "定性", "度量单位": "%"}),
        Indicator(level3="定性文字", value="好", more={"指标性质": "定性"}),
    ))
    assert [r.measure for r in rows] == [MEASURABLE, MEASURABLE, NUMBER, UNCLASSIFIED, WORDS]


def test_an_editor_reading_decides_over_the_text():
    """`parsed:` in the content states the one reading; the class follows it."""
    row = _rows((Indicator(level3="x", value="≥903次及以上",
                           parsed=ParsedValue("≥", Decimal(90), "次")),))[0]
    assert row.measure == MEASURABLE


def test_a_row_printing_no_indicator_is_not_counted():
    """The Hunan form's placeholder rows (only 一级/二级) are not indicators."""
    rows = _rows((Indicator(level1="效益指标", level2="经济效益指标"),
                  Indicator(level3="满意度", value=""),
                  Indicator(level3="满意度", value="≥90%")))
    assert [r.measure for r in rows] == [None, BLANK, MEASURABLE]
    t = tally((r.measure, r.measure is not None) for r in rows)
    assert (t.measurable, t.classified, t.ignored, t.share) == (1, 2, 1, Decimal("50.0"))


def test_every_class_has_a_rule_a_label_and_the_last_rule_takes_everything():
    assert {r.kind for r in measure.RULES} == {k.key for k in measure.KINDS}
    assert all(k.label and k.meaning for k in measure.KINDS)
    assert measure.RULES[-1].test("anything", None)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.none(), st.text(max_size=40),
                 st.text(alphabet="0123456789≥≤=<>%％次人个.为优良中差以上及每年 ０１２三百分之", max_size=20)))
def test_classification_never_raises_and_is_deterministic(value):
    first = classify(value, parse_value(value))
    assert first in measure.LABELS
    assert classify(value, parse_value(value)) == first
    assert kind(value) == first
    if first == MEASURABLE:
        assert parse_value(value).unit
    if first in (WORDS, BLANK):
        assert parse_value(value) is None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=20), st.sampled_from(["≥", "=", "<"]),
       st.decimals(min_value=0, max_value=10 ** 6, places=2), st.one_of(st.none(), st.sampled_from(["%", "次"])))
def test_a_reading_always_decides(value, comparator, number, unit):
    """With one reading the text is never asked: measurable with a unit, else number."""
    got = classify(value, ParsedValue(comparator, number, unit))
    assert got == (BLANK if not value.strip() else MEASURABLE if unit else NUMBER)


# --- the share ----------------------------------------------------------------------------

def test_share_is_measurable_over_classified_rows():
    t = tally([(MEASURABLE, True)] * 5 + [(NUMBER, True)] * 2 + [(SCALE, True)] + [(UNCLASSIFIED, True)] * 3
              + [(WORDS, True)] + [(BLANK, True)] + [(None, False)])
    assert t.classified == 10 and t.measurable == 5 and t.count(UNCLASSIFIED) == 3 and t.ignored == 1
    assert t.share == Decimal("50.0") and t.text() == "50.0%（5/10）"


def test_share_rounds_to_one_decimal_and_is_absent_without_classified_rows():
    assert tally([(MEASURABLE, True)] + [(WORDS, True)] * 2).share == Decimal("33.3")
    assert tally([(MEASURABLE, True)] * 2 + [(WORDS, True)]).share == Decimal("66.7")
    assert Tally().share is None and Tally().text() == "—"
    only_unclassified = tally([(UNCLASSIFIED, True)])
    assert only_unclassified.share is None and only_unclassified.text() == "—"


def test_pooled_share_counts_rows_not_a_mean_of_shares():
    a = tally([(MEASURABLE, True)])                       # 100 %
    b = tally([(WORDS, True)] * 3)                        # 0 %
    assert total([a, b]).share == Decimal("25.0")        # 1 of 4 rows; the mean would be 50 %
    assert total([]) == Tally() and a + Tally() == a


def test_seed_shares():
    """The four seed agency years, as the report and docs/measurability.md state them."""
    config, _ = load_config(REPO / "site_config.yaml")
    years, problems = pipeline.load(config)
    shares = {f"{f.year.year}/{f.year.agency.ident}": f.measure.text() for f in years}
    assert shares == {"2022/287001": "96.2%（25/26）", "2020/203002": "95.9%（70/73）",
                      "2020/287002": "0.0%（0/12）", "2020/610002": "33.3%（9/27）"}
    pooled = total(f.measure for f in years)
    assert pooled.text() == "75.4%（104/138）" and pooled.count(UNCLASSIFIED) == 8
    for f in years:   # a year's tally is its projects', pooled
        assert f.measure == total(pf.measure for pf in f.projects)


# --- where it is shown --------------------------------------------------------------------

@pytest.fixture(scope="module")
def built():
    config, _ = load_config(FIXTURE / "site_config.yaml")
    years, problems = pipeline.load(config)
    assert not [p for p in problems if p.is_error], problems
    out, problems = render_site(config, years)
    assert out is not None and not problems, problems
    return years, out


def text(out, path):
    return out.files[path].decode("utf-8")


def test_project_page_shows_the_share_derived_and_links_the_method(built):
    years, out = built
    zd = next(f for f in years if f.year.agency.ident == "287001")
    pf = next(p for p in zd.projects if p.measure.classified)
    page = text(out, urls.project_page(2022, "287001", pf.slug))
    assert f"可衡量指标占比（派生）：{pf.measure.text()}，可衡量 {pf.measure.measurable}" in page
    assert '<a href="../../../indicators/method/index.html">分类规则</a>' in page


def test_agency_year_summary_and_home_show_the_share(built):
    years, out = built
    zd = next(f for f in years if f.year.agency.ident == "287001")
    page = text(out, urls.year_page(2022, "287001"))
    summary = page[page.index('id="summary"'):]
    assert "可衡量指标占比（派生）</th>" in summary
    for pf in zd.projects:
        assert f'data-label="可衡量指标占比（派生）">{pf.measure.text()}</td>' in summary
    assert f'data-label="可衡量指标占比（派生）">{zd.measure.text()}</td><td></td></tr>' in summary
    assert '<a href="../../indicators/method/index.html">' in summary
    home = text(out, urls.HOME)
    assert f'data-label="可衡量指标占比（派生）">{zd.measure.text()}</td>' in home
    assert f'href="{urls.MEASURABILITY}"' in home


def test_method_page_lists_rules_examples_and_sorted_shares(built):
    years, out = built
    page = text(out, urls.MEASURABILITY)
    for k in measure.KINDS:
        assert f'id="kind-{k.key}"' in page and k.label in page
    assert "≥4 次" in page and "明显提高" in page            # examples from the site's own data
    assert '<a href="../../2022/287001/' in page              # each example links its project
    shares = [f.measure.share for f in years]
    listed = page.index("按部门年度")
    order = [page.index(html.escape(f.year.agency.name) + " " + str(f.year.year) + " 年", listed) for f in years]
    ranked = [f for _, f in sorted(zip(order, years), key=lambda x: x[0])]
    assert [f.measure.share or -1 for f in ranked] == sorted((s or -1 for s in shares), reverse=True)


def test_open_data_has_class_and_share_columns(built):
    years, out = built
    rows = list(csv.DictReader(io.StringIO(out.files[urls.ALL_INDICATORS].decode("utf-8-sig"))))
    labels = {r["指标值"].lstrip("'"): r["可衡量性（派生）"] for r in rows}
    assert labels["≥4 次"] == "可衡量" and labels["明显提高"] == "仅文字"
    assert set(labels.values()) <= set(measure.LABELS.values()) | {""}
    projects = list(csv.DictReader(io.StringIO(out.files[urls.ALL_PROJECTS].decode("utf-8-sig"))))
    facts = [pf for f in years for pf in f.projects]
    assert len(projects) == len(facts)
    for row, pf in zip(projects, facts):
        assert row["可衡量指标数（派生）"] == str(pf.measure.measurable)
        assert row["已归类指标数（派生）"] == str(pf.measure.classified)
        assert row["可衡量占比（%，派生）"] == (f"{pf.measure.share:f}" if pf.measure.share is not None else "")
    data = json.loads(out.files[urls.year_data(2022, "287001")["json"]])
    zd = next(f for f in years if f.year.agency.ident == "287001")
    assert data["derived"]["measurability"]["classified"] == zd.measure.classified
    first = data["parts"][1]["projects"][0]["derived"]
    assert first["indicators"][0]["measure"] == MEASURABLE
    schema = json.loads(out.files[urls.data_file("schema-indicators.json")])
    assert "可衡量性（派生）" in [f["name"] for f in schema["fields"]]
    schema = json.loads(out.files[urls.data_file("schema-projects.json")])
    assert {"可衡量指标数（派生）", "已归类指标数（派生）", "可衡量占比（%，派生）"} <= {f["name"] for f in schema["fields"]}
