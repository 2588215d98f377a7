"""The write stage: staging folder, swap, refusal of foreign folders, no half-written site."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gongkai import write
from gongkai.render import Output
from gongkai.write import MARKER, WriteError, staging, write_files


def write_site(out: Output, output: Path, content: Path, root: Path, before_swap=None) -> None:
    """What the build does with the files it rendered: staging folder, swap."""
    with staging(output, content, root) as folder:
        write_files(folder, out)
        if before_swap is not None:
            before_swap(folder)


def site(n: int = 1) -> Output:
    s = Output()
    s.add("index.html", f"<p>home {n}</p>".encode(), "t")
    s.add("a/b/index.html", f"<p>page {n}</p>".encode(), "t")
    return s


def tree(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir")
            + oct(p.stat().st_mode & 0o777) for p in sorted(folder.rglob("*"))}


@pytest.fixture
def paths(tmp_path: Path):
    """(output, content dir, project root) in a fresh project folder."""
    root = tmp_path / "project"
    (root / "content").mkdir(parents=True)
    return root / "_site", root / "content", root


def leftovers(output: Path) -> list[str]:
    return sorted(p.name for p in output.parent.iterdir() if p.name.startswith(output.name + "."))


def test_writes_files_marker_and_fixed_modes(paths):
    output, content, root = paths
    original = content / "orig.bin"
    original.write_bytes(bytes(range(256)))
    os.chmod(original, 0o600)
    s = site()
    s.copy(original, "x/originals/orig.bin", "t")
    old_umask = os.umask(0o077)
    try:
        write_site(s, output, content, root)
    finally:
        os.umask(old_umask)
    assert (output / "a" / "b" / "index.html").read_bytes() == b"<p>page 1</p>"
    assert (output / "x" / "originals" / "orig.bin").read_bytes() == bytes(range(256))
    assert (output / MARKER).is_file()
    modes = {oct(p.stat().st_mode & 0o777) for p in output.rglob("*") if p.is_file()}
    dirs = {oct(p.stat().st_mode & 0o777) for p in output.rglob("*") if p.is_dir()}
    assert modes == {"0o644"} and dirs == {"0o755"}
    assert leftovers(output) == []


def test_rebuild_replaces_the_whole_folder(paths):
    output, content, root = paths
    write_site(site(1), output, content, root)
    (output / "stale.html").write_text("old page")
    write_site(site(2), output, content, root)
    assert (output / "index.html").read_bytes() == b"<p>home 2</p>"
    assert not (output / "stale.html").exists()      # nothing survives from the previous build
    assert leftovers(output) == []


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_swap_with_and_without_atomic_exchange(paths, monkeypatch, exchange):
    output, content, root = paths
    write_site(site(1), output, content, root)
    if not exchange:
        monkeypatch.setattr(write, "_exchange", lambda a, b: False)
    write_site(site(2), output, content, root)
    assert (output / "index.html").read_bytes() == b"<p>home 2</p>"
    assert leftovers(output) == []


@pytest.mark.parametrize("failure", [OSError("disk full"), KeyboardInterrupt(), SystemExit(143)])
def test_failure_while_writing_leaves_old_site(paths, monkeypatch, failure):
    """A failed or interrupted write leaves the previous output byte-identical, no staging folder."""
    output, content, root = paths
    write_site(site(1), output, content, root)
    before = tree(output)
    original = content / "orig.bin"
    original.write_bytes(b"x")
    s = site(2)
    s.copy(original, "orig.bin", "t")

    def boom(*args, **kwargs):
        raise failure

    monkeypatch.setattr(write.shutil, "copyfile", boom)
    with pytest.raises(type(failure)):
        write_site(s, output, content, root)
    assert tree(output) == before
    assert leftovers(output) == []


def test_failure_in_index_step_leaves_old_site(paths):
    output, content, root = paths
    write_site(site(1), output, content, root)
    before = tree(output)

    def index(staging: Path) -> None:
        assert (staging / "index.html").read_bytes() == b"<p>home 2</p>"   # runs on the new pages
        raise RuntimeError("index failed")

    with pytest.raises(RuntimeError):
        write_site(site(2), output, content, root, before_swap=index)
    assert tree(output) == before and leftovers(output) == []


def test_refuses_output_inside_content_or_containing_the_project(paths):
    output, content, root = paths
    for bad in (content, content / "2022" / "_site", root, root.parent):
        with pytest.raises(WriteError):
            write_site(site(), bad, content, root)
    assert list(content.iterdir()) == []


def test_refuses_foreign_non_empty_folder_file_and_symlink(paths, tmp_path):
    output, content, root = paths
    output.mkdir()
    (output / "index.html").write_text("someone else's")
    with pytest.raises(WriteError, match="也不是本工具生成的"):
        write_site(site(), output, content, root)
    assert (output / "index.html").read_text() == "someone else's"
    (output / "index.html").unlink()
    write_site(site(), output, content, root)      # an empty folder is fine
    other = tmp_path / "file"
    other.write_text("x")
    with pytest.raises(WriteError, match="不是文件夹"):
        write_site(site(), other, content, root)
    link = tmp_path / "link"
    link.symlink_to(output)
    with pytest.raises(WriteError, match="是符号链接"):
        write_site(site(), link, content, root)


def dead_pid() -> str:
    return subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()


def killed_staging(parent: Path, name: str, sealed: bool = False) -> Path:
    """A staging or set-aside folder as a killed build leaves it: our marker, some pages."""
    folder = parent / name
    (folder / "a").mkdir(parents=True)
    (folder / "a" / "index.html").write_bytes(b"<p>page</p>")
    token = name.split("-", 1)[1]
    if sealed:
        write.seal(folder, "0" * 64, {"a/index.html": 11})
    else:
        (folder / MARKER).write_bytes(write.MARKER_TEXT + f"staging: {token}\n".encode())
    return folder


def test_stale_staging_folders_are_removed_live_ones_kept(paths):
    output, content, root = paths
    dead = dead_pid()
    stale = killed_staging(output.parent, f"_site.staging-{dead}-0123456789abcdef")
    stale_sealed = killed_staging(output.parent, f"_site.staging-{dead}-1123456789abcdef", sealed=True)
    stale_old = killed_staging(output.parent, f"_site.old-{dead}-2123456789abcdef", sealed=True)
    empty = output.parent / f"_site.staging-{dead}-3123456789abcdef"   # killed before its marker
    empty.mkdir()
    # our parent is alive: its build may be running
    live = killed_staging(output.parent, f"_site.staging-{os.getppid()}-4123456789abcdef")
    unrelated = output.parent / "_site.staging-notapid"
    (unrelated / "x").mkdir(parents=True)
    write_site(site(1), output, content, root)   # the output exists: the set-aside one is not put back
    assert not stale.exists() and not stale_sealed.exists() and not stale_old.exists() and not empty.exists()
    assert live.exists() and unrelated.exists()


def test_unsafe_paths_are_refused(paths):
    output, content, root = paths
    for rel in ("../escape.html", "/abs.html", "a//b.html", "a\\b.html", "./a.html"):
        s = Output()
        s.add(rel, b"x", "t")
        with pytest.raises(ValueError):
            write_site(s, output, content, root)
        assert leftovers(output) == []
    assert not (root / "escape.html").exists()
