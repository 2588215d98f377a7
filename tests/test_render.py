"""The render stage on the small fixture site (tests/fixtures/site): pages as bytes in memory."""
from __future__ import annotations

import contextlib
import re
import shutil
from pathlib import Path

import jinja2
import pytest

from gongkai import render
from gongkai.config import load_config
from gongkai import site as pipeline
from gongkai.render import Output, make_markdown, markdown
from gongkai.site import render_site
from gongkai.urls import root_of

FIXTURE = Path(__file__).parent / "fixtures" / "site"
ZD = "2022/287001"
SY = "2021/shiyan-bumen"


def load(config_path: Path = FIXTURE / "site_config.yaml"):
    config, problems = load_config(config_path)
    assert config is not None, problems
    years, problems = pipeline.load(config)
    assert not [p for p in problems if p.is_error], problems
    return config, years


@pytest.fixture(scope="module")
def site() -> Output:
    config, years = load()
    site, problems = render_site(config, years)
    assert site is not None and not problems, problems
    return site


def html(site: Output, path: str) -> str:
    return site.files[path].decode("utf-8")


def test_layout(site: Output):
    """Every page is an index.html in its folder; data, feeds and assets beside them."""
    expected = {
        "index.html", f"{ZD}/index.html", f"{ZD}/13012322P00258110508R/index.html",
        f"{ZD}/13012322P00258110510Q/index.html",   # a code printed with spaces: spaces removed
        f"{SY}/index.html", f"{SY}/1/index.html", f"{SY}/2/index.html",  # no code: position
        "search/index.html", "sitemap/index.html", "accessibility/index.html", "404.html",
        "sitemap.xml", "robots.txt", "feed.xml", "assets/site.css", "assets/search-page.js",
        "data/datapackage.json", "data/indicators.csv", "data/projects.csv",
        "data/2022-287001.json", "data/2022-287001-projects.csv", "data/2022-287001-indicators.csv",
    }
    assert expected <= set(site.files)
    assert sorted(p for _, p in site.copies) == [f"{SY}/originals/原件.pdf", f"{ZD}/originals/002_sample.txt"]


def test_links_are_relative_to_each_page(site: Output):
    assert root_of("index.html") == "" and root_of(f"{ZD}/x/index.html") == "../../../"
    page = html(site, f"{ZD}/13012322P00258110508R/index.html")
    assert 'href="../../../assets/site.css"' in page
    assert 'action="../../../search/index.html"' in page
    assert not re.search(r'(?:href|src|action)="/', page)
    assert 'href="../13012322P00258110510Q/index.html" rel="next"' in page
    assert 'rel="prev"' not in page


def test_home_groups_years_newest_first(site: Output):
    page = html(site, "index.html")
    assert page.index('id="y2022"') < page.index('id="y2021"')
    assert "15.00 万元" in page          # total budget (derived), as str(Decimal)
    assert re.search(r'<td class="num"[^>]*>2</td>', page)


def test_toc_entries_pages_and_links(site: Output):
    page = html(site, f"{ZD}/index.html")
    toc = page.split('<section class="toc"', 1)[1].split("</section>", 1)[0]
    assert re.findall(r'class="toc-page"[^>]*>(\d+)<', toc) == ["1", "2", "10", "11"]
    # A nested heading that the printed 目录 does not list is left out of it.
    assert "领导高度重视" not in toc and "领导高度重视" in page
    assert '<a class="toc-text" href="#part-1-2">二、工作保障措施</a>' in toc
    # No printed 目录: headings listed, said to be generated; PDF pages open at the page.
    other = html(site, f"{SY}/index.html")
    assert "原件未印目录" in other
    assert 'href="originals/%E5%8E%9F%E4%BB%B6.pdf#page=3" aria-label="原件第 3 页">3</a>' in other
    assert '<a class="toc-text" href="#part-1-1">（一）总体目标</a>' in other


def test_indicator_table_merges_cells_as_printed(site: Output):
    page = html(site, f"{ZD}/13012322P00258110508R/index.html")
    table = page.split('<table class="indicators">', 1)[1].split("</table>", 1)[0]
    # 一级 heads its whole row group; 二级 heads only the rows it spans (scope=row).
    assert re.findall(r'<th scope="(rowgroup|row)" rowspan="(\d+)">([^<]*)</th>', table) == [
        ("rowgroup", "2", "产出指标"), ("row", "1", "数量指标"), ("row", "1", "质量指标"),
        ("rowgroup", "1", "效益指标"), ("row", "1", "社会效益指标")]
    assert table.count("<tbody>") == 2           # one row group per 一级指标
    assert "<caption data-search-skip>" in table and table.count('<th scope="col"') == 7
    assert "解析值（派生）" in table and "≥4次" in table


def test_plan_table_chart_and_derived_labels(site: Output):
    page = html(site, f"{ZD}/13012322P00258110508R/index.html")
    assert "占预算数（派生）" in page and "30.00%" in page and "100.00%" in page
    svg = page.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert 'role="img" aria-labelledby="plan-chart-title plan-chart-desc"' in svg
    assert '<title id="plan-chart-title">' in svg and '<desc id="plan-chart-desc">' in svg
    assert svg.count('class="bar"') == 4
    assert "核对提示（系统派生，非原文内容）" in page
    blank = html(site, f"{ZD}/13012322P00258110510Q/index.html")
    assert "（空白）" in blank and "空白</text>" in blank      # a blank plan cell stays blank


def test_text_is_escaped_everywhere(site: Output):
    page = html(site, f"{SY}/index.html")
    assert "<script>alert" not in page
    assert "<title>测试部门&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'content="测试部门&lt;script&gt;alert(1)&lt;/script&gt;"' in page   # meta ContentSource
    project = html(site, f"{SY}/1/index.html")
    assert "无编码项目 &#34;引号&#34; &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in project
    assert "&lt;b&gt;不是标签&lt;/b&gt; &amp; 符号" in page      # raw HTML in Markdown is text
    assert "<script>" not in html(site, "feed.xml")


def test_same_bytes_as_stock_jinja2(site: Output, monkeypatch):
    """The environment's compiled-code and escaping shortcuts (for speed) change no byte."""
    class Stock(jinja2.Environment):
        one_pass = contextlib.nullcontext

    def stock_env(templates: Path) -> jinja2.Environment:
        return Stock(
            loader=jinja2.FileSystemLoader(str(templates)), autoescape=True,
            undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
            keep_trailing_newline=True)
    monkeypatch.setattr(render.pages, "make_env", stock_env)
    config, years = load()
    stock, problems = render_site(config, years)
    assert stock is not None and not problems, problems
    assert stock.files.keys() == site.files.keys()
    assert [p for p in site.files if stock.files[p] != site.files[p]] == []


def test_markdown_links_and_headings():
    md = make_markdown()
    out = str(markdown(md, "[a](javascript:alert(1)) [b](https://x.cn/) [c](2022/) [d](/abs) ![i](https://x.cn/i.png)\n# 标题", "../../", 2))
    assert "javascript" not in out.split("[a]")[0] and 'href="javascript' not in out
    assert 'href="https://x.cn/"' in out
    assert 'href="../../2022/"' in out             # relative links are written from the site root
    assert 'href="/abs"' not in out
    assert "<img" not in out                       # no images: nothing is fetched from anywhere
    assert "<h3>标题</h3>" in out                   # headings shifted below the page's own
    assert str(markdown(md, "a\nb", "", 2)) == "<p>a<br>\nb</p>\n"


def test_unplaced_preamble_and_downloads(site: Output):
    page = html(site, f"{SY}/index.html")
    assert "未归类文字" in page and "无法归类的一行" in page and "原文第 12 行" in page
    assert 'href="https://example.gov.cn/"' in page and 'href="../../2022/287001/index.html#toc"' in page
    assert re.search(r"<code class=\"hash\">[0-9a-f]{64}</code>", page)
    assert 'href="../../data/2021-shiyan-bumen-projects.csv"' in page


def test_two_outputs_with_one_path_is_an_error():
    site = Output()
    site.add("a/index.html", b"1", "first")
    site.add("a/index.html", b"2", "second")
    site.add("a", b"3", "third")                 # a file where a folder is needed
    assert site.files["a/index.html"] == b"1"
    assert "two outputs with one path a/index.html" in site.problems[0].message
    assert "also needed as a folder" in site.conflicts()[0].message


def test_duplicate_project_pages_are_refused(tmp_path: Path, monkeypatch):
    """Two projects whose pages would share a path stop the build instead of overwriting."""
    import gongkai.urls as urls
    config, years = load()
    monkeypatch.setattr(urls, "year_page", lambda year, ident: "same/index.html")
    site, problems = render_site(config, years)
    assert site is None and any("two outputs with one path same/index.html" in p.message for p in problems)


def test_template_errors_become_problems(tmp_path: Path):
    """StrictUndefined: a misspelt name fails the build with the template's file and line."""
    project = tmp_path / "p"
    shutil.copytree(FIXTURE, project)
    shutil.copytree(Path(__file__).parent.parent / "templates", project / "templates")
    target = project / "templates" / "home.html"
    target.write_text(target.read_text(encoding="utf-8").replace("{{ site.title }}</h1>", "{{ site.titel }}</h1>"),
                      encoding="utf-8")
    config, years = load(project / "site_config.yaml")
    site, problems = render_site(config, years)
    assert site is None
    assert problems[0].file.endswith("templates/home.html") and problems[0].line == 3
    assert "titel" in problems[0].message


def test_meta_tags_from_config(site: Output):
    page = html(site, f"{ZD}/index.html")
    for name, value in [("SiteName", "测试站点"), ("SiteDomain", "example.gov.cn"), ("SiteIDCode", "1300000000"),
                        ("ColumnName", "预算绩效目标"), ("ColumnType", "预决算公开"), ("PubDate", "2022-02-15"),
                        ("ContentSource", "中共正定县委老干部局本级")]:
        assert f'<meta name="{name}" content="{value}">' in page
    for fact in ("测试主办单位", "冀ICP备00000000号", "冀公网安备00000000000000号", "1300000000",
                 'href="mailto:test@example.gov.cn"'):
        assert fact in page


def test_feed_sitemap_robots(site: Output):
    feed = html(site, "feed.xml")
    assert '<link rel="alternate" type="text/html" href="2022/287001/index.html"/>' in feed
    assert "<updated>2022-02-15T00:00:00+08:00</updated>" in feed
    assert "2021-01-01" not in feed            # an undated year: its git date (tests/test_dates.py), no placeholder
    sitemap = html(site, "sitemap.xml")
    assert sitemap.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<urlset')
    assert "<loc>https://example.gov.cn/zwgk/jxgk/2022/287001/</loc>" in sitemap
    assert "Sitemap: https://example.gov.cn/zwgk/jxgk/sitemap.xml" in html(site, "robots.txt")


def test_source_date_epoch_dates_only_the_feed_never_an_agency_year():
    """SOURCE_DATE_EPOCH is when the site was built: true of the feed (Atom requires its
    date), never of an agency year, whose page says its date is unknown."""
    import datetime
    config, years = load()
    site, _ = render_site(config, years, epoch=datetime.date(2023, 5, 6))
    assert "2023-05-06" not in html(site, f"{SY}/index.html")
    assert "2023-05-06" not in html(site, "feed.xml")   # the entries' dates are known: the newest is the feed's