"""The index bundle (`pagefind/` in the site): finishing what Pagefind wrote, our own files
beside it, putting it in place, and reading it back.

Pagefind writes one folder per part; the first part is the bundle itself, the others go
into it (`urls.search_part`). Beside the main part go CHUNKS_FILE (the word range of each
index chunk, for assets/search.js: a one-character prefix lookup has to load every chunk it
spans), PAGES_FILE (every page's facets), PARTS_FILE and KEYS_FILE.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import zlib
from pathlib import Path
from typing import Callable, Optional

from .. import urls
from ..files import FILE, walk_folder
from .pagefind import LANGUAGE, SearchIndexError

CHUNKS_FILE = "search-chunks.json"   # in the bundle
PAGES_FILE = "search-pages.json"     # in the bundle
PARTS_FILE = "search-parts.json"     # in the bundle: the other parts' folders, for mergeIndex
KEYS_FILE = "search-keys.json"       # in the bundle: what each part was made from, to reuse it
OWN_FILES = (CHUNKS_FILE, PAGES_FILE, PARTS_FILE, KEYS_FILE)   # ours, beside Pagefind's main part
# Pagefind's own search interfaces: the site has its own (assets/search-page.js).
UNUSED_FILES = ("pagefind-ui.js", "pagefind-ui.css", "pagefind-modular-ui.js",
                "pagefind-modular-ui.css", "pagefind-component-ui.js", "pagefind-component-ui.css",
                "pagefind-highlight.js", "pagefind-worker.js")   # search.js runs Pagefind without a worker


# --- a part's files -----------------------------------------------------------------------

def part_files(folder: Path, main: bool) -> Optional[list[str]]:
    """Pagefind's files of one part (sorted paths relative to `folder`; the main part's
    folder also holds our files and the other parts), or None if anything there is not a
    plain file or folder."""
    def ours(rel: str) -> bool:
        return main and "/" not in rel.rstrip("/") and (rel in OWN_FILES or rel.startswith("part-"))
    try:
        found = list(walk_folder(str(folder), ours))
    except OSError:
        return None
    if any(kind != FILE for _, _, kind in found):
        return None
    return sorted(rel for rel, _, _ in found)


def files_digest(folder: Path, files: list[str], each: Optional[Callable[[str, bytes], None]] = None) -> str:
    """A digest of the files' names and bytes (not their times: the bundle is the same
    from build to build); `each` sees every file's bytes as they are read."""
    digest = hashlib.sha256()
    for rel in files:
        with open(os.path.join(folder, rel), "rb") as f:
            data = f.read()
        digest.update(f"{rel}\0{len(data)}\0".encode("utf-8") + data)
        if each is not None:
            each(rel, data)
    return digest.hexdigest()


# --- finishing ----------------------------------------------------------------------------

def finish_part(bundle: Path) -> Path:
    """Drop Pagefind's unused interfaces and check the language; the part's meta file."""
    for name in UNUSED_FILES:
        (bundle / name).unlink(missing_ok=True)
    metas = sorted(bundle.glob(f"pagefind.{LANGUAGE}_*.pf_meta"))
    if len(metas) != 1 or len(list(bundle.glob("pagefind.*.pf_meta"))) != 1:
        raise SearchIndexError(f"expected one index of language {LANGUAGE}, found "
                               f"{[p.name for p in bundle.glob('pagefind.*.pf_meta')]}")
    return metas[0]


def finish_bundle(bundle: Path, facets: dict[str, dict[str, str]], keys: list[str]) -> None:
    """Finish the main part; write the list of the other parts, the word ranges of every
    part's index chunks, the facets of every page (all parts together) and each part's key
    and the digest of its files (KEYS_FILE, for `parts.reusable_parts`). Every file of the
    bundle is read once, for the digests and the pages' addresses."""
    finish_part(bundle)
    folders = [bundle / urls.search_part(n) for n in range(len(keys))]
    chunks = sorted([c[0], c[1]] for folder in folders
                    for c in read_meta(next(folder.glob(f"pagefind.{LANGUAGE}_*.pf_meta")))["chunks"])
    (bundle / CHUNKS_FILE).write_text(json.dumps(chunks, separators=(",", ":")), encoding="utf-8")
    (bundle / PARTS_FILE).write_text(json.dumps([urls.search_part(n) for n in range(1, len(keys))]),
                                     encoding="utf-8")
    recorded, fragments = [], []

    def keep_fragment(rel: str, data: bytes) -> None:
        if rel.startswith("fragment/") and rel.endswith(".pf_fragment"):
            fragments.append((rel[len("fragment/"):], data))

    for n, (folder, key) in enumerate(zip(folders, keys)):
        files = part_files(folder, main=n == 0) or []
        recorded.append({"folder": urls.search_part(n), "key": key,
                         "files": files_digest(folder, files, keep_fragment)})
    write_pages_file(bundle, facets, fragments)
    (bundle / KEYS_FILE).write_text(json.dumps({"parts": recorded}, indent=1), encoding="utf-8")
    for folder, dirs, files in os.walk(bundle):
        for name in dirs:
            os.chmod(os.path.join(folder, name), 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)


_FRAGMENT_URL_RE = re.compile(rb'^pagefind_dcd\{"url":"((?:[^"\\]|\\.)*)"')


def fragment_address(name: str, data: bytes) -> str:
    """The page address a fragment file is of (its bytes as Pagefind wrote them, gzipped)."""
    # only the start: the address comes first (decompressing whole fragments took 0.5 s)
    match = (_FRAGMENT_URL_RE.match(zlib.decompressobj(31).decompress(data, 1024))
             or _FRAGMENT_URL_RE.match(gzip.decompress(data)))     # an address over 1 KB
    if not match:
        raise SearchIndexError(f"{name}: cannot read its page address")
    return json.loads(b'"' + match.group(1) + b'"')


def fragment_names(part: Path) -> dict[str, str]:
    """Fragment name (a page's id in the index) -> page address, for one part's folder."""
    names = {}
    for path in (part / "fragment").glob("*.pf_fragment"):
        names[path.name.removesuffix(".pf_fragment")] = fragment_address(path.name, path.read_bytes())
    return names


def write_pages_file(bundle: Path, facets: dict[str, dict[str, str]], fragments: list[tuple[str, bytes]]) -> None:
    """`search-pages.json`: the facets of every page by its Pagefind id (fragment name),
    so that search.js can count, filter and sort many results before it loads their text:

        {"facets": {"year": ["2022", …], "region": […], "agency": […], "category": […],
                    "kind": ["部门", "项目"]},
         "pages": {"zxx_6f22458": [year, region, agency, categories, kind, budget], …}}

    year, region, agency and kind are indexes into the lists, categories a bit mask over
    theirs, budget yuan or null. Pages in the order of their addresses (search.js browses
    them so), values sorted: same pages, same bytes."""
    values = {name: sorted({v for f in facets.values() for v in
                            (f.get(name, "").split("|") if name == "category" else [f.get(name, "")]) if v},
                           reverse=name == "year")
              for name in ("year", "region", "agency", "category", "kind")}
    index = {name: {v: i for i, v in enumerate(vs)} for name, vs in values.items()}
    pages, found = {}, []
    for name, data in fragments:
        found.append((fragment_address(name, data), name))
    # In the order of the pages' addresses: browsing without a query lists them so.
    for address, name in sorted(found):
        f = facets[address]
        budget = f.get("budget")
        pages[name.removesuffix(".pf_fragment")] = [
            index["year"].get(f.get("year")), index["region"].get(f.get("region")),
            index["agency"].get(f.get("agency")),
            sum(1 << index["category"][c] for c in f.get("category", "").split("|") if c),
            index["kind"].get(f.get("kind")),
            (int(budget) if budget.isdigit() else float(budget)) if budget else None]
    if len(pages) != len(facets) or len(found) != len(facets):
        raise SearchIndexError(f"{len(facets)} pages indexed, {len(found)} fragments written, "
                               f"{len(pages)} of them with an id of their own")
    data = {"facets": values, "pages": pages}
    (bundle / PAGES_FILE).write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")),
                                     encoding="utf-8")


def swap_in(fresh: Path, target: Path) -> None:
    """Put the folder `fresh` at `target`, replacing what was there."""
    old = None
    if target.exists():
        old = target.with_name(f".{urls.SEARCH_BUNDLE}-old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
    fresh.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# --- reading the index --------------------------------------------------------------------

def _cbor(data: bytes, i: int = 0):
    """Decode one CBOR item at `i` (the subset Pagefind writes); return (value, next i)."""
    head = data[i]
    major, info = head >> 5, head & 31
    i += 1
    if info < 24:
        n = info
    elif info <= 27:
        size = 1 << (info - 24)
        n = int.from_bytes(data[i:i + size], "big")
        i += size
    else:
        raise ValueError(f"unsupported CBOR item {head:#x}")
    if major == 0:
        return n, i
    if major == 1:
        return -1 - n, i
    if major in (2, 3):
        raw = data[i:i + n]
        return (raw.decode("utf-8") if major == 3 else raw), i + n
    if major == 4:
        items = []
        for _ in range(n):
            item, i = _cbor(data, i)
            items.append(item)
        return items, i
    if major == 5:
        mapping = {}
        for _ in range(n):
            key, i = _cbor(data, i)
            mapping[key], i = _cbor(data, i)
        return mapping, i
    if major == 6:
        return _cbor(data, i)
    if major == 7 and info in (20, 21, 22):
        return {20: False, 21: True, 22: None}[info], i
    raise ValueError(f"unsupported CBOR item {head:#x}")


def read_meta(path: Path) -> dict:
    """The parts of a Pagefind 1.5 `.pf_meta` file: version, pages, chunks, filters, sorts."""
    raw = gzip.decompress(path.read_bytes())
    if not raw.startswith(b"pagefind_dcd"):
        raise SearchIndexError(f"{path.name}: not a Pagefind index file")
    value, _ = _cbor(raw, 12)
    version, pages, chunks, filters, sorts = value[:5]
    return {"version": version, "pages": pages, "chunks": chunks, "filters": filters, "sorts": sorts}


def index_stats(site_dir: Path) -> dict:
    """Sizes of the search bundle in `site_dir` (bytes on disk; Pagefind's files are gzipped),
    and what a first query downloads at least: pagefind.js, the entry, the wasm, the meta file
    and the chunk list (assets/search.js then loads one index chunk per token and the
    fragments of the pages found; test-output/search/report.json has the measured total)."""
    bundle = Path(site_dir) / urls.SEARCH_BUNDLE
    if not (bundle / "pagefind-entry.json").is_file():
        return {}

    def size(pattern: str) -> int:
        return sum(p.stat().st_size for p in bundle.glob(pattern) if p.is_file())

    fixed = {name: size(pattern) for name, pattern in (
        ("pagefind.js", "pagefind.js"), ("pagefind-entry.json", "pagefind-entry.json"),
        ("wasm", "wasm.*.pagefind"), ("meta", "pagefind.*.pf_meta"), ("chunks", CHUNKS_FILE))}
    return {
        "bundle_bytes": size("**/*"),
        "index_bytes": size("index/*"), "index_files": len(list(bundle.glob("index/*"))),
        "fragment_bytes": size("fragment/*"), "fragments": len(list(bundle.glob("fragment/*"))),
        "filter_bytes": size("filter/*"),
        "first_query_fixed_bytes": sum(fixed.values()), "first_query_fixed": fixed,
    }
