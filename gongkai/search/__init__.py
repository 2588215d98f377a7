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
from .bundle import finish_bundle, finish_part, fragment_names, index_stats, swap_in
from .pagefind import PAGEFIND_VERSION, SearchIndexError, check_log, pagefind_binary, run_pagefinds
from .parts import at_once, link_part, own_memory_mb, part_count, part_key, reusable_parts, split_pages
from .shadow import (ShadowPages, add_salt, move_shadows, remove_stale_scratch, scratch, shadow_files,
                     site_pages, write_shadow)

BUNDLE = urls.SEARCH_BUNDLE
SALTED = "+salted"     # on the key of a part indexed with salted shadow pages (_separate_ids)
MAX_SALT_ROUNDS = 8    # each round leaves a clash with odds of about pages / 2**28

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
        together = at_once(max(len(share) for share in shares), used_mb=used)
        try:
            jobs = []
            for n, (share, key, output) in enumerate(zip(shares, keys, outputs)):
                if key in earlier:
                    link_part(*earlier[key], output)
                else:
                    source = Path(tmp) / f"part-{n}"
                    move_shadows(written, source, share)
                    jobs.append((source, output))
            for log in run_pagefinds(binary, jobs, together):
                check_log(log)
            reused = len(shares) - len(jobs)
            for n in _separate_ids(binary, Path(tmp), written, shares, outputs, together):
                keys[n] += SALTED       # never taken over: whether it needs salt depends on the others
            for n, output in enumerate(outputs[1:], 1):
                finish_part(output)
                output.rename(fresh / urls.search_part(n))
            finish_bundle(fresh, facets, keys)
            swap_in(fresh, site_dir / BUNDLE)
        finally:
            for output in outputs:
                shutil.rmtree(output, ignore_errors=True)
    return {"pages": len(facets), "parts": len(shares), "reused": reused,
            "seconds": round(time.perf_counter() - started, 3), "shadow_seconds": round(shadow_seconds, 3)}


def _separate_ids(binary: Path, tmp: Path, written: Path, shares: list[list[str]], outputs: list[Path],
                  together: int) -> list[int]:
    """Make every page's id unique across the parts; return the parts indexed again.

    Pagefind names a page by the shortest prefix of its content hash (7 hex digits at
    least) that is unique within one index, and assets/search.js merges the parts by id:
    two parts that give one id to two pages would mix them (at 100,000 pages about 24 such
    pairs, at 10,000 one build in five has one). A page of a later part whose id an earlier
    part has already is given a salt in its shadow page (a sealed metadata word, unseen by
    queries and readers) and its part is indexed again, until no id is shared. Which pages
    get salt depends on the ids of every part, so a salted part is never taken over by a
    later build (`SALTED`): the same content always gives the same index."""
    salted: dict[int, dict[str, int]] = {}     # part -> page -> salt
    for _ in range(MAX_SALT_ROUNDS):
        seen: dict[str, int] = {}
        clashes: dict[int, list[str]] = {}
        for n, output in enumerate(outputs):
            for name, address in sorted(fragment_names(output).items()):
                if name in seen:
                    clashes.setdefault(n, []).append(address.lstrip("/"))
                else:
                    seen[name] = n
        if not clashes:
            return sorted(salted)
        jobs = []
        for n, pages in sorted(clashes.items()):
            source = tmp / f"part-{n}"
            if not source.is_dir():                 # taken over from the previous bundle
                move_shadows(written, source, shares[n])
            for rel in pages:
                salt = salted.setdefault(n, {}).get(rel, 0) + 1
                salted[n][rel] = salt
                add_salt(source / rel, salt)
            shutil.rmtree(outputs[n])
            jobs.append((source, outputs[n]))
        for log in run_pagefinds(binary, jobs, together):
            check_log(log)
    raise SearchIndexError(f"page ids still shared by parts after {MAX_SALT_ROUNDS} rounds of salt")
