"""`build.py build`: validate everything, render in memory, write to staging, index, swap in.

Nothing is written until every input has been read and every page rendered, so an error
in content, configuration or a template leaves the previous site as it was. User errors
print a message (`file:line:col: error: …`), never a traceback.
"""
from __future__ import annotations

import contextlib
import datetime
import hashlib
import os
import signal
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

import jinja2

from . import index, opendata, parallel, verify
from .cache import ParseCache
from .config import load_config
from .content import address_clashes, find_files, order, read_year
from .derive import YearFacts, outline
from .errors import Problem, sort_key
from .files import LINK, OTHER, walk_folder
from .progress import Progress
from .render import Renderer, Site, site_folder, template_problem
from .write import WriteError, clean_stale, publish, stamp_of, write_files


def say(line: str) -> None:
    print(line, file=sys.stderr)


def report(problems: list[Problem]) -> int:
    """Print every problem; return the number of errors among them."""
    for problem in sorted(problems, key=sort_key):
        say(problem.format())
    return sum(p.is_error for p in problems)


def source_date_epoch() -> Optional[datetime.date]:
    """The date of SOURCE_DATE_EPOCH (reproducible builds), or None when it is not set."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise ValueError(f"SOURCE_DATE_EPOCH must be a whole number of seconds, got {value!r}")
    return datetime.datetime.fromtimestamp(int(value), datetime.timezone.utc).date()


@contextlib.contextmanager
def terminate_as_exit() -> Iterator[None]:
    """Turn SIGTERM into SystemExit so a killed build still removes its staging folder."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def build_command(config_path: str | Path, output: Optional[str | Path] = None, search: bool = True,
                  force: bool = False) -> int:
    """Build the site; 0 on success, 1 on any error (with the previous site untouched)."""
    with terminate_as_exit():
        return _build(Path(config_path), output, search, force)


def fingerprint(config, config_path: Path, search: bool) -> str:
    """A hash of everything the output depends on: content and originals, configuration,
    templates, theme, this program's code, SOURCE_DATE_EPOCH and the search switch.
    Paths enter relative to their folder, so two copies of one project agree."""
    digest = hashlib.sha256(f"search={search};epoch={os.environ.get('SOURCE_DATE_EPOCH', '')}".encode())
    digest.update(hashlib.sha256(config_path.read_bytes()).digest())
    folders = [config.content_dir, site_folder(config, "templates"), site_folder(config, "theme"),
               Path(__file__).parent]
    for n, folder in enumerate(folders):
        for rel, path, kind in sorted(walk_folder(str(folder), _pycache)):
            if kind == OTHER:
                continue
            digest.update(f"{n}/{rel}".encode("utf-8", "surrogateescape") + b"\0")
            if kind == LINK:   # a linked folder is not entered; the check refuses links out
                digest.update(b"link:" + os.fsencode(os.readlink(path)) + b"\0")
            try:
                with open(path, "rb") as f:
                    digest.update(hashlib.file_digest(f, "sha256").digest())
            except OSError:
                digest.update(b"unreadable")
    return digest.hexdigest()


def _pycache(rel: str) -> bool:
    return rel.endswith("/") and rel.rstrip("/").rpartition("/")[2] == "__pycache__"


def _build(config_path: Path, output: Optional[str | Path], search: bool, force: bool = False) -> int:
    config, problems = load_config(config_path)
    if config is None:
        report(problems)
        return 1
    target = Path(output) if output is not None else config.output_dir
    stamp = fingerprint(config, config_path, search)
    if not force and stamp_of(target) == stamp:
        clean_stale(Path(os.path.abspath(target)))   # leftovers of a killed run go even now
        say(f"{target} is up to date: no input changed since it was built (build.py build --force rebuilds)")
        return 0
    try:
        epoch = source_date_epoch()
        files = find_files([config.content_dir])
    except ValueError as exc:
        say(f"error: {exc}")
        return 1
    except FileNotFoundError as exc:
        say(f"{exc.args[0]}: error: content folder not found")
        return 1
    with contextlib.ExitStack() as scratch:
        # With search, the workers write each page's shadow page while its bytes are in memory.
        # The scratch folder goes to /dev/shm if it has room for the pages of 16 projects per
        # agency-year file (the seeds have up to 15), which is all the estimate decides.
        shadows = None
        if search:
            try:
                shadows = index.ShadowPages(scratch.enter_context(index.scratch(len(files) * 16)))
            except OSError as exc:
                say(f"error: search index failed: no scratch folder for it: {exc}")
                return 1
        work = SiteBuild(config, epoch, shadows)
        step = verify.checked(_index_step(config, target, shadows) if search else None, work.scans)
        return _publish(work, files, target, config, stamp, step)


def _publish(work: "SiteBuild", files: list[Path], target: Path, config, stamp: str, step) -> int:
    """Fill, index, check and swap in the site; report what happened."""
    try:
        publish(lambda staging: work.fill(staging, files), target, config.content_dir, config.root,
                before_swap=step, stamp=stamp)
    except ContentFailed as exc:
        errors = report(exc.problems)
        say(f"build stopped: {errors} error(s); nothing was written")
        return 1
    except RenderFailed as exc:
        report(exc.problems)
        say("build stopped: nothing was written")
        return 1
    except WriteError as exc:
        say(f"error: {exc}")
        return 1
    except IndexFailed as exc:
        say(f"error: search index failed, the previous site is unchanged: {exc} "
            "(build without search: build.py build --no-search)")
        return 1
    except verify.VerifyFailed as exc:
        say(f"error: the built site failed its checks; the previous site is unchanged: {exc}")
        return 1
    except OSError as exc:
        say(f"{exc.filename or target}: error: cannot write the site: {exc.strerror or exc}")
        return 1

    notes = len(work.problems)
    report(work.problems)
    say(f"built {target}: {work.pages} pages, {work.files} files, "
        f"{len(work.outlines)} agency year(s), {sum(len(f.projects) for f in work.outlines)} project(s), "
        f"{notes} note(s)")
    return 0


# --- read, check, derive, render, write and scan each agency year (in workers) -----------

class ContentFailed(Exception):
    """Content errors: nothing is published; `problems` holds every error and note."""

    def __init__(self, problems: list[Problem]):
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


class RenderFailed(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


class SiteBuild:
    """One build's work. Each agency-year file goes through every stage in one worker (read,
    check, derive, render, write into staging, check the pages) so that its model and
    pages never cross a process boundary; the main process gets back an outline of it
    (`derive.outline`) and its open-data files' entries for the data package, for the
    site-wide pages and data it makes last."""

    def __init__(self, config, epoch: Optional[datetime.date], shadows: Optional[index.ShadowPages] = None):
        self.config, self.epoch, self.shadows = config, epoch, shadows
        self.outlines: list[YearFacts] = []
        self.problems: list[Problem] = []      # notes, once the build succeeded
        self.scans: list[verify.Scan] = []
        self.pages = self.files = 0

    def fill(self, staging: Path, files: list[Path]) -> None:
        """Write the whole site into `staging`; raise ContentFailed or RenderFailed."""
        config = self.config
        renderer = Renderer(config, [], self.epoch)
        try:   # compile once here; forked workers inherit the compiled templates
            for name in ("agency_year.html", "project.html", "home.html"):
                renderer.env.get_template(name)
        except jinja2.TemplateError as exc:
            raise RenderFailed([template_problem(exc, renderer.templates)]) from None
        parallel.STATE.update(config=config, renderer=renderer, staging=staging,
                              cache=ParseCache(config.root / ".cache" / "models"),
                              shadow_folder=str(self.shadows.folder) if self.shadows else None)
        resources: list[list[dict]] = []
        failed: list[Problem] = []
        with Progress("生成页面", len(files)) as progress:
            for batch in parallel.run(_year_task, parallel.tasks(files, 4), parallel.worker_count()):
                self.outlines += batch.outlines
                resources += batch.resources
                self.problems += batch.problems
                failed += batch.failed
                self.scans.append(batch.scan)
                self.pages += batch.pages
                self.files += batch.files
                if self.shadows is not None:
                    self.shadows.add(batch.shadows, batch.seen)
                progress.advance(batch.count)
        self.problems += address_clashes([f.year for f in self.outlines])
        if any(p.is_error for p in self.problems):
            raise ContentFailed(self.problems)
        if failed:   # every worker meets a broken template: say it once
            raise RenderFailed(list({p.format(): p for p in failed}.values()))
        # Site order; the data-package entries keep the order of their agency years.
        ranked = sorted(range(len(self.outlines)), key=lambda i: order(self.outlines[i].year))
        self.outlines = [self.outlines[i] for i in ranked]
        resources = [resources[i] for i in ranked]
        common = Renderer(config, self.outlines, self.epoch)
        # The agency years' data files are in staging already (the workers wrote them): the
        # site-wide CSVs are joined from there, so they are never all held in memory here.
        data = opendata.site_wide_data(self.outlines, lambda path: (staging / path).read_bytes(),
                                       config.title, resources)
        try:
            site = common.render_common(data)
        except jinja2.TemplateError as exc:
            raise RenderFailed([template_problem(exc, common.templates)]) from None
        if site.problems:
            raise RenderFailed(site.problems)
        write_files(staging, site)
        self.pages += sum(path.endswith(".html") for path in site.files)
        self.files += len(site.files) + len(site.copies)


@dataclass
class Batch:
    """What a worker hands back for a few agency-year files."""
    count: int
    outlines: list[YearFacts] = field(default_factory=list)
    resources: list[list[dict]] = field(default_factory=list)    # data-package entries, per agency year
    problems: list[Problem] = field(default_factory=list)        # content errors and notes
    failed: list[Problem] = field(default_factory=list)          # template errors, path clashes
    scan: verify.Scan = field(default_factory=verify.Scan)
    pages: int = 0
    files: int = 0
    shadows: list = field(default_factory=list)    # (path, facets, digest) of each shadow page written
    seen: list[str] = field(default_factory=list)  # the pages whose shadow pages were made (if searched)


def _year_task(paths: list[Path]) -> Batch:
    """Some agency-year files, each read, checked, derived, rendered and written to staging."""
    config, cache, renderer = parallel.STATE["config"], parallel.STATE["cache"], parallel.STATE["renderer"]
    batch = Batch(len(paths))
    renderer.site = Site()
    for path in paths:
        facts, found = read_year(path, config, cache)
        batch.problems += found
        if facts is None or batch.failed or any(p.is_error for p in batch.problems):
            continue                          # the build fails: check the rest, render nothing
        year_files = opendata.year_data(facts)
        try:
            renderer.agency_year(facts, year_files)
        except jinja2.TemplateError as exc:
            batch.failed.append(template_problem(exc, renderer.templates))
            continue
        for path, payload in year_files.items():
            renderer.site.add(path, payload, "gongkai/opendata.py")
        batch.outlines.append(outline(facts))
        batch.resources.append(opendata.year_resources(facts, year_files, remember=False))
    site = renderer.site
    batch.failed += site.problems + site.conflicts()
    if batch.failed or any(p.is_error for p in batch.problems):
        return batch
    write_files(parallel.STATE["staging"], site)
    if parallel.STATE.get("shadow_folder"):
        batch.shadows = index.shadow_files(site.files, parallel.STATE["shadow_folder"])
        batch.seen = [rel for rel in site.files if rel.endswith(".html")]
    batch.scan = verify.scan_written(site.files, (rel for _, rel in site.copies))
    batch.pages = sum(path.endswith(".html") for path in site.files)
    batch.files = len(site.files) + len(site.copies)
    return batch


class IndexFailed(Exception):
    """The search index step raised; the message is its error."""


def _index_step(config, target: Path, shadows: Optional[index.ShadowPages]):
    """The search step run on the staging folder before it is swapped in. Parts of the
    index whose pages' text did not change are taken from the site being replaced."""
    def run(staging: Path) -> None:
        try:
            stats = index.build_index(staging, config, previous=Path(target) / index.BUNDLE, shadows=shadows)
        except Exception as exc:  # the index has its own failure modes; the site must not swap in
            raise IndexFailed(str(exc) or type(exc).__name__) from exc
        if stats.get("reused"):
            say(f"search index: {stats['reused']} of {stats['parts']} part(s) unchanged, "
                f"taken from the previous build")
    return run
