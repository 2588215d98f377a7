"""The built site as a whole, from the real content: text, 目录, downloads, links, safety.

`site_dir` (tests/conftest.py) is the real content built once per session with
`build.py build --output <tmp>`. Tests that need their own builds (reproducibility,
failures) copy the project's inputs into a temporary folder and build there.
"""
from __future__ import annotations

import dataclasses
import datetime
import hashlib
import html
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest

import harness
from gongkai.config import load_config
from gongkai.site import load
from gongkai.model import AgencyYear
from gongkai.pipeline import build_command
from gongkai.render import make_markdown, markdown

REPO = harness.REPO_ROOT
INPUTS = ("site_config.yaml", "content", "templates", "theme")


# --------------------------------------------------------------------------- helpers


class PageParser(HTMLParser):
    """Visible text (scripts and styles skipped), links, ids and a few element counts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.links: list[tuple[str, str, str]] = []   # (tag, attribute, value)
        self.ids: set[str] = set()
        self.duplicate_ids: list[str] = []
        self.event_attributes: list[str] = []          # on*= handlers (a CSP blocks them)
        self.tags: dict[str, int] = {}
        self.meta: dict[str, str] = {}
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if tag in ("script", "style"):
            self._skip += 1
        if attrs.get("id"):
            if attrs["id"] in self.ids:
                self.duplicate_ids.append(attrs["id"])
            self.ids.add(attrs["id"])
        self.event_attributes += [name for name in attrs if name.startswith("on")]
        for attr in ("href", "src", "action"):
            if attrs.get(attr) is not None:
                self.links.append((tag, attr, attrs[attr]))
        if tag == "meta" and attrs.get("name"):
            self.meta[attrs["name"]] = attrs.get("content", "")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)


def parse(path: Path) -> PageParser:
    parser = PageParser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def norm(text: str) -> str:
    """Whitespace runs as one space: line breaks and indentation differ between YAML and HTML."""
    return re.sub(r"\s+", " ", text).strip()


def page_text(path: Path) -> str:
    return norm("".join(parse(path).text))


def tree_hash(folder: Path) -> dict[str, str]:
    """Path -> SHA-256 (or 'dir') of everything in `folder`, modes included."""
    out = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        mode = oct(path.stat().st_mode & 0o777)
        out[rel] = f"dir {mode}" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest() + " " + mode
    return out


def load_years(config_path: Path = REPO / "site_config.yaml"):
    config, problems = load_config(config_path)
    assert config is not None, problems
    years, problems = load(config)
    assert not [p for p in problems if p.is_error]
    return config, years


def texts(value, skip=("pos", "source", "slug", "parsed", "toc_printed", "projects")) -> list[str]:
    """Every printed text, number and amount in a model value (not its projects)."""
    if dataclasses.is_dataclass(value):
        return [t for f in dataclasses.fields(value) if f.name not in skip
                for t in texts(getattr(value, f.name), skip)]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in texts(v, skip)]
    if isinstance(value, (str, Decimal, int)) and not isinstance(value, bool):
        return [str(value)]
    if isinstance(value, datetime.date):
        return [value.isoformat()]
    return []


def project_dir(site: Path, year: AgencyYear, slug: str) -> Path:
    return site / str(year.year) / year.agency.ident / slug / "index.html"


def copy_inputs(dest: Path) -> Path:
    """A copy of the project's inputs (config, content, templates, theme) to build from."""
    dest.mkdir(parents=True)
    for name in INPUTS:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, dest / name, symlinks=True)
        else:
            shutil.copy2(source, dest / name)
    return dest / "site_config.yaml"


def build(config: Path, output: Path) -> int:
    """Build without the search index (its own tests cover it)."""
    return build_command(config, output=output, search=False)


# --------------------------------------------------------------------------- content on pages


def test_every_printed_value_appears_on_its_page(site_dir: Path):
    """Every text, number and amount of every seed is on its page, Markdown rendered."""
    _, years = load_years()
    md = make_markdown()
    assert len(years) >= 4
    for facts in years:
        year = facts.year
        agency_page = site_dir / str(year.year) / year.agency.ident / "index.html"
        text = page_text(agency_page)
        markdown_fields = [year.preamble] + [p.text for p in year.parts]
        stack = [s for p in year.parts for s in p.sections]
        while stack:
            section = stack.pop()
            markdown_fields.append(section.text)
            stack += section.sections
        plain = set(texts(year, skip=("pos", "source", "slug", "parsed", "toc_printed", "projects",
                                       "text", "preamble", "given")))
        missing = [t for t in plain if norm(t) not in text]
        for source in filter(None, markdown_fields):
            rendered = norm("".join(_html_text(str(markdown(md, source, "", 2)))))
            if rendered not in text:
                missing.append(source[:60])
        assert not missing, f"{agency_page}: not on the page: {missing}"
        for pf in facts.projects:
            page = project_dir(site_dir, year, pf.slug)
            ptext = page_text(page)
            missing = [t for t in texts(pf.project, skip=("pos", "toc")) if norm(t) not in ptext]
            assert not missing, f"{page}: not on the page: {missing}"
            assert norm(pf.project.title) in text   # listed on the agency-year page too
            if pf.project.toc:                       # its 目录 entry is on the agency-year page
                assert norm(pf.project.toc.text) in text
                assert pf.project.toc.page is None or f"第 {pf.project.toc.page} 页" in ptext


def _html_text(fragment: str) -> list[str]:
    parser = PageParser()
    parser.feed(fragment)
    return parser.text


def test_zhengding_toc_reproduces_the_printed_one(site_dir: Path):
    """The 2022 正定 目录: entries in document order with printed pages 1, 1, 2, 10, 11, 13, 15."""
    page = (site_dir / "2022" / "287001" / "index.html").read_text(encoding="utf-8")
    toc = page.split('<section class="toc"', 1)[1].split("</section>", 1)[0]
    entries = re.findall(r'<a class="toc-text" href="([^"]+)">([^<]+)</a>(?:.*?class="toc-page"[^>]*>(\d+)<)?', toc)
    pages = [int(p) for _, _, p in entries if p]
    assert pages == [1, 1, 2, 10, 11, 13, 15]
    assert [html.unescape(t) for _, t, _ in entries][:2] == ["第一部分 部门整体绩效目标", "一、总体绩效目标"]
    titles = [html.unescape(t) for _, t, _ in entries]
    assert titles.index("第二部分 预算项目绩效目标") < titles.index(next(t for t in titles if t.startswith("1.")))
    # The original is an extracted text: it has no pages, so its page numbers are not links
    # (tests/test_originals_and_data.py links them into a PDF). Entries lead to their
    # heading or project page.
    assert "toc-page" in toc and 'class="toc-page" href=' not in toc
    hrefs = [h for h, _, _ in entries]
    assert hrefs[:2] == ["#part-1", "#part-1-1"] and hrefs[-1].endswith("/index.html")


def test_originals_download_byte_identical(site_dir: Path):
    """Each original is copied byte for byte; its page shows the right size and SHA-256."""
    _, years = load_years()
    for facts in years:
        year = facts.year
        page = (site_dir / str(year.year) / year.agency.ident / "index.html").read_text(encoding="utf-8")
        for original in year.originals:
            source = REPO / "content" / str(year.year) / year.agency.ident / original.file
            copy = site_dir / str(year.year) / year.agency.ident / "originals" / original.file
            assert copy.read_bytes() == source.read_bytes()
            assert hashlib.sha256(source.read_bytes()).hexdigest() in page
            assert f"{source.stat().st_size:,} 字节" in page
            assert 'href="originals/' + urllib.parse.quote(original.file) + '"' in page


def test_pages_frame_and_meta(site_dir: Path):
    """lang zh-CN, one <main>, the 政府网站 meta tags, no script except on the search page."""
    from gongkai.history import content_dates
    config, _ = load_years()
    dated = bool(content_dates(REPO))     # a git checkout dates every page; a bare copy none
    for path in sorted(site_dir.rglob("*.html")):
        source = path.read_text(encoding="utf-8")
        parsed = parse(path)
        assert '<html lang="zh-CN">' in source, path
        assert parsed.tags.get("main") == 1, path
        for name in ("SiteName", "SiteDomain", "SiteIDCode", "ColumnName", "ColumnType",
                     "ArticleTitle", "ContentSource") + (("PubDate",) if dated else ()):
            assert name in parsed.meta, (path, name)
        assert parsed.meta["SiteName"] == config.title
        if dated:
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", parsed.meta["PubDate"])
        else:
            assert "PubDate" not in parsed.meta, path
        # Every page loads the reading settings (阅读设置, tests/test_accessibility.py) first;
        # only the search page loads anything more, and searched pages the script that
        # marks a search match (assets/search-mark.js, docs/search.md).
        scripts = [v.rsplit("/", 1)[-1] for tag, _, v in parsed.links if tag == "script"]
        assert scripts[:1] == ["settings.js"], path
        if path.relative_to(site_dir).as_posix() not in ("search/index.html", "indicators/index.html"):
            assert scripts in (["settings.js"], ["settings.js", "search-mark.js"]), path
        assert not parsed.event_attributes and not parsed.duplicate_ids, path
        assert "style=" not in source, path   # the site's CSP allows no inline styles
    footer = page_text(site_dir / "index.html")
    for label in ("主办单位", config.owner, "联系方式", "网站地图", "无障碍声明"):
        assert label in footer


def test_html_is_valid(site_dir: Path):
    """The Nu Html Checker finds no error (and no warning) in any page."""
    messages = harness.run_vnu(site_dir, warnings=True)
    assert not messages, harness.format_vnu(messages)


def test_page_weight(site_dir: Path):
    """A project page with its stylesheet (and any script) stays under 30 KB before compression."""
    css = (site_dir / "assets" / "site.css").stat().st_size
    biggest = max((p for p in site_dir.glob("*/*/*/index.html")), key=lambda p: p.stat().st_size)
    scripts = sum((biggest.parent / s).stat().st_size for _, a, s in parse(biggest).links if a == "src")
    total = biggest.stat().st_size + css + scripts
    assert total <= 30 * 1024, f"{biggest}: {total} bytes with CSS"


# --------------------------------------------------------------------------- links


def local_targets(site: Path):
    """(page, url, resolved file, fragment) for every internal link of every HTML page."""
    for page in sorted(site.rglob("*.html")):
        for tag, attr, url in parse(page).links:
            parts = urllib.parse.urlsplit(url)
            if parts.scheme in ("http", "https", "mailto"):
                assert tag == "a", f"{page}: external resource {url}"
                continue
            assert not parts.scheme and not parts.netloc, f"{page}: {url}"
            if tag == "base" and page.name == "404.html" and page.parent == site:
                continue    # served at any depth, the 404 page's links start from the site's path
            assert not parts.path.startswith("/"), f"{page}: root-relative link {url} breaks sub-path hosting"
            target = page if not parts.path else (page.parent / urllib.parse.unquote(parts.path)).resolve()
            yield page, url, target, urllib.parse.unquote(parts.fragment)


def test_every_link_and_anchor_resolves_on_disk(site_dir: Path):
    """Every href/src/action points at a file inside the site (index.html named: works from disk)."""
    root = site_dir.resolve()
    ids: dict[Path, set[str]] = {}
    checked = 0
    for page, url, target, fragment in local_targets(site_dir):
        assert target.is_relative_to(root), f"{page}: {url} leaves the site"
        assert target.is_file(), f"{page}: {url} -> {target} does not exist"
        if fragment and target.suffix == ".html":
            known = ids.setdefault(target, parse(target).ids)
            assert fragment in known, f"{page}: {url}: no id {fragment!r} in {target}"
        checked += 1
    assert checked > 500
    feed = (site_dir / "feed.xml").read_text(encoding="utf-8")
    for href in re.findall(r'href="([^"]+)"', feed):
        path, _, fragment = href.partition("#")   # a correction's entry: its place in 更正记录
        assert (site_dir / path).is_file(), href
        assert not fragment or fragment in parse(site_dir / path).ids, href


@pytest.mark.parametrize("prefix", ["/zwgk/jxgk/", "/a/b/c/d/"])
def test_every_link_resolves_under_a_sub_path(site_dir: Path, static_server, prefix: str):
    """Served under a portal's sub-path, every internal URL answers 200."""
    server = static_server(site_dir, prefix=prefix)
    seen: set[str] = set()
    for page, url, target, _ in local_targets(site_dir):
        page_url = server.url_for(page.relative_to(site_dir).as_posix())
        absolute = urllib.parse.urldefrag(urllib.parse.urljoin(page_url, url))[0]
        absolute = absolute.split("?", 1)[0]
        if absolute in seen:
            continue
        seen.add(absolute)
        assert absolute.startswith(server.url), f"{page}: {url} leaves {prefix}"
        with urllib.request.urlopen(absolute) as response:
            assert response.status == 200, absolute
    assert len(seen) > 60


# --------------------------------------------------------------------------- builds


def test_two_builds_are_byte_identical(tmp_path: Path):
    """Same input, same bytes: two builds (and a third with SOURCE_DATE_EPOCH unset/set equal)."""
    assert build(REPO / "site_config.yaml", tmp_path / "one") == 0
    assert build(REPO / "site_config.yaml", tmp_path / "two") == 0
    assert tree_hash(tmp_path / "one") == tree_hash(tmp_path / "two")


def test_build_dates_come_from_content_or_git_never_the_epoch(tmp_path: Path, monkeypatch):
    """Dates come from content or git (the first commit of a content file), never the
    clock or SOURCE_DATE_EPOCH (which would give every agency year the build's date)."""
    from gongkai.history import content_dates
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")   # 2023-11-14
    assert build(REPO / "site_config.yaml", tmp_path / "site") == 0
    feed = (tmp_path / "site" / "feed.xml").read_text(encoding="utf-8")
    assert "2023-11-14" not in "".join(feed.split("<entry>")[1:])
    dates = content_dates(REPO)
    _, years = load_years()
    for facts in years:
        known = facts.year.document.published or (dates[facts.year.source].first if facts.year.source in dates else None)
        if known:
            assert f"<updated>{known.isoformat()}T00:00:00+08:00</updated>" in feed


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the inputs and a site built from it: (config path, output folder)."""
    config = copy_inputs(tmp_path / "project")
    output = tmp_path / "project" / "_site"
    assert build(config, output) == 0
    return config, output


def _no_staging(output: Path) -> None:
    leftovers = [p.name for p in output.parent.iterdir() if p.name.startswith(output.name + ".")]
    assert not leftovers, leftovers


def test_broken_yaml_leaves_previous_site_untouched(project, capsys):
    config, output = project
    before = tree_hash(output)
    target = config.parent / "content" / "2022" / "287001.yaml"
    target.write_text(target.read_text(encoding="utf-8").replace("unit: 万元", "unit: [万元", 1), encoding="utf-8")
    capsys.readouterr()
    assert build(config, output) == 1
    err = capsys.readouterr().err
    assert re.search(r"content/2022/287001\.yaml:\d+:\d+: error:", err), err
    assert "Traceback" not in err
    assert tree_hash(output) == before
    _no_staging(output)


@pytest.mark.parametrize("breakage", [
    ("project.html", "{% block main %}", "{% block main %}{% if %}"),           # syntax error
    ("agency_year.html", "{{ year.unit }}", "{{ year.unitt }}"),              # undefined name
    # D9: runtime errors that are not jinja2.TemplateError were tracebacks
    ("project.html", "{% block main %}", "{% block main %}{{ 1 // 0 }}"),     # ZeroDivisionError
    ("home.html", "{{ site.title }}", '{{ site.title + 1 }}'),                # TypeError
    ("project.html", "{% block main %}",
     "{% block main %}{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}"),      # RecursionError
])
def test_broken_template_leaves_previous_site_untouched(project, capsys, breakage):
    """A template error of any kind (syntax, undefined name, and D9's runtime errors) stops
    the build at the template's file and line, with the previous site untouched."""
    config, output = project
    before = tree_hash(output)
    name, old, new = breakage
    template = config.parent / "templates" / name
    source = template.read_text(encoding="utf-8")
    assert old in source
    template.write_text(source.replace(old, new, 1), encoding="utf-8")
    capsys.readouterr()
    assert build(config, output) == 1
    err = capsys.readouterr().err
    assert f"templates/{name}:" in err and "error: 模板错误" in err, err
    assert "Traceback" not in err
    assert tree_hash(output) == before
    _no_staging(output)


def test_unwritable_or_foreign_output_is_a_message(tmp_path: Path, capsys):
    """An output folder we did not make is refused with a message, and left alone."""
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("not ours")
    assert build(REPO / "site_config.yaml", foreign) == 1
    err = capsys.readouterr().err
    assert "也不是本工具生成的" in err and "Traceback" not in err
    assert [p.name for p in foreign.iterdir()] == ["keep.txt"]


def test_script_in_text_renders_escaped(tmp_path: Path):
    """`<script>` typed in content shows as text, in body, <title> and attributes alike."""
    config = copy_inputs(tmp_path / "project")
    target = config.parent / "content" / "2022" / "287001.yaml"
    source = target.read_text(encoding="utf-8")
    evil = "<script>alert(1)</script>"
    source = source.replace("name: 中共正定县委老干部局本级", f"name: 中共正定县委老干部局本级{evil}", 1)
    source = source.replace("status: (草案)", f"status: '(草案)\"{evil}'", 1)
    target.write_text(source, encoding="utf-8")
    output = tmp_path / "out"
    assert build(config, output) == 0
    for path in sorted(output.rglob("*")):
        if path.is_file() and path.suffix in (".html", ".xml"):   # JSON and CSV hold the text as data
            assert "<script>alert" not in path.read_text(encoding="utf-8"), path
    page = output / "2022" / "287001" / "index.html"
    raw = page.read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw
    assert norm(f"中共正定县委老干部局本级{evil}") in page_text(page)
    assert f"<title>中共正定县委老干部局本级&lt;script&gt;" in raw


KILLABLE_BUILD = """
import sys, time
import gongkai.write as write
real = write.fix_modes
def slow(folder):
    real(folder)
    print("written", flush=True)
    time.sleep(60)              # killed here: every file is in staging, nothing swapped yet
write.fix_modes = slow
from gongkai.pipeline import build_command
sys.exit(build_command(sys.argv[1], output=sys.argv[2], search=False, force=True))
"""


def test_killed_build_leaves_previous_site_and_cleans_up(project):
    """SIGTERM during a build: the old site stays byte-identical and no staging folder remains."""
    config, output = project
    before = tree_hash(output)
    proc = subprocess.Popen([sys.executable, "-c", KILLABLE_BUILD, str(config), str(output)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "written"
        assert any(p.name.startswith("_site.staging-") for p in output.parent.iterdir())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        proc.kill()
        proc.wait()
    assert tree_hash(output) == before
    _no_staging(output)


def test_staging_left_by_a_hard_kill_is_removed_next_time(project):
    """SIGKILL cannot be caught: the next build removes what the killed one left."""
    config, output = project
    proc = subprocess.Popen([sys.executable, "-c", KILLABLE_BUILD, str(config), str(output)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "written"
        proc.kill()
        proc.wait(timeout=30)
    finally:
        proc.kill()
    assert any(p.name.startswith("_site.staging-") for p in output.parent.iterdir())
    assert build(config, output) == 0
    _no_staging(output)


def test_a_build_from_the_parse_cache_equals_a_clean_one(tmp_path):
    """The parse cache changes no byte: a build with the cache warm equals one without it,
    also right after an edit (the edited file is read again, the others come from the cache)."""
    config = copy_inputs(tmp_path / "p")
    cache = config.parent / ".cache"

    def clean_and_cached(name: str) -> tuple[dict, dict]:
        shutil.rmtree(cache, ignore_errors=True)
        assert build(config, tmp_path / f"{name}-clean") == 0 and any(cache.rglob("*"))
        assert build(config, tmp_path / f"{name}-cached") == 0
        return tree_hash(tmp_path / f"{name}-clean"), tree_hash(tmp_path / f"{name}-cached")

    clean, cached = clean_and_cached("before")
    assert clean == cached
    path = config.parent / "content" / "2020" / "287002.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("name: 保险费\n", "name: 保险费乙\n", 1),
                    encoding="utf-8")
    assert build(config, tmp_path / "edited-warm") == 0          # cache still holds the old text
    edited = tree_hash(tmp_path / "edited-warm")
    assert edited != clean
    assert "保险费乙" in (tmp_path / "edited-warm" / "2020" / "287002" / "287-0601-JBN-CK81" / "index.html").read_text(encoding="utf-8")
    assert clean_and_cached("after") == (edited, edited)


def test_unchanged_inputs_rebuild_nothing_and_any_change_rebuilds(tmp_path):
    """The fingerprint in the marker skips a build with no changed input, and only then."""
    shutil.copy(REPO / "site_config.yaml", tmp_path)
    shutil.copytree(REPO / "content", tmp_path / "content")
    config, output = tmp_path / "site_config.yaml", tmp_path / "_site"

    def run(*extra):
        done = subprocess.run([sys.executable, str(REPO / "build.py"), "build", "--no-search",
                               "--config", str(config), *extra], cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stderr

    assert "已生成" in run()
    first = tree_hash(output)
    assert "已是最新" in run()
    (tmp_path / "content" / "2020" / "287002.yaml").touch()      # same bytes: still up to date
    assert "已是最新" in run()
    assert "已生成" in run("--force") and tree_hash(output) == first
    page = tmp_path / "content" / "2020" / "287002.yaml"
    page.write_text(page.read_text(encoding="utf-8").replace("name: 保险费\n", "name: 保险费甲\n", 1), encoding="utf-8")
    assert "已生成" in run()
    assert "保险费甲" in (output / "2020" / "287002" / "287-0601-JBN-CK81" / "index.html").read_text(encoding="utf-8")
    original = tmp_path / "content" / "2020" / "287002" / "000_531445c7814c7dcd.txt"
    original.write_bytes(original.read_bytes() + b"\n")              # an original changed
    assert "已生成" in run()


def test_a_damaged_output_is_rebuilt(tmp_path):
    """D30: "up to date" also means the output holds what the build wrote (the marker records
    its files and sizes): a page truncated or removed since is rebuilt; a file added is not
    the build's to delete (D29): the build is refused, the file kept, until it is moved."""
    shutil.copy(REPO / "site_config.yaml", tmp_path)
    shutil.copytree(REPO / "content", tmp_path / "content")
    output = tmp_path / "_site"
    page = output / "2020" / "287002" / "index.html"

    def run():
        done = subprocess.run([sys.executable, str(REPO / "build.py"), "build", "--no-search"],
                              cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stderr

    assert "已生成" in run()
    first = tree_hash(output)
    for damage in (lambda: page.write_bytes(page.read_bytes()[:100]),   # truncated
                   lambda: page.unlink()):                              # removed
        damage()
        assert "已是最新" not in run()
        assert tree_hash(output) == first
    (output / "extra.html").write_text("x")
    done = subprocess.run([sys.executable, str(REPO / "build.py"), "build", "--no-search"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 1 and "extra.html" in done.stderr and (output / "extra.html").exists()
    (output / "extra.html").unlink()
    assert "已是最新" in run()


@pytest.mark.parametrize("value", ["abc", "100000000000000000000", "١٢٣"])
def test_a_bad_source_date_epoch_is_a_message(tmp_path, value):
    """D9: SOURCE_DATE_EPOCH that is not a whole number of seconds, or a date Python cannot
    hold (an OverflowError before), is one line naming the variable, not a traceback."""
    shutil.copy(REPO / "site_config.yaml", tmp_path)
    shutil.copytree(REPO / "content", tmp_path / "content")
    done = subprocess.run([sys.executable, str(REPO / "build.py"), "build", "--no-search"], cwd=tmp_path,
                          capture_output=True, text=True, env={**os.environ, "SOURCE_DATE_EPOCH": value})
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "SOURCE_DATE_EPOCH" in done.stderr and not (tmp_path / "_site").exists()


def test_a_missing_content_folder_is_a_message(tmp_path):
    """No content/ beside site_config.yaml: one line naming it, not a traceback from the
    input fingerprint (found trying inputs outside the defect list)."""
    shutil.copy(REPO / "site_config.yaml", tmp_path)
    for command in (["build", "--no-search"], ["check"]):
        done = subprocess.run([sys.executable, str(REPO / "build.py"), *command], cwd=tmp_path,
                              capture_output=True, text=True)
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
        assert "content" in done.stderr and not (tmp_path / "_site").exists()


@pytest.mark.parametrize("args, expected", [
    (["serve", "--port", "abc"], "选项 --port 应为整数"),
    (["new", "--year", "2020"], "缺少必需的选项"),
    (["buidl"], "无效的命令 'buidl'"),
    (["check", "--bogus"], "无法识别的参数：--bogus"),
])
def test_usage_errors_are_chinese(args, expected, tmp_path):
    """Item 8: argparse's own usage errors reach editors too; exit code 2 as before."""
    done = subprocess.run([sys.executable, str(REPO / "build.py"), *args], cwd=tmp_path,
                          capture_output=True, text=True)
    assert done.returncode == 2 and expected in done.stderr, done.stderr
