"""The measurability method page (`indicators/method/`): how each indicator row is classed,
with examples taken from the site's own indicators, and the derived measurable share of
every agency year, agency and region, sorted, for readers to compare (measure.py). Past
lists.HOME_ROWS agency years only the regions are ranked here (the agency years' shares are
on the list pages of each year's region, render/lists.py)."""
from __future__ import annotations

import datetime
from typing import Optional

from .. import measure, urls
from ..derive import YearOutline
from . import lists
from .views import measure_view

EXAMPLES = 5   # printed values shown per class


def method_view(years: list[YearOutline], root: str) -> dict:
    """The page's view: rules, examples per class, shares per agency year, agency, region."""
    examples: dict[str, list[dict]] = {k.key: [] for k in measure.KINDS}
    for y in years:
        for kind, value, slug in y.measure_examples:
            shown = examples[kind]
            if len(shown) < EXAMPLES and value not in (e["value"] for e in shown):
                shown.append({"value": value, "href": root + urls.project_page(y.year, y.ident, slug),
                              "where": f"{y.agency.name} {y.year} 年"})
    says = {rule.kind: rule.says for rule in measure.RULES}
    kinds = [{"key": k.key, "label": k.label, "meaning": k.meaning, "rule": says[k.key],
              "order": [r.kind for r in measure.RULES].index(k.key) + 1, "examples": examples[k.key]}
             for k in measure.KINDS]

    def ranked(rows: list[dict]) -> list[dict]:
        # Highest share first; none classified last; ties in site order (sorted is stable).
        return sorted(rows, key=lambda r: (r["measure"]["share"] is None, -(r["measure"]["share"] or 0)))

    year_rows = ranked([{"name": f"{y.agency.name}", "year": y.year, "region": y.agency.region,
                         "href": root + urls.year_page(y.year, y.ident), "measure": measure_view(y.measure, "")}
                        for y in years])
    agencies: dict[str, list[YearOutline]] = {}
    regions: dict[str, list[YearOutline]] = {}
    for y in years:
        agencies.setdefault(y.ident, []).append(y)
        regions.setdefault(y.agency.region, []).append(y)
    agency_rows = ranked([{"name": group[0].agency.name, "region": group[0].agency.region,
                           "years": "、".join(str(y.year) for y in group),
                           "measure": measure_view(measure.total(y.measure for y in group), "")}
                          for group in agencies.values()])
    region_rows = ranked([{"name": name, "count": len(group),
                           "measure": measure_view(measure.total(y.measure for y in group), "")}
                          for name, group in regions.items()])
    one_by_one = lists.listed_one_by_one(years)
    return {"kinds": kinds, "years": year_rows if one_by_one else [], "agencies": agency_rows if one_by_one else [],
            "regions": region_rows, "one_by_one": one_by_one, "home": root + urls.HOME,
            "site": measure_view(measure.total(y.measure for y in years), ""), "per_class": EXAMPLES}


def measurability_page(renderer, out, years: list[YearOutline], updated: Optional[datetime.date]) -> None:
    """Render the method page into `out` (called from Renderer.common)."""
    path = urls.MEASURABILITY
    title = "指标可衡量性说明"
    frame = renderer._plain_frame(path, title, updated)
    renderer._page(out, "templates/measurability.html", "measurability.html", path, frame,
                   method=method_view(years, urls.root_of(path)))
