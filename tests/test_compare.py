"""An agency over the years (issue 17, item 3): agencies/{agency}/ lists every year and
what changed from each year to the next, all derived. The fixture holds two years of one
agency made for this test (tests/fixtures/agency-years/, never content of the site)."""
from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import harness
from gongkai.compare import compare, marked
from gongkai.config import load_config
from gongkai.site import load, render_site
from test_accessibility import AXE_RUNS, WIDTHS, pages_in_mode, with_mode

FIXTURE = Path(__file__).parent / "fixtures" / "agency-years"


def built(tmp_path: Path) -> dict[str, bytes]:
    root = tmp_path / "p"
    shutil.copytree(FIXTURE, root)
    config, problems = load_config(root / "site_config.yaml")
    assert config is not None, problems
    years, problems = load(config)
    assert len(years) == 2, [p.format() for p in problems]
    out, problems = render_site(config, years)
    assert out is not None, problems
    return out.files


def text_of(page: bytes) -> str:
    main = page.decode("utf-8").split("<main", 1)[1].split("</main>", 1)[0]
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", main)))


def test_the_comparison_shows_the_known_changes(tmp_path):
    files = built(tmp_path)
    page = files["agencies/100001/index.html"].decode("utf-8")
    text = text_of(files["agencies/100001/index.html"])
    assert "2022 年与 2021 年对比（派生）" in text
    assert "延续的项目：2 个（按项目编码匹配 1 个，按项目名称匹配 1 个）" in text
    assert "2022 年新增的项目：1 个" in text and "图书购置" in text
    assert "2022 年不再列出的项目：1 个" in text and "旧设备维护" in text
    assert "“服务对象满意度”：≥90% → ≥95%" in text
    assert "新增“缴纳及时率”：100%" in text
    assert "不再列出“缴纳人数”（原为 ≥10 人）" in text
    assert "+500.00" in text                              # 4000.00 -> 4500.00 元, derived
    assert "按项目名称" in text and "按项目编码" in text
    # The goals side by side, the differing characters marked.
    assert "<ins><span class=\"vh\">［新增：</span>高质量<span class=\"vh\">］</span></ins>" in page
    # Links lead to each year's pages.
    assert 'href="../../2022/100001/index.html"' in page and 'href="../../2021/100001/index.html"' in page
    assert 'href="../../2022/100001/287-0601-JBN-NEW1/index.html"' in page


def test_agency_year_pages_link_the_agency_over_the_years(tmp_path):
    """And its other years, newest first; a one-year agency's page names none."""
    files = built(tmp_path)
    for year in (2021, 2022):
        page = files[f"{year}/100001/index.html"].decode("utf-8")
        assert '<a href="../../agencies/100001/index.html">本部门各年度与逐年对比</a>' in page
    # Each year's page links the agency's other years directly.
    assert ('本部门其他年度：<a href="../../2021/100001/index.html">2021 年</a>'
            in files["2022/100001/index.html"].decode("utf-8"))
    assert ('本部门其他年度：<a href="../../2022/100001/index.html">2022 年</a>'
            in files["2021/100001/index.html"].decode("utf-8"))


def test_an_agency_with_one_year_has_no_comparison(tmp_path):
    root = tmp_path / "one"
    shutil.copytree(FIXTURE, root)
    (root / "content" / "2021" / "100001.yaml").unlink()
    config, _ = load_config(root / "site_config.yaml")
    years, _ = load(config)
    out, problems = render_site(config, years)
    assert out is not None, problems
    text = text_of(out.files["agencies/100001/index.html"])
    assert "本部门目前只有一个年度，没有可对比的年度。" in text and "对比（派生）" not in text
    assert "本部门其他年度" not in out.files["2022/100001/index.html"].decode("utf-8")


def test_compare_matches_by_code_then_name_and_marks_text():
    old = {"year": 2021, "unit": "元", "parts": [{"projects": [
        {"code": "A 1", "name": "甲", "budget": "1,000.00", "indicators": []},
        {"name": "乙", "budget": "5.00", "unit": "万元", "indicators": []}]}]}
    new = {"year": 2022, "unit": "元", "parts": [{"projects": [
        {"code": "A1", "name": "甲（改名）", "budget": "1200.00", "indicators": []},
        {"name": "乙", "budget": "6.00", "indicators": []}]}]}
    c = compare(old, new)
    assert [(p.rule, p.new["name"]) for p in c.continued] == [("项目编码", "甲（改名）"), ("项目名称", "乙")]
    assert c.continued[0].budget_change == 200      # 1,000.00 as printed, read exactly
    assert c.continued[1].budget_change is None     # 万元 then 元: not comparable
    left, right = marked("甲乙丙", "甲丙丁")
    assert left == [("same", "甲"), ("del", "乙"), ("same", "丙")]
    assert right == [("same", "甲"), ("same", "丙"), ("ins", "丁")]


# --------------------------------------------------------------------------- accessibility

@pytest.fixture(scope="module")
def fixture_site(tmp_path_factory) -> Path:
    """The two-year fixture built by `build.py build --no-search`, as a reader gets it."""
    root = tmp_path_factory.mktemp("agency-years") / "p"
    shutil.copytree(FIXTURE, root)
    proc = subprocess.run([sys.executable, str(harness.REPO_ROOT / "build.py"), "build", "--no-search",
                           "--config", str(root / "site_config.yaml"), "--output", str(root / "_site")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root / "_site"


@pytest.mark.parametrize("mode,width", AXE_RUNS, ids=[f"{m}-{w}" for m, w in AXE_RUNS])
def test_axe_on_the_comparison_in_each_mode(new_page, static_server, fixture_site, mode, width):
    """The comparison (marked goals, change lists, tables) and the agency-year pages that
    link the other year: zero axe violations and no sideways scrolling in every reading mode."""
    server = static_server(fixture_site, csp=True)
    pages = ("agencies/100001/index.html", "2022/100001/index.html", "2021/100001/index.html")
    failures = pages_in_mode(with_mode(new_page(WIDTHS[width]), mode),
                             {path: server.url_for(path) for path in pages}, mode, width)
    assert not failures, failures
