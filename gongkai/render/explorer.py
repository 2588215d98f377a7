"""The indicator explorer (`indicators/`): every indicator row of every agency year.

Made from the site-wide `data/indicators.csv` (opendata.INDICATOR_COLUMNS), read by header
name, so a column added there (the measurability class, say) reaches the explorer and its
download without a change here. Three kinds of output (docs/explorer.md):

- `indicators/index.html`: the explorer page; `assets/explorer.js` filters, sorts and
  downloads in the browser;
- `indicators/data/manifest.json` (columns, facets with counts, the list of parts) and
  `indicators/data/part-N.json`: the rows in parts of at most PART_ROWS rows and PART_BYTES
  bytes, each `{"d": [strings], "r": [ints]}`: a part's own dictionary of the cells' text
  (CSV cells exactly as in the CSV) and its rows as one flat list of indexes into it, width
  `len(columns) + 1` (the last cell is the project page's site-relative path);
- the listing for readers without JavaScript (`indicators/list/`): a contents page (years
  and regions), one directory per year and region (its agencies, with the page each starts
  on), and pages of rows grouped by agency and project, none above PAGE_BYTES.

Order everywhere: newest year first, then region (site_config order), then the agency years
in site order, then the rows as the CSV lists them (document order).
"""
from __future__ import annotations

import csv
import datetime
import io
import json
from array import array
from collections import Counter
from typing import Optional

from .. import urls
from ..derive import YearOutline
from ..opendata import Written

OWNER = "gongkai/render/explorer.py"
PART_ROWS = 2000             # rows per data part at most
PART_BYTES = 200 * 1024      # bytes per data part at most
PAGE_BYTES = 100 * 1024      # bytes per listing page at most (the page-weight budget)
PAGE_TARGET = 60 * 1024      # what a listing page's rows are packed to (estimated), before checking
FACET_LIMIT = 300            # values per facet in the manifest (units can be many)

# Headers of opendata.INDICATOR_COLUMNS the explorer needs by name.
YEAR, REGION, AGENCY, CODE, IDENT = "年度", "地区", "部门名称", "部门编码", "部门标识"
POSITION, PROJECT_CODE, PROJECT_NAME, ROW = "项目位置", "项目编码", "项目名称", "行号"
LEVEL1, LEVEL2, LEVEL3 = "一级指标（派生）", "二级指标（派生）", "三级指标"
DESCRIPTION, VALUE, BASIS, BLOCK = "绩效指标描述", "指标值", "指标值确定依据", "指标块"
COMPARATOR, NUMBER, UNIT = "比较符（派生）", "数值（派生）", "计量单位（派生）"
MEASURE = "可衡量性（派生）"   # present once measure.py classes the rows
PAGE = "页面"                  # projects.csv: the project page, site-relative
FACETS = (YEAR, REGION, LEVEL1, LEVEL2, COMPARATOR, UNIT, MEASURE)
# Shown in the listing, in this order (those the CSV has).
LISTED = (ROW, LEVEL1, LEVEL2, LEVEL3, DESCRIPTION, VALUE, COMPARATOR, NUMBER, UNIT, MEASURE)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def shown(cell: str) -> str:
    """A CSV cell as printed: without the apostrophe the CSV puts before a text a
    spreadsheet would run as a formula (opendata._cell)."""
    return cell[1:] if cell[:1] == "'" and cell[1:2] and cell[1] in FORMULA_START else cell


def _size(data: bytes | Written) -> int:
    return data.size if isinstance(data, Written) else len(data)


def _text(data: bytes | Written) -> io.TextIOWrapper:
    """A CSV file's text, decoded as it is read (a province's indicators.csv is 260 MB)."""
    return io.TextIOWrapper(data.open() if isinstance(data, Written) else io.BytesIO(data),
                            encoding="utf-8-sig", newline="")


class Table:
    """The indicator rows, every cell interned: `cells` is one flat array of string ids,
    `width` per row (the CSV's columns, then the project page)."""

    def __init__(self, indicators: bytes | Written, projects: bytes | Written, regions: list[str]):
        self.strings: list[str] = [""]
        ids: dict[str, int] = {"": 0}

        def intern(s: str) -> int:
            n = ids.get(s)
            if n is None:
                n = ids[s] = len(self.strings)
                self.strings.append(s)
            return n

        # A cell is as long as the printed text (1 MB is allowed): no field-size limit below
        # the whole file's. The limit is the csv module's, for the process; only raised.
        csv.field_size_limit(max(csv.field_size_limit(), _size(projects), _size(indicators)))
        pages: dict[tuple[str, str, str], str] = {}
        rows = csv.reader(_text(projects))
        head = next(rows, None)
        if head and PAGE in head:
            y, a, p, g = (head.index(h) for h in (YEAR, IDENT, POSITION, PAGE))
            pages = {(r[y], r[a], r[p]): r[g] for r in rows}
        rows = csv.reader(_text(indicators))
        self.columns: list[str] = next(rows, None) or []
        self.width = len(self.columns) + 1
        self.col = {h: i for i, h in enumerate(self.columns)}
        self.cells = array("I")
        # Blocks: the rows of one agency year, (sort key, first row, end row).
        blocks: list[list] = []
        if self.columns:
            y, a, p, r_ = (self.col[h] for h in (YEAR, IDENT, POSITION, REGION))
            rank = {name: n for n, name in enumerate(regions)}
            count = 0
            for row in rows:
                key = (row[y], row[a])
                if not blocks or blocks[-1][1] != key:
                    region = row[r_]
                    rank.setdefault(region, len(rank))
                    blocks.append([(-int(row[y] or 0), rank[region], len(blocks)), key, count, count])
                self.cells.extend(map(intern, row))
                self.cells.append(intern(pages.get((row[y], row[a], row[p]), "")))
                count += 1
                blocks[-1][3] = count
        blocks.sort(key=lambda b: b[0])
        self.blocks = [(b[2], b[3]) for b in blocks]
        self.count = len(self.cells) // self.width if self.columns else 0

    def order(self):
        """Row numbers in explorer order."""
        for start, end in self.blocks:
            yield from range(start, end)

    def cell(self, row: int, header: str) -> str:
        return self.strings[self.cells[row * self.width + self.col[header]]]


def manifest_and_parts(t: Table) -> dict[str, bytes]:
    """`indicators/data/`: the parts, then the manifest listing them."""
    files: dict[str, bytes] = {}
    parts = []
    local: dict[int, int] = {}
    strings: list[str] = []
    flat: list[int] = []
    size = rows = 0

    def flush() -> None:
        nonlocal local, strings, flat, size, rows
        data = (json.dumps({"d": strings, "r": flat}, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        path = urls.explorer_part(len(parts) + 1)
        files[path] = data
        parts.append({"path": path.rsplit("/", 1)[1], "rows": rows, "bytes": len(data)})
        local, strings, flat, size, rows = {}, [], [], 0, 0

    w, cells, all_strings = t.width, t.cells, t.strings
    for r in t.order():
        ids = cells[r * w:(r + 1) * w]
        for g in ids:
            n = local.get(g)
            if n is None:
                n = local[g] = len(strings)
                s = all_strings[g]
                strings.append(s)
                size += len(s.encode()) + 3 + s.count('"') + s.count("\\") + 5 * s.count("\n")
            flat.append(n)
            size += len(str(n)) + 1
        rows += 1
        if rows >= PART_ROWS or size >= PART_BYTES * 0.85:
            flush()
    if rows:
        flush()
    facets = {}
    for header in FACETS:
        if header not in t.col:
            continue
        c = t.col[header]
        counts = Counter(cells[c::w])
        values = sorted(counts.items(), key=lambda kv: (-kv[1], all_strings[kv[0]]))
        if header == YEAR:
            values.sort(key=lambda kv: all_strings[kv[0]], reverse=True)
        facets[header] = [[shown(all_strings[g]), n] for g, n in values if g][:FACET_LIMIT]
    if REGION in facets:   # site order of regions, as the listing
        first = {}
        for start, _ in t.blocks:
            first.setdefault(t.cell(start, REGION), len(first))
        facets[REGION].sort(key=lambda v: first.get(v[0], len(first)))
    manifest = {"version": 1, "columns": t.columns, "extra": [PAGE], "rows": t.count,
                "parts": parts, "facets": facets}
    files[urls.EXPLORER_MANIFEST] = (json.dumps(manifest, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
    return files


# --- the listing without JavaScript ------------------------------------------------------

def _estimate(t: Table, row: int, listed: list[int]) -> int:
    base = row * t.width
    return 60 + sum(len(t.strings[t.cells[base + c]]) * 3 + 45 for c in listed)


def listing(renderer, out, t: Table, updated: Optional[datetime.date]) -> list[dict]:
    """The listing's pages; the contents (years, each with its regions) for the pages linking it."""
    listed = [h for h in LISTED if h in t.col]
    cols = [t.col[h] for h in listed]
    regions = list(renderer.config.regions)
    # (year, region) -> agency years (first row, end row), in explorer order.
    groups: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for start, end in t.blocks:
        groups.setdefault((t.cell(start, YEAR), t.cell(start, REGION)), []).append((start, end))
    number = {name: n for n, name in enumerate(regions, 1)}   # a region's number in the listing's paths
    years: list[dict] = []
    for (year, region), blocks in groups.items():
        k = number.setdefault(region, len(number) + 1)
        pages = _paginate(t, blocks, cols)
        agencies = []
        for n, page in enumerate(pages, 1):
            for ag in page:
                if not ag["cont"]:
                    agencies.append({"name": ag["name"], "code": ag["code"], "id": ag["id"], "page": n,
                                     "href": urls.explorer_list_page(int(year), k, n).rsplit("/", 1)[1],
                                     "projects": 0, "rows": 0})
                agencies[-1]["projects"] += sum(1 for p in ag["projects"] if not p["cont"])
                agencies[-1]["rows"] += sum(len(p["rows"]) for p in ag["projects"])
        entry = {"region": region, "href": urls.explorer_region(int(year), k), "pages": len(pages),
                 "agencies": len(agencies), "rows": sum(e - s for s, e in blocks)}
        if not years or years[-1]["year"] != year:
            years.append({"year": year, "regions": []})
        years[-1]["regions"].append(entry)
        title = f"{year} 年 {region}：部门目录（绩效指标列表）"
        path = entry["href"]
        frame = _frame(renderer, path, title, updated, [("绩效指标列表", urls.EXPLORER_LIST)])
        renderer._page(out, OWNER, "indicators_contents.html", path, frame, years=None,
                       region={"year": year, "name": region, "agencies": agencies, "pages": [
                           {"n": n, "href": urls.explorer_list_page(int(year), k, n).rsplit("/", 1)[1],
                            "first": page[0]["name"], "last": page[-1]["name"]} for n, page in enumerate(pages, 1)]},
                       explorer=urls.root_of(path) + urls.EXPLORER)
        for n, page in enumerate(pages, 1):
            path = urls.explorer_list_page(int(year), k, n)
            name = lambda m: urls.explorer_list_page(int(year), k, m).rsplit("/", 1)[1]
            title = f"{year} 年 {region} 绩效指标列表：第 {n} 页，共 {len(pages)} 页"
            frame = _frame(renderer, path, title, updated,
                           [("绩效指标列表", urls.EXPLORER_LIST), (f"{year} 年 {region}", entry["href"])])
            renderer._page(out, OWNER, "indicators_list.html", path, frame, listed=listed, agencies=page,
                           year=year, region=region, n=n, total=len(pages),
                           prev=name(n - 1) if n > 1 else None, next=name(n + 1) if n < len(pages) else None,
                           directory=entry["href"].rsplit("/", 1)[1], explorer=urls.root_of(path) + urls.EXPLORER)
            # Pages are cut to PAGE_BYTES by `_paginate`'s estimate (tests/test_explorer.py
            # holds a generated site to it); one cell longer than that (a 1 MB paste) still
            # builds: its page is as long as what it prints.
    frame = _frame(renderer, urls.EXPLORER_LIST, "绩效指标列表", updated, [])
    renderer._page(out, OWNER, "indicators_contents.html", urls.EXPLORER_LIST, frame, years=years, region=None,
                   explorer=urls.root_of(urls.EXPLORER_LIST) + urls.EXPLORER)
    return years


def _frame(renderer, path: str, title: str, updated, crumbs: list) -> dict:
    from .views import page_view
    return page_view(path, title, [("首页", urls.HOME), ("绩效指标浏览", urls.EXPLORER)] + crumbs + [(title, None)],
                     pub_date=updated, source=renderer.config.owner)


def _paginate(t: Table, blocks: list[tuple[int, int]], cols: list[int]) -> list[list[dict]]:
    """The rows of one year's region cut into pages of agencies > projects > rows, packed
    to PAGE_TARGET (estimated); an agency or project cut by a page shows again as 续."""
    pages: list[list[dict]] = []
    page: list[dict] = []
    size = 0
    used: dict[str, int] = {}   # project link texts on the page: each names one project

    def new_page() -> None:
        nonlocal page, size, used
        if page:
            pages.append(page)
        page, size, used = [], 0, {}

    for start, end in blocks:
        agency = None
        project = None
        for r in range(start, end):
            cost = _estimate(t, r, cols)
            if page and size + cost > PAGE_TARGET:
                new_page()
                agency = project = None
            if agency is None:
                ident = t.cell(r, IDENT)
                year = t.cell(r, YEAR)
                agency = {"name": t.cell(r, AGENCY), "code": t.cell(r, CODE), "id": f"a{year}-{ident}",
                          "cont": r != start, "projects": []}
                page.append(agency)
                size += 300
            key = t.cell(r, POSITION)
            if project is None or project["key"] != key:
                cont = project is None and r != start and t.cell(r - 1, POSITION) == key
                name = t.cell(r, PROJECT_NAME) or f"第 {key} 个项目"
                href = t.strings[t.cells[r * t.width + t.width - 1]]
                label = name
                if used.get(label, href) != href:
                    label = f"{name}（{t.cell(r, AGENCY)} {t.cell(r, YEAR)} 年第 {key} 个项目）"
                used[label] = href
                project = {"key": key, "name": label, "code": t.cell(r, PROJECT_CODE), "href": href,
                           "cont": cont, "id": f"p{t.cell(r, YEAR)}-{t.cell(r, IDENT)}-{key}", "rows": []}
                agency["projects"].append(project)
                size += 600
            base = r * t.width
            project["rows"].append([shown(t.strings[t.cells[base + c]]) for c in cols]
                                   + [shown(t.cell(r, BLOCK)) if BLOCK in t.col else ""])
            size += cost
    new_page()
    return pages


# --- the explorer page -------------------------------------------------------------------

def pages(renderer, out, years: list[YearOutline], data: dict[str, bytes]) -> None:
    """Everything the explorer renders, into `out` (called from Renderer.common)."""
    t = Table(data.get(urls.ALL_INDICATORS, b""), data.get(urls.ALL_PROJECTS, b""), list(renderer.config.regions))
    updated = renderer.newest(years)
    for path, payload in manifest_and_parts(t).items():
        out.add(path, payload, OWNER)
    contents = listing(renderer, out, t, updated)
    path = urls.EXPLORER
    root = urls.root_of(path)
    frame = renderer._plain_frame(path, "绩效指标浏览", updated)
    renderer._page(out, OWNER, "indicators.html", path, frame, rows=t.count,
                   has_measure=MEASURE in t.col, contents=contents,
                   method=root + urls.MEASURABILITY,
                   listing=root + urls.EXPLORER_LIST, csv=root + urls.ALL_INDICATORS,
                   agencies=len(t.blocks))

