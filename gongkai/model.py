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
    unit: str
    parts: tuple[Part, ...]
    document: Document = Document()
    originals: tuple[Original, ...] = ()
    preamble: Optional[str] = None
    unplaced: tuple[Unplaced, ...] = ()
    source: str = ""          # path of the YAML file, relative to the project root
    links: tuple[ContentLink, ...] = field(default=(), compare=False)   # relative Markdown links
    pos: Optional[Pos] = field(default=None, compare=False)

    @property
    def projects(self) -> tuple[Project, ...]:
        """All project tables of all parts, in document order."""
        return tuple(p for part in self.parts for p in part.projects)

    def project_unit(self, project: Project) -> str:
        return project.unit or self.unit
