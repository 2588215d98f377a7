"""Search index stage: a Pagefind index of every agency-year and project page.

The pipeline calls `build_index(staging_dir, config, previous)` after every page is written
to the staging folder and before it is swapped in, so an index failure keeps the old site;
the dev server calls it on the live output folder. Large sites are indexed in parts, one
Pagefind process each; a part whose pages' text is unchanged is taken from the `previous`
bundle (`reusable_parts`) instead of being indexed again.

Pagefind does not index the pages themselves (docs/search.md): for each page that carries
`data-search-*` facets (templates/agency_year.html, templates/project.html) a "shadow"
page is written to a temporary folder outside the site, holding the page's `<main>` text
as positional character bigrams (gongkai/searchtext.py), its `<h1>` the same way as the
`title` meta, and its facets as Pagefind filters and metadata. The shadow folder mirrors
the site's paths, so the index (written to `pagefind/` in the site) reports the real
pages' URLs. `pagefind/search-chunks.json` lists the word range of each index chunk, for
assets/search.js (a one-character prefix lookup has to load every chunk it spans).

The Pagefind binary is the pinned extended one from the `pagefind-bin-extended` wheel
(requirements.txt). The index is built with `--force-language zxx`, so no segmenter is
involved, but the build still refuses any other binary: a plain `pagefind_bin` (no
Chinese segmentation) or another version fails with a message, as does any sign in its
output that it ran in non-extended mode.
"""
from __future__ import annotations

import contextlib
import gzip
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import zlib
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional

from . import parallel, searchtext
from .config import Config
from .files import FILE, walk_folder
from .searchtext import encode_string, fragment_text, heading_text, main_fragment, seal

PAGEFIND_VERSION = "1.5.2"          # must equal the pins in requirements.txt
PAGEFIND_PACKAGE = "pagefind-bin-extended"
BUNDLE = "pagefind"                  # the index folder in the site
CHUNKS_FILE = "search-chunks.json"   # in BUNDLE
PAGES_FILE = "search-pages.json"     # in BUNDLE
PARTS_FILE = "search-parts.json"     # in BUNDLE: the other parts' folders, for mergeIndex
KEYS_FILE = "search-keys.json"       # in BUNDLE: what each part was made from, to reuse it
OWN_FILES = (CHUNKS_FILE, PAGES_FILE, PARTS_FILE, KEYS_FILE)   # ours, beside Pagefind's main part
PART_PAGES = 500                     # pages per part at least before the index is split
LANGUAGE = "zxx"                     # ISO 639-2 "no linguistic content": no segmenter, no stemmer
FACET_PREFIX = "data-search-"
# Pagefind's own search interfaces: the site has its own (assets/search-page.js).
UNUSED_FILES = ("pagefind-ui.js", "pagefind-ui.css", "pagefind-modular-ui.js",
                "pagefind-modular-ui.css", "pagefind-component-ui.js", "pagefind-component-ui.css",
                "pagefind-highlight.js", "pagefind-worker.js")   # search.js runs Pagefind without a worker
# The facets each result carries (as Pagefind metadata): the search page's four filters
# (category: 一级指标 joined by "|"), the page kind (部门 or 项目), the budget in yuan.
FACETS = ("year", "region", "agency", "category", "kind", "budget")


class SearchIndexError(Exception):
    """The index cannot be built; the message says why (shown by the build)."""


# --- the binary ---------------------------------------------------------------------------

def pagefind_binary() -> Path:
    """The extended Pagefind binary of the pinned `pagefind-bin-extended` wheel."""
    from importlib import metadata
    try:
        version = metadata.version(PAGEFIND_PACKAGE)
    except metadata.PackageNotFoundError:
        plain = _installed("pagefind-bin")
        raise SearchIndexError(
            f"the extended Pagefind binary ({PAGEFIND_PACKAGE}=={PAGEFIND_VERSION}) is not installed"
            + (f"; only the plain pagefind-bin {plain} is, which cannot segment Chinese" if plain else "")
            + ": run `make site` (pip install -r requirements.txt)") from None
    if version != PAGEFIND_VERSION:
        raise SearchIndexError(f"{PAGEFIND_PACKAGE} {version} is installed, the site needs "
                               f"{PAGEFIND_VERSION} (requirements.txt): run `make site`")
    try:
        from pagefind_bin_extended import get_executable
        binary = Path(get_executable())
    except (ImportError, FileNotFoundError) as exc:
        raise SearchIndexError(f"{PAGEFIND_PACKAGE} is broken: {exc}") from None
    if binary.name != "pagefind_extended":
        raise SearchIndexError(f"{binary} is not the extended Pagefind binary (pagefind_extended)")
    return binary


def _installed(name: str) -> Optional[str]:
    from importlib import metadata
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def check_log(log: str) -> None:
    """Fail unless Pagefind's own log shows the pinned extended binary at work."""
    banner = f"Running Pagefind v{PAGEFIND_VERSION} (Extended)"
    if banner not in log:
        first = next((line for line in log.splitlines() if line.startswith("Running Pagefind")), "no banner")
        raise SearchIndexError(f"Pagefind did not report the extended binary {PAGEFIND_VERSION} "
                               f"(it said: {first!r}); the index would not support Chinese")
    if "non-extended" in log:
        raise SearchIndexError("Pagefind ran in non-extended mode (no Chinese segmentation)")


# --- shadow pages -------------------------------------------------------------------------

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
    text = fragment_text(fragment)
    if not text:
        return None
    # Metadata, not Pagefind filters: Pagefind 1.5.2 writes filter files in hash-map order,
    # so the index would differ from build to build. search.js filters the results itself.
    # Sealed (searchtext.seal): Pagefind indexes metadata words, which must not meet a query.
    tags = "".join(f'<span data-pagefind-meta="{name}:{seal(facets[name])}"></span>'
                   for name in FACETS if facets.get(name))
    title = html.escape(encode_string(heading_text(fragment)), quote=False)
    body = html.escape(encode_string(text), quote=False)
    return (f'<!DOCTYPE html><html lang="{LANGUAGE}"><head><meta charset="utf-8"></head><body>'
            f'<main data-pagefind-body>\n{body}\n'
            f'<div data-pagefind-ignore><span data-pagefind-meta="title">{title}</span>{tags}</div>\n'
            f'</main></body></html>\n'), facets


def site_pages(site_dir: Path) -> list[str]:
    """Every HTML page of the site (POSIX paths relative to it), the index bundle excluded."""
    pages = []
    for folder, dirs, files in os.walk(site_dir):
        if folder == str(site_dir):
            dirs[:] = [d for d in dirs if d != BUNDLE]
        dirs.sort()
        rel = os.path.relpath(folder, site_dir)
        for name in sorted(files):
            if name.endswith(".html"):
                pages.append(name if rel == "." else f"{rel}/{name}".replace(os.sep, "/"))
    return pages


def _flat(rel: str) -> str:
    """The file name of the shadow page of `rel` in the flat folder they are first written
    to (no folder per page to make and remove; `_move_shadows` puts them in a tree)."""
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


def _shadow_task(paths: list[str]) -> list[tuple[str, dict[str, str], bytes]]:
    """Write the shadow pages of some pages of the site; (path, facets, digest) of each searched one."""
    site_dir, shadow_dir = parallel.STATE["search_site"], parallel.STATE["search_shadow"]
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


@contextlib.contextmanager
def scratch(pages: int) -> Iterator[Path]:
    """A scratch folder for the shadow pages of about `pages` pages (see scratch_dir),
    removed afterwards; those of killed builds are removed first."""
    folder = scratch_dir(pages)
    remove_stale_scratch(folder)
    with tempfile.TemporaryDirectory(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-", dir=folder) as tmp:
        yield Path(tmp)


def write_shadow(site_dir: Path, shadows: ShadowPages, pages: list[str], workers: Optional[int] = None) -> None:
    """Write the shadow pages of `pages` of `site_dir` into `shadows` (in parallel)."""
    parallel.STATE.update(search_site=str(site_dir), search_shadow=str(shadows.folder))
    workers = _workers() if workers is None else workers
    for found in parallel.run(_shadow_task, parallel.tasks(pages, 200), workers if len(pages) >= 400 else 1):
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


SHM = "/dev/shm"
SHADOW_BYTES = 64 * 1024       # per page, room to spare: shadow pages are about 17 KB each


def scratch_dir(pages: int) -> Optional[str]:
    """Where the shadow folder goes: memory (/dev/shm) when it has room for it with 1 GiB to
    spare, else the default temporary folder. Creating 11,000 folders and files and
    Pagefind reading them back cost 3 s of system time on disk at 10,000 pages; the folder
    exists only while Pagefind runs."""
    try:
        stat = os.statvfs(SHM)
    except OSError:
        return None
    if stat.f_bavail * stat.f_frsize < pages * SHADOW_BYTES + (1 << 30) or not os.access(SHM, os.W_OK):
        return None
    return SHM


SCRATCH_PREFIX = "gongkai-search-"


def remove_stale_scratch(scratch: Optional[str]) -> None:
    """Remove the shadow folders of builds that were killed (their process is gone): in
    /dev/shm they would hold memory until the machine restarts."""
    folder = scratch or tempfile.gettempdir()
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
            shutil.rmtree(os.path.join(folder, name), ignore_errors=True)
        except OSError:
            pass       # alive under another user: not ours to touch


# --- the index ----------------------------------------------------------------------------

def _pagefind_cmd(binary: Path, source: Path, output: Path, extra: tuple[str, ...] = ()) -> list[str]:
    return [str(binary), "--site", str(source), "--output-path", str(output),
            "--force-language", LANGUAGE, "--keep-index-url", *extra]


def run_pagefind(binary: Path, source: Path, output: Path, extra: tuple[str, ...] = ()) -> str:
    """Index the shadow folder into `output`; return Pagefind's log."""
    cmd = _pagefind_cmd(binary, source, output, extra)
    proc = subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8", errors="replace")
    log = proc.stdout + proc.stderr
    if proc.returncode != 0:
        tail = "\n".join(log.strip().splitlines()[-15:])
        raise SearchIndexError(f"Pagefind exited with {proc.returncode}:\n{tail}")
    return log


def _workers() -> int:
    """Processes the index step may use: none forked from the dev server's indexing thread
    (a fork there would copy locks other threads hold)."""
    return parallel.worker_count() if threading.current_thread() is threading.main_thread() else 1


def part_count(pages: int, workers: Optional[int] = None) -> int:
    """How many parts the index is split into. Pagefind indexes on about one core (10,000
    pages: 30 s wall, 39 s CPU), so past PART_PAGES pages per core the pages are split
    into parts, one Pagefind process each, all at once (two parts: 18 s wall, 35 s CPU),
    merged at query time by assets/search.js (`mergeIndex`). GONGKAI_SEARCH_PARTS sets it."""
    value = os.environ.get("GONGKAI_SEARCH_PARTS", "").strip()
    if value.isdigit() and int(value) > 0:
        return max(1, min(int(value), pages))
    workers = _workers() if workers is None else workers
    return max(1, min(workers, pages // PART_PAGES))


def part_folder(n: int) -> str:
    """Where part `n` (0 = the main bundle) lives inside the bundle folder."""
    return "" if n == 0 else f"part-{n + 1}/"


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
    Pagefind version and options, and the code that writes shadow pages and runs Pagefind.
    Equal keys, equal part: Pagefind's output depends on nothing else (tested)."""
    key = hashlib.sha256(" ".join([PAGEFIND_VERSION, *_pagefind_cmd(Path(), Path(), Path())[1:]]).encode())
    for module in (searchtext.__file__, __file__):
        key.update(Path(module).read_bytes())
    for rel in share:
        key.update(rel.encode("utf-8") + b"\0" + digests[rel])
    return key.hexdigest()


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
            continue                      # only folders this module writes
        folder = bundle / part["folder"]
        files = part_files(folder, main=not part["folder"])
        try:
            if files and files_digest(folder, files) == part["files"]:
                found[part["key"]] = (folder, files)
        except OSError:
            continue
    return found


def _link_part(folder: Path, files: list[str], output: Path) -> None:
    """An earlier part's files into `output`: hard links (no bytes copied, and the old
    bundle is deleted once the new one is in place), copies where links are refused."""
    for rel in files:
        target = output / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(folder / rel, target)
        except OSError:
            shutil.copyfile(folder / rel, target)


def _move_shadows(written: Path, source: Path, share: list[str]) -> None:
    """The shadow pages of one share into a folder of their own, for one Pagefind."""
    _make_folders(source, share)
    for rel in share:
        os.rename(written / _flat(rel), source / rel)


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
        shares = split_pages(sorted(digests), part_count(len(digests)))
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
                    _link_part(*earlier[key], output)
                else:
                    source = Path(tmp) / f"part-{n}"
                    _move_shadows(written, source, share)
                    jobs.append((source, output))
            for log in run_pagefinds(binary, jobs):
                check_log(log)
            for n, output in enumerate(outputs[1:], 1):
                finish_part(output)
                output.rename(fresh / part_folder(n))
            finish_bundle(fresh, facets, keys)
            swap_in(fresh, site_dir / BUNDLE)
        finally:
            for output in outputs:
                shutil.rmtree(output, ignore_errors=True)
    return {"pages": len(facets), "parts": len(shares), "reused": len(shares) - len(jobs),
            "seconds": round(time.perf_counter() - started, 3), "shadow_seconds": round(shadow_seconds, 3)}


def run_pagefinds(binary: Path, jobs: list[tuple[Path, Path]]) -> list[str]:
    """Run Pagefind on each (shadow folder, output folder) at once; their logs, in order."""
    if not jobs:
        return []
    if len(jobs) == 1:
        return [run_pagefind(binary, *jobs[0])]
    procs = []
    try:
        for source, output in jobs:
            procs.append(subprocess.Popen(_pagefind_cmd(binary, source, output), stdout=subprocess.PIPE,
                                          stderr=subprocess.STDOUT, text=True, encoding="utf-8",
                                          errors="replace"))
        logs = [proc.communicate()[0] for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:     # an error or a kill of the build: stop the others
                proc.kill()
                proc.wait()
    for proc, log in zip(procs, logs):
        if proc.returncode != 0:
            tail = "\n".join(log.strip().splitlines()[-15:])
            raise SearchIndexError(f"Pagefind exited with {proc.returncode}:\n{tail}")
    return logs


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
    and the digest of its files (KEYS_FILE, for `reusable_parts`). Every file of the bundle
    is read once, for the digests and the pages' addresses."""
    finish_part(bundle)
    folders = [bundle / part_folder(n) for n in range(len(keys))]
    chunks = sorted([c[0], c[1]] for folder in folders
                    for c in read_meta(next(folder.glob(f"pagefind.{LANGUAGE}_*.pf_meta")))["chunks"])
    (bundle / CHUNKS_FILE).write_text(json.dumps(chunks, separators=(",", ":")), encoding="utf-8")
    (bundle / PARTS_FILE).write_text(json.dumps([part_folder(n) for n in range(1, len(keys))]), encoding="utf-8")
    recorded, fragments = [], []

    def keep_fragment(rel: str, data: bytes) -> None:
        if rel.startswith("fragment/") and rel.endswith(".pf_fragment"):
            fragments.append((rel[len("fragment/"):], data))

    for n, (folder, key) in enumerate(zip(folders, keys)):
        files = part_files(folder, main=n == 0) or []
        recorded.append({"folder": part_folder(n), "key": key,
                         "files": files_digest(folder, files, keep_fragment)})
    write_pages_file(bundle, facets, fragments)
    (bundle / KEYS_FILE).write_text(json.dumps({"parts": recorded}, indent=1), encoding="utf-8")
    for folder, dirs, files in os.walk(bundle):
        for name in dirs:
            os.chmod(os.path.join(folder, name), 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)


_FRAGMENT_URL_RE = re.compile(rb'^pagefind_dcd\{"url":"((?:[^"\\]|\\.)*)"')


def write_pages_file(bundle: Path, facets: dict[str, dict[str, str]], fragments: list[tuple[str, bytes]]) -> None:
    """`search-pages.json`: the facets of every page by its Pagefind id (fragment name),
    so that search.js can count, filter and sort many results before it loads their text:

        {"facets": {"year": ["2022", …], "region": […], "agency": […], "category": […],
                    "kind": ["部门", "项目"]},
         "pages": {"zxx_6f22458": [year, region, agency, categories, kind, budget], …}}

    year, region, agency and kind are indexes into the lists, categories a bit mask over
    theirs, budget yuan or null. Sorted throughout: same pages, same bytes."""
    values = {name: sorted({v for f in facets.values() for v in
                            (f.get(name, "").split("|") if name == "category" else [f.get(name, "")]) if v},
                           reverse=name == "year")
              for name in ("year", "region", "agency", "category", "kind")}
    index = {name: {v: i for i, v in enumerate(vs)} for name, vs in values.items()}
    pages = {}
    for name, data in sorted(fragments, key=lambda item: item[0]):
        # only the start: the address comes first (decompressing whole fragments took 0.5 s)
        match = (_FRAGMENT_URL_RE.match(zlib.decompressobj(31).decompress(data, 1024))
                 or _FRAGMENT_URL_RE.match(gzip.decompress(data)))     # an address over 1 KB
        if not match:
            raise SearchIndexError(f"{name}: cannot read its page address")
        f = facets[json.loads(b'"' + match.group(1) + b'"')]
        budget = f.get("budget")
        pages[name.removesuffix(".pf_fragment")] = [
            index["year"].get(f.get("year")), index["region"].get(f.get("region")),
            index["agency"].get(f.get("agency")),
            sum(1 << index["category"][c] for c in f.get("category", "").split("|") if c),
            index["kind"].get(f.get("kind")),
            (int(budget) if budget.isdigit() else float(budget)) if budget else None]
    if len(pages) != len(facets):
        raise SearchIndexError(f"{len(facets)} pages indexed, {len(pages)} fragments written")
    data = {"facets": values, "pages": pages}
    (bundle / PAGES_FILE).write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")),
                                     encoding="utf-8")


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
    bundle = Path(site_dir) / BUNDLE
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
