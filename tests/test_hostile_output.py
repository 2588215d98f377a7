"""Output checks on every build (gongkai/verify.py), CSP in the browser, reproducible bytes.

- `verify_site` on small hand-written sites: every class of markup a broken template could
  publish is found (inline script, on*= handlers, inline styles, javascript:/data: URLs,
  external resources, root-relative URLs, broken links and #anchors), and hostile *text*
  (escaped by the templates) is never mistaken for markup;
- a build whose template breaks one of those rules exits 1 and keeps the old site;
- the real site passes, fast enough to run on every build;
- the real site served with the production Content-Security-Policy raises no violation
  on any page type (and in a search, when the search index exists);
- two builds in fresh processes with different PYTHONHASHSEED, TZ, locale, umask and
  file creation order give byte-identical trees.
"""
from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gongkai.verify import scan_written, verify_site
from test_site import REPO, copy_inputs, tree_hash

PAGE = """<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>t</title>
<link rel="stylesheet" href="{root}assets/site.css">
<script src="{root}assets/app.js"></script>
</head>
<body>
<main id="main">
<h1 id="top">标题</h1>
<p><a href="{root}index.html">首页</a> <a href="{root}sub/index.html#part-1">部分</a>
<a href="https://www.gov.cn/">中国政府网</a> <a href="mailto:a@example.gov.cn">邮件</a>
<a href="#top">顶部</a> <a href="{root}sub/%E5%8E%9F%E4%BB%B6.txt">原件</a>
<a href="{root}search/index.html?q=x">搜索</a></p>
{body}
</main>
</body>
</html>
"""


def checked_site(folder, scans=()) -> list[str]:
    """`verify_site`'s problems as the lines the build prints."""
    return [str(p) for p in verify_site(folder, scans)]


def make_site(folder: Path, body: str = "", sub_body: str = "", css: str = "body { color: #000; }\n") -> Path:
    """A three-page site that passes verify_site unless `body`/`sub_body`/`css` break it."""
    (folder / "sub").mkdir(parents=True)
    (folder / "search").mkdir()
    (folder / "assets").mkdir()
    (folder / "index.html").write_text(PAGE.format(root="", body=body), encoding="utf-8")
    (folder / "sub" / "index.html").write_text(
        PAGE.format(root="../", body='<h2 id="part-1">一</h2>\n' + sub_body), encoding="utf-8")
    (folder / "search" / "index.html").write_text(PAGE.format(root="../", body=""), encoding="utf-8")
    (folder / "sub" / "原件.txt").write_text("原件\n", encoding="utf-8")
    (folder / "assets" / "site.css").write_text(css, encoding="utf-8")
    (folder / "assets" / "app.js").write_text("void 0;\n", encoding="utf-8")
    return folder


def test_a_clean_site_passes(tmp_path):
    assert checked_site(make_site(tmp_path / "s")) == []


BAD_MARKUP = {
    "inline script": ('<script>alert(1)</script>', "inline <script>"),
    "inline module script": ('<script type="module">import "x";</script>', "inline <script>"),
    "uppercase inline script": ('<SCRIPT>alert(1)</SCRIPT>', "inline <script>"),
    "script src with code": ('<script src="assets/app.js">alert(1)</script>', "inline code"),
    "external script": ('<script src="https://cdn.example.com/x.js"></script>', "external resources"),
    "protocol-relative script": ('<script src="//cdn.example.com/x.js"></script>', "root-relative"),
    "bad JSON-LD": ('<script type="application/ld+json">{"a": </script>', "not valid JSON"),
    "JSON-LD with raw <": ('<script type="application/ld+json">{"a": "<b>"}</script>', "raw '<'"),
    "onclick": ('<a href="index.html" onclick="alert(1)">x</a>', "onclick"),
    "unquoted onclick": ('<a href=index.html onclick=alert(1)>x</a>', "onclick"),
    "uppercase onclick": ('<A HREF="index.html" ONCLICK="alert(1)">x</A>', "onclick"),
    "glued onclick": ('<a href="index.html"onclick="alert(1)">x</a>', "onclick"),
    "svg onload": ('<svg/onload=alert(1)></svg>', "onload"),
    "img onerror": ('<img src="assets/x.png" onerror="alert(1)" alt="">', "onerror"),
    "style attribute": ('<p style="color:red">x</p>', "inline styles"),
    "style element": ('<style>p { color: red }</style>', "<style> element"),
    "javascript link": ('<a href="javascript:alert(1)">x</a>', "javascript: URLs"),
    "JAVASCRIPT link": ('<a href="JAVASCRIPT:alert(1)">x</a>', "javascript: URLs"),
    "tab-split javascript": ('<a href="java&#9;script:alert(1)">x</a>', "javascript: URLs"),
    "entity javascript": ('<a href="&#106;avascript:alert(1)">x</a>', "javascript: URLs"),
    "single-quoted javascript": ("<a href='javascript:alert(1)'>x</a>", "javascript: URLs"),
    "vbscript": ('<a href="vbscript:msgbox(1)">x</a>', "vbscript: URLs"),
    "data URL": ('<a href="data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;">x</a>', "data: URLs"),
    "data image": ('<img src="data:image/png;base64,AAAA" alt="">', "data: URLs"),
    "form to javascript": ('<form action="javascript:alert(1)"></form>', "javascript: URLs"),
    "button formaction": ('<button formaction="javascript:alert(1)">x</button>', "javascript: URLs"),
    "external image": ('<img src="https://example.com/x.png" alt="">', "external resources"),
    "meta refresh": ('<meta http-equiv="refresh" content="0;url=https://example.com/">', "redirects"),
    "base element": ('<base href="https://example.com/">', "<base> element"),
    "root-relative link": ('<a href="/2022/index.html">x</a>', "root-relative"),
    "missing page": ('<a href="nothing/index.html">x</a>', "names no file"),
    "missing anchor": ('<a href="sub/index.html#part-9">x</a>', "no id 'part-9'"),
    "missing own anchor": ('<a href="#nowhere">x</a>', "no id 'nowhere'"),
    "leaves the site": ('<a href="../../etc/passwd">x</a>', "leaves the site"),
    "folder link": ('<a href="sub/">x</a>', "names a folder"),
    "missing image": ('<img src="assets/none.png" alt="">', "names no file"),
    "missing form target": ('<form action="nothing.html"></form>', "names no file"),
}


@pytest.mark.parametrize("case", BAD_MARKUP, ids=list(BAD_MARKUP))
def test_bad_markup_is_found(tmp_path, case):
    markup, expected = BAD_MARKUP[case]
    problems = checked_site(make_site(tmp_path / "s", body=markup))
    assert problems, f"{case}: not found"
    assert all(p.startswith("index.html: ") for p in problems), problems
    assert any(expected in p for p in problems), problems


def test_bad_css_url_is_found(tmp_path):
    problems = checked_site(make_site(tmp_path / "s", css='a { background: url("../img/none.png") }\n'
                                                         '@import "https://example.com/x.css";\n'))
    assert any("url('../img/none.png'): names no file" in p for p in problems), problems
    assert any("external resources" in p for p in problems), problems


def test_symlink_in_output_is_found(tmp_path):
    site = make_site(tmp_path / "s")
    (site / "passwd").symlink_to("/etc/passwd")
    assert checked_site(site) == ["passwd: symbolic link in the output"]


ESCAPED_TEXT = [
    # What autoescaped hostile content looks like in a page: never markup.
    "<p>&lt;script&gt;alert(1)&lt;/script&gt; onclick=alert(1) style=color:red href=/x src=//y</p>",
    '<p title="x onclick=alert(1) style=a href=/b id=c">&lt;img src=x onerror=alert(1)&gt;</p>',
    "<p>javascript:alert(1) data:text/html, id= on= style= action= &#34;&gt;&lt;svg/onload=x&gt;</p>",
    "<!-- <script>alert(1)</script> <a href=\"nothing.html\">x</a> -->",
    '<p>{{ 7*7 }} {% raw %} ${x} \u202e\u200b ０１２３ e\u0301</p>',
]


@pytest.mark.parametrize("text", ESCAPED_TEXT)
def test_escaped_hostile_text_is_not_markup(tmp_path, text):
    assert checked_site(make_site(tmp_path / "s", body=text, sub_body=text)) == []


def test_every_problem_of_every_page_is_listed(tmp_path):
    site = make_site(tmp_path / "s", body='<p style="x">a</p><a href="none.html">b</a>',
                     sub_body='<script>1</script>')
    problems = checked_site(site)
    assert len(problems) == 3
    assert {p.split(":")[0] for p in problems} == {"index.html", "sub/index.html"}


# --------------------------------------------------------------------------- in the build


@pytest.fixture
def project(tmp_path: Path):
    """A copy of the inputs and a site built from it: (config path, output folder)."""
    config = copy_inputs(tmp_path / "project")
    output = tmp_path / "project" / "_site"
    run = _build_cli(config, output)
    assert run.returncode == 0, run.stderr
    return config, output


def _build_cli(config: Path, output: Path, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "build.py"), "build", "--config", str(config),
                           "--output", str(output), "--no-search", *extra],
                          cwd=config.parent, capture_output=True, text=True, env=env, timeout=300)


TEMPLATE_BREAKAGES = [
    ("project.html", "{% block main %}", '{% block main %}<p onclick="x()">x</p>', "onclick"),
    ("agency_year.html", "{% block main %}", "{% block main %}<script>x()</script>", "inline <script>"),
    ("home.html", "{% block main %}", '{% block main %}<a href="javascript:x()">x</a>', "javascript: URLs"),
    ("base.html", "</main>", '<a href="{{ page.root }}nowhere/index.html">x</a></main>', "names no file"),
    ("base.html", "</main>", '<a href="#no-such-id">x</a></main>', "no id 'no-such-id'"),
]


@pytest.mark.parametrize("breakage", TEMPLATE_BREAKAGES, ids=[b[3] for b in TEMPLATE_BREAKAGES])
def test_a_template_that_breaks_the_rules_never_publishes(project, breakage):
    """The build checks its own output before the swap: exit 1, old site byte-identical."""
    config, output = project
    before = tree_hash(output)
    name, old, new, expected = breakage
    template = config.parent / "templates" / name
    source = template.read_text(encoding="utf-8")
    assert old in source
    template.write_text(source.replace(old, new, 1), encoding="utf-8")
    run = _build_cli(config, output)
    assert run.returncode == 1, run.stderr
    assert "未通过检查" in run.stderr and expected in run.stderr, run.stderr
    assert "Traceback" not in run.stderr
    assert tree_hash(output) == before
    assert not [p for p in output.parent.iterdir() if p.name.startswith("_site.")]


def test_the_real_site_passes(site_dir: Path):
    assert checked_site(site_dir) == []


def test_json_ld_download_links_resolve(site_dir: Path):
    """The Dataset's contentUrl values (relative to the page, as JSON-LD reads them) exist."""
    pages = 0
    for page in sorted(site_dir.glob("*/*/index.html")):
        blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>',
                            page.read_text(encoding="utf-8"), re.DOTALL)
        for block in blocks:
            data = json.loads(block)
            assert data["@type"] == "Dataset" and data["distribution"]
            for download in data["distribution"]:
                assert (page.parent / download["contentUrl"]).resolve().is_file(), download
            pages += 1
    assert pages >= 4


WORKER_BREAKAGES = [
    "",                                                           # a clean share
    '<a href="../nowhere/index.html">x</a>',                      # a target no worker wrote
    '<a href="../index.html#nope">x</a>',                         # an id missing on a common page
    '<a href="#nope">x</a><a href="other.html#nope">y</a>',       # ids missing on its own pages
    '<a href="../sub">x</a><p style="x">y</p><script>1</script>', # a folder link; markup
    '<a href="../../up.html">x</a><a href="原件.txt">ok</a>',      # leaves the site; a copied file
]


@pytest.mark.parametrize("sub_body", WORKER_BREAKAGES)
def test_pages_checked_in_workers_give_the_same_problems(tmp_path, sub_body):
    """A build's workers check their own pages in memory (`scan_written`) and leave the links
    they cannot settle to `verify_site`: together they find exactly what one full pass finds."""
    site = make_site(tmp_path / "s", body='<a href="sub/other.html#p2">x</a>', sub_body=sub_body)
    (site / "sub" / "other.html").write_text(PAGE.format(root="../", body='<p id="p2">2</p>'), encoding="utf-8")
    share = {rel: (site / rel).read_bytes() for rel in ("sub/index.html", "sub/other.html")}
    scan = scan_written(share, ["sub/原件.txt"])
    assert scan.pages == set(share)
    assert sorted(checked_site(site, [scan])) == sorted(checked_site(site))
    assert bool(checked_site(site)) == bool(sub_body)


# --------------------------------------------------------------------------- CSP in the browser


CSP_PAGES = {
    "home": "index.html",
    "agency-year (JSON-LD)": "2022/287001/index.html",
    "project (chart)": "2022/287001/13012322P00258110508R/index.html",
    "search": "search/index.html",
    "sitemap": "sitemap/index.html",
    "accessibility": "accessibility/index.html",
    "404": "404.html",
}
WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


def test_no_csp_violation_on_any_page_type_or_in_a_search(new_page, site_server, site_dir, browser_log):
    """Served with the production policy (harness.SITE_CSP), nothing is blocked anywhere:
    no inline script, style or handler, no foreign resource, and the search works."""
    page = new_page()
    page.add_init_script(WATCH_CSP)            # runs before the page's own scripts, CSP-exempt
    violations = []
    for name, path in CSP_PAGES.items():
        page.goto(site_server.url_for(path))
        page.wait_for_load_state("networkidle")
        if page.locator("#reading-toggle").is_visible():
            page.locator("#reading-toggle").click()      # settings.js at work, under the policy too
        violations += [f"{name}: {v}" for v in page.evaluate("window.__csp")]
    if (site_dir / "search-index").is_dir():
        page.goto(site_server.url_for("search/index.html?q=" + "保险"))
        page.wait_for_load_state("networkidle")
        page.locator("#search-results a").first.wait_for(timeout=15_000)
        violations += [f"search: {v}" for v in page.evaluate("window.__csp")]
    console = [text for kind, text in browser_log.console if "Content Security Policy" in text
               or "Content-Security-Policy" in text]
    assert not violations and not console, "\n".join(violations + console)


# --------------------------------------------------------------------------- reproducible bytes


def copy_shuffled(dest: Path, seed: int) -> Path:
    """The project's inputs, every file created in a random order (directory order differs)."""
    files = []
    for name in ("site_config.yaml", "content", "templates", "theme"):
        source = REPO / name
        files += [source] if source.is_file() else [p for p in source.rglob("*") if p.is_file()]
    random.Random(seed).shuffle(files)
    for source in files:
        target = dest / source.relative_to(REPO)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return dest / "site_config.yaml"


ENVIRONMENTS = [
    {"PYTHONHASHSEED": "1", "TZ": "UTC", "LC_ALL": "C.UTF-8", "GONGKAI_WORKERS": "1", "umask": 0o022},
    {"PYTHONHASHSEED": "4242", "TZ": "Asia/Shanghai", "LANG": "zh_CN.UTF-8", "GONGKAI_WORKERS": "2",
     "umask": 0o077},
    {"PYTHONHASHSEED": "random", "TZ": "America/New_York", "LC_ALL": "C", "GONGKAI_WORKERS": "3",
     "umask": 0o002},
]


def test_builds_are_byte_identical_whatever_the_environment(tmp_path):
    """Hash seed, time zone, locale, umask, worker count, project path and the order in which
    the input files were created change nothing (search index included, nothing excluded)."""
    trees = []
    for n, settings in enumerate(ENVIRONMENTS):
        settings = dict(settings)
        mask = settings.pop("umask")
        env = {k: v for k, v in os.environ.items() if k not in ("LANG", "LC_ALL", "SOURCE_DATE_EPOCH")}
        env.update(settings)
        folder = tmp_path.joinpath(f"project-{n}", *["deeper"] * n)     # another path each time
        config = copy_shuffled(folder, seed=n)
        run = subprocess.run([sys.executable, str(REPO / "build.py"), "build", "--config", str(config)],
                             cwd=config.parent, env=env, capture_output=True, text=True, timeout=600,
                             preexec_fn=lambda: os.umask(mask))
        assert run.returncode == 0, run.stderr[-3000:]
        trees.append(tree_hash(config.parent / "_site"))
    differ = sorted(k for k in set(trees[0]) | set(trees[1]) | set(trees[2])
                    if not trees[0].get(k) == trees[1].get(k) == trees[2].get(k))
    assert not differ, differ[:20]
    assert any(k.startswith("search-index/words/") for k in trees[0])
