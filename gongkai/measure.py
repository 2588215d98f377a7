"""Measurability: can a reader check a printed 指标值 against what was achieved?

Each indicator row is put in one class, from its printed 指标值 and the reading `derive`
made of it (`Row.parsed`: comparator, number, unit; for other provinces' forms that reading
already takes the 指标性质 and 度量单位/计量单位 columns, see `derive._reading`). The rules
are the table `RULES` below, tried in order; the first that applies decides. Examples are
printed values of the seed documents (content/*.yaml).

    class         rule (first match wins)                                       examples
    blank         指标值 is empty (or white space)
    measurable    one reading, with a unit (comparator printed, or none          ≥95%  ≥4 次  100%
                  printed: a bare target value reads as "reaches it", =)         540元/人·月  ≥9595%及以上
    number        one reading, no unit                                           ≥70及时缴纳车辆保险  100有效改善
    scale         a grading scale: …为优；…为良 (several thresholds, no one target) ≧90%为优；80%-90%为良；…
    unclassified  digits (or a number in Chinese numerals before a unit, 百分之…)   ≥903次及以上  ≥33次以上
                  that cannot be read one way: fused cells, contradictions          ≥100大于等于90%
    words         no number at all                                              为老干部安度晚年提供关心关爱

Why a bare `100%` is measurable: the comparator is not printed, but a target value with its
unit can be checked (did the rate reach 100 %?); the reading's `=` is the site's, never shown
as printed. What a row lacks to be checkable is the unit (≥70 of what?), not the sign.
Why ambiguous values are left out: `≥903次及以上` is "≥90 | 3次及以上" or "≥903 次"; calling it
measurable or not would be a guess. Unclassified rows are counted on their own and kept out
of the share's denominator.

The derived share of a project, agency year, agency or region is

    measurable rows / classified rows

where the classified rows are every indicator row (the 实施期 table's included) except the
unclassified ones and except rows that print no indicator at all (no 三级指标, no 描述, no
指标值: the placeholder rows some forms print for unused categories). A blank 指标值 of a
named indicator counts: it is a target nobody can check. docs/measurability.md says the same
for readers of the code; the site's method page (templates/measurability.html) for citizens.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Callable, Iterable, Optional

from .model import ParsedValue
from .values import BASE_UNITS, SCALE_RE

MEASURABLE, NUMBER, SCALE, WORDS, BLANK, UNCLASSIFIED = (
    "measurable", "number", "scale", "words", "blank", "unclassified")


@dataclass(frozen=True)
class Kind:
    """One class: its key (open data JSON), its zh-CN label (pages, CSV) and what it means."""
    key: str
    label: str
    meaning: str


# Display order (pages, open data, the method page).
KINDS = (
    Kind(MEASURABLE, "可衡量", "有数值和计量单位（印有比较符，或未印比较符而按“达到该值”理解）"),
    Kind(NUMBER, "有数值无单位", "能唯一读出数值，但没有计量单位"),
    Kind(SCALE, "评分等级", "列出多档标准（…为优；…为良），不是一个目标值"),
    Kind(WORDS, "仅文字", "没有任何数字"),
    Kind(BLANK, "空白", "指标值单元格空白"),
    Kind(UNCLASSIFIED, "无法归类", "含有数字，但无法唯一读出（如两个单元格粘连、前后数值矛盾），不作猜测"),
)
BY_KEY = {k.key: k for k in KINDS}
LABELS = {k.key: k.label for k in KINDS}
COUNTED = (MEASURABLE, NUMBER, SCALE, WORDS, BLANK)   # the share's denominator

# A number written in Chinese numerals before a unit (三次, 一个), or 百分之…: a number the
# parser does not read. Such a value is not "words only"; it stays unclassified.
_NUMERAL = "零〇一二两三四五六七八九十"
CHINESE_NUMBER_RE = re.compile(
    rf"百分之[{_NUMERAL}百]|[{_NUMERAL}][{_NUMERAL}百千万]*(?:{'|'.join(re.escape(u) for u in BASE_UNITS)})")
DIGIT_RE = re.compile(r"\d")   # any digit, full-width ones too (the parser reads ASCII only)


@dataclass(frozen=True)
class Rule:
    """One rule: the class it gives and when it applies (to the printed text and its reading)."""
    kind: str
    test: Callable[[str, Optional[ParsedValue]], bool]
    says: str   # the rule in readers' words (method page)


RULES = (
    Rule(BLANK, lambda text, parsed: not text,
         "指标值单元格为空。"),
    Rule(MEASURABLE, lambda text, parsed: parsed is not None and bool(parsed.unit),
         "能唯一读出数值和计量单位（比较符印出时照读；未印比较符的，按“达到该值”理解）。"),
    Rule(NUMBER, lambda text, parsed: parsed is not None,
         "能唯一读出数值，但没有计量单位（如“≥70”后接文字说明）。"),
    Rule(SCALE, lambda text, parsed: bool(SCALE_RE.search(text)),
         "文字中有“为优”“为良”“为合格”等评分档次。"),
    Rule(UNCLASSIFIED, lambda text, parsed: bool(DIGIT_RE.search(text) or CHINESE_NUMBER_RE.search(text)),
         "含有数字，但读法不止一种或前后矛盾，系统不作猜测。"),
    Rule(WORDS, lambda text, parsed: True,
         "其余：没有任何数字，只有文字。"),
)


def classify(value: Optional[str], parsed: Optional[ParsedValue]) -> str:
    """The class of one printed 指标值 and its one reading (None: none). Never raises;
    the same input always gives the same class."""
    text = (value or "").strip()
    for rule in RULES:
        if rule.test(text, parsed):
            return rule.kind
    raise AssertionError("the last rule applies to everything")   # pragma: no cover


def is_indicator(level3: Optional[str], description: Optional[str], value: Optional[str]) -> bool:
    """Whether a row prints an indicator at all (a row of only 一级/二级 categories does not)."""
    return any((s or "").strip() for s in (level3, description, value))


@dataclass(frozen=True)
class Tally:
    """How many rows of each class (KINDS order); `ignored`: rows that print no indicator."""
    counts: tuple[int, ...] = (0,) * len(KINDS)
    ignored: int = 0

    def __add__(self, other: "Tally") -> "Tally":
        return Tally(tuple(a + b for a, b in zip(self.counts, other.counts)), self.ignored + other.ignored)

    def count(self, kind: str) -> int:
        return self.counts[_INDEX[kind]]

    @property
    def measurable(self) -> int:
        return self.count(MEASURABLE)

    @property
    def classified(self) -> int:
        """The denominator: every counted row but the unclassified."""
        return sum(self.count(k) for k in COUNTED)

    @property
    def share(self) -> Optional[Decimal]:
        """Measurable rows per 100 classified rows, to one decimal; None with none classified."""
        if not self.classified:
            return None
        return (Decimal(self.measurable * 100) / Decimal(self.classified)).quantize(
            Decimal("0.1"), rounding=ROUND_HALF_EVEN)

    def text(self) -> str:
        """`62.5%（10/16）`, or `—` when nothing was classified."""
        share = self.share
        return "—" if share is None else f"{share:f}%（{self.measurable}/{self.classified}）"


_INDEX = {k.key: i for i, k in enumerate(KINDS)}


def tally(rows: Iterable[tuple[Optional[str], bool]]) -> Tally:
    """A Tally of rows given as (class, is an indicator)."""
    counts, ignored = [0] * len(KINDS), 0
    for kind, named in rows:
        if named:
            counts[_INDEX[kind]] += 1
        else:
            ignored += 1
    return Tally(tuple(counts), ignored)


def total(tallies: Iterable[Tally]) -> Tally:
    """The pooled Tally of several (an agency's years, a region's agencies): counts add up,
    so the share is over all their rows, not a mean of shares."""
    out = Tally()
    for t in tallies:
        out = out + t
    return out
