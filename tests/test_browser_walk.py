"""What a reader does, in headless Chromium: home → agency year → 目录 → project → next → download.

The site is served under a portal sub-path (`site_server`, /zwgk/jxgk/) with the site's
Content-Security-Policy. Screenshots of every page type at phone (360 px) and desktop
(1280 px) width are kept in test-output/screenshots/.
"""
from __future__ import annotations

from pathlib import Path

import pytest

import harness

REPO = harness.REPO_ROOT
AGENCY = "中共正定县委老干部局本级"
ORIGINAL = REPO / "content" / "2022" / "287001" / "002_759a5ed20f4ead86.txt"
WIDTHS = [{"width": 360, "height": 740}, {"width": 1280, "height": 800}]
PAGE_TYPES = {
    "home": "index.html",
    "agency-year": "2022/287001/index.html",
    "project": "2022/287001/13012322P00258110508R/index.html",
    "search": "search/index.html",
    "sitemap": "sitemap/index.html",
    "accessibility": "accessibility/index.html",
    "404": "404.html",
}


def walk(page, start_url: str, shots=None) -> None:
    """The reader's path through the site; `shots(name)` is called on each page reached."""
    shot = shots or (lambda name: None)
    page.goto(start_url)
    assert page.locator("h1").inner_text() == "部门预算绩效目标公开"
    shot("1-home")

    page.get_by_role("link", name=AGENCY, exact=True).click()
    page.wait_for_url("**/2022/287001/index.html")
    assert "2022 年部门预算绩效文本" in page.locator("h1").inner_text()
    shot("2-agency-year")

    toc = page.locator("section.toc")
    toc.get_by_role("link", name="一、总体绩效目标", exact=True).click()
    page.wait_for_url("**/2022/287001/index.html#part-1-1")
    heading = page.locator("#part-1-1")
    assert heading.inner_text() == "一、总体绩效目标"
    assert heading.is_visible()
    box = heading.bounding_box()
    # Scrolled to it (a fragment scroll may leave the heading a sub-pixel above the top).
    assert box is not None and -1 <= box["y"] < page.viewport_size["height"]

    entry = toc.locator("a.toc-text", has_text="关工委和老促会工作经费")
    entry.click()
    page.wait_for_url("**/2022/287001/13012322P00258110508R/index.html")
    first = page.locator("h1").inner_text()
    assert first == "1.2022 年度关工委和老促会工作经费县级资金绩效目标表"
    assert page.locator("table.indicators th[scope=rowgroup]").count() > 0
    shot("3-project")

    page.get_by_role("link", name="下一个项目", exact=False).click()
    page.wait_for_url("**/2022/287001/*/index.html")
    assert page.locator("h1").inner_text().startswith("2.2022 年度老年大学")
    shot("4-next-project")

    page.get_by_role("navigation", name="当前位置").get_by_role("link", name=AGENCY).click()
    page.wait_for_url("**/2022/287001/index.html")
    with page.expect_download() as info:
        page.locator("section.downloads").get_by_role("link", name="部门预算绩效文本（PDF 提取文本）").click()
    download = info.value
    assert download.suggested_filename == ORIGINAL.name
    assert Path(download.path()).read_bytes() == ORIGINAL.read_bytes()


@pytest.mark.parametrize("page", WIDTHS, indirect=True, ids=["360", "1280"])
def test_walk_with_javascript(page, site_server, screenshot):
    walk(page, site_server.url_for("index.html"), lambda name: screenshot(page, name))


def test_walk_without_javascript(new_page, site_server):
    """Everything but search works with JavaScript off."""
    page = new_page(WIDTHS[0], java_script_enabled=False, accept_downloads=True)
    walk(page, site_server.url, None)


def test_walk_from_disk(browser, site_dir):
    """Opened as files (file://), links still lead to pages: every link names its index.html."""
    # The shared contexts allow only 127.0.0.1; this one allows only files, and records the rest.
    context = browser.new_context(viewport=WIDTHS[1], locale="zh-CN")
    outside: list[str] = []

    def block(route):
        outside.append(route.request.url)
        route.abort("blockedbyclient")

    context.route(lambda url: not url.startswith("file:"), block)
    page = context.new_page()
    try:
        _walk_files(page, site_dir)
    finally:
        context.close()
    assert outside == []


def _walk_files(page, site_dir: Path) -> None:
    page.goto((site_dir / "index.html").as_uri())
    page.get_by_role("link", name=AGENCY, exact=True).click()
    page.wait_for_url("**/2022/287001/index.html")
    page.locator("section.toc a.toc-text", has_text="关工委和老促会工作经费").click()
    page.wait_for_url("**/13012322P00258110508R/index.html")
    page.get_by_role("link", name="下一个项目").click()
    assert page.locator("h1").inner_text().startswith("2.2022 年度老年大学")
    assert page.evaluate("getComputedStyle(document.body).fontSize") in ("16px", "17px")  # CSS loaded


@pytest.mark.parametrize("page", WIDTHS, indirect=True, ids=["360", "1280"])
@pytest.mark.parametrize("kind", list(PAGE_TYPES))
def test_page_types(page, site_server, screenshot, kind):
    """Every page type: screenshot, no sideways scrolling of the page, no axe violations."""
    page.goto(site_server.url_for(PAGE_TYPES[kind]))
    width = page.viewport_size["width"]
    screenshot(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= width, "page scrolls sideways"
    harness.assert_no_axe_violations(page)


def test_skip_link_is_first_and_focus_visible(page, site_server):
    page.goto(site_server.url_for(PAGE_TYPES["project"]))
    page.keyboard.press("Tab")
    focused = page.evaluate("[document.activeElement.textContent, getComputedStyle(document.activeElement).outlineStyle]")
    assert focused == ["跳到正文", "solid"]
    page.keyboard.press("Enter")
    page.wait_for_url("**#main", timeout=5000)    # the fragment navigation settles asynchronously


def test_tables_fit_a_phone(page, site_server):
    """At 360 px no table region scrolls sideways: the indicator rows are blocks (三级指标
    first), and the region can still be reached by keyboard."""
    page.set_viewport_size(WIDTHS[0])
    page.goto(site_server.url_for(PAGE_TYPES["project"]))
    for region in page.locator("main .table-wrap").all():
        assert region.evaluate("el => el.scrollWidth <= el.clientWidth"), region.get_attribute("aria-label")
    region = page.locator(".table-wrap", has=page.locator("table.indicators"))
    assert region.get_attribute("role") == "region" and region.get_attribute("tabindex") == "0"
    first = region.locator("tbody tr").first
    level3, value = (first.locator(s).bounding_box() for s in (".k-level3", ".k-value"))
    assert level3["y"] + level3["height"] <= value["y"] + 1
    region.focus()
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "绩效指标表"


def test_print_layout_reads_like_the_document(page, site_server):
    page.goto(site_server.url_for(PAGE_TYPES["project"]))
    page.emulate_media(media="print")
    hidden = page.evaluate("""() => ['.site-header', '.site-footer', '.crumbs', '.prev-next', '.notes', 'td.derived']
        .map(s => getComputedStyle(document.querySelector(s)).display)""")
    assert set(hidden) == {"none"}
    assert page.locator("table.indicators").is_visible()
    assert page.locator(".print-meta").is_visible()      # the page's address (tests/test_print.py)
