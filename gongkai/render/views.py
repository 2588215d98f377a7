"""Views: the plain dicts templates get, built from the model and `derive`.

Text as printed, amounts as `str(Decimal)`, every link already made relative to its page:
templates only place things.
"""
from __future__ import annotations

import dataclasses
import datetime
import hashlib
import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Optional

from markdown_it import MarkdownIt
from markupsafe import Markup

from .. import measure, urls
from ..config import Config
from ..history import FileDates
from ..derive import ProjectFacts, YearFacts
from ..model import FIELD_LABELS, STANDARD_COLUMNS, AgencyYear, Amount, Column, Field, Project, Section, TocEntry
from ..values import YUAN, decimal_text

SAFE_LINK_RE = re.compile(r"^(?:https?:|mailto:)", re.IGNORECASE)
SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
FORMATS = {"pdf": "PDF", "doc": "Word", "docx": "Word", "xls": "Excel", "xlsx": "Excel",
           "wps": "WPS", "txt": "纯文本", "html": "网页", "htm": "网页", "zip": "压缩包"}
CONTACT_LABELS = {"phone": "电话", "email": "电子邮箱", "address": "地址", "fax": "传真",
                  "postcode": "邮编"}
PARSED_BY = {"editor": "编辑给定", "parser": "程序解析"}


def make_markdown() -> MarkdownIt:
    """CommonMark-ish Markdown, raw HTML off, single line breaks kept, no images (no fetches)."""
    md = MarkdownIt("js-default", {"breaks": True})
    md.validateLink = _safe_link
    md.disable("image")
    return md


def _safe_link(url: str) -> bool:
    """Only http(s), mailto and relative links that stay under the site root (no `/x`)."""
    url = url.strip()
    if SAFE_LINK_RE.match(url):
        return True
    return not SCHEME_RE.match(url) and not url.startswith(("/", "\\"))


def markdown(md: MarkdownIt, text: Optional[str], root: str, heading_base: int) -> Optional[Markup]:
    """Markdown to safe HTML: relative links taken from the site root, headings shifted down."""
    if not text:
        return None
    tokens = md.parse(text)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, heading_base + int(token.tag[1]))}"
        elif token.type in ("th_open", "td_open") and "style" in token.attrs:   # the CSP blocks style=
            token.attrSet("class", "align-" + str(token.attrs.pop("style")).rpartition(":")[2])
        for child in token.children or ():
            href = child.attrGet("href") if child.type == "link_open" else None
            if href and not SCHEME_RE.match(href) and not href.startswith("#"):
                child.attrSet("href", root + href)   # content links are written from the site root
    return Markup(md.renderer.render(tokens, md.options, {}))


def entry_date(published: Optional[datetime.date], dates: Optional[FileDates]) -> Optional[datetime.date]:
    """The date an agency year was published, when one is known: the document's own, else
    the day its content file was first committed (the site's publication date); else None."""
    return published or (dates.first if dates else None)


# --- views --------------------------------------------------------------------------------

def site_view(config: Config) -> dict:
    """Facts shown on every page: title, footer (《政府网站发展指引》) and meta tags."""
    contact = [{"label": CONTACT_LABELS.get(k, ""), "value": v,
                "href": f"mailto:{v}" if k == "email" else None}
               for k, v in config.contact.items() if v]
    return {"title": config.title, "owner": config.owner, "contact": contact,
            "site_id_code": config.site_id_code, "icp": config.icp,
            "police_record": config.police_record, "site_domain": config.site_domain,
            "column_name": config.column_name, "column_type": config.column_type,
            "site_url": config.site_url}   # the printed page's address (print.css)


def page_view(path: str, title: str, crumbs: list[tuple[str, Optional[str]]], *,
              pub_date: Optional[datetime.date], source: str, description: str = "") -> dict:
    """Per-page frame: relative root, <title>, breadcrumbs (last = current page), meta tags."""
    root = urls.root_of(path)
    return {
        "path": path, "root": root, "title": title, "description": description,
        "crumbs": [{"label": label, "href": root + href if href is not None else None}
                   for label, href in crumbs],
        "pub_date": pub_date.isoformat() if pub_date else None, "source": source,
        "base": None,    # <base href>: only the 404 page, served at any depth, has one
    }


def amount(value: Optional[Decimal]) -> Optional[str]:
    """An amount exactly as printed (the digits of the Decimal read from the file, or the
    text with its thousands separators)."""
    if value is None:
        return None
    return value.printed if isinstance(value, Amount) else decimal_text(value)


# Amount units search can sort by, in yuan (docs/search.md).


def search_facets(year: AgencyYear, kind: str, budget: Optional[Decimal], unit: str,
                  categories: tuple[str, ...] = ()) -> dict[str, str]:
    """`data-search-*` attributes of a page's <article>: gongkai/search/ reads them into the
    search filters (year, region, agency, 一级指标) and the budget sort (in yuan)."""
    facets = {"data-search-kind": kind, "data-search-year": str(year.year),
              "data-search-region": year.agency.region, "data-search-agency": year.agency.name}
    if categories:
        facets["data-search-category"] = "|".join(categories)
    if budget is not None and unit in YUAN:
        facets["data-search-budget"] = format((budget * YUAN[unit]).normalize(), "f")
    return facets


def page_link(originals: list[dict], page, prefix: str = "") -> Optional[str]:
    """Link to a printed page in the first PDF original (`#page=N`, the printed number plus
    the file's `page_offset`); None where no original has pages a link can open."""
    pdf = next((o for o in originals if o["ext"] == "pdf"), None)
    if page is None or pdf is None or not str(page).isdigit():
        return None
    return f"{prefix}{pdf['href']}#page={int(page) + (pdf['page_offset'] or 0)}"


def toc_view(facts: YearFacts, originals: list[dict]) -> list[dict]:
    """The 目录: parts, sections and projects in document order, nested as in the document."""
    year = facts.year
    by_project = {id(pf.project): pf for pf in facts.projects}

    def entry(number, title, toc: Optional[TocEntry], href, children) -> dict:
        page = toc.page if toc is not None else None
        return {"text": toc.text if toc else (number or "") + title, "href": href,
                "page": page, "page_href": page_link(originals, page), "children": children}

    def keep(item) -> bool:
        return item.toc is not None or not year.document.toc_printed

    def sections(items: tuple[Section, ...], prefix: str) -> list[dict]:
        out = []
        for i, s in enumerate(items, 1):
            anchor = f"{prefix}-{i}"
            children = sections(s.sections, anchor)
            if keep(s):
                out.append(entry(s.number, s.title, s.toc, "#" + anchor, children))
            else:
                out += children   # an unlisted heading: its listed children move up a level
        return out

    entries = []
    for n, part in enumerate(year.parts, 1):
        children = sections(part.sections, f"part-{n}")
        for project in part.projects:
            pf = by_project[id(project)]
            if keep(project):
                children.append(entry(project.number, project.title, project.toc,
                                      f"{pf.slug}/index.html", []))
        if keep(part) or children:
            entries.append(entry(part.number, part.title, part.toc, f"#part-{n}", children))
    return entries


def sections_view(md: MarkdownIt, items: tuple[Section, ...], prefix: str, depth: int, root: str) -> list[dict]:
    """Sections flattened in order, each with its anchor and heading level (h3 below a part)."""
    out = []
    for i, s in enumerate(items, 1):
        anchor, level = f"{prefix}-{i}", min(6, 3 + depth)
        out.append({"id": anchor, "level": level, "number": s.number, "title": s.title,
                    "html": markdown(md, s.text, root, level)})
        out += sections_view(md, s.sections, anchor, depth + 1, root)
    return out


def original_view(config: Config, year: AgencyYear, original) -> tuple[dict, Path]:
    """An original file's download facts (size, format, SHA-256) and its source path. The
    file is read in pieces: a scanned PDF may be larger than memory."""
    source = urls.originals_folder(config.root / year.source, year.agency.ident) / original.file
    with open(source, "rb") as f:
        length = os.fstat(f.fileno()).st_size
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    ext = original.file.rsplit(".", 1)[-1].lower() if "." in original.file else ""
    size = f"{length:,} 字节" + (f"（{length / 1024:.1f} KB）" if length >= 1024 else "")
    extracted = urls.is_extracted(original.file)
    return {"file": original.file, "title": original.title, "note": original.note,
            "href": urls.ORIGINALS_FROM_YEAR_PAGE + urls.quote(original.file), "ext": ext,
            "extracted": extracted, "page_offset": original.page_offset,
            "view_href": urls.ORIGINALS_FROM_YEAR_PAGE + urls.quote(original.file) + ".html" if extracted else None,
            "format": f"{FORMATS.get(ext, ext.upper() or '未知')}（.{ext}）" if ext else "未知",
            "size": size, "sha256": digest}, source


def data_view(year: AgencyYear, files: dict[str, bytes], root: str) -> list[dict]:
    """The open-data downloads of one agency year."""
    paths = urls.year_data(year.year, year.agency.ident)
    labels = [("json", "完整数据（JSON）", "JSON"), ("projects", "项目表（CSV）", "CSV"),
              ("indicators", "绩效指标表（CSV）", "CSV")]
    return [{"title": title, "file": paths[key].rsplit("/", 1)[-1], "href": root + paths[key],
             "format": fmt, "size": f"{len(files[paths[key]]):,} 字节"}
            for key, title, fmt in labels]


ZERO = Decimal(0)


def chart_view(pf: ProjectFacts) -> Optional[dict]:
    """A bar chart of the cumulative spending plan; the table beside it is its text.

    One bar per period, each under its label ("3 月底：30.00"), full length being the
    budget (or 100 %). Geometry is in em (of the chart's text) and % (of its width), with
    no viewBox: the labels follow the reader's text size and the bars fit any width."""
    points = pf.project.plan
    values = [p.value for p in points if p.value is not None]
    if not values:
        return None
    top = max(values + ([pf.project.budget] if pf.plan_kind == "amount" and pf.project.budget else [])
              + ([Decimal(100)] if pf.plan_kind == "percent" else []))
    top = top if top > 0 else Decimal(1)
    unit = "%" if pf.plan_kind == "percent" else ("" if pf.plan_kind is None else pf.unit)
    pitch = Decimal("2.8")          # em from one bar's label to the next
    bars = []
    for i, p in enumerate(points):
        label = decimal_text(p.value) + unit if p.value is not None else "空白"
        share = (max(p.value, ZERO) / top * 100).quantize(Decimal("0.1")) if p.value is not None else ZERO
        bars.append({"text_y": f"{i * pitch + Decimal('1.1')}em", "y": f"{i * pitch + Decimal('1.5')}em",
                     "h": ".9em", "w": f"{decimal_text(share)}%", "label": label, "period": p.period})
    desc = "；".join(f"{p.period}：{b['label']}" for p, b in zip(points, bars))
    scale = "100%" if pf.plan_kind == "percent" else decimal_text(top) + (unit or "")
    return {"height": f"{len(points) * pitch + Decimal('0.2')}em", "bars": bars, "scale": scale,
            "title": "资金支出计划（累计）条形图",
            "desc": f"各期累计支出计划：{desc}。数据与上表相同。"}


def project_title(pf: ProjectFacts) -> str:
    """A project table's printed number and title, as its heading reads."""
    return (pf.project.number or "") + pf.project.title


def parsed_text(row) -> Optional[str]:
    """A derived reading of 指标值 as text, e.g. ≥95%."""
    p = row.parsed
    return None if p is None else f"{p.comparator}{decimal_text(p.number)}{p.unit or ''}"


def project_view(pf: ProjectFacts, originals: list[dict]) -> dict:
    """Everything a project page shows, in the order of the printed table."""
    p = pf.project
    groups: list[list[dict]] = []   # rows of the table, one list per 一级 group
    for r in pf.rows:
        ind = r.indicator
        row = {"level1": ind.level1, "level2": ind.level2,
               "level1_span": r.level1_span, "level2_span": r.level2_span,
               "group_start": r.level1_span > 0, "level3": ind.level3,
               "description": ind.description, "value": ind.value, "basis": ind.basis,
               "parsed": parsed_text(r),
               "parsed_by": PARSED_BY.get(r.parsed_by or ""), "measure": measure.LABELS.get(r.measure)}
        if row["group_start"] or not groups:
            groups.append([row])
        else:
            groups[-1].append(row)
    plan = [{"period": r.point.period, "value": amount(r.point.value),
             "percent": f"{decimal_text(r.percent)}%" if r.percent is not None else None} for r in pf.plan]
    view = {name: getattr(p, name) for name in PROJECT_FIELDS}   # every printed field, as printed
    view.update({
        "index": pf.index, "slug": pf.slug, "unit": pf.unit,
        "budget": amount(p.budget), "fiscal": amount(p.fiscal), "other": amount(p.other),
        "plan": plan, "plan_kind": pf.plan_kind,
        "plan_has_percent": any(r["percent"] for r in plan), "chart": chart_view(pf),
        "groups": groups, "notes": list(pf.notes),
        "page": p.toc.page if p.toc else None,
        "page_href": page_link(originals, p.toc.page if p.toc else None, "../"),
        "form": form_view(p, pf.unit, pf.rows, pf.period_rows),
        "measure": measure_view(pf.measure, urls.root_of(urls.project_page(0, "a", "p")) + urls.MEASURABILITY),
    })
    return view


def measure_view(tally: measure.Tally, method_href: str) -> dict:
    """A derived measurable share for a page: `62.5%（10/16）`, the rows of each class
    (those present), and the link to the method page."""
    return {"text": tally.text(), "share": tally.share, "classified": tally.classified,
            "counts": [{"label": k.label, "n": n} for k, n in zip(measure.KINDS, tally.counts) if n],
            "href": method_href}


# Known fields shown in the 项目基本信息 table of a form that names its own labels.
FACT_KEYS = ("code", "name", "budget", "fiscal", "other", "purpose")
AMOUNT_KEYS = ("budget", "fiscal", "other")


def form_view(p: Project, unit: Optional[str], rows: tuple, period_rows: tuple) -> dict:
    """What a project of another province's form shows beyond the Hebei form: its own
    labels, further fields, 实施期 goals, and indicator tables with their printed columns."""
    labels = p.labels or {}
    facts = []
    for key in labels:
        if key in FACT_KEYS:
            value = getattr(p, key)
            if key in AMOUNT_KEYS and value is not None:
                value = amount(value) + (f" {unit}" if unit else "")
            facts.append({"label": labels[key], "value": value, "code": key == "code"})
    tables = []
    if p.period_indicators:
        tables.append(indicator_table(period_rows, p.period_columns or STANDARD_COLUMNS, "实施期"))
    if p.indicators and (p.columns or p.period_indicators):
        tables.append(indicator_table(rows, p.columns or STANDARD_COLUMNS, "本年度" if p.period_indicators else ""))
    return {
        "labelled": bool(labels), "facts": facts, "fields": [field_view(f) for f in p.fields],
        "show_plan": not labels or "plan" in labels or bool(p.plan),
        "show_goals": not labels or "goals" in labels or bool(p.goals),
        "goals_label": labels.get("goals", FIELD_LABELS["goals"]),
        "period_goals_label": labels.get("period_goals", FIELD_LABELS["period_goals"]),
        "plan_label": labels.get("plan", FIELD_LABELS["plan"]),
        "tables": tables,
    }


def field_view(f: Field) -> dict:
    return {"label": f.label, "value": f.value, "fields": [field_view(x) for x in f.fields],
            "table": table_view(f.table) if f.table else None}


def table_view(table) -> dict:
    """A small table of a field. A header shorter than its rows leaves the first columns
    (the rows' own labels) without a printed heading: empty cells pad it on the left."""
    width = max((len(r) for r in table.rows), default=len(table.header))
    return {"header": list(table.header), "rows": [list(r) for r in table.rows],
            "pad": max(0, width - len(table.header))}


def indicator_table(rows: tuple, columns: tuple[Column, ...], period: str) -> dict:
    """An indicator table with the columns its form prints, in order. 一级/二级 cells span
    the rows they are merged over, as on the Hebei form; the 三级 cell (else the first
    column) heads its row."""
    keys = [c.key for c in columns]
    head = "level3" if "level3" in keys else None
    out_rows = []
    for r in rows:
        ind, cells = r.indicator, []
        for n, c in enumerate(columns):
            text = getattr(ind, c.key) if c.key else (ind.more or {}).get(c.label)
            span = None
            if c.key == "level1":
                if not r.level1_span:
                    continue
                span = r.level1_span
            elif c.key == "level2":
                if not r.level2_span:
                    continue
                span = r.level2_span
            is_head = c.key in ("level1", "level2") or c.key == head or (head is None and n == 0)
            cells.append({"text": text or "", "span": span if span and span > 1 else None,
                          "header": is_head, "scope": "row" if is_head else None,
                          "key": c.key or "more", "label": c.label})
        out_rows.append({"cells": cells, "parsed": parsed_text(r), "parsed_by": PARSED_BY.get(r.parsed_by or ""),
                         "measure": measure.LABELS.get(r.measure)})
    return {"period": period, "columns": [c.label for c in columns], "rows": out_rows,
            "has_value": "value" in keys}


PROJECT_FIELDS = tuple(f.name for f in dataclasses.fields(Project) if f.name != "pos")

