"""Interrupted and failing builds never leave a half-written site.

tests/test_site.py kills a build at one chosen point (after writing, before the swap) and
tests/test_write.py makes one write fail. Here:

- a build of ~340 pages is killed with SIGKILL at random moments, again and again (the
  main process alone, its forked workers orphaned, or the whole process group). After
  every kill the output is byte for byte one of the two complete builds (the previous or
  the new one), never a mix; after the next normal build no staging or set-aside folder
  is left and no orphaned worker writes into one;
- the moment between the two renames of the fallback swap (systems without renameat2):
  a kill there leaves the old site set aside, and the next run puts it back first;
- a full disk (ENOSPC) at the first, a middle or the last file, while copying an original,
  or while writing the marker: exit 1, a message, no traceback, old site byte-identical,
  no staging folder.
"""
from __future__ import annotations

import errno
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gongkai import write
from gongkai.pipeline import build_command
from test_site import REPO, tree_hash

KILL_ROUNDS = 20
KILL_BUDGET = 75.0        # seconds for the kill loop itself; the rounds stop early on a slow machine


def leftovers(output: Path) -> list[str]:
    return sorted(p.name for p in output.parent.iterdir() if p.name.startswith(output.name + "."))


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    """~340 pages of synthetic content (bench/generate.py): a build takes a second or two."""
    sys.path.insert(0, str(REPO))
    from bench.generate import make_site, write_gongkai
    root = tmp_path_factory.mktemp("kill") / "project"
    write_gongkai(make_site(300), root)
    return root


def start_build(root: Path, output: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(REPO / "build.py"), "build", "--no-search",
                             "--output", str(output)], cwd=root, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)


def set_version(root: Path, version: str) -> None:
    """Two versions of the content: "b" changes one agency year's unit (shown on its pages)."""
    path = sorted((root / "content").rglob("*.yaml"))[0]
    original = path.with_name(path.name + ".a")
    if not original.exists():
        original.write_bytes(path.read_bytes())     # outside content/{year}/*.yaml: not content
    text = original.read_text(encoding="utf-8")
    if version == "b":
        old = next(line for line in text.splitlines() if line.startswith("unit: "))
        text = text.replace(old + "\n", ("unit: 元" if old != "unit: 元" else "unit: 万元") + "\n", 1)
    path.write_text(text, encoding="utf-8")


def group_alive(pgid: int) -> bool:
    """Whether any process of the build's process group (its forked workers) still runs."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_group_gone(pgid: int, seconds: float = 5.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not group_alive(pgid):
            return True
        time.sleep(0.05)
    return False


def test_random_sigkills_leave_one_complete_site(synthetic, tmp_path):
    root = tmp_path / "project"
    shutil.copytree(synthetic, root)
    output = root / "_site"
    references = {}
    durations = []
    for version in ("b", "a"):                       # reference builds, ending on version a
        set_version(root, version)
        start = time.monotonic()
        proc = start_build(root, output)
        assert proc.wait(timeout=300) == 0, proc.stderr.read().decode()
        durations.append(time.monotonic() - start)
        references[version] = tree_hash(output)
    assert references["a"] != references["b"]
    build_time = max(durations)
    current, rng, rounds = "a", random.Random(20240601), 0
    deadline = time.monotonic() + KILL_BUDGET
    outcomes = {"old": 0, "new": 0}
    orphans = []
    while rounds < KILL_ROUNDS and time.monotonic() < deadline:
        rounds += 1
        target = "b" if current == "a" else "a"
        set_version(root, target)
        proc = start_build(root, output)
        time.sleep(rng.uniform(0, build_time * 1.1))
        how = rng.choice(["main", "group"])
        try:
            if how == "group":
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()
        except ProcessLookupError:
            pass
        proc.wait(timeout=60)
        proc.stderr.close()
        if not wait_group_gone(proc.pid):          # workers must die with the build
            orphans.append(rounds)
            os.killpg(proc.pid, signal.SIGKILL)
        tree = tree_hash(output)
        assert tree in (references["a"], references["b"]), f"round {rounds}: a mixed or broken site"
        was = "a" if tree == references["a"] else "b"
        outcomes["new" if was == target else "old"] += 1
        current = was
    assert rounds >= 5, f"only {rounds} rounds in {KILL_BUDGET} s"
    assert not orphans, f"forked workers outlived the killed build in rounds {orphans}"
    # The next normal build completes and leaves nothing behind.
    set_version(root, "a")
    proc = start_build(root, output)
    assert proc.wait(timeout=300) == 0, proc.stderr.read().decode()
    proc.stderr.close()
    assert tree_hash(output) == references["a"]
    assert leftovers(output) == [], f"left after {rounds} kills ({outcomes})"


SET_ASIDE_THEN_KILLED = """
import os, signal, sys
import gongkai.write as write
write._exchange = lambda a, b: False          # the fallback swap: two renames
real = os.rename
def rename(a, b):
    real(a, b)
    if f".old-{os.getpid()}-" in os.path.basename(str(b)):
        os.kill(os.getpid(), signal.SIGKILL)  # killed between the two renames
os.rename = rename
from gongkai.pipeline import build_command
sys.exit(build_command(sys.argv[1], output=sys.argv[2], search=False, force=True))
"""


def test_a_kill_between_the_fallback_renames_loses_nothing(synthetic, tmp_path):
    """Without renameat2 the swap is two renames; a kill between them must not lose the site."""
    root = tmp_path / "project"
    shutil.copytree(synthetic, root)
    output = root / "_site"
    assert build_command(root / "site_config.yaml", output=output, search=False) == 0
    before = tree_hash(output)
    run = subprocess.run([sys.executable, "-c", SET_ASIDE_THEN_KILLED, str(root / "site_config.yaml"),
                          str(output)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == -signal.SIGKILL, run.stderr
    assert not output.exists() and any(".old-" in name for name in leftovers(output))   # set aside
    write.clean_stale(output)                                        # what every run does first
    assert tree_hash(output) == before, "the set-aside site was not put back"
    assert leftovers(output) == []


# --------------------------------------------------------------------------- full disk


class FullDisk:
    """`open` for gongkai.write: files accept `budget` bytes in all, then ENOSPC."""

    def __init__(self, budget: int):
        self.left = budget

    def __call__(self, path, mode="r", *args, **kwargs):
        handle = open(path, mode, *args, **kwargs)
        if "w" not in mode and "x" not in mode and "a" not in mode:
            return handle
        disk = self

        class Handle:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                handle.close()

            def write(self, data):
                if len(data) > disk.left:
                    handle.write(data[:disk.left])
                    disk.left = 0
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
                disk.left -= len(data)
                return handle.write(data)

            def close(self):
                handle.close()

        return Handle()


@pytest.fixture
def small_project(tmp_path):
    """The real content, built once: (config path, output folder)."""
    from test_site import copy_inputs
    config = copy_inputs(tmp_path / "project")
    output = tmp_path / "project" / "_site"
    assert build_command(config, output=output, search=False) == 0
    return config, output


def _site_bytes(output: Path) -> int:
    return sum(p.stat().st_size for p in output.rglob("*") if p.is_file())


@pytest.mark.parametrize("where", ["first file", "middle", "last file", "original", "marker"])
def test_a_full_disk_fails_cleanly(small_project, monkeypatch, capsys, where):
    config, output = small_project
    before = tree_hash(output)
    monkeypatch.setenv("GONGKAI_WORKERS", "1")          # every write in this process
    total = written = _site_bytes(output)
    if where == "original":
        def copyfile(src, dst, *a, **k):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
        monkeypatch.setattr(write.shutil, "copyfile", copyfile)
    elif where == "marker":
        real = Path.write_bytes

        def write_bytes(self, data):
            if self.name == write.MARKER:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
            return real(self, data)
        monkeypatch.setattr(Path, "write_bytes", write_bytes)
    else:
        if where == "last file":                        # measure what a build writes through open()
            meter = FullDisk(10 ** 12)
            monkeypatch.setattr(write, "open", meter, raising=False)
            assert build_command(config, output=output, search=False, force=True) == 0
            assert tree_hash(output) == before
            written = 10 ** 12 - meter.left
        budget = {"first file": 0, "middle": total // 2, "last file": written - 1}[where]
        monkeypatch.setattr(write, "open", FullDisk(budget), raising=False)
    capsys.readouterr()
    assert build_command(config, output=output, search=False, force=True) == 1
    err = capsys.readouterr().err
    assert "无法写入网站：No space left on device" in err, err
    assert "Traceback" not in err
    assert tree_hash(output) == before
    assert leftovers(output) == []
