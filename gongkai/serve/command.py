"""`build.py serve`: build, serve on 127.0.0.1, rebuild what a change touches, reload the browser.

The pieces: `live` (the site kept up to date through the build's pipeline), `watch`
(which files changed), `http` (serving, with the reload script and error overlay) and
`background` (the site-wide pages and the search index after a rebuild).
"""
from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Optional

from ..console import report, say
from ..errors import Problem, relpath
from ..render import site_folder
from ..write import MARKER, MARKER_TEXT
from .background import Debounced, Indexer
from .http import make_app
from .live import LiveSite
from .watch import InotifyWatcher, Watcher

# The pages listing every agency year are rewritten after the browser had a moment to reload.
FINISH_DELAY_SECONDS = 0.05
OUTPUT_CHECK_SECONDS = 0.5   # how often serve looks whether its output folder is still there


def serve_command(config_path: str, port: Optional[int] = None, host: str = "127.0.0.1") -> int:
    """Build, serve and rebuild until Ctrl-C."""
    from tornado import httpserver, ioloop, netutil
    from livereload.handlers import LiveReloadHandler

    for name in ("tornado.access", "tornado.application", "tornado.general", "livereload"):
        logging.getLogger(name).setLevel(logging.ERROR)
    live = LiveSite(Path(config_path))
    print_problems(live, live.start())
    live.defer = True
    if live.config is None:
        say("serve: the configuration has errors; fix site_config.yaml and start again")
        return 1
    if not live.output.is_dir():   # the first build failed: serve an empty site and the overlay
        live.output.mkdir(parents=True)
        (live.output / MARKER).write_bytes(MARKER_TEXT)
    if port is None:
        port = live.config.serve_port
    sockets = netutil.bind_sockets(port, host)
    actual = sockets[0].getsockname()[1]
    server = httpserver.HTTPServer(make_app(live, lambda: actual))
    server.add_sockets(sockets)
    loop = ioloop.IOLoop.current()
    indexer = Indexer(live)

    def reload() -> None:
        loop.add_callback(LiveReloadHandler.reload_waiters, "*")

    def finished() -> None:
        started = time.perf_counter()
        problems = live.finish()
        if problems is None:          # nothing to do, or a newer change will finish instead
            return
        print_problems(live, problems)
        if live.problems:
            reload()                  # shows the error overlay
        else:
            say(f"site-wide pages updated in {(time.perf_counter() - started) * 1000:.0f} ms")
            indexer.request()

    finisher = Debounced(finished, FINISH_DELAY_SECONDS)

    def changed(paths: set[Path]) -> None:
        names = ", ".join(sorted(relpath(p, live.config.root) for p in paths)[:5])
        problems = live.rebuild(paths)
        reload()
        print_problems(live, problems)
        if not live.problems:
            say(f"rebuilt in {live.last_seconds * 1000:.0f} ms after changes to {names}")
            live.flush()
            if live.site_wide_due:
                finisher.request()
            else:
                indexer.request()

    # GONGKAI_WATCH=poll: for folders whose changes the kernel does not report (network
    # file systems, some container mounts).
    watcher = None
    if os.environ.get("GONGKAI_WATCH", "").strip().lower() != "poll":
        watcher = InotifyWatcher(lambda: watch_roots(live), changed, live.config_path)
    if watcher is None or not watcher.ok:
        watcher = Watcher(lambda: watch_roots(live), changed)
    watcher.start()
    if not live.problems:
        indexer.request()

    def output_removed() -> None:
        """The output folder was removed (`make clean`): write it again."""
        if not (live.output / MARKER).is_file():
            loop.run_in_executor(None, changed, {live.output})

    ioloop.PeriodicCallback(output_removed, OUTPUT_CHECK_SECONDS * 1000).start()
    say(f"serving {relpath(live.output)} at http://{host}:{actual}/ (Ctrl-C to stop)")
    sys.stdout.flush()
    try:
        loop.start()
    except KeyboardInterrupt:
        say("stopped")
    finally:
        watcher.stopped.set()
    return 0


def watch_roots(live: LiveSite) -> list[Path]:
    config = live.config
    return [live.config_path, config.content_dir, site_folder(config, "templates"), site_folder(config, "theme")]


def print_problems(live: LiveSite, problems: list[Problem]) -> None:
    """Each problem as a `file:line:col` line, errors with the offending line and a caret."""
    report(problems, excerpts_from=live.config.root if live.config else Path.cwd())
    if live.problems:
        say("the last good site is still served; fix the error and save")
