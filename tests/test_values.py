"""The 指标值 parser reads every form in docs/document-format.md and leaves ambiguous text alone."""
from decimal import Decimal

import pytest

from gongkai.values import has_measure, parse_value

PARSED = [
    # comparator and number, with or without a unit
    ("≥90%", "≥", "90", "%"),
    ("100%", "=", "100", "%"),
    ("≥4 次", "≥", "4", "次"),
    ("≥10 人", "≥", "10", "人"),
    ("540元/人·月", "=", "540", "元/人·月"),
    ("≥38000人", "≥", "38000", "人"),
    ("≥95.5%", "≥", "95.5", "%"),
    ("100百分比", "=", "100", "百分比"),
    ("≧90%", "≥", "90", "%"),
    ("＞80%", ">", "80", "%"),
    ("不低于95%", "≥", "95", "%"),
    # a number fused with a remark that holds no number
    ("≥70及时缴纳车辆保险", "≥", "70", None),
    ("≥100按计划完成", "≥", "100", None),
    ("100有效改善", "=", "100", None),
    # two cells fused: value + remark restating it
    ("≥9595%及以上", "≥", "95", "%"),
    ("≥9090%及以上", "≥", "90", "%"),
    ("≥100100%", "≥", "100", "%"),
    ("≥9595%", "≥", "95", "%"),
    # remark restating the value with words
    ("100等于100%", "=", "100", "%"),
    ("≥90大于等于90%", "≥", "90", "%"),
    ("≥4每年4部电教片及以上", "≥", "4", "部"),
    ("≥90每月90%以上", "≥", "90", "%"),
    ("≥3每年3部电教片", "≥", "3", "部"),
]

UNPARSED = [
    "≥33次以上",        # ≥3 + "3次以上", or ≥33 次 + "以上"
    "≥903次及以上",     # ≥90 + "3次及以上", or ≥903 次
    "≥953次及以上",
    ">100大于90%",      # the remark contradicts the value
    "≥100大于等于90%",
    "≧90%为优；80%-90%为良；70%-80%为中；70%以下为差。",   # grading scales
    "≧90%为优秀\n90%-80%为良好\n80%-70%为中\n70%以下为差",
    "90%-100%为优；80%-90%为良；70%-80%为可；70%以下为差。",
    "达到9+0%-100%为优；达到70%-90%为良；",
    "明显提高", "逐渐完善", "根据实际", "为老干部安度晚年提供关心关爱",
    "９０％",           # full-width digits stay text
    "", None,
]


@pytest.mark.parametrize("printed,comparator,number,unit", PARSED)
def test_parses(printed, comparator, number, unit):
    parsed = parse_value(printed)
    assert parsed is not None, printed
    assert (parsed.comparator, parsed.number, parsed.unit) == (comparator, Decimal(number), unit)


@pytest.mark.parametrize("printed", UNPARSED)
def test_leaves_ambiguous_text_unparsed(printed):
    assert parse_value(printed) is None


def test_number_keeps_printed_precision():
    assert str(parse_value("≥95.50%").number) == "95.50"


def test_has_measure():
    assert has_measure("≥4 次") and not has_measure("明显提高") and not has_measure(None)
