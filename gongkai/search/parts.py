"""The index in parts: how many, which pages each holds, what each is made from, and which
parts of the previous bundle can be taken over instead of being indexed again.

Pagefind indexes on about one core, so a large site is split into parts, one Pagefind
process each, as many at once as cores and memory allow (`at_once`), merged at query time by assets/search.js (`mergeIndex`). A
part's key digests everything its bytes depend on; a part of the previous bundle with the
same key and untouched files is linked into the new bundle.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Optional

from .. import searchtext
from .bundle import KEYS_FILE, files_digest, part_files
from .pagefind import PAGEFIND_VERSION, index_workers, pagefind_cmd

PART_PAGES = 500                     # pages per part at least before the index is split
# Memory: Pagefind holds about 0.42 MB per shadow page while it indexes (measured: 4.1 GB
# for six parts of 1,667 pages run at once). Parts of at most `part_limit` pages, at most
# `at_once` of them running together, keep the build with its index step within
# SEARCH_MEMORY_MB at any size of site, on any number of cores.
PAGEFIND_MB_PER_PAGE = 0.42
SEARCH_MEMORY_MB = 1450              # the build process and its Pagefind processes together
MAX_PART_PAGES = 1500


def own_memory_mb() -> float:
    """This process's resident memory (the build's outlines and results), in MB."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def part_limit(used_mb: float = 0.0) -> int:
    """The most pages in one part: MAX_PART_PAGES, fewer when the build itself holds so much
    (`used_mb`) that one Pagefind of that many would pass SEARCH_MEMORY_MB."""
    room = (SEARCH_MEMORY_MB - used_mb) / PAGEFIND_MB_PER_PAGE
    return max(PART_PAGES, min(MAX_PART_PAGES, int(room)))


def part_count(pages: int, workers: Optional[int] = None, used_mb: float = 0.0) -> int:
    """How many parts the index is split into. Pagefind indexes on about one core (10,000
    pages: 30 s wall, 39 s CPU), so past PART_PAGES pages per core the pages are split
    into parts, one Pagefind process each, merged at query time by assets/search.js
    (`mergeIndex`); and into parts of at most `part_limit` pages, for memory.
    GONGKAI_SEARCH_PARTS sets it."""
    value = os.environ.get("GONGKAI_SEARCH_PARTS", "").strip()
    if value.isdigit() and int(value) > 0:
        return max(1, min(int(value), pages))
    workers = index_workers() if workers is None else workers
    return max(1, min(workers, pages // PART_PAGES), -(-pages // part_limit(used_mb)))


def at_once(part_pages: int, workers: Optional[int] = None, used_mb: float = 0.0) -> int:
    """How many Pagefind processes may run together: one per core, as many as the memory
    left beside the build (`used_mb`) holds for parts of `part_pages` pages (the largest),
    at least one."""
    workers = index_workers() if workers is None else workers
    room = SEARCH_MEMORY_MB - used_mb
    return max(1, min(workers, int(room // (max(part_pages, 1) * PAGEFIND_MB_PER_PAGE))))


def split_pages(pages: list[str], parts: int) -> list[list[str]]:
    """`pages` (sorted) in at most `parts` shares of whole agency years (a page's first two
    folders, `2020/287002/…`), in path order, none empty, as equal in pages as whole agency
    years allow (the Pagefind processes run at once: the largest share sets the time). An
    edit inside one agency year then changes one share, and only that part of the index is
    built again; a project added or removed moves at most the agency years at a boundary."""
    groups: dict[str, list[str]] = {}
    for rel in pages:
        groups.setdefault("/".join(rel.split("/")[:2]), []).append(rel)
    parts = max(1, min(parts, len(groups)))
    shares: list[list[str]] = [[] for _ in range(parts)]
    before, total = 0, len(pages)
    for i, members in enumerate(groups.values()):
        # the share the agency year's middle page falls in; never one that must stay empty
        n = min((2 * before + len(members)) * parts // (2 * total), parts - 1)
        n = max(n, parts - (len(groups) - i))
        while n > 0 and not shares[n - 1]:
            n -= 1
        shares[n] += members
        before += len(members)
    return shares


def part_key(share: list[str], digests: dict[str, bytes]) -> str:
    """What a part of the index is made from: its pages' paths and shadow pages, the
    Pagefind version and options, and the code that writes shadow pages, runs Pagefind and
    finishes the bundle (searchtext.py and every module of this package).
    Equal keys, equal part: Pagefind's output depends on nothing else (tested)."""
    key = hashlib.sha256(" ".join([PAGEFIND_VERSION, *pagefind_cmd(Path(), Path(), Path())[1:]]).encode())
    for module in (Path(searchtext.__file__), *sorted(Path(__file__).parent.glob("*.py"))):
        key.update(module.read_bytes())
    for rel in share:
        key.update(rel.encode("utf-8") + b"\0" + digests[rel])
    return key.hexdigest()


def reusable_parts(bundle: Path) -> dict[str, tuple[Path, list[str]]]:
    """The parts of an earlier index bundle that may be used again, by key: (folder, files)
    of each part whose files are still exactly those it was finished with."""
    try:
        recorded = json.loads((bundle / KEYS_FILE).read_text(encoding="utf-8"))["parts"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    found = {}
    for part in recorded if isinstance(recorded, list) else []:
        if not isinstance(part, dict) or not all(isinstance(part.get(k), str) for k in ("folder", "key", "files")):
            continue
        if not re.fullmatch(r"(?:part-[0-9]+/)?", part["folder"]):
            continue                      # only folders urls.search_part names
        folder = bundle / part["folder"]
        files = part_files(folder, main=not part["folder"])
        try:
            if files and files_digest(folder, files) == part["files"]:
                found[part["key"]] = (folder, files)
        except OSError:
            continue
    return found


def link_part(folder: Path, files: list[str], output: Path) -> None:
    """An earlier part's files into `output`: hard links (no bytes copied, and the old
    bundle is deleted once the new one is in place), copies where links are refused."""
    for rel in files:
        target = output / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(folder / rel, target)
        except OSError:
            shutil.copyfile(folder / rel, target)
