"""`build.py serve`: build, serve on 127.0.0.1, rebuild what a change touches, reload the browser.

`LiveSite` keeps the last good build in memory (models, derived facts, a hash of every file
written). A change to one agency-year file re-validates that file only and re-renders its
pages plus the pages that list it (home, site map, feeds, data); a template, theme or
config change re-renders everything. Only files whose bytes changed are written, each
atomically. An error keeps the last good site served and shows as an overlay in the
browser and as `file:line:col` lines with the offending line in the terminal.

The HTTP side is tornado with livereload's websocket handler and client script; the
script and the overlay are injected into HTML responses only here, never into files.
"""
from __future__ import annotations

import html
import logging
import os
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Callable, Optional

from .cache import ParseCache
from .config import Config, load_config
from .content import load_content
from .derive import YearFacts, derive_year
from .errors import Problem, relpath, sort_key
from .pipeline import source_date_epoch
from . import opendata
from .render import Renderer, Site, site_folder, template_problem
from .validate import validate_file
from .write import MARKER, MARKER_TEXT, WriteError, _target, write_site

POLL_SECONDS = 0.1     # how often the watcher looks at file times
# Site-wide open data (megabytes at province scale) is written after the browser reloads,
# like the search index: the page a reader looks at is never waiting for it.
DEFERRED = ("data/",)
QUIET_SECONDS = 0.08   # a burst of saves ends when nothing changed for this long
IGNORED_SUFFIXES = (".swp", ".swx", ".swo", ".tmp", "~", ".kate-swp", ".part")


class LiveSite:
    """The served site: its last good state and the incremental rebuild."""

    def __init__(self, config_path: Path, output: Optional[Path] = None):
        self.config_path = Path(config_path).resolve()
        self.output_arg = output
        self.config: Optional[Config] = None
        self.facts: dict[Path, YearFacts] = {}
        self.written: dict[str, bytes] = {}        # output path -> the bytes it now holds
        self.problems: list[Problem] = []           # errors of the last attempt (empty = good)
        self.cache: Optional[ParseCache] = None
        self.year_files: dict[Path, dict[str, bytes]] = {}   # open data of each agency year
        self.defer = False                   # hold back DEFERRED files until flush() (serve)
        self.pending: dict[str, bytes] = {}
        self.lock = threading.Lock()

    @property
    def output(self) -> Path:
        if self.output_arg is not None:
            return Path(self.output_arg).resolve()
        return self.config.output_dir.resolve() if self.config else Path("_site").resolve()

    # --- full build ------------------------------------------------------------------------

    def start(self) -> list[Problem]:
        """The first build: everything, through the staging folder like `build.py build`."""
        return self.rebuild({self.config_path})

    def _load_all(self) -> list[Problem]:
        """Config and every content file; on errors the facts of the last good build stay."""
        config, problems = load_config(self.config_path)
        if config is None:
            return problems
        self.config = config
        self.cache = ParseCache(config.root / ".cache" / "models")
        years, problems = load_content(config, cache=self.cache)
        if any(p.is_error for p in problems):
            return problems
        self.facts = {(config.root / y.source).resolve(): derive_year(y) for y in years}
        return []

    def _render(self, changed_years: Optional[set[Path]]) -> tuple[Optional[Site], list[Problem]]:
        """Render all pages (None) or only those of `changed_years` plus the lists."""
        years = sorted(self.facts.values(), key=lambda f: (-f.year.year, f.year.agency.ident))
        try:
            epoch = source_date_epoch()
        except ValueError as exc:
            return None, [Problem(str(self.config_path), 1, 1, str(exc))]
        renderer = Renderer(self.config, years, epoch)
        # One Jinja2 environment for the whole session: its loader recompiles only the
        # templates whose files changed, instead of every template on every rebuild.
        if getattr(self, "env_folder", None) == renderer.templates:
            renderer.env = self.env
        else:
            self.env, self.env_folder = renderer.env, renderer.templates
        try:
            # Data files of unchanged agency years are kept from the last build.
            stale = set(self.facts) if changed_years is None else changed_years
            self.year_files = {p: (opendata.year_data(f) if p in stale or p not in self.year_files
                                   else self.year_files[p]) for p, f in self.facts.items()}
            by_facts = {id(f): self.year_files[p] for p, f in self.facts.items()}
            data = opendata.site_data([by_facts[id(f)] for f in years], years, self.config.title)
            for path in sorted(self.facts if changed_years is None else changed_years):
                if path in self.facts:
                    renderer.agency_year(self.facts[path], data)
            site = renderer.render_common(data)
        except Exception as exc:  # jinja2 errors of every kind, with file and line
            return None, [template_problem(exc, renderer.templates)]
        if site.problems:
            return None, site.problems
        return site, []

    # --- incremental rebuild ---------------------------------------------------------------

    def rebuild(self, changed: set[Path]) -> list[Problem]:
        """Apply a set of changed paths; on error keep the last good site and return problems."""
        with self.lock:
            started = time.perf_counter()
            problems = self._rebuild(changed)
            self.problems = [p for p in problems if p.is_error]
            self.last_seconds = time.perf_counter() - started
            return problems

    def _rebuild(self, changed: set[Path]) -> list[Problem]:
        # Until one build has succeeded there is nothing to update: build everything.
        full = not self.written or self.config_path in changed or any(
            self._is_design(p) for p in changed)
        if full:
            previous = (self.config, self.facts)
            problems = self._load_all()
            if any(p.is_error for p in problems):
                if self.written:
                    self.config, self.facts = previous
                return problems
            site, render_problems = self._render(None)
            if site is None:
                return render_problems
            return self._write(site, prefixes=None) + problems + [
                p for f in self.facts.values() for p in f.problems]
        years: set[Path] = set()
        for path in changed:
            target = self._agency_file(path)
            if target is not None:
                years.add(target)
        if not years:
            return []
        new_facts = dict(self.facts)
        problems: list[Problem] = []
        for path in sorted(years):
            if not path.exists():
                new_facts.pop(path, None)
                continue
            label = relpath(path, self.config.root)
            model, found = validate_file(path, self.config.content_dir, self.config.regions, label, self.cache)
            problems += found
            if model is not None:
                new_facts[path] = derive_year(model)
        if any(p.is_error for p in problems):
            return problems
        keys = {(f.year.year, f.year.agency.ident) for f in new_facts.values()}
        if len(keys) != len(new_facts):
            return [Problem(relpath(p, self.config.root), 1, 1, "two agency years with one address")
                    for p in sorted(years)]
        old_facts, self.facts = self.facts, new_facts
        site, render_problems = self._render(years)
        if site is None:
            self.facts = old_facts
            return render_problems
        prefixes = {self._prefix(old_facts.get(p)) for p in years} | {self._prefix(new_facts.get(p)) for p in years}
        prefixes.discard(None)
        prefixes |= {"data/", "index.html", "sitemap/", "sitemap.xml", "feed.xml", "robots.txt"}
        return self._write(site, prefixes=prefixes) + problems + [
            p for y in sorted(years) if y in new_facts for p in new_facts[y].problems]

    @staticmethod
    def _prefix(facts: Optional[YearFacts]) -> Optional[str]:
        return f"{facts.year.year}/{facts.year.agency.ident}/" if facts else None

    def _is_design(self, path: Path) -> bool:
        for name in ("templates", "theme"):
            folder = site_folder(self.config, name).resolve()
            if path == folder or path.is_relative_to(folder):
                return True
        return False

    def _agency_file(self, path: Path) -> Optional[Path]:
        """The agency-year file a changed path belongs to (itself, or the owner of an original)."""
        try:
            rel = path.relative_to(self.config.content_dir.resolve())
        except ValueError:
            return None
        parts = rel.parts
        if len(parts) == 2 and parts[0].isdigit() and parts[1].endswith(".yaml"):
            return path
        if len(parts) >= 3 and parts[0].isdigit():
            return self.config.content_dir.resolve() / parts[0] / f"{parts[1]}.yaml"
        return None

    # --- writing -------------------------------------------------------------------------

    def _write(self, site: Site, prefixes: Optional[set[str]]) -> list[Problem]:
        """Write changed files only. `prefixes` limits which old files may be stale (None: all)."""
        output = self.output
        if not self.written:
            # First build: the same safe path as build.py (staging folder, swap).
            try:
                write_site(site, output, self.config.content_dir, self.config.root)
            except (WriteError, OSError) as exc:
                return [Problem(str(output), 1, 1, f"cannot write the site: {exc}")]
            self.written = dict(site.files)
            self.written.update({p: s.read_bytes() for s, p in site.copies})
            return []
        # Kept bytes, not hashes: an unchanged file is usually the very same object (`is`),
        # else one memcmp; hashing every data file on every save cost more than rendering.
        fresh: dict[str, bytes] = dict(site.files)
        fresh.update({rel: source.read_bytes() for source, rel in site.copies})
        scope = None if prefixes is None else tuple(prefixes)
        for rel, data in sorted(fresh.items()):
            old = self.written.get(rel)
            if old is not data and old != data:
                if self.defer and rel.startswith(DEFERRED):
                    self.pending[rel] = data
                else:
                    _write_atomic(_target(output, rel), data)
        for rel in sorted(self.written):
            if (scope is None or rel.startswith(scope)) and rel not in fresh:
                self.pending.pop(rel, None)
                try:
                    _target(output, rel).unlink()
                except FileNotFoundError:
                    pass
        if scope is not None:
            fresh = {**{r: b for r, b in self.written.items() if not r.startswith(scope)}, **fresh}
        self.written = fresh
        return []

    def flush(self) -> None:
        """Write the files held back until after the reload (large open-data files)."""
        with self.lock:
            pending, self.pending = self.pending, {}
            for rel, data in sorted(pending.items()):
                _write_atomic(_target(self.output, rel), data)

    def overlay_html(self) -> str:
        """The error box shown on every served page while the last attempt failed."""
        if not self.problems:
            return ""
        items = []
        for problem in self.problems[:20]:
            source = ""
            path = (self.config.root if self.config else Path.cwd()) / problem.file
            try:
                source = problem.excerpt(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError):
                pass
            items.append(f"<li><code>{html.escape(problem.format())}</code>"
                         + (f"<pre>{html.escape(source)}</pre>" if source else "") + "</li>")
        return ('<div id="gongkai-error-overlay" role="alert" style="position:fixed;z-index:2147483647;'
                'inset:0 0 auto 0;max-height:60vh;overflow:auto;background:#fff5f5;color:#5c0000;'
                'border-bottom:4px solid #b00020;padding:1em 1.5em;font:16px/1.6 monospace">'
                '<p style="margin:0 0 .5em;font-weight:bold">内容有错误，网站仍显示上一次正确生成的版本。'
                '改正并保存后此提示自动消失。</p><ol style="margin:0;padding-left:1.5em">'
                + "".join(items) + "</ol></div>")


def _write_atomic(target: Path, data: bytes) -> None:
    """Replace one file so a reader sees the old bytes or the new, never half."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)


# --- watching ---------------------------------------------------------------------------

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


# --- HTTP -------------------------------------------------------------------------------

def make_app(live: LiveSite, reload_port: Callable[[], int]):
    """A tornado application serving `live.output` with the reload script and error overlay."""
    from tornado import web
    from livereload.handlers import LiveReloadHandler, LiveReloadJSHandler

    LiveReloadHandler.watcher = SimpleNamespace(filepath=None)   # read by its log line only

    class SiteHandler(web.StaticFileHandler):
        """Static files from the output folder; anything outside it, or missing, is a 404."""

        def validate_absolute_path(self, root, absolute_path):
            root_real = os.path.realpath(root)
            if not os.path.realpath(absolute_path).startswith(root_real + os.sep) and \
                    os.path.realpath(absolute_path) != root_real:
                raise web.HTTPError(404)
            return super().validate_absolute_path(root, absolute_path)

        def send_error(self, status_code=500, **kwargs):
            # Paths outside the output folder (`/../x`, `/%2e%2e/`) are simply not there.
            super().send_error(404 if status_code == 403 else status_code, **kwargs)

        def write_error(self, status_code, **kwargs):
            page = Path(self.root) / "404.html"
            self.set_header("Content-Type", "text/html; charset=utf-8")
            if status_code == 404 and page.is_file():
                self.finish(page.read_bytes())
            else:
                self.finish(f"<!doctype html><title>{status_code}</title><p>{status_code}</p>")

        def set_extra_headers(self, path):
            self.set_header("Cache-Control", "no-store")

    class Inject(web.OutputTransform):
        def transform_first_chunk(self, status_code, headers, chunk, finishing):
            if "text/html" in headers.get("Content-Type", "") and b"</body>" in chunk:
                extra = (live.overlay_html() + f'<script src="/livereload.js?port={reload_port()}"></script>')
                chunk = chunk.replace(b"</body>", extra.encode("utf-8") + b"</body>", 1)
                if "Content-Length" in headers:
                    headers["Content-Length"] = str(len(chunk))
                headers.pop("Etag", None)
            return status_code, headers, chunk

    return web.Application([
        (r"/livereload", LiveReloadHandler),
        (r"/livereload.js", LiveReloadJSHandler),
        (r"/(.*)", SiteHandler, {"path": str(live.output), "default_filename": "index.html"}),
    ], transforms=[Inject])


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
    if not live.output.is_dir():
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

    def changed(paths: set[Path]) -> None:
        names = ", ".join(sorted(relpath(p, live.config.root) for p in paths)[:5])
        problems = live.rebuild(paths)
        print_problems(live, problems)
        loop.add_callback(LiveReloadHandler.reload_waiters, "*")
        if not live.problems:
            say(f"rebuilt in {live.last_seconds * 1000:.0f} ms after changes to {names}")
            live.flush()
            indexer.request()

    watcher = Watcher(lambda: watch_roots(live), changed)
    watcher.start()
    if not live.problems:
        indexer.request()
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


class Indexer:
    """Refreshes the search index after the pages, in the background, one run at a time."""

    def __init__(self, live: LiveSite):
        self.live = live
        self.wanted = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def request(self) -> None:
        self.wanted.set()

    def _run(self) -> None:
        from .index import build_index
        while True:
            self.wanted.wait()
            self.wanted.clear()
            try:  # without the rebuild lock: a page written meanwhile is indexed on the next run
                build_index(self.live.output, self.live.config)
            except Exception as exc:   # search is optional while previewing
                say(f"search index not refreshed: {exc}")


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def print_problems(live: LiveSite, problems: list[Problem]) -> None:
    """Each problem as a `file:line:col` line, errors with the offending line and a caret."""
    root = live.config.root if live.config else Path.cwd()
    for problem in sorted(problems, key=sort_key):
        say(problem.format())
        if problem.is_error:
            try:
                excerpt = problem.excerpt((root / problem.file).read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError):
                excerpt = ""
            if excerpt:
                say(excerpt)
    if live.problems:
        say("the last good site is still served; fix the error and save")
