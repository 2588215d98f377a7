"""A 404 that works: the host serves 404.html for a missing address at any depth below the
site's sub-path; it is styled, and its links lead home, to the site map and to search."""
from __future__ import annotations

import pytest

from harness import StaticServer

MISSING = ["nothing-here", "2020/nothing/", "2020/287002/no-such-project/index.html"]


@pytest.mark.parametrize("missing", MISSING)
def test_not_found_page_works_at_any_depth_under_the_sub_path(new_page, site_dir, missing):
    with StaticServer(site_dir, not_found_page=True) as server:
        page = new_page()
        response = page.goto(server.url + missing)
        assert response.status == 404
        assert page.locator("h1").inner_text() == "页面未找到"
        # Styled: the site's stylesheet applied (its header colour, not the browser default).
        assert page.evaluate("getComputedStyle(document.querySelector('.site-header')).backgroundColor") != "rgba(0, 0, 0, 0)"
        for label, title in (("返回首页", None), ("查看网站地图", "网站地图"), ("使用站内搜索", "站内搜索")):
            page.goto(server.url + missing)
            with page.expect_navigation():
                page.get_by_role("link", name=label).click()
            assert page.url.startswith(server.url), page.url
            assert page.evaluate("document.title") and "页面未找到" not in page.title()
            if title:
                assert page.locator("h1").inner_text().startswith(title)


def test_only_the_not_found_page_has_a_base(site_dir):
    pages = [p for p in site_dir.rglob("*.html") if "<base " in p.read_text(encoding="utf-8")]
    assert [p.relative_to(site_dir).as_posix() for p in pages] == ["404.html"]
    assert '<base href="/zwgk/jxgk/">' in (site_dir / "404.html").read_text(encoding="utf-8")
