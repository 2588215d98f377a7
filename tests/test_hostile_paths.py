"""Paths: an original file's name never reaches outside content/, content reached through a
symbolic link is refused, and output folders that are not ours are refused, all with a
clear message, exit 1, no traceback and nothing written.

tests/fixtures/invalid/unsafe_originals pins the wording for `../x`, `/etc/passwd`,
`..\\x`, a missing file and a symlink; tests/test_write.py covers the write stage's own
refusals. Here the whole list goes through `build.py build`, with the harder cases: NUL and
control characters, Windows drive letters, dot names, a symlinked agency folder, a
symlinked content file or year folder, and names that only look dangerous (accepted, and
their download link works).
"""
from __future__ import annotations

import os
import re
import shutil
import urllib.parse
from pathlib import Path

import pytest

from gongkai.pipeline import build_command
from gongkai.verify import verify_site
from test_hostile_yaml import CONFIG, FILE, GOOD
from test_site import tree_hash

ORIGINALS_AT = "unit: 元\n"
AGENCY_DIR = "content/2020/100001"


def with_original(name_yaml: str) -> str:
    """GOOD with one original whose `file:` is written as `name_yaml` (YAML source text)."""
    return GOOD.replace(ORIGINALS_AT, ORIGINALS_AT + f"originals:\n  - file: {name_yaml}\n    title: 原件\n", 1)


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    """A project with one original, built: (config path, output folder)."""
    root = tmp_path / "p"
    (root / AGENCY_DIR).mkdir(parents=True)
    (root / "site_config.yaml").write_text(CONFIG, encoding="utf-8")
    (root / AGENCY_DIR / "原件.txt").write_text("原件内容\n", encoding="utf-8")
    (root / FILE).write_text(with_original("原件.txt"), encoding="utf-8")
    assert build_command(root / "site_config.yaml", output=root / "_site", search=False) == 0
    return root / "site_config.yaml", root / "_site"


def refused(project, capsys, expected: str, line: int = 8, column: int = 11) -> str:
    """Build; assert exit 1, the message at file:line:column with a hint, old site unchanged."""
    config, output = project
    before = tree_hash(output)
    capsys.readouterr()
    assert build_command(config, output=output, search=False) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    where = f"{FILE}:{line}:{column}: error: " if line else ": error: "
    assert any(where in e and expected in e and "(hint: " in e for e in err.splitlines()), err
    assert tree_hash(output) == before
    assert not [p for p in output.parent.iterdir() if p.name.startswith("_site.")]
    return err


UNSAFE_NAMES = {
    "parent folder": ("../x.txt", "必须是部门文件夹中的普通文件名"),
    "deep parent folder": ("../../../../etc/passwd", "必须是部门文件夹中的普通文件名"),
    "absolute path": ("/etc/passwd", "是绝对路径"),
    "backslash parent": ("'..\\x.txt'", "含有反斜杠"),
    "Windows drive": ("'C:\\Windows\\win.ini'", "含有反斜杠"),
    "drive without backslash": ("'C:x.txt'", "是绝对路径"),
    "sub-folder": ("sub/x.txt", "必须是部门文件夹中的普通文件名"),
    "hidden file": (".htaccess", "不以“.”开头"),
    "dot dot": ("'..'", "为空"),
    "dot": ("'.'", "为空"),
    "NUL (as an escape)": ('"x.txt\\0.jpg"', "U+0000"),
    "newline (as an escape)": ('"x\\n.txt"', "控制字符"),
    "percent-encoded parent": ("'%2e%2e%2fx.txt'", "找不到原件"),
    "full-width dots and slash": ("．．／x.txt", "找不到原件"),
    "missing file": ("没有.txt", "找不到原件"),
}


@pytest.mark.parametrize("case", UNSAFE_NAMES, ids=list(UNSAFE_NAMES))
def test_unsafe_or_missing_original_names_are_refused(project, capsys, case):
    name, expected = UNSAFE_NAMES[case]
    config, _ = project
    (config.parent / FILE).write_text(with_original(name), encoding="utf-8")
    refused(project, capsys, expected)


def test_a_folder_named_as_an_original_is_not_a_file(project, capsys):
    config, _ = project
    (config.parent / AGENCY_DIR / "folder.txt").mkdir()
    (config.parent / FILE).write_text(with_original("folder.txt"), encoding="utf-8")
    refused(project, capsys, "不是普通文件")


def test_a_fifo_is_not_read(project, capsys):
    """A named pipe would block a reader forever: it is not a file, so it is refused."""
    config, _ = project
    os.mkfifo(config.parent / AGENCY_DIR / "pipe.txt")
    (config.parent / FILE).write_text(with_original("pipe.txt"), encoding="utf-8")
    refused(project, capsys, "不是普通文件")


def test_symlinked_original_leading_outside_is_refused(project, capsys, tmp_path):
    config, _ = project
    secret = tmp_path / "secret.txt"
    secret.write_text("secret\n")
    (config.parent / AGENCY_DIR / "link.txt").symlink_to(secret)
    (config.parent / FILE).write_text(with_original("link.txt"), encoding="utf-8")
    err = refused(project, capsys, "指向 content/ 之外")
    assert "secret" not in err


def test_symlink_to_passwd_is_refused(project, capsys):
    config, _ = project
    (config.parent / AGENCY_DIR / "passwd").symlink_to("/etc/passwd")
    (config.parent / FILE).write_text(with_original("passwd"), encoding="utf-8")
    refused(project, capsys, "指向 content/ 之外")


def test_symlinked_agency_folder_leading_outside_is_refused(project, capsys, tmp_path):
    config, _ = project
    outside = tmp_path / "outside"
    shutil.move(config.parent / AGENCY_DIR, outside)
    (config.parent / AGENCY_DIR).symlink_to(outside, target_is_directory=True)
    refused(project, capsys, "指向 content/ 之外")


def test_symlinked_content_file_leading_outside_is_refused(project, capsys, tmp_path):
    config, _ = project
    outside = tmp_path / "elsewhere.yaml"
    shutil.move(config.parent / FILE, outside)
    (config.parent / FILE).symlink_to(outside)
    refused(project, capsys, "文件通过符号链接指向 content/ 之外", line=1, column=1)


def test_symlinked_year_folder_leading_outside_is_refused_not_skipped(project, capsys, tmp_path):
    """rglob does not enter a symlinked folder: its files must still be seen and refused."""
    config, _ = project
    outside = tmp_path / "2021"
    outside.mkdir()
    (outside / "100002.yaml").write_text(GOOD.replace("year: 2020", "year: 2021")
                                         .replace('"100001"', '"100002"'), encoding="utf-8")
    (config.parent / "content" / "2021").symlink_to(outside, target_is_directory=True)
    err = refused(project, capsys, "文件通过符号链接指向 content/ 之外", line=None)
    assert "content/2021/100002.yaml:1:1: error:" in err


def test_a_yml_file_is_reported_not_left_out(project, capsys):
    """`.yml` instead of `.yaml` must not make an agency year silently vanish from the site."""
    config, _ = project
    (config.parent / "content" / "2020" / "100002.yml").write_text(
        GOOD.replace('"100001"', '"100002"'), encoding="utf-8")
    err = refused(project, capsys, "应位于 content/2020/100002.yaml", line=None)
    assert "content/2020/100002.yml:1:1: error: 文件位于 content/2020/100002.yml" in err


def test_symlink_to_a_file_inside_content_is_fine(project):
    config, output = project
    (config.parent / AGENCY_DIR / "copy.txt").symlink_to(config.parent / AGENCY_DIR / "原件.txt")
    (config.parent / FILE).write_text(with_original("copy.txt"), encoding="utf-8")
    assert build_command(config, output=output, search=False) == 0
    copied = output / "2020" / "100001" / "originals" / "copy.txt"
    assert not copied.is_symlink() and copied.read_text(encoding="utf-8") == "原件内容\n"


# (`?`, `"` and `:` are refused now: a Windows server cannot hold them, D20.)
ODD_BUT_SAFE = ["报告 #1？.txt", "%2e%2e%2f.txt", "a&b=c;d.txt", "＜script＞.txt", "x'y.txt",
                "javascript：alert(1).txt", "javascript%3Aalert(1).txt", "\u202egpj.txt", "名" * 80 + ".txt"]


def test_names_that_only_look_dangerous_build_and_link_correctly(project):
    """Such a name is a plain file in the agency folder: published, linked, downloadable."""
    config, output = project
    folder = config.parent / AGENCY_DIR
    entries = []
    for n, name in enumerate(ODD_BUT_SAFE):
        (folder / name).write_bytes(f"{n}\n".encode())
        entries.append(f"  - file: {yaml_quote(name)}\n    title: 原件{n}\n")
    text = GOOD.replace(ORIGINALS_AT, ORIGINALS_AT + "originals:\n" + "".join(entries), 1)
    (config.parent / FILE).write_text(text, encoding="utf-8")
    assert build_command(config, output=output, search=False) == 0
    assert verify_site(output) == []    # every href resolves, nothing reads as a scheme
    page = (output / "2020" / "100001" / "index.html").read_text(encoding="utf-8")
    for n, name in enumerate(ODD_BUT_SAFE):
        assert (output / "2020" / "100001" / "originals" / name).read_bytes() == f"{n}\n".encode()
        assert f'href="originals/{urllib.parse.quote(name)}"' in page


def yaml_quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# --------------------------------------------------------------------------- output folders


@pytest.mark.parametrize("where, expected", [
    ("content", "之内：请选择 content/ 以外的输出文件夹"),
    ("content/2020/_site", "之内：请选择 content/ 以外的输出文件夹"),
    (".", "包含项目本身"),
    ("..", "包含项目本身"),
    ("foreign", "也不是本工具生成的"),
    ("a-file", "不是文件夹"),
    ("a-link", "是符号链接"),
])
def test_output_folders_that_are_not_ours_are_refused(project, capsys, where, expected):
    config, _ = project
    root = config.parent
    (root / "foreign").mkdir()
    (root / "foreign" / "keep.txt").write_text("mine")
    (root / "a-file").write_text("mine")
    (root / "a-link").symlink_to(root / "_site", target_is_directory=True)
    (root / FILE).write_text(GOOD.replace("unit: 元", "unit: 万元"), encoding="utf-8")   # not up to date
    before = tree_hash(root / "content")
    capsys.readouterr()
    assert build_command(config, output=root / where, search=False) == 1
    err = capsys.readouterr().err
    assert re.search(r"^error: .*" + re.escape(expected), err, re.MULTILINE), err
    assert "Traceback" not in err
    assert tree_hash(root / "content") == before
    assert (root / "foreign" / "keep.txt").read_text() == "mine" and (root / "a-file").read_text() == "mine"
    assert not [p for p in root.rglob("*staging*")]
