"""Search index stage: a Pagefind index of every agency-year and project page.

The pipeline calls `build_index(staging_dir, config, previous)` after every page is written
to the staging folder and before it is swapped in, so an index failure keeps the old site;
the dev server calls it on the live output folder. Pagefind indexes a shadow page of each
searched page (`shadow`: the page's text as positional character bigrams, its facets as
metadata) rather than the page. Large sites are indexed in parts, one Pagefind process
each; a part whose pages' text is unchanged is taken from the `previous` bundle instead of
being indexed again (`parts`). The result goes to `pagefind/` in the site (`bundle`),
built by the pinned extended Pagefind binary only (`pagefind`). Design: docs/search.md.
"""
from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from pathlib import Path
from typing import Optional

from .. import urls
from ..config import Config
from .bundle import finish_bundle, finish_part, index_stats, swap_in
from .pagefind import PAGEFIND_VERSION, SearchIndexError, check_log, pagefind_binary, run_pagefinds
from .parts import at_once, link_part, own_memory_mb, part_count, part_key, reusable_parts, split_pages
from .shadow import (ShadowPages, move_shadows, remove_stale_scratch, scratch, shadow_files, site_pages,
                     write_shadow)

BUNDLE = urls.SEARCH_BUNDLE

__all__ = ["BUNDLE", "PAGEFIND_VERSION", "SearchIndexError", "ShadowPages", "build_index", "index_stats",
           "pagefind_binary", "remove_stale_scratch", "scratch", "shadow_files"]


def build_index(site_dir: Path, config: Optional[Config] = None, previous: Optional[Path] = None,
                shadows: Optional[ShadowPages] = None) -> dict:
    """Build the search index in `site_dir/pagefind/`; return figures (pages, parts, parts
    reused, seconds; `index_stats` gives the sizes).

    `shadows` holds shadow pages written already (the build's workers write those of the
    pages they render); the other pages' are written here. A part whose pages' shadow
    pages are all as in the bundle `previous` (default: the one being replaced,
    `site_dir/pagefind/`) is taken from there instead of being indexed again: no page text
    changed in it. Raises SearchIndexError (or OSError) on failure; `site_dir` then has no
    new index.
    """
    site_dir = Path(site_dir)
    previous = site_dir / BUNDLE if previous is None else Path(previous)
    started = time.perf_counter()
    binary = pagefind_binary()
    pages = site_pages(site_dir)
    with contextlib.ExitStack() as stack:
        if shadows is None:
            shadows = ShadowPages(stack.enter_context(scratch(len(pages))))
        rest = [rel for rel in pages if rel not in shadows.seen]
        if rest:
            write_shadow(site_dir, shadows, rest)
        tmp, written, facets, digests = shadows.root, shadows.folder, shadows.facets, shadows.digests
        shadow_seconds = time.perf_counter() - started
        if not facets:
            raise SearchIndexError("no page to index: no page carries data-search-* facets")
        used = own_memory_mb()
        shares = split_pages(sorted(digests), part_count(len(digests), used_mb=used))
        keys = [part_key(share, digests) for share in shares]
        earlier = reusable_parts(previous) if previous.is_dir() else {}
        # Into a new folder beside the old bundle, swapped in when complete: the dev server
        # keeps serving the previous index meanwhile, and no stale file survives.
        fresh = Path(tempfile.mkdtemp(prefix=f".{BUNDLE}-new-", dir=site_dir))
        # The other parts are written beside it (same file system: moved in by a rename).
        outputs = [fresh] + [fresh.with_name(f"{fresh.name}-{n}") for n in range(1, len(shares))]
        try:
            jobs = []
            for n, (share, key, output) in enumerate(zip(shares, keys, outputs)):
                if key in earlier:
                    link_part(*earlier[key], output)
                else:
                    source = Path(tmp) / f"part-{n}"
                    move_shadows(written, source, share)
                    jobs.append((source, output))
            for log in run_pagefinds(binary, jobs, at_once(max(len(share) for share in shares), used_mb=used)):
                check_log(log)
            for n, output in enumerate(outputs[1:], 1):
                finish_part(output)
                output.rename(fresh / urls.search_part(n))
            finish_bundle(fresh, facets, keys)
            swap_in(fresh, site_dir / BUNDLE)
        finally:
            for output in outputs:
                shutil.rmtree(output, ignore_errors=True)
    return {"pages": len(facets), "parts": len(shares), "reused": len(shares) - len(jobs),
            "seconds": round(time.perf_counter() - started, 3), "shadow_seconds": round(shadow_seconds, 3)}
