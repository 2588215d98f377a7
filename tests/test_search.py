"""Search finds every page where the query is printed: recall, precision and ranking.

The labelled query set (tests/fixtures/search/queries.json, categories in each entry) runs
through `search()` of the built site's assets/search.js in headless Chromium, served under
/zwgk/jxgk/ with the site's CSP. The truth is computed here, independently of gongkai/:
a page is relevant to a query when every space-separated term occurs (case-insensitively)
in one block of its main content, both folded. The main content is the text of `<main>`
cut into blocks where a block element starts or ends, with the previous/next `<nav>` (it
names other pages) and the elements marked `data-search-skip` (what the site adds: its
captions and hints, the chart, derived values, download lists) left out. Folding (the
rule of docs/search.md, written here again on its own, `ref_fold`): each character
replaced by its NFKC form, then ≧ ≦ ⩾ ⩽ by ≥ ≤ ≥ ≤, every white space removed. The
searched pages are the agency-year and project pages (those with `data-search-kind`).

Targets (docs/search.md): recall >= 99 %, precision >= 95 % over all (query, page) pairs,
and for name queries (agency, place, project, code) every relevant page ranks above
every irrelevant one. The figures per query go to test-output/search/report.{json,md},
with the bytes the first query transferred (tests/search_probe.py; at most 300 KB).

`test_the_query_set_check_has_teeth` proves the targets catch a search that misses
pages or returns wrong ones.
"""
from __future__ import annotations

import html.parser
import json
import statistics
import unicodedata
from pathlib import Path
from typing import Any

import pytest

import harness
from search_probe import first_query_cost

FIXTURES = Path(__file__).parent / "fixtures" / "search"
QUERIES: list[dict] = json.loads((FIXTURES / "queries.json").read_text(encoding="utf-8"))
REPORT_DIR = harness.OUTPUT_DIR / "search"
NAME_CATEGORIES = {"agency", "place", "project", "code"}
RECALL_TARGET, PRECISION_TARGET = 0.99, 0.95

# Elements that flow inside a line; every other tag ends a block and reads as a space.
INLINE = {"a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "del", "dfn", "em", "i", "ins",
          "kbd", "mark", "q", "s", "samp", "small", "span", "strong", "sub", "sup", "time", "u",
          "var", "wbr"}
SKIPPED = {"nav", "script", "style", "template"}
BLOCK = "\0"
REF_VARIANTS = {"\u2267": "\u2265", "\u2266": "\u2264", "\u2a7e": "\u2265", "\u2a7d": "\u2264"}


def ref_fold(s: str) -> str:
    """The folding rule of docs/search.md, independently of gongkai/: per character, NFKC,
    then the ≧/≦ variants, white space (str.isspace, and U+FEFF) dropped."""
    def space(c: str) -> bool:
        return c.isspace() or c == "\ufeff"
    return "".join(REF_VARIANTS.get(x, x) for c in s if not space(c)
                   for x in unicodedata.normalize("NFKC", c) if not space(x))


class MainText(html.parser.HTMLParser):
    """The main content of a page as a reader sees it (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.main = self.skip = 0
        self.parts: list[str] = []
        self.searched = False
        self.marked: list = []          # [tag, depth] of the data-search-skip element we are in

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "main":
            self.main += 1
        if any(name == "data-search-kind" for name, _ in attrs):
            self.searched = True
        if self.main:
            if tag in SKIPPED:
                self.skip += 1
            if self.marked and tag == self.marked[0]:
                self.marked[1] += 1
            elif not self.marked and any(name == "data-search-skip" for name, _ in attrs):
                self.marked = [tag, 1]
                self.skip += 1
            if tag not in INLINE:
                self.parts.append(BLOCK)

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        self.handle_starttag(tag, attrs)
        if tag in SKIPPED and self.main:
            self.skip -= 1

    def handle_endtag(self, tag: str) -> None:
        if self.main:
            if tag in SKIPPED:
                self.skip -= 1
            if self.marked and tag == self.marked[0]:
                self.marked[1] -= 1
                if not self.marked[1]:
                    self.marked = []
                    self.skip -= 1
                    self.parts.append(BLOCK)
            if tag not in INLINE:
                self.parts.append(BLOCK)
        if tag == "main":
            self.main -= 1

    def handle_data(self, data: str) -> None:
        if self.main and not self.skip:
            self.parts.append(data)

    @property
    def text(self) -> str:
        """The blocks, each folded (`ref_fold`), joined by a space: no term spans two."""
        return " ".join(b for b in map(ref_fold, "".join(self.parts).split(BLOCK)) if b)


def searched_pages(site: Path) -> dict[str, str]:
    """Site-root-relative URL -> folded, lower-cased main text of every searched page."""
    pages = {}
    for path in sorted(site.rglob("*.html")):
        if "search-index" in path.relative_to(site).parts:
            continue
        parser = MainText()
        parser.feed(path.read_text(encoding="utf-8"))
        parser.close()
        if parser.searched:
            pages[path.relative_to(site).as_posix()] = parser.text.lower()
    return pages


def query_terms(query: str) -> list[str]:
    """The space-separated terms of a query, folded and lower-cased."""
    return [ref_fold(t).lower() for t in query.replace("\ufeff", " ").split()]


def relevant(query: str, pages: dict[str, str]) -> set[str]:
    terms = [t for t in query_terms(query) if t]
    return {url for url, text in pages.items() if terms and all(t in text for t in terms)}


def score(entry: dict, returned: list[str], pages: dict[str, str]) -> dict:
    """Recall, precision and (name queries) the ranking check of one query."""
    rel = relevant(entry["q"], pages)
    ret = list(dict.fromkeys(returned))
    hits = [u for u in ret if u in rel]
    row = {"q": entry["q"], "cat": entry["cat"], "name": entry["name"],
           "relevant": len(rel), "returned": len(ret), "correct": len(hits),
           "recall": len(hits) / len(rel) if rel else 1.0,
           "precision": len(hits) / len(ret) if ret else 1.0,
           "missed": sorted(rel - set(ret)), "wrong": [u for u in ret if u not in rel]}
    if entry["name"]:
        rel_pos = [i for i, u in enumerate(ret) if u in rel]
        irrel_pos = [i for i, u in enumerate(ret) if u not in rel]
        row["ranking_ok"] = len(hits) == len(rel) and (not irrel_pos or not rel_pos
                                                      or max(rel_pos) < min(irrel_pos))
    return row


def summary(rows: list[dict]) -> dict:
    relevant_total = sum(r["relevant"] for r in rows)
    returned_total = sum(r["returned"] for r in rows)
    correct = sum(r["correct"] for r in rows)
    names = [r for r in rows if r["name"]]
    return {
        "queries": len(rows), "queries_with_relevant_pages": sum(r["relevant"] > 0 for r in rows),
        "recall": correct / relevant_total if relevant_total else 1.0,
        "precision": correct / returned_total if returned_total else 1.0,
        "macro_recall": statistics.mean(r["recall"] for r in rows),
        "macro_precision": statistics.mean(r["precision"] for r in rows),
        "relevant_pairs": relevant_total, "returned_pairs": returned_total,
        "missed_pairs": relevant_total - correct, "wrong_pairs": returned_total - correct,
        "name_queries": len(names), "name_ranking_ok": sum(bool(r.get("ranking_ok")) for r in names),
    }


def meets_targets(s: dict) -> bool:
    return (s["recall"] >= RECALL_TARGET and s["precision"] >= PRECISION_TARGET
            and s["name_ranking_ok"] == s["name_queries"])


def write_report(name: str, data: dict) -> Path:
    """test-output/search/<name>.json and .md: the summary and a table of every query."""
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    (REPORT_DIR / f"{name}.json").write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    s = data["summary"]
    lines = [f"# {data['title']}", "",
             f"- queries: {s['queries']} ({s['queries_with_relevant_pages']} with relevant pages), "
             f"pages searched: {data['pages']}",
             f"- recall: {s['recall']:.2%} (macro {s['macro_recall']:.2%}), "
             f"precision: {s['precision']:.2%} (macro {s['macro_precision']:.2%})",
             f"- missed (query, page) pairs: {s['missed_pairs']}, wrong: {s['wrong_pairs']}",
             f"- name queries ranked correctly: {s['name_ranking_ok']}/{s['name_queries']}"]
    for key, label in (("first_query", "first query"), ("index", "index")):
        if key in data:
            lines.append(f"- {label}: " + ", ".join(f"{k} {v}" for k, v in data[key].items()
                                                       if not isinstance(v, (dict, list))))
    lines += ["", "| query | category | relevant | returned | correct | recall | precision | ranking | ms |",
              "|---|---|---:|---:|---:|---:|---:|---|---:|"]
    for r in data["rows"]:
        ranking = "" if "ranking_ok" not in r else ("ok" if r["ranking_ok"] else "FAIL")
        lines.append(f"| `{r['q']}` | {r['cat']} | {r['relevant']} | {r['returned']} | {r['correct']} "
                     f"| {r['recall']:.0%} | {r['precision']:.0%} | {ranking} | {r.get('ms', '')} |")
    (REPORT_DIR / f"{name}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return REPORT_DIR / f"{name}.md"


# --------------------------------------------------------------------------- browser side

RUN_QUERIES = """async ([moduleUrl, queries]) => {
    const { search } = await import(moduleUrl);
    const out = [];
    for (const q of queries) {
        const t = performance.now();
        const results = await search(q);
        out.push({ ms: Math.round((performance.now() - t) * 10) / 10, urls: results.map((r) => r.url),
                   top: results.slice(0, 3).map((r) => [r.title, r.excerpt]) });
    }
    return out;
}"""


@pytest.fixture(scope="module")
def blank_page(browser: Any, site_server: harness.StaticServer):
    """One page of the served site (the search page, which loads nothing by itself but
    its script), shared by the tests of this module; no errors, no external requests."""
    log = harness.BrowserLog()
    context = harness.new_context(browser, log)
    context.set_default_timeout(60_000)
    page = context.new_page()
    page.goto(site_server.url_for("accessibility/index.html"))
    yield page
    context.close()
    assert not log.external_requests, log.external_requests
    assert not log.page_errors, log.page_errors
    assert not log.console_errors(), log.console_errors()


def test_query_set_meets_the_targets(site_dir: Path, site_server: harness.StaticServer, blank_page: Any,
                                     browser: Any):
    pages = searched_pages(site_dir)
    assert len(pages) >= 30
    assert len(QUERIES) >= 60
    assert sum(bool(relevant(e["q"], pages)) for e in QUERIES) >= 60, "too few queries with an answer"
    module = site_server.url_for("assets/search.js")

    first = first_query_cost(site_dir, QUERIES[0]["q"], browser)   # in a fresh page of its own
    answers = blank_page.evaluate(RUN_QUERIES, [module, [e["q"] for e in QUERIES]])

    rows = []
    for entry, answer in zip(QUERIES, answers):
        row = score(entry, answer["urls"], pages)
        row.update(ms=answer["ms"], top=answer["top"])
        rows.append(row)
        for url in answer["urls"]:
            assert not url.startswith(("/", "http")) and (site_dir / url).is_file(), url
    from gongkai.search import index_stats
    s = summary(rows)
    report = write_report("report", {
        "title": "Search query set: assets/search.js on the seed site",
        "pages": len(pages), "summary": s,
        "first_query": first,
        "index": index_stats(site_dir), "rows": rows})

    failed = [f"{r['q']!r}: recall {r['recall']:.0%} precision {r['precision']:.0%} "
              f"ranking {r.get('ranking_ok')} missed {r['missed'][:3]} wrong {r['wrong'][:3]}"
              for r in rows if r["recall"] < 1 or r["precision"] < 1 or r.get("ranking_ok") is False]
    assert s["recall"] >= RECALL_TARGET, f"recall {s['recall']:.2%} ({report}):\n" + "\n".join(failed)
    assert s["precision"] >= PRECISION_TARGET, f"precision {s['precision']:.2%} ({report}):\n" + "\n".join(failed)
    assert s["name_ranking_ok"] == s["name_queries"], f"ranking ({report}):\n" + "\n".join(failed)
    assert first["results"] == len(relevant(QUERIES[0]["q"], pages))
    assert first["kb"] <= 300, f"the first query transferred {first['kb']} KB: {first['files']}"


def test_results_have_the_promised_shape(site_dir: Path, site_server: harness.StaticServer, blank_page: Any):
    """Title, agency, year, escaped excerpt with the match marked, rank order; filters."""
    module = site_server.url_for("assets/search.js")
    results = blank_page.evaluate("""async ([m, q]) => (await import(m)).search(q)""", [module, "老干部"])
    assert results
    for r in results:
        assert r["title"] and r["agency"] and r["year"] in ("2020", "2022"), r
        assert r["kind"] in ("部门", "项目") and isinstance(r["categories"], list)
        assert "<mark>老干部</mark>" in r["excerpt"], r["excerpt"]
        assert "<" not in r["excerpt"].replace("<mark>", "").replace("</mark>", "")
    assert [r["inTitle"] for r in results] == sorted((r["inTitle"] for r in results), reverse=True)

    pages = searched_pages(site_dir)
    for filters in ({"year": "2020"}, {"region": "石家庄市正定县"}, {"category": "满意度指标"},
                    {"year": "2020", "kind": "项目"}):
        got = blank_page.evaluate("""async ([m, q, f]) => (await import(m)).search(q, {filters: f})""",
                                  [module, "老干部", filters])
        assert got and all(set(filters.items()) <= {(k, r[k]) for k in ("year", "region", "kind")}
                           | {("category", c) for c in r["categories"]} for r in got), filters
        unfiltered = [r["url"] for r in results if all(
            (v in r["categories"]) if k == "category" else r[k] == v for k, v in filters.items())]
        assert sorted(r["url"] for r in got) == sorted(unfiltered), filters
    assert {r["url"] for r in results} == relevant("老干部", pages)


def test_find_without_loading_agrees_with_search(site_server: harness.StaticServer, blank_page: Any):
    """`find` (for large sites: facets from the index's meta file, budgets on request, the
    page files loaded on demand) gives the pages `search` gives, with the same facets and,
    once loaded, the same data; for a term of more than two letters or with punctuation it
    may offer more pages (candidates), whose load() then gives null."""
    got = blank_page.evaluate("""async ([m, queries]) => { const s = await import(m);
        const out = [];
        for (const q of queries) {
            const full = await s.search(q);
            const lazy = await s.find(q, { loadAbove: 0 });
            await s.withBudgets(lazy.pages);
            const loaded = await Promise.all(lazy.pages.map((p) => p.load()));
            const facets = (r) => JSON.stringify([r.id, r.year, r.region, r.agency, r.categories, r.kind, r.budget]);
            out.push({ q, loaded: lazy.loaded, exact: lazy.exact, full: full.map(facets).sort(),
                       lazy: lazy.pages.map(facets).sort(),
                       data: loaded.filter(Boolean).map((r) => r.url + r.excerpt).sort(),
                       fullData: full.map((r) => r.url + r.excerpt).sort() });
        }
        return out; }""", [site_server.url_for("assets/search.js"), [e["q"] for e in QUERIES]])
    lazy = 0
    for row in got:
        assert row["data"] == row["fullData"], row["q"]         # loaded: exactly the pages found
        if row["exact"]:
            assert row["lazy"] == row["full"], row["q"]         # letters and digits: no page to drop
        else:
            assert set(row["lazy"]) >= set(row["full"]), row["q"]   # candidates: checked on load
        lazy += not row["loaded"]
    assert lazy >= 100     # every query with a result took the lazy path


def test_javascript_and_python_agree_on_letters_and_digits(blank_page: Any, site_server: harness.StaticServer):
    """The index is made of letters and digits and their pairs (gongkai/search/records.py
    is_word_char); search.js looks terms up by the same test (/[\\p{L}\\p{N}]/u)."""
    from gongkai.search.records import is_word_char
    odd = blank_page.evaluate("""() => { const out = [];
        for (let cp = 0; cp < 0x10000; cp++) { if (cp >= 0xd800 && cp < 0xe000) continue;
            if (/^[\\p{L}\\p{N}]$/u.test(String.fromCharCode(cp))) out.push(cp); } return out; }""")
    import unicodedata
    python = {cp for cp in range(0x10000) if not 0xD800 <= cp < 0xE000 and is_word_char(chr(cp))}
    differ = sorted(python.symmetric_difference(odd))
    # Chromium's Unicode may be newer than Python's: only newly assigned characters may differ.
    assert all(unicodedata.category(chr(cp)) == "Cn" for cp in differ), [hex(cp) for cp in differ[:10]]


def test_javascript_folds_as_python(blank_page: Any, site_server: harness.StaticServer):
    """The folding is one function on each side, and the two are the same: every BMP code
    point (and a sample beyond) through searchtext.fold_char and search.js foldChar; the
    query terms search.js makes (`terms`) are this test's `query_terms`; encoded index text
    decodes to what was printed, spaces and punctuation included."""
    from gongkai.search.records import lowered
    from gongkai.searchtext import fold_char
    module = site_server.url_for("assets/search.js")
    astral = [0x1D400, 0x1D7CE, 0x1F100, 0x20000, 0x2F800, 0x1F600, 0xE0020]
    got = blank_page.evaluate("""async ([m, astral]) => { const s = await import(m); const out = [];
        for (let cp = 0; cp < 0x10000; cp++) {
            if (cp >= 0xd800 && cp < 0xe000) { out.push(null); continue; }
            out.push(s.foldChar(String.fromCharCode(cp))); }
        return { bmp: out, astral: astral.map((cp) => s.foldChar(String.fromCodePoint(cp))) }; }""",
                              [module, astral])
    differ = [cp for cp in range(0x10000) if not 0xD800 <= cp < 0xE000 and got["bmp"][cp] != fold_char(chr(cp))]
    # Chromium's Unicode may be newer than Python's: only characters Python does not know may differ.
    assert all(unicodedata.category(chr(cp)) == "Cn" for cp in differ), \
        [(hex(cp), got["bmp"][cp], fold_char(chr(cp))) for cp in differ[:10]]
    assert got["astral"] == [fold_char(chr(cp)) for cp in astral]
    queries = ["２０２２ 年度", "成立１００周年", "≧９０％", "≦5", "ＪＢＮ-ck81", "12\u3000月底", "㎡ ①"]
    terms = blank_page.evaluate("async ([m, qs]) => { const s = await import(m); return qs.map((q) => s.terms(q)); }",
                                [module, queries])
    assert terms == [list(dict.fromkeys(t for t in query_terms(q) if t)) for q in queries]
    # the text the index is made from (records.lowered) is the text search.js compares
    printed = ["2022 年度特困帮扶\x0012 月底 ≧９０％ （含）", "Ａ Ｂ\u3000c İ ǅ", "成立 100 周年\0𠀀Σ"]
    low = blank_page.evaluate("""async ([m, xs]) => { const s = await import(m);
        const out = xs.map((x) => s.foldMap(x, '\\0')[0]);
        for (let cp = 0; cp < 0x10000; cp++) {
            out.push(cp >= 0xd800 && cp < 0xe000 ? null : s.foldMap(String.fromCharCode(cp))[0]); }
        return out; }""", [module, printed])
    assert low[:3] == [lowered(x) for x in printed]
    assert low[0] == "2022年度特困帮扶 12月底≥90%(含)"
    differ = [cp for cp in range(0x10000) if not 0xD800 <= cp < 0xE000 and low[3 + cp] != lowered(chr(cp))
              and chr(cp) != "\0"]
    assert all(unicodedata.category(chr(cp)) == "Cn" for cp in differ), \
        [(hex(cp), low[3 + cp], lowered(chr(cp))) for cp in differ[:10]]


def test_a_search_loads_only_what_it_needs(site_dir: Path, static_server, browser: Any):
    """A query loads the meta file, the word files of its words and the page files of its
    candidates, nothing else (no budgets until a sort asks for them); the candidates of a
    two-letter query are exactly its results."""
    server = static_server(site_dir, csp=True)
    log = harness.BrowserLog()
    context = harness.new_context(browser, log)
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(server.url_for("accessibility/index.html"))
    got = page.evaluate("""async (m) => { const s = await import(m);
        const found = await s.find('干部', { loadAbove: 0 });
        const first = await found.pages[0].load();
        return { total: found.total, exact: found.exact, url: first.url }; }""", server.url_for("assets/search.js"))
    context.close()
    assert not log.page_errors and not log.console_errors(), (log.page_errors, log.console_errors())
    index = [u.split("/search-index/")[1] for u in requested if "/search-index/" in u]
    from gongkai.search.index import read_file
    version = read_file(site_dir / "search-index" / "meta.bin")["version"]
    pages = searched_pages(site_dir)
    assert got["exact"] and got["total"] == len(relevant("干部", pages))
    assert index[0] == "meta.bin" and len([f for f in index if f.startswith("words/")]) <= 2
    assert len([f for f in index if f.startswith("pages/")]) == 1 and len(index) <= 4
    assert "budgets.bin" not in index
    # every file but the meta file is asked for with the index's version (no stale mix)
    assert all(f.endswith("?v=" + version) for f in index[1:]) and len(version) == 16


def test_the_query_set_check_has_teeth():
    """The targets catch a search that misses pages or returns wrong ones: answers that
    drop one relevant page of every fourth query, or add one wrong page to every other
    query, fail them."""
    pages = {f"p{n}.html": text for n, text in enumerate(["老干部 满意度", "老干部局", "满意度指标", "正定县"])}
    queries = [{"q": q, "cat": "test", "name": False} for q in ["老干部", "满意度", "正定", "指标"] * 5]
    truth = [sorted(relevant(e["q"], pages)) for e in queries]
    assert meets_targets(summary([score(e, urls, pages) for e, urls in zip(queries, truth)]))
    missing = [urls[1:] if n % 4 == 0 else urls for n, urls in enumerate(truth)]
    assert not meets_targets(summary([score(e, urls, pages) for e, urls in zip(queries, missing)]))
    wrong = [urls + ["p3.html"] if n % 2 and "p3.html" not in urls else urls for n, urls in enumerate(truth)]
    assert not meets_targets(summary([score(e, urls, pages) for e, urls in zip(queries, wrong)]))
