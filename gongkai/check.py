"""`build.py check`: validate content and print problems as `file:line:col: severity: …` lines."""
from __future__ import annotations

import sys
from pathlib import Path

from . import parallel
from .cache import ParseCache
from .config import load_config
from .content import address_clashes, find_files, read_year
from .derive import outline
from .errors import Problem, sort_key
from .model import AgencyYear


def check_command(paths: list[str], config: str = "site_config.yaml") -> int:
    """Print every error and note; exit 1 on any error, 0 otherwise."""
    cfg, problems = load_config(config)
    if cfg is None:
        for problem in problems:
            print(problem.format())
        return 1
    try:
        files = find_files([Path(p) for p in paths] or [cfg.content_dir])
    except FileNotFoundError as exc:
        print(f"{exc.args[0]}: error: no such file or folder", file=sys.stderr)
        return 1
    # Same workers and parse cache as the build: a pre-commit check of a province is quick.
    parallel.STATE.update(config=cfg, cache=ParseCache(cfg.root / ".cache" / "models"))
    years: list[AgencyYear] = []
    problems = []
    for found_years, found in parallel.run(_check_task, parallel.tasks(files, 8), parallel.worker_count()):
        years += found_years
        problems += found
    problems += address_clashes(years)
    problems.sort(key=sort_key)
    for problem in problems:
        print(problem.format())
    errors = sum(p.is_error for p in problems)
    notes = len(problems) - errors
    print(f"{len(years)} agency year(s) checked: {errors} error(s), {notes} note(s)", file=sys.stderr)
    return 1 if errors else 0


def _check_task(paths: list[Path]) -> tuple[list[AgencyYear], list[Problem]]:
    """Problems of some files (with the derived notes), and their agency years in outline."""
    config, cache = parallel.STATE["config"], parallel.STATE["cache"]
    years, problems = [], []
    for path in paths:
        facts, found = read_year(path, config, cache)
        problems += found
        if facts is not None:
            years.append(outline(facts).year)
    return years, problems
