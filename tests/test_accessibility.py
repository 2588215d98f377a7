"""无障碍 and 适老化: every page of the built site, in every reading mode, in headless Chromium.

Goal: WCAG 2.2 AA (which covers GB/T 37668-2019 二级) with zero automated findings, and
the 适老化 rules (larger text, high contrast, wide spacing) through the site's own reading
settings (theme/assets/settings.js, 阅读设置 / 长者模式).

- Structure of every page, read from the HTML: lang, one h1, headings in order,
  landmarks, skip link first, labelled breadcrumbs, tables with captions and header cells
  (merged category cells scoped so each names exactly the rows it spans), charts with
  title, description and a table, link texts that make sense alone, no inline script.
- axe-core (wcag2a wcag2aa wcag21a wcag21aa wcag22aa best-practice + td-has-header) on
  every page with the settings panel open: normal, large (200 % text, wide spacing) and
  high-contrast modes at 360 and 1280 px, and the dark palette; text contrast >= 7:1
  (axe's color-contrast-enhanced) in every palette; no sideways scrolling in any of them.
- Nu Html Checker on the DOM as the settings script leaves it, in each mode (the files on
  disk are checked by tests/test_site.py::test_html_is_valid).
- Keyboard: Tab reaches every control in DOM order (search, 长者模式, 阅读设置, 目录,
  every project link, downloads), focus always visible and never hidden; the settings
  work from the keyboard, are announced (role=status, aria-pressed, aria-expanded) and
  are remembered; they survive a browser that refuses localStorage.
- Without JavaScript the controls stay hidden while prefers-color-scheme,
  prefers-contrast and prefers-reduced-motion still apply.
- 400 % zoom (320 CSS px) and 200 % text at 1280 px: no sideways scrolling of text.
- Tables on a 360 px phone: rows read as blocks, nothing scrolls sideways, the header cells
  stay for screen readers (the full checks per mode: tests/test_reading.py).
- Screenshots of home, agency year and a project page in each mode at both widths:
  test-output/screenshots/a11y-<page>-<mode>-<width>.png.
- Fixtures (tests/fixtures/a11y/) prove that each check rejects a broken page.
"""
from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

import harness

FIXTURES = Path(__file__).parent / "fixtures" / "a11y"
KEY = "gongkai-reading"   # localStorage key of theme/assets/settings.js
MODES = {
    "normal": {},
    "large": {"text": "200", "spacing": "wide"},
    "hc": {"theme": "hc"},
    "dark": {"theme": "dark"},
}
WIDTHS = {"360": {"width": 360, "height": 740}, "1280": {"width": 1280, "height": 800}}
ZOOM_400 = {"width": 320, "height": 256}   # 1280 x 1024 at 400 %
PAGE_TYPES = {
    "home": "index.html",
    "agency-year": "2022/287001/index.html",
    "project": "2022/287001/13012322P00258110508R/index.html",
}
WIDE_TABLE_PAGE = "2020/203002/203-0401-JBN-2UXI/index.html"   # many indicator rows
GENERIC_LINK_TEXTS = {"点击这里", "这里", "点击", "更多", "详情", "链接", "此处", "click here", "here", "more"}


def site_pages(site_dir: Path) -> list[str]:
    """Every HTML page of the session-built site, as paths relative to it."""
    pages = sorted(p.relative_to(site_dir).as_posix() for p in site_dir.rglob("*.html"))
    assert len(pages) >= 39
    return pages


def with_mode(page, mode: str):
    """Make every document of the page's context start with the saved setting `mode`."""
    saved = json.dumps(MODES[mode])
    page.context.add_init_script(
        f"try {{ localStorage.setItem({json.dumps(KEY)}, {json.dumps(saved)}); }} catch (e) {{}}")
    return page


def mode_problems(page, mode: str) -> list[str]:
    """The mode is really on: <html> data-* attributes and the root font size."""
    wanted = MODES[mode]
    got = page.evaluate("""() => ({text: document.documentElement.dataset.text || '100',
        theme: document.documentElement.dataset.theme || 'auto',
        spacing: document.documentElement.dataset.spacing || 'normal',
        size: parseFloat(getComputedStyle(document.documentElement).fontSize)})""")
    problems = [f"{k}={got[k]!r}, wanted {v!r}" for k, v in wanted.items() if got[k] != v]
    size = 16 * int(wanted.get("text", "100")) / 100
    if abs(got["size"] - size) > 0.5:
        problems.append(f"root font size {got['size']}px, wanted {size}px")
    return problems


def dataset(page) -> dict:
    """The data-* attributes on <html> (the reading mode in force)."""
    return page.evaluate("() => Object.assign({}, document.documentElement.dataset)")


def open_settings(page) -> None:
    """Open the 阅读设置 panel (present on every page of the site)."""
    page.locator("#reading-toggle").click()
    page.locator("#reading-settings").wait_for(state="visible")


# --------------------------------------------------------------------------- structure


class Structure(HTMLParser):
    """What the structural checks need from one page, read in one pass."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
            "source", "track", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lang: str | None = None
        self.headings: list[int] = []
        self.landmarks: list[tuple[str, str | None]] = []     # (tag, aria-label)
        self.ids: set[str] = set()
        self.focusables: list[dict] = []                      # in document order
        self.tables: list[dict] = []
        self.charts: list[dict] = []
        self.links: list[tuple[str, str]] = []                # (accessible name, href)
        self.scripts: list[dict] = []
        self._stack: list[tuple[str, bool]] = []              # (tag, hidden)
        self._head = False
        self._link: dict | None = None
        self._table: dict | None = None
        self._tbody: dict | None = None
        self._caption: list[str] | None = None
        self._sections: list[dict] = [{"tables": 0}]
        self._chart: dict | None = None
        self._chart_text: str | None = None
        self._script: dict | None = None

    @property
    def hidden(self) -> bool:
        return any(h for _, h in self._stack)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "html":
            self.lang = a.get("lang")
        if tag == "head":
            self._head = True
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        # <header>/<footer> inside article, aside, main, nav or section are no banner/contentinfo.
        sectioned = any(t in ("article", "aside", "main", "nav", "section") for t, _ in self._stack)
        if tag in ("main", "nav") or (tag in ("header", "footer") and not sectioned):
            self.landmarks.append((tag, a.get("aria-label")))
        hidden = "hidden" in a or self.hidden
        focusable = ((tag == "a" and "href" in a) or tag in ("button", "select", "textarea")
                     or (tag == "input" and a.get("type") != "hidden")
                     or ("tabindex" in a and int(a["tabindex"]) >= 0))
        if focusable and not (a.get("tabindex") or "0").startswith("-"):
            self.focusables.append({"tag": tag, "hidden": hidden, **a})
        if tag == "a" and "href" in a:
            self._link = {"href": a["href"], "label": a.get("aria-label"), "text": []}
        if tag == "section":
            self._sections.append({"tables": 0})
        if tag == "table":
            self._table = {"caption": "", "th": 0, "unscoped": 0, "spans": []}
            self._sections[-1]["tables"] += 1
        if tag == "caption":
            self._caption = []
        if tag == "tbody" and self._table is not None:
            self._tbody = {"rows": 0, "rowgroup_spans": []}
        if tag == "tr" and self._tbody is not None:
            self._tbody["rows"] += 1
        if tag == "th" and self._table is not None:
            self._table["th"] += 1
            scope, span = a.get("scope"), int(a.get("rowspan", "1"))
            if scope not in ("col", "row", "rowgroup", "colgroup"):
                self._table["unscoped"] += 1
            if scope == "rowgroup" and self._tbody is not None:
                self._tbody["rowgroup_spans"].append(span)
        if tag == "figure" and "chart" in a.get("class", "").split():
            self._chart = {"tables_before": self._sections[-1]["tables"], "role": None,
                           "labelledby": "", "title": None, "desc": None}
        if tag == "svg" and self._chart is not None:
            self._chart.update(role=a.get("role"), labelledby=a.get("aria-labelledby", ""))
        if tag in ("title", "desc") and self._chart is not None:
            self._chart[tag] = a.get("id", "")
        if tag == "script":
            self._script = {"head": self._head, **a, "text": ""}
        if tag not in self.VOID:
            self._stack.append((tag, "hidden" in a))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        for i in range(len(self._stack) - 1, -1, -1):
            if self._stack[i][0] == tag:
                del self._stack[i:]
                break
        if tag == "head":
            self._head = False
        if tag == "a" and self._link is not None:
            name = self._link["label"] or "".join(self._link["text"])
            self.links.append((re.sub(r"\s+", " ", name).strip(), self._link["href"]))
            self._link = None
        if tag == "caption" and self._caption is not None and self._table is not None:
            self._table["caption"] = "".join(self._caption).strip()
            self._caption = None
        if tag == "tbody" and self._tbody is not None and self._table is not None:
            self._table["spans"].append(self._tbody)
            self._tbody = None
        if tag == "table" and self._table is not None:
            self.tables.append(self._table)
            self._table = None
        if tag == "section":
            self._sections.pop()
        if tag == "figure" and self._chart is not None:
            self.charts.append(self._chart)
            self._chart = None
        if tag == "script" and self._script is not None:
            self.scripts.append(self._script)
            self._script = None

    def handle_data(self, data):
        if self._link is not None:
            self._link["text"].append(data)
        if self._caption is not None:
            self._caption.append(data)
        if self._script is not None:
            self._script["text"] += data


def structure_problems(path: Path) -> list[str]:
    """Structural accessibility problems of one HTML file (empty: none)."""
    s = Structure()
    s.feed(path.read_text(encoding="utf-8"))
    s.close()
    out = []
    if s.lang != "zh-CN":
        out.append(f'<html lang="{s.lang}">, wanted zh-CN')
    if s.headings.count(1) != 1:
        out.append(f"{s.headings.count(1)} h1 elements, wanted one")
    if s.headings and s.headings[0] != 1:
        out.append(f"first heading is h{s.headings[0]}, wanted h1")
    for before, after in zip(s.headings, s.headings[1:]):
        if after > before + 1:
            out.append(f"heading level jumps from h{before} to h{after}")
    tags = [tag for tag, _ in s.landmarks]
    for tag in ("header", "main", "footer"):
        if tags.count(tag) != 1:
            out.append(f"{tags.count(tag)} <{tag}> landmarks, wanted one")
    out += [f"<{tag}> without aria-label" for tag, label in s.landmarks
            if tag == "nav" and not label]
    first = next((f for f in s.focusables if not f["hidden"]), None)
    if first is None or first["tag"] != "a" or first.get("href") != "#main" or "main" not in s.ids:
        out.append(f"first focusable element is not a skip link to #main: {first}")
    for n, t in enumerate(s.tables, 1):
        if not t["caption"]:
            out.append(f"table {n} has no caption")
        if not t["th"]:
            out.append(f"table {n} has no header cells")
        if t["unscoped"]:
            out.append(f"table {n}: {t['unscoped']} header cell(s) without scope")
        for body in t["spans"]:
            wrong = [span for span in body["rowgroup_spans"] if span != body["rows"]]
            if wrong:
                out.append(f"table {n}: scope=rowgroup cell spans {wrong[0]} of its group's "
                           f"{body['rows']} rows (it would name rows it does not span)")
    for n, c in enumerate(s.charts, 1):
        ids = c["labelledby"].split()
        if c["role"] != "img" or not c["title"] or not c["desc"] or ids != [c["title"], c["desc"]]:
            out.append(f"chart {n} lacks role=img with its <title> and <desc> as label")
        if not c["tables_before"]:
            out.append(f"chart {n} has no data table before it in its section")
    targets: dict[str, set[str]] = {}
    for name, href in s.links:
        if not name:
            out.append(f"link to {href} has no text")
        elif name.lower() in GENERIC_LINK_TEXTS:
            out.append(f"link text {name!r} ({href}) means nothing on its own")
        targets.setdefault(name, set()).add(href)
    out += [f"link text {name!r} leads to {len(hrefs)} different places: {sorted(hrefs)}"
            for name, hrefs in targets.items() if name and len(hrefs) > 1]
    for script in s.scripts:
        if script.get("type") == "application/ld+json":
            continue   # a data block (JSON-LD): never executed, not subject to script-src
        if not script.get("src") or script["text"].strip():
            out.append("inline script (blocked by the site's CSP)")
    return out


def test_every_page_has_accessible_structure(site_dir: Path):
    problems = {page: structure_problems(site_dir / page) for page in site_pages(site_dir)}
    problems = {page: p for page, p in problems.items() if p}
    assert not problems, "\n".join(f"{page}:\n  " + "\n  ".join(p) for page, p in problems.items())


def test_structure_check_rejects_a_broken_page():
    problems = "\n".join(structure_problems(FIXTURES / "broken.html"))
    for expected in ("lang", "2 h1 elements", "jumps from h1 to h3", "<main> landmarks",
                     "skip link", "has no caption", "has no header cells", "chart 1 lacks",
                     "no data table", "'点击这里'", "'更多'", "'下载' leads to 2"):
        assert expected in problems, (expected, problems)


def test_settings_script_runs_before_first_paint(site_dir: Path):
    """A classic script in <head> (no defer/async/module): the saved mode is on <html> before <body>."""
    for page in site_pages(site_dir):
        s = Structure()
        s.feed((site_dir / page).read_text(encoding="utf-8"))
        first = s.scripts[0]
        assert first["src"].endswith("assets/settings.js") and first["head"], page
        assert not {"defer", "async"} & set(first) and first.get("type") in (None, "text/javascript"), page
    # It blocks the first paint: reading settings, the print date and the loader of the
    # search-match script (only on a page opened from a search result) in 4.5 KB.
    size = (site_dir / "assets" / "settings.js").stat().st_size
    assert size <= 4608, f"settings.js is {size} bytes"


def test_indicator_table_scopes_merged_cells(site_dir: Path):
    """一级 names its whole row group, 二级 exactly the rows it spans: as the browser computes it."""
    text = (site_dir / PAGE_TYPES["project"]).read_text(encoding="utf-8")
    table = text.split('<table class="indicators">', 1)[1].split("</table>", 1)[0]
    assert re.findall(r'<th scope="rowgroup" rowspan="\d+">', table)
    assert re.findall(r'<th scope="row" rowspan="\d+">', table)


# --------------------------------------------------------------------------- axe, every page


def axe_problems(page, contrast_7: bool) -> list[str]:
    """axe with the site's tags (zero violations wanted); with `contrast_7`, AAA text
    contrast (color-contrast-enhanced, >= 7:1) in the same run."""
    tags = harness.AXE_TAGS + (("wcag2aaa",) if contrast_7 else ())
    violations = harness.run_axe(page, tags=tags)
    aa = [v for v in violations if set(v["tags"]) & set(harness.AXE_TAGS)]
    enhanced = [v for v in violations if v["id"] == "color-contrast-enhanced"]
    out = [harness.format_axe(aa)] if aa else []
    if enhanced:
        out.append("contrast below 7:1: " + harness.format_axe(enhanced))
    return out


def overflow_problems(page) -> list[str]:
    """Sideways scrolling of the page, and text sticking out of the viewport outside table regions."""
    return page.evaluate("""() => {
        const out = [], w = document.documentElement.clientWidth;
        const sw = document.documentElement.scrollWidth;
        if (sw > w) out.push(`page scrolls sideways: ${sw}px content in ${w}px`);
        const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        const range = document.createRange();
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            const el = node.parentElement;
            if (!node.data.trim() || el.closest('.table-wrap, .vh, svg, script') || !el.checkVisibility()) continue;
            range.selectNodeContents(node);
            const r = range.getBoundingClientRect();
            if (r.width && (r.right > w + 1 || r.left < -1))
                out.push(`text outside the viewport (${Math.round(r.left)}..${Math.round(r.right)}px): ` +
                         node.data.trim().slice(0, 30));
        }
        return out.slice(0, 10);
    }""")


def pages_in_mode(page, urls_by_path: dict[str, str], mode: str, width: str, ready=None) -> dict[str, list[str]]:
    """Each page in the reading mode (`page` made by `with_mode`), settings panel open:
    the mode's own checks, sideways scrolling and axe (at 1280 px also contrast >= 7:1);
    path -> problems, only for pages that have some. `ready(page, path)` waits for what a
    page's script shows before it is checked."""
    failures = {}
    for path, url in urls_by_path.items():
        page.goto(url)
        if ready is not None:
            ready(page, path)
        problems = mode_problems(page, mode)
        open_settings(page)
        problems += overflow_problems(page) + axe_problems(page, contrast_7=width == "1280")
        if problems:
            failures[path] = problems
    return failures


AXE_RUNS = [("normal", "360"), ("normal", "1280"), ("large", "360"), ("large", "1280"),
            ("hc", "360"), ("hc", "1280"), ("dark", "1280")]


@pytest.mark.parametrize("mode,width", AXE_RUNS, ids=[f"{m}-{w}" for m, w in AXE_RUNS])
def test_axe_every_page_in_each_mode(new_page, site_server, site_dir, mode, width):
    """Zero axe violations and no sideways scrolling on every page, settings panel open;
    at 1280 px also text contrast >= 7:1."""
    failures = pages_in_mode(with_mode(new_page(WIDTHS[width]), mode),
                             {path: site_server.url_for(path) for path in site_pages(site_dir)}, mode, width)
    assert not failures, f"{mode} mode at {width} px:\n" + "\n".join(
        f"{path}:\n  " + "\n  ".join(p) for path, p in failures.items())


def test_no_sideways_scrolling_at_400_percent_zoom(new_page, site_server, site_dir):
    """1280 px at 400 % zoom is a 320 x 256 CSS px viewport: text reflows, nothing scrolls sideways."""
    page = new_page(ZOOM_400)
    failures = {}
    for path in site_pages(site_dir):
        page.goto(site_server.url_for(path))
        if problems := overflow_problems(page):
            failures[path] = problems
    assert not failures, "\n".join(f"{p}:\n  " + "\n  ".join(v) for p, v in failures.items())


def test_axe_and_overflow_checks_reject_broken_pages(new_page, static_server):
    server = static_server(FIXTURES)
    page = new_page(ZOOM_400)
    page.goto(server.url_for("broken.html"))
    found = {v["id"] for v in harness.run_axe(page)}
    assert {"html-has-lang", "label", "color-contrast", "td-has-header"} <= found, found
    page.goto(server.url_for("aaa-contrast.html"))
    assert not harness.run_axe(page)                                  # passes AA ...
    assert any("below 7:1" in p for p in axe_problems(page, contrast_7=True))   # ... not 7:1
    page.goto(server.url_for("overflow.html"))
    problems = overflow_problems(page)
    assert any("scrolls sideways" in p for p in problems) and any("这一行文字" in p for p in problems)
    page.goto(server.url_for("no-modes.html"))
    with_mode(page, "large").reload()
    assert mode_problems(page, "large")


def test_vnu_on_the_dom_in_each_mode(new_page, site_server, tmp_path):
    """The markup as settings.js leaves it (attributes set, panel open) is valid HTML too."""
    for mode in ("normal", "large", "hc"):
        page = with_mode(new_page(WIDTHS["1280"]), mode)
        for name, path in {**PAGE_TYPES, "search": "search/index.html",
                           "accessibility": "accessibility/index.html"}.items():
            page.goto(site_server.url_for(path))
            open_settings(page)
            page.locator("#senior-mode").click()
            (tmp_path / f"{mode}-{name}.html").write_text(page.content(), encoding="utf-8")
    messages = harness.run_vnu(tmp_path)
    assert not messages, harness.format_vnu(messages)


def test_vnu_rejects_invalid_html():
    messages = harness.run_vnu(FIXTURES / "broken.html")
    assert any("duplicate id" in m["message"].lower() for m in messages), harness.format_vnu(messages)
    assert len(messages) >= 2


# --------------------------------------------------------------------------- keyboard


MARK_FOCUSABLES = """() => {
    const all = [...document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, [tabindex]')];
    all.forEach((el, i) => el.dataset.a11yKey = String(i));
}"""

# What Tab should reach: every visible, enabled control; of a radio group only one stop.
EXPECTED_STOPS = """() => {
    const groups = new Set();
    return [...document.querySelectorAll('[data-a11y-key]')]
        .filter(el => el.tabIndex >= 0 && !el.disabled && el.checkVisibility({visibilityProperty: true}))
        .filter(el => el.type !== 'radio' || (!groups.has(el.name) && groups.add(el.name)))
        .map(el => ({key: el.dataset.a11yKey, name: el.type === 'radio' ? el.name : null,
                     text: (el.getAttribute('aria-label') || el.textContent || el.id).trim().slice(0, 40)}));
}"""

FOCUS_INFO = """() => {
    const el = document.activeElement;
    if (!el || el === document.body || el === document.documentElement) return null;
    const r = el.getBoundingClientRect(), cs = getComputedStyle(el);
    const x = Math.min(Math.max(r.left + Math.min(r.width, 40) / 2, 0), innerWidth - 1);
    const y = Math.min(Math.max(r.top + Math.min(r.height, 40) / 2, 0), innerHeight - 1);
    const hit = document.elementFromPoint(x, y);
    return {
        key: el.dataset.a11yKey || null, name: el.type === 'radio' ? el.name : null,
        text: (el.getAttribute('aria-label') || el.textContent || el.id).trim().slice(0, 40),
        id: el.id, href: el.getAttribute('href'), cls: el.className,
        ring: cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2,
        inView: r.bottom > 0 && r.top < innerHeight && r.right > 0 && r.left < innerWidth,
        covered: !hit || !(hit === el || el.contains(hit) || hit.contains(el)),
    };
}"""


def keyboard_walk(page, open_settings: bool = False, limit: int = 400) -> tuple[list[dict], list[str]]:
    """Tab from a freshly loaded page through every control; (focus stops, problems).

    With `open_settings`, Enter on 阅读设置 on the way opens the panel, whose controls
    then have to be reached too.
    """
    page.evaluate(MARK_FOCUSABLES)
    stops: list[dict] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        info = page.evaluate(FOCUS_INFO)
        if info is None or (stops and info["key"] == stops[0]["key"]):
            break
        stops.append(info)
        if open_settings and info["id"] == "reading-toggle":
            page.keyboard.press("Enter")
    expected = page.evaluate(EXPECTED_STOPS)
    problems = []
    if not stops or stops[0]["href"] != "#main":
        problems.append(f"first Tab stop is not the skip link: {stops[:1]}")
    for stop in stops:
        where = f"{stop['text']!r} ({stop['href'] or stop['id'] or stop['cls']})"
        if not stop["ring"]:
            problems.append(f"no visible focus ring on {where}")
        if not stop["inView"]:
            problems.append(f"focused but scrolled out of view: {where}")
        elif stop["covered"]:
            problems.append(f"focused but covered by another element: {where}")
    keys = [int(s["key"]) for s in stops if s["key"] is not None]
    if keys != sorted(keys):
        problems.append("Tab order differs from the reading order: " + str(keys[:20]))
    reached = {s["key"] for s in stops} | {s["name"] for s in stops if s["name"]}
    missing = [e for e in expected if e["key"] not in reached and e["name"] not in reached]
    problems += [f"Tab never reaches {e['text']!r}" for e in missing]
    return stops, problems


KEY_RUNS = [(kind, width, "normal") for kind in PAGE_TYPES for width in WIDTHS] + [
    ("agency-year", "360", "large"), ("project", "1280", "hc")]


@pytest.mark.parametrize("kind,width,mode", KEY_RUNS, ids=["-".join(r) for r in KEY_RUNS])
def test_keyboard_walk(new_page, site_server, kind, width, mode):
    """Tab reaches every control in reading order; focus is always visible and never hidden."""
    page = with_mode(new_page(WIDTHS[width]), mode)
    page.goto(site_server.url_for(PAGE_TYPES[kind]))
    stops, problems = keyboard_walk(page)
    assert not problems, "\n".join(problems)
    ids = {s["id"] for s in stops}
    hrefs = [s["href"] for s in stops]
    assert {"site-search-q", "senior-mode", "reading-toggle"} <= ids
    if kind == "agency-year":
        toc = page.locator("section.toc a").evaluate_all("els => els.map(a => a.getAttribute('href'))")
        projects = page.locator("main a[href$='/index.html']").evaluate_all(
            "els => els.map(a => a.getAttribute('href')).filter(h => !h.startsWith('..'))")
        downloads = page.locator("section.downloads a").evaluate_all("els => els.map(a => a.getAttribute('href'))")
        assert toc and projects and downloads
        for href in toc + projects + downloads:
            assert href in hrefs, f"Tab never reaches {href}"
        assert len(set(projects)) == page.locator("section[aria-labelledby=summary] tbody tr").count()


def test_keyboard_walk_with_settings_open(new_page, site_server):
    page = new_page(WIDTHS["360"])
    page.goto(site_server.url_for(PAGE_TYPES["project"]))
    stops, problems = keyboard_walk(page, open_settings=True)
    assert not problems, "\n".join(problems)
    assert {"text", "theme", "spacing"} <= {s["name"] for s in stops}
    assert {"恢复默认", "关闭"} <= {s["text"] for s in stops}


def test_keyboard_check_rejects_a_broken_page(new_page, static_server):
    server = static_server(FIXTURES)
    page = new_page(WIDTHS["1280"])
    page.goto(server.url_for("keyboard.html"))
    _, problems = keyboard_walk(page)
    text = "\n".join(problems)
    for expected in ("first Tab stop is not the skip link", "no visible focus ring on '看不见焦点的链接'",
                     "covered by another element: '被底部横条挡住的链接'", "reading order",
                     "never reaches 'Tab 键到不了的链接'"):
        assert expected in text, (expected, text)


# --------------------------------------------------------------------------- settings


def status(page) -> str:
    return page.locator("#reading-status").inner_text()


def test_settings_by_keyboard_are_announced_and_remembered(new_page, site_server):
    page = new_page(WIDTHS["1280"])
    page.goto(site_server.url_for(PAGE_TYPES["project"]))
    toggle = page.get_by_role("button", name="阅读设置")
    senior = page.get_by_role("button", name="长者模式")
    assert toggle.get_attribute("aria-expanded") == "false" and senior.get_attribute("aria-pressed") == "false"

    for _ in range(10):                       # skip link, site title, search, 长者模式, 阅读设置
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "reading-toggle":
            break
    page.keyboard.press("Enter")
    panel = page.locator("#reading-settings")
    assert panel.is_visible() and toggle.get_attribute("aria-expanded") == "true"

    page.keyboard.press("Tab")                # into 文字大小, on the checked radio
    size = page.get_by_role("group", name="文字大小")
    assert size.get_by_role("radio", name="标准").evaluate("el => el === document.activeElement")
    for _ in range(3):
        page.keyboard.press("ArrowRight")     # 大, 较大, 特大
    assert size.get_by_role("radio", name="特大").is_checked()
    assert mode_problems(page, "large") == ["spacing='normal', wanted 'wide'"]
    assert status(page) == "文字大小：特大。设置已保存。"

    page.keyboard.press("Tab")                # 配色
    for _ in range(3):
        page.keyboard.press("ArrowRight")     # 浅色, 深色, 高对比度
    assert page.get_by_role("group", name="配色").get_by_role("radio", name="高对比度").is_checked()
    assert status(page) == "配色：高对比度。设置已保存。"
    page.keyboard.press("Tab")                # 行距
    page.keyboard.press("ArrowRight")
    assert page.get_by_role("group", name="行距").get_by_role("radio", name="加宽").is_checked()
    assert senior.get_attribute("aria-pressed") == "true"    # 200 % and wide spacing include 长者模式
    assert page.evaluate("document.documentElement.dataset.theme") == "hc"
    snapshot = panel.aria_snapshot()
    assert '- radio "特大" [checked]' in snapshot and '- group "配色"' in snapshot

    page.keyboard.press("Escape")             # closes and gives focus back to the toggle
    assert panel.is_hidden() and toggle.get_attribute("aria-expanded") == "false"
    assert page.evaluate("document.activeElement.id") == "reading-toggle"

    page.goto(site_server.url_for(PAGE_TYPES["home"]))      # remembered on the next page
    assert dataset(page) == {"text": "200", "theme": "hc", "spacing": "wide"}
    senior = page.get_by_role("button", name="长者模式")
    senior.focus()
    page.keyboard.press("Space")              # 长者模式 off: normal size and spacing, theme kept
    assert senior.get_attribute("aria-pressed") == "false"
    assert dataset(page) == {"theme": "hc"}
    assert status(page) == "已关闭长者模式。设置已保存。"
    page.keyboard.press("Enter")              # and on again: 150 % and wide spacing
    assert dataset(page) == {"text": "150", "theme": "hc", "spacing": "wide"}
    assert status(page).startswith("已开启长者模式")

    page.get_by_role("button", name="阅读设置").press("Enter")
    page.get_by_role("button", name="恢复默认").press("Enter")
    assert dataset(page) == {}
    page.reload()
    assert dataset(page) == {}
    assert page.evaluate(f"localStorage.getItem({json.dumps(KEY)})") is not None


def test_settings_without_storage_still_work_for_the_page(new_page, site_server):
    """A browser that refuses localStorage (or file:// rules): no error, the setting applies, the reader is told."""
    page = new_page(WIDTHS["360"])
    page.context.add_init_script("""Object.defineProperty(window, 'localStorage', {
        get() { throw new DOMException('denied', 'SecurityError'); }});""")
    page.goto(site_server.url_for(PAGE_TYPES["agency-year"]))
    page.get_by_role("button", name="长者模式").click()
    assert page.evaluate("document.documentElement.dataset.text") == "150"
    assert "只对本页有效" in status(page)


def test_settings_from_disk(browser, site_dir):
    """Opened as files (file://): the script loads and the setting is applied and kept."""
    log = harness.BrowserLog()
    context = browser.new_context(viewport=WIDTHS["1280"], locale="zh-CN")
    context.on("page", lambda p: p.on("pageerror", lambda e: log.page_errors.append(str(e))))
    try:
        page = context.new_page()
        page.goto((site_dir / PAGE_TYPES["project"]).as_uri())
        page.get_by_role("button", name="长者模式").click()
        assert page.evaluate("document.documentElement.dataset.text") == "150"
    finally:
        context.close()
    assert not log.page_errors


def test_without_javascript_controls_hide_and_system_preferences_apply(new_page, site_server):
    url = site_server.url_for(PAGE_TYPES["project"])
    background = "() => getComputedStyle(document.body).backgroundColor"
    page = new_page(WIDTHS["1280"], java_script_enabled=False)
    page.goto(url)
    assert page.locator("#senior-mode").is_hidden() and page.locator("#reading-toggle").is_hidden()
    assert page.locator("#reading-settings").is_hidden()
    assert page.evaluate(background) == "rgb(255, 255, 255)"

    for options, colour in (({"color_scheme": "dark"}, "rgb(22, 24, 27)"),
                            ({"contrast": "more"}, "rgb(0, 0, 0)")):
        for script in (False, True):     # axe needs JavaScript: with it on, no setting is saved
            system = new_page(WIDTHS["1280"], java_script_enabled=script, **options)
            system.goto(url)
            assert system.evaluate(background) == colour, options
        harness.assert_no_axe_violations(system)

    # prefers-reduced-motion: any transition or animation is switched off.
    moving = "() => { const b = document.querySelector('button'); b.style.transition = 'color 2s'; return getComputedStyle(b).transitionDuration; }"
    calm = new_page(WIDTHS["1280"], reduced_motion="reduce")
    calm.goto(url)
    assert calm.evaluate(moving) == "0s"
    lively = new_page(WIDTHS["1280"], reduced_motion="no-preference")
    lively.goto(url)
    assert lively.evaluate(moving) == "2s"


def test_spacing_meets_the_age_friendly_rules(new_page, site_server):
    """Line spacing >= 1.3 (适老化), wider in 加宽; paragraph spacing >= 1.3 x line spacing."""
    measure = """() => {
        const p = document.querySelector('main p'), cs = getComputedStyle(p);
        const size = parseFloat(cs.fontSize), line = parseFloat(cs.lineHeight);
        return {line: line / size, gap: (line + parseFloat(cs.marginBottom)) / line};
    }"""
    for mode, least in (("normal", 1.5), ("large", 2.0)):
        page = with_mode(new_page(WIDTHS["1280"]), mode)
        page.goto(site_server.url_for("accessibility/index.html"))
        got = page.evaluate(measure)
        assert got["line"] >= least and got["gap"] >= 1.3, (mode, got)


# --------------------------------------------------------------------------- phones, screenshots


# Narrow tables (tests/test_reading.py has the full checks in every mode): at 360 px the
# indicator rows are blocks inside their region, nothing scrolls sideways, and the table
# keeps its header cells for screen readers.
NARROW = """(wrap) => {
    const out = [], table = wrap.querySelector('table');
    if (wrap.scrollWidth > wrap.clientWidth + 1) out.push(`region scrolls sideways: ${wrap.scrollWidth}px in ${wrap.clientWidth}px`);
    if (getComputedStyle(table.querySelector('tbody tr')).display === 'table-row') out.push('rows are still table rows');
    if (table.querySelector('thead').getBoundingClientRect().width > 1) out.push('the column headers take room on screen');
    return out;
}"""


@pytest.mark.parametrize("mode", ["normal", "large"])
def test_indicator_table_on_a_phone_reads_as_blocks(new_page, site_server, mode):
    page = with_mode(new_page(WIDTHS["360"]), mode)
    page.goto(site_server.url_for(WIDE_TABLE_PAGE))
    wrap = page.locator(".table-wrap", has=page.locator("table.indicators"))
    assert wrap.evaluate(NARROW) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    tree = wrap.locator("table").aria_snapshot()
    assert "- columnheader \"三级指标\"" in tree and "- rowheader" in tree
    harness.SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    wrap.screenshot(path=str(harness.SCREENSHOT_DIR / f"a11y-table-360-{mode}.png"), animations="disabled")


def test_narrow_check_rejects_a_table_that_scrolls(new_page, static_server):
    server = static_server(FIXTURES)
    page = new_page(WIDTHS["360"])
    page.goto(server.url_for("overflow.html"))
    problems = page.locator(".table-wrap").evaluate(NARROW)
    assert any(p.startswith("region scrolls sideways") for p in problems)
    assert "rows are still table rows" in problems


SHOTS = [(m, w) for m in ("normal", "large", "hc") for w in WIDTHS]


@pytest.mark.parametrize("mode,width", SHOTS, ids=[f"{m}-{w}" for m, w in SHOTS])
def test_screenshots_in_each_mode(new_page, site_server, mode, width):
    """test-output/screenshots/a11y-<page>-<mode>-<width>.png, for review."""
    page = with_mode(new_page(WIDTHS[width]), mode)
    for kind, path in PAGE_TYPES.items():
        page.goto(site_server.url_for(path))
        assert not mode_problems(page, mode)
        shot = harness.save_screenshot(page, f"a11y-{kind}-{mode}-{width}")
        assert shot.stat().st_size > 10_000
