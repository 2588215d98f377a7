"""The deterministic YAML writer: quoting, layout, and that everything reads back unchanged."""
from __future__ import annotations

from decimal import Decimal

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from gongkai.yamlout import double_quoted, dump, plain_ok

try:
    from yaml import CSafeLoader as Loader   # what gongkai/load.py reads with
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as Loader


def load(text: str):
    return yaml.load(text, Loader=Loader)


@pytest.mark.parametrize("text", [
    "287002", "01234", "1.", "1.10", "4000.00", "yes", "NO", "null", "~", "true",
    "2020-01-01", "- 1、列表", "a: b", "#注释", "注释 #x", "@x", "`x", "'x", '"x', "[x]",
    "{x}", "*x", "&x", "!x", "%x", "|x", ">100大于90%", " 前导空格", "尾随空格 ", "", "a\tb",
])
def test_text_that_yaml_would_misread_is_quoted(text):
    assert not plain_ok(text)
    line = dump({"k": text}).rstrip("\n")
    assert line.startswith('k: "'), line
    assert load(line) == {"k": text}


@pytest.mark.parametrize("text", [
    "100%", "≥4 次", "(草案)", "1、", "（一）", "一、", "第一部分", "3 月底", "冀财资[2017]674号",
    "287-0601-JBN-CK81", "13012322P00258110508R", "2022 年部门预算绩效文本", "≥9595%及以上",
    "540元/人·月", "3500 元 / 月 * 9 个教学月", "a:b", "x-y",
])
def test_plain_text_stays_plain(text):
    assert plain_ok(text)
    assert dump({"k": text}) == f"k: {text}\n"


def test_amounts_are_written_as_held():
    out = dump({"budget": Decimal("4000.00"), "fiscal": Decimal("0.19"), "other": Decimal("5")})
    assert out == "budget: 4000.00\n\nfiscal: 0.19\n\nother: 5\n"


def test_multi_line_text_is_a_literal_block():
    out = dump({"parts": [{"text": "第一段\n\n第二段\n接着一行"}]})
    assert out == "parts:\n  - text: |-\n      第一段\n\n      第二段\n      接着一行\n"
    assert load(out) == {"parts": [{"text": "第一段\n\n第二段\n接着一行"}]}


@pytest.mark.parametrize("text", ["行尾空格 \n下一行", " 前导\n下一行", "以换行结束\n", "制表\t\n下一行",
                                  "a\r\nb", "a\u2028b"])
def test_multi_line_text_a_block_cannot_hold_is_double_quoted(text):
    out = dump({"k": text})
    assert out.startswith('k: "')
    assert load(out) == {"k": text}


def test_layout_follows_the_format_example():
    data = {
        "year": 2022,
        "agency": {"name": "中共正定县委老干部局本级", "code": "287001", "region": "石家庄市正定县"},
        "document": {"title": "中共正定县委老干部局\n2022 年部门预算绩效文本", "toc_printed": True},
        "unit": "万元",
        "parts": [{"number": "第二部分", "title": "预算项目绩效目标", "projects": [
            {"number": "1.", "title": "某绩效目标表", "toc": {"text": "1.某绩效目标表", "page": 10},
             "budget": Decimal("5.00"), "other": None, "plan": [{"period": "3 月底", "value": Decimal("1.50")},
                                                               {"period": "6 月底"}],
             "indicators": []}]}],
    }
    assert dump(data) == """\
year: 2022

agency:
  name: 中共正定县委老干部局本级
  code: "287001"
  region: 石家庄市正定县

document:
  title: |-
    中共正定县委老干部局
    2022 年部门预算绩效文本
  toc_printed: true

unit: 万元

parts:
  - number: 第二部分
    title: 预算项目绩效目标
    projects:
      - number: "1."
        title: 某绩效目标表
        toc:
          text: 1.某绩效目标表
          page: 10
        budget: 5.00
        plan:
          - period: 3 月底
            value: 1.50
          - period: 6 月底
"""


def test_none_and_empty_values_are_left_out():
    assert dump({"a": "x", "b": None, "c": [], "d": {}, "e": {"f": None, "g": "y"}}) == "a: x\n\ne:\n  g: y\n"
    assert dump({"a": "x", "toc": {"text": None, "page": None}}) == "a: x\n"


def test_no_unicode_escapes_for_printable_text():
    out = dump({"k": "“引号”，全角（括号）≧≥·"})
    assert "\\u" not in out and "“引号”" in out


def test_double_quoted_escapes_only_what_it_must():
    assert double_quoted('a"b\\c\nd') == '"a\\"b\\\\c\\nd"'
    assert double_quoted("中文") == '"中文"'
    assert load("k: " + double_quoted("\x00\x07\x85\ufeff\u2029")) == {"k": "\x00\x07\x85\ufeff\u2029"}


TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
CJKISH = st.text(st.sampled_from(list("中文，。：；“”（）- #:>|*&!%@`'\"\n\t 1.0年月≥") + ["\u3000", "\x85"]),
                 max_size=30)


@given(st.one_of(TEXT, CJKISH))
def test_any_text_reads_back_unchanged(text):
    out = dump({"k": text, "items": [{"t": text, "n": text}]})
    assert load(out) == {"k": text, "items": [{"t": text, "n": text}]}
    assert dump({"k": text, "items": [{"t": text, "n": text}]}) == out  # deterministic


@given(st.recursive(
    st.one_of(TEXT, st.none(), st.integers(0, 10**6), st.booleans(),
              st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False)),
    lambda inner: st.one_of(
        st.lists(st.dictionaries(st.from_regex(r"[a-z]{1,8}", fullmatch=True), inner, min_size=1),
                 min_size=1, max_size=3),
        st.dictionaries(st.from_regex(r"[a-z]{1,8}", fullmatch=True), inner, min_size=1, max_size=4)),
    max_leaves=12))
def test_nested_data_reads_back(value):
    data = {"root": value}
    expected = _as_loaded(data)
    assert (load(dump(data)) or {}) == expected  # nothing to write reads as None


def _as_loaded(value):
    """What the YAML should read back as: Decimals as numbers, empty containers left out."""
    if isinstance(value, dict):
        return {k: _as_loaded(v) for k, v in value.items() if not _empty(v)}
    if isinstance(value, list):
        return [_as_loaded(v) if not _empty(v) else {} for v in value]
    if isinstance(value, Decimal):
        text = format(value, "f")
        return float(text) if "." in text else int(text)
    return value


def _empty(value) -> bool:
    if isinstance(value, dict):
        return all(_empty(v) for v in value.values())
    return value is None or (isinstance(value, list) and not value)
