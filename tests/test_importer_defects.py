"""Regression tests for the defects of `build.py import` and `build.py new` (issue 14).

Each test names the defect of ../shared/docs/defects.md it covers and fails on the code
before the fix. The rule they prove: an import or a new file is checked before anything is
written, a failure writes nothing (no folder, no copied original, no half file), nothing
that exists is replaced unless it is the same agency year and `--force` is given, and every
refusal is a message in Chinese, never a traceback.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import build
from gongkai import importer

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "content" / "2020" / "287002" / "000_531445c7814c7dcd.txt"   # Word, 287002, year not printed
OTHER = ROOT / "content" / "2020" / "610002" / "001_00e1585d0ef32045.txt"  # Word, 610002
PRINTED = ROOT / "content" / "2020" / "203002" / "003_afdd2bb79f6936ce.txt"  # prints 2020 in its title
REGION = "秦皇岛市山海关区"


def run(*args, cwd=ROOT, timeout=120):
    """`build.py` in a new process, as an editor runs it."""
    return subprocess.run([sys.executable, str(ROOT / "build.py"), *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def imported(source, output, *more):
    return run("import", source, "--year", "2020", "--region", REGION, "-o", output, *more)


def tree(folder: Path) -> dict:
    """Every path below `folder` with its bytes (None for folders)."""
    return {p.relative_to(folder).as_posix(): (p.read_bytes() if p.is_file() else None)
            for p in sorted(folder.rglob("*"))}


def refused(result, *words):
    """Exit 1 with each of `words` in the messages, and no traceback."""
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


# --- D9: an output that cannot be written gives a message and leaves nothing --------------

def test_output_that_is_a_folder_is_refused_before_anything_is_written(tmp_path):
    """D9: `-o <a folder>` gave a traceback after making <parent>/287002/ and copying the
    source into it."""
    (tmp_path / "out").mkdir()
    result = imported(SEED, tmp_path / "out")
    refused(result, f"{tmp_path / 'out'}: error: ", "文件夹")
    assert tree(tmp_path) == {"out": None}


def test_output_that_is_a_device_is_refused_before_anything_is_written():
    """D9: `-o /dev/full` gave a traceback after making /dev/287002/ and copying the source
    into it (as root)."""
    made = Path("/dev/287002")
    if made.exists():
        pytest.skip("/dev/287002 exists already")
    try:
        result = imported(SEED, "/dev/full")
        refused(result, "/dev/full: error: ", "特殊文件")
        assert not made.exists()
    finally:
        if made.is_dir():   # the old code's leftover
            shutil.rmtree(made)


def test_output_below_a_file_is_refused(tmp_path):
    """D9: a path that cannot exist (its folder is a file) is a message, not a traceback."""
    (tmp_path / "a.txt").write_text("x", encoding="utf-8")
    result = imported(SEED, tmp_path / "a.txt" / "2020" / "287002.yaml")
    refused(result, "error: 无法访问：路径中有一项不是文件夹；未写入任何文件")
    assert tree(tmp_path) == {"a.txt": b"x"}


@pytest.fixture
def small_disk(tmp_path):
    """A real 64 KB tmpfs (needs root and mount); skipped where it cannot be mounted."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_full_disk_leaves_nothing_half_written(small_disk):
    """D9: on a full disk (a real one: room for the copied original, not for the YAML) the
    import failed with a traceback, leaving 2020/287002/ and the copied source behind."""
    free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
    (small_disk / "filler").write_bytes(b"\0" * (free - 16384))   # 16 KB left: the 12 KB copy fits
    result = imported(SEED, small_disk / "2020" / "287002.yaml")
    refused(result, "error: 无法写入：磁盘已满；未写入任何文件")
    assert sorted(tree(small_disk)) == ["filler"]


def test_read_only_file_system_gives_a_message(small_disk):
    """D9: an unwritable output (a read-only file system, which binds root too) was a traceback."""
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    result = imported(SEED, small_disk / "2020" / "287002.yaml")
    refused(result, "error: 无法写入：文件系统是只读的；未写入任何文件")


def test_a_failed_rename_is_undone(tmp_path, monkeypatch, capsys):
    """D9: when moving into place fails after the original was moved, the original is moved
    back: an existing file keeps its bytes, nothing new remains (simulated failure)."""
    out = tmp_path / "2020" / "287002.yaml"
    assert build.main(["import", str(SEED), "--year", "2020", "--region", REGION, "-o", str(out)]) == 0
    copied = out.parent / "287002" / SEED.name
    copied.write_bytes(b"an older text")
    before = tree(tmp_path)
    real = os.replace
    calls = []

    def replace(src, dst):
        calls.append(dst)
        if Path(dst) == out and str(src).endswith(".tmp"):   # the new YAML into place
            raise OSError(28, "No space left on device", str(dst))
        return real(src, dst)

    monkeypatch.setattr(importer.os, "replace", replace)
    code = build.main(["import", str(SEED), "--year", "2020", "--region", REGION, "-o", str(out), "--force"])
    assert code == 1 and "磁盘已满" in capsys.readouterr().err
    assert calls and tree(tmp_path) == before


def test_source_that_is_a_fifo_is_refused_without_hanging(tmp_path):
    """D9 (as D4 for the importer): a FIFO given as the source hung the import in read()."""
    fifo = tmp_path / "text.txt"
    os.mkfifo(fifo)
    result = run("import", fifo, "--year", "2020", "--region", REGION, timeout=20)
    refused(result, f"{fifo}: error: 不是普通文件，不能导入")


def test_stdout_that_cannot_be_written_gives_a_message():
    """D9: `build.py import … > /dev/full` ended with Python's "Exception ignored … OSError"
    and exit 120."""
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, str(ROOT / "build.py"), "import", str(SEED), "--year", "2020",
                                 "--region", REGION], stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    assert "Exception" not in result.stderr and "Traceback" not in result.stderr
    assert "（标准输出）: error: 无法写入：磁盘已满" in result.stderr


# --- D19: an existing file is replaced only with --force, and only by its own agency year -

def test_existing_output_is_kept_without_force(tmp_path):
    """D19: importing over an existing file replaced it without a word."""
    out = tmp_path / "2020" / "287002.yaml"
    assert imported(SEED, out).returncode == 0
    edited = out.read_bytes() + "# 编辑手工改过的内容\n".encode()
    out.write_bytes(edited)
    result = imported(SEED, out)
    refused(result, f"{out}: error: 文件已存在，未覆盖", "--force")
    assert out.read_bytes() == edited


def test_force_never_replaces_another_agency_year(tmp_path):
    """D19: importing 610002's text with `-o …/287002.yaml` replaced the 287002 file; with
    --force it is still refused, naming both agency years and the right path."""
    out = tmp_path / "content" / "2020" / "287002.yaml"
    assert imported(SEED, out).returncode == 0
    before = tree(tmp_path)
    for more in ([], ["--force"]):
        result = imported(OTHER, out, *more)
        refused(result, "是 2020 年 287002 的内容，而本次导入的是 2020 年 610002",
                f"改用 -o {tmp_path / 'content' / '2020' / '610002.yaml'}")
        assert tree(tmp_path) == before


def test_force_replaces_the_same_agency_year(tmp_path):
    """D19: with --force the file of the same agency year is replaced (a re-import)."""
    out = tmp_path / "2020" / "287002.yaml"
    assert imported(SEED, out).returncode == 0
    golden = out.read_bytes()
    out.write_bytes(golden.replace("部门".encode(), "单位".encode()))
    result = imported(SEED, out, "--force")
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == golden


def test_force_never_replaces_a_file_it_cannot_read_as_an_agency_year(tmp_path):
    """D19: a file that is not a valid agency year (a half-edited one) cannot be told to be
    the same agency year, so --force does not replace it either."""
    out = tmp_path / "2020" / "287002.yaml"
    out.parent.mkdir()
    out.write_text("year: 2020\nagency: [\n", encoding="utf-8")
    for more in ([], ["--force"]):
        refused(imported(SEED, out, *more), "无法确定它属于哪个部门年度；未覆盖")
    assert out.read_text(encoding="utf-8") == "year: 2020\nagency: [\n"


def test_existing_different_original_is_kept_without_force(tmp_path):
    """D19: an original of the same name with other bytes in the agency's folder was
    overwritten by the copy."""
    out = tmp_path / "2020" / "287002.yaml"
    original = tmp_path / "2020" / "287002" / SEED.name
    original.parent.mkdir(parents=True)
    original.write_bytes(b"the agency's own file")
    refused(imported(SEED, out), f"{original}: error: 原件已存在且内容与本次导入的文本不同")
    assert original.read_bytes() == b"the agency's own file" and not out.exists()


# --- D32: what the importer writes passes the validator, or nothing is written -------------

def test_yaml_over_the_size_limit_is_refused(tmp_path, capsys):
    """D32: a 12 MB text was imported with exit 0 into a YAML over the 10 MB limit."""
    lines = SEED.read_text(encoding="utf-8").split("\n")
    at = next(n for n, line in enumerate(lines) if len(line) > 60 and not line.startswith("\t"))
    paragraph = "这是一个很长的段落，用来测试导入大文件时的时间与内存。" * 3
    big = tmp_path / "big.txt"
    big.write_text("\n".join(lines[:at + 1] + ["", paragraph] * 50_000 + lines[at + 1:]), encoding="utf-8")
    out = tmp_path / "2020" / "287002.yaml"
    code = build.main(["import", str(big), "--year", "2020", "--region", REGION, "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and f"{out}:1:1: error: " in err and "10485760" in err
    assert "导入结果没有通过校验，未写入任何文件" in err
    assert sorted(tree(tmp_path)) == ["big.txt"]


@pytest.mark.parametrize("year", ["99999999999999999999", "0", "1800"])
def test_year_option_out_of_range_is_refused_naming_the_option(tmp_path, capsys, year):
    """D32: `--year 99999999999999999999` was written as given; `--year 0` was even replaced
    by the printed year without a word."""
    out = tmp_path / "2020" / "203002.yaml"
    code = build.main(["import", str(PRINTED), "--year", year, "--region", REGION, "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert f"{out}:1:7: error: year: " in err
    assert f"{out}:1:7: note: year: 此值来自选项 --year {year}，请改正该选项" in err
    assert sorted(tree(tmp_path)) == []


def test_region_option_with_a_control_character_is_refused_on_stdout(capsys):
    """D32: a control character given with --region was written into the YAML."""
    assert build.main(["import", str(SEED), "--year", "2020", "--region", "山海关\x07"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "（标准输出）:" in captured.err and "error: agency.region: " in captured.err
    assert "note: agency.region: 此值来自选项 --region '山海关\\x07'，请改正该选项" in captured.err


# --- build.py new -------------------------------------------------------------------------

@pytest.fixture
def site(tmp_path):
    shutil.copy(ROOT / "site_config.yaml", tmp_path)
    return tmp_path


def test_new_refused_year_leaves_no_folder(site):
    """D32 for `new`: `--year 99999999999999999999` created content/99999999999999999999/
    before the check refused the file, and left the folder behind."""
    result = run("new", "--year", "99999999999999999999", "--agency-code", "999001", "--name", "测试单位", cwd=site)
    refused(result, "note: year: 此值来自选项 --year 99999999999999999999，请改正该选项", "error: 未创建 ")
    assert tree(site) == {"site_config.yaml": (ROOT / "site_config.yaml").read_bytes()}


def test_new_name_with_a_line_break_stays_in_its_value(site):
    """A line break in --name ended the comment that shows the name, so the rest of the
    name became YAML (here a second `year:`) and the file was refused for it."""
    name = "测试单位\nyear: 1999"
    made = run("new", "--year", "2023", "--agency-code", "999001", "--name", name, cwd=site)
    assert made.returncode == 0, made.stderr
    import yaml
    data = yaml.safe_load((site / "content" / "2023" / "999001.yaml").read_text(encoding="utf-8"))
    assert data["year"] == 2023 and data["agency"]["name"] == name


def test_new_name_with_a_control_character_names_the_option(site):
    """A control character in --name made the whole file unreadable (`1:1: YAML error`);
    now the validator's message is at agency.name, and the option is named."""
    result = run("new", "--year", "2023", "--agency-code", "999001", "--name", "测试\x07", cwd=site)
    refused(result, "error: agency.name: ", "note: agency.name: 此值来自选项 --name '测试\\x07'")
    assert not (site / "content").exists()
