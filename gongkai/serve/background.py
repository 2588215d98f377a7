"""Work that follows a rebuild in the background: the site-wide pages, then the search index."""
from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Callable

from ..console import say

# The search index is refreshed once saves have paused for this long.
INDEX_DELAY_SECONDS = 1.0


class Debounced:
    """Calls `func` in its own thread `delay` seconds after the last `request()`, one call
    at a time; requests made during a call lead to one more call."""

    def __init__(self, func: Callable[[], None], delay: float):
        self.func, self.delay = func, delay
        self.wanted = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def request(self) -> None:
        self.wanted.set()

    def _run(self) -> None:
        while True:
            self.wanted.wait()
            self.wanted.clear()
            while self.wanted.wait(self.delay):   # requested again meanwhile: wait on
                self.wanted.clear()
            try:
                self.func()
            except Exception as exc:   # keep serving; the next change tries again
                say(f"serve: 后台更新出错，下次保存时重试：{type(exc).__name__}: {exc}")


class Indexer(Debounced):
    """Refreshes the search index after the pages, in the background, one run at a time.

    The index (tens of seconds of CPU at 10,000 pages) is built in a separate process at
    the lowest CPU priority: in a thread of this process it held the interpreter lock and
    took a core right when a changed page was being rendered and served."""

    def __init__(self, live):
        self.live = live
        super().__init__(self._index, INDEX_DELAY_SECONDS)

    def _index(self) -> None:
        import subprocess
        code = ("import sys; sys.path.insert(0, sys.argv[1]); from gongkai.serve import index_child; "
                "sys.exit(index_child(sys.argv[2]))")
        # One process (GONGKAI_WORKERS=1): a pool of forked workers can deadlock when it is
        # interrupted (seen when serve ended mid-index), and one core is left to the server.
        proc = subprocess.Popen(
            [sys.executable, "-c", code, str(Path(__file__).resolve().parents[2]), str(self.live.output)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env={**os.environ, "GONGKAI_WORKERS": "1"})
        # stdin stays open while this process lives: its end tells the child to stop.
        out = proc.stdout.read()
        proc.wait()
        proc.stdin.close()
        if proc.returncode != 0:   # search is optional while previewing
            say("站内搜索索引未更新：" + out.decode("utf-8", "replace").strip())


def index_child(site: str) -> int:
    """The index process: lowest priority, and it stops (cleaning up its temporary folders)
    when serve ends, however serve ends (the pipe on stdin closes)."""
    import signal
    try:
        os.nice(19)
    except OSError:
        pass
    signal.signal(signal.SIGTERM, signal.default_int_handler)

    def watch_parent() -> None:
        # os.read, not sys.stdin: a thread blocked inside sys.stdin holds its lock, and the
        # forked index workers then hang closing their copy of stdin.
        while os.read(0, 4096):
            pass
        os.kill(os.getpid(), signal.SIGINT)   # a real signal: interrupts the blocking wait too

    import shutil
    import tempfile
    from ..search import BUNDLE, build_index
    # Its temporary files in one folder of its own, removed at the end whatever happened:
    # the stop signal may land inside the index's own clean-up and cut it short.
    tempfile.tempdir = tempfile.mkdtemp(prefix="gongkai-serve-index-")
    threading.Thread(target=watch_parent, daemon=True).start()
    try:
        build_index(Path(site))
    except KeyboardInterrupt:
        return 1
    except Exception as exc:
        print(exc, flush=True)
        return 1
    finally:
        shutil.rmtree(tempfile.tempdir, ignore_errors=True)
        for left in (*Path(site).glob(f".{BUNDLE}-new-*"), *Path(site).glob(f".{BUNDLE}-old-{os.getpid()}")):
            shutil.rmtree(left, ignore_errors=True)
    return 0
