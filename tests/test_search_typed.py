"""Search as people type: a labelled set of typed queries, in headless Chromium.

Readers type `2022年度` where a PDF extraction printed `2022 年度`, full-width `９０％` for
`90%`, `≥90%` for `≧90%`. The set (tests/fixtures/search/typed-queries.json) lists each
query with the pages it must find: no spaces where the page has them, other widths,
≥/≧ and ≤/≦ variants, mixed, and typed forms that occur nowhere.

How it was labelled (docs/search.md, "Typed queries"): the expected pages were computed by
the reference matcher of tests/test_search.py (`relevant`: every term, folded by
`ref_fold` and lower-cased, occurs in one block of the page's main text, folded the same
way), which shares no code with gongkai/ or assets/search.js; then the queries marked
`"checked": true` were checked by hand against the printed text (content/*.yaml and the
originals): for each, the pages that print the query with spaces, in another width or
with the other sign, were listed by reading the YAML, and compared.

Targets: recall >= 99 %, precision >= 95 % over all (query, page) pairs, through
`search()` of the built site's assets/search.js, and the set must still describe the site
(the reference matcher gives the listed pages: otherwise the site's text changed and the
set must be labelled again: `.venv/bin/python tests/test_search_typed.py SITE`, which keeps
the queries and the checked marks, then check by hand what changed).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import harness
from test_search import (PRECISION_TARGET, RECALL_TARGET, RUN_QUERIES, relevant, searched_pages,
                         summary, write_report)

FIXTURE = Path(__file__).parent / "fixtures" / "search" / "typed-queries.json"


def load() -> list[dict]:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))["queries"]


def test_the_set_is_as_promised():
    queries = load()
    assert len(queries) >= 100
    assert len({e["q"] for e in queries}) == len(queries)
    cats = {e["cat"] for e in queries}
    assert {"nospace", "width", "sign", "mixed", "none"} <= cats, cats
    assert sum(bool(e["expected"]) for e in queries) >= 80
    assert sum(bool(e.get("checked")) for e in queries) >= 100
    assert sum(e.get("checked") == "by eye" for e in queries) >= 10


def test_the_set_still_describes_the_site(site_dir: Path):
    """The reference matcher over the built site gives every query's listed pages."""
    pages = searched_pages(site_dir)
    changed = [(e["q"], sorted(relevant(e["q"], pages) ^ set(e["expected"]))) for e in load()
               if relevant(e["q"], pages) != set(e["expected"])]
    assert not changed, f"the site's text changed; label again and check by hand: {changed[:5]}"


def test_typed_queries_meet_the_targets(site_dir: Path, site_server: harness.StaticServer, browser: Any):
    queries = load()
    log = harness.BrowserLog()
    context = harness.new_context(browser, log)
    context.set_default_timeout(60_000)
    page = context.new_page()
    page.goto(site_server.url_for("accessibility/index.html"))
    answers = page.evaluate(RUN_QUERIES, [site_server.url_for("assets/search.js"), [e["q"] for e in queries]])
    context.close()
    assert not log.page_errors and not log.console_errors(), (log.page_errors, log.console_errors())
    rows = []
    for entry, answer in zip(queries, answers):
        rel = set(entry["expected"])     # the labelled pages, not recomputed
        got = list(dict.fromkeys(answer["urls"]))
        hits = [u for u in got if u in rel]
        row = {"q": entry["q"], "cat": entry["cat"], "name": False, "relevant": len(rel), "returned": len(got),
               "correct": len(hits), "recall": len(hits) / len(rel) if rel else 1.0,
               "precision": len(hits) / len(got) if got else 1.0, "missed": sorted(rel - set(got)),
               "wrong": [u for u in got if u not in rel], "ms": answer["ms"], "top": answer["top"]}
        rows.append(row)
    s = summary(rows)
    report = write_report("typed", {"title": "Typed queries (no spaces, other widths, ≥/≧): assets/search.js",
                                    "pages": len(searched_pages(site_dir)), "summary": s, "rows": rows})
    failed = [f"{r['q']!r}: missed {r['missed'][:3]} wrong {r['wrong'][:3]}"
              for r in rows if r["recall"] < 1 or r["precision"] < 1]
    assert s["recall"] >= RECALL_TARGET, f"recall {s['recall']:.2%} ({report}):\n" + "\n".join(failed)
    assert s["precision"] >= PRECISION_TARGET, f"precision {s['precision']:.2%} ({report}):\n" + "\n".join(failed)


def label(site: Path) -> None:
    """Write the expected pages of every query of the fixture (keeping queries, categories
    and checked marks) from the reference matcher over the built `site`."""
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    pages = searched_pages(site)
    for entry in data["queries"]:
        entry["expected"] = sorted(relevant(entry["q"], pages))
    FIXTURE.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    label(Path(sys.argv[1]))
