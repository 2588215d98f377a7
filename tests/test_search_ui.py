"""The search page in headless Chromium, under /zwgk/jxgk/ with the site's CSP.

Typing shows results; a filter narrows them and shows in the URL; the URL reloads the
same results; the header box of any page leads there; everything works by keyboard;
a result opens its page at the first match, in a <mark> (at the top without JavaScript);
with no query the filters and the sort browse every page, the state in the URL;
axe finds nothing with results shown; without JavaScript the page says so and links to
the home page's list. The page fixtures fail a test on any external request or uncaught
error; CSP violations show up as console errors, checked here too.
"""
from __future__ import annotations

import re
import urllib.parse
from typing import Any

import pytest

import harness

QUERY = "老干部"


def search_url(server: harness.StaticServer, **params: str) -> str:
    return server.url_for("search/index.html") + ("?" + urllib.parse.urlencode(params) if params else "")


def result_links(page: Any) -> list[str]:
    return page.eval_on_selector_all("#search-results a", "links => links.map(a => a.getAttribute('href'))")


def wait_for_results(page: Any) -> None:
    page.wait_for_selector("#search-results .search-result")
    page.wait_for_function("() => !/正在搜索/.test(document.getElementById('search-status').textContent)")


def expected(page: Any, server: harness.StaticServer, query: str, filters: dict | None = None) -> list[str]:
    """What assets/search.js returns, as the page links to it (relevance order, each
    link asking its page to mark the query)."""
    urls = page.evaluate("async ([m, q, f]) => (await import(m)).search(q, {filters: f}).then(r => r.map(x => x.url))",
                         [server.url_for("assets/search.js"), query, filters or {}])
    return ["../" + u + "#highlight=" + urllib.parse.quote(query, safe="") for u in urls]


def no_console_errors(log: harness.BrowserLog) -> None:
    assert not log.console_errors(), log.console_errors()   # CSP violations land here


def test_typing_shows_results(page: Any, site_server: harness.StaticServer, browser_log, screenshot):
    page.goto(search_url(site_server))
    box = page.get_by_label("搜索部门、地区、项目名称、项目编码或指标")
    box.click()
    page.keyboard.type(QUERY)
    wait_for_results(page)
    links = result_links(page)
    assert links == expected(page, site_server, QUERY)
    assert f"共找到 {len(links)} 条结果" in page.inner_text("#search-status")
    first = page.locator(".search-result").first
    assert first.locator("mark").first.inner_text() == QUERY
    meta = first.locator(".search-meta").inner_text()
    assert re.search(r"20\d\d 年", meta) and "·" in meta
    assert "q=" + urllib.parse.quote(QUERY) in page.url       # typed queries are in the URL too
    screenshot(page, "results")
    no_console_errors(browser_log)


def test_a_filter_narrows_and_the_url_reloads_it(page: Any, site_server: harness.StaticServer, browser_log):
    page.goto(search_url(site_server, q=QUERY))
    wait_for_results(page)
    everything = result_links(page)
    year = page.locator("#search-year")
    options = year.locator("option").all_inner_texts()
    assert options[0] == f"全部年度（{len(everything)}）" and any(o.startswith("2020 年（") for o in options)
    year.select_option("2020")
    narrowed = result_links(page)
    assert narrowed and len(narrowed) < len(everything) and set(narrowed) <= set(everything)
    assert narrowed == expected(page, site_server, QUERY, {"year": "2020"})
    assert all("2020 年" in m for m in page.locator(".search-meta").all_inner_texts())
    status = page.inner_text("#search-status")
    assert "筛选：2020 年" in status and f"显示其中 {len(narrowed)} 条" in status
    assert page.get_attribute("#search-status", "role") == "status"
    # 一级指标 counts follow the year filter
    counts = page.locator("#search-category option").all_inner_texts()
    assert counts[0] == f"全部一级指标（{len(narrowed)}）"

    params = urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query)
    assert params == {"q": [QUERY], "year": ["2020"]}
    page.reload()
    wait_for_results(page)
    assert result_links(page) == narrowed
    assert page.input_value("#search-page-q") == QUERY and year.input_value() == "2020"

    page.locator("#search-sort").select_option("budget-desc")
    assert "sort=budget-desc" in page.url
    page.wait_for_function("() => !/正在按预算排序/.test(document.getElementById('search-status').textContent)")
    budgets = [float(m.group(1).replace(",", "")) for t in page.locator(".search-meta").all_inner_texts()
               if (m := re.search(r"预算\S* ([\d,.]+) 元", t))]
    assert budgets == sorted(budgets, reverse=True) and len(budgets) == len(narrowed)
    page.get_by_role("button", name="清除筛选").click()
    assert result_links(page) == everything and "year=" not in page.url
    no_console_errors(browser_log)


def test_keyboard_only_from_the_header_box(page: Any, site_server: harness.StaticServer, browser_log):
    """From the home page: Tab to the header box, type, Enter; Tab to a filter and change
    it with the arrow keys; Tab on to the first result and open it with Enter."""
    page.goto(site_server.url_for("index.html"))
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "site-search-q":
            break
    assert page.evaluate("document.activeElement.id") == "site-search-q"
    page.keyboard.type(QUERY)
    page.keyboard.press("Enter")
    page.wait_for_url("**/search/index.html?q=*")
    wait_for_results(page)
    assert page.input_value("#site-search-q") == QUERY
    everything = result_links(page)

    page.focus("#search-page-q")
    seen = []
    while page.evaluate("document.activeElement.id") != "search-year" and len(seen) < 10:
        page.keyboard.press("Tab")
        seen.append(page.evaluate("document.activeElement.id"))
    assert page.evaluate("document.activeElement.id") == "search-year", seen
    page.keyboard.press("ArrowDown")   # Chromium changes a closed <select> with the arrow keys
    page.wait_for_function("() => new URLSearchParams(location.search).has('year')")
    narrowed = result_links(page)
    assert len(narrowed) < len(everything)

    for _ in range(15):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.closest('#search-results') !== null"):
            break
    href = page.evaluate("document.activeElement.getAttribute('href')")
    assert href == narrowed[0]
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == urllib.parse.urljoin(search_url(site_server), href)
    no_console_errors(browser_log)


@pytest.mark.parametrize("page", ["desktop", "mobile"], indirect=True)
def test_axe_with_results_and_filters_shown(page: Any, site_server: harness.StaticServer, browser_log, screenshot):
    page.goto(search_url(site_server, q=QUERY, year="2020"))
    wait_for_results(page)
    assert page.is_visible("#search-controls") and page.is_visible("#search-results")
    harness.assert_no_axe_violations(page)
    screenshot(page)
    page.goto(search_url(site_server, q="没有这样的文字"))
    page.wait_for_function("() => /没有找到/.test(document.getElementById('search-status').textContent)")
    harness.assert_no_axe_violations(page)
    no_console_errors(browser_log)


def test_without_javascript_the_page_says_so(new_page, site_server: harness.StaticServer):
    page = new_page(java_script_enabled=False)
    page.goto(search_url(site_server, q=QUERY))
    message = page.locator(".search-noscript")
    assert message.is_visible() and "JavaScript" in message.inner_text()
    link = message.get_by_role("link", name="首页的全部部门列表")
    assert link.get_attribute("href") == "../index.html"
    assert not page.is_visible("#search-ui")   # (axe needs JavaScript: not run here)


@pytest.mark.parametrize("prefix", ["/", "/a/b/c/"])
def test_search_works_under_any_path(new_page, site_dir, static_server, prefix: str, browser_log):
    """Another mount point than /zwgk/jxgk/ (with the CSP): same results, links resolve."""
    server = static_server(site_dir, prefix=prefix, csp=True)
    page = new_page()
    page.goto(search_url(server, q="正定县"))
    wait_for_results(page)
    links = result_links(page)
    assert links == expected(page, server, "正定县") and links
    for href in links:
        target = urllib.parse.urljoin(search_url(server), href).split("#")[0]
        assert target.startswith(server.url) and (site_dir / target[len(server.url):]).is_file(), href
    no_console_errors(browser_log)


def test_no_query_and_no_index(page: Any, site_server: harness.StaticServer, static_server, site_dir, tmp_path,
                               browser_log):
    """An empty query asks for one; a site without its index says search is unavailable."""
    page.goto(search_url(site_server))
    # The status reads 正在读取页面列表… while browse mode loads its list, then asks for a query.
    page.wait_for_function("() => /请输入/.test(document.getElementById('search-status').textContent)")
    assert "请输入" in page.inner_text("#search-status")
    import shutil
    copy = tmp_path / "site"
    shutil.copytree(site_dir, copy, ignore=shutil.ignore_patterns("search-index"))
    server = static_server(copy, csp=True)
    page.goto(search_url(server, q=QUERY))
    page.wait_for_function("() => /无法使用/.test(document.getElementById('search-status').textContent)")
    assert page.inner_text("#search-status").startswith("搜索暂时无法使用")
    browser_log.console.clear()   # the failed fetches are expected here


def test_a_result_opens_at_its_match(page: Any, site_server: harness.StaticServer, browser_log, new_page,
                                     screenshot):
    """Typed without the printed spaces, full width: the result link carries the query,
    the page opens with the first match (as printed, spaces included) in a focused <mark>
    in view; axe stays clean. Without JavaScript the same link opens the page at its top."""
    query = "成立１００周年"
    page.goto(search_url(site_server, q=query))
    wait_for_results(page)
    links = result_links(page)
    assert links == expected(page, site_server, query) and len(links) == 1
    assert links[0].endswith("#highlight=" + urllib.parse.quote(query, safe=""))
    page.locator("#search-results a").first.click()
    page.wait_for_selector("mark#search-match")
    marks = page.locator("main mark.search-match")
    assert marks.count() == 1 and marks.first.inner_text() == "成立 100 周年"
    assert page.evaluate("document.activeElement.id") == "search-match"
    assert page.evaluate("window.scrollY") > 0
    box = marks.first.bounding_box()
    assert 0 <= box["y"] and box["y"] + box["height"] <= page.viewport_size["height"]
    harness.assert_no_axe_violations(page)
    screenshot(page, "match")
    url = page.url
    off = new_page(java_script_enabled=False)
    off.goto(url)
    assert off.locator("mark").count() == 0 and off.evaluate("window.scrollY") == 0
    no_console_errors(browser_log)


def test_the_first_match_skips_the_heading_and_site_text(page: Any, site_server: harness.StaticServer,
                                                        browser_log):
    """The match after the heading is marked (the heading is shown anyway); a query found
    nowhere leaves the page as it is."""
    target = site_server.url_for("2022/287001/13012322P00258110510Q/index.html")
    page.goto(target + "#highlight=" + urllib.parse.quote("12月底"))
    page.wait_for_selector("mark#search-match")
    mark = page.locator("mark#search-match")
    assert mark.inner_text() == "12 月底"
    assert page.evaluate("document.getElementById('search-match').closest('h1, [data-search-skip], nav')") is None
    page.goto(site_server.url_for("2022/287001/index.html") + "#highlight=" + urllib.parse.quote("没有这样的文字"))
    page.wait_for_load_state("networkidle")
    assert page.locator("mark").count() == 0 and page.evaluate("window.scrollY") == 0
    no_console_errors(browser_log)


def test_browse_without_a_query(page: Any, site_server: harness.StaticServer, browser_log, screenshot):
    """No query: the filters (with counts) and the sort work on every page; each choice is
    in the URL and a step of the history (back restores the previous list)."""
    module = site_server.url_for("assets/search.js")
    page.goto(search_url(site_server))
    page.wait_for_function("() => /浏览全部/.test(document.getElementById('search-status').textContent)")
    assert "请输入" in page.inner_text("#search-status")
    assert page.is_visible("#search-controls") and not page.is_visible("#search-list")
    total = page.evaluate("async (m) => (await (await import(m)).browse()).total", module)
    assert total == 34
    assert page.locator("#search-year option").first.inner_text() == f"全部年度（{total}）"

    page.locator("#search-year").select_option("2020")
    page.wait_for_selector("#search-results .search-result")
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query) == {"year": ["2020"]}
    in_2020 = result_links(page)
    assert in_2020 and all("/2020/" in "/" + h for h in in_2020)
    page.locator("#search-region").select_option("秦皇岛市北戴河区")
    page.locator("#search-kind").select_option("项目")
    page.locator("#search-sort").select_option("budget-desc")
    page.wait_for_function("() => /sort=budget-desc/.test(location.search)")
    page.wait_for_function("() => /共 \\d+ 条结果/.test(document.getElementById('search-status').textContent)")
    params = urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query)
    assert params == {"year": ["2020"], "region": ["秦皇岛市北戴河区"], "kind": ["项目"], "sort": ["budget-desc"]}
    links = result_links(page)
    assert links and all(h.startswith("../2020/203002/") and "#" not in h for h in links)
    metas = page.locator(".search-meta").all_inner_texts()
    assert all("项目绩效目标表" in m and "2020 年" in m for m in metas)
    budgets = [float(m.group(1).replace(",", "")) for t in metas if (m := re.search(r"预算数 ([\d,.]+) 元", t))]
    assert len(budgets) == len(links) and budgets == sorted(budgets, reverse=True)
    status = page.inner_text("#search-status")
    assert f"共 {len(links)} 条结果" in status and "秦皇岛市北戴河区" in status
    harness.assert_no_axe_violations(page)
    screenshot(page, "browse")

    shared = page.url                      # the same list from the address alone
    page.go_back()                         # one step: the sort
    page.wait_for_function("() => !/sort=/.test(location.search)")
    page.wait_for_function("() => document.getElementById('search-sort').value === ''")
    assert "kind=" in page.url
    page.goto(shared)
    page.wait_for_selector("#search-results .search-result")
    assert result_links(page) == links
    page.get_by_role("button", name="清除筛选").click()
    page.wait_for_function("() => location.search === ''")
    page.wait_for_function("() => /浏览全部/.test(document.getElementById('search-status').textContent)")
    assert not page.is_visible("#search-list")
    no_console_errors(browser_log)
