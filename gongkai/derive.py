"""Derived values: what the site computes from the printed record, never stored in content.

Parsed 指标值, merged-cell spans, URL slugs, totals and consistency notes. Notes are facts
about the official document (amounts that do not add up, plans short of 100%…): reported by
`check`, shown on the pages labelled as derived, never corrected. Reader-facing text is zh-CN.
"""
from __future__ import annotations

import datetime
import decimal
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Optional

from . import measure, urls
from .errors import NOTE, Problem
from .measure import Tally
from .model import Agency, AgencyYear, Indicator, ParsedValue, PlanPoint, Pos, Project
from .validate import COMPARATORS, MAX_DIGITS, URL_SAFE_RE, name_key, windows_device
from .values import has_measure, parse_value

# National indicator vocabulary (财预〔2015〕88号; older Hebei templates print 效果指标).
LEVEL2_BY_LEVEL1 = {
    "产出指标": {"数量指标", "质量指标", "时效指标", "成本指标"},
    "效益指标": {"经济效益指标", "社会效益指标", "生态效益指标", "可持续影响指标", "可持续性影响指标"},
    "满意度指标": {"服务对象满意度指标"},
    "成本指标": {"经济成本指标", "社会成本指标", "生态环境成本指标"},
}
LEVEL2_BY_LEVEL1["效果指标"] = LEVEL2_BY_LEVEL1["效益指标"]
# Spellings mapped to one category for search filters; the page always shows the printed text.
CANONICAL_LEVEL1 = {"效果指标": "效益指标"}
# Arithmetic on amounts is exact (D21): an amount has at most MAX_DIGITS digits, so a sum of
# 200,000 of them fits, and a share of the budget is rounded only to its 2 printed decimals.
# (Python's default 28 digits rounded a 60-digit sum and wrote it as 1.23…E+59.)
DERIVED = decimal.Context(prec=4 * MAX_DIGITS, rounding=decimal.ROUND_HALF_EVEN)


@dataclass(frozen=True)
class Row:
    """One indicator row ready for the table: merged cells resolved, value read."""
    indicator: Indicator
    level1: Optional[str]          # effective category (continued from the row above)
    level2: Optional[str]
    level1_span: int               # rows the 一级 cell spans here; 0 = covered by the cell above
    level2_span: int
    parsed: Optional[ParsedValue]
    parsed_by: Optional[str]       # "editor" (from `parsed:` in YAML) or "parser"
    measure: Optional[str] = None  # measurability class (measure.py); None: the row prints no indicator


@dataclass(frozen=True)
class PlanRow:
    point: PlanPoint
    percent: Optional[Decimal]     # share of the budget when the plan prints amounts


@dataclass(frozen=True)
class ProjectFacts:
    project: Project
    index: int                     # 1-based position in the document
    slug: str                      # URL segment
    unit: Optional[str]            # None: not printed
    rows: tuple[Row, ...]
    plan_kind: Optional[str]       # "percent", "amount" or None (no values / cannot tell)
    plan: tuple[PlanRow, ...]
    categories: tuple[str, ...]    # canonical 一级指标 present, in order
    notes: tuple[str, ...]         # zh-CN consistency notes
    period_rows: tuple[Row, ...] = ()   # the 实施期 indicator table's rows
    measure: Tally = Tally()   # measurability of rows + period_rows (derived)


@dataclass(frozen=True)
class YearFacts:
    year: AgencyYear
    projects: tuple[ProjectFacts, ...]
    total_budget: Optional[Decimal]
    notes: tuple[str, ...]         # zh-CN notes about the document as a whole
    problems: tuple[Problem, ...]  # every note with its position, for `check`
    measure: Tally = Tally()   # its projects' measurability, pooled (derived)


def _squash(text: Optional[str]) -> str:
    return re.sub(r"\s+", "", text or "")


def _rows(indicators: tuple[Indicator, ...]) -> tuple[Row, ...]:
    level1, level2 = None, None
    effective = []
    for ind in indicators:
        if ind.level1:
            level1, level2 = ind.level1, None
        if ind.level2:
            level2 = ind.level2
        effective.append((level1, level2))
    rows = []
    for i, ind in enumerate(indicators):
        span1 = span2 = 0
        if ind.level1 or i == 0:
            span1 = 1 + next((k for k, later in enumerate(indicators[i + 1:]) if later.level1),
                             len(indicators) - i - 1)
        if ind.level2 or ind.level1 or i == 0:
            span2 = 1
            for later in indicators[i + 1:]:
                if later.level1 or later.level2:
                    break
                span2 += 1
        parsed, by = (ind.parsed, "editor") if ind.parsed else (_reading(ind), "parser")
        kind = (measure.classify(ind.value, parsed)
                if measure.is_indicator(ind.level3, ind.description, ind.value) else None)
        rows.append(Row(ind, effective[i][0], effective[i][1], span1, span2, parsed,
                        by if parsed else None, kind))
    return tuple(rows)


# Further columns of other provinces' forms that print part of a value: its comparator
# (指标性质 ≥ / = / ≤) and its unit. A bare number in 指标值 is read with them.
COMPARATOR_COLUMNS = ("指标性质",)
UNIT_COLUMNS = ("度量单位", "计量单位")
BARE_NUMBER_RE = re.compile(r"^[0-9]+(?:\.[0-9]+)?$")


def _reading(ind: Indicator) -> Optional[ParsedValue]:
    """The one reading of a row's 指标值, with the comparator and unit its form prints in
    columns of their own; a column holding anything else (定性) leaves the value as it reads."""
    more = ind.more or {}
    value = (ind.value or "").strip()
    if more and BARE_NUMBER_RE.match(value):
        comparator = next((more[c].strip() for c in COMPARATOR_COLUMNS if c in more), None)
        unit = next((more[c].strip() for c in UNIT_COLUMNS if (more.get(c) or "").strip()), None)
        if comparator is not None and comparator not in COMPARATORS:
            return None          # a 指标性质 such as 定性 is not a comparator to guess past
        if comparator or unit:
            return ParsedValue(comparator or "=", Decimal(value), unit)
    return parse_value(ind.value)


def _plan(project: Project) -> tuple[Optional[str], tuple[PlanRow, ...]]:
    values = [p.value for p in project.plan if p.value is not None]
    budget = project.budget
    kind = None
    if values:
        last = values[-1]
        if budget is not None and budget != 100 and last == budget:
            kind = "amount"
        elif max(values) <= 100:
            kind = "percent"
        elif budget is not None and max(values) <= budget:
            kind = "amount"
    rows = []
    for point in project.plan:
        percent = None
        if kind == "amount" and point.value is not None and budget:
            percent = (point.value * 100 / budget).quantize(Decimal("0.01"))
        rows.append(PlanRow(point, percent))
    return kind, tuple(rows)


def _project_notes(project: Project, unit: Optional[str], kind: Optional[str], rows: tuple[Row, ...]) -> list[tuple[str, Optional[Pos]]]:
    """Notes on amounts and indicators; amounts written `:f`, as printed (`str` writes
    0.0000001 as 1E-7)."""
    notes: list[tuple[str, Optional[Pos]]] = []
    pos = project.pos
    unit = unit or ""
    b, f, o = project.budget, project.fiscal, project.other
    if b is not None and f is not None and f + (o or 0) != b:
        other = f"其他资金 {o:f}" if o is not None else "其他资金（空白）"
        notes.append((f"财政资金 {f:f} + {other} = {f + (o or 0):f}{unit}，与预算数 {b:f}{unit} 不一致。", pos))
    values = [(p.period, p.value) for p in project.plan if p.value is not None]
    for (p1, v1), (p2, v2) in zip(values, values[1:]):
        if v2 < v1:
            notes.append((f"资金支出计划不是逐期累计：{p1} 为 {v1:f}，{p2} 为 {v2:f}。", pos))
            break
    if values:
        period, last = values[-1]
        if kind == "percent" and last != 100:
            notes.append((f"资金支出计划累计至 {period} 为 {last:f}%，未达到 100%。", pos))
        elif kind == "amount" and b is not None and last != b:
            notes.append((f"资金支出计划累计至 {period} 为 {last:f}{unit}，与预算数 {b:f}{unit} 不一致。", pos))
        elif kind is None:
            notes.append(("无法判断资金支出计划列的是百分比还是金额。", pos))
        if kind == "amount":
            notes.append((f"资金支出计划表头为“（%）”，但所列数值是以{unit}计的累计金额（按与预算数一致判断）。", pos))
    for n, row in enumerate(rows, 1):
        ind = row.indicator
        if ind.level1 and ind.level1 not in LEVEL2_BY_LEVEL1:
            notes.append((f"一级指标“{ind.level1}”不在常用指标体系（产出、效益/效果、满意度、成本指标）中。", ind.pos))
        if ind.level2 and row.level1 in LEVEL2_BY_LEVEL1 and ind.level2 not in LEVEL2_BY_LEVEL1[row.level1]:
            notes.append((f"二级指标“{ind.level2}”通常不属于一级指标“{row.level1}”。", ind.pos))
        if not has_measure(ind.value):
            what = f"“{ind.level3}”" if ind.level3 else f"（第 {n} 行）"
            notes.append((f"指标{what}的指标值未给出可衡量的数值。", ind.pos))
    return notes


def _toc_note(number: Optional[str], title: str, toc, pos: Optional[Pos]) -> list[tuple[str, Optional[Pos]]]:
    if toc is None:
        return []
    heading = _squash((number or "") + title)
    if _squash(toc.text) in (heading, _squash(title)):
        return []
    return [(f"目录条目“{toc.text}”与正文标题“{(number or '') + title}”文字不同。", pos)]


def _slugs(projects: tuple[Project, ...]) -> list[str]:
    """Each project table's URL segment: its code when the code can be one, else its
    position; a segment already taken (a code printed twice, or a code that is another
    table's fallback) or used by the agency year's own page gets the position added. A code
    Windows reserves (`CON`, `aux.1`) cannot be one, and taken means as a case-insensitive
    file system compares (`P001` and `p001` are one folder on Windows and macOS) (D20)."""
    slugs, seen = [], {name_key(n) for n in urls.YEAR_FOLDER_NAMES}
    for i, project in enumerate(projects, 1):
        code = _squash(project.code)
        slug = code if code and URL_SAFE_RE.match(code) and not windows_device(code) else str(i)
        if name_key(slug) in seen:
            slug = f"{slug}-{i}"   # a code printed twice still gets two pages
        while name_key(slug) in seen:
            slug += f"-{i}"
        seen.add(name_key(slug))
        slugs.append(slug)
    return slugs


def derive_year(year: AgencyYear) -> YearFacts:
    """All derived facts of one agency year."""
    with decimal.localcontext(DERIVED):
        return _derive_year(year)


def _derive_year(year: AgencyYear) -> YearFacts:
    """derive_year's work, in the exact decimal context."""
    located: list[tuple[str, Optional[Pos]]] = []
    for part in year.parts:
        located += _toc_note(part.number, part.title, part.toc, part.pos)
        stack = list(part.sections)
        while stack:
            section = stack.pop(0)
            located += _toc_note(section.number, section.title, section.toc, section.pos)
            stack[:0] = section.sections
    doc_notes = [n for n, _ in located]

    projects = year.projects
    codes = [_squash(p.code) for p in projects]
    facts = []
    for i, (project, slug) in enumerate(zip(projects, _slugs(projects)), 1):
        unit = year.project_unit(project)
        rows = _rows(project.indicators)
        kind, plan = _plan(project)
        notes = _toc_note(project.number, project.title, project.toc, project.pos)
        notes += _project_notes(project, unit, kind, rows)
        if codes[i - 1] and codes.count(codes[i - 1]) > 1:
            notes.append((f"项目编码 {project.code} 在本文件中出现不止一次。", project.pos))
        period_rows = _rows(project.period_indicators)
        categories = []
        for row in rows + period_rows:
            cat = CANONICAL_LEVEL1.get(row.level1, row.level1) if row.level1 else None
            if cat and cat not in categories:
                categories.append(cat)
        counted = measure.tally((r.measure, r.measure is not None) for r in period_rows + rows)
        facts.append(ProjectFacts(project, i, slug, unit, rows, kind, plan, tuple(categories),
                                  tuple(n for n, _ in notes), period_rows, counted))
        located += notes

    budgets = [p.budget for p in projects if p.budget is not None]
    units = {year.project_unit(p) for p in projects}
    total = sum(budgets, Decimal(0)) if budgets and len(units) <= 1 else None
    problems = tuple(
        Problem(pos.file if pos else year.source, pos.line if pos else 1, pos.column if pos else 1,
                message, NOTE) for message, pos in located)
    return YearFacts(year, tuple(facts), total, tuple(doc_notes), problems,
                     measure.total(pf.measure for pf in facts))


@dataclass(frozen=True)
class YearOutline:
    """An agency year as the pages that list every agency year read it (home, site map,
    feeds, site-wide data) and as the checks across files need it. A build worker hands
    this back instead of the whole document."""
    source: str                       # the content file, relative to the project root
    year: int
    agency: Agency
    unit: Optional[str]
    published: Optional[datetime.date]
    total_budget: Optional[Decimal]
    slugs: tuple[str, ...]            # its project pages, in document order
    originals: tuple[str, ...]        # file names
    measure: Tally = Tally()   # measurability of its indicator rows (derived)
    # The method page's examples: (class, printed 指标值, project slug), the first few
    # distinct values of each class in document order.
    measure_examples: tuple[tuple[str, str, str], ...] = ()

    @property
    def ident(self) -> str:
        return self.agency.ident

    def paths(self) -> list[str]:
        """Every output path of this agency year: pages, originals, data files."""
        year, ident = self.year, self.ident
        return ([urls.year_page(year, ident)] + [urls.project_page(year, ident, s) for s in self.slugs]
                + [urls.original(year, ident, f) for f in self.originals]
                + [urls.extracted_page(year, ident, f) for f in self.originals if urls.is_extracted(f)]
                + list(urls.year_data(year, ident).values()))


def outline(facts: YearFacts) -> YearOutline:
    year = facts.year
    return YearOutline(year.source, year.year, year.agency, year.unit, year.document.published,
                       facts.total_budget, tuple(pf.slug for pf in facts.projects),
                       tuple(o.file for o in year.originals), facts.measure, _examples(facts))


EXAMPLES_PER_YEAR = 3   # per class: enough for the method page, small in a worker's answer


def _examples(facts: YearFacts) -> tuple[tuple[str, str, str], ...]:
    """The first EXAMPLES_PER_YEAR distinct printed values of each class, with their project."""
    seen: dict[str, list[str]] = {}
    out = []
    for pf in facts.projects:
        for row in pf.period_rows + pf.rows:
            if row.measure is None:
                continue
            values = seen.setdefault(row.measure, [])
            text = row.indicator.value or ""
            if text not in values and len(values) < EXAMPLES_PER_YEAR:
                values.append(text)
                out.append((row.measure, text, pf.slug))
    return tuple(out)
