"""Find the agency-year files under content/, read one, and the checks across files."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Optional

from . import urls
from .cache import ParseCache
from .config import Config
from .derive import YearFacts, YearOutline, derive_year
from .errors import Problem, relpath
from .files import LINK, walk_folder
from .validate import name_key, validate_file


def find_files(paths: Iterable[Path]) -> list[Path]:
    """Content files: given files as they are; folders searched for every `*.yaml` and
    `*.yml`, wherever it is, so that one saved in the wrong place is reported by validation
    ("file is at … but …"), never silently left out. Not content: what is inside an agency
    year's originals folder (`content/{year}/{agency}/` beside `{agency}.yaml`).

    Listed by name only: no file is opened, a folder that is a symbolic link is not entered
    but its `*.y*ml` files are listed (validation refuses them), and a pipe or device named
    `*.yaml` is listed so that the loader refuses it by name."""
    found: set[Path] = set()
    for path in paths:
        if not os.path.lexists(path):
            raise FileNotFoundError(path)
        if path.is_symlink() or not path.is_dir():
            found.add(path)
            continue
        root = path.parent if urls.is_year_folder(path.name) else path   # the content folder
        for rel, entry, kind in walk_folder(str(path), lambda rel: _is_originals(root, path, rel)):
            name = Path(entry)
            if name.suffix.lower() in urls.CONTENT_SUFFIXES:
                found.add(name)   # a .yml file is reported as misnamed, never left out
            elif kind == LINK and name.is_dir() and not _is_originals(root, path, rel + "/"):
                # Not entered: its files are listed so that validation refuses them.
                found.update(p for p in name.iterdir() if p.suffix.lower() in urls.CONTENT_SUFFIXES)
    return sorted(found)


def _is_originals(root: Path, top: Path, rel: str) -> bool:
    """Whether `rel` (below `top`, a folder ending in "/") is an agency year's originals
    folder: `{year}/{agency}/` with `{year}/{agency}.yaml` beside it."""
    if not rel.endswith("/"):
        return False
    folder = top / rel
    owner = urls.agency_file_of(root, folder / "x")
    return owner is not None and owner.parent == folder.parent and os.path.lexists(owner)


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
    """Two agency years that would have one address /{year}/{agency}/, also where the two
    differ only in case (one folder on Windows and macOS servers, D20)."""
    problems, seen = [], {}
    for year in sorted(years, key=lambda y: y.source):
        key = (year.year, name_key(year.ident))
        other = seen.get(key)
        if other is not None and other.ident == year.ident:
            problems.append(Problem(year.source, 1, 1,
                                    f"两个部门年度使用同一个地址 /{year.year}/{year.ident}/："
                                    f"本文件和 {other.source}",
                                    hint="给其中一个部门另起一个 `agency.slug`（小写字母、数字和 '-'）"))
        elif other is not None:
            problems.append(Problem(year.source, 1, 1,
                                    f"部门年度地址 /{year.year}/{year.ident}/ 与 {other.source} 的 "
                                    f"/{other.year}/{other.ident}/ 只有大小写不同；在 Windows 和 macOS 上它们是同一个文件夹",
                                    hint="给其中一个部门另起一个 `agency.slug`（小写字母、数字和 '-'）"))
        seen[key] = year
    return problems
