"""The live site: the build's pipeline (`site.Site`) driven by changes, written by byte diff.

`LiveSite` keeps, for every agency-year file, the pipeline's latest result with its
rendered files, whether or not it has errors. The files on disk are those of the last
state without errors. A change re-reads the files it touches (and, when files or folders
came or went, every file whose bytes or times changed); when no file then has an error,
the changed agency years' files are checked and written (only the bytes that differ),
the browser reloads, and the pages that list every agency year follow (`finish`). So a
burst of saves with one broken file loses nothing: once it is fixed, every change of the
burst is written. What is served equals a clean build of the same files.

A template, theme or configuration change re-renders everything. Removing the output
folder makes the next rebuild write it whole again.
"""
from __future__ import annotations

import html
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Optional

from .. import urls, verify
from ..config import Config, load_config, source_date_epoch
from ..console import excerpt_of
from ..errors import Problem, relpath
from ..render import Output, site_folder
from ..site import Site, YearResult, ranked, settle_links, year_result
from ..write import MARKER, WriteError, _target, staging, write_files


class LiveSite:
    """The served site: the pipeline's results, what is on disk, the incremental rebuild."""

    def __init__(self, config_path: Path, output: Optional[Path] = None):
        self.config_path = Path(config_path).resolve()
        self.output_arg = output
        self.config: Optional[Config] = None
        self.site: Optional[Site] = None
        self.files: list[Path] = []                   # the agency-year files, as last found
        self.results: dict[Path, YearResult] = {}     # each file's latest result
        self.signatures: dict[Path, tuple] = {}       # each file's times and sizes when read
        self.shown: dict[Path, YearResult] = {}      # the results whose files are on disk
        self.common: Optional[Output] = None          # the site-wide files on disk
        self.copied: dict[str, tuple] = {}            # originals on disk: path -> source, its times
        self.problems: list[Problem] = []             # errors of the last attempt (empty = good)
        self.defer = False                   # hold back DEFERRED files until flush() (serve)
        self.pending: dict[str, bytes] = {}
        # The pages that list every agency year still show them as before the last change;
        # `finish()` brings them up to date.
        self.site_wide_due = False
        self.rerender = True                 # templates or configuration changed: all pages anew
        self.site_broken = False             # the configuration or a template has an error
        self.generation = 0                  # bumped by every rebuild that wrote
        self.last_seconds = 0.0
        self.lock = threading.Lock()

    @property
    def output(self) -> Path:
        if self.output_arg is not None:
            return Path(self.output_arg).resolve()
        return self.config.output_dir.resolve() if self.config else Path("_site").resolve()

    def start(self) -> list[Problem]:
        """The first build: everything, through a staging folder like `build.py build`."""
        return self.rebuild({self.config_path})

    def rebuild(self, changed: set[Path]) -> list[Problem]:
        """Apply a set of changed paths (files, folders, the configuration, the output
        folder); on error keep the last good site and return the problems.

        With `defer` (serve), the pages listing every agency year follow in `finish()`,
        after the browser reloads; without it they are done here."""
        with self.lock:
            started = time.perf_counter()
            problems = self._rebuild(changed)
            if any(p.is_error for p in problems) and self.common is not None and not (self.output / MARKER).is_file():
                # The output folder was removed meanwhile: the last good site goes back.
                problems += self._write_whole(list(self.shown.values()), self.common)
            self.problems = [p for p in problems if p.is_error]
            self.last_seconds = time.perf_counter() - started
        if not self.defer and not self.problems:
            problems = problems + (self.finish() or [])
        return problems

    # --- reading: which files changed, and their results --------------------------------

    def _rebuild(self, changed: set[Path]) -> list[Problem]:
        if (self.site is None or self.site_broken or self.config_path in changed
                or any(self._is_design(p) for p in changed)):
            problems = self._load_site()
            self.site_broken = bool(problems)   # read again on every change until it is fixed
            if problems:
                return problems
        content = self.config.content_dir.resolve()
        owners = {urls.agency_file_of(content, p) for p in changed} - {None}
        if self._structure_changed(changed, owners):
            before = self.site.renderer.agency_years
            try:
                self.files = [p.resolve() if not p.is_symlink() else p.absolute()
                              for p in self.site.content_files()]
            except FileNotFoundError:
                return [Problem(relpath(self.config.content_dir, self.config.root), 1, 1,
                                "找不到内容文件夹")]
            stale = {p for p in self.files if self.signatures.get(p) != _signature(p)}
            # A year added or removed changes the other years' pages of that agency (their links).
            after = self.site.renderer.agency_years
            moved = {ident for ident in before.keys() | after.keys() if before.get(ident) != after.get(ident)}
            stale |= {p for p in self.files if p.stem in moved}
        else:
            stale = set()
        job = self.site.job(keep=True)
        read = []
        for path in self.files:
            if path in owners or path in stale or path not in self.results:
                self.signatures[path] = _signature(path)
                self.results[path] = year_result(job, path)
                read.append(self.results[path])
        for path in set(self.results) - set(self.files):
            del self.results[path], self.signatures[path]
        results = [self.results[p] for p in self.files]
        problems = Site.judge(results)
        if any(p.is_error for p in problems):
            return [p for p in problems if p.is_error]
        # The notes of the files read now (those of the others were shown when they were).
        return self._publish(results) + Site.judge(read)

    def _load_site(self) -> list[Problem]:
        """Configuration and templates, read again; on errors the last good ones stay."""
        config, problems = load_config(self.config_path)
        if config is None:
            return problems
        try:
            site = Site(config, source_date_epoch())
        except ValueError as exc:
            return [Problem(relpath(self.config_path), 1, 1, str(exc))]
        problems = site.compile()
        if problems:
            return problems
        self.config, self.site = config, site
        self.files, self.results, self.signatures = [], {}, {}   # every file is read again
        self.rerender = True                                     # and every page rendered
        return []

    def _structure_changed(self, changed: set[Path], owners: set[Path]) -> bool:
        """Whether files may have come or gone: a path that is no known agency-year file
        (a folder, a new or removed file, an original), or nothing read yet."""
        if not self.files:
            return True
        known = set(self.files)
        return any(p not in known or not p.exists() for p in changed) or not owners <= known

    def _is_design(self, path: Path) -> bool:
        if self.config is None:
            return False
        for name in ("templates", "theme"):
            folder = site_folder(self.config, name).resolve()
            if path == folder or path.is_relative_to(folder):
                return True
        return False

    # --- checking and writing -----------------------------------------------------------

    def _publish(self, results: list[YearResult]) -> list[Problem]:
        """Check the agency years' pages and the links between pages, then write what changed."""
        output_lost = not (self.output / MARKER).is_file()
        whole = output_lost or self.rerender or self.common is None
        common = self._render_common(results) if whole else (self.common, [])
        if common[0] is None:
            return common[1]
        problems = self._check(results, common[0], scan_common=whole)
        if problems:
            return problems
        if output_lost or self.common is None:
            # The first write of this session goes through staging as a build does: what the
            # folder held before (a build's pages of removed agency years) does not linger,
            # and a folder holding files this tool did not write is refused.
            return self._write_whole(results, common[0])
        for result in results:
            if self.shown.get(result.source) is not result:
                self._write_output(self.shown.get(result.source), result.output,
                                   hold=self.defer and whole)
        for source in set(self.shown) - {r.source for r in results}:
            self._write_output(self.shown[source], None)
        if whole:
            self._write_common(common[0], hold=self.defer)
        self.shown = {r.source: r for r in results}
        self.site_wide_due = not whole
        self.rerender = False
        self.generation += 1
        return []

    def finish(self) -> Optional[list[Problem]]:
        """Bring the pages that list every agency year up to date after a content change;
        the problems (also kept as `problems`), or None when there was nothing to do or a
        newer change came meanwhile (its own `finish()` follows)."""
        with self.lock:
            if not self.site_wide_due:
                return None
            generation, results = self.generation, list(self.shown.values())
        # Rendered without the lock, so that a newer save is not kept waiting for the lists
        # of 10,000 agency years; results are replaced on change, never changed.
        common, problems = self._render_common(results)
        with self.lock:
            if generation != self.generation:
                return None
            if common is None or (problems := self._check(results, common, scan_common=True)):
                self.problems = [p for p in problems if p.is_error]
                return problems
            self._write_common(common, hold=False)
            self.site_wide_due = False
            return []

    def _render_common(self, results: list[YearResult]) -> tuple[Optional[Output], list[Problem]]:
        in_order = ranked(results)
        years = [r.outline for r in in_order]
        files = SiteFiles(in_order)
        data = self.site.site_wide_data(years, files.read, [r.resources for r in in_order])
        return self.site.common(years, data, files.read)

    def _check(self, results: list[YearResult], common: Output, scan_common: bool) -> list[Problem]:
        """The build's page checks: the agency years' own (done by the pipeline), the
        site-wide pages and every link that leads elsewhere. With `scan_common`, all of
        them; without, the site-wide pages are those of before the change: only the links
        of the changed agency years and the links into them are checked now, those into
        the site-wide pages when they are made anew (`finish`)."""
        files = SiteFiles(results, common)
        if scan_common:
            scans = [r.scan for r in results] + [verify.scan_written(common.files)]
        else:
            changed = [r for r in results if self.shown.get(r.source) is not r]
            touched = {urls.year_dir(r.outline.year, r.outline.ident) for r in changed} | {
                urls.year_dir(r.outline.year, r.outline.ident) for source, r in self.shown.items()
                if source not in self.results}
            scans = [r.scan for r in changed] + [r.scan for r in results
                                                  if r.links_out & touched and self.shown.get(r.source) is r]
        # Without `scan_common`, links into the site-wide pages wait for them: those that
        # exist, and an agency's page (agencies/…), which a new agency gets when they are made.
        later = (lambda target: False) if scan_common else (
            lambda target: target in common.owners or (target or "").startswith(urls.AGENCIES))
        content, others = settle_links(scans, files, lambda target: verify.page_ids(target, files.read(target)),
                                       later)
        templates = relpath(self.site.renderer.templates)
        return content + [Problem(templates, 1, 1, f"生成的网站未通过检查：{p}") for p in others]

    def _write_whole(self, results: list[YearResult], common: Output) -> list[Problem]:
        """The whole site through a staging folder, as the first build and after the output
        folder was removed."""
        try:
            with staging(self.output, self.config.content_dir, self.config.root) as folder:
                for result in results:
                    write_files(folder, _with_sources(result.output))
                write_files(folder, common)
        except (WriteError, OSError) as exc:
            return [Problem(relpath(self.output), 1, 1, f"无法写入网站：{exc}")]
        self.shown = {r.source: r for r in results}
        self.common = common
        self.copied = {rel: (str(source), _stat(source)) for r in results for source, rel in r.output.copies}
        self.pending = {}
        self.site_wide_due = False
        self.rerender = False
        self.generation += 1
        return []

    def _write_common(self, common: Output, hold: bool) -> None:
        self._write_output(self.common, common, hold)
        self.common = common

    def _write_output(self, old: Optional[YearResult | Output], new: Optional[Output], hold: bool = False) -> None:
        """Write the files of `new` whose bytes differ from `old`'s, remove those it no
        longer has (and folders that leaves empty). `hold` keeps DEFERRED files for flush()."""
        old = old.output if isinstance(old, YearResult) else old
        before = old.files if old is not None else {}
        after = new.files if new is not None else {}
        for rel, data in sorted(after.items()):
            known = before.get(rel)
            if known is data or known == data:
                continue
            if hold and rel.startswith(urls.DEFERRED):
                self.pending[rel] = data
            else:
                _write_atomic(_target(self.output, rel), data)
        copies = {rel: source for source, rel in new.copies} if new is not None else {}
        for rel, source in sorted(copies.items()):
            signature = (str(source), _stat(source))
            if self.copied.get(rel) != signature:
                _copy_atomic(Path(source), _target(self.output, rel))
                self.copied[rel] = signature
        gone = sorted((set(before) | {rel for _, rel in old.copies} if old is not None else set())
                      - set(after) - set(copies))
        for rel in gone:
            self.pending.pop(rel, None)
            self.copied.pop(rel, None)
            try:
                _target(self.output, rel).unlink()
            except FileNotFoundError:
                pass
        for folder in sorted({rel.rsplit("/", 1)[0] for rel in gone if "/" in rel}, key=len, reverse=True):
            while folder:
                try:
                    _target(self.output, folder).rmdir()
                except OSError:   # not empty (or already gone)
                    break
                folder = folder.rsplit("/", 1)[0] if "/" in folder else ""

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
        root = self.config.root if self.config else Path.cwd()
        for problem in self.problems[:20]:
            source = excerpt_of(problem, root)
            items.append(f"<li><code>{html.escape(problem.format())}</code>"
                         + (f"<pre>{html.escape(source)}</pre>" if source else "") + "</li>")
        return ('<div id="gongkai-error-overlay" role="alert" style="position:fixed;z-index:2147483647;'
                'inset:0 0 auto 0;max-height:60vh;overflow:auto;background:#fff5f5;color:#5c0000;'
                'border-bottom:4px solid #b00020;padding:1em 1.5em;font:16px/1.6 monospace">'
                '<p style="margin:0 0 .5em;font-weight:bold">内容有错误，网站仍显示上一次正确生成的版本。'
                '改正并保存后此提示自动消失。</p><ol style="margin:0;padding-left:1.5em">'
                + "".join(items) + "</ol></div>")


class SiteFiles:
    """The files of the site as serve holds them, found through the agency year that made
    each (no map of every file is made on each change)."""

    def __init__(self, results: list[YearResult], common: Optional[Output] = None):
        self.by_folder = {urls.year_dir(r.outline.year, r.outline.ident): r.output for r in results}
        self.by_data = {path: r.output for r in results
                        for path in urls.year_data(r.outline.year, r.outline.ident).values()}
        self.common = common

    def output_of(self, path: str) -> Optional[Output]:
        first, _, rest = path.partition("/")
        out = self.by_folder.get(f"{first}/{rest.partition('/')[0]}/") or self.by_data.get(path)
        if out is not None and path in out.owners:
            return out
        return self.common if self.common is not None and path in self.common.owners else None

    def __contains__(self, path: str) -> bool:
        return self.output_of(path) is not None

    def read(self, path: str) -> bytes:
        out = self.output_of(path)
        return out.files.get(path, b"") if out is not None else b""


def _with_sources(out: Output) -> Output:
    """`out` without the copies whose source is gone (the last good site written again
    after its originals were deleted: what is left of it)."""
    if all(source.exists() for source, _ in out.copies):
        return out
    kept = Output(files=out.files, owners=out.owners)
    kept.copies = [(source, rel) for source, rel in out.copies if source.exists()]
    return kept


def _copy_atomic(source: Path, target: Path) -> None:
    """Replace one file by a copy of `source`, read in pieces (an original may be gigabytes)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.copyfile(source, tmp)
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)


def _write_atomic(target: Path, data: bytes) -> None:
    """Replace one file so a reader sees the old bytes or the new, never half."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)


def _stat(path: Path | str) -> Optional[tuple]:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)


def _signature(agency_file: Path) -> tuple:
    """The times and sizes of an agency-year file and of its originals: a file rewritten
    behind the watcher's back (a branch switched) shows here."""
    originals = urls.originals_folder(agency_file)
    try:
        listed = tuple(sorted((e.name, _stat(e.path)) for e in os.scandir(originals)))
    except OSError:
        listed = ()
    return (_stat(agency_file), listed)
