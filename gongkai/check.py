"""`build.py check`: validate content and print problems as `file:line:col: severity: …` lines."""
from __future__ import annotations

import sys
from pathlib import Path

from .config import load_config
from .content import load_content
from .derive import derive_year
from .errors import sort_key


def check_command(paths: list[str], config: str = "site_config.yaml") -> int:
    """Print every error and note; exit 1 on any error, 0 otherwise."""
    cfg, problems = load_config(config)
    if cfg is None:
        for problem in problems:
            print(problem.format())
        return 1
    try:
        years, problems = load_content(cfg, [Path(p) for p in paths] or None)
    except FileNotFoundError as exc:
        print(f"{exc.args[0]}: error: no such file or folder", file=sys.stderr)
        return 1
    for year in years:
        problems += derive_year(year).problems
    problems.sort(key=sort_key)
    for problem in problems:
        print(problem.format())
    errors = sum(p.is_error for p in problems)
    notes = len(problems) - errors
    print(f"{len(years)} agency year(s) checked: {errors} error(s), {notes} note(s)", file=sys.stderr)
    return 1 if errors else 0
