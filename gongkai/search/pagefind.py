"""The Pagefind binary: which one, how it is run, and the check of what it says.

The binary is the pinned extended one from the `pagefind-bin-extended` wheel
(requirements.txt). The index is built with `--force-language zxx`, so no segmenter is
involved, but the build still refuses any other binary: a plain `pagefind_bin` (no
Chinese segmentation) or another version fails with a message, as does any sign in its
output that it ran in non-extended mode.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import threading
from pathlib import Path
from typing import Optional

from .. import parallel

PAGEFIND_VERSION = "1.5.2"          # must equal the pins in requirements.txt
PAGEFIND_PACKAGE = "pagefind-bin-extended"
LANGUAGE = "zxx"                     # ISO 639-2 "no linguistic content": no segmenter, no stemmer


class SearchIndexError(Exception):
    """The index cannot be built; the message says why (shown by the build)."""


def pagefind_binary() -> Path:
    """The extended Pagefind binary of the pinned `pagefind-bin-extended` wheel."""
    from importlib import metadata
    try:
        version = metadata.version(PAGEFIND_PACKAGE)
    except metadata.PackageNotFoundError:
        plain = _installed("pagefind-bin")
        raise SearchIndexError(
            f"the extended Pagefind binary ({PAGEFIND_PACKAGE}=={PAGEFIND_VERSION}) is not installed"
            + (f"; only the plain pagefind-bin {plain} is, which cannot segment Chinese" if plain else "")
            + ": run `make site` (pip install -r requirements.txt)") from None
    if version != PAGEFIND_VERSION:
        raise SearchIndexError(f"{PAGEFIND_PACKAGE} {version} is installed, the site needs "
                               f"{PAGEFIND_VERSION} (requirements.txt): run `make site`")
    try:
        from pagefind_bin_extended import get_executable
        binary = Path(get_executable())
    except (ImportError, FileNotFoundError) as exc:
        raise SearchIndexError(f"{PAGEFIND_PACKAGE} is broken: {exc}") from None
    if binary.name != "pagefind_extended":
        raise SearchIndexError(f"{binary} is not the extended Pagefind binary (pagefind_extended)")
    return binary


def _installed(name: str) -> Optional[str]:
    from importlib import metadata
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def check_log(log: str) -> None:
    """Fail unless Pagefind's own log shows the pinned extended binary at work."""
    banner = f"Running Pagefind v{PAGEFIND_VERSION} (Extended)"
    if banner not in log:
        first = next((line for line in log.splitlines() if line.startswith("Running Pagefind")), "no banner")
        raise SearchIndexError(f"Pagefind did not report the extended binary {PAGEFIND_VERSION} "
                               f"(it said: {first!r}); the index would not support Chinese")
    if "non-extended" in log:
        raise SearchIndexError("Pagefind ran in non-extended mode (no Chinese segmentation)")


def pagefind_cmd(binary: Path, source: Path, output: Path, extra: tuple[str, ...] = ()) -> list[str]:
    """The command that indexes the shadow folder `source` into `output`."""
    return [str(binary), "--site", str(source), "--output-path", str(output),
            "--force-language", LANGUAGE, "--keep-index-url", *extra]


def _prctl():
    """libc's prctl, looked up before any fork (the child must not load libraries)."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True).prctl
    except (OSError, AttributeError, TypeError):
        return None


_PRCTL = _prctl()
PR_SET_PDEATHSIG = 1


def _die_with(parent: int):
    """`preexec_fn` of each Pagefind: killed when the build (`parent`) dies, like the forked
    workers (parallel.py). Without it a build killed during indexing left Pagefind running,
    still writing into the staging folder the next run removes (D23)."""
    return lambda: _die_with_parent(parent)


def _die_with_parent(parent: int) -> None:
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:      # the build died before prctl took effect
        os._exit(1)


def run_pagefind(binary: Path, source: Path, output: Path, extra: tuple[str, ...] = ()) -> str:
    """Index the shadow folder into `output`; return Pagefind's log."""
    cmd = pagefind_cmd(binary, source, output, extra)
    proc = subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8", errors="replace",
                          preexec_fn=_die_with(os.getpid()))
    log = proc.stdout + proc.stderr
    if proc.returncode != 0:
        tail = "\n".join(log.strip().splitlines()[-15:])
        raise SearchIndexError(f"Pagefind exited with {proc.returncode}:\n{tail}")
    return log


def run_pagefinds(binary: Path, jobs: list[tuple[Path, Path]], at_once: int = 0) -> list[str]:
    """Run Pagefind on each (shadow folder, output folder), at most `at_once` together (0:
    all); their logs, in order. The first failure stops the others."""
    if not jobs:
        return []
    if len(jobs) == 1:
        return [run_pagefind(binary, *jobs[0])]
    limit = at_once if at_once > 0 else len(jobs)
    running: dict[int, subprocess.Popen] = {}
    logs: dict[int, str] = {}
    waiting = list(enumerate(jobs))
    try:
        while waiting or running:
            while waiting and len(running) < limit:
                n, (source, output) = waiting.pop(0)
                running[n] = subprocess.Popen(pagefind_cmd(binary, source, output), stdout=subprocess.PIPE,
                                              stderr=subprocess.STDOUT, text=True, encoding="utf-8",
                                              errors="replace", preexec_fn=_die_with(os.getpid()))
            # The oldest first: parts are of about equal size, so it is about the first to end.
            n = min(running)
            proc = running.pop(n)
            logs[n] = proc.communicate()[0]
            if proc.returncode != 0:
                tail = "\n".join(logs[n].strip().splitlines()[-15:])
                raise SearchIndexError(f"Pagefind exited with {proc.returncode}:\n{tail}")
    finally:
        for proc in running.values():
            if proc.poll() is None:     # an error or a kill of the build: stop the others
                proc.kill()
                proc.wait()
    return [logs[n] for n in range(len(jobs))]


def index_workers() -> int:
    """Processes the index step may use: none forked from the dev server's indexing thread
    (a fork there would copy locks other threads hold)."""
    return parallel.worker_count() if threading.current_thread() is threading.main_thread() else 1
