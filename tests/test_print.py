"""The document on paper (issue 16, item 4): each seed's agency-year page printed to PDF by
Chromium (`page.pdf()`, the print stylesheet assets/print.css), its text read back with
pdfplumber.

- The PDF holds the whole document: every project's 绩效目标表 (each 三级指标 and 指标值
  from the content file), in document order, after the parts' own text;
- every printed page carries its number ("第 n 页，共 m 页", an @page margin box), and the
  first the page's address (site_url + path) and the print date (settings.js, beforeprint);
- no site controls or link labels: 搜索, 长者模式, 阅读设置, 跳到正文, 查看, 下载 …;
- no table's header row is left alone at a page foot (read from the PDF's ruling lines);
  headers repeat on each printed page (thead as table-header-group), headings and rows are
  not split from what follows (break-* rules), read from the CSS in force when printing;
- on screen the print-only copy is hidden, and search skips it (data-search-skip).

The PDFs are kept in test-output/print/ for review.
"""
from __future__ import annotations

import datetime
import io
import logging
import re
import unicodedata
from zoneinfo import ZoneInfo
from pathlib import Path

import pytest
import yaml

import harness

pdfplumber = pytest.importorskip("pdfplumber")
logging.getLogger("pdfminer").setLevel(logging.ERROR)   # Chromium's subset fonts lack a FontBBox

REPO = harness.REPO_ROOT
PRINT_DIR = harness.OUTPUT_DIR / "print"
SITE_URL = "https://example.gov.cn/zwgk/jxgk/"          # site_config.yaml
CONTROLS = ("搜索", "长者模式", "阅读设置", "跳到正文", "查看", "下载", "返回项目汇总", "网站地图")


def seeds() -> list[tuple[str, Path]]:
    """(agency-year page path, content file) of every seed agency year."""
    out = []
    for source in sorted((REPO / "content").glob("*/*.yaml")):
        out.append((f"{source.parent.name}/{source.stem}/index.html", source))
    assert len(out) >= 4
    return out


def squash(text: str) -> str:
    """Text without white space: PDF extraction breaks lines and spaces where it likes."""
    return re.sub(r"\s+", "", text)


def pdf_text(text: str) -> str:
    """A PDF page's text, comparable with the content: NFKC turns the Kangxi radicals the
    CJK fonts' shared glyphs are read back as (⽹ for 网) into the ideographs."""
    return squash(unicodedata.normalize("NFKC", text))


RADICAL = "[\u2e80-\u2eff]"    # CJK Radicals Supplement (⻚ for 页): no NFKC mapping


def pattern(text: str) -> re.Pattern:
    """`text` (squashed) as a pattern in which any ideograph may have been read back as a
    radical of the supplement block; every other character must match exactly."""
    return re.compile("".join(f"(?:{re.escape(c)}|{RADICAL})" if "\u3400" <= c <= "\u9fff" else re.escape(c)
                              for c in pdf_text(text)))


def found(text: str, pdf: str, pos: int = 0) -> int:
    """Where `text` is in the PDF's text from `pos` on (its end), or -1."""
    m = pattern(text).search(pdf, pos)
    return m.end() if m else -1


def projects_of(source: Path) -> list[dict]:
    data = yaml.load(source.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)
    return [p for part in data.get("parts") or [] for p in part.get("projects") or []]


def indicator_texts(project: dict) -> list[str]:
    """Each indicator's 三级指标 and 指标值, as written in the content file."""
    out = []
    for row in list(project.get("indicators") or []) + list(project.get("period_indicators") or []):
        out += [row[k] for k in ("level3", "value") if row.get(k)]
    return out


def print_pdf(page, url: str, name: str) -> tuple[list[str], str]:
    """Print `url` to test-output/print/<name>.pdf; (each printed page's text, the text of
    every table cell, one cell a line). Cells are read from the tables' ruling lines: the
    page text interleaves the lines of cells that wrap side by side."""
    page.goto(url)
    data = page.pdf(format="A4", print_background=False)
    PRINT_DIR.mkdir(parents=True, exist_ok=True)
    (PRINT_DIR / f"{harness.safe_name(name)}.pdf").write_bytes(data)
    cells, stranded = [], []
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        pages = [p.extract_text() or "" for p in pdf.pages]
        for n, p in enumerate(pdf.pages, 1):
            for t in p.extract_tables():
                cells += [pdf_text(c) for row in t for c in row if c]
                if len(t) < 2:     # a header row with no row under it on this printed page
                    stranded.append(f"printed page {n}: {t}")
    assert not stranded, f"{url}: table headers alone at a page foot:\n" + "\n".join(stranded)
    return pages, "\n".join(cells)


@pytest.mark.parametrize("path,source", seeds(), ids=[s[0].rsplit("/", 2)[0] for s in seeds()])
def test_printed_agency_year_is_the_whole_document(new_page, site_server, path, source):
    page = new_page({"width": 1280, "height": 800})
    pages, cells = print_pdf(page, site_server.url_for(path), path.rsplit("/", 1)[0])
    text = pdf_text("".join(pages))

    # Every project's 三级指标 and 指标值, in document order (each project's first after the previous).
    projects = projects_of(source)
    assert projects
    at = 0
    for n, project in enumerate(projects, 1):
        missing = [t for t in indicator_texts(project) if found(t, cells) < 0]
        assert not missing, f"{path}: project {n} ({project.get('title')}) not printed: {missing[:5]}"
        title = (project.get("number") or "") + project["title"]
        at = found(title, text, at)
        assert at >= 0, f"{path}: project {n} title missing or out of order: {title}"

    # Page numbers on every printed page; address and print date on the first.
    total = len(pages)
    assert total > len(projects)
    for n, body in enumerate(pages, 1):
        assert found(f"第{n}页，共{total}页", pdf_text(body)) >= 0, f"{path}: printed page {n} has no page number"
    first = pdf_text(pages[0])
    assert found(f"本页网址：{SITE_URL}{path}", first) >= 0, first[:200]
    now = datetime.datetime.now(ZoneInfo("Asia/Shanghai"))      # the browser's time zone (harness)
    days = {now.date(), (now - datetime.timedelta(minutes=5)).date()}
    assert any(found(f"打印日期：{d.year}年{d.month}月{d.day}日", first) >= 0 for d in days), first[:200]

    # No site controls or link labels.
    for label in CONTROLS:
        assert found(label, text) < 0, f"{path}: {label!r} printed"


def test_print_date_is_left_out_without_javascript(new_page, site_server):
    page = new_page({"width": 1280, "height": 800}, java_script_enabled=False)
    path = seeds()[-1][0]
    pages, _ = print_pdf(page, site_server.url_for(path), "no-js")
    first = pdf_text(pages[0])
    assert found(f"本页网址：{SITE_URL}{path}", first) >= 0 and found("打印日期", first) < 0
    assert found("第1页，共", first) >= 0


def test_print_rules_repeat_headers_and_strand_nothing(new_page, site_server):
    """The CSS in force when printing: thead repeats, headings stay with what follows, rows
    are not split; the print-only tables are shown, the site's controls are not."""
    page = new_page({"width": 1280, "height": 800})
    page.goto(site_server.url_for("2022/287001/index.html"))
    screen = page.evaluate("""() => ({copy: getComputedStyle(document.querySelector('.print-only')).display,
        meta: getComputedStyle(document.querySelector('.print-meta')).display})""")
    assert screen == {"copy": "none", "meta": "none"}, "hidden on screen"
    page.emulate_media(media="print")
    got = page.evaluate("""() => {
        const cs = s => getComputedStyle(document.querySelector(s));
        return {
            thead: cs('.print-only table.indicators thead').display,
            h: [...document.querySelectorAll('.print-only h3, .print-only h4')].map(h => getComputedStyle(h).breakAfter),
            tr: cs('.print-only table.indicators tbody tr').breakInside,
            project: cs('.print-project').breakBefore,
            copy: cs('.print-only').display,
            hidden: ['.site-header', '.site-footer', '.crumbs', '.project-list', '.downloads', '.jump',
                     'section[aria-labelledby=summary]', '#reading-toggle', '.site-search']
                .map(s => [s, cs(s).display]).filter(([, d]) => d !== 'none'),
        };
    }""")
    assert got["thead"] == "table-header-group"
    assert got["h"] and set(got["h"]) == {"avoid"}
    assert got["tr"] == "avoid" and got["project"] == "page" and got["copy"] == "block"
    assert got["hidden"] == []


def test_print_copy_is_skipped_by_search_and_ids_are_unique(site_dir: Path):
    from gongkai.searchtext import drop_marked

    html = (site_dir / "2022" / "287001" / "index.html").read_text(encoding="utf-8")
    assert html.count('class="print-project"') == len(projects_of(REPO / "content" / "2022" / "287001.yaml"))
    assert "print-project" not in drop_marked(html)
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
