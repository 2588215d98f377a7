"""What search sees of a page: its main text, folded as search compares it.

Search finds every substring a reader types, Chinese included: the index is made of the
page's letters and digits and the pairs of them that stand together (gongkai/search/),
not of words a segmenter chose (Pagefind's jieba and the browser's Intl.Segmenter
disagree, upstream issue #1237, and 海关 in 山海关 is no word of either).

* `main_text(html)` is the text a reader sees in `<main>`: tags removed, entities decoded,
  a space where a block element (cell, paragraph, heading…) ends, whitespace collapsed.
  The `<nav>` of previous/next links is skipped: it names other pages. So is every element
  marked `data-search-skip` in the templates: what the site adds to the document (captions
  and hints it writes, the chart that repeats the plan table, derived values and notes,
  the project summary table, the download lists). Search covers the document's own text, and a query for a label the
  site prints on every page does not answer with every page.
* `index_text(fragment)` is what search keeps of a page: that text with letters and
  digits folded, printed punctuation and printed spaces kept for display, blocks
  separated by " " and a printed space inside a block as INNER_SPACE.

Folding (docs/search.md, "What is folded"): a reader types `2022年度`, `90％` or `≥90%`
where the document prints `2022 年度`, `90%` or `≧90%`. So the index and the query both
go through `fold`: every character on its own (no composition across characters) is
replaced by its Unicode NFKC form (full-width and other width or compatibility variants:
`９０％` -> `90%`, `Ａ` -> `A`, `㎡` -> `m2`), then ≧ -> ≥, ≦ -> ≤, ⩾ -> ≥, ⩽ -> ≤, and every
white space is removed. Only the boundaries between blocks (cells, paragraphs, headings)
stay: a term never runs from one cell into the next. search.js `fold` is the same
function (tests/test_search.py runs every BMP character through both).
"""
from __future__ import annotations

import functools
import html
import re
import unicodedata

INNER_SPACE = "\t"       # in an index text: a printed space inside a block (" " ends a block)
# Same meaning, other code points; applied after NFKC (search.js: VARIANTS).
VARIANTS = {"\u2267": "\u2265", "\u2266": "\u2264", "\u2a7e": "\u2265", "\u2a7d": "\u2264"}

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
