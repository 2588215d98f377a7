"""Read a printed 指标值 as (comparator, number, unit) where it can be read only one way.

The printed text always stays as it is; this reading is a derived value shown beside it.
Forms seen in the documents (docs/document-format.md):

    ≥90%  100%  ≥4 次  540元/人·月  ≥38000人       comparator, number, unit
    ≥70及时缴纳车辆保险  100有效改善                  number fused with a remark
    ≥9595%及以上  ≥100100%  ≥33次以上                two cells fused: "≥95" + "95%及以上"
    100等于100%  ≥90大于等于90%  ≥4每年4部电教片       remark restating the number
    ≧90%为优；80%-90%为良…  明显提高                 scales and words: not a number

The rule: enumerate every way the leading digits can be split into a value and a remark,
keep the readings that are plausible, and answer only when exactly one is left. Anything
else (`≥903次及以上` is "≥90 | 3次及以上" or "≥903 次 | 及以上") stays unparsed.
"""
from __future__ import annotations

import functools
import re
from decimal import Decimal
from typing import Optional

from .model import ParsedValue

# Printed comparator -> normalised symbol. Longest words first.
COMPARATOR_WORDS = [
    ("大于等于", "≥"), ("不低于", "≥"), ("不少于", "≥"), ("不小于", "≥"), ("至少", "≥"),
    ("小于等于", "≤"), ("不高于", "≤"), ("不多于", "≤"), ("不超过", "≤"), ("不大于", "≤"),
    ("大于", ">"), ("高于", ">"), ("超过", ">"), ("小于", "<"), ("低于", "<"), ("等于", "="),
]
COMPARATOR_SIGNS = {"≥": "≥", "≧": "≥", ">=": "≥", "＞=": "≥", "≤": "≤", "≦": "≤", "<=": "≤",
                    ">": ">", "＞": ">", "<": "<", "＜": "<", "=": "=", "＝": "="}

BASE_UNITS = sorted([
    "%", "％", "‰", "百分比", "次", "人次", "人", "个", "条", "部", "项", "户", "家", "所", "场", "期",
    "天", "日", "个月", "月", "年", "元", "万元", "亿元", "篇", "名", "份", "台", "套", "辆", "批", "处",
    "平方米", "公里", "千米", "米", "小时", "分钟", "周", "课时", "学时", "本", "册", "张", "件", "座",
    "间", "所", "班", "节", "期", "届", "轮", "门", "分", "吨", "亩", "棵", "株", "盏", "公斤", "千克",
    "岁", "倍", "季度", "单", "例",
], key=len, reverse=True)
_UNIT = "(?:" + "|".join(re.escape(u) for u in BASE_UNITS) + ")"
# A unit is a base unit, optionally per something: 元/人·月, 次/年, 万元/个.
UNIT_RE = re.compile(rf"{_UNIT}(?:\s*/\s*{_UNIT}(?:[·•]{_UNIT})*)?")
NUMBER_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?")  # ASCII digits only: full-width ones stay text
PERCENT = {"%", "％", "百分比"}
SCALE_RE = re.compile(r"为(?:优|良|中|差|可|合格|不合格)")


def _comparator_prefix(text: str) -> tuple[Optional[str], str]:
    """Split a leading comparator sign or word off `text`."""
    for sign in sorted(COMPARATOR_SIGNS, key=len, reverse=True):
        if text.startswith(sign):
            return COMPARATOR_SIGNS[sign], text[len(sign):].lstrip()
    for word, symbol in COMPARATOR_WORDS:
        if text.startswith(word):
            return symbol, text[len(word):].lstrip()
    return None, text


def _unit_prefix(text: str) -> tuple[Optional[str], str]:
    """Split a unit off the start of `text` (after optional spaces)."""
    stripped = text.lstrip()
    match = UNIT_RE.match(stripped)
    if not match:
        return None, text
    return match.group(0), stripped[match.end():]


def _restated(remark: str) -> Optional[tuple[Optional[str], str, Optional[str]]]:
    """The first number a remark states: (comparator, digits, unit), or None."""
    match = NUMBER_RE.search(remark)
    if not match:
        return None
    before = remark[: match.start()]
    comparator = None
    for sign, symbol in COMPARATOR_SIGNS.items():
        if before.endswith(sign):
            comparator = symbol
    for word, symbol in COMPARATOR_WORDS:
        if before.endswith(word):
            comparator = symbol
            break
    unit, _ = _unit_prefix(remark[match.end():])
    return comparator, match.group(0), unit


def _reading(comparator: Optional[str], digits: str, tail: str) -> Optional[ParsedValue]:
    """One candidate reading: value `digits`, then `tail` (unit and/or remark); None if implausible."""
    unit, remark = _unit_prefix(tail)
    remark = remark.strip()
    if remark:
        restated = _restated(remark)
        if restated is not None:
            r_comparator, r_digits, r_unit = restated
            if Decimal(r_digits) != Decimal(digits):
                return None  # the remark states another number: a scale or a contradiction
            if r_comparator and comparator and r_comparator != comparator:
                return None
            comparator = comparator or r_comparator
            if unit is None:
                unit = r_unit
            elif r_unit and r_unit != unit:
                return None
    if unit in PERCENT and Decimal(digits) > 1000:
        return None  # "9595%" is two cells fused, not a percentage
    return ParsedValue(comparator or "=", Decimal(digits), unit)


@functools.lru_cache(maxsize=1 << 16)   # printed values repeat a lot across tables
def parse_value(printed: Optional[str]) -> Optional[ParsedValue]:
    """The one reading of a printed 指标值, or None when there is none or more than one."""
    if not printed:
        return None
    text = printed.strip()
    comparator, rest = _comparator_prefix(text)
    match = NUMBER_RE.match(rest)
    if not match:
        return None
    digits, tail = match.group(0), rest[match.end():]
    if SCALE_RE.search(text):
        return None  # a grading scale (…为优；…为良) is not one target value
    whole = _reading(comparator, digits, tail)
    # Fused cells: the value's digits run straight into a remark that starts with digits too.
    # A remark restating the value ("95" + "95%及以上") is the usual fusion and settles the
    # split; any other split that would leave a well-formed remark makes the text ambiguous.
    restating, other_splits = [], 0
    has_remark = bool(_unit_prefix(tail)[1].strip())
    if "." not in digits and (has_remark or whole is None):
        for k in range(1, len(digits)):
            value, remark = digits[:k], digits[k:] + tail
            if remark.startswith("0"):
                continue
            if remark.startswith(value) and not remark[len(value):][:1].isdigit():
                reading = _reading(comparator, value, remark)
                if reading is not None:
                    restating.append(reading)
            elif _unit_prefix(tail)[0] is not None:
                other_splits += 1
    if restating:
        readings = restating + ([whole] if whole is not None else [])
    else:
        readings = [whole] if whole is not None and not other_splits else []
    return readings[0] if len(readings) == 1 else None


def has_measure(printed: Optional[str]) -> bool:
    """Whether a printed value states any number at all (for the 'no measurable value' note)."""
    return bool(printed and re.search(r"\d", printed))


# Amount units whose value in yuan is known (search sorts by it; open data derives it).
YUAN = {"元": Decimal(1), "千元": Decimal(1000), "万元": Decimal(10000), "亿元": Decimal(100000000)}


def in_yuan(value: Optional[Decimal], unit: Optional[str]) -> Optional[Decimal]:
    """A printed amount in yuan (derived), or None when the unit is unknown or missing."""
    return value * YUAN[unit] if value is not None and unit in YUAN else None


def grouped(value: Optional[Decimal]) -> Optional[str]:
    """A derived number with digit grouping for readers (12,345.00); printed amounts are
    shown as printed, never through this."""
    return None if value is None else format(value, ",f")


def decimal_text(value: Decimal) -> str:
    """A number as printed digits, never in E notation (`str(Decimal("0.0000001"))` is `1E-7`)."""
    return format(value, "f")
