"""JSON-LD (schema.org) for agency-year pages: a `Dataset` describing the published record.

It goes into the page as `<script type="application/ld+json">`, a data block: browsers
never run it, so the site's Content-Security-Policy (no inline scripts) does not block it.
Its text comes from content, so the JSON is made safe inside a `<script>` element: `<`,
`>` and `&` are written as `\\u003c`, `\\u003e`, `\\u0026` (no `</script>` or `<!--` can
ever appear), U+2028/U+2029 as `\\u2028`/`\\u2029`; any JSON reader gets the text back
exactly as printed. gongkai/verify.py checks every such block on every build.
"""
from __future__ import annotations

import json
from typing import Any

from markupsafe import Markup

from . import urls
from .derive import YearFacts

_SAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def script(data: Any) -> Markup:
    """`data` as a JSON-LD `<script>` element that no text inside it can close or escape."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    # One replace per character, not str.translate: translate goes through its table for
    # every character of Chinese text (20x slower). No replacement holds another's character.
    for char, escaped in _SAFE.items():
        text = text.replace(char, escaped)
    return Markup(f'<script type="application/ld+json">{text}</script>')


def agency_year(facts: YearFacts, heading: str, root: str) -> Markup:
    """The agency year's Dataset: who published what, where, for which year, and its files.

    Download URLs are relative to the page (JSON-LD resolves them against the page URL), so
    they work under any sub-path like every other link of the site."""
    year = facts.year
    agency = year.agency
    creator: dict[str, Any] = {"@type": "GovernmentOrganization", "name": agency.name}
    if agency.code:
        creator["identifier"] = agency.code
    paths = urls.year_data(year.year, agency.ident)
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Dataset",
        "name": heading,
        "description": f"{agency.region} {agency.name} {year.year} 年部门预算绩效目标："
                       f"{len(facts.projects)} 个项目的绩效目标表，文字和金额与原件一致。",
        "inLanguage": "zh-CN",
        "isAccessibleForFree": True,
        "temporalCoverage": str(year.year),
        "spatialCoverage": {"@type": "Place", "name": agency.region},
        "creator": creator,
        "keywords": ["预算绩效目标", "部门预算", agency.region, agency.name],
        "distribution": [
            {"@type": "DataDownload", "encodingFormat": "application/json", "contentUrl": root + paths["json"]},
            {"@type": "DataDownload", "encodingFormat": "text/csv", "contentUrl": root + paths["projects"]},
            {"@type": "DataDownload", "encodingFormat": "text/csv", "contentUrl": root + paths["indicators"]},
        ],
    }
    if year.document.published:
        data["datePublished"] = year.document.published.isoformat()
    return script(data)
