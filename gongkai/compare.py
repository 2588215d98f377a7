"""An agency over the years: what changed from one agency year to the next (derived).

Works on the agency-year JSON files of data/ (`opendata.agency_year_json`), so the pages
that compare years are made where the site-wide pages are, from files the build has
already written. Everything here is derived and labelled so; the printed record is only
quoted, never changed.

- Projects are matched by their code (spaces removed) when both years print one, else by
  their name as printed; each pair says which rule matched it. A project of the newer
  year with no match was added, one of the older year with none was dropped.
- The indicators of a matched pair are matched by their 三级指标 (spaces removed); a
  changed 指标值, an added and a dropped indicator are listed.
- The 总体绩效目标 texts are set side by side with the characters that differ marked.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Optional

GOALS_TITLES = ("总体绩效目标", "总体目标", "整体绩效目标")
MAX_DIFF_CHARS = 20_000      # longer texts are set side by side without marks (difflib is quadratic)


@dataclass(frozen=True)
class IndicatorChange:
    kind: str                     # "changed", "added", "dropped"
    name: str                     # 三级指标 as printed (the newer year's when both)
    old: Optional[str] = None     # 指标值 as printed
    new: Optional[str] = None


@dataclass(frozen=True)
class ProjectPair:
    old: dict
    new: dict
    rule: str                     # "项目编码" or "项目名称"
    indicators: tuple[IndicatorChange, ...] = ()

    @property
    def budget_change(self) -> Optional[Decimal]:
        """New minus old budget when both are printed in one unit (derived)."""
        a, b = amount(self.old.get("budget")), amount(self.new.get("budget"))
        if a is None or b is None or self.old.get("_unit") != self.new.get("_unit"):
            return None
        return b - a


@dataclass(frozen=True)
class Comparison:
    old_year: int
    new_year: int
    continued: tuple[ProjectPair, ...]
    added: tuple[dict, ...]
    dropped: tuple[dict, ...]
    goals: Optional[tuple[list[tuple[str, str]], list[tuple[str, str]]]] = None   # marked old, new
    counts: dict = field(default_factory=dict)


def squash(text: Optional[str]) -> str:
    return re.sub(r"\s+", "", text or "")


def amount(text) -> Optional[Decimal]:
    if text is None:
        return None
    try:
        return Decimal(str(text).replace(",", ""))
    except InvalidOperation:
        return None


def projects(year: dict) -> list[dict]:
    """Every project table of an agency year's JSON, in order, each with its unit (`_unit`)."""
    out = []
    for part in year.get("parts", []):
        for project in part.get("projects", []):
            out.append(project | {"_unit": project.get("unit") or year.get("unit")})
    return out


def goals_text(year: dict) -> Optional[str]:
    """The text of the first section titled 总体绩效目标 (or 总体目标), as printed."""
    stack = [s for part in year.get("parts", []) for s in part.get("sections", [])]
    while stack:
        section = stack.pop(0)
        if any(t in squash(section.get("title")) for t in GOALS_TITLES) and section.get("text"):
            return section["text"]
        stack[:0] = section.get("sections", [])
    return None


def compare(old: dict, new: dict) -> Comparison:
    """What changed from the agency year `old` to `new` (both agency-year JSON data)."""
    olds, news = projects(old), projects(new)
    pairs: list[ProjectPair] = []
    taken_old: set[int] = set()
    matched_new: set[int] = set()
    for rule, key in (("项目编码", lambda p: squash(p.get("code"))), ("项目名称", lambda p: squash(p.get("name")))):
        by_key: dict[str, int] = {}
        for i, p in enumerate(olds):
            if i not in taken_old and key(p) and key(p) not in by_key:
                by_key[key(p)] = i
        for j, p in enumerate(news):
            if j in matched_new or not key(p):
                continue
            i = by_key.pop(key(p), None)
            if i is not None:
                taken_old.add(i)
                matched_new.add(j)
                pairs.append(ProjectPair(olds[i], p, rule, indicator_changes(olds[i], p)))
    order = {id(p): j for j, p in enumerate(news)}
    pairs.sort(key=lambda pair: order[id(pair.new)])
    added = tuple(p for j, p in enumerate(news) if j not in matched_new)
    dropped = tuple(p for i, p in enumerate(olds) if i not in taken_old)
    goals = None
    a, b = goals_text(old), goals_text(new)
    if a is not None or b is not None:
        goals = marked(a or "", b or "")
    counts = {"code": sum(p.rule == "项目编码" for p in pairs), "name": sum(p.rule == "项目名称" for p in pairs)}
    return Comparison(old.get("year"), new.get("year"), tuple(pairs), added, dropped, goals, counts)


def indicator_changes(old: dict, new: dict) -> tuple[IndicatorChange, ...]:
    """Indicators changed, added and dropped between two matched projects (by 三级指标)."""
    def keyed(project: dict) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for row in project.get("indicators", []):
            name = squash(row.get("level3"))
            if name and name not in out:
                out[name] = row
        return out
    before, after = keyed(old), keyed(new)
    changes = []
    for name, row in after.items():
        if name not in before:
            changes.append(IndicatorChange("added", row.get("level3"), None, row.get("value")))
        elif squash(before[name].get("value")) != squash(row.get("value")):
            changes.append(IndicatorChange("changed", row.get("level3"), before[name].get("value"), row.get("value")))
    changes += [IndicatorChange("dropped", row.get("level3"), row.get("value"), None)
                for name, row in before.items() if name not in after]
    return tuple(changes)


def marked(old: str, new: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Both texts as runs of (kind, text): "same", or "del" (only in the old text) and "ins"
    (only in the new one)."""
    if len(old) + len(new) > MAX_DIFF_CHARS:
        return [("same", old)], [("same", new)]
    left: list[tuple[str, str]] = []
    right: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            left.append(("same", old[i1:i2]))
            right.append(("same", new[j1:j2]))
            continue
        if i2 > i1:
            left.append(("del", old[i1:i2]))
        if j2 > j1:
            right.append(("ins", new[j1:j2]))
    return left, right
