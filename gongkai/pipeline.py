"""`build.py build`: validate everything, render in memory, write to staging, index, swap in.

Nothing is written until every input has been read and every page rendered, so an error
in content, configuration or a template leaves the previous site as it was. User errors
print a message (`file:line:col: error: …`), never a traceback.
"""
from __future__ import annotations

import contextlib
import datetime
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Iterator, Optional

from .config import load_config
from .content import load_content
from .derive import derive_year
from .errors import Problem, sort_key
from .render import render_site
from .write import WriteError, write_site


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


def build_command(config_path: str | Path, output: Optional[str | Path] = None, search: bool = True) -> int:
    """Build the site; 0 on success, 1 on any error (with the previous site untouched)."""
    with terminate_as_exit():
        return _build(Path(config_path), output, search)


def _build(config_path: Path, output: Optional[str | Path], search: bool) -> int:
    config, problems = load_config(config_path)
    if config is None:
        report(problems)
        return 1
    try:
        years, problems = load_content(config)
    except FileNotFoundError as exc:
        say(f"{exc.args[0]}: error: content folder not found")
        return 1
    facts = [derive_year(year) for year in years]
    problems += [p for f in facts for p in f.problems]
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

    site, render_problems = render_site(config, facts, epoch)
    if site is None:
        report(render_problems)
        say("build stopped: nothing was written")
        return 1

    target = Path(output) if output is not None else config.output_dir
    index = _index_step(config) if search else None
    try:
        write_site(site, target, config.content_dir, config.root, before_swap=index)
    except WriteError as exc:
        say(f"error: {exc}")
        return 1
    except IndexFailed as exc:
        say(f"error: search index failed, the previous site is unchanged: {exc} "
            "(build without search: build.py build --no-search)")
        return 1
    except OSError as exc:
        say(f"{exc.filename or target}: error: cannot write the site: {exc.strerror or exc}")
        return 1

    pages = sum(path.endswith(".html") for path in site.files)
    say(f"built {target}: {pages} pages, {len(site.files) + len(site.copies)} files, "
        f"{len(facts)} agency year(s), {sum(len(f.projects) for f in facts)} project(s), {notes} note(s)")
    return 0


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
