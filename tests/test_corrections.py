"""更正记录 (issue 17, item 4: "Corrections in the open").

A published agency year whose content file changes after its first commit lists each
later commit that changed what it prints: the date, the field in readers' words, the text
before and after; the Atom feed has an entry per such commit. A commit that changes
nothing printed lists nothing; outside git the build says it cannot list corrections and
goes on; a long history is capped and the page says so.
"""
from __future__ import annotations

import html
import re
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from gongkai import corrections, history
from gongkai.pipeline import build_command
from test_dates import FILE, git, project, site
from test_hostile_yaml import GOOD

PAGE = "2020/100001/index.html"
ATOM = "{http://www.w3.org/2005/Atom}"
BUDGET = "第二部分 › 保险费绩效目标表 › 预算数"
VALUE = "第二部分 › 保险费绩效目标表 › 绩效指标第 1 行 › 指标值"


def corrected(tmp_path: Path) -> Path:
    """A repository: the file added on 2023-03-15, a budget and an indicator value
    corrected on 2023-05-02."""
    root = project(tmp_path)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "add", day="2023-03-15")
    write(root, GOOD.replace("budget: 4000.00", "budget: 4500.00").replace("value: ≥10 人", "value: ≥12 人"))
    git(root, "commit", "-qam", "correct", day="2023-05-02")
    return root


def write(root: Path, text: str) -> None:
    assert text != (root / FILE).read_text(encoding="utf-8")
    (root / FILE).write_text(text, encoding="utf-8")


def section(page: str) -> str:
    """The 更正记录 section's text, tags dropped."""
    match = re.search(r'<section class="corrections".*?</section>', page, re.S)
    assert match, "no 更正记录 section"
    return html.unescape(re.sub(r"<[^>]+>", " ", match.group(0)))


def rows(page: str) -> list[tuple[str, str, str]]:
    found = re.findall(r'<tr><th scope="row">(.*?)</th><td class="pre" data-label="更正前">(.*?)</td>'
                       r'<td class="pre" data-label="更正后">(.*?)</td></tr>',
                       page.split('<section class="corrections"')[-1].split("</section>")[0])
    return [tuple(html.unescape(cell) for cell in row) for row in found]


def entries(feed: str) -> list[dict[str, str]]:
    tree = ET.fromstring(feed.encode("utf-8"))
    return [{"title": e.findtext(ATOM + "title"), "id": e.findtext(ATOM + "id"),
             "updated": e.findtext(ATOM + "updated"), "summary": e.findtext(ATOM + "summary"),
             "href": e.find(ATOM + "link").get("href")} for e in tree.iter(ATOM + "entry")]


def test_a_correction_appears_on_the_page_and_in_the_feed(tmp_path):
    root = corrected(tmp_path)
    files = site(root)
    page = files[PAGE]
    assert rows(page) == [(BUDGET, "4000.00", "4500.00"), (VALUE, "≥10 人", "≥12 人")]
    text = section(page)
    assert "派生" in text and "由网站根据内容文件的修改历史生成" in text
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True).stdout.strip()
    assert f'<li id="correction-{sha[:12]}">' in page
    assert '<time datetime="2023-05-02">2023-05-02</time> 更正 2 处' in page
    # The printed record is the corrected one; the old text is only in 更正记录.
    assert "≥10 人" not in page.replace(page.split('<section class="corrections"')[1].split("</section>")[0], "")
    # The feed: the agency year's entry (its publication) and one for the correction.
    feed = entries(files["feed.xml"])
    correction = [e for e in feed if e["title"].startswith("更正：")]
    assert len(correction) == 1, feed
    entry = correction[0]
    assert entry["id"] == f"tag:gongkai.invalid,2023-05-02:2020/100001/corrections/{sha}"
    assert entry["updated"] == "2023-05-02T00:00:00+08:00"
    assert entry["href"] == f"2020/100001/index.html#correction-{sha[:12]}"
    assert entry["title"] == "更正：测试单位 2020 年部门预算绩效目标"
    assert f"{BUDGET}：“4000.00”改为“4500.00”" in entry["summary"]
    assert "≥12 人" in entry["summary"] and "派生" in entry["summary"]
    assert ET.fromstring(files["feed.xml"].encode()).findtext(ATOM + "updated") == "2023-05-02T00:00:00+08:00"
    # The other pages of the agency year do not list it (it belongs to the agency year).
    assert "更正记录" not in files["2020/100001/287-0601-JBN-CK81/index.html"]
    # Same input, same bytes: the entry's id and the page's anchors are stable.
    assert site(root) == files


def test_a_commit_that_changes_nothing_printed_lists_nothing(tmp_path):
    root = corrected(tmp_path)
    # Comments, quoting and layout: the same data.
    write(root, (root / FILE).read_text(encoding="utf-8")
          .replace("budget: 4500.00", 'budget: "4500.00"   # 更正后')
          .replace("unit: 元", "# a comment\nunit:    元"))
    git(root, "commit", "-qam", "layout", day="2023-06-01")
    files = site(root)
    assert rows(files[PAGE]) == [(BUDGET, "4000.00", "4500.00"), (VALUE, "≥10 人", "≥12 人")]
    assert "2023-06-01" not in files[PAGE]
    assert "2023-06-01" not in files["feed.xml"]
    assert len([e for e in entries(files["feed.xml"]) if e["title"].startswith("更正：")]) == 1


def test_only_formatting_since_publication_shows_no_section(tmp_path):
    root = project(tmp_path)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "add", day="2023-03-15")
    write(root, "# 注释\n" + GOOD)
    git(root, "commit", "-qam", "comment", day="2023-04-01")
    files = site(root)
    assert 'class="corrections"' not in files[PAGE]
    assert "更正：" not in files["feed.xml"]


def test_projects_are_matched_by_code_and_new_rows_are_named(tmp_path):
    root = corrected(tmp_path)
    text = (root / FILE).read_text(encoding="utf-8")
    second = ("      - number: 2、\n        title: 办公费绩效目标表\n        code: 287-0601-JBN-0002\n"
              "        name: 办公费\n        budget: 100.00\n")
    # A project inserted before the first: the first is still matched by its code.
    write(root, text.replace("      - number: 1、\n", second + "      - number: 1、\n", 1)
          .replace("            value: ≥12 人\n",
                   "            value: ≥12 人\n          - level1: 效益指标\n            level3: 满意度\n"
                   "            value: ≥90%\n"))
    git(root, "commit", "-qam", "add a project", day="2023-07-01")
    files = site(root)
    newest = rows(files[PAGE].split('<li id="correction-')[1])
    assert newest == [("第二部分 › 办公费绩效目标表", "（无）", "2、办公费绩效目标表"),
                      ("第二部分 › 保险费绩效目标表 › 绩效指标第 2 行", "（无）", "效益指标 | 满意度 | ≥90%")]


def test_outside_git_the_build_says_so_and_succeeds(tmp_path, capsys):
    root = project(tmp_path)
    (root / "site_config.yaml").write_text("title: t\nowner: o\nregions:\n  - 测试区\n", encoding="utf-8")
    assert history.read(root).state == "no-git"
    assert build_command(root / "site_config.yaml", root / "_site", search=False) == 0
    err = capsys.readouterr().err
    notes = [line for line in err.splitlines() if "更正记录" in line]
    assert notes == ["note: 更正记录无法列出：内容不在 git 仓库中（或未安装 git）；网站照常生成，"
                     "页面不列更正记录（hint: 检出完整的 git 历史后重新生成）"]
    assert "error" not in err
    assert (root / "_site" / PAGE).is_file()
    assert 'class="corrections"' not in (root / "_site" / PAGE).read_text(encoding="utf-8")


def test_a_shallow_clone_says_so_too(tmp_path, capsys):
    root = corrected(tmp_path)
    (root / "site_config.yaml").write_text("title: t\nowner: o\nregions:\n  - 测试区\n", encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "config", day="2023-05-03")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{root}", str(clone)], check=True)
    assert history.read(clone).state == "shallow"
    assert build_command(clone / "site_config.yaml", tmp_path / "out", search=False) == 0
    assert "note: 更正记录无法列出：这是浅克隆（shallow clone）" in capsys.readouterr().err
    assert 'class="corrections"' not in (tmp_path / "out" / PAGE).read_text(encoding="utf-8")


def test_many_commits_are_capped_and_the_page_says_so(tmp_path):
    root = project(tmp_path)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "add", day="2023-01-01")
    total = history.KEEP_COMMITS + 9     # later commits: 59, of which 50 are compared
    for n in range(1, total + 1):
        write(root, GOOD.replace("budget: 4000.00", f"budget: {4000 + n}.00"))
        git(root, "commit", "-qam", f"c{n}", day=f"2023-{2 + n // 28:02d}-{1 + n % 28:02d}")
    started = time.perf_counter()
    found = history.read(root)
    listed = corrections.read(root, found.dates)[FILE]
    took = time.perf_counter() - started
    assert found.dates[FILE].count == total + 1
    assert len(listed.items) == history.KEEP_COMMITS - 1 and listed.examined == history.KEEP_COMMITS - 1
    assert listed.earlier == total + 1 - history.KEEP_COMMITS
    assert listed.items[0].changes == (corrections.Change(BUDGET, f"{4000 + total - 1}.00", f"{4000 + total}.00"),)
    assert took < 5, took
    page = site(root)[PAGE]
    assert f"只比较了最近 {history.KEEP_COMMITS - 1} 次修改；更早的 {listed.earlier} 次修改未列出。" in page
    assert page.count('<li id="correction-') == history.KEEP_COMMITS - 1


def test_two_commits_on_one_day_change_the_fingerprint(tmp_path):
    root = corrected(tmp_path)
    before = history.digest(history.read(root).dates)
    write(root, GOOD)
    git(root, "commit", "-qam", "again", day="2023-05-02")   # the same day as the last
    after = history.read(root).dates
    assert after[FILE].last.isoformat() == "2023-05-02"
    assert history.digest(after) != before


def test_an_unreadable_version_is_skipped_not_fatal(tmp_path):
    root = corrected(tmp_path)
    write(root, "year: [unclosed\n")
    git(root, "commit", "-qam", "broken", day="2023-05-10")
    write(root, GOOD.replace("budget: 4000.00", "budget: 4600.00"))
    git(root, "commit", "-qam", "fixed", day="2023-05-11")
    found = corrections.read(root, history.read(root).dates)[FILE]
    assert found.skipped == 1
    # The fix is compared with the last version that could be read, not the broken one.
    assert found.items[0].changes == (corrections.Change(BUDGET, "4500.00", "4600.00"),
                                      corrections.Change(VALUE, "≥12 人", "≥10 人"))
    assert "有 1 个历史版本无法读取" in site(root)[PAGE]


def test_an_alias_bomb_in_history_is_bounded(tmp_path):
    root = corrected(tmp_path)
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(9))
    write(root, bomb)
    git(root, "commit", "-qam", "bomb", day="2023-05-10")
    write(root, GOOD)
    git(root, "commit", "-qam", "back", day="2023-05-11")
    started = time.perf_counter()
    found = corrections.read(root, history.read(root).dates)[FILE]
    assert time.perf_counter() - started < 5
    assert found.skipped == 1


def test_a_second_read_comes_from_the_cache_until_a_new_commit(tmp_path, monkeypatch):
    root = corrected(tmp_path)
    cache = tmp_path / "cache"
    first = corrections.read(root, history.read(root).dates, cache=cache)
    monkeypatch.setattr(corrections, "_Blobs", None)       # git is not asked again
    assert corrections.read(root, history.read(root).dates, cache=cache) == first
    write(root, GOOD)
    git(root, "commit", "-qam", "again", day="2023-05-03")
    monkeypatch.undo()
    again = corrections.read(root, history.read(root).dates, cache=cache)[FILE]
    assert [c.day.isoformat() for c in again.items] == ["2023-05-03", "2023-05-02"]
