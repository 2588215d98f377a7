"""Lists of agency years that stay small at any size.

Each year's region has its own list page (`list/{year}-{region}.html`, in pages of
LIST_ROWS agency years). The home page, the site map and the method page list every agency
year one by one while there are at most HOME_ROWS of them; past that they show one row per
year and region, leading to its list page: a page of every agency year of a province would
weigh megabytes (about 620 bytes per agency year on the home page).
"""
from __future__ import annotations

import datetime
from typing import Optional

from .. import measure, urls
from ..derive import YearOutline
from ..values import grouped
from .views import measure_view, page_view

HOME_ROWS = 120   # agency years listed one by one on the home page, site map and method page (≈ 80 KB)
LIST_ROWS = 200   # agency years per list page (about 75 KB)


def listed_one_by_one(years: list[YearOutline]) -> bool:
    """Whether the site-wide pages list every agency year (else one row per year and region)."""
    return len(years) <= HOME_ROWS


def row(y: YearOutline) -> dict:
    """One agency year in a list (links relative to the site root)."""
    return {"href": urls.year_page(y.year, y.ident), "name": y.agency.name,
            "code": y.agency.code, "projects": len(y.slugs),
            "total": grouped(y.total_budget), "unit": y.unit, "published": y.published,
            "measure": measure_view(y.measure, urls.MEASURABILITY)}


def by_year_and_region(regions: tuple[str, ...], years: list[YearOutline]) -> list[dict]:
    """Newest year first, regions in configuration order: each with its agency years (site
    order), its place in the configuration (from 1, as in list page names) and its list pages."""
    groups = []
    for number in sorted({y.year for y in years}, reverse=True):
        found = []
        for index, region in enumerate(regions, 1):
            members = [y for y in years if y.year == number and y.agency.region == region]
            if members:
                pages = [urls.region_list(number, index, n) for n in range(1, -(-len(members) // LIST_ROWS) + 1)]
                found.append({"name": region, "index": index, "years": members, "pages": pages,
                              "href": pages[0], "count": len(members),
                              "projects": sum(len(y.slugs) for y in members),
                              "measure": measure_view(measure.total(y.measure for y in members), urls.MEASURABILITY)})
        groups.append({"year": number, "id": f"y{number}", "regions": found})
    return groups


def pages(renderer, out, groups: list[dict], updated: Optional[datetime.date]) -> None:
    """Every list page of every year's region."""
    for group in groups:
        for region in group["regions"]:
            title = f"{group['year']} 年{region['name']}部门列表"
            count = len(region["pages"])
            for n, path in enumerate(region["pages"], 1):
                members = region["years"][(n - 1) * LIST_ROWS:n * LIST_ROWS]
                heading = title if count == 1 else f"{title}（第 {n} 页，共 {count} 页）"
                frame = page_view(path, heading, [("首页", urls.HOME), (heading, None)],
                                  pub_date=updated, source=renderer.config.owner)
                renderer._page(out, "gongkai/render/lists.py", "list.html", path, frame,
                               year=group["year"], region=region["name"], rows=[row(y) for y in members],
                               first=(n - 1) * LIST_ROWS + 1, total=region["count"],
                               others=[{"n": m, "href": urls.root_of(path) + p, "current": m == n}
                                       for m, p in enumerate(region["pages"], 1)] if count > 1 else [],
                               method=urls.root_of(path) + urls.MEASURABILITY)
