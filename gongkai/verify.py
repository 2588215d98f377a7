"""Check the built site in its staging folder before it is swapped in.

The site is served under `Content-Security-Policy: default-src 'self'` and is also read
from disk, so a page that a template broke must never
be published. `verify_site` finds, in one pass over the generated files:

- inline scripts (a `<script>` without `src`), except `type="application/ld+json"` data
  blocks, which must hold valid JSON and no raw `<`; event-handler attributes (`on*=`);
  inline styles (`style=` attributes, `<style>` elements: the policy blocks them);
  `<meta http-equiv=refresh>`;
- URLs with a scheme other than http(s) and mailto (`javascript:`, `data:`, `vbscript:`…,
  also when hidden by tabs or entities), and http(s)/mailto URLs anywhere but a link's
  `href` (scripts, images, styles and forms stay on the site);
- root-relative (`/x`) and protocol-relative (`//host`) URLs: they break sub-path hosting
  (but the 404 page's `<base href>`, the site's path from site_url);
- a `<base>` element anywhere but the 404 page;
- internal `href`/`src`/`action` targets (in HTML pages, and `url()`/`@import` in CSS) that
  leave the site or name no file (a folder is not enough: pages are read from disk too),
  and `#fragments` that name no `id` in their page.

Speed (pure standard library, about 0.2 s per 1,000 pages): our HTML is generated with
autoescape, so attribute values are double-quoted and text never holds a raw `<`, `>` or
`"`. A page that looks exactly like that is read with a few C-speed regexes (fast path);
any page with something unusual (a comment, a `style` or `on…` word after a space, a
watched attribute not written `name="…"`, uppercase) is read tag by tag (exact path).
`checked(step)` wraps the pipeline's before-swap step so the check runs on every build.

In a build, the workers that render agency years check their own pages while the bytes are
in memory (`scan_written`, in parallel); `verify_site` then reads only the other pages and
settles the links the workers could not (to pages and files written elsewhere).
"""
from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional
from urllib.parse import unquote

from . import urls
from .errors import Problem
from .files import LINK, walk_folder
from .model import Pos

MAX_SHOWN = 30       # problems listed in the error message; the count is always given

URL_ATTRS = ("href", "src", "action", "formaction", "poster", "cite", "data", "background",
             "manifest", "ping", "xlink:href")
_URLS = "|".join(URL_ATTRS)
# One attribute, atomic (no backtracking). Like a browser, a name may follow a quoted value
# or a `/` without a space: `<a href="x"onclick=…>`, `<svg/onload=…>`.
_ATTR = r"""(?>(?:[\s/]+|(?<=["']))[^\s"'>/=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))?)"""
_WATCHED = rf"on[A-Za-z0-9_:-]*|style|id|srcset|http-equiv|{_URLS}|(?<=<)base"

# Exact path: comments and raw-text elements are consumed whole (a tag inside them is no
# tag); of the other tags only those with an attribute worth checking match at all.
SCAN_RE = re.compile(
    r"<!--.*?(?:-->|\Z)"
    rf"|<(?P<raw>script|style)\b(?P<rattrs>{_ATTR}*)\s*/?>(?P<body>.*?)(?:</(?P=raw)\s*>|\Z)"
    rf"|<(?P<tag>[A-Za-z][A-Za-z0-9:-]*)(?={_ATTR}*?(?:[\s/]+|(?<=[\"']))(?:{_WATCHED})\s*(?:=|[\s/>]))"
    rf"(?P<attrs>{_ATTR}*)\s*/?>",
    re.DOTALL | re.IGNORECASE)
ATTR_RE = re.compile(r"""([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?""")
# Fast path (see the module docstring): literal searches on the page's bytes, lowercased
# (bytes.lower() changes ASCII only, so positions and lengths stay those of the page).
RARE_TAG_RE = re.compile(rb"<(?:!--|style|base|object|embed)")
# Attributes that send a page to the exact path: event handlers, style and the rarely used
# URL attributes, preceded by a space, quote or `/`. Matched on the reversed page, where the
# pattern starts with the literal `=` (fast to find) instead of an alternation.
_ODD_ATTRS = (b"style", b"http-equiv", b"srcset", b"formaction", b"poster", b"cite",
              b"background", b"manifest", b"ping", b"xlink:href")
ODD_ATTR_REVERSED_RE = re.compile(
    rb"=\s*(?:[a-z0-9_:-]*no|" + b"|".join(re.escape(w[::-1]) for w in _ODD_ATTRS) + rb")(?:[\s\"'/]|$)")
LOOSE_ACTION_RE = re.compile(rb"action\s*=")
LOOSE_ID_RE = re.compile(rb"id\s*=")
FAST_ID_RE = re.compile(rb' id="([^"]*)"')
FAST_URL_RE = re.compile(rb' (href|src|action)="([^"]*)"')
TAG_NAME_RE = re.compile(rb"<([A-Za-z][A-Za-z0-9:-]*)")

SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
URL_STRIP = re.compile(r"[\x00-\x20\x7f]")       # browsers drop these in URLs (java\tscript:)
CSS_URL_RE = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]*))\s*\)|@import\s+(?:"([^"]*)"|'([^']*)')""")
DATA_BLOCK = "application/ld+json"
CSP = "the Content-Security-Policy blocks it"
NO_FILE = "names no file"


def _unescape(value: str) -> str:
    return html.unescape(value) if "&" in value else value


def _attrs(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for match in ATTR_RE.finditer(text):
        name = match.group(1).lower()
        value = next((g for g in match.groups()[1:] if g is not None), "")
        if name not in out:              # the first of two equal attributes wins, as in browsers
            out[name] = _unescape(value)
    return out


class _Page:
    """What one page links to and which ids it holds (ids decoded only when asked for)."""
    __slots__ = ("_ids", "raw_ids", "links")

    def __init__(self) -> None:
        self._ids: Optional[set[str]] = None
        self.raw_ids: list[bytes] = []                   # from the fast path, still encoded
        self.links: list[tuple[str, str, str]] = []     # (tag, attribute, url)

    @property
    def ids(self) -> set[str]:
        if self._ids is None:
            self._ids = {_text(v) for v in self.raw_ids}
        return self._ids


def _element(rel: str, page: _Page, match: re.Match, problems: list[str]) -> None:
    """One tag (or script/style element) matched by SCAN_RE."""
    raw = match.group("raw")
    tag = (raw or match.group("tag") or "").lower()
    if not tag:
        return                                       # a comment
    attrs = _attrs(match.group("rattrs" if raw else "attrs") or "")
    for name in attrs:
        if name.startswith("on"):
            problems.append(f"{rel}: <{tag} {name}=…>: event-handler attributes are not allowed "
                            f"({CSP}; use a script file)")
        elif name == "style":
            problems.append(f"{rel}: <{tag} style=…>: inline styles are not allowed ({CSP}; use assets/site.css)")
    if attrs.get("id"):
        page.ids.add(attrs["id"])
    page.links += [(tag, name, attrs[name]) for name in URL_ATTRS if name in attrs]
    if "srcset" in attrs:
        page.links += [(tag, "srcset", c.split()[0]) for c in attrs["srcset"].split(",") if c.strip()]
    if tag == "meta" and attrs.get("http-equiv", "").strip().lower() == "refresh":
        problems.append(f"{rel}: <meta http-equiv=refresh>: redirects are not allowed")
    elif tag == "base" and rel != urls.NOT_FOUND:
        # The 404 page alone has one: served for a missing URL at any depth, its relative
        # links must start from the site's path (links are checked as if from the root).
        problems.append(f"{rel}: <base> element: it changes where every relative link leads")
    if tag == "style":
        problems.append(f"{rel}: <style> element: inline styles are not allowed ({CSP}; use assets/site.css)")
    elif tag == "script":
        body = match.group("body")
        if "src" in attrs:
            if body.strip():
                problems.append(f"{rel}: <script src=…> with inline code: the code never runs")
        elif attrs.get("type", "").strip().lower() == DATA_BLOCK:
            if "<" in body:
                problems.append(f"{rel}: JSON-LD block holds a raw '<' (write it as \\u003c)")
            try:
                json.loads(body)
            except ValueError as exc:
                problems.append(f"{rel}: JSON-LD block is not valid JSON: {exc}")
        else:
            problems.append(f"{rel}: inline <script>: not allowed ({CSP}; put the code in a file under assets/)")


def _plain(data: bytes, low: bytes) -> bool:
    """Whether the page is written exactly as our templates write HTML (fast path allowed)."""
    return (not RARE_TAG_RE.search(low)
            and low.count(b"href") == data.count(b' href="')
            and low.count(b"src") == data.count(b' src="')
            and len(LOOSE_ACTION_RE.findall(low)) == data.count(b' action="')
            and len(LOOSE_ID_RE.findall(low)) == data.count(b' id="')
            and low.count(b"<script") == data.count(b"<script")
            and not ODD_ATTR_REVERSED_RE.search(low[::-1]))


def _text(value: bytes) -> str:
    text = value.decode("utf-8", errors="replace")
    return html.unescape(text) if "&" in text else text


def scan_html(rel: str, data: bytes, problems: list[str]) -> _Page:
    """Ids and links of one page (UTF-8 bytes); problems of its markup go to `problems`."""
    page = _Page()
    if not _plain(data, data.lower()):
        for match in SCAN_RE.finditer(data.decode("utf-8", errors="replace")):
            _element(rel, page, match, problems)
        return page
    page.raw_ids = FAST_ID_RE.findall(data)
    for match in FAST_URL_RE.finditer(data):
        attr, raw = match.groups()
        tag = ""
        if b":" in raw or b"&" in raw or raw[:1] == b"/":   # the tag matters for external and rooted URLs
            name = TAG_NAME_RE.match(data, data.rfind(b"<", 0, match.start()))
            tag = name.group(1).decode().lower() if name else "?"
        page.links.append((tag, attr.decode(), _text(raw)))
    start = data.find(b"<script")
    while start >= 0:
        end = data.find(b"</script", start)
        end = data.find(b">", end) + 1 if end >= 0 else len(data)
        element = SCAN_RE.match(data[start:end].decode("utf-8", errors="replace"))
        if element is not None:
            _element(rel, _Page(), element, problems)   # its src is in page.links already
        start = data.find(b"<script", start + 7)
    return page


def _url_problem(tag: str, attr: str, url: str) -> tuple[Optional[str], bool]:
    """(why the URL may not appear in the site or None, whether it leads off the site)."""
    if ":" not in url and url[:1] not in ("/", "\\") and url[:1] > " ":
        return None, False                           # the usual relative link: nothing to strip
    bare = URL_STRIP.sub("", url)
    scheme = SCHEME_RE.match(bare)
    if scheme:
        name = scheme.group(1).lower()
        if name not in ("http", "https", "mailto"):
            return f"{name}: URLs are not allowed", True
        if not (tag == "a" and attr == "href"):
            return f"external resources are not allowed ({CSP})", True
        return None, True
    if bare.startswith(("/", "\\")):
        return "root-relative URL breaks hosting under a sub-path", False
    return None, False


def _resolve(base: str, url: str, files: set[str], cache: dict) -> tuple[Optional[str], str, str]:
    """(target relative to the site, fragment, why it is broken or '') of an internal URL.

    `cache` holds results by (folder, rest of the URL) once leading `../` are applied: the
    links of pages at one depth (`../../../assets/site.css`) are worked out once.
    """
    path, _, fragment = url.partition("#")
    path = path.partition("?")[0]
    if "%" in fragment:
        fragment = unquote(fragment)
    if not path:
        return None, fragment, ""                    # this page
    ups = 0
    while path.startswith("../", 3 * ups):
        ups += 1
    if ups:
        parts = base.split("/") if base else []
        if ups > len(parts):
            return None, fragment, "leaves the site"
        base, path = "/".join(parts[:len(parts) - ups]), path[3 * ups:]
    key = (base, path)
    hit = cache.get(key)
    if hit is None:
        hit = cache[key] = _join(base, unquote(path) if "%" in path else path, files)
    return hit[0], fragment, hit[1]


def _join(base: str, path: str, files: set[str]) -> tuple[Optional[str], str]:
    segments: list[str] = base.split("/") if base else []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if not segments:
                return None, "leaves the site"
            segments.pop()
        else:
            segments.append(segment)
    target = "/".join(segments)
    if target in files and not path.endswith("/"):
        return target, ""
    if target + "/index.html" in files:
        return target, "names a folder: link to its index.html (pages are read from disk too)"
    return target, NO_FILE


def _walk(folder: Path, problems: list[str]) -> list[str]:
    """Every file of `folder`, as sorted POSIX paths relative to it; symlinks are problems."""
    found, links = [], []
    for rel, _, kind in walk_folder(str(folder)):
        if kind == LINK:
            links.append(f"{rel}: symbolic link in the output")
        else:
            found.append(rel)
    problems += sorted(links)
    return sorted(found)


@dataclass(frozen=True)
class Broken:
    """A link that leads nowhere; `where` is the content file position of a link written in
    a Markdown field (the content's to fix), None for a link the templates made."""
    page: str
    shown: str
    why: str
    url: str
    where: Optional[Pos] = None

    def __str__(self) -> str:
        return f"{self.page}: {self.shown}: {self.why}"

    def problem(self) -> Problem:
        """As a problem of the content file, where the link was written."""
        return Problem(self.where.file, self.where.line, self.where.column,
                       f"页面 {self.page} 上的链接 {self.url!r} 有误：{_why_zh(self.why)}",
                       hint="链接从网站根目录写起，如 2022/287001/index.html "
                            "或 2022/287001/originals/<文件名>；`#` 链接指向本页的一个标题")


def _why_zh(why: str) -> str:
    """Why a link written in content is broken, in an editor's words (the checks' own
    wording stays English for the developer-facing report)."""
    if why == NO_FILE:
        return "没有这个文件"
    if why == "leaves the site":
        return "指向网站之外"
    if why.startswith("names a folder"):
        return "指向一个文件夹：请链接到其中的 index.html（页面也会直接从磁盘打开）"
    if why == "root-relative URL breaks hosting under a sub-path":
        return "以 / 开头的地址在网站部署于子路径时会失效"
    missing = re.fullmatch(r"no id (.+) in (.+)", why)
    if missing:
        return f"{missing.group(2)} 中没有 id {missing.group(1)}"
    return why


Where = dict[tuple[str, str], Pos]   # (page, URL as on the page) -> where the content wrote it


def check_links(pages: dict[str, _Page], files: set[str], problems: list,
                ids: Callable[[str], set[str]], pending: Optional[dict] = None,
                where: Optional[Where] = None) -> None:
    """Every link of `pages` against the site's `files` and the ids of its pages.

    With `pending` (a build worker, which knows only the files it wrote), a link whose
    target is not among `files` is kept there, once per target and page, for `settle`.
    `where` names the content positions of links written in content.
    """
    cache: dict[tuple[str, str], tuple[Optional[str], str]] = {}
    # A URL that starts by climbing to the site root (`../../../assets/site.css` on a page
    # three folders down) has one outcome on every page at that depth: worked out once.
    rooted: dict[tuple[str, str], str] = {}
    for rel, page in pages.items():
        base = rel.rpartition("/")[0]
        climb = "../" * rel.count("/")
        for tag, attr, url in page.links:
            key = (climb, url) if climb and url.startswith(climb) and not (where and (rel, url) in where) else None
            why = rooted.get(key) if key is not None else None
            if why is None:
                why = _link_problem(rel, base, tag, attr, url, files, ids, pending, cache, where)
                if key is not None:
                    rooted[key] = why
            if why:
                shown = f"<{tag} {attr}={url!r}>" if tag != "css" else f"url({url!r})"
                problems.append(Broken(rel, shown, why, url, where.get((rel, url)) if where else None))


def _link_problem(rel: str, base: str, tag: str, attr: str, url: str, files: set[str],
                  ids: Callable[[str], set[str]], pending: Optional[dict], cache: dict,
                  where: Optional[Where]) -> str:
    """Why one link of the page `rel` is broken, or "" (also when it is left in `pending`)."""
    if tag == "base" and rel == urls.NOT_FOUND:
        return ""   # served at any depth, the 404 page's links start from the site's path
    why, external = _url_problem(tag, attr, url)
    if why is None and (external or (tag == "css" and url.startswith("#"))):
        return ""                       # an allowed external link; an SVG fragment in CSS
    if why is None:
        target, fragment, why = _resolve(base, url, files, cache)
        if pending is not None and why == NO_FILE:
            pending.setdefault((target, fragment, rel if where and (rel, url) in where else ""),
                               (rel, tag, attr, url, where.get((rel, url)) if where else None))
            return ""
        target = target or rel
        if not why and fragment and target.endswith((".html", ".htm")) and fragment not in ids(target):
            why = f"no id {fragment!r} in {target}"
    return why or ""


class Scan:
    """What was found on some pages while their bytes were in memory (`scan_written`):
    their markup and link problems, and the links to files written elsewhere (common pages,
    data, other agency years), left for `settle`."""

    def __init__(self) -> None:
        self.problems: list = []          # str, or Broken for a link
        self.pages: set[str] = set()
        self.pending: dict[tuple, tuple[str, str, str, str, Optional[Pos]]] = {}


def scan_written(files: dict[str, bytes], others: Iterable[str] = (), where: Optional[Where] = None) -> Scan:
    """Check generated pages while their bytes are still in memory, in the worker that made
    them: `files` (path -> bytes) plus `others` (paths it copied) are all it knows exists."""
    scan = Scan()
    pages = {rel: scan_html(rel, data, scan.problems) for rel, data in files.items()
             if rel.endswith((".html", ".htm"))}
    for rel, data in files.items():
        if rel.endswith(".css"):
            _css_links(pages.setdefault(rel, _Page()), data.decode("utf-8", errors="replace"))
    check_links(pages, set(files).union(others), scan.problems, lambda target: pages[target].ids,
                scan.pending, where)
    scan.pages = set(pages)
    return scan


def page_ids(rel: str, data: bytes) -> set[str]:
    """The ids of one page."""
    return scan_html(rel, data, []).ids


def settle(scans: Iterable[Scan], files: set[str], ids: Callable[[str], set[str]],
           later: Callable[[Optional[str]], bool] = lambda target: False) -> list:
    """The problems of `scans` and of the links they left pending, now checked against all
    of the site's `files` and the ids of its pages; links to a target for which `later` is
    true are left out (their pages are being made anew)."""
    problems: list = []
    left: dict[str, _Page] = {}
    where: Where = {}
    for scan in scans:
        problems += scan.problems
        for (target, _, _), (rel, tag, attr, url, pos) in scan.pending.items():
            if later(target):
                continue
            left.setdefault(rel, _Page()).links.append((tag, attr, url))
            if pos is not None:
                where[rel, url] = pos
    check_links(left, files, problems, ids, where=where)
    return problems


def _css_links(page: _Page, source: str) -> None:
    page.links += [("css", "url", next(g for g in m.groups() if g is not None))
                   for m in CSS_URL_RE.finditer(source)]


def verify_site(folder: Path, scans: Iterable[Scan] = ()) -> list[str]:
    """Problems of the site in `folder`, as `path: message` lines (empty: it may be published).

    Pages already checked by build workers (`scans`) are not read again; only the links
    they could not settle are checked here, against every file of the folder.
    """
    folder = Path(folder)
    scans = list(scans)
    problems: list = []
    files = _walk(folder, problems)
    known = set(files)
    done: set[str] = set().union(*(scan.pages for scan in scans))
    pages: dict[str, _Page] = {}
    for rel in files:
        if rel in done:
            continue
        if rel.endswith((".html", ".htm")):
            pages[rel] = scan_html(rel, (folder / rel).read_bytes(), problems)
        elif rel.endswith(".css"):
            _css_links(pages.setdefault(rel, _Page()),
                       (folder / rel).read_text(encoding="utf-8", errors="replace"))
    read: dict[str, _Page] = {}

    def ids(target: str) -> set[str]:
        """Ids of a page; one checked by a worker is read again only when a link names an id in it."""
        if target in pages:
            return pages[target].ids
        if target not in read:
            read[target] = scan_html(target, (folder / target).read_bytes(), [])
        return read[target].ids

    check_links(pages, known, problems, ids)
    return problems + settle(scans, known, ids)


def content_problems(problems: list) -> list[Problem]:
    """The problems that are broken links written in content, as problems of the content."""
    return [p.problem() for p in problems if isinstance(p, Broken) and p.where is not None]


class VerifyFailed(Exception):
    """The built site failed `verify_site`; the message lists the problems."""

    def __init__(self, problems: list):
        self.problems = problems
        shown = "\n".join(f"  {p}" for p in problems[:MAX_SHOWN])
        more = f"\n  … and {len(problems) - MAX_SHOWN} more" if len(problems) > MAX_SHOWN else ""
        super().__init__(f"生成的页面中有 {len(problems)} 个问题：\n{shown}{more}")


def checked(step: Optional[Callable[[Path], None]] = None, scans: Iterable[Scan] = ()) -> Callable[[Path], None]:
    """A before-swap step: run `step` (the search index), then verify the staging folder.
    `scans` (a list the build fills while it writes) holds what workers checked already."""
    def run(staging: Path) -> None:
        if step is not None:
            step(staging)
        problems = verify_site(staging, scans)
        if problems:
            raise VerifyFailed(problems)
    return run
