"""`build.py serve`: build, serve on 127.0.0.1, rebuild what a change touches, reload the browser.

The pieces: `live` (the site kept up to date through the build's pipeline), `watch`
(which files changed), `http` (serving, with the reload script and error overlay) and
`background` (the site-wide pages and the search index after a rebuild).
"""
from __future__ import annotations

import errno
import logging
import os
import socket
import sys
import time
from pathlib import Path
from typing import Optional

from ..config import Config, load_config
from ..console import report, say
from ..errors import Problem, relpath
from ..render import site_folder
from ..write import MARKER, MARKER_TEXT
from .background import Debounced, Indexer
from .http import make_app
from .live import LiveSite
from .watch import InotifyWatcher, Watcher

# The pages listing every agency year are rewritten once saves have paused this long. At
# 10,000 project pages they take about 4 s of CPU and 75 MB of writes (the explorer, the
# agency pages, the site-wide data) under the live site's lock: begun 50 ms after a save,
# they were still running at an editor's next save a second later and held its page back
# (220-258 ms instead of 40 ms in `make bench`).
FINISH_DELAY_SECONDS = 1.5
OUTPUT_CHECK_SECONDS = 0.5   # how often serve looks whether its output folder is still there
MAX_PORT = 65535


def serve_command(config_path: str, port: Optional[int] = None, host: str = "127.0.0.1") -> int:
    """Build, serve and rebuild until Ctrl-C."""
    from tornado import httpserver, ioloop
    from livereload.handlers import LiveReloadHandler

    for name in ("tornado.access", "tornado.application", "tornado.general", "livereload"):
        logging.getLogger(name).setLevel(logging.ERROR)
    live = LiveSite(Path(config_path))
    config, problems = load_config(Path(config_path))
    if config is None:
        report(problems, excerpts_from=Path.cwd())
        say(f"serve: {relpath(config_path)} 有错误；改正后请重新启动")
        return 1
    # The port before the first build: a second serve on a port in use (`make serve` twice)
    # stops here, before it rewrites the output folder under the running one.
    sockets = listen(host, port, config)
    if sockets is None:
        return 1
    try:
        print_problems(live, live.start())
    except KeyboardInterrupt:   # Ctrl-C during the first build
        for sock in sockets:
            sock.close()
        say("已停止预览")
        return 0
    live.defer = True
    if live.config is None:   # the configuration broke since it was read above
        say(f"serve: {relpath(config_path)} 有错误；改正后请重新启动")
        for sock in sockets:
            sock.close()
        return 1
    if not live.output.is_dir():   # the first build failed: serve an empty site and the overlay
        live.output.mkdir(parents=True)
        (live.output / MARKER).write_bytes(MARKER_TEXT)
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
            say(f"全站页面已更新，用时 {(time.perf_counter() - started) * 1000:.0f} 毫秒")
            indexer.request()

    finisher = Debounced(finished, FINISH_DELAY_SECONDS)

    def changed(paths: set[Path]) -> None:
        names = ", ".join(sorted(relpath(p, live.config.root) for p in paths)[:5])
        problems = live.rebuild(paths)
        reload()
        print_problems(live, problems)
        if not live.problems:
            say(f"已重新生成，用时 {live.last_seconds * 1000:.0f} 毫秒；改动的文件：{names}")
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
    say(f"正在预览 {relpath(live.output)}，地址 http://{host}:{actual}/（按 Ctrl-C 停止）")
    sys.stdout.flush()
    try:
        loop.start()
    except KeyboardInterrupt:
        say("已停止预览")
    finally:
        watcher.stopped.set()
    return 0


def listen(host: str, port: Optional[int], config: Config) -> Optional[list[socket.socket]]:
    """The server's bound sockets, or None when the port is out of range or cannot be had
    (the reason printed for the editor). `port` is `--port`; without it, `serve_port`
    (which the configuration checks)."""
    from tornado import netutil

    if port is None:
        port = config.serve_port
    elif not 0 <= port <= MAX_PORT:
        say(f"error: --port {port}: 端口号无效，应为 0 到 {MAX_PORT} 之间的整数 "
            "(hint: 如 --port 8000；--port 0 表示任选一个空闲端口)")
        return None
    try:
        return netutil.bind_sockets(port, host)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            say(f"error: 端口 {port} 已被占用（可能另一个 serve 正在运行），本次未生成也未改动任何文件 "
                "(hint: 先停止正在使用该端口的程序，或用 --port 换一个端口；--port 0 表示任选一个空闲端口)")
        elif exc.errno == errno.EACCES:
            say(f"error: 没有权限使用端口 {port}（1024 以下的端口需要管理员权限） "
                "(hint: 用 --port 换用 1024 以上的端口，如 --port 8000)")
        else:
            say(f"error: 无法在 {host}:{port} 上提供预览：{exc.strerror or exc}")
        return None


def watch_roots(live: LiveSite) -> list[Path]:
    config = live.config
    return [live.config_path, config.content_dir, site_folder(config, "templates"), site_folder(config, "theme")]


def print_problems(live: LiveSite, problems: list[Problem]) -> None:
    """Each problem as a `file:line:col` line, errors with the offending line and a caret."""
    report(problems, excerpts_from=live.config.root if live.config else Path.cwd())
    if live.problems:
        say("仍在预览上一次正确生成的网站；改正错误并保存后自动更新")
