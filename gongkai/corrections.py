"""更正记录: what changed in a published agency year's content file, commit by commit.

A content file's first commit is when the site published the agency year (history.py);
every later commit that changed it is a correction of the published record. For each, the
file's YAML is read as it was at that commit and at the commit before (one
`git cat-file --batch` process for the whole site; blobs are data, nothing is executed:
PyYAML's safe loader, with numbers and dates kept as the text written) and the two are
compared structurally: mappings by key, lists by position, a project by its code where both
versions print it, else by its position. Each difference is named in readers' words
("第二部分 › 保险费绩效目标表 › 预算数") with the text before and after.

Bounds: the newest `history.KEEP_COMMITS` commits of a file (the pages say how many earlier
ones are not listed), versions of at most `MAX_BYTES` and `MAX_VALUES` values (else the
version is skipped: the next one is compared with the last one read), `MAX_CHANGES` changes
and `MAX_TEXT` characters of each text per correction. A commit that changes nothing
printed (comments, quoting, layout) lists nothing. Everything here is derived: it never
changes what the pages print.
"""
from __future__ import annotations

import datetime
import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import yaml

from .cache import ParseCache
from .history import GIT_TIMEOUT, FileDates
from .model import FIELD_LABELS, STANDARD_COLUMNS

MAX_BYTES = 10 * 1024 * 1024     # the format's limit of a content file
MAX_VALUES = 200_000             # likewise: and an alias bomb in an old version stops here
MAX_CHANGES = 100                # listed per correction; the rest are counted
MAX_TEXT = 400                   # characters of a before or after text shown
NONE = "（无）"


@dataclass(frozen=True)
class Change:
    where: str      # the field in readers' words
    before: str     # the printed text before, or NONE
    after: str


@dataclass(frozen=True)
class Correction:
    sha: str
    day: datetime.date
    changes: tuple[Change, ...]
    more: int = 0   # changes not listed (beyond MAX_CHANGES)

    @property
    def anchor(self) -> str:
        return f"correction-{self.sha[:12]}"


@dataclass(frozen=True)
class FileCorrections:
    items: tuple[Correction, ...]   # newest first; commits that changed nothing printed left out
    examined: int                   # later commits examined (listed or not)
    earlier: int                    # later commits not examined (beyond the cap)
    skipped: int = 0                # versions that could not be read (too large, not YAML)


# --- reading the versions -------------------------------------------------------------------


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The safe loader, with numbers and dates kept as written: `4000.00` stays `4000.00`
    (the printed text), and `4000.00` and `"4000.00"` are the same printed value."""


for _tag in ("int", "float", "timestamp"):
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", lambda loader, node: loader.construct_scalar(node))


def _parse(blob: Optional[bytes]) -> Optional[dict]:
    """The version's data, or None when it cannot be compared (missing, too large, not a
    mapping, not YAML, too many values)."""
    if blob is None:
        return None
    try:
        data = yaml.load(blob.decode("utf-8-sig"), Loader=_Loader)
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError, ValueError):
        return None
    if not isinstance(data, dict) or not _small(data):
        return None
    return data


def _small(data: Any) -> bool:
    """At most MAX_VALUES values, counted through aliases (a shared list counts each time)."""
    stack, count = [data], 0
    while stack:
        item = stack.pop()
        count += 1
        if count > MAX_VALUES:
            return False
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


class _Blobs:
    """One `git cat-file --batch`: `get(commit, path)` gives the file's bytes at the commit,
    or None (deleted there, too large). Requests are answered one at a time, so neither pipe
    fills."""

    def __init__(self, root: Path):
        self.proc = subprocess.Popen(["git", "cat-file", "--batch"], cwd=root, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def get(self, sha: str, path: str) -> Optional[bytes]:
        if "\n" in path:
            return None
        self.proc.stdin.write(f"{sha}:{path}\n".encode("utf-8", "surrogateescape"))
        self.proc.stdin.flush()
        header = self.proc.stdout.readline().split()
        if len(header) != 3 or header[1] != b"blob":
            return None          # "<name> missing": the file did not exist at that commit
        size = int(header[2])
        if size > MAX_BYTES:
            left = size + 1
            while left:                      # read past it: the next answer follows
                chunk = self.proc.stdout.read(min(left, 1 << 20))
                if not chunk:
                    raise OSError("git cat-file ended")
                left -= len(chunk)
            return None
        data = self.proc.stdout.read(size + 1)
        if len(data) != size + 1:
            raise OSError("git cat-file ended")
        return data[:-1]

    def close(self) -> None:
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=GIT_TIMEOUT)
        except (OSError, subprocess.SubprocessError):
            self.proc.kill()


def read(root: Path, dates: dict[str, FileDates], wanted: Optional[Callable[[str], bool]] = None,
         cache: Optional[Path] = None) -> dict[str, FileCorrections]:
    """The corrections of every content file that git changed after adding it, keyed like
    `dates` (by `AgencyYear.source`). Only agency-year files (`*.yaml`, `*.yml`) that exist
    now are read; `wanted(path)` narrows them further. Empty when git cannot be run.
    With `cache` (a folder), a file's result is kept under a key made of its path, its
    commits and this module's code, so a build reads again only the files that have a new
    commit (reading a version's YAML is nearly all the cost)."""
    chosen = sorted(path for path, d in dates.items()
                    if d.count > 1 and len(d.commits) > 1 and path.endswith((".yaml", ".yml"))
                    and (wanted is None or wanted(path)) and (root / path).is_file())
    if not chosen:
        return {}
    store = ParseCache(cache) if cache is not None else None
    found: dict[str, FileCorrections] = {}
    keys: dict[str, str] = {}
    if store is not None:
        code = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
        for path in chosen:
            d = dates[path]
            keys[path] = store.key(path, f"{code}\n{d.count}\n" + "\n".join(c.sha for c in d.commits))
            kept = store.get(keys[path])
            if isinstance(kept, FileCorrections):
                found[path] = kept
        chosen = [path for path in chosen if path not in found]
        if not chosen:
            return found
    try:
        blobs = _Blobs(root)
    except OSError:
        return found
    try:
        for path in chosen:
            found[path] = file_corrections(dates[path], lambda sha: blobs.get(sha, path))
            if store is not None:
                store.put(keys[path], found[path])
    except (OSError, ValueError):   # git went away mid-way: what was read stands
        pass
    finally:
        blobs.close()
    return found


def file_corrections(dates: FileDates, blob: Callable[[str], Optional[bytes]]) -> FileCorrections:
    """One file's corrections from its commits (newest first; the oldest kept is the base)."""
    commits = dates.commits
    previous = _parse(blob(commits[-1].sha))
    skipped = int(previous is None)
    items: list[Correction] = []
    for commit in reversed(commits[:-1]):            # oldest first: each against the last read
        data = _parse(blob(commit.sha))
        if data is None:
            skipped += 1
            continue
        if previous is not None:
            changes = list(_diff_year(previous, data))
            if changes:
                items.append(Correction(commit.sha, commit.day, tuple(changes[:MAX_CHANGES]),
                                        max(0, len(changes) - MAX_CHANGES)))
        previous = data
    return FileCorrections(tuple(reversed(items)), len(commits) - 1, dates.count - len(commits), skipped)


# --- the comparison, in readers' words ------------------------------------------------------

# `given` is left out: which facts the editor gave is how the file was made, not a printed text.
TOP = ("year", "agency", "unit", "document", "originals", "preamble", "parts", "unplaced")
TOP_LABELS = {"year": "预算年度", "unit": "金额单位",
              "preamble": "前言", "originals": "原件", "unplaced": "未归类文字"}
AGENCY_LABELS = {"name": "部门", "code": "部门编码", "region": "地区", "slug": "网址标识"}
DOCUMENT_LABELS = {"title": "封面标题", "status": "文件状态", "compiler": "编制单位", "reviewer": "审核单位",
                   "published": "发布日期", "toc_printed": "原件是否印有目录"}
TOC_LABELS = {"text": "文字", "page": "页码"}
PART_LABELS = {"number": "编号", "title": "标题", "toc": "目录条目", "text": "正文"}
SECTION_LABELS = PART_LABELS
PROJECT_LABELS = {"number": "编号", "title": "标题", "toc": "目录条目", "agency_line": "单位行",
                  "unit": "金额单位", "remarks": "备注", "labels": "栏目名称", "columns": "指标表表头",
                  "period_columns": "实施期指标表表头", **FIELD_LABELS}
ORIGINAL_LABELS = {"file": "文件名", "title": "名称", "note": "说明", "page_offset": "页码偏移"}
INDICATOR_EXTRA = {"parsed": "指标值的读法（编辑给出）", "more": None}
COLUMN_LABELS = {c.key: c.label for c in STANDARD_COLUMNS}
SEP = " › "


def _diff_year(old: dict, new: dict) -> Iterator[Change]:
    special = {"agency": lambda o, n, at: _mapping(o, n, at, AGENCY_LABELS),
               "document": lambda o, n, at: _mapping(o, n, at, DOCUMENT_LABELS),
               "originals": _originals, "parts": _parts, "unplaced": _unplaced}
    old, new = ({k: v for k, v in d.items() if k != "given"} if isinstance(d, dict) else d for d in (old, new))
    yield from _mapping(old, new, [], TOP_LABELS, special, TOP)


def _keys(old: dict, new: dict, first: tuple = ()) -> list:
    keys = [k for k in first if k in old or k in new]
    keys += [k for k in new if k not in keys]
    keys += [k for k in old if k not in keys]
    return keys


def _mapping(old: Any, new: Any, at: list[str], labels: dict, special: Optional[dict] = None,
             first: tuple = ()) -> Iterator[Change]:
    old = old if isinstance(old, dict) else {}
    new = new if isinstance(new, dict) else {}
    for key in _keys(old, new, first):
        o, n = old.get(key), new.get(key)
        if o == n or (_blank(o) and _blank(n)):
            continue
        if special and key in special:
            yield from special[key](o, n, at)
        else:
            yield from _value(o, n, at + [str(labels.get(key) or key)])


def _value(old: Any, new: Any, at: list[str]) -> Iterator[Change]:
    """Any value: mappings by key, lists by position, else the texts."""
    if old == new or (_blank(old) and _blank(new)):
        return
    if isinstance(old, dict) and isinstance(new, dict):
        yield from _mapping(old, new, at, {})
    elif isinstance(old, list) and isinstance(new, list):
        for i in range(max(len(old), len(new))):
            yield from _value(old[i] if i < len(old) else None, new[i] if i < len(new) else None,
                              at + [f"第 {i + 1} 项"])
    else:
        yield Change(SEP.join(at), show(old), show(new))


def _blank(value: Any) -> bool:
    return value is None or value == [] or value == {}


def _list(old: Any, new: Any) -> tuple[list, list]:
    return (old if isinstance(old, list) else []), (new if isinstance(new, list) else [])


def _pairs(old: list, new: list, key: Optional[Callable[[Any], Any]] = None) -> list[tuple[Any, Any]]:
    """Items paired: by `key` where both lists hold it once, then by position among the rest;
    in the new list's order, then the items removed."""
    pair_of: dict[int, int] = {}
    if key is not None:
        def unique(items: list) -> dict:
            keys = [key(x) for x in items]
            return {k: i for i, k in enumerate(keys) if k is not None and keys.count(k) == 1}
        before, after = unique(old), unique(new)
        pair_of = {after[k]: before[k] for k in after if k in before}
    used = set(pair_of.values())
    for i in range(len(new)):
        if i not in pair_of and i < len(old) and i not in used:
            pair_of[i] = i
            used.add(i)
    pairs = [(old[pair_of[i]] if i in pair_of else None, item) for i, item in enumerate(new)]
    return pairs + [(item, None) for i, item in enumerate(old) if i not in used]


def _originals(old: Any, new: Any, at: list[str]) -> Iterator[Change]:
    old, new = _list(old, new)
    for o, n in _pairs(old, new, lambda x: x.get("file") if isinstance(x, dict) else None):
        title = _name(n, o, ("title", "file")) or "原件"
        yield from _item(o, n, at + ["原件", title], ORIGINAL_LABELS, summary=_name(n, o, ("title", "file")))


def _unplaced(old: Any, new: Any, at: list[str]) -> Iterator[Change]:
    old, new = _list(old, new)
    for o, n in _pairs(old, new, lambda x: x.get("line") if isinstance(x, dict) else None):
        line = _name(n, o, ("line",))
        label = f"原文第 {line} 行" if line else "一行"
        yield from _item(o, n, at + ["未归类文字", label], {"line": "行号", "text": "文字"})


def _item(old: Any, new: Any, at: list[str], labels: dict, special: Optional[dict] = None,
          first: tuple = (), summary: Optional[str] = None) -> Iterator[Change]:
    """A list item: added or removed whole (its printed text shown), else compared by key."""
    if isinstance(old, dict) and isinstance(new, dict):
        yield from _mapping(old, new, at, labels, special, first)
    elif old != new:
        def text(value: Any) -> str:
            return NONE if value is None else (summary if summary and isinstance(value, dict) else show(value))
        yield Change(SEP.join(at), text(old), text(new))


def _name(new: Any, old: Any, keys: tuple) -> str:
    """The first of `keys` that the item (new version, else old) prints, as text."""
    for item in (new, old):
        if isinstance(item, dict):
            for k in keys:
                if item.get(k) not in (None, ""):
                    return str(item[k])
    return ""


def _toc(old: Any, new: Any, at: list[str]) -> Iterator[Change]:
    yield from _item(old, new, at + ["目录条目"], TOC_LABELS)


def _parts(old: Any, new: Any, at: list[str]) -> Iterator[Change]:
    old, new = _list(old, new)
    for i, (o, n) in enumerate(_pairs(old, new), 1):
        label = _name(n, o, ("number", "title")).replace("\n", " ") or f"第 {i} 部分"
        yield from _item(o, n, at + [label], PART_LABELS,
                         {"toc": _toc, "sections": _sections, "projects": _projects},
                         ("number", "title", "toc", "text", "sections", "projects"),
                         summary=_heading(n if n is not None else o))


def _heading(item: Any) -> str:
    if not isinstance(item, dict):
        return show(item)
    return (str(item.get("number") or "") + str(item.get("title") or "")) or show(item)


def _sections(old: Any, new: Any, at: list[str]) -> Iterator[Change]:
    old, new = _list(old, new)
    for i, (o, n) in enumerate(_pairs(old, new), 1):
        label = _heading(n if isinstance(n, dict) else o).replace("\n", " ") if isinstance(n, dict) or isinstance(o, dict) else ""
        yield from _item(o, n, at + [label or f"第 {i} 节"], SECTION_LABELS,
                         {"toc": _toc, "sections": _sections},
                         ("number", "title", "toc", "text", "sections"), summary=_heading(n if n is not None else o))


def _projects(old: Any, new: Any, at: list[str]) -> Iterator[Change]:
    old, new = _list(old, new)
    code = (lambda x: str(x["code"]).replace(" ", "") if isinstance(x, dict) and x.get("code") else None)
    for i, (o, n) in enumerate(_pairs(old, new, code), 1):
        label = _name(n, o, ("title", "name")).replace("\n", " ") or f"第 {i} 张绩效目标表"
        labels = dict(PROJECT_LABELS)
        for item in (o, n):
            if isinstance(item, dict) and isinstance(item.get("labels"), dict):
                labels.update({k: str(v) for k, v in item["labels"].items()})
        columns = _columns(n if isinstance(n, dict) else o, "columns")
        period = _columns(n if isinstance(n, dict) else o, "period_columns")
        special = {"toc": _toc, "plan": lambda a, b, where: _plan(a, b, where + [labels["plan"]]),
                   "indicators": lambda a, b, where: _indicators(a, b, where, "绩效指标", columns),
                   "period_indicators": lambda a, b, where: _indicators(a, b, where, "实施期绩效指标", period),
                   "fields": _fields}
        yield from _item(o, n, at + [label], labels, special,
                         ("number", "title", "toc", "agency_line", "unit", "code", "name", "budget",
                          "fiscal", "other", "purpose", "plan", "goals", "period_goals", "fields"),
                         summary=_heading(n if n is not None else o))


def _columns(project: Any, key: str) -> dict:
    """Each known column key -> the label the project's table prints it under."""
    labels = dict(COLUMN_LABELS)
    if isinstance(project, dict) and isinstance(project.get(key), list):
        for column in project[key]:
            if isinstance(column, dict) and column.get("key") in labels and column.get("label"):
                labels[column["key"]] = str(column["label"])
    return labels


def _plan(old: Any, new: Any, at: list[str]) -> Iterator[Change]:
    old, new = _list(old, new)
    for i, (o, n) in enumerate(_pairs(old, new), 1):
        period = _name(n, o, ("period",)) or f"第 {i} 列"
        yield from _item(o, n, at + [period], {"period": "时间", "value": "数值"},
                         summary=f"{_name(n, o, ('period',))} {_name(n if n is not None else o, {}, ('value',))}".strip())


def _indicators(old: Any, new: Any, at: list[str], label: str, columns: dict) -> Iterator[Change]:
    old, new = _list(old, new)
    for i in range(max(len(old), len(new))):
        o = old[i] if i < len(old) else None
        n = new[i] if i < len(new) else None
        where = at + [f"{label}第 {i + 1} 行"]
        if isinstance(o, dict) and isinstance(n, dict):
            for key in _keys(o, n, tuple(COLUMN_LABELS) + ("parsed",)):
                a, b = o.get(key), n.get(key)
                if a == b:
                    continue
                if key == "more":
                    yield from _mapping(a, b, where, {})
                elif key == "parsed":
                    yield from _value(_plain(a), _plain(b), where + [INDICATOR_EXTRA["parsed"]])
                else:
                    yield from _value(a, b, where + [columns.get(key, key)])
        elif o != n:
            yield Change(SEP.join(where), _row(o), _row(n))


def _row(item: Any) -> str:
    """An indicator row as printed: its cells in order."""
    if not isinstance(item, dict):
        return show(item)
    cells = [str(item[k]) for k in COLUMN_LABELS if item.get(k) not in (None, "")]
    if isinstance(item.get("more"), dict):
        cells += [f"{k}：{v}" for k, v in item["more"].items() if v not in (None, "")]
    return _cut(" | ".join(cells)) or NONE


def _plain(parsed: Any) -> Any:
    """An editor's reading of a value as one text: `≥ 95 %`."""
    if isinstance(parsed, dict):
        return " ".join(str(parsed[k]) for k in ("comparator", "number", "unit") if parsed.get(k) not in (None, ""))
    return parsed


def _fields(old: Any, new: Any, at: list[str]) -> Iterator[Change]:
    old, new = _list(old, new)
    for i, (o, n) in enumerate(_pairs(old, new, lambda x: x.get("label") if isinstance(x, dict) else None), 1):
        label = _name(n, o, ("label",)) or f"第 {i} 栏"
        yield from _item(o, n, at + [label], {"label": "栏目名称", "value": "内容", "table": "表格"},
                         {"fields": _fields}, ("label", "value", "fields", "table"))


def show(value: Any) -> str:
    """A value as readers see it: text as written, a mapping or list as its texts in order."""
    if value is None or value == "" or value == [] or value == {}:
        return NONE
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, (dict, list)):
        texts: list[str] = []
        stack = [value]
        while stack and sum(map(len, texts)) <= MAX_TEXT:
            item = stack.pop()
            if isinstance(item, dict):
                stack.extend(reversed(list(item.values())))
            elif isinstance(item, list):
                stack.extend(reversed(item))
            elif item not in (None, ""):
                texts.append(show(item))
        return _cut(" | ".join(texts)) or NONE
    return _cut(str(value))


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + f"……（共 {len(text)} 字）"


# --- what the pages and the feed show -------------------------------------------------------


def page_view(found: Optional[FileCorrections]) -> Optional[dict]:
    """The agency-year page's 更正记录 section, or None when there is nothing to say."""
    if found is None or not (found.items or found.earlier):
        return None
    return {"items": [{"anchor": c.anchor, "date": c.day.isoformat(), "count": len(c.changes) + c.more,
                       "changes": [{"where": ch.where, "before": ch.before, "after": ch.after} for ch in c.changes],
                       "more": c.more} for c in found.items],
            "examined": found.examined, "earlier": found.earlier, "skipped": found.skipped}


def feed_summary(correction: Correction, title: str) -> str:
    """The feed entry's summary: what was corrected, the first few fields in full."""
    count = len(correction.changes) + correction.more
    shown = "；".join(f"{ch.where}：“{_short(ch.before)}”改为“{_short(ch.after)}”" for ch in correction.changes[:3])
    rest = f"；另有 {count - 3} 处" if count > 3 else ""
    return (f"{correction.day.isoformat()} 更正{title} {count} 处：{shown}{rest}。"
            "（派生：由网站根据内容文件的修改历史生成）")


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "……"
