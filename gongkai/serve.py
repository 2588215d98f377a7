"""`build.py serve`: build, serve on 127.0.0.1, rebuild what a change touches, reload the browser.

`LiveSite` keeps the last good build in memory (models, derived facts, the bytes of every
file written). A change to one agency-year file re-validates that file only, writes its
agency year's pages and data files and reloads the browser; the pages that list every
agency year (home, site map, feeds, site-wide data: most of the work at 10,000 pages)
follow in the background (`LiveSite.finish`), then the search index, in a separate process
at low priority. The result equals a clean build. A template, theme or config change
re-renders everything. Only files whose bytes changed are written, each atomically. An
error keeps the last good site served and shows as an overlay in the browser and as
`file:line:col` lines with the offending line in the terminal.

Changes are reported by the kernel (inotify) where it can; elsewhere, or with
GONGKAI_WATCH=poll, the inputs are polled.

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
# After a template or config change (everything re-rendered), the open data (megabytes at
# province scale) is written after the browser reloads: the page is never waiting for it.
DEFERRED = ("data/",)
# What lists every agency year: rewritten by `LiveSite.finish()` after a content change.
SITE_WIDE = ("data/", "index.html", "sitemap/", "sitemap.xml", "feed.xml", "robots.txt")
QUIET_SECONDS = 0.08   # a burst of saves ends when nothing changed for this long
INOTIFY_QUIET_SECONDS = 0.02   # the same when every changed file was closed by its writer
# The pages listing every agency year are rewritten after the browser had a moment to reload.
FINISH_DELAY_SECONDS = 0.05
# The search index is refreshed once saves have paused for this long.
INDEX_DELAY_SECONDS = 1.0
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
        # Site-wide pages (home, site map, feeds, data/) that still list the agency years as
        # they were before the last change; `finish()` brings them up to date.
        self.site_wide_due = False
        self.generation = 0                  # bumped by every successful rebuild
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

    def _renderer(self, facts: dict[Path, YearFacts]) -> Renderer:
        """A Renderer over `facts` sharing the session's Jinja2 environment (ValueError: bad
        SOURCE_DATE_EPOCH)."""
        years = sorted(facts.values(), key=lambda f: (-f.year.year, f.year.agency.ident))
        renderer = Renderer(self.config, years, source_date_epoch())
        # One Jinja2 environment for the whole session: its loader recompiles only the
        # templates whose files changed, instead of every template on every rebuild.
        if getattr(self, "env_folder", None) == renderer.templates:
            renderer.env = self.env
        else:
            self.env, self.env_folder = renderer.env, renderer.templates
        return renderer

    def _render_years(self, changed_years: set[Path]) -> tuple[Optional[Site], list[Problem]]:
        """Only the pages of `changed_years` and their own data files: what the changed pages
        need. The pages listing every agency year are left to `finish()`."""
        try:   # an agency year's pages need no other year (the lists do: finish())
            renderer = self._renderer({p: self.facts[p] for p in changed_years if p in self.facts})
        except ValueError as exc:
            return None, [Problem(str(self.config_path), 1, 1, str(exc))]
        year_files = dict(self.year_files)
        try:
            for path in sorted(changed_years):
                year_files.pop(path, None)
                if path in self.facts:
                    year_files[path] = opendata.year_data(self.facts[path])
                    renderer.agency_year(self.facts[path], year_files[path])   # reads only its own files
                    for rel, payload in year_files[path].items():
                        renderer.site.add(rel, payload, "gongkai/opendata.py")
        except Exception as exc:  # jinja2 errors of every kind, with file and line
            return None, [template_problem(exc, renderer.templates)]
        site = renderer.site
        site.problems += site.conflicts()
        if site.problems:
            return None, site.problems
        self.year_files = year_files
        return site, []

    def _render_site_wide(self, facts: dict[Path, YearFacts],
                          year_files: dict[Path, dict[str, bytes]]) -> tuple[Optional[Site], list[Problem]]:
        """Everything but the agency-year pages, from the agency years' data files as kept."""
        def render(renderer: Renderer) -> Site:
            by_facts = {id(f): year_files[p] for p, f in facts.items()}
            data = opendata.site_data([by_facts[id(f)] for f in renderer.years], renderer.years,
                                      self.config.title)
            return renderer.render_common(data)
        return self._guarded(facts, render)

    def _render(self, changed_years: Optional[set[Path]]) -> tuple[Optional[Site], list[Problem]]:
        """Render all pages (None) or only those of `changed_years` plus the lists."""
        def render(renderer: Renderer) -> Site:
            years = renderer.years
            # Data files of unchanged agency years are kept from the last build.
            stale = set(self.facts) if changed_years is None else changed_years
            self.year_files = {p: (opendata.year_data(f) if p in stale or p not in self.year_files
                                   else self.year_files[p]) for p, f in self.facts.items()}
            by_facts = {id(f): self.year_files[p] for p, f in self.facts.items()}
            data = opendata.site_data([by_facts[id(f)] for f in years], years, self.config.title)
            for path in sorted(self.facts if changed_years is None else changed_years):
                if path in self.facts:
                    renderer.agency_year(self.facts[path], data)
            return renderer.render_common(data)
        return self._guarded(self.facts, render)

    def _guarded(self, facts: dict[Path, YearFacts],
                 render: Callable[[Renderer], Site]) -> tuple[Optional[Site], list[Problem]]:
        """`render` with a renderer of `facts`; configuration and template errors become
        problems (the last good site stays served)."""
        try:
            renderer = self._renderer(facts)
        except ValueError as exc:
            return None, [Problem(str(self.config_path), 1, 1, str(exc))]
        try:
            site = render(renderer)
        except Exception as exc:  # jinja2 errors of every kind, with file and line
            return None, [template_problem(exc, renderer.templates)]
        if site.problems:
            return None, site.problems
        return site, []

    # --- incremental rebuild ---------------------------------------------------------------

    def rebuild(self, changed: set[Path]) -> list[Problem]:
        """Apply a set of changed paths; on error keep the last good site and return problems.

        With `defer` (serve), a content change writes only the changed agency years' pages
        and data files; the site-wide pages follow in `finish()`, after the browser reloads.
        Without it, `finish()` is done here, so the site is complete on return."""
        with self.lock:
            started = time.perf_counter()
            problems = self._rebuild(changed)
            self.problems = [p for p in problems if p.is_error]
            self.last_seconds = time.perf_counter() - started
            if not self.problems:
                self.generation += 1
        if not self.defer and not self.problems:
            problems = problems + (self.finish() or [])
        return problems

    def finish(self) -> Optional[list[Problem]]:
        """Bring the site-wide pages and data up to date after a content change; the problems
        (also kept as `problems`), or None when there was nothing to do or a newer change came
        meanwhile (its own `finish()` follows)."""
        with self.lock:
            if not self.site_wide_due:   # (an error since then kept the facts of the last good build)
                return None
            generation, facts, year_files = self.generation, self.facts, self.year_files
        # Rendered without the lock, so that a newer save is not kept waiting for the lists
        # of 10,000 pages; `facts` and `year_files` are replaced on change, never mutated.
        site, problems = self._render_site_wide(facts, year_files)
        with self.lock:
            if generation != self.generation:
                return None
            if site is None:
                self.problems = [p for p in problems if p.is_error]
                return problems
            problems = self._write(site, prefixes=set(SITE_WIDE), hold=False)
            self.site_wide_due = False
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
            self.site_wide_due = False
            return self._write(site, prefixes=None, hold=self.defer) + problems + [
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
        site, render_problems = self._render_years(years)
        if site is None:
            self.facts = old_facts
            return render_problems
        # Stale files may be left only under the changed agency years' old and new addresses
        # (a removed year's data files go when `finish()` rewrites data/).
        prefixes = {self._prefix(old_facts.get(p)) for p in years} | {self._prefix(new_facts.get(p)) for p in years}
        prefixes.discard(None)
        self.site_wide_due = True
        return self._write(site, prefixes=prefixes, hold=False) + problems + [
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

    def _write(self, site: Site, prefixes: Optional[set[str]], hold: bool = False) -> list[Problem]:
        """Write changed files only. `prefixes` limits which old files may be stale (None: all);
        `hold` keeps DEFERRED files for `flush()`."""
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
                if hold and rel.startswith(DEFERRED):
                    self.pending[rel] = data
                else:
                    _write_atomic(_target(output, rel), data)
        stale = sorted(rel for rel in self.written
                       if (scope is None or rel.startswith(scope)) and rel not in fresh)
        for rel in stale:
            self.pending.pop(rel, None)
            try:
                _target(output, rel).unlink()
            except FileNotFoundError:
                pass
        # Folders emptied by that go too, as a clean build would not have them.
        for folder in sorted({rel.rsplit("/", 1)[0] for rel in stale if "/" in rel}, key=len, reverse=True):
            while folder:
                try:
                    _target(output, folder).rmdir()
                except OSError:   # not empty (or already gone)
                    break
                folder = folder.rsplit("/", 1)[0] if "/" in folder else ""
        if scope is None:
            self.written = fresh
        else:   # updated in place: copying 10,000 pages' entries cost more than the change
            for rel in stale:
                del self.written[rel]
            self.written.update(fresh)
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
            say("serve: cannot watch every folder any more; restart serve to see later changes")

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
                        say("serve: cannot watch a new folder; restart serve to see changes in it")
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
                say(f"serve: {type(exc).__name__}: {exc}")


class Indexer(Debounced):
    """Refreshes the search index after the pages, in the background, one run at a time.

    The index (tens of seconds of CPU at 10,000 pages) is built in a separate process at
    the lowest CPU priority: in a thread of this process it held the interpreter lock and
    took a core right when a changed page was being rendered and served."""

    def __init__(self, live: LiveSite):
        self.live = live
        super().__init__(self._index, INDEX_DELAY_SECONDS)

    def _index(self) -> None:
        import subprocess
        code = ("import sys; sys.path.insert(0, sys.argv[1]); from gongkai.serve import index_child; "
                "sys.exit(index_child(sys.argv[2]))")
        # One process (GONGKAI_WORKERS=1): a pool of forked workers can deadlock when it is
        # interrupted (seen when serve ended mid-index), and one core is left to the server.
        proc = subprocess.Popen(
            [sys.executable, "-c", code, str(Path(__file__).resolve().parent.parent), str(self.live.output)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env={**os.environ, "GONGKAI_WORKERS": "1"})
        # stdin stays open while this process lives: its end tells the child to stop.
        out = proc.stdout.read()
        proc.wait()
        proc.stdin.close()
        if proc.returncode != 0:   # search is optional while previewing
            say("search index not refreshed: " + out.decode("utf-8", "replace").strip())


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
    from .index import BUNDLE, build_index
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
