"""Reading on a phone (issue 16, item 1), in headless Chromium at 360 x 740 CSS px.

In every reading mode (normal, 150 % and 200 % text, 200 % with wide spacing, high
contrast) on the home, agency-year, every project, and the list pages of the built site,
and on the project pages of the six other provinces' forms (tests/fixtures/layouts/):

- nothing in <main> scrolls sideways: the document is no wider than the viewport, no
  element of <main> sticks out of it, and no scroll container in <main> is wider inside
  than its box (`sideways_problems`; a broken fixture proves the check finds each);
- label/value tables (项目基本信息) read label over value; indicator rows are blocks:
  三级指标 first, then 指标值 and 指标值确定依据 under their column names, 一级/二级 above
  the blocks they head; the plan table fits; the tables stay tables for screen readers
  (Chromium's accessibility tree: table, rowheader, columnheader, cell);
- the chart's labels grow with the text size and stay inside the chart;
- the header (site name, search, 长者模式) takes at most a third of the first screen;
- at 1280 px the tables are tables as printed.

Screenshots: test-output/screenshots/test_phone_pages_*.png (one per page kind and mode).
axe on every page at 360 px is tests/test_accessibility.py::test_axe_every_page_in_each_mode;
the other forms' pages get axe here.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import harness

KEY = "gongkai-reading"        # localStorage key of theme/assets/settings.js
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}
MODES = {
    "normal": {},
    "text150": {"text": "150"},
    "text200": {"text": "200"},
    "large": {"text": "200", "spacing": "wide"},
    "hc": {"theme": "hc"},
}
PROJECT = "2022/287001/13012322P00258110508R/index.html"        # plan, chart, indicators
WIDE_PROJECT = "2020/203002/203-0401-JBN-2UXI/index.html"       # many indicator rows
SHOTS = {"home": "index.html", "agency-year": "2022/287001/index.html", "project": PROJECT,
         "wide-project": WIDE_PROJECT, "sitemap": "sitemap/index.html"}
LAYOUTS = Path(__file__).parent / "fixtures" / "layouts"


def with_mode(page, mode: str):
    """Every document of the page's context starts with the saved reading setting `mode`."""
    saved = json.dumps(MODES[mode])
    page.context.add_init_script(
        f"try {{ localStorage.setItem({json.dumps(KEY)}, {json.dumps(saved)}); }} catch (e) {{}}")
    return page


def phone_pages(site_dir: Path) -> list[str]:
    """Home, list pages, every agency year and every project page of the built site."""
    pages = sorted(p.relative_to(site_dir).as_posix() for p in site_dir.rglob("*.html"))
    assert len(pages) >= 39
    return pages


# What sticks out sideways in <main>: the document, any visible element (clipped ones, as a
# visually hidden table header, excepted), any scroll container wider inside than its box.
SIDEWAYS = """() => {
    const out = [], w = document.documentElement.clientWidth;
    if (document.documentElement.scrollWidth > w)
        out.push(`document scrolls sideways: ${document.documentElement.scrollWidth}px in ${w}px`);
    const main = document.querySelector('main');
    const clipped = el => {
        for (let a = el; a && a !== main; a = a.parentElement) {
            const cs = getComputedStyle(a);
            if (cs.clip !== 'auto' || (cs.overflow === 'hidden' && a.getBoundingClientRect().width <= 1)) return true;
        }
        return false;
    };
    const name = el => el.tagName.toLowerCase() + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '')
        + ': ' + (el.textContent || '').trim().slice(0, 24);
    const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT), range = document.createRange();
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const el = node.parentElement;
        if (!node.data.trim() || !el.checkVisibility() || el.closest('svg') || clipped(el)) continue;
        range.selectNodeContents(node);
        const r = range.getBoundingClientRect();
        if (r.width && (r.right > w + 1 || r.left < -1))
            out.push(`text sticks out (${Math.round(r.left)}..${Math.round(r.right)}px): ${node.data.trim().slice(0, 24)}`);
    }
    for (const el of main.querySelectorAll('*')) {
        if (!el.checkVisibility() || el.closest('svg') && el.tagName !== 'svg') continue;
        const r = el.getBoundingClientRect();
        if (!r.width || clipped(el)) continue;
        if (r.right > w + 1 || r.left < -1) out.push(`sticks out (${Math.round(r.left)}..${Math.round(r.right)}px): ${name(el)}`);
        const ox = getComputedStyle(el).overflowX;
        if ((ox === 'auto' || ox === 'scroll') && el.scrollWidth > el.clientWidth + 1)
            out.push(`scrolls sideways inside (${el.scrollWidth}px in ${el.clientWidth}px): ${name(el)}`);
    }
    return out.slice(0, 40);
}"""

HEADER_SHARE = "() => document.querySelector('.site-header').getBoundingClientRect().height / innerHeight"


def sideways_problems(page) -> list[str]:
    return page.evaluate(SIDEWAYS)


def reading_mode(page) -> dict:
    return page.evaluate("() => Object.assign({}, document.documentElement.dataset)")


# --------------------------------------------------------------------------- every page, every mode


@pytest.mark.parametrize("mode", list(MODES))
def test_nothing_scrolls_sideways_on_a_phone(new_page, site_server, site_dir, mode):
    """Every page of the site at 360 px: no sideways scrolling in <main>, header <= 1/3 screen."""
    page = with_mode(new_page(PHONE), mode)
    failures = {}
    for path in phone_pages(site_dir):
        page.goto(site_server.url_for(path))
        assert reading_mode(page) == MODES[mode], path
        problems = sideways_problems(page)
        share = page.evaluate(HEADER_SHARE)
        if share > 1 / 3:
            problems.append(f"the header takes {share:.0%} of the first screen")
        if problems:
            failures[path] = problems
    assert not failures, f"{mode} at 360 px:\n" + "\n".join(
        f"{path}:\n  " + "\n  ".join(p) for path, p in failures.items())


@pytest.mark.parametrize("mode", list(MODES))
def test_phone_pages(new_page, site_server, screenshot, mode):
    """Screenshots of each page kind at 360 px in each mode (test-output/screenshots/)."""
    page = with_mode(new_page(PHONE), mode)
    for kind, path in SHOTS.items():
        page.goto(site_server.url_for(path))
        assert not sideways_problems(page), (kind, sideways_problems(page))
        assert screenshot(page, kind).stat().st_size > 10_000


def test_sideways_check_rejects_a_broken_page(new_page, static_server):
    """The check finds a line of text and a table region that scroll sideways."""
    server = static_server(Path(__file__).parent / "fixtures" / "a11y")
    page = new_page(PHONE)
    page.goto(server.url_for("overflow.html"))
    problems = "\n".join(sideways_problems(page))
    assert "document scrolls sideways" in problems
    assert "text sticks out" in problems and "这一行文字" in problems
    assert "scrolls sideways inside" in problems and "div.table-wrap" in problems


# --------------------------------------------------------------------------- what the blocks look like


BOXES = """(table) => {
    const box = el => { const r = el.getBoundingClientRect(); return {top: r.top, bottom: r.bottom, left: r.left, right: r.right, width: r.width}; };
    // 一级 and 二级 of the Hebei form are the merged header cells (rowgroup; row with rowspan).
    const at = {level1: '[scope=rowgroup]', level2: '[scope=row][rowspan]'};
    const find = (tr, k) => tr.querySelector(at[k] || '.k-' + k);
    const full = tr => ['level1', 'level2', 'level3', 'value', 'basis', 'description']
        .every(k => find(tr, k) && find(tr, k).textContent.trim());
    const row = [...table.querySelectorAll('tbody tr')].find(full);
    const cell = k => find(row, k);
    return {
        display: getComputedStyle(table).display,
        head: box(table.querySelector('thead')),
        level1: box(cell('level1')), level2: box(cell('level2')), level3: box(cell('level3')),
        value: box(cell('value')), basis: box(cell('basis')), description: box(cell('description')),
        valueLabel: getComputedStyle(cell('value'), '::before').content,
        basisLabel: getComputedStyle(cell('basis'), '::before').content,
    };
}"""


@pytest.mark.parametrize("mode", ["normal", "text200"])
def test_indicator_rows_are_blocks_on_a_phone(new_page, site_server, mode):
    page = with_mode(new_page(PHONE), mode)
    page.goto(site_server.url_for(PROJECT))
    table = page.locator("table.indicators")
    b = table.evaluate(BOXES)
    assert b["display"] == "block"
    assert b["head"]["width"] <= 1, "the column headers are visually hidden (still in the table)"
    # 一级, 二级 above 三级; then 指标值, its basis, then the description, each full width.
    order = ["level1", "level2", "level3", "value", "basis", "description"]
    tops = [b[k]["top"] for k in order]
    assert tops == sorted(tops) and len(set(tops)) == len(tops), dict(zip(order, tops))
    for k in order:
        assert b[k]["right"] <= PHONE["width"] and b[k]["width"] > PHONE["width"] * 0.6, (k, b[k])
    assert "指标值" in b["valueLabel"] and "指标值确定依据" in b["basisLabel"]
    # Still a table for screen readers: the column headers name each cell.
    tree = table.aria_snapshot()
    for role in ("- table", "- rowheader", "- columnheader \"指标值\"", "- cell"):
        assert role in tree, (role, tree[:600])
    assert "指标值：" not in tree, "the visible column names are not read twice"


@pytest.mark.parametrize("mode", ["normal", "text200"])
def test_facts_and_plan_on_a_phone(new_page, site_server, mode):
    page = with_mode(new_page(PHONE), mode)
    page.goto(site_server.url_for(PROJECT))
    # Label over value in every row with a value (预算规模及资金用途 heads its group, alone).
    rows = page.locator("table.facts-table tr:has(td)").evaluate_all("""rows => rows.map(tr => {
        const th = tr.querySelector('th').getBoundingClientRect(), td = tr.querySelector('td').getBoundingClientRect();
        return {over: th.bottom <= td.top + 1, left: Math.abs(th.left - td.left) < 2};
    })""")
    assert rows and all(r["over"] and r["left"] for r in rows), "label over value, aligned"
    plan = page.locator("table.plan")
    assert plan.evaluate("t => t.getBoundingClientRect().right") <= PHONE["width"]
    labels = plan.locator("tbody tr").first.locator("td").evaluate_all(
        "tds => tds.map(td => getComputedStyle(td, '::before').content)")
    assert labels and all("月" in label for label in labels), labels   # each value under its period
    tree = plan.aria_snapshot()
    assert "- columnheader" in tree and "- rowheader \"原文数值\"" in tree


def test_chart_text_follows_the_text_size(new_page, site_server):
    sizes = {}
    for mode in ("normal", "text200"):
        page = with_mode(new_page(PHONE), mode)
        page.goto(site_server.url_for(PROJECT))
        got = page.locator("figure.chart svg").evaluate("""svg => {
            const box = svg.getBoundingClientRect();
            const texts = [...svg.querySelectorAll('text')].map(t => t.getBoundingClientRect());
            return {size: parseFloat(getComputedStyle(svg.querySelector('text')).fontSize),
                    inside: texts.every(r => r.left >= box.left - 1 && r.right <= box.right + 1 && r.bottom <= box.bottom + 1),
                    bars: [...svg.querySelectorAll('.bar')].every(r => r.getBoundingClientRect().right <= box.right + 1)};
        }""")
        assert got["inside"] and got["bars"], (mode, got)
        sizes[mode] = got["size"]
    assert sizes["normal"] >= 14 and sizes["text200"] >= 1.9 * sizes["normal"], sizes


@pytest.mark.parametrize("mode", list(MODES))
def test_header_takes_at_most_a_third_of_the_first_screen(new_page, site_server, mode):
    page = with_mode(new_page(PHONE), mode)
    page.goto(site_server.url_for(PROJECT))
    assert page.evaluate(HEADER_SHARE) <= 1 / 3
    for name in ("长者模式", "阅读设置", "搜索"):
        box = page.get_by_role("button", name=name, exact=True).bounding_box()
        assert box and box["height"] >= 24 and box["y"] + box["height"] <= PHONE["height"] / 3, name


def test_wide_screens_keep_the_tables(new_page, site_server):
    page = new_page(DESKTOP)
    page.goto(site_server.url_for(WIDE_PROJECT))
    got = page.evaluate("""() => ['table.indicators', 'table.facts-table', 'table.plan'].map(s => {
        const t = document.querySelector(s);
        return t && [getComputedStyle(t).display, t.tHead ? getComputedStyle(t.tHead).display : 'table-header-group'];
    })""")
    assert all(g is None or g == ["table", "table-header-group"] for g in got), got
    th, td = page.locator("table.facts-table tr").first.evaluate(
        "tr => [tr.querySelector('th').getBoundingClientRect().right, tr.querySelector('td').getBoundingClientRect().left]")
    assert th <= td + 1, "label beside value"
    assert not sideways_problems(page)


# --------------------------------------------------------------------------- other provinces' forms


@pytest.fixture(scope="module")
def layout_site(tmp_path_factory) -> Path:
    """The six other forms' sites (tests/fixtures/layouts/), built in process, one folder each."""
    import test_layouts

    root = tmp_path_factory.mktemp("layouts")
    for name in test_layouts.NAMES:
        built = test_layouts.built(name)
        for path, data in built.output.files.items():
            target = root / name / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    return root


@pytest.mark.parametrize("mode", ["normal", "text200", "hc"])
def test_other_forms_on_a_phone(new_page, static_server, layout_site, screenshot, mode):
    """Other provinces' tables (own columns, 实施期 goals and indicators, fields with small
    tables): no sideways scrolling and no axe violation at 360 px; tables at 1280 px."""
    server = static_server(layout_site)
    page = with_mode(new_page(PHONE), mode)
    failures = {}
    pages = sorted(p.relative_to(layout_site).as_posix() for p in layout_site.glob("*/*/*/*/index.html"))
    pages += sorted(p.relative_to(layout_site).as_posix() for p in layout_site.glob("*/*/*/index.html"))
    assert len(pages) >= 12
    for path in pages:
        page.goto(server.url_for(path))
        problems = sideways_problems(page)
        violations = harness.run_axe(page)
        if violations:
            problems.append(harness.format_axe(violations))
        if problems:
            failures[path] = problems
        if path.count("/") == 4:
            screenshot(page, path.split("/", 1)[0])
    assert not failures, "\n".join(f"{p}:\n  " + "\n  ".join(v) for p, v in failures.items())
