"""Watching the inputs: told by the kernel (inotify) where it can, else by polling.

A burst of saves (an editor writes a temp file, renames it, deletes a backup; `git
checkout` rewrites many files) ends when nothing changed for a moment; then `on_change`
gets every path that changed, once.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Callable, Optional

from ..console import say

POLL_SECONDS = 0.1     # how often the watcher looks at file times
QUIET_SECONDS = 0.08   # a burst of saves ends when nothing changed for this long
INOTIFY_QUIET_SECONDS = 0.02   # the same when every changed file was closed by its writer
IGNORED_SUFFIXES = (".swp", ".swx", ".swo", ".tmp", "~", ".kate-swp", ".part")


def snapshot(roots: list[Path]) -> dict[Path, tuple[int, int]]:
    """(mtime, size) of every file under `roots`, editor temp files and dot files skipped."""
    seen: dict[Path, tuple[int, int]] = {}
    for root in roots:
        if root.is_file():
            stat = root.stat()
            seen[root] = (stat.st_mtime_ns, stat.st_size)
            continue
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in files:
                if name.startswith((".", "#")) or name.endswith(IGNORED_SUFFIXES) or name == "4913":
                    continue
                path = Path(folder, name)
                try:
                    stat = path.stat()
                except FileNotFoundError:
                    continue
                seen[path] = (stat.st_mtime_ns, stat.st_size)
    return seen


class Watcher(threading.Thread):
    """Polls the inputs; after a burst of changes goes quiet, calls `on_change` once."""

    def __init__(self, roots: Callable[[], list[Path]], on_change: Callable[[set[Path]], None]):
        super().__init__(daemon=True)
        self.roots, self.on_change = roots, on_change
        self.stopped = threading.Event()

    def run(self) -> None:
        before = snapshot(self.roots())
        pending: set[Path] = set()
        last_change = 0.0
        while not self.stopped.wait(POLL_SECONDS if not pending else QUIET_SECONDS / 2):
            now = snapshot(self.roots())
            changed = {p for p in before.keys() | now.keys() if before.get(p) != now.get(p)}
            before = now
            if changed:
                pending |= {p.resolve() for p in changed}
                last_change = time.monotonic()
            elif pending and time.monotonic() - last_change >= QUIET_SECONDS:
                batch, pending = pending, set()
                self.on_change(batch)


class InotifyWatcher(threading.Thread):
    """Like Watcher, told by the kernel (Linux inotify) instead of polling: a save is seen at
    once, and nothing is spent between saves (polling stats every input file 10 times a
    second: 17 ms each time at 1,300 files, and up to 100 ms late). `ok` is False where
    inotify cannot be used; serve then falls back to Watcher."""

    MASK = 0x2 | 0x4 | 0x8 | 0x40 | 0x80 | 0x100 | 0x200 | 0x400 | 0x800   # modify, attrib,
    # close_write, moved_from, moved_to, create, delete, delete_self, move_self
    CLOSE_WRITE, MOVED_FROM, MOVED_TO, CREATE, DELETE = 0x8, 0x40, 0x80, 0x100, 0x200
    SELF_GONE, OVERFLOW, IGNORED, ISDIR = 0x400 | 0x800, 0x4000, 0x8000, 0x40000000

    def __init__(self, roots: Callable[[], list[Path]], on_change: Callable[[set[Path]], None],
                 everything: Path):
        super().__init__(daemon=True)
        self.roots, self.on_change, self.everything = roots, on_change, everything
        self.stopped = threading.Event()
        self.fd = -1
        self.ok = False
        try:
            import ctypes
            self.libc = ctypes.CDLL(None, use_errno=True)
            self.fd = self.libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
            self.ok = self.fd >= 0 and self._watch_all()
        except (OSError, AttributeError):   # no inotify here (not Linux, or no libc symbol)
            self.ok = False
        if not self.ok and self.fd >= 0:
            os.close(self.fd)

    def _watch_all(self) -> bool:
        self.folders: dict[int, Path] = {}           # watch descriptor -> folder
        self.only: dict[int, Optional[set[str]]] = {}  # names of interest there (None: all)
        self.watched_roots = self.roots()
        for root in self.watched_roots:
            if root.is_dir():
                if not self._watch_tree(root):
                    return False
            elif not self._watch(root.parent, {root.name}):   # a file: its folder, that name only
                return False
        return True

    def _watch(self, folder: Path, names: Optional[set[str]]) -> bool:
        wd = self.libc.inotify_add_watch(self.fd, os.fsencode(folder), self.MASK)
        if wd < 0:   # ENOSPC (too many watches) among others: poll instead
            return False
        if wd in self.only and (self.only[wd] is None or names is None):
            names = None
        elif wd in self.only:
            names = self.only[wd] | names
        self.folders[wd], self.only[wd] = folder, names
        return True

    def _watch_tree(self, root: Path, found: Optional[set[Path]] = None) -> bool:
        """Watch `root` and its folders (dot folders skipped, as snapshot() does); the files
        in them go into `found`, if given (a folder created or moved in: they are new)."""
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            if not self._watch(Path(folder), None):
                return False
            if found is not None:
                found.update(Path(folder, n) for n in files if _watched_name(n))
        return True

    def run(self) -> None:
        import select
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        pending: set[Path] = set()
        writing: set[Path] = set()   # modified and not yet closed by its writer
        last_change = 0.0
        while not self.stopped.is_set():
            if pending:
                # A writer that closed its file is done: a short pause is enough to gather
                # the rest of a burst (editors write a temp file, rename, delete a backup).
                quiet = QUIET_SECONDS if writing else INOTIFY_QUIET_SECONDS
                wait = max(0.0, last_change + quiet - time.monotonic())
            else:
                wait = 0.5                        # only to notice `stopped`
            if poller.poll(wait * 1000):
                try:
                    data = os.read(self.fd, 1 << 16)
                except BlockingIOError:
                    continue
                if self._events(data, pending, writing):
                    last_change = time.monotonic()
            elif pending and time.monotonic() - last_change >= (QUIET_SECONDS if writing else INOTIFY_QUIET_SECONDS):
                batch, pending = {p.resolve() for p in pending}, set()
                writing.clear()
                self.on_change(batch)
                if self.roots() != self.watched_roots:   # e.g. a templates/ folder is now used
                    self._rewatch()
        os.close(self.fd)

    def _rewatch(self) -> None:
        for wd in list(self.folders):
            self.libc.inotify_rm_watch(self.fd, wd)
        if not self._watch_all():
            say("serve: 无法再监视全部文件夹；请重新启动 serve，之后的改动才会显示")

    def _events(self, data: bytes, pending: set[Path], writing: set[Path]) -> bool:
        """Note the changed paths of a batch of inotify events; True if any was of interest."""
        import struct
        seen, offset = False, 0
        while offset + 16 <= len(data):
            wd, mask, _cookie, size = struct.unpack_from("iIII", data, offset)
            name = os.fsdecode(data[offset + 16:offset + 16 + size].rstrip(b"\0"))
            offset += 16 + size
            if mask & self.OVERFLOW:     # events were lost: rebuild everything
                pending.add(self.everything)
                seen = True
                continue
            folder = self.folders.get(wd)
            if folder is None:
                continue
            if mask & self.IGNORED:
                self.folders.pop(wd, None)
                self.only.pop(wd, None)
                continue
            if mask & self.SELF_GONE:
                if folder in self.watched_roots:   # a watched root went away
                    pending.add(self.everything)
                    seen = True
                continue
            names = self.only.get(wd)
            if names is not None and name not in names:
                continue
            path = folder / name
            if mask & self.ISDIR:
                if name.startswith("."):
                    continue
                if mask & (self.CREATE | self.MOVED_TO):
                    found: set[Path] = set()
                    if not self._watch_tree(path, found):
                        say("serve: 无法监视新增的文件夹；请重新启动 serve，其中的改动才会显示")
                    pending |= found
                elif mask & (self.DELETE | self.MOVED_FROM):
                    # Which files went with it is not known here: rebuild everything.
                    pending.add(self.everything)
                else:
                    continue
                seen = True
                continue
            if not _watched_name(name):
                continue
            pending.add(path)
            if mask & (self.CLOSE_WRITE | self.DELETE | self.MOVED_FROM | self.MOVED_TO):
                writing.discard(path)
            elif mask & 0x2:
                writing.add(path)
            seen = True
        return seen


def _watched_name(name: str) -> bool:
    """Not an editor's temp file or a dot file (as snapshot() skips them)."""
    return not (name.startswith((".", "#")) or name.endswith(IGNORED_SUFFIXES) or name == "4913")
