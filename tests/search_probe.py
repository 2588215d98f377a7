"""What a first search costs, measured in headless Chromium (for tests and `make bench`).

    from search_probe import first_query_cost          # with tests/ on sys.path
    first_query_cost(Path("_site"))                    # -> {"kb": 233.4, "requests": 13, …}

or from the command line (prints JSON):

    .venv/bin/python tests/search_probe.py _site [QUERY]

The built site is served under /zwgk/jxgk/ with the site's CSP; a page that loads no
search code (the accessibility statement) imports assets/search.js and runs one search.
The figure is the bytes of the search files the server sent for it (assets/search*,
search-index/), as stored: the index files are gzipped by the build, the two scripts
are not (a web server would compress them). Needs Playwright and Chromium (`make test`).
"""
from __future__ import annotations

import json
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402

FIRST_QUERY = "秦皇岛市山海关区老干部服务中心"
SEARCH_FILES = ("assets/search", "search-index/")

RUN = """async ([moduleUrl, query]) => {
    const { search } = await import(moduleUrl);
    const t = performance.now();
    const results = await search(query);
    return { ms: Math.round((performance.now() - t) * 10) / 10, urls: results.map((r) => r.url) };
}"""


def served_files(server: harness.StaticServer, site: Path, start: int) -> list[tuple[str, int]]:
    """(path, bytes) of the search files the server sent since request number `start`."""
    files = []
    for request in server.served[start:]:
        rel = urllib.parse.unquote(urllib.parse.urlsplit(request.path).path)[len(server.prefix):]
        target = site / rel
        if request.status == 200 and rel.startswith(SEARCH_FILES) and target.is_file():
            files.append((rel, target.stat().st_size))
    return files


def first_query_cost(site: Path, query: str = FIRST_QUERY, browser: Optional[Any] = None) -> dict:
    """Serve `site`, run `query` as the first search of a fresh page, return its cost."""
    site = Path(site)
    with harness.served_context(site, browser) as (server, context):
        page = context.new_page()
        page.goto(server.url_for("accessibility/index.html"))
        page.wait_for_load_state("load")
        time.sleep(0.2)                       # let the favicon and late requests pass
        start = len(server.served)
        answer = page.evaluate(RUN, [server.url_for("assets/search.js"), query])
        files = served_files(server, site, start)
    total = sum(size for _, size in files)
    return {"query": query, "bytes": total, "kb": round(total / 1024, 1), "requests": len(files),
            "ms": answer["ms"], "results": len(answer["urls"]), "files": [name for name, _ in files]}


# Every file the page loaded (the page itself, then each resource) with its size as sent.
LOADED = """() => [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]
    .map((e) => ({ url: e.name, bytes: e.encodedBodySize }))"""


def search_page_cost(site: Path, query: str = FIRST_QUERY, browser: Optional[Any] = None,
                     timeout_ms: int = 600_000) -> dict:
    """What a reader's first search costs: `search/index.html?q=QUERY` opened in a fresh
    browser context, until the first page of results (or "none found") is shown. Every
    file the page loaded counts (HTML, CSS, scripts, index files, the results' text), as
    the server sent it (uncompressed; the index files are gzipped by the build)."""
    with harness.served_context(Path(site), browser, timeout_ms) as (server, context):
        page = context.new_page()
        started = time.perf_counter()
        page.goto(server.url_for("search/index.html") + "?q=" + urllib.parse.quote(query))
        page.wait_for_function("""() => { const s = document.getElementById('search-status');
            return s && /找到/.test(s.textContent); }""")
        ms = (time.perf_counter() - started) * 1000
        status = page.locator("#search-status").text_content()
        loaded = page.evaluate(LOADED)
    total = sum(e["bytes"] for e in loaded)
    return {"query": query, "bytes": total, "kb": round(total / 1024, 1), "requests": len(loaded),
            "ms": round(ms), "status": status}

if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: search_probe.py SITE_DIR [QUERY]")
    print(json.dumps(first_query_cost(Path(sys.argv[1]), *sys.argv[2:3]), ensure_ascii=False, indent=1))
