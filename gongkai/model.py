"""The content model: frozen dataclasses built by `validate` from a YAML file. No I/O here.

Text fields hold the printed text unchanged; amounts are `Decimal` read from the file's own
characters. Everything derived (parsed values, notes) lives in `derive.py`, not here.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Optional, Union


@dataclass(frozen=True)
class Pos:
    """Where a value was written: file path and 1-based line and column."""
    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class TocEntry:
    text: str
    page: Optional[Union[int, str]] = None


class Amount(Decimal):
    """An amount printed with thousands separators (`3,309,840.00`): its exact value, and
    the text as printed, which the pages and the JSON show."""
    printed: str

    def __new__(cls, printed: str) -> "Amount":
        self = super().__new__(cls, printed.replace(",", ""))
        self.printed = printed
        return self

    def __reduce__(self):
        return (Amount, (self.printed,))   # Decimal's own would drop `printed` (build workers pickle)


# The fields of a table that other provinces' forms print and Hebei's does not: kept out of
# the JSON when empty, so that a file of the Hebei form exports as it always has.
FORM = {"form": True}


@dataclass(frozen=True)
class Column:
    """One column of an indicator table as printed: its label, and the known column it is
    (`level1` … `basis`), or None for a further column whose cells are in `Indicator.more`."""
    label: str
    key: Optional[str] = None


# The Hebei form's indicator table: the six columns every table has unless it says otherwise.
STANDARD_COLUMNS = (Column("一级指标", "level1"), Column("二级指标", "level2"), Column("三级指标", "level3"),
                    Column("绩效指标描述", "description"), Column("指标值", "value"),
                    Column("指标值确定依据", "basis"))
COLUMN_KEYS = tuple(c.key for c in STANDARD_COLUMNS)
# The known fields of a project table and the Hebei form's label of each (`Project.labels`
# names the labels another form prints them under).
FIELD_LABELS = {"code": "项目编码", "name": "项目名称", "budget": "预算数", "fiscal": "其中：财政资金",
                "other": "其他资金", "purpose": "资金用途", "plan": "资金支出计划（%）",
                "goals": "绩效目标", "period_goals": "实施期绩效目标"}


@dataclass(frozen=True)
class FieldTable:
    """A small table printed inside a labelled field (a cost breakdown): cells as printed."""
    header: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class Field:
    """A labelled field of the form beyond the known ones, with its value, nested fields
    (a funding breakdown) or a small table, as printed."""
    label: str
    value: Optional[str] = None
    fields: tuple["Field", ...] = ()
    table: Optional[FieldTable] = None


@dataclass(frozen=True)
class ParsedValue:
    """A reading of a printed 指标值: comparator (≥ > ≤ < =), number, unit (or None)."""
    comparator: str
    number: Decimal
    unit: Optional[str] = None


@dataclass(frozen=True)
class Indicator:
    level1: Optional[str] = None
    level2: Optional[str] = None
    level3: Optional[str] = None
    description: Optional[str] = None
    value: Optional[str] = None
    basis: Optional[str] = None
    parsed: Optional[ParsedValue] = None   # editor's override, from YAML
    more: Optional[dict[str, str]] = field(default=None, hash=False, metadata=FORM)  # further columns
    pos: Optional[Pos] = field(default=None, compare=False)


@dataclass(frozen=True)
class PlanPoint:
    period: str
    value: Optional[Decimal] = None


@dataclass(frozen=True)
class Project:
    title: str
    number: Optional[str] = None
    toc: Optional[TocEntry] = None
    agency_line: Optional[str] = None
    unit: Optional[str] = None
    code: Optional[str] = None
    name: Optional[str] = None
    budget: Optional[Decimal] = None
    fiscal: Optional[Decimal] = None
    other: Optional[Decimal] = None
    purpose: Optional[str] = None
    plan: tuple[PlanPoint, ...] = ()
    goals: Optional[str] = None
    indicators: tuple[Indicator, ...] = ()
    remarks: Optional[str] = None
    labels: Optional[dict[str, str]] = field(default=None, hash=False, metadata=FORM)
    period_goals: Optional[str] = field(default=None, metadata=FORM)
    fields: tuple[Field, ...] = field(default=(), metadata=FORM)
    columns: tuple[Column, ...] = field(default=(), metadata=FORM)
    period_indicators: tuple[Indicator, ...] = field(default=(), metadata=FORM)
    period_columns: tuple[Column, ...] = field(default=(), metadata=FORM)
    pos: Optional[Pos] = field(default=None, compare=False)


@dataclass(frozen=True)
class Section:
    title: str
    number: Optional[str] = None
    toc: Optional[TocEntry] = None
    text: Optional[str] = None
    sections: tuple["Section", ...] = ()
    pos: Optional[Pos] = field(default=None, compare=False)


@dataclass(frozen=True)
class Part:
    title: str
    number: Optional[str] = None
    toc: Optional[TocEntry] = None
    text: Optional[str] = None
    sections: tuple[Section, ...] = ()
    projects: tuple[Project, ...] = ()
    pos: Optional[Pos] = field(default=None, compare=False)


@dataclass(frozen=True)
class Agency:
    name: str
    region: str
    code: Optional[str] = None
    slug: Optional[str] = None

    @property
    def ident(self) -> str:
        """The identifier used in URLs and the file name: slug if given, else code."""
        return self.slug or self.code or ""


@dataclass(frozen=True)
class Document:
    title: Optional[str] = None
    status: Optional[str] = None
    compiler: Optional[str] = None
    reviewer: Optional[str] = None
    published: Optional[datetime.date] = None
    toc_printed: bool = False


@dataclass(frozen=True)
class Original:
    file: str
    title: str
    note: Optional[str] = None
    # Pages of the file before its printed page 1 (a cover, an unnumbered 目录): the
    # printed page N is page N + page_offset of the PDF.
    page_offset: Optional[int] = field(default=None, metadata=FORM)


@dataclass(frozen=True)
class Unplaced:
    line: int
    text: str


@dataclass(frozen=True)
class ContentLink:
    """A relative link written in a Markdown field, where it was written: the built pages
    are checked for it, and a broken one is reported here, not on the page."""
    url: str
    pos: Pos


@dataclass(frozen=True)
class AgencyYear:
    year: int
    agency: Agency
    unit: Optional[str]       # None: the document prints no unit (pages say 未注明)
    parts: tuple[Part, ...]
    document: Document = Document()
    originals: tuple[Original, ...] = ()
    preamble: Optional[str] = None
    unplaced: tuple[Unplaced, ...] = ()
    given: tuple[str, ...] = field(default=(), metadata=FORM)   # facts given at import, not printed
    source: str = ""          # path of the YAML file, relative to the project root
    links: tuple[ContentLink, ...] = field(default=(), compare=False)   # relative Markdown links
    pos: Optional[Pos] = field(default=None, compare=False)

    @property
    def projects(self) -> tuple[Project, ...]:
        """All project tables of all parts, in document order."""
        return tuple(p for part in self.parts for p in part.projects)

    def project_unit(self, project: Project) -> Optional[str]:
        return project.unit or self.unit
