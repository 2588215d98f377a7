"""What search keeps of each page, and the scratch folder it waits in for the index step.

A page is searched when it carries `data-search-*` facets (templates/agency_year.html,
templates/project.html). What search keeps of it (`page_record`):

* its text as the reader sees it in `<main>` (searchtext.index_text: letters and digits
  folded, printed punctuation and spaces kept, blocks ending at BLOCK), its `<h1>` the
  same way, its address and budget: the page file assets/search.js loads to check a
  page and show its excerpt;
* its search words (`search_words`): every letter or digit of the text and every pair
  of letters or digits that stand together in one block, folded and in lower case as
  search.js compares them (`foldMap`); the index is made of these;
* its facets, for the search page's filters.

The build's workers write a page's record into a scratch folder while its bytes are in
memory (`record_files`); the index step reads the records back in address order.
"""
from __future__ import annotations

import contextlib
import gzip
import html
import json
import os
import re
import shutil
import stat
import tempfile
import unicodedata
from operator import add
from pathlib import Path
from typing import Iterator, Optional

from .. import parallel, urls
from ..searchtext import fold_char, heading_index_text, index_text, main_fragment

FACET_PREFIX = "data-search-"
# The facets each page carries: the search page's five filters (category: 一级指标 joined
# by "|"), the page kind (部门 or 项目) and the budget in yuan.
FACETS = ("year", "region", "agency", "category", "kind", "budget")
FILTERS = FACETS[:5]     # the facets the search page filters by (budget it sorts by)
BLOCK = "\0"            # ends a block (cell, paragraph, heading) in a page file's text
SHM = "/dev/shm"
RECORD_BYTES = 16 * 1024       # per page, room to spare: records are about 6 KB each
SCRATCH_PREFIX = "gongkai-search-"


# --- one page -----------------------------------------------------------------------------

def page_facets(page: str) -> Optional[dict[str, str]]:
    """The `data-search-*` attributes of a page (None: the page is not searched)."""
    start = page.find(f" {FACET_PREFIX}kind=\"")
    while start >= 0 and ">" in page[page.rfind("<", 0, start):start]:   # text, not a tag
        start = page.find(f" {FACET_PREFIX}kind=\"", start + 1)
    if start < 0:
        return None
    tag = page[page.rfind("<", 0, start):page.find(">", start)]
    facets = {}
    for part in tag.split(f" {FACET_PREFIX}")[1:]:
        name, _, value = part.partition('="')
        facets[name] = html.unescape(value[:value.find('"')])
    return facets


def _shown(index: str) -> str:
    """An index text (blocks end at " ", a printed space inside a block is a tab) as a page
    file holds it: blocks ending at BLOCK, a printed space as a space."""
    return index.replace(" ", BLOCK).replace("\t", " ")


def page_record(rel: str, page: str) -> Optional[tuple[dict[str, str], dict, str]]:
    """(facets, page file, search words) of the page `rel` (its HTML `page`), or None when
    it is not searched. The page file: {"url", "title", "text", "budget"}."""
    facets = page_facets(page)
    fragment = main_fragment(page) if facets is not None else None
    if fragment is None:
        return None
    text = _shown(index_text(fragment))
    if not text:
        return None
    title = _shown(heading_index_text(fragment)).replace(BLOCK, " ")
    budget = facets.get("budget") or None
    record = {"url": rel, "title": title, "text": text,
              "budget": (int(budget) if budget.isdigit() else float(budget)) if budget else None}
    return facets, record, search_words(text) + "\n" + search_words(title)


class _Lowered(dict):
    """What each character is in the text search compares (search.js `foldMap`): folded,
    each resulting character in lower case; BLOCK a space, white space nothing."""

    def __missing__(self, c: str) -> str:
        value = self[c] = " " if c == BLOCK else "".join(map(_lower, fold_char(c)))
        return value


def _lower(c: str) -> str:
    low = c.lower()
    return low if len(low) == 1 else c


def is_word_char(c: str) -> bool:
    """A letter or digit: what search.js's isAlnum (/[\\p{L}\\p{N}]/u) accepts."""
    return unicodedata.category(c)[0] in "LN"


class _WordKeys(dict):
    """Each character, or pair of characters, that is a search word (both letters or digits)."""

    def __missing__(self, key: str) -> bool:
        value = self[key] = all(map(is_word_char, key))
        return value


_LOWERED, _WORD_KEYS = _Lowered(), _WordKeys()


def lowered(text: str) -> str:
    """`text` as search compares it (search.js `foldMap(text, BLOCK)[0]`)."""
    return "".join(map(_LOWERED.__getitem__, text))


def search_words(text: str) -> str:
    """The search words of a page file's text, joined by spaces: each letter or digit, and
    each two that follow each other in one block (search.js looks a query term up as
    these), each once, in no particular order. C-level map() over the text: about 1,000
    characters a page."""
    low = lowered(text)
    words = set(low)
    words.update(map(add, low, low[1:]))
    return " ".join(filter(_WORD_KEYS.__getitem__, words))


def page_file(record: dict) -> bytes:
    """A page file's bytes: JSON, gzipped (the same bytes for the same page)."""
    data = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return gzip.compress(data, compresslevel=6, mtime=0)


# --- a site's records ---------------------------------------------------------------------

def site_pages(site_dir: Path) -> list[str]:
    """Every HTML page of the site (POSIX paths relative to it), the index folder excluded."""
    pages = []
    for folder, dirs, files in os.walk(site_dir):
        if folder == str(site_dir):
            dirs[:] = [d for d in dirs if d != urls.SEARCH_BUNDLE]
        dirs.sort()
        rel = os.path.relpath(folder, site_dir)
        for name in sorted(files):
            if name.endswith(".html"):
                pages.append(name if rel == "." else f"{rel}/{name}".replace(os.sep, "/"))
    return pages


def flat_name(rel: str) -> str:
    """The file name of the record of `rel` in the scratch folder (one flat folder)."""
    return rel.replace("%", "%25").replace("/", "%2F")


def _write_record(rel: str, page: str, folder: str) -> Optional[tuple[str, dict[str, str]]]:
    """Write the record of the page `rel` into `folder`: its search words (body, then
    title: two lines) and its page file. (path, facets), or None if it is not searched."""
    made = page_record(rel, page)
    if made is None:
        return None
    facets, record, words = made
    with open(os.path.join(folder, flat_name(rel)), "wb") as f:
        f.write(words.encode("utf-8") + b"\n" + page_file(record))
    return rel, facets


def read_record(folder: Path, rel: str) -> tuple[bytes, bytes, bytes]:
    """(body words, title words, page file) of a record `_write_record` wrote."""
    body, title, page = (folder / flat_name(rel)).read_bytes().split(b"\n", 2)
    return body, title, page


def _record_task(task: tuple[str, str, list[str]]) -> list[tuple[str, dict[str, str]]]:
    """Write the records of some pages of the site (site folder, record folder, paths)."""
    site_dir, folder, paths = task
    written = []
    for rel in paths:
        with open(os.path.join(site_dir, rel), encoding="utf-8") as f:
            found = _write_record(rel, f.read(), folder)
        if found is not None:
            written.append(found)
    return written


def record_files(files: dict[str, bytes], folder: str) -> list[tuple[str, dict[str, str]]]:
    """Write the records of rendered pages still in memory (a build worker's, before they
    are read back from disk): (path, facets) of each searched one."""
    written = []
    for rel in sorted(files):
        if rel.endswith(".html"):
            found = _write_record(rel, files[rel].decode("utf-8"), folder)
            if found is not None:
                written.append(found)
    return written


class PageRecords:
    """A site's page records in a scratch folder (`root/pages/`) and the facets of each by
    path."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.folder = self.root / "pages"
        self.folder.mkdir(exist_ok=True)
        self.facets: dict[str, dict[str, str]] = {}

    def add(self, found: list[tuple[str, dict[str, str]]]) -> None:
        for rel, facets in found:
            self.facets[rel] = facets


def pack_records(records: PageRecords, path: Path) -> int:
    """Every record of `records` in one file (a shard's search records, for the merge); its
    size. Per page: a JSON line {"url", "facets", "bytes"}, then that many bytes of record."""
    with open(path, "wb") as out:
        for rel in sorted(records.facets):
            data = (records.folder / flat_name(rel)).read_bytes()
            head = {"url": rel, "facets": records.facets[rel], "bytes": len(data)}
            out.write(json.dumps(head, ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n" + data)
        return out.tell()


def unpack_records(path: Path, records: PageRecords) -> None:
    """Add the records `pack_records` put in `path` to `records`."""
    with open(path, "rb") as packed:
        while line := packed.readline():
            head = json.loads(line)
            data = packed.read(head["bytes"])
            if len(data) != head["bytes"]:
                raise ValueError(f"{path}: ends inside the record of {head['url']}")
            (records.folder / flat_name(head["url"])).write_bytes(data)
            records.add([(head["url"], head["facets"])])


def write_records(site_dir: Path, records: PageRecords, pages: list[str], workers: int) -> None:
    """Write the records of `pages` of `site_dir` into `records` (in parallel)."""
    work = [(str(site_dir), str(records.folder), paths) for paths in parallel.tasks(pages, 200)]
    for found in parallel.run(_record_task, work, workers if len(pages) >= 400 else 1):
        records.add(found)


# --- the scratch folder -------------------------------------------------------------------

@contextlib.contextmanager
def scratch(pages: int) -> Iterator[Path]:
    """A scratch folder for the records of about `pages` pages (see scratch_dir),
    removed afterwards; those of killed builds are removed first."""
    folder = scratch_dir(pages)
    remove_stale_scratch(folder)
    with tempfile.TemporaryDirectory(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-", dir=folder) as tmp:
        yield Path(tmp)


def scratch_dir(pages: int) -> Optional[str]:
    """Where the scratch folder goes: memory (/dev/shm) when it has room for it with 1 GiB
    to spare, else the default temporary folder. Writing and reading back 11,000 files
    cost seconds of system time on disk at 10,000 pages; the folder exists only until the
    index is made."""
    try:
        disk = os.statvfs(SHM)
    except OSError:
        return None
    if disk.f_bavail * disk.f_frsize < pages * RECORD_BYTES + (1 << 30) or not os.access(SHM, os.W_OK):
        return None
    return SHM


def remove_stale_scratch(scratch: Optional[str] = None, *, both: bool = False) -> None:
    """Remove the scratch folders of builds that were killed (their process is gone): in
    /dev/shm they would hold memory until the machine restarts. `both`: in /dev/shm and
    the temporary folder (a run that does not index does not know which one was used).

    Not by name alone: a folder is removed only if it is a real folder of this user that
    holds nothing but what a build puts there (`_remove_scratch`)."""
    for folder in ([SHM, tempfile.gettempdir()] if both else [scratch or tempfile.gettempdir()]):
        _remove_stale_in(folder)


def _remove_stale_in(folder: str) -> None:
    try:
        names = [n for n in os.listdir(folder) if n.startswith(SCRATCH_PREFIX)]
    except OSError:
        return
    for name in names:
        pid = name[len(SCRATCH_PREFIX):].partition("-")[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            _remove_scratch(os.path.join(folder, name))
        except OSError:
            pass       # alive under another user: not ours to touch


def _remove_scratch(path: str) -> None:
    """Remove a dead build's scratch folder if it is ours (see remove_stale_scratch): a
    real folder of this user holding only the folder a build makes there (`pages/`); an
    empty one too (killed before it wrote anything)."""
    try:
        info = os.lstat(path)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            return
        with os.scandir(path) as entries:
            ours = all(_SCRATCH_PART.match(e.name) and e.is_dir(follow_symlinks=False) for e in entries)
    except OSError:
        return
    if ours:
        shutil.rmtree(path, ignore_errors=True)


_SCRATCH_PART = re.compile(r"^pages$")
