"""What search sees of a page: its main text, and that text as positional character bigrams.

Pagefind cannot find every Chinese substring: it segments pages at build time with jieba
(charabia) and queries in the browser with Intl.Segmenter, which disagree (upstream
issue #1237), and a substring inside a jieba word (海关 in 山海关, 干部 in 老干部) is no
word of the index at all. So search does not index the words of a page but its
characters (docs/search.md):

* `main_text(html)` is the text a reader sees in `<main>`: tags removed, entities decoded,
  a space where a block element (cell, paragraph, heading…) ends, whitespace collapsed.
  The `<nav>` of previous/next links is skipped: it names other pages. So is every element
  marked `data-search-skip` in the templates: what the site adds to the document (captions
  and hints it writes, the chart that repeats the plan table, derived values and notes,
  the project summary table, the download lists). Search covers the document's own text, and a query for a label the
  site prints on every page does not answer with every page.
* `encode(text)` turns that text into one token per character, so token i is character i
  and Pagefind's word positions are character positions:
  - a letter or digit c followed by another one d: the bigram code E(c)+E(d); followed by
    anything else: E(c) + `x`. E(c) is the code point of lower(c) written with four
    letters, the first a–d (base 26; above U+FFFF `z` + five letters). Letters only, so
    Pagefind keeps each code whole; a trailing `^` marks an upper-case first character;
    Pagefind drops the mark, so search ignores case, and decoding restores it.
    The `x` (a letter no code starts with) keeps every word of the index from being the
    start of another but for a code being the start of its bigrams: Pagefind answers a
    word it lacks with the longest indexed word that starts it (find_word_extensions),
    which for a missing pair would otherwise be the first character's lone code;
  - a space: `␣`; punctuation and symbols: the character itself (Pagefind indexes no word
    for it, but it still takes its position); anything else (combining marks, controls,
    characters Pagefind treats as part of words): `¤`.
* `decode(tokens)` gives the text back (`¤` stays `¤`).

Folding (docs/search.md, "What is folded"): a reader types `2022年度`, `90％` or `≥90%`
where the document prints `2022 年度`, `90%` or `≧90%`. So the index and the query both
go through `fold`: every character on its own (no composition across characters) is
replaced by its Unicode NFKC form (full-width and other width or compatibility variants:
`９０％` -> `90%`, `Ａ` -> `A`, `㎡` -> `m2`), then ≧ -> ≥, ≦ -> ≤, ⩾ -> ≥, ⩽ -> ≤, and every
white space is removed. Only the boundaries between blocks (cells, paragraphs, headings)
stay: a term never runs from one cell into the next. search.js `fold` is the same
function (tests/test_search_index.py runs every BMP character through both).
`index_text(fragment)` is what the index is made from: letters and digits folded, printed
punctuation and printed spaces kept for display (a space inside a block marks the token
before it with `~`, which Pagefind drops like `^`: no position of its own).

theme/assets/search.js holds the same code in JavaScript: a query term is looked up as
the bigrams at offsets 0, 2, 4… (plus the last pair), which must sit at the same relative
positions in a page. Change the two together.

Speed matters (10,000 pages, 15 million characters per build): the token of each
character-and-next pair is cached, and a page is encoded by C-level map() over its pairs
(about 0.13 µs per character: 2 s of CPU for the 11,324 pages of the bench site).
"""
from __future__ import annotations

import functools
import html
import re
import unicodedata
from operator import add

UNPAIRED = "x"           # after the code of a letter or digit with no letter or digit after it
SPACED = "~"             # on a token whose character the document follows with a space (same block)
INNER_SPACE = "\t"       # in an index text: a printed space inside a block (" " ends a block)
# Same meaning, other code points; applied after NFKC (search.js: VARIANTS).
VARIANTS = {"\u2267": "\u2265", "\u2266": "\u2264", "\u2a7e": "\u2265", "\u2a7d": "\u2264"}
SPACE_TOKEN = "\u2423"   # ␣
OTHER_TOKEN = "\u00a4"   # ¤
# Characters Pagefind 1.5 counts as word characters although they are no letters or digits
# (its default include_characters); as tokens of their own they would become words.
_WORDLIKE = set("_\u203f\u2040\u2054\ufe33\ufe34\ufe4d\ufe4e\ufe4f\uff3f")

# Elements that flow inside a line: no space where they start or end. Every other tag
# ends a block of text (a cell, an item, a paragraph) and reads as a space. Tag names are
# matched in lower case, as the templates and markdown-it write them (12 times faster
# than a case-blind pattern).
INLINE = ("a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "del", "dfn", "em", "i", "ins",
          "kbd", "mark", "q", "s", "samp", "small", "span", "strong", "sub", "sup", "time", "u",
          "var", "wbr")
_SKIP_RE = re.compile(r"<(script|style|template|nav)\b[^>]*>.*?</\1\s*>", re.DOTALL)
SKIP_ATTR = "data-search-skip"   # on an element with an end tag: left out with all it holds
_MARKED_RE = re.compile(rf"<([a-z][a-z0-9]*)\b[^>]*?\s{SKIP_ATTR}(?=[\s=/>])[^>]*>")
_INLINE_TAG_RE = re.compile(rf"</?(?:{'|'.join(INLINE)})(?=[\s/>])[^>]*>")
_TAG_RE = re.compile(r"<[^>]*>")
_H1_RE = re.compile(r"<h1\b[^>]*>(.*?)</h1\s*>", re.DOTALL)


def norm_text(text: str) -> str:
    """Whitespace runs as one space, none at the ends. Whitespace is what Python's
    str.isspace() and JavaScript's \\s know (search.js: /[\\s\\x1c-\\x1f\\x85]/)."""
    return " ".join(text.replace("\ufeff", " ").split())


def _is_space(c: str) -> bool:
    return c.isspace() or c == "\ufeff"


def fold_char(c: str) -> str:
    """What one character is to search (see the module docstring): NFKC, then the
    VARIANTS, white space removed. search.js foldChar is the same function."""
    if _is_space(c):
        return ""
    return "".join(VARIANTS.get(x, x) for x in unicodedata.normalize("NFKC", c) if not _is_space(x))


class _Folds(dict):
    def __missing__(self, c: str) -> str:
        value = self[c] = fold_char(c)
        return value


_FOLDS = _Folds()


def fold(text: str) -> str:
    """`text` as search compares it: every character folded (`fold_char`), white space gone."""
    return "".join(map(_FOLDS.__getitem__, text))


class _Shown(dict):
    """How a character appears in an index text: white space as INNER_SPACE, printed
    punctuation as printed when its folded form is one character that is no letter or
    digit either (search.js folds it again when it compares), anything else folded."""

    def __missing__(self, c: str) -> str:
        folded = _FOLDS[c]
        if _is_space(c):
            value = INNER_SPACE
        elif c == "\0":
            value = "\0"
        elif len(folded) == 1 and not c.isalnum() and not folded.isalnum():
            value = c
        else:
            value = folded
        self[c] = value
        return value


_SHOWN = _Shown()


def searchable(text: str, boundary: str = "\0") -> str:
    """An index text (see `index_text`) of plain `text` whose blocks end at `boundary`."""
    shown = "".join(map(_SHOWN.__getitem__, text.replace(boundary, "\0") if boundary != "\0" else text))
    blocks = (INNER_SPACE.join(filter(None, block.split(INNER_SPACE))) for block in shown.split("\0"))
    return " ".join(filter(None, blocks))


def index_text(fragment: str) -> str:
    """What the index holds of an HTML fragment: the reader's text (as `fragment_text`),
    letters and digits folded, blocks separated by " ", a printed space inside a block as
    one INNER_SPACE (none at a block's ends)."""
    if SKIP_ATTR in fragment:
        fragment = drop_marked(fragment)
    fragment = _SKIP_RE.sub("\0", fragment)
    fragment = _INLINE_TAG_RE.sub("", fragment)
    fragment = _TAG_RE.sub("\0", fragment.replace("\0", " "))
    return searchable(html.unescape(fragment))


def fragment_text(fragment: str) -> str:
    """The reader's text of an HTML fragment (see the module docstring)."""
    if SKIP_ATTR in fragment:
        fragment = drop_marked(fragment)
    fragment = _SKIP_RE.sub(" ", fragment)
    fragment = _INLINE_TAG_RE.sub("", fragment)
    fragment = _TAG_RE.sub(" ", fragment)
    return norm_text(html.unescape(fragment))


@functools.lru_cache(maxsize=64)
def _tag_edges(tag: str) -> re.Pattern:
    return re.compile(rf"<(/?){tag}(?=[\s/>])")


def drop_marked(fragment: str) -> str:
    """`fragment` without the elements marked `data-search-skip` (each with its content, up
    to its own end tag, nested elements of the same name counted), each read as a space."""
    kept, pos = [], 0
    while (start := _MARKED_RE.search(fragment, pos)) is not None:
        edges, depth, end = _tag_edges(start.group(1)), 1, start.end()
        while depth:
            edge = edges.search(fragment, end)
            if edge is None:
                end = len(fragment)
                break
            depth += -1 if edge.group(1) else 1
            end = fragment.find(">", edge.end()) + 1 or len(fragment)
        kept += (fragment[pos:start.start()], " ")
        pos = end
    kept.append(fragment[pos:])
    return "".join(kept)


def main_fragment(page: str) -> str | None:
    """The inner HTML of the page's `<main>`, or None when it has none."""
    start = page.find("<main")
    while start >= 0 and page[start + 5:start + 6] not in (">", " ", "\n", "\t", "/"):
        start = page.find("<main", start + 5)
    end = page.rfind("</main>")
    if start < 0 or end < start:
        return None
    return page[page.index(">", start) + 1:end]


def main_text(page: str) -> str:
    """The text of the page's `<main>` ("" without one)."""
    fragment = main_fragment(page)
    return fragment_text(fragment) if fragment is not None else ""


def heading_text(fragment: str) -> str:
    """The text of the first `<h1>` of an HTML fragment ("" without one)."""
    match = _H1_RE.search(fragment)
    return fragment_text(match.group(1)) if match else ""


def heading_index_text(fragment: str) -> str:
    """The index text (`index_text`) of the first `<h1>` of an HTML fragment."""
    match = _H1_RE.search(fragment)
    return index_text(match.group(1)) if match else ""


def _b26(n: int, width: int) -> str:
    letters = []
    for _ in range(width):
        n, r = divmod(n, 26)
        letters.append(chr(97 + r))
    return "".join(reversed(letters))


def _lower(c: str) -> str:
    low = c.lower()
    return low if len(low) == 1 else c


class _Codes(dict):
    """Code of each character, computed on first use."""

    def __missing__(self, c: str) -> str:
        value = self[c] = code(c)
        return value


class _Others(dict):
    """Token of each character that is no letter or digit, computed on first use."""

    def __missing__(self, c: str) -> str:
        if c == " ":
            value = SPACE_TOKEN
        elif c in _WORDLIKE or c in (SPACE_TOKEN, OTHER_TOKEN) or c.isspace():
            value = OTHER_TOKEN
        else:
            value = c if unicodedata.category(c)[0] in "PS" else OTHER_TOKEN
        self[c] = value
        return value


_CODES, _OTHERS = _Codes(), _Others()


def code(c: str) -> str:
    """E(c): the letters-only code of lower(c)."""
    cp = ord(_lower(c))
    return _b26(cp, 4) if cp < 0x10000 else "z" + _b26(cp - 0x10000, 5)


def _token(c: str, d: str) -> str:
    """The token of character c when character d follows it (d: "\0" at the end)."""
    if not c.isalnum():
        return _OTHERS[c]
    token = _CODES[c] + (_CODES[d] if d.isalnum() else UNPAIRED)
    return token + "^" if _lower(c) != c else token


class _Pairs(dict):
    """Token of each two-character string (a character and the one after it), computed on
    first use: page text repeats its pairs, so a page costs one C-level lookup per character."""

    def __missing__(self, pair: str) -> str:
        value = self[pair] = _token(pair[0], pair[1])
        return value


_PAIRS = _Pairs()


def encode(text: str) -> list[str]:
    """One token per character of the index text `text` (see `encode_string`)."""
    joined = encode_string(text)
    return joined.split(" ") if joined else []


_OTHER_WS_RE = re.compile(r"[^\S\t]+")


def encode_string(text: str) -> str:
    """The tokens of an index text (`index_text`; in plain text every white-space run but
    a tab ends a block), joined by spaces: the body of a shadow page. No token holds a
    space. One token per character but INNER_SPACE, which marks the token before it
    (SPACED). Each character is paired with the next by C-level map(): 15 million
    characters of a 10,000-page site take seconds, not the minute a loop over runs took."""
    text = _OTHER_WS_RE.sub(" ", text.replace("\ufeff", " "))
    if "\t" in text or text[:1] == " " or text[-1:] == " " or "  " in text:
        text = " ".join(filter(None, ("\t".join(filter(None, b.split("\t"))) for b in text.split(" "))))
    pieces = text.split(INNER_SPACE)
    text = "".join(pieces) if len(pieces) > 1 else text
    tokens = list(map(_PAIRS.__getitem__, map(add, text, text[1:] + "\0")))
    at = -1
    for piece in pieces[:-1]:
        at += len(piece)
        tokens[at] += SPACED
    return " ".join(tokens)


@functools.lru_cache(maxsize=4096)
def seal(value: str) -> str:
    """A metadata value as one word that cannot meet a query: `y` and the code of each
    character, case kept (Pagefind indexes metadata words too; `y` starts no code).
    Cached: every page has six facets, most of them shared (2.5 s of 10,000 pages uncached)."""
    return "y" + "".join(_b26(ord(c), 4) if ord(c) < 0x10000 else "z" + _b26(ord(c) - 0x10000, 5)
                         for c in value)


def unseal(word: str) -> str:
    """The value `seal` was given."""
    chars, i = [], 1
    while i < len(word):
        if word[i] == "z":
            chars.append(chr(0x10000 + _int26(word[i + 1:i + 6])))
            i += 6
        else:
            chars.append(chr(_int26(word[i:i + 4])))
            i += 4
    return "".join(chars)


def _int26(s: str) -> int:
    n = 0
    for ch in s:
        n = n * 26 + ord(ch) - 97
    return n


def decode(tokens: list[str]) -> str:
    """The text that `encode` was given, from its tokens: a block boundary and a printed
    space inside a block both as " "."""
    chars = []
    for token in tokens:
        if token == SPACE_TOKEN:
            chars.append(" ")
        elif "a" <= token[0] <= "z":
            if token[0] == "z":
                c, rest = chr(0x10000 + _int26(token[1:6])), token[6:]
            else:
                c, rest = chr(_int26(token[:4])), token[4:]
            chars.append(c.upper() if "^" in rest else c)
            if rest.endswith(SPACED):
                chars.append(" ")
        else:
            chars.append(token[0])
            if token[1:] == SPACED:
                chars.append(" ")
    return "".join(chars)
