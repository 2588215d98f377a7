"""Find the agency-year files under content/, read one, and the checks across files."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Optional

from . import urls
from .cache import ParseCache
from .config import Config
from .derive import YearFacts, YearOutline, derive_year
from .errors import Problem, relpath
from .validate import validate_file


def find_files(paths: Iterable[Path]) -> list[Path]:
    """Agency-year files: given files as they are; folders searched for content/{year}/*.yaml
    (exactly one level below a year folder: deeper files are originals, whatever their name)."""
    found: set[Path] = set()
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(path)
        if not path.is_dir():
            found.add(path)
            continue
        years = [path] if urls.is_year_folder(path.name) else [
            p for p in path.rglob("*") if urls.is_year_folder(p.name) and p.is_dir()
            and not urls.is_year_folder(p.parent.name)]
        for folder in years:
            for p in folder.iterdir():
                if p.suffix.lower() in urls.CONTENT_SUFFIXES and not p.is_dir():
                    found.add(p)   # a .yml file is reported as misnamed, never left out
                elif p.is_symlink() and p.is_dir():   # not entered: its files are listed so
                    found.update(p.glob("*.y*ml"))    # that validation refuses them
    return sorted(found)


def read_year(path: Path, config: Config, cache: Optional[ParseCache] = None
              ) -> tuple[Optional[YearFacts], list[Problem]]:
    """One agency-year file read, checked and derived: its facts (None after an error) and
    every problem, derived notes included."""
    model, problems = validate_file(path, config.content_dir, config.regions, relpath(path, config.root), cache)
    if model is None:
        return None, problems
    facts = derive_year(model)
    return facts, problems + list(facts.problems)


def address_clashes(years: list[YearOutline]) -> list[Problem]:
    """Two agency years that would have one address /{year}/{agency}/."""
    problems, seen = [], {}
    for year in sorted(years, key=lambda y: y.source):
        key = (year.year, year.ident)
        if key in seen:
            problems.append(Problem(year.source, 1, 1,
                                    f"two agency years with one address /{key[0]}/{key[1]}/: "
                                    f"this file and {seen[key].source}",
                                    hint="give one of them another `agency.slug`"))
        seen[key] = year
    return problems
