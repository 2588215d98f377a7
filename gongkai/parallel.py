"""Spread the build's two heavy stages (parse + derive, render + write) over the CPU cores.

Workers are forked, so they share the parent's loaded state copy-on-write: whatever the
parent put in `STATE` before starting them is there, nothing is pickled on the way in.
Work is cut into small tasks so the progress bar moves and memory per task stays small.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
from typing import Any, Callable, Iterator, Sequence

STATE: dict[str, Any] = {}


def worker_count() -> int:
    """GONGKAI_WORKERS if set, else the usable CPUs (at most 8); 1 where fork is missing."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    value = os.environ.get("GONGKAI_WORKERS", "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


def tasks(items: Sequence, size: int) -> list[list]:
    """Consecutive slices of `items`, each at most `size` long."""
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def run(func: Callable[[Any], Any], work: list, workers: int) -> Iterator[Any]:
    """Results of `func` over `work`, in order; in forked workers when that can help.

    `func` must be a module-level function (it is sent by name); its input comes from
    `work` and from `STATE`, set by the caller before this call.
    """
    if workers <= 1 or len(work) <= 1:
        yield from map(func, work)
        return
    context = multiprocessing.get_context("fork")
    pool = context.Pool(min(workers, len(work)), _die_with_parent, (os.getpid(),))
    try:
        yield from pool.imap(func, work)
        pool.close()          # a normal end lets workers exit on their own
    except BaseException:
        pool.terminate()      # an error, Ctrl-C or SIGTERM of the build: stop them now
        raise
    finally:
        pool.join()


def _die_with_parent(parent: int) -> None:
    """Pool initializer: the worker is killed when the build dies. Without it, a build
    killed with SIGKILL leaves its workers waiting forever on a pool lock, or finishing a
    task into a staging folder the next run is removing (Linux prctl; elsewhere nothing)."""
    # Forked workers inherit the build's SIGTERM -> SystemExit handler; exiting through
    # Python's finalisers while a sibling holds the pool's queue lock hung the build
    # (seen at 10,000 pages). Workers die at once on SIGTERM; Ctrl-C is the parent's.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(1, signal.SIGKILL)          # PR_SET_PDEATHSIG
    except (OSError, AttributeError, TypeError):
        return
    if os.getppid() != parent:                 # the build died before prctl took effect
        os._exit(1)
