"""The search index: its files, and how they are made from the pages' records.

assets/search.js reads it (the same format there; change the two together). Every file
is gzipped by the build, so it is small whatever the server does; search.js unpacks a
file only if it starts with gzip's magic bytes (a server may have unpacked it already).

    meta.bin       the page count, the number of word files, every facet value, and each
                   page's facets: runs of pages of one year, region and agency (`groups`),
                   each page's kind and 一级指标 (bit mask over facets.category); `version`,
                   a digest of every file (see write_meta)
    budgets.bin    each page's budget in yuan (or null), loaded to sort by budget
    pages/K/N.bin  page N's file (records.page_record), K = N // 1024
    words/B.bin    the postings of the search words whose hash (`word_hash`) is B modulo
                   the number of word files; a posting too large to share goes to
                   words/big/M.bin, and the entry names M

Pages are numbered in the order of their addresses. A word's posting is the pages whose
text holds it, as gaps (page - previous page, the first from -1) in LEB128 varints. An
entry of a word file: varint length + the key (UTF-8; the word, or TITLE + the word for
the pages whose heading holds it), then varint 2·length (+ the posting's bytes) or
2·M + 1 (the posting is words/big/M.bin).

One query term of n letters looks up its n - 1 pairs. A rare word costs its word file
(WORD_FILE_BYTES before gzip), a common one its own posting: about one bit a page at
most. That keeps a first search small at any size (docs/search.md).
"""
from __future__ import annotations

import gzip
import itertools
import json
import os
from array import array
from collections import defaultdict
from operator import sub
from pathlib import Path

from .records import FILTERS

META_FILE = "meta.bin"
BUDGETS_FILE = "budgets.bin"
TITLE = "#"                 # before a word: the pages whose heading holds it ('#' is no word)
FORMAT = 1
WORD_FILE_BYTES = 3 * 1024  # postings per word file, before gzip
BIG_POSTING = 1536          # a posting larger than this (before gzip) gets a file of its own
PAGE_FOLDER = 1024          # page files per folder


def word_hash(word: str) -> int:
    """FNV-1a (32 bits) of the word's UTF-8 bytes (search.js `wordHash`)."""
    h = 0x811C9DC5
    for byte in word.encode("utf-8"):
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def page_path(n: int) -> str:
    """Page n's file in the index folder."""
    return f"pages/{n // PAGE_FOLDER}/{n}.bin"


def varints(values) -> bytes:
    """LEB128 varints of non-negative integers."""
    values = list(values)
    if not values or max(values) < 128:
        return bytes(values)
    out = bytearray()
    for n in values:
        while n >= 128:
            out.append((n & 127) | 128)
            n >>= 7
        out.append(n)
    return bytes(out)


def posting(pages: array) -> bytes:
    """A posting: the gaps between the (ascending) page numbers as varints."""
    return varints(map(sub, pages, array("i", [-1]) + pages[:-1]))


def read_varints(data: bytes) -> list[int]:
    """The integers of `varints` (tests and tools read the index back with these)."""
    out, i = [], 0
    while i < len(data):
        n, i = _varint(data, i)
        out.append(n)
    return out


def read_posting(data: bytes) -> list[int]:
    """The page numbers of a `posting`."""
    return list(itertools.accumulate(read_varints(data), initial=-1))[1:]


def _varint(data: bytes, i: int) -> tuple[int, int]:
    """The varint at `i` and where the next one starts."""
    n, shift = 0, 0
    while True:
        byte = data[i]
        i += 1
        n |= (byte & 127) << shift
        if not byte & 128:
            return n, i
        shift += 7


def _packed(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


class Postings:
    """The pages of each search word (body and title), added page by page in page order.
    Words stay UTF-8 bytes until they are written: 5 million appends at 10,000 pages."""

    def __init__(self):
        self.body: dict[bytes, array] = defaultdict(lambda: array("i"))
        self.title: dict[bytes, array] = defaultdict(lambda: array("i"))

    def add(self, n: int, body: bytes, title: bytes) -> None:
        for words, line in ((self.body, body), (self.title, title)):
            if line:
                for pages in map(words.__getitem__, line.split(b" ")):
                    pages.append(n)

    def write(self, folder: Path, digest) -> int:
        """Write words/ (each file's bytes into `digest`); return the number of word files."""
        entries: list[tuple[str, bytes]] = sorted(
            [(key.decode("utf-8"), posting(pages)) for key, pages in self.body.items()]
            + [(TITLE + key.decode("utf-8"), posting(pages)) for key, pages in self.title.items()])
        small = sum(len(data) for _, data in entries if len(data) <= BIG_POSTING)
        count = max(1, -(-small // WORD_FILE_BYTES))
        files: list[bytearray] = [bytearray() for _ in range(count)]
        (folder / "words" / "big").mkdir(parents=True)
        big = 0
        for key, data in entries:
            name = key.encode("utf-8")
            out = files[word_hash(key.removeprefix(TITLE)) % count]
            out += varints([len(name)]) + name
            if len(data) > BIG_POSTING:
                packed = _packed(data)
                digest.update(packed)
                (folder / "words" / "big" / f"{big}.bin").write_bytes(packed)
                out += varints([2 * big + 1])
                big += 1
            else:
                out += varints([2 * len(data)]) + data
        for n, data in enumerate(files):
            packed = _packed(bytes(data))
            digest.update(packed)
            (folder / "words" / f"{n}.bin").write_bytes(packed)
        return count


def facet_tables(pages: list[str], facets: dict[str, dict[str, str]]) -> tuple[dict, dict]:
    """(facet values, per-page facets) of meta.bin for `pages` in page order."""
    values = {name: sorted({v for f in facets.values() for v in
                            (f.get(name, "").split("|") if name == "category" else [f.get(name, "")]) if v},
                           reverse=name == "year")
              for name in FILTERS}
    index = {name: {v: i for i, v in enumerate(vs)} for name, vs in values.items()}
    groups: list[list] = []
    kinds, categories = [], []
    for rel in pages:
        f = facets[rel]
        group = [index["year"].get(f.get("year")), index["region"].get(f.get("region")),
                 index["agency"].get(f.get("agency"))]
        if groups and groups[-1][1:] == group:
            groups[-1][0] += 1
        else:
            groups.append([1, *group])
        kinds.append(index["kind"].get(f.get("kind")))
        categories.append(sum(1 << index["category"][c] for c in f.get("category", "").split("|") if c))
    return values, {"groups": groups, "kinds": kinds, "categories": categories}


def write_meta(folder: Path, pages: list[str], facets: dict[str, dict[str, str]], word_files: int, digest) -> None:
    """Write budgets.bin and meta.bin. The meta file's `version` digests every file of the
    index (`digest` has the page and word files already): search.js asks for the others
    with `?v=version`, so a browser never mixes files of two builds from its cache."""
    budgets = []
    for rel in pages:
        budget = facets[rel].get("budget")
        budgets.append((int(budget) if budget.isdigit() else float(budget)) if budget else None)
    packed = _packed(_json(budgets))
    digest.update(packed)
    (folder / BUDGETS_FILE).write_bytes(packed)
    values, per_page = facet_tables(pages, facets)
    meta = {"format": FORMAT, "pages": len(pages), "wordFiles": word_files, "facets": values, **per_page}
    digest.update(_json(meta))
    meta["version"] = digest.hexdigest()[:16]
    (folder / META_FILE).write_bytes(_packed(_json(meta)))


def _json(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def read_file(path: Path):
    """The JSON of an index file (meta.bin, budgets.bin, a page file)."""
    return json.loads(gzip.decompress(Path(path).read_bytes()))


def read_words(folder: Path, word: str) -> list[int]:
    """The pages (numbers) whose text holds `word` (TITLE + word: whose heading), read back
    as search.js does."""
    count = read_file(folder / META_FILE)["wordFiles"]
    data = gzip.decompress((folder / "words" / f"{word_hash(word.removeprefix(TITLE)) % count}.bin").read_bytes())
    i = 0
    while i < len(data):
        length, i = _varint(data, i)
        key, i = data[i:i + length].decode("utf-8"), i + length
        value, i = _varint(data, i)
        if value & 1:
            body = gzip.decompress((folder / "words" / "big" / f"{value >> 1}.bin").read_bytes())
        else:
            body, i = data[i:i + (value >> 1)], i + (value >> 1)
        if key == word:
            return read_posting(body)
    return []


def set_modes(folder: Path) -> None:
    """Readable by the web server whatever the umask of the build."""
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)
