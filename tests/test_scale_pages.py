"""Site-wide pages that stay small at any size (issue 18, item 3): the home page, site map
and method page past lists.HOME_ROWS agency years, the list page of each year's region,
the sitemap index past the protocol's 50,000 addresses, the feed capped to recent entries.

The limits are lowered here so that 1,000 generated projects (bench/generate.py) cross
them; `make bench` measures the real home page at 10,000 and 100,000 project pages.
"""
from __future__ import annotations

import posixpath
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter

import pytest

import harness
from gongkai import urls
from gongkai.config import load_config
from gongkai.render import lists, pages
from gongkai.site import load, render_site

SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """1,000 generated projects: the config and every agency year's facts."""
    root = tmp_path_factory.mktemp("scale")
    subprocess.run([sys.executable, "-m", "bench.generate", str(root / "gen"), "--projects", "1000",
                    "--tools", "gongkai", "--quiet"], cwd=harness.REPO_ROOT, check=True, capture_output=True)
    config, problems = load_config(root / "gen" / "gongkai" / "site_config.yaml")
    assert config is not None, problems
    years, problems = load(config)
    assert len(years) > 100 and not [p for p in problems if p.is_error]
    return config, years


def render(generated, monkeypatch, home_rows=50, list_rows=2, sitemap_urls=400, feed_entries=20) -> dict[str, bytes]:
    monkeypatch.setattr(lists, "HOME_ROWS", home_rows)
    monkeypatch.setattr(lists, "LIST_ROWS", list_rows)
    monkeypatch.setattr(pages, "SITEMAP_URLS", sitemap_urls)
    monkeypatch.setattr(pages, "FEED_ENTRIES", feed_entries)
    config, years = generated
    out, problems = render_site(config, years)
    assert out is not None, problems
    return out.files


def links(files: dict[str, bytes], page: str) -> list[str]:
    """The site paths the page's links lead to (relative links resolved, fragments dropped)."""
    found = []
    for href in re.findall(r'href="([^"#]*)', files[page].decode("utf-8")):
        if href and "://" not in href and not href.startswith("mailto:"):
            found.append(posixpath.normpath(posixpath.join(posixpath.dirname(page), href)))
    return found


def year_pages(files: dict[str, bytes]) -> set[str]:
    return {p for p in files if re.fullmatch(r"\d{4}/[^/]+/index\.html", p)}


def test_past_the_limit_home_and_site_map_list_regions_and_every_agency_year_is_on_one_list_page(
        generated, monkeypatch):
    files = render(generated, monkeypatch)
    everything = year_pages(files)
    assert len(everything) > 100
    home = links(files, urls.HOME)
    assert not everything & set(home), "the home page lists no agency year one by one"
    list_pages = sorted(p for p in files if p.startswith("list/"))
    assert set(list_pages) >= {p for p in home if p.startswith("list/")} == {
        p for p in list_pages if re.fullmatch(r"list/\d{4}-\d+\.html", p)}
    on_lists = Counter(p for page in list_pages for p in links(files, page) if p in everything)
    assert set(on_lists) == everything and set(on_lists.values()) == {1}
    for page in list_pages:
        text = files[page].decode("utf-8")
        assert text.count('<th scope="row">') <= lists.LIST_ROWS
        missing = [t for t in links(files, page) if t not in files and t + "/index.html" not in files]
        assert not missing, (page, missing)
    assert any("（第 2 页，共" in files[p].decode("utf-8") for p in list_pages), "a region spans pages"
    sitemap = links(files, urls.SITEMAP_PAGE)
    assert not everything & set(sitemap) and {p for p in home if p.startswith("list/")} <= set(sitemap)
    method = files[urls.MEASURABILITY].decode("utf-8")
    assert 'id="by-region"' in method and 'id="by-year"' not in method and 'id="by-agency"' not in method


def test_below_the_limit_the_home_page_lists_every_agency_year(generated, monkeypatch):
    files = render(generated, monkeypatch, home_rows=100_000)
    assert year_pages(files) <= set(links(files, urls.HOME))
    assert 'id="by-year"' in files[urls.MEASURABILITY].decode("utf-8")


def test_home_page_size_does_not_grow_with_agency_years(generated, monkeypatch):
    """Past the limit the home page holds one row per year and region: the same bytes
    whether half the agency years are there or all of them."""
    config, years = generated
    half = [y for y in years if int(y.year.agency.code or 0) % 2 == 0] or years[::2]
    full = render(generated, monkeypatch)[urls.HOME]
    monkeypatch.setattr(lists, "HOME_ROWS", 10)
    out, problems = render_site(config, half)
    assert out is not None, problems
    assert abs(len(out.files[urls.HOME]) - len(full)) < 0.1 * len(full)


def locations(files: dict[str, bytes], path: str) -> list[str]:
    return [loc.text for loc in ET.fromstring(files[path]).iter(f"{SM}loc")]


def test_past_50000_addresses_sitemap_xml_is_an_index_of_files(generated, monkeypatch):
    whole = render(generated, monkeypatch, sitemap_urls=10**9)
    single = locations(whole, urls.SITEMAP_XML)
    assert ET.fromstring(whole[urls.SITEMAP_XML]).tag == f"{SM}urlset" and len(single) > 1000
    files = render(generated, monkeypatch, sitemap_urls=400)
    index = ET.fromstring(files[urls.SITEMAP_XML])
    assert index.tag == f"{SM}sitemapindex"
    site_url = generated[0].site_url or ""
    parts = [loc.removeprefix(site_url) for loc in locations(files, urls.SITEMAP_XML)]
    assert parts == [urls.sitemap_file(n) for n in range(1, len(parts) + 1)] and len(parts) == -(-len(single) // 400)
    split = []
    for part in parts:
        assert ET.fromstring(files[part]).tag == f"{SM}urlset"
        found = locations(files, part)
        assert len(found) <= 400
        split += found
    assert split == single
    assert f"Sitemap: {site_url}sitemap.xml" in files[urls.ROBOTS].decode("utf-8") or not site_url


def test_the_feed_announces_the_newest_agency_years_only(generated, monkeypatch):
    files = render(generated, monkeypatch, feed_entries=20)
    feed = ET.fromstring(files[urls.FEED])
    entries = [e for e in feed.iter(f"{ATOM}entry") if not e.find(f"{ATOM}title").text.startswith("更正")]
    assert len(entries) == 20
    whole = ET.fromstring(render(generated, monkeypatch, feed_entries=10**6)[urls.FEED])
    dates = sorted((e.find(f"{ATOM}updated").text for e in whole.iter(f"{ATOM}entry")), reverse=True)
    assert len(dates) > 20
    assert sorted((e.find(f"{ATOM}updated").text for e in entries), reverse=True) == dates[:20]
    assert "全部部门年度见开放数据" in feed.find(f"{ATOM}subtitle").text
    related = [link.get("href") for link in feed.iter(f"{ATOM}link") if link.get("rel") == "related"]
    assert related == [urls.ALL_PROJECTS]
