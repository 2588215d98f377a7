"""site_config.yaml: every value typed and checked, every problem at once at file:line:col.

Regression tests for the configuration's defects (D5, D6, D9, D15, D16, D24, D26 of
../shared/docs/defects.md and item 5 of issue 14: a config path that is not a regular file),
and two property tests (hypothesis): arbitrary text written into every text setting, in
each YAML quoting style, either gives errors at the lines of those settings or is published
exactly as the YAML says, on the home page (title, meta tags, footer, region) and in
feed.xml; values for the settings with a format (email, domain, site_url) likewise.
"""
from __future__ import annotations

import datetime
import os
import re
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from markupsafe import escape

from gongkai import load
from gongkai.config import CONTACT_KEYS, MAX_TEXT, SETTINGS, Config, load_config
from gongkai.derive import derive_year
from gongkai.model import Agency, AgencyYear, Part
from gongkai.pipeline import build_command
from gongkai.render.views import CONTACT_LABELS
from gongkai.site import render_site

REPO = Path(__file__).resolve().parents[1]
BASE = "title: 测试站点\nowner: 测试主办单位\nregions:\n  - 测试区\n"
# `file:line:col: error: key: message (hint: …)`, the form other tools parse.
LINE_RE = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<sev>error|note): (?P<rest>.*)$")


def problems_of(tmp_path: Path, text: str) -> list:
    path = tmp_path / "site_config.yaml"
    path.write_text(text, encoding="utf-8")
    config, problems = load_config(path)
    assert config is None, "expected the configuration to be refused"
    for p in problems:
        assert LINE_RE.match(p.format()), p.format()
    return problems


def config_of(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "site_config.yaml"
    path.write_text(text, encoding="utf-8")
    config, problems = load_config(path)
    assert config is not None, [p.format() for p in problems]
    return config


def errors(problems) -> list[tuple[int, str]]:
    """(line, key) of every error."""
    return sorted((p.line, p.key) for p in problems if p.is_error)


def tiny_year(region: str) -> AgencyYear:
    return AgencyYear(year=2020, agency=Agency(name="测试单位", region=region, slug="x1"), unit="元",
                      parts=(Part(title="第一部分"),), source="content/2020/x1.yaml")


def render(config: Config) -> dict[str, bytes]:
    site, problems = render_site(config, [derive_year(tiny_year(config.regions[0]))],
                                 datetime.date(2023, 11, 14))
    assert site is not None, [p.format() for p in problems]
    return site.files


# --- the seed and the shape ------------------------------------------------------------------

def test_the_seed_configurations_load_unchanged():
    for path in (REPO / "site_config.yaml", REPO / "tests/fixtures/site/site_config.yaml"):
        config, problems = load_config(path)
        assert config is not None and problems == [], [p.format() for p in problems]
    config, _ = load_config(REPO / "site_config.yaml")
    assert config.contact == {"phone": "0335-0000000", "email": "jxgk@example.gov.cn",
                              "address": "河北省秦皇岛市（示例地址）"}
    assert (config.site_id_code, config.serve_port, config.output) == ("", 8000, "_site")
    assert config.site_url == "https://example.gov.cn/zwgk/jxgk/"


def test_every_setting_is_declared_once_on_the_config():
    """Each Config field but `root` is a setting with its converter; the footer labels
    every contact key the configuration accepts."""
    names = [f for f in Config.__dataclass_fields__ if f != "root"]
    assert list(SETTINGS) == names
    assert [n for n, (_, required) in SETTINGS.items() if required] == ["title", "owner", "regions"]
    assert set(CONTACT_KEYS) == set(CONTACT_LABELS)


# --- D5: numbers with a leading zero ---------------------------------------------------------

def test_d5_leading_zero_values_are_published_as_written(tmp_path):
    """D5: `postcode: 066000`, `fax: 03356666` and `site_id_code: 0130000001` (unquoted) were
    read as octal and published as 27648, 908726 and 23068673. A plain value where text is
    meant is now the text as written, on the page as in the meta tags."""
    config = config_of(tmp_path, BASE + textwrap.dedent("""\
        contact:
          postcode: 066000
          fax: 03356666
          phone: 0335-0000000
        site_id_code: 0130000001
        icp: NO
        column_name: 2020-01-01
        column_type: 1.10
        """))
    assert config.contact == {"postcode": "066000", "fax": "03356666", "phone": "0335-0000000"}
    assert (config.site_id_code, config.icp, config.column_name, config.column_type) == (
        "0130000001", "NO", "2020-01-01", "1.10")
    home = render(config)["index.html"].decode("utf-8")
    assert "邮编：066000" in home and "传真：03356666" in home
    assert '<meta name="SiteIDCode" content="0130000001">' in home
    assert "<dd>NO</dd>" in home and '<meta name="ColumnType" content="1.10">' in home


# --- D6: empty or mis-typed title and owner --------------------------------------------------

def test_d6_empty_title_or_owner_is_an_error_not_none(tmp_path):
    """D6: `title:` left empty was published as "None" (and `title: [a, b]` as "['a', 'b']");
    now each is an error at the value, and the configuration is refused."""
    problems = problems_of(tmp_path, "title:\nowner: '  '\nregions:\n  - 测试区\n")
    assert errors(problems) == [(1, "title"), (2, "owner")]
    assert all("必填设置项不能为空" in p.message for p in problems)
    problems = problems_of(tmp_path, "title: [a, b]\nowner: {a: 1}\nregions: 测试区\n")
    assert errors(problems) == [(1, "title"), (2, "owner"), (3, "regions")]
    assert "应为一行文字，实为列表" in problems[0].message


def test_missing_settings_unknown_keys_and_duplicates_all_at_once(tmp_path):
    """Every problem of the file in one run: an unknown key with a suggestion (also inside
    `contact`), a missing required setting, a duplicate region, a duplicate key."""
    problems = problems_of(tmp_path, textwrap.dedent("""\
        titel: 测试站点
        owner: 测试主办单位
        regions:
          - 甲区
          - 甲区
        contact:
          phnoe: 0335-0000000
        serve_port: 8000
        serve_port: 8001
        """))
    formatted = [p.format() for p in problems]
    assert errors(problems) == [(1, "titel"), (1, "title"), (5, "regions[1]"), (7, "contact.phnoe"),
                                (9, "")], formatted
    assert any(f.endswith("titel: 未知设置项 (hint: 是否应为 'title'？)") for f in formatted), formatted
    assert any("contact.phnoe: 未知设置项 (hint: 是否应为 'phone'？)" in f for f in formatted), formatted
    assert any("缺少必填设置项 'title'" in f for f in formatted)
    assert any("地区 '甲区' 重复（第 4 行已列出）" in f for f in formatted)


# --- D9: tracebacks ------------------------------------------------------------------------

D9_CASES = {
    "serve_port: abc\n": (5, "serve_port"),
    "serve_port: 1e5\n": (5, "serve_port"),
    "contact: abc\n": (5, "contact"),
    "contact:\n  - a\n  - b\n": (6, "contact"),
    "!!python/name:os.system unit: 万元\n": (5, "unit"),
    "site_id_code: !!int abc\n": (5, "site_id_code"),
    "site_id_code: !!timestamp abc\n": (5, "site_id_code"),
    "site_id_code: !!float abc\n": (5, "site_id_code"),
    "icp: !!binary aGVsbG8=\n": (5, "icp"),
}


@pytest.mark.parametrize("extra", D9_CASES)
def test_d9_config_cases_are_messages_not_tracebacks(tmp_path, capsys, extra):
    """D9: these config values raised ValueError / AttributeError / ConstructorError
    tracebacks; each is now one error at its line, and the build stops before writing."""
    problems = problems_of(tmp_path, BASE + extra)
    assert errors(problems) == [D9_CASES[extra]], [p.format() for p in problems]
    assert build_command(tmp_path / "site_config.yaml", output=tmp_path / "_site", search=False) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and f"site_config.yaml:{D9_CASES[extra][0]}:" in err
    assert not (tmp_path / "_site").exists()


def test_d9_every_config_case_through_the_command_line(tmp_path):
    """D9: `build.py check` in a new process: exit 1, every case reported at once, no traceback."""
    text = BASE + textwrap.dedent("""\
        serve_port: 1e5
        contact: [a, b]
        !!python/name:os.system unit: 万元
        site_id_code: !!int abc
        icp: !!timestamp abc
        police_record: !!float abc
        column_name: !!binary aGVsbG8=
        """)
    (tmp_path / "site_config.yaml").write_text(text, encoding="utf-8")
    done = subprocess.run([sys.executable, str(REPO / "build.py"), "check", "--config",
                           str(tmp_path / "site_config.yaml")], capture_output=True, text=True, timeout=120)
    out = done.stdout + done.stderr
    assert done.returncode == 1 and "Traceback" not in out, out
    lines = [line for line in out.splitlines() if ": error: " in line]
    assert [int(LINE_RE.match(line).group("line")) for line in lines] == list(range(5, 12)), out


# --- D26: tags, also on keys -----------------------------------------------------------------

def test_d26_a_tag_is_refused_on_keys_and_values_even_a_core_one(tmp_path):
    """D26: a tag on a key (`!!python/name:os.system title:`) was a traceback in the
    configuration; any tag, `!!str` and `!` included, is now an error at the tag."""
    problems = problems_of(tmp_path, textwrap.dedent("""\
        !!python/name:os.system title: 测试站点
        owner: !!str 测试主办单位
        regions:
          - ! 测试区
        site_id_code: !<tag:yaml.org,2002:str> "1"
        """))
    assert errors(problems) == [(1, "title"), (2, "owner"), (4, "regions[0]"), (5, "site_id_code")]
    tags = [p for p in problems if "YAML 标签" in p.message]
    assert [(p.line, p.column) for p in tags] == [(1, 1), (2, 8), (4, 5), (5, 15)]
    assert "`!!python/name:os.system`" in tags[0].message


# --- D15: control and invisible characters written as escapes --------------------------------

@pytest.mark.parametrize("escape_", ["\\0", "\\x0c", "\\u2028", "\\x85", "\\x1b", "\\uFFFE", "\\n", "\\r"])
def test_d15_escaped_control_characters_are_refused(tmp_path, escape_):
    """D15: `title: "站\\x0c名\\u2028X\\x00"` reached every page (NUL in the HTML, feed.xml not
    well-formed); each escape is now an error at the value, in a key or in `contact` too."""
    text = (f'title: "站{escape_}名"\nowner: 测试主办单位\nregions:\n  - "测试{escape_}区"\n'
            f'contact:\n  address: "地{escape_}址"\n')
    assert errors(problems_of(tmp_path, text)) == [(1, "title"), (4, "regions[0]"), (6, "contact.address")]


def test_raw_control_characters_are_refused_by_the_loader(tmp_path):
    """The same characters typed into the file are refused where they are (gongkai/load.py)."""
    problems = problems_of(tmp_path, "title: 站\x0c名\nowner: 测试主办单位\nregions:\n  - 测\u2028试区\n")
    assert [(p.line, p.column) for p in problems] == [(1, 9), (4, 6)]


def test_invisible_formatting_characters_are_published_with_a_note(tmp_path):
    """Zero-width and bidi characters are kept as written (the record is not altered), with
    the note content files get."""
    path = tmp_path / "site_config.yaml"
    path.write_text('title: "站\\u202e名"\nowner: 测试主办单位\nregions:\n  - 测试区\n', encoding="utf-8")
    config, problems = load_config(path)
    assert config is not None and config.title == "站\u202e名"
    assert [(p.line, p.severity) for p in problems] == [(1, "note")]


def test_a_long_value_is_refused(tmp_path):
    """A setting is repeated on every page: more than MAX_TEXT characters is an error."""
    problems = problems_of(tmp_path, BASE + f"icp: {'备' * (MAX_TEXT + 1)}\n")
    assert errors(problems) == [(5, "icp")]


# --- D16 (the configuration's side): serve_port --------------------------------------------

@pytest.mark.parametrize("value", ["0", "-5", "65536", "99999", "08000", "0x1F40", "8000.0", "true", "[8000]", "''"])
def test_d16_serve_port_outside_1_to_65535_is_refused(tmp_path, value):
    """D16: `serve_port: 99999` served on 34463 (99999 mod 65536), -5 was a socket traceback."""
    problems = problems_of(tmp_path, BASE + f"serve_port: {value}\n")
    assert errors(problems) == [(5, "serve_port")]
    assert "应为 1 到 65535 之间的端口号" in problems[0].message


@pytest.mark.parametrize("value, port", [("1", 1), ("8000", 8000), ("65535", 65535), ('"8080"', 8080)])
def test_serve_port_within_range(tmp_path, value, port):
    assert config_of(tmp_path, BASE + f"serve_port: {value}\n").serve_port == port


# --- D24: site_url -------------------------------------------------------------------------

BAD_URLS = {
    "https://a.gov.cn/?q=1&r=2/": "不允许的字符 '&'",
    "https://a.gov.cn/x/?q=1/": "查询串",
    "https://a.gov.cn/x/#top/": "片段",
    "'https://a.gov.cn/\"x\"/'": "不允许的字符 '\"'",
    "https://a.gov.cn/<b>/": "不允许的字符 '<'",
    "https://a.gov.cn/a b/": "不允许的字符 ' '",
    "https://a.gov.cn/公开/": "非 ASCII",
    "https://政府.cn/": "非 ASCII",
    "ftp://a.gov.cn/": "http:// 或 https://",
    "//a.gov.cn/": "http:// 或 https://",
    "javascript:alert(1)//": "http:// 或 https://",
    "https://a.gov.cn": "须以 / 结尾",
    "https://a.gov.cn/x": "须以 / 结尾",
    "https://user:pw@a.gov.cn/": "用户名或密码",
    "https://a.gov.cn:99999/": "主机名或端口",
    "https:///x/": "主机名或端口",
    "https://a.gov.cn/%zz/": "百分号编码",
    "https://a.gov.cn/../": ". 或 ..",
}


@pytest.mark.parametrize("url", BAD_URLS)
def test_d24_site_url_must_be_an_absolute_http_url_ending_in_a_slash(tmp_path, url):
    """D24: a query string, `"`, `<`, `>`, spaces and unencoded non-ASCII were accepted, and
    `&` came out as `&amp;` in robots.txt; each is now an error at the value."""
    problems = [p for p in problems_of(tmp_path, BASE + f"site_url: {url}\n") if p.is_error]
    assert errors(problems) == [(5, "site_url")]
    assert BAD_URLS[url] in problems[0].message


def test_d24_the_hint_gives_the_percent_encoded_address(tmp_path):
    problems = problems_of(tmp_path, BASE + "site_url: https://a.gov.cn/公开/\n")
    assert "百分号编码" in problems[0].hint and "https://a.gov.cn/%E5%85%AC%E5%BC%80/" in problems[0].hint
    problems = problems_of(tmp_path, BASE + "site_url: https://政府.cn/\n")
    assert "xn--" in problems[0].hint


@pytest.mark.parametrize("url", ["https://example.gov.cn/zwgk/jxgk/", "http://a.gov.cn/", "https://a.gov.cn:8443/",
                                 "https://a.gov.cn/%E5%85%AC%E5%BC%80/", "https://xn--mxtq1m.cn/a~b_c-(1)/"])
def test_d24_good_site_urls_are_published_as_written(tmp_path, url):
    config = config_of(tmp_path, BASE + f"site_url: {url}\n")
    files = render(config)
    assert f"Sitemap: {url}sitemap.xml".encode() in files["robots.txt"]
    locs = [e.text for e in ET.fromstring(files["sitemap.xml"]).iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    assert locs[0] == url and all(loc.startswith(url) for loc in locs)


def test_email_and_domain_formats(tmp_path):
    problems = problems_of(tmp_path, BASE + "site_domain: http://a.gov.cn/\ncontact:\n  email: 'a b@x.cn'\n")
    assert errors(problems) == [(5, "site_domain"), (7, "contact.email")]


# --- item 5: a path that is not a regular file -----------------------------------------------

def run_check(config: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "build.py"), "check", "--config", str(config)],
                          capture_output=True, text=True, timeout=60, cwd=config.parent)


@pytest.mark.parametrize("kind", ["fifo", "folder", "dev-zero-link", "dev-null", "missing"])
def test_a_config_that_is_not_a_regular_file_is_refused_unopened(tmp_path, kind):
    """Issue 14 item 5 (D3/D4 for the configuration): a FIFO hung `build` in open(), a link
    to /dev/zero read until memory ran out, a folder was an English traceback-free but
    unhelpful message. Each is refused by its name before it is opened (the FIFO has no
    writer, so opening it would block: the 60 s timeout would fail the test)."""
    path = tmp_path / "site_config.yaml"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "dev-zero-link":
        path.symlink_to("/dev/zero")
    elif kind == "dev-null":
        path = Path("/dev/null")
    done = run_check(path)
    assert done.returncode == 1 and "Traceback" not in done.stdout + done.stderr
    line = done.stdout.strip().splitlines()[0]
    assert LINE_RE.match(line) and f"{path}:1:1: error: " in line, line
    expected = {"fifo": "命名管道", "folder": "文件夹", "dev-zero-link": "设备文件（经由符号链接）",
                "dev-null": "设备文件", "missing": "找不到配置文件"}[kind]
    assert expected in line, line


def test_a_symlink_to_a_regular_config_is_read(tmp_path):
    (tmp_path / "real.yaml").write_text(BASE, encoding="utf-8")
    (tmp_path / "site_config.yaml").symlink_to(tmp_path / "real.yaml")
    assert load_config(tmp_path / "site_config.yaml")[0].title == "测试站点"


def test_an_oversized_config_is_refused_before_reading(tmp_path):
    path = tmp_path / "site_config.yaml"
    with open(path, "wb") as f:
        f.write(BASE.encode())
        f.truncate(2 * 1024 * 1024)    # sparse: nothing to read, only the size counts
    problems = load_config(path)[1]
    assert len(problems) == 1 and "上限为 1048576" in problems[0].message


# --- property: arbitrary text in every text setting ---------------------------------------------

TEXT_FIELDS = ("title", "owner", "site_id_code", "icp", "police_record", "column_name", "column_type")
CONTACT_TEXT = ("phone", "address", "fax", "postcode")
PAYLOADS = [
    "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "'><svg/onload=alert(1)>", "{{ 7*7 }}",
    "{% raw %}x{% endraw %}", "\u202e\u2066RTL\u2069", "\u200b\ufeff", "０１２", "e\u0301", "066000", "0130000001",
    "NO", "~", "null", "2020-01-01", "1e5", "0x1F", ".inf", "&amp; &#x3c;", "]]>", "<!--", "# x", "a: b", "- a",
    "!!int 1", "&a", "*a", "[a, b]", "{a: 1}", "'", '"', "\\", "\t", " ", "\x00", "\x0c", "\u2028", "\x85", "\n",
    "\r\n", "%", "@", "`", "|", ">", "? x", "--- x", "... x", "\U0001f600", "\ufffd",
]
TEXT = st.lists(st.one_of(st.sampled_from(PAYLOADS), st.text(st.characters(blacklist_categories=("Cs",)),
                                                             min_size=1, max_size=20)),
                min_size=1, max_size=4).map("".join)


def written(value: str, style: str) -> str:
    """`value` as a YAML scalar on one line: plain (as typed), single- or double-quoted."""
    if style == "plain":
        return value
    if style == "single":
        return "'" + value.replace("'", "''") + "'"
    return yaml.safe_dump(value, default_style='"', allow_unicode=True, width=1_000_000).removesuffix("\n...\n").rstrip("\n")


def config_text(v: str, style: str) -> str:
    w = written(v, style)
    lines = [f"{name}: {w}" for name in TEXT_FIELDS] + ["contact:"] + [f"  {n}: {w}" for n in CONTACT_TEXT]
    return "\n".join(lines + ["regions:", f"  - {w}", ""])


def expected_values(text: str) -> dict[str, tuple[str, int, int]]:
    """key path -> (what YAML reads for it, first line, last line), from the composed tree."""
    root = yaml.compose(text, Loader=load.Loader)
    out = {}

    def walk(node, path):
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                walk(v, f"{path}.{k.value}" if path else k.value)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, f"{path}[{i}]")
        else:
            value = "" if node.tag == "tag:yaml.org,2002:null" else node.value
            # Lines as an editor counts them (YAML's marks also count U+2028 and U+0085).
            out[path] = (value, text.count("\n", 0, node.start_mark.index) + 1,
                         text.count("\n", 0, node.end_mark.index) + 1)
    walk(root, "")
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(v=TEXT, style=st.sampled_from(["plain", "single", "double"]))
@example(v="站\x0c名\u2028X\x00", style="double")
@example(v="066000", style="plain")
@example(v='"><img src=x onerror=alert(1)>', style="single")
@example(v="{{ 7*7 }} & <b>", style="double")
@example(v="\u202e\u200b", style="double")
def test_any_text_in_every_setting_is_refused_in_place_or_published_exactly(tmp_path, v, style):
    """Every text setting holds `v`: either the configuration is refused with every error on a
    line that holds one of those settings, or each is published exactly as YAML reads it: the
    home page's <title>, meta tags, footer and region heading, and feed.xml's title and author."""
    text = config_text(v, style)
    path = tmp_path / "site_config.yaml"
    path.write_text(text, encoding="utf-8")
    config, problems = load_config(path)
    for p in problems:
        assert LINE_RE.match(p.format()) and "Traceback" not in p.format(), p.format()
        assert len(p.format()) < 2000
    try:
        expected = expected_values(text)
    except yaml.YAMLError:
        assert config is None and problems   # not YAML: load.py's syntax errors (tested there)
        event("not YAML")
        return
    if config is None:
        event("refused")
        assert any(p.is_error for p in problems)
        spans = [(first, last) for _, first, last in expected.values()]
        for p in problems:
            assert any(first <= p.line <= last for first, last in spans), (p.format(), spans)
        return
    value = expected["title"][0]
    assert config.title == value and config.owner == expected["owner"][0]
    assert all(getattr(config, f) == expected[f][0] for f in TEXT_FIELDS)
    assert config.regions == (expected["regions[0]"][0],)
    assert config.contact == {n: expected[f"contact.{n}"][0] for n in CONTACT_TEXT if expected[f"contact.{n}"][0]}
    assert "\n" not in value and "\r" not in value and not load.BAD_CHAR_RE.search(value)
    event("published")

    files = render(config)
    home = files["index.html"].decode("utf-8")
    e = {f: str(escape(getattr(config, f))) for f in TEXT_FIELDS}
    assert f"<title>{e['title']}</title>" in home
    assert f'<meta name="SiteName" content="{e["title"]}">' in home
    assert f'<meta name="SiteIDCode" content="{e["site_id_code"]}">' in home
    assert f'<meta name="ColumnName" content="{e["column_name"]}">' in home
    assert f'<meta name="ColumnType" content="{e["column_type"]}">' in home
    assert f"<dt>主办单位</dt><dd>{e['owner']}</dd>" in home
    for f, label in (("site_id_code", "网站标识码"), ("icp", "ICP备案号"), ("police_record", "公安机关备案号")):
        assert (f"<dt>{label}</dt><dd>{e[f]}</dd>" in home) == bool(getattr(config, f))
    for n, shown in config.contact.items():
        assert f'<span class="contact">{CONTACT_LABELS[n]}：{escape(shown)}</span>' in home
    assert f"<h3>{escape(config.regions[0])}</h3>" in home
    if "<" in value:
        assert value not in home
    feed = ET.fromstring(files["feed.xml"])
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert (feed.find("a:title", ns).text or "") == value
    assert (feed.find("a:author/a:name", ns).text or "") == config.owner


URL_PART = st.text(st.sampled_from("abz09-._~!$()*+,;=:@%/?#&'\"<> 公\t"), max_size=12)
SAFE_PATH = st.lists(st.one_of(st.text(st.sampled_from("abz09-._~!$()*+,;=:@"), min_size=1, max_size=6),
                               st.just("%E5%85%AC")), max_size=3).map(lambda parts: "".join(p + "/" for p in parts))
HOSTS = st.sampled_from(["a.gov.cn", "x-1.example.cn", "a.gov.cn:8443", "政府.cn", "a..cn", "a.cn:0"])
GOOD_URL = st.builds("https://{}/{}".format, st.sampled_from(["a.gov.cn", "x-1.example.cn", "a.gov.cn:8443"]), SAFE_PATH)
GOOD_EMAIL = st.builds("{}@{}".format, st.text(st.sampled_from("az09._%+-"), min_size=1, max_size=8),
                       st.sampled_from(["a.gov.cn", "mail.example.cn"]))
FORMATTED = {   # repeated branches are drawn more often: about half the values are well-formed
    "site_url": st.one_of(TEXT, GOOD_URL, GOOD_URL, st.builds("https://{}/{}".format, HOSTS, URL_PART)),
    "site_domain": st.one_of(TEXT, st.sampled_from(["example.gov.cn", "a-b.cn", "-a.cn", "a.gov.cn/", "政府.cn"])),
    "contact.email": st.one_of(TEXT, GOOD_EMAIL, GOOD_EMAIL, st.builds("{}@{}".format, URL_PART,
                                                                      st.sampled_from(["x", "a b.cn", "政府.cn"]))),
}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(data=st.data(), name=st.sampled_from(sorted(FORMATTED)), style=st.sampled_from(["plain", "single", "double"]))
def test_settings_with_a_format_are_refused_in_place_or_published_exactly(tmp_path, data, name, style):
    """site_url, site_domain and the contact email: an error at their line, or the value is
    in robots.txt and sitemap.xml (byte for byte), the SiteDomain meta tag, or the footer's
    mailto link exactly as written."""
    v = data.draw(FORMATTED[name])
    w = written(v, style)
    line = f"contact:\n  email: {w}\n" if name == "contact.email" else f"{name}: {w}\n"
    text = BASE + line
    path = tmp_path / "site_config.yaml"
    path.write_text(text, encoding="utf-8")
    config, problems = load_config(path)
    try:
        expected = expected_values(text)
    except yaml.YAMLError:
        assert config is None and problems
        event("not YAML")
        return
    if config is None:
        event(f"{name} refused")
        first, last = expected.get(name, ("", 5, 6))[1:]
        assert all(first <= p.line <= last + 1 for p in problems), [p.format() for p in problems]
        return
    value = expected.get(name, ("",))[0]
    event(f"{name} published" + (" (empty)" if not value else ""))
    files = render(config)
    home = files["index.html"].decode("utf-8")
    if name == "site_url":
        assert config.site_url == value
        if value:
            assert f"Sitemap: {value}sitemap.xml\n".encode() in files["robots.txt"]
            loc = ET.fromstring(files["sitemap.xml"]).find("{http://www.sitemaps.org/schemas/sitemap/0.9}url/"
                                                          "{http://www.sitemaps.org/schemas/sitemap/0.9}loc")
            assert loc.text == value
    elif name == "site_domain":
        assert config.site_domain == value
        assert f'<meta name="SiteDomain" content="{value}">' in home
    else:
        assert config.contact.get("email", "") == value
        if value:
            assert f'<a href="mailto:{value}">{value}</a>' in home
