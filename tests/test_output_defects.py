"""Part B of issue 14: nothing the tool did not create is deleted or overwritten, and
content is found wherever an editor puts it. Each test names the defect it covers
(../shared/docs/defects.md); each failed on the code before its fix unless it says it
is a check of code that already held.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gongkai import write
from gongkai.content import find_files
from gongkai.pipeline import build_command
from gongkai.render.pages import PACKAGE_ROOT
from gongkai.search import records
from gongkai.write import MARKER, WriteError
from test_hostile_yaml import CONFIG, FILE, GOOD
from test_site import REPO, tree_hash

FOREIGN = "不是本工具生成的文件"


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    """A one-agency-year project, built: (config path, output folder)."""
    root = tmp_path / "p"
    (root / "content" / "2020").mkdir(parents=True)
    (root / "site_config.yaml").write_text(CONFIG, encoding="utf-8")
    (root / FILE).write_text(GOOD, encoding="utf-8")
    assert build_command(root / "site_config.yaml", output=root / "_site", search=False) == 0
    return root / "site_config.yaml", root / "_site"


def change_content(config: Path, unit: str = "万元") -> None:
    """Edit the content so that the next build is not "up to date"."""
    (config.parent / FILE).write_text(GOOD.replace("unit: 元", f"unit: {unit}"), encoding="utf-8")


def dead_pid() -> int:
    return int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True).stdout)


# --------------------------------------------------------------------------- D2


def test_backups_named_like_leftovers_survive_builds_and_up_to_date_runs(project, capsys):
    """D2: folders a person named `_site.old-20240101` / `_site.staging-2023` (or with the
    id of a dead process), with or without a copied marker, are never deleted, neither by
    a build nor by an "up to date" run."""
    config, output = project
    parent = output.parent
    backup = parent / "_site.old-20240101"
    shutil.copytree(output, backup)                              # a plain copy, marker and all
    noted = parent / "_site.old-20240102"
    shutil.copytree(output, noted)
    (noted / "NOTES.txt").write_text("notes")
    keep = parent / "_site.staging-2023"
    keep.mkdir()
    (keep / "keep.txt").write_text("important")
    by_pid = parent / f"_site.staging-{dead_pid()}"               # the old naming, a dead id
    shutil.copytree(output, by_pid)
    folders = [backup, noted, keep, by_pid]
    before = {f: tree_hash(f) for f in folders}
    change_content(config)
    assert build_command(config, output=output, search=False) == 0
    capsys.readouterr()
    assert build_command(config, output=output, search=False) == 0    # up to date: cleans leftovers
    assert "已是最新" in capsys.readouterr().err
    assert {f: tree_hash(f) for f in folders} == before


def test_a_backup_is_not_put_in_place_of_a_missing_output(project):
    """D2: with `_site` missing, a copy named `_site.old-<dead id>` used to be renamed into
    `_site` and then replaced by the build."""
    config, output = project
    backup = output.with_name(f"_site.old-{dead_pid()}")
    output.rename(backup)
    (backup / "NOTES.txt").write_text("notes")
    before = tree_hash(backup)
    change_content(config)
    assert build_command(config, output=output, search=False) == 0
    assert tree_hash(backup) == before
    assert not (output / "NOTES.txt").exists()


# --------------------------------------------------------------------------- D29


def test_a_docroot_holding_a_copied_marker_is_not_replaced(project, tmp_path, capsys):
    """D29: `cp -r _site/. /var/www/html/` copies the marker; a build into that docroot
    must refuse, naming the folder and the files that are not ours, and touch nothing."""
    config, output = project
    docroot = tmp_path / "www" / "html"
    (docroot / "portal").mkdir(parents=True)
    (docroot / "portal" / "index.html").write_text("portal")
    (docroot / "other.html").write_text("other")
    shutil.copytree(output, docroot, dirs_exist_ok=True)
    before = tree_hash(docroot)
    change_content(config)
    capsys.readouterr()
    assert build_command(config, output=docroot, search=False) == 1
    err = capsys.readouterr().err
    line = next(line for line in err.splitlines() if line.startswith("error: "))
    assert str(docroot) in line and FOREIGN in line and "other.html" in line and "portal/index.html" in line, err
    assert "Traceback" not in err
    assert tree_hash(docroot) == before
    assert not [p for p in docroot.parent.iterdir() if p.name != "html"]   # no staging folder left


def test_a_file_added_to_the_output_is_not_deleted_by_the_next_build(project, capsys):
    """D29 / item 6: the marker lists what the build wrote; a file someone added is not
    ours to delete. Edited or removed pages of ours do not stop the rebuild."""
    config, output = project
    (output / "index.html").write_text("edited")          # ours: rebuilt
    (output / "404.html").unlink()                         # ours: rebuilt
    assert build_command(config, output=output, search=False) == 0
    assert (output / "404.html").is_file() and (output / "index.html").read_text() != "edited"
    (output / "mine.html").write_text("mine")
    change_content(config)
    capsys.readouterr()
    assert build_command(config, output=output, search=False) == 1
    assert f"{FOREIGN}（mine.html）" in capsys.readouterr().err
    assert (output / "mine.html").read_text() == "mine"


def test_an_older_marker_without_a_list_is_trusted_only_while_intact(project):
    """D29: a marker written before the file list (only `files: count digest`) vouches
    for its folder only while the folder is exactly as recorded."""
    config, output = project
    marker = output / MARKER
    marker.write_text("".join(line for line in marker.read_text(encoding="utf-8").splitlines(True)
                              if not line.startswith("file: ")), encoding="utf-8")
    assert write.foreign_entries(output) == []
    (output / "mine.html").write_text("mine")
    assert write.foreign_entries(output) is None
    change_content(config)
    assert build_command(config, output=output, search=False) == 1
    assert (output / "mine.html").read_text() == "mine"


def test_a_file_added_while_building_stops_the_swap(tmp_path):
    """D29: the output is checked again just before the swap (a build can take minutes)."""
    root = tmp_path / "p"
    (root / "content").mkdir(parents=True)
    output = root / "_site"
    with write.staging(output, root / "content", root) as folder:
        (folder / "index.html").write_text("1")
        write.seal(folder, "0" * 64, {"index.html": 1})
    with pytest.raises(WriteError, match=FOREIGN):
        with write.staging(output, root / "content", root) as folder:
            (folder / "index.html").write_text("2")
            write.seal(folder, "0" * 64, {"index.html": 1})
            (output / "late.html").write_text("late")
    assert (output / "late.html").read_text() == "late" and (output / "index.html").read_text() == "1"
    assert sorted(p.name for p in root.iterdir()) == ["_site", "content"]


def test_marker_lists_odd_names_exactly():
    """The marker's list survives names with `%`, spaces and line ends."""
    names = {"a%0Ab.html": 1, "x y/%25.txt": 2, "line\nend.txt": 3, "报告 #1?.txt": 4}
    folder = Path(__import__("tempfile").mkdtemp())
    try:
        write.seal(folder, "0" * 64, names)
        assert write.recorded_files(write._marker_text(folder)) == names
    finally:
        shutil.rmtree(folder)


# --------------------------------------------------------------------------- D28


@pytest.mark.parametrize("where", ["templates", "templates/out", "theme/assets/out", "builtin-templates",
                                   "builtin-theme", "program"])
def test_output_inside_templates_theme_or_the_program_is_refused(project, capsys, where):
    """D28: `--output theme/assets/out` copied the staging folder into itself,
    `--output templates/out` wrote the site into templates/ (the project's, or the
    built-in ones beside the package while the project has none)."""
    config, _ = project
    root = config.parent
    target = {"builtin-templates": PACKAGE_ROOT / "templates" / "b-out",
              "builtin-theme": PACKAGE_ROOT / "theme" / "b-out",
              "program": PACKAGE_ROOT / "gongkai" / "b-out"}.get(where, root / where)
    change_content(config)
    capsys.readouterr()
    assert build_command(config, output=target, search=False) == 1
    err = capsys.readouterr().err
    assert any(line.startswith(f"error: {target} 位于 ") for line in err.splitlines()), err
    assert not target.exists()
    assert not (root / "templates").exists() and not (root / "theme").exists()


# --------------------------------------------------------------------------- D11, D12, item 5

MISPLACED = ["content/x5.yaml", "content/2021x/x5.yaml", "content/2020/drafts/x5.yaml",
             "content/y2021/x5.yaml", "content/archive/2019/x5.yaml"]


@pytest.mark.parametrize("rel", MISPLACED)
def test_a_file_saved_outside_a_year_folder_is_reported(project, capsys, rel):
    """D11: such a file was never read: build and check exited 0 and the agency year was
    silently missing from the site."""
    config, output = project
    root = config.parent
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(GOOD.replace('"100001"', '"100005"'), encoding="utf-8")
    before = tree_hash(output)
    capsys.readouterr()
    assert build_command(config, output=output, search=False) == 1
    err = capsys.readouterr().err
    assert f"{rel}:1:1: error: 文件位于 {rel}，但按其年度和部门应位于 content/2020/100005.yaml" in err
    assert tree_hash(output) == before


def test_originals_are_not_content_files_and_nothing_is_opened(tmp_path):
    """D11 / D12 / item 5: a `.yaml` original inside an agency year's folder is not a
    content file (that folder is not searched); `drafts/` without `drafts.yaml` is; a
    FIFO named `*.yaml` is listed by name (the loader refuses it), never opened."""
    content = tmp_path / "content"
    (content / "2020" / "203002" / "sub").mkdir(parents=True)
    (content / "2020" / "203002.yaml").write_text("x")
    (content / "2020" / "203002" / "附件.yaml").write_text("x")
    (content / "2020" / "203002" / "sub" / "b.yaml").write_text("x")
    (content / "2020" / "drafts").mkdir()
    (content / "2020" / "drafts" / "x5.yaml").write_text("x")
    (content / "2020" / "notes.txt").write_text("x")
    os.mkfifo(content / "2020" / "pipe.yaml")
    os.mkfifo(content / "2020" / "pipe.txt")
    expected = sorted(content / rel for rel in ("2020/203002.yaml", "2020/drafts/x5.yaml", "2020/pipe.yaml"))
    signal.alarm(10)                     # a FIFO opened for reading would block forever
    try:
        assert find_files([content]) == expected
        assert find_files([content / "2020"]) == expected
    finally:
        signal.alarm(0)


# --------------------------------------------------------------------------- D13


@pytest.mark.parametrize("command", ["build", "check"])
def test_a_content_file_name_that_is_not_utf8_gives_a_message(project, command):
    """D13: `a\\xff.yaml` (a zip from a GBK system) crashed build and check with
    UnicodeEncodeError in the parse cache's key. Run as an editor runs it (a new process:
    its stderr writes such a name back as the bytes it was)."""
    config, output = project
    shutil.copy(config.parent / FILE, config.parent / "content" / "2020" / os.fsdecode(b"a\xff.yaml"))
    before = tree_hash(output)
    run = subprocess.run([sys.executable, str(REPO / "build.py"), command, *(["--no-search"] if command == "build" else [])],
                         cwd=config.parent, capture_output=True, timeout=120)
    err = (run.stdout + run.stderr).decode("utf-8", "backslashreplace")
    assert run.returncode == 1, err
    assert "Traceback" not in err and "UnicodeEncodeError" not in err, err
    assert ":1:1: error: 文件位于 content/2020/a" in err, err
    assert tree_hash(output) == before


# --------------------------------------------------------------------------- D23

WORKER_MODULE = """
import os, time
from pathlib import Path
def index(out, n=0):
    (Path(out) / f"pid-{os.getpid()}").write_text(str(os.getpid()))
    time.sleep(60)
"""
INDEXER_KILLED = """
import functools, sys
sys.path.insert(0, sys.argv[1])
from gongkai import parallel
from worker_module import index
with parallel.beside(index, sys.argv[1]) as done:
    if sys.argv[2] == "2":
        list(parallel.run(functools.partial(index, sys.argv[1]), [1, 2], 2))
    done()
"""


@pytest.mark.parametrize("jobs", [1, 3])
def test_the_index_worker_dies_with_a_killed_build(tmp_path, jobs, monkeypatch):
    """D23: a build killed with SIGKILL during indexing left its indexer running (PPID 1),
    still writing into the staging folder. The index is made in a worker process beside
    the build's forked workers (parallel.beside): all of them die with the build."""
    monkeypatch.setenv("GONGKAI_WORKERS", "2")
    (tmp_path / "worker_module.py").write_text(WORKER_MODULE)
    proc = subprocess.Popen([sys.executable, "-c", INDEXER_KILLED, str(tmp_path), str(jobs - 1)],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while len(list(tmp_path.glob("pid-*"))) < jobs and time.monotonic() < deadline:
        time.sleep(0.05)
    pids = [int(p.read_text()) for p in tmp_path.glob("pid-*")]
    assert len(pids) == jobs
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 10
    alive = pids
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [pid for pid in pids if _running(pid)]
    for pid in alive:
        os.kill(pid, signal.SIGKILL)
    assert not alive, "a worker outlived the killed build"


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_stale_scratch_is_removed_in_both_places_and_only_ours(tmp_path, monkeypatch):
    """D23 / item 6: a run that does not index must still find a killed build's scratch
    (in /dev/shm or the temporary folder), and a folder merely named like one, holding
    someone's file, is left alone."""
    shm, tmp = tmp_path / "shm", tmp_path / "tmp"
    monkeypatch.setattr(records, "SHM", str(shm))
    monkeypatch.setattr(records.tempfile, "tempdir", str(tmp))
    dead = dead_pid()
    ours = [shm / f"{records.SCRATCH_PREFIX}{dead}-abc", tmp / f"{records.SCRATCH_PREFIX}{dead}-def"]
    for folder in ours:
        (folder / "pages").mkdir(parents=True)
        (folder / "pages" / "2020%2F1%2Findex.html").write_bytes(b"x")
    empty = shm / f"{records.SCRATCH_PREFIX}{dead}-ghi"
    empty.mkdir()
    someones = tmp / f"{records.SCRATCH_PREFIX}{dead}-notes"
    someones.mkdir()
    (someones / "notes.txt").write_text("mine")
    link = shm / f"{records.SCRATCH_PREFIX}{dead}-link"
    link.symlink_to(someones)
    records.remove_stale_scratch(both=True)
    assert not any(f.exists() for f in ours + [empty])
    assert (someones / "notes.txt").read_text() == "mine" and link.is_symlink()


def test_an_up_to_date_run_removes_a_killed_builds_scratch(project, tmp_path, monkeypatch):
    """D23: the scratch of a killed build was left until a later build indexed."""
    config, output = project
    tmp = tmp_path / "tmp"
    monkeypatch.setattr(records, "SHM", str(tmp_path / "no-shm"))
    monkeypatch.setattr(records.tempfile, "tempdir", str(tmp))
    stale = tmp / f"{records.SCRATCH_PREFIX}{dead_pid()}-abc" / "pages"
    stale.mkdir(parents=True)
    assert build_command(config, output=output, search=False) == 0    # up to date
    assert not stale.parent.exists()


# --------------------------------------------------------------------------- D22

STREAMED = """
import resource, sys
from pathlib import Path
from gongkai.pipeline import build_command
code = build_command(Path(sys.argv[1]), output=Path(sys.argv[2]), search=False)
# VmHWM, not ru_maxrss for this process: Linux keeps ru_maxrss across exec, so a child of a
# large pytest process would report the parent's peak.
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(code, peak_kb, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""
ORIGINAL_MB = 256


def test_a_large_original_is_streamed_not_read_whole(project):
    """D22 (a check: write.write_files copies with shutil.copyfile, the fingerprint and
    render.views.original_view hash with hashlib.file_digest): a build publishing a
    256 MB original stays far below 256 MB of memory in every process."""
    config, output = project
    root = config.parent
    (root / "content" / "2020" / "100001").mkdir()
    big = root / "content" / "2020" / "100001" / "scan.pdf"
    with open(big, "wb") as f:
        chunk = os.urandom(1 << 20)
        for _ in range(ORIGINAL_MB):
            f.write(chunk)
    text = GOOD.replace("unit: 元\n", "unit: 元\noriginals:\n  - file: scan.pdf\n    title: 原件\n", 1)
    (root / FILE).write_text(text, encoding="utf-8")
    run = subprocess.run([sys.executable, "-c", STREAMED, str(config), str(output)], cwd=REPO,
                         capture_output=True, text=True, timeout=300,
                         env={**os.environ, "GONGKAI_WORKERS": "2"})
    code, rss_self, rss_children = (int(x) for x in run.stdout.split())
    assert code == 0, run.stderr
    assert (output / "2020" / "100001" / "originals" / "scan.pdf").stat().st_size == ORIGINAL_MB << 20
    limit_kb = 160 * 1024
    assert rss_self < limit_kb and rss_children < limit_kb, (rss_self, rss_children)


def test_a_worker_beside_that_fails_or_cannot_start_stops_the_build(monkeypatch):
    """What the index worker raises is raised in the build; a worker that cannot start
    (its function does not reach a fresh interpreter) fails at once instead of hanging."""
    from gongkai import parallel
    monkeypatch.setenv("GONGKAI_WORKERS", "2")
    with parallel.beside(int, "x") as result:        # int("x") raises in the worker
        with pytest.raises(ValueError):
            result()
    with parallel.beside(len, [1, 2]) as result:
        assert result() == 2
    with pytest.raises(Exception):
        with parallel.beside(lambda x: x, 1) as result:
            result()
