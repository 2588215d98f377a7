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
from pathlib import Path
from typing import Iterator, Optional

import jinja2

from . import opendata, parallel, verify
from .cache import ParseCache
from .config import load_config
from .content import address_clashes, find_files, order
from .derive import YearFacts, derive_year
from .errors import Problem, relpath, sort_key
from .progress import Progress
from .render import Renderer, Site, site_folder, template_problem
from .validate import validate_file
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
        for path in sorted(p for p in folder.rglob("*") if (p.is_file() or p.is_symlink())
                           and "__pycache__" not in p.parts):
            digest.update(f"{n}/{path.relative_to(folder).as_posix()}".encode("utf-8", "surrogateescape") + b"\0")
            if path.is_symlink():   # rglob does not enter a linked folder; the check refuses links out
                digest.update(b"link:" + os.fsencode(os.readlink(path)) + b"\0")
            try:
                digest.update(hashlib.sha256(path.read_bytes()).digest())
            except OSError:
                digest.update(b"unreadable")
    return digest.hexdigest()


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
    workers = parallel.worker_count()
    try:
        facts, problems = load_facts(config, workers)
    except FileNotFoundError as exc:
        say(f"{exc.args[0]}: error: content folder not found")
        return 1
    errors = report(problems)
    notes = len(problems) - errors
    if errors:
        say(f"build stopped: {errors} error(s); nothing was written")
        return 1
    try:
        epoch = source_date_epoch()
    except ValueError as exc:
        say(f"error: {exc}")
        return 1

    index = verify.checked(_index_step(config) if search else None)   # then check every page
    counts = {}
    try:
        publish(lambda staging: counts.update(render_into(staging, config, facts, epoch, workers)),
                target, config.content_dir, config.root, before_swap=index, stamp=stamp)
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

    say(f"built {target}: {counts['pages']} pages, {counts['files']} files, "
        f"{len(facts)} agency year(s), {sum(len(f.projects) for f in facts)} project(s), {notes} note(s)")
    return 0


# --- stage 1: read, check and derive every content file (in workers) ----------------------

def load_facts(config, workers: int) -> tuple[list[YearFacts], list[Problem]]:
    """Every agency year checked and derived, in site order, with every problem found."""
    files = find_files([config.content_dir])
    parallel.STATE.update(config=config, cache=ParseCache(config.root / ".cache" / "models"))
    facts, problems = [], []
    work = parallel.tasks(files, 16)
    with Progress("读取内容", len(files)) as progress:
        for found, found_problems in parallel.run(_load_task, work, workers):
            facts += found
            problems += found_problems
            progress.advance(len(found) + sum(1 for p in found_problems if p.is_error))
    problems += address_clashes([f.year for f in facts])
    facts.sort(key=lambda f: order(f.year))
    return facts, problems


def _load_task(paths: list[Path]) -> tuple[list[YearFacts], list[Problem]]:
    config, cache = parallel.STATE["config"], parallel.STATE["cache"]
    facts, problems = [], []
    for path in paths:
        model, found = validate_file(path, config.content_dir, config.regions,
                                     relpath(path, config.root), cache)
        problems += found
        if model is not None:
            derived = derive_year(model)
            facts.append(derived)
            problems += derived.problems
    return facts, problems


# --- stage 2: render and write (agency years in workers, the rest here) ------------------

class RenderFailed(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


def render_into(staging: Path, config, facts: list[YearFacts], epoch, workers: int) -> dict:
    """Render every page into `staging`; raise RenderFailed on template errors or clashes."""
    renderer = Renderer(config, facts, epoch)
    try:   # compile once here; forked workers inherit the compiled templates
        for name in ("agency_year.html", "project.html", "home.html"):
            renderer.env.get_template(name)
    except jinja2.TemplateError as exc:
        raise RenderFailed([template_problem(exc, renderer.templates)]) from None
    parallel.STATE.update(renderer=renderer, facts=facts, staging=staging)
    per_year: list[dict[str, bytes]] = []
    problems: list[Problem] = []
    pages = files = 0
    work = parallel.tasks(range(len(facts)), 8)
    with Progress("生成页面", len(facts)) as progress:
        for data, found, written in parallel.run(_render_task, work, workers):
            per_year.append(data)
            problems += found
            pages += written[0]
            files += written[1]
            progress.advance(8)
    if problems:
        raise RenderFailed(problems)
    renderer.site = Site()
    try:
        site = renderer.render_common(opendata.site_data(per_year, facts, config.title))
    except jinja2.TemplateError as exc:
        raise RenderFailed([template_problem(exc, renderer.templates)]) from None
    if site.problems:
        raise RenderFailed(site.problems)
    write_files(staging, site)
    pages += sum(path.endswith(".html") for path in site.files)
    return {"pages": pages, "files": files + len(site.files) + len(site.copies)}


def _render_task(indexes: list[int]) -> tuple[dict[str, bytes], list[Problem], tuple[int, int]]:
    """Pages and data of some agency years, written straight into the staging folder."""
    renderer, facts = parallel.STATE["renderer"], parallel.STATE["facts"]
    renderer.site = Site()
    data: dict[str, bytes] = {}
    try:
        for i in indexes:
            year_files = opendata.year_data(facts[i])
            data.update(year_files)
            renderer.agency_year(facts[i], year_files)
    except jinja2.TemplateError as exc:
        return data, [template_problem(exc, renderer.templates)], (0, 0)
    site = renderer.site
    problems = site.problems + site.conflicts()
    if not problems:
        write_files(parallel.STATE["staging"], site)
    pages = sum(path.endswith(".html") for path in site.files)
    return data, problems, (pages, len(site.files) + len(site.copies))


class IndexFailed(Exception):
    """The search index step raised; the message is its error."""


def _index_step(config):
    """The search step run on the staging folder before it is swapped in."""
    def run(staging: Path) -> None:
        from .index import build_index
        try:
            build_index(staging, config)
        except Exception as exc:  # the index has its own failure modes; the site must not swap in
            raise IndexFailed(str(exc) or type(exc).__name__) from exc
    return run
