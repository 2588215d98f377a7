"""Find and load every agency-year file under content/, with checks across files."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Optional

from .cache import ParseCache
from .config import Config
from .derive import YearFacts, derive_year
from .errors import Problem, relpath, sort_key
from .model import AgencyYear
from .validate import validate_file


def find_files(paths: Iterable[Path]) -> list[Path]:
    """Agency-year files: given files as they are, folders searched for content/{year}/*.yaml."""
    found: set[Path] = set()
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(path)
        if path.is_dir():
            for p in path.rglob("*"):
                if p.suffix.lower() in (".yaml", ".yml") and p.parent.name.isdigit():
                    found.add(p)   # a .yml file is reported as misnamed, never left out
                elif p.is_symlink() and p.is_dir():   # rglob does not enter it: its files are
                    found.update(p.glob("*.y*ml"))    # listed so validation refuses them
        else:
            found.add(path)
    return sorted(found)


def load_content(config: Config, paths: Optional[list[Path]] = None,
                 cache: Optional[ParseCache] = None) -> tuple[list[AgencyYear], list[Problem]]:
    """Every agency year (sorted by year, newest first, then identifier) and all problems."""
    files = find_files(paths or [config.content_dir])
    years: list[AgencyYear] = []
    problems: list[Problem] = []
    for path in files:
        label = relpath(path, config.root)
        model, found = validate_file(path, config.content_dir, config.regions, label, cache)
        problems += found
        if model is not None:
            years.append(model)
    problems += address_clashes(years)
    years.sort(key=order)
    problems.sort(key=sort_key)
    return years, problems


def read_year(path: Path, config: Config, cache: Optional[ParseCache] = None
              ) -> tuple[Optional[YearFacts], list[Problem]]:
    """One agency-year file read, checked and derived: its facts (None after an error) and
    every problem, derived notes included."""
    model, problems = validate_file(path, config.content_dir, config.regions, relpath(path, config.root), cache)
    if model is None:
        return None, problems
    facts = derive_year(model)
    return facts, problems + list(facts.problems)


def order(year: AgencyYear) -> tuple:
    """Site order of agency years: newest year first, then identifier."""
    return (-year.year, year.agency.ident)


def address_clashes(years: list[AgencyYear]) -> list[Problem]:
    """Two agency years that would have one address /{year}/{agency}/."""
    problems, seen = [], {}
    for year in sorted(years, key=lambda y: y.source):
        key = (year.year, year.agency.ident)
        if key in seen:
            problems.append(Problem(year.source, 1, 1,
                                    f"two agency years with one address /{key[0]}/{key[1]}/: "
                                    f"this file and {seen[key].source}",
                                    hint="give one of them another `agency.slug`"))
        seen[key] = year
    return problems
