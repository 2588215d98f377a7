"""Dates that are true (issue: "Never print or emit a date that is not known").

A document with no printed publication date: its pages, the sitemap and the feed carry
only what git knows (the day the content file was first committed, labelled as the site's
publication date; the day it last changed as `lastmod`), and nothing outside a git
checkout. No page carries 1 January of the budget year or any other placeholder.
"""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from gongkai.config import Config
from gongkai.history import content_dates
from gongkai.site import load, render_site
from test_hostile_yaml import GOOD

FILE = "content/2020/100001.yaml"


def project(tmp_path: Path) -> Path:
    root = tmp_path / "p"
    (root / "content" / "2020" / "100001").mkdir(parents=True)
    (root / FILE).write_text(GOOD, encoding="utf-8")
    return root


def git(root: Path, *args: str, day: str = "") -> None:
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid")
    if day:
        env.update(GIT_AUTHOR_DATE=f"{day}T10:00:00+08:00", GIT_COMMITTER_DATE=f"{day}T10:00:00+08:00")
    subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


def site(root: Path) -> dict[str, str]:
    config = Config(title="t", owner="o", regions=("测试区",), root=root)
    years, problems = load(config)
    assert years, [p.format() for p in problems]
    out, problems = render_site(config, years)
    assert out is not None, problems
    return {path: data.decode("utf-8", "replace") for path, data in out.files.items()
            if path.endswith((".html", ".xml"))}


def every_date(files: dict[str, str]) -> set[str]:
    return {d for text in files.values() for d in re.findall(r"\b(?:19|20)\d\d-\d\d-\d\d\b", text)}


def test_outside_git_no_date_is_emitted(tmp_path):
    files = site(project(tmp_path))
    assert every_date({k: v for k, v in files.items() if k != "feed.xml"}) == set()
    assert "PubDate" not in files["2020/100001/index.html"]
    assert "<lastmod>" not in files["sitemap.xml"]
    assert "<entry>" not in files["feed.xml"]          # an entry needs a date: none is known
    assert "原文未注明</dd>" in files["2020/100001/index.html"]


def test_in_git_the_first_commit_is_the_sites_publication_date(tmp_path):
    root = project(tmp_path)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "add", day="2023-03-15")
    (root / FILE).write_text(GOOD.replace("保险费", "保险费用", 1), encoding="utf-8")
    git(root, "commit", "-qam", "correct", day="2023-05-02")
    files = site(root)
    page = files["2020/100001/index.html"]
    assert '<meta name="PubDate" content="2023-03-15">' in page
    assert "原文未注明；本站发布于 <time datetime=\"2023-03-15\">2023-03-15</time>（内容文件首次提交的日期）" in page
    assert '<meta name="PubDate" content="2023-03-15">' in files["2020/100001/287-0601-JBN-CK81/index.html"]
    assert "<updated>2023-03-15T00:00:00+08:00</updated>" in files["feed.xml"].split("<entry>")[1]
    assert "<lastmod>2023-05-02</lastmod>" in files["sitemap.xml"]
    assert every_date(files) <= {"2023-03-15", "2023-05-02"}
    assert "2020-01-01" not in "".join(files.values())


def test_a_printed_date_wins_and_a_shallow_clone_knows_none(tmp_path):
    root = project(tmp_path)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "add", day="2023-03-15")
    assert content_dates(root)[FILE].first.isoformat() == "2023-03-15"
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{root}", str(clone)], check=True)
    assert content_dates(clone) == {}                   # its one commit is not when files were added
    assert "  toc_printed: false\n" in GOOD
    (root / FILE).write_text(GOOD.replace("  toc_printed: false\n", "  toc_printed: false\n  published: 2021-02-03\n", 1),
                             encoding="utf-8")
    files = site(root)
    assert '<meta name="PubDate" content="2021-02-03">' in files["2020/100001/index.html"]
    assert "2023-03-15" not in files["2020/100001/index.html"]
