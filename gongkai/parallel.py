"""Spread work over the CPU cores in forked workers.

`run(func, work, workers, shared)` calls `func(shared, item)` for each item. Workers are
forked, so `shared` (compiled templates, configuration) reaches them copy-on-write as the
pool initializer's argument: it is never pickled, only the items and results are. Work is
cut into small tasks so the progress bar moves and memory per task stays small.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import gc
import multiprocessing
import os
import signal
from typing import Any, Callable, Iterator, Optional, Sequence

_NOTHING = object()


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


def run(func: Callable[..., Any], work: list, workers: int, shared: Any = _NOTHING) -> Iterator[Any]:
    """Results of `func(shared, item)` (or `func(item)` without `shared`) for each item of
    `work`, in order; in forked workers when that can help."""
    call = func if shared is _NOTHING else functools.partial(func, shared)
    if workers <= 1 or len(work) <= 1:
        yield from map(call, work)
        return
    context = multiprocessing.get_context("fork")
    with _frozen():
        pool = context.Pool(min(workers, len(work)), _start_worker, (os.getpid(), call))
        try:
            yield from pool.imap(_call, work)
            pool.close()          # a normal end lets workers exit on their own
        except BaseException:
            pool.terminate()      # an error, Ctrl-C or SIGTERM of the build: stop them now
            raise
        finally:
            pool.join()


@contextlib.contextmanager
def beside(func: Callable[[Any], Any], item: Any) -> Iterator[Callable[[], Any]]:
    """Run `func(item)` in a worker process of its own while the caller goes on; yields the
    function that waits for its result (raising what it raised). With one core the work
    is done when the result is asked for.

    The worker is a fresh interpreter (spawned, not forked): `func` and `item` are pickled
    to it, and it holds nothing of the caller's memory. Forked, it shared the build's
    memory only until it wrote to it: a 100,000-page build with search, its index made
    beside the site-wide pages, peaked at 1.8 GB with a forked worker, 1.5 GB with this."""
    if worker_count() <= 1:
        yield lambda: func(item)
        return
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    worker = context.Process(target=_run_beside, args=(os.getpid(), func, item, send), daemon=True)
    worker.start()
    send.close()

    def result() -> Any:
        try:
            done, value = receive.recv()
        except EOFError:       # it died without answering (killed, or could not start)
            worker.join()
            raise RuntimeError(f"worker process ended without a result (exit code {worker.exitcode})") from None
        worker.join()
        if done:
            return value
        raise value

    try:
        yield result
    finally:
        if worker.is_alive():  # an error, Ctrl-C or SIGTERM of the build: stop it now
            worker.kill()
            worker.join()
        receive.close()


def _run_beside(parent: int, func: Callable[[Any], Any], item: Any, send) -> None:
    """In the worker of `beside`: (True, result) or (False, the exception) to the caller."""
    _die_with_parent(parent)
    try:
        answer = (True, func(item))
    except BaseException as exc:   # noqa: BLE001 — raised again in the caller
        answer = (False, exc)
    send.send(answer)
    send.close()


@contextlib.contextmanager
def _frozen() -> Iterator[None]:
    """While forked workers run: the objects that exist now are left out of garbage
    collection (gc.freeze), in this process and the workers. A collection in a worker
    would otherwise write to every object it inherited and so copy the build's memory
    into each worker. Nested (a pool while another runs), the outermost one unfreezes."""
    global _freezes
    gc.freeze()
    _freezes += 1
    try:
        yield
    finally:
        _freezes -= 1
        if not _freezes:
            gc.unfreeze()


_freezes = 0   # _frozen blocks open in this process


_task: Optional[Callable[[Any], Any]] = None   # in a worker: what `_call` runs


def _call(item: Any) -> Any:
    return _task(item)


def _start_worker(parent: int, call: Callable[[Any], Any]) -> None:
    """Pool initializer: keep this worker's task (inherited with the fork, not pickled), and
    make sure the worker dies with the build."""
    global _task
    _task = call
    _die_with_parent(parent)


def _die_with_parent(parent: int) -> None:
    """The worker is killed when the build dies. Without it, a build
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
