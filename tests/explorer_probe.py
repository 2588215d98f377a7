"""What the indicator explorer's first load costs, measured in headless Chromium (for
`make bench`; tests/search_probe.py does the same for search).

    from explorer_probe import first_load_cost        # with tests/ on sys.path
    first_load_cost(Path("_site"))                    # -> {"first_rows": {...}, "complete": {...}}

or from the command line (prints JSON):

    .venv/bin/python tests/explorer_probe.py _site

The built site is served under /zwgk/jxgk/ with the site's CSP and `indicators/` is opened
in a fresh browser context. Two moments are measured from the navigation: the first rows
shown (the page, its CSS and scripts, the manifest and the first data part) and every part
loaded (`#explorer[data-state=ready]`): the bytes of the files loaded by then (as the
server sent them, uncompressed) and the milliseconds since navigation, both read from the
page's own Resource Timing. Needs Playwright and Chromium (`make test`).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402

EXPLORER = "indicators/index.html"


# Records when the first row is put in the table, in the page's own clock.
WATCH_FIRST_ROW = """document.addEventListener('DOMContentLoaded', () => {
    const rows = document.getElementById('ex-rows');
    if (!rows) return;
    new MutationObserver((_, observer) => {
        if (rows.rows.length) { window.__firstRowMs = performance.now(); observer.disconnect(); }
    }).observe(rows, { childList: true });
});"""

# The site's files the page loaded (the page itself, then each resource), each with when it
# finished loading in the page's clock and its size as the server sent it.
LOADED = """() => [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]
    .map((e) => ({ url: e.name, end: e.responseEnd, bytes: e.encodedBodySize }))"""


def _moment(loaded: list[dict], until: float) -> dict:
    done = [e for e in loaded if e["end"] <= until]
    total = sum(e["bytes"] for e in done)
    return {"bytes": total, "kb": round(total / 1024, 1), "requests": len(done), "ms": round(until)}


def first_load_cost(site: Path, browser: Optional[Any] = None, timeout_ms: int = 600_000) -> dict:
    """Serve `site`, open the explorer, return the cost of its first rows and of every part."""
    with harness.served_context(Path(site), browser, timeout_ms) as (server, context):
        context.add_init_script(WATCH_FIRST_ROW)
        page = context.new_page()
        page.goto(server.url_for(EXPLORER))
        page.wait_for_selector("#explorer[data-state=ready]")
        first_row = page.evaluate("() => window.__firstRowMs")
        loaded = page.evaluate(LOADED)
        rows = page.evaluate("() => document.getElementById('ex-rows').rows.length")
    return {"first_rows": _moment(loaded, first_row),
            "complete": _moment(loaded, max(e["end"] for e in loaded)), "rows_shown": rows}

if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: explorer_probe.py SITE_DIR")
    print(json.dumps(first_load_cost(Path(sys.argv[1])), ensure_ascii=False, indent=1))
