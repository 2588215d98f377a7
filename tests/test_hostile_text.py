"""Hostile text in every text field: shown exactly as written, never run, never markup.

A property-based test (hypothesis) puts one generated value into every text field of a
small agency year at once (names, codes, titles, table cells, plan periods, 目录 entries,
notes of originals, unplaced lines) and into its Markdown fields, renders the whole site in
memory (gongkai.site.render_site) and checks every output:

- pages: no script, handler, style or URL that the templates did not put there
  (gongkai.verify on the written files), no element or attribute outside the vocabulary of
  a benign rendering plus Markdown's, no duplicate attribute (an injected `" class=`);
  the value is on its pages unchanged (no normalisation of combining marks, full-width
  digits, bidi or zero-width characters) and a value holding `<` never appears raw;
- `<title>`, attributes (aria-label, data-search-*) and JSON-LD hold the value exactly;
- data files: JSON round-trips it exactly, CSV cells equal it, with a leading `'` when it
  starts like a spreadsheet formula (= + - @ tab CR); feed.xml and sitemap.xml stay XML;
- templates never evaluate it: `{{ 7*7 }}` and `{% raw %}` stay text.

Values come from the catalogue of the reliability issue mixed with random Unicode (what a
YAML file can hold: no surrogates, no characters gongkai/load.py refuses).
"""
from __future__ import annotations

import csv
import datetime
import html
import io
import json
import re
import tempfile
import xml.etree.ElementTree as ET
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from gongkai import load
from gongkai.config import Config
from gongkai.derive import derive_year
from gongkai.model import (Agency, AgencyYear, Document, Indicator, Original, Part, PlanPoint,
                           Project, Section, TocEntry, Unplaced)
from gongkai.site import render_site
from gongkai.validate import URL_SAFE_RE
from gongkai.verify import verify_site
from gongkai.write import write_files

IDENT = "test-agency"
AGENCY_PAGE = f"2020/{IDENT}/index.html"
TITLE = "测试站点"
FORMULA = ("=", "+", "-", "@", "\t", "\r")

PAYLOADS = [
    "<script>alert(1)</script>", "</script><script>alert(1)</script>", '"><img src=x onerror=alert(1)>',
    "'><svg/onload=alert(1)>", '" onmouseover="alert(1)', "javascript:alert(1)", "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>", "[点击](javascript:alert(1))", "<a href=\"javascript:x\">x</a>",
    "<b>粗体</b><!-- 注释 -->", "<style>body{display:none}</style>", "{{ 7*7 }}", "{% raw %}{{ x }}{% endraw %}",
    "{{ config.__class__ }}", "${7*7}", "<%= 7*7 %>", "\u202e\u2066RTL\u2069\u202c", "\u200b\u200c\u200d\u2060\ufeff",
    "０１２３４５６７８９", "e\u0301 ḁ̷̢͕ 한글", "=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-1-1", "@SUM(A1)",
    "\t=1", "\r=1", "=1\n=2", "&amp; &lt; &#x3c; &#60", "\\u003c/script\\u003e", "<![CDATA[x]]>", "]]>",
    "', \"", "\\", "\n\n  \n", "# 标题\n\n- 列表", "| a |\n|:--|\n| b |", "```\n<code>\n```",
    "<!--", "-->", "<?xml version=\"1.0\"?>", "\U0001f600\U0010fffd", "*a* _b_ `c` ~~d~~",
]
# Characters a content file can hold: gongkai/load.py refuses C0/C1 controls (but tab,
# line feed and carriage return) and Unicode line separators; YAML refuses surrogates.
ALLOWED = st.characters(blacklist_categories=("Cs",),
                        blacklist_characters="".join(chr(c) for c in range(0x10000) if load.BAD_CHAR_RE.match(chr(c))))
VALUES = st.lists(st.one_of(st.sampled_from(PAYLOADS), st.text(ALLOWED, min_size=1, max_size=30)),
                  min_size=1, max_size=4).map("".join)


def model_with(v: str, md: str) -> AgencyYear:
    """An agency year with `v` in every plain-text field and `md` in every Markdown field."""
    indicator = Indicator(level1=v, level2=v, level3=v, description=v, value=v, basis=v)
    second = Indicator(level1="产出指标", level2="数量指标", level3="人数", description="人数", value="≥10 人")
    code = v if not (URL_SAFE_RE.match(v) and v.endswith(".html")) else v + "-"   # a page path, not a clash
    project = Project(title=v, number=v, toc=TocEntry(text=v, page=v), agency_line=v, unit=v, code=code,
                      name=v, budget=Decimal("10.00"), fiscal=Decimal("8.00"), other=Decimal("2.00"),
                      purpose=v, plan=(PlanPoint(period=v, value=Decimal("50")),
                                       PlanPoint(period="12 月底", value=Decimal("100"))),
                      goals=v, indicators=(indicator, second), remarks=v)
    inner = Section(title=v, number=v, text=md)
    section = Section(title=v, number=v, toc=TocEntry(text=v, page=1), text=md, sections=(inner,))
    parts = (Part(title=v, number=v, toc=TocEntry(text=v), text=md, sections=(section,)),
             Part(title=v, number=v, projects=(project,)))
    return AgencyYear(
        year=2020, agency=Agency(name=v, region="测试区", code=v, slug=IDENT), unit=v, parts=parts,
        document=Document(title=v, status=v, compiler=v, reviewer=v, published=datetime.date(2020, 2, 15)),
        originals=(Original(file="原件.txt", title=v, note=v),), preamble=md,
        unplaced=(Unplaced(line=1, text=v),), source=f"content/2020/{IDENT}.yaml")


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """A project folder holding the one original file the model names."""
    folder = tmp_path_factory.mktemp("hostile-text")
    (folder / "content" / "2020" / IDENT).mkdir(parents=True)
    (folder / "content" / "2020" / IDENT / "原件.txt").write_text("原件\n", encoding="utf-8")
    return folder


def render(root: Path, v: str, md: str) -> dict[str, bytes]:
    config = Config(title=TITLE, owner="测试主办单位", regions=("测试区",), root=root,
                    contact={"email": "a@example.gov.cn"})
    site, problems = render_site(config, [derive_year(model_with(v, md))])
    assert site is not None, [p.format() for p in problems]
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "site").mkdir()
        write_files(Path(folder) / "site", site)
        problems = verify_site(Path(folder) / "site")
    assert not problems, problems
    return site.files


class Markup(HTMLParser):
    """(tag, attribute) pairs, duplicate attributes, visible text, attribute values, title."""

    def __init__(self, source: str):
        super().__init__(convert_charrefs=True)
        self.pairs: set[tuple[str, str]] = set()
        self.duplicates: list[tuple[str, str]] = []
        self.values: list[tuple[str, str, str]] = []
        self.text: list[str] = []
        self.title = ""
        self._in: list[str] = []
        self.feed(source)
        self.close()

    def handle_starttag(self, tag, attrs):
        names = [name for name, _ in attrs]
        self.duplicates += [(tag, n) for n in set(names) if names.count(n) > 1]
        self.pairs.add((tag, ""))
        self.pairs.update((tag, name) for name in names)
        self.values += [(tag, name, value or "") for name, value in attrs]
        if tag not in ("br", "meta", "link", "input", "img", "hr", "rect", "line", "path"):
            self._in.append(tag)

    def handle_endtag(self, tag):
        while self._in and self._in.pop() != tag:
            pass

    def handle_data(self, data):
        if "script" in self._in or "style" in self._in:
            return
        if self._in and self._in[-1] == "title":
            self.title += data
        self.text.append(data)


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def lf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def neutral(v: str) -> str:
    return "'" + v if v.startswith(FORMULA) else v


MARKDOWN_PAIRS = {(t, "") for t in ("p", "em", "strong", "code", "pre", "ul", "ol", "li", "blockquote",
                                    "hr", "br", "h2", "h3", "h4", "h5", "h6", "s", "table", "thead",
                                    "tbody", "tr", "th", "td", "a")} | {
    ("a", "href"), ("ol", "start"), ("code", "class"), ("th", "class"), ("td", "class"),
    ("h1", "class"), ("h2", "class"), ("h3", "class")}   # a title of several lines keeps its breaks (class="pre")


@pytest.fixture(scope="module")
def vocabulary(root) -> set[tuple[str, str]]:
    """Every (tag, attribute) a benign rendering produces, plus what Markdown may produce."""
    pairs = set(MARKDOWN_PAIRS)
    for path, data in render(root, "正常文本", "正常段落。\n\n第二段。").items():
        if path.endswith(".html"):
            pairs |= Markup(data.decode("utf-8")).pairs
    return pairs


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(v=VALUES, md=st.one_of(VALUES, st.sampled_from(PAYLOADS)))
@example(v='"><img src=x onerror=alert(1)>', md="[x](javascript:alert(1)) <script>alert(1)</script>")
@example(v="</script><!--", md="| a |\n|:--|\n| b |")
@example(v="=1+1", md="{{ 7*7 }}")
@example(v="\r", md="<script>alert(1)</script>")
def test_hostile_text_stays_text_everywhere(root, vocabulary, v, md):
    assume(v.strip(" "))
    files = render(root, v, md)
    pages = {p: d.decode("utf-8") for p, d in files.items() if p.endswith(".html")}

    for path, source in pages.items():
        parsed = Markup(source)
        assert not parsed.duplicates, (path, parsed.duplicates)
        assert parsed.pairs <= vocabulary, (path, parsed.pairs - vocabulary)
        if re.search(r"<[A-Za-z!/?]", v):   # could open a tag or comment: never written raw
            assert v not in source, f"{path}: the value appears unescaped"

    shown = lf(v)                                     # HTML and XML parsers read a CR as LF
    agency = Markup(pages[AGENCY_PAGE])
    project_path = next(p for p in pages if p.startswith(f"2020/{IDENT}/") and p != AGENCY_PAGE)
    project = Markup(pages[project_path])
    assert norm(v) in norm("".join(agency.text)), "not on the agency-year page"
    assert norm(v) in norm("".join(project.text)), "not on the project page"
    values = [(t, n, lf(val)) for t, n, val in agency.values]
    assert lf(agency.title) == f"{shown} 2020 年部门预算绩效目标 - {TITLE}"
    assert ("meta", "content", f"{shown} 2020 年部门预算绩效目标") in values   # ArticleTitle
    search_agency = [val for t, n, val in values if n == "data-search-agency"]
    assert search_agency in ([], [shown])
    # A printed page that is not a number links nowhere (only a PDF's pages can be opened):
    # it is the 目录 line's text, checked above with the rest of the page.
    assert not any(n == "aria-label" and val == f"原件第 {shown} 页" for t, n, val in values)

    ld = re.search(r'<script type="application/ld\+json">(.*?)</script>', pages[AGENCY_PAGE], re.DOTALL)
    data = json.loads(ld.group(1))
    assert data["creator"]["name"] == v and data["name"] == f"{v} 2020 年部门预算绩效目标"

    record = json.loads(files[f"data/2020-{IDENT}.json"])
    assert record["agency"]["name"] == v and record["unit"] == v
    assert record["parts"][1]["projects"][0]["indicators"][0]["basis"] == v
    assert record["preamble"] == md

    rows = list(csv.reader(io.StringIO(files["data/projects.csv"].decode("utf-8-sig"), newline="")))
    header, row = rows[0], rows[1]
    assert len(rows) == 2 and len(row) == len(header)
    for column in ("部门名称", "部门编码", "项目名称", "资金用途", "绩效目标", "备注"):
        assert row[header.index(column)] == neutral(v), column
    rows = list(csv.reader(io.StringIO(files["data/indicators.csv"].decode("utf-8-sig"), newline="")))
    assert rows[1][rows[0].index("指标值确定依据")] == neutral(v)

    feed = ET.fromstring(files["feed.xml"])
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert lf(feed.find("a:entry/a:title", ns).text) == f"{shown} 2020 年部门预算绩效目标"
    ET.fromstring(files["sitemap.xml"])


def test_a_one_megabyte_cell(root):
    """A 1 MB cell (pasted by mistake) renders whole, escaped, and round-trips through the data."""
    v = ("<b>长</b>" + "文本" * 50_000) * 5
    assert len(v) > 500_000
    files = render(root, v, "正文。")
    page = files[AGENCY_PAGE].decode("utf-8")
    assert html.escape(v, quote=False)[:1000] in page and v not in page
    assert json.loads(files[f"data/2020-{IDENT}.json"])["agency"]["name"] == v


def test_markdown_cannot_produce_markup_or_links_beyond_its_own(root):
    """Raw HTML and javascript:/data: links in Markdown render as text (js-default, no HTML)."""
    md = ("<script>alert(1)</script> <img src=x onerror=alert(1)> [a](javascript:alert(1)) "
          "[b](data:text/html,x) [c](vbscript:x) [d](/root) [e](//evil.example/x) <javascript:x> "
          "![f](https://evil.example/x.png) [g](https://www.gov.cn/)")
    page = render(root, "文本", md)[AGENCY_PAGE].decode("utf-8")
    links = re.findall(r'<a href="([^"]*)"', page)
    assert "https://www.gov.cn/" in links
    assert not [h for h in links if re.match(r"(?i)\s*(javascript|data|vbscript):|//|/", h)]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<img" not in page
