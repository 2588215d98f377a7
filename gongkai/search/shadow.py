"""Shadow pages: what Pagefind indexes in place of the site's pages, and their scratch folder.

Pagefind does not index the pages themselves (docs/search.md): for each page that carries
`data-search-*` facets (templates/agency_year.html, templates/project.html) a "shadow"
page is written to a scratch folder outside the site, holding the page's `<main>` text as
positional character bigrams (gongkai/searchtext.py), its `<h1>` the same way as the
`title` meta, and its facets as Pagefind metadata. Shadow pages are first written to one
flat folder (`ShadowPages`), then each part's are moved into a tree that mirrors the
site's paths (`move_shadows`), so the index reports the real pages' URLs.
"""
from __future__ import annotations

import contextlib
import hashlib
import html
import os
import re
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Iterable, Iterator, Optional

from .. import parallel, urls
from ..searchtext import encode_string, heading_index_text, index_text, main_fragment, seal
from .pagefind import LANGUAGE, index_workers

FACET_PREFIX = "data-search-"
# The facets each result carries (as Pagefind metadata): the search page's four filters
# (category: 一级指标 joined by "|"), the page kind (部门 or 项目), the budget in yuan.
FACETS = ("year", "region", "agency", "category", "kind", "budget")
SHM = "/dev/shm"
SHADOW_BYTES = 64 * 1024       # per page, room to spare: shadow pages are about 17 KB each
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


def shadow_page(page: str) -> Optional[str]:
    """The shadow page Pagefind indexes for a rendered page (None: not searched)."""
    made = _shadow(page)
    return made[0] if made else None


def _shadow(page: str) -> Optional[tuple[str, dict[str, str]]]:
    """(shadow page, facets) of a rendered page, or None when it is not searched."""
    facets = page_facets(page)
    fragment = main_fragment(page) if facets is not None else None
    if fragment is None:
        return None
    text = index_text(fragment)
    if not text:
        return None
    # Metadata, not Pagefind filters: Pagefind 1.5.2 writes filter files in hash-map order,
    # so the index would differ from build to build. search.js filters the results itself.
    # Sealed (searchtext.seal): Pagefind indexes metadata words, which must not meet a query.
    tags = "".join(f'<span data-pagefind-meta="{name}:{seal(facets[name])}"></span>'
                   for name in FACETS if facets.get(name))
    title = html.escape(encode_string(heading_index_text(fragment)), quote=False)
    body = html.escape(encode_string(text), quote=False)
    return (f'<!DOCTYPE html><html lang="{LANGUAGE}"><head><meta charset="utf-8"></head><body>'
            f'<main data-pagefind-body>\n{body}\n'
            f'<div data-pagefind-ignore><span data-pagefind-meta="title">{title}</span>{tags}</div>\n'
            f'</main></body></html>\n'), facets


SALT_TAG = '<span data-pagefind-meta="salt:{}"></span>'
_SALT_END = "</div>\n</main>"


def add_salt(shadow: Path, salt: int) -> None:
    """Give a shadow page another content hash (so another id in the index): its salt as a
    sealed metadata word, replacing any earlier one (search/__init__.py `_separate_ids`)."""
    text = re.sub(r'<span data-pagefind-meta="salt:[a-z]*"></span>', "", shadow.read_text(encoding="utf-8"))
    if _SALT_END not in text:
        raise ValueError(f"{shadow}: not a shadow page")
    tag = SALT_TAG.format(seal(str(salt)))
    shadow.write_text(text.replace(_SALT_END, tag + _SALT_END, 1), encoding="utf-8")


# --- a site's shadow pages ----------------------------------------------------------------

def site_pages(site_dir: Path) -> list[str]:
    """Every HTML page of the site (POSIX paths relative to it), the index bundle excluded."""
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


def _flat(rel: str) -> str:
    """The file name of the shadow page of `rel` in the flat folder they are first written
    to (no folder per page to make and remove; `move_shadows` puts them in a tree)."""
    return rel.replace("%", "%25").replace("/", "%2F")


def _write_shadow_page(rel: str, page: str, shadow_dir: str) -> Optional[tuple[str, dict[str, str], bytes]]:
    """Write the shadow page of the page `rel` (its HTML `page`) into `shadow_dir`; (path,
    facets, digest of the shadow page), or None if the page is not searched."""
    shadowed = _shadow(page)
    if shadowed is None:
        return None
    shadow, facets = shadowed
    data = shadow.encode("utf-8")
    with open(os.path.join(shadow_dir, _flat(rel)), "wb") as f:
        f.write(data)
    return rel, facets, hashlib.sha256(data).digest()


def _shadow_task(task: tuple[str, str, list[str]]) -> list[tuple[str, dict[str, str], bytes]]:
    """Write the shadow pages of some pages of the site (site folder, shadow folder, paths);
    (path, facets, digest) of each searched one."""
    site_dir, shadow_dir, paths = task
    written = []
    for rel in paths:
        with open(os.path.join(site_dir, rel), encoding="utf-8") as f:
            found = _write_shadow_page(rel, f.read(), shadow_dir)
        if found is not None:
            written.append(found)
    return written


def shadow_files(files: dict[str, bytes], shadow_dir: str) -> list[tuple[str, dict[str, str], bytes]]:
    """The shadow pages of rendered pages still in memory (a build worker's, before they
    are read back from disk): (path, facets, digest) of each searched one."""
    written = []
    for rel in sorted(files):
        if rel.endswith(".html"):
            found = _write_shadow_page(rel, files[rel].decode("utf-8"), shadow_dir)
            if found is not None:
                written.append(found)
    return written


class ShadowPages:
    """A site's shadow pages in a scratch folder (`root/pages/`, one flat folder: `_flat`),
    the facets of each by URL and its digest by path, and which pages were looked at."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.folder = self.root / "pages"
        self.folder.mkdir(exist_ok=True)
        self.facets: dict[str, dict[str, str]] = {}
        self.digests: dict[str, bytes] = {}
        self.seen: set[str] = set()

    def add(self, found: list[tuple[str, dict[str, str], bytes]], seen: Iterable[str]) -> None:
        for rel, facets, digest in found:
            self.facets[f"/{rel}"] = facets
            self.digests[rel] = digest
        self.seen.update(seen)


def write_shadow(site_dir: Path, shadows: ShadowPages, pages: list[str], workers: Optional[int] = None) -> None:
    """Write the shadow pages of `pages` of `site_dir` into `shadows` (in parallel)."""
    workers = index_workers() if workers is None else workers
    work = [(str(site_dir), str(shadows.folder), paths) for paths in parallel.tasks(pages, 200)]
    for found in parallel.run(_shadow_task, work, workers if len(pages) >= 400 else 1):
        shadows.add(found, ())
    shadows.seen.update(pages)


def _make_folders(root: Path, pages: list[str]) -> None:
    """Every folder of `pages` under `root`, in path order, before any page is put there:
    Pagefind numbers pages in the order it reads the folders, which on tmpfs follows the
    order they were made."""
    made = {""}
    for rel in pages:
        folder = os.path.dirname(rel)
        if folder not in made:
            os.makedirs(os.path.join(root, folder), exist_ok=True)
            made.add(folder)


def move_shadows(written: Path, source: Path, share: list[str]) -> None:
    """The shadow pages of one share into a folder of their own, for one Pagefind."""
    _make_folders(source, share)
    for rel in share:
        os.rename(written / _flat(rel), source / rel)


# --- the scratch folder -------------------------------------------------------------------

@contextlib.contextmanager
def scratch(pages: int) -> Iterator[Path]:
    """A scratch folder for the shadow pages of about `pages` pages (see scratch_dir),
    removed afterwards; those of killed builds are removed first."""
    folder = scratch_dir(pages)
    remove_stale_scratch(folder)
    with tempfile.TemporaryDirectory(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-", dir=folder) as tmp:
        yield Path(tmp)


def scratch_dir(pages: int) -> Optional[str]:
    """Where the shadow folder goes: memory (/dev/shm) when it has room for it with 1 GiB to
    spare, else the default temporary folder. Creating 11,000 folders and files and
    Pagefind reading them back cost 3 s of system time on disk at 10,000 pages; the folder
    exists only while Pagefind runs."""
    try:
        disk = os.statvfs(SHM)
    except OSError:
        return None
    if disk.f_bavail * disk.f_frsize < pages * SHADOW_BYTES + (1 << 30) or not os.access(SHM, os.W_OK):
        return None
    return SHM


def remove_stale_scratch(scratch: Optional[str] = None, *, both: bool = False) -> None:
    """Remove the shadow folders of builds that were killed (their process is gone): in
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
    real folder of this user holding only the folders `build_index` makes there (`pages/`,
    `part-<n>/`); an empty one too (killed before it wrote anything)."""
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


_SCRATCH_PART = re.compile(r"^(?:pages|part-[0-9]+)$")
