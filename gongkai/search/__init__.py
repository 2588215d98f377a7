"""Search index stage: the index of every agency-year and project page (docs/search.md).

The pipeline calls `build_index(staging_dir, records)` after every page is written to
the staging folder and before it is swapped in, so an index failure keeps the old site;
the dev server calls it on the live output folder. The build's workers write each page's
record (`records`: its text, heading, facets and search words) while its bytes are in
memory; the records of other pages are made here. `index` writes the files
assets/search.js reads into `search-index/` in the site, made in a new folder beside the
old one and swapped in whole.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Optional

from .. import parallel, urls
from .index import FORMAT, PAGE_FOLDER, Postings, page_path, set_modes, write_meta
from .records import (PageRecords, pack_records, read_record, record_files, remove_stale_scratch, scratch, site_pages,
                      unpack_records, write_records)

BUNDLE = urls.SEARCH_BUNDLE

__all__ = ["BUNDLE", "PageRecords", "SearchIndexError", "build_index", "index_stats", "pack_records",
           "record_files", "remove_stale_scratch", "scratch", "unpack_records"]


class SearchIndexError(Exception):
    """The index could not be made (nothing to index)."""


def index_workers() -> int:
    """Processes the index step may use: none forked from the dev server's indexing thread
    (a fork there would copy locks other threads hold)."""
    return parallel.worker_count() if threading.current_thread() is threading.main_thread() else 1


def build_index(site_dir: Path, records: Optional[PageRecords] = None) -> dict:
    """Build the search index in `site_dir/search-index/`; return figures (pages, word
    files, seconds).

    `records` holds the record of every searched page (the build's workers write them
    while the pages are in memory; the site-wide pages carry no facets); without it they
    are made here from the site's pages. Raises SearchIndexError (or OSError) on
    failure; `site_dir` then has no new index."""
    site_dir = Path(site_dir)
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if records is None:
            pages = site_pages(site_dir)
            records = PageRecords(stack.enter_context(scratch(len(pages))))
            write_records(site_dir, records, pages, index_workers())
        if not records.facets:
            raise SearchIndexError("no page to index: no page carries data-search-* facets")
        fresh = Path(tempfile.mkdtemp(prefix=f".{BUNDLE}-new-", dir=site_dir))
        try:
            order = sorted(records.facets)
            postings = Postings()
            digest = hashlib.sha256(f"{FORMAT}".encode())
            for n, rel in enumerate(order):
                body, title, page = read_record(records.folder, rel)
                postings.add(n, body, title)
                digest.update(page)
                if n % PAGE_FOLDER == 0:
                    (fresh / page_path(n)).parent.mkdir(parents=True)
                with open(fresh / page_path(n), "wb") as f:
                    f.write(page)
            word_files = postings.write(fresh, digest)
            del postings
            write_meta(fresh, order, records.facets, word_files, digest)
            set_modes(fresh)
            swap_in(fresh, site_dir / BUNDLE)
        finally:
            shutil.rmtree(fresh, ignore_errors=True)
    return {"pages": len(order), "word_files": word_files, "seconds": round(time.perf_counter() - started, 3)}


def swap_in(fresh: Path, target: Path) -> None:
    """Put the folder `fresh` at `target`, replacing what was there."""
    old = None
    if target.exists():
        old = target.with_name(f".{BUNDLE}-old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
    fresh.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def index_stats(site_dir: Path) -> dict:
    """Sizes of the search index in `site_dir` (bytes on disk, gzipped as served)."""
    bundle = Path(site_dir) / BUNDLE
    if not bundle.is_dir():
        return {}

    def size(pattern: str) -> tuple[int, int]:
        found = [p.stat().st_size for p in bundle.glob(pattern) if p.is_file()]
        return sum(found), len(found)

    return {name: dict(zip(("bytes", "files"), size(pattern))) for name, pattern in (
        ("all", "**/*"), ("meta", "meta.bin"), ("budgets", "budgets.bin"), ("pages", "pages/*/*.bin"),
        ("words", "words/*.bin"), ("big_words", "words/big/*.bin"))}
