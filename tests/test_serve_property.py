"""`serve` equals a clean build, after any sequence of changes (property test), and the live
reload script and error overlay reach pages over 64 KB (the real server).

The property test drives `gongkai.serve.LiveSite` in-process, as the file watcher would:
Hypothesis generates short sequences of steps; each step is one or more changes to the
project's files (a burst: one `rebuild` call with the union of the paths a watcher reports).
After every step:

- `live.problems` is empty exactly when a clean build of the current files
  (`build_command(..., force=True)`) succeeds: the preview agrees with CI;
- without problems, the output folder equals that clean build file by file (relative path
  -> bytes, folders included; the marker `.gongkai-site` and `search-index/` left out), and the
  marker is there (a later `build.py build` must accept the folder);
- with problems, the output folder equals the last good state: a clean build of the files
  as they were at the last step without errors. One exception: when the output folder was
  removed and serve puts the last good state back, its originals are copied from content/
  as they are then (serve keeps no copies of originals: they may be gigabytes), so they
  are left out of that comparison.

Clean builds are cached by a digest of the project's files, so equal states are built once.
"""
from __future__ import annotations

import contextlib
import dataclasses
import difflib
import hashlib
import io
import itertools
import os
import shutil
import tempfile
import time
import traceback
from pathlib import Path
from typing import Optional

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import harness
from gongkai.pipeline import build_command
from gongkai.serve import LiveSite

ROOT = harness.REPO_ROOT
FIXTURE = ROOT / "tests" / "fixtures" / "site"
MARKER = ".gongkai-site"


# --------------------------------------------------------------------------- the project model

def fixture_text(rel: str) -> str:
    return (FIXTURE / rel).read_text(encoding="utf-8")


# Two kinds of agency year, from the fixture site: "a" is 287001 (numeric code, a .txt
# original, two projects), "b" is shiyan-bumen (a slug instead of a code, a .pdf original).
# Each field is written by replacing one line of the fixture file (checked to be there).
KINDS = {
    "a": {
        "text": fixture_text("content/2022/287001.yaml"),
        "base_original": "002_sample.txt",
        "lines": {
            "year": ("year: 2022\n", "year: {}\n"),
            "ident": ('  code: "287001"\n', '  code: "{}"\n'),
            "agency": ("  name: 中共正定县委老干部局本级\n", "  name: {}\n"),
            "project": ("        name: 2022 年度关工委和老促会工作经费县级资金\n", "        name: {}\n"),
            "text": ("          在县委、县政府的坚强领导下，……扎实推进老干部工作全面创优。\n", "          {}\n"),
        },
        "unit": "unit: 万元\n",
        "region": "  region: 石家庄市正定县\n",
        "originals_anchor": "    title: 部门预算绩效文本（PDF 提取文本）\n",
        "idents": ("287001", "287009", "310002"),
    },
    "b": {
        # Without the preamble's link to 2022/287001/: this test deletes and renames 287001,
        # and the link would make most of those states errors (in build and serve alike).
        "text": fixture_text("content/2021/shiyan-bumen.yaml").replace(
            "  [外部链接](https://example.gov.cn/) 与 [站内](2022/287001/index.html#toc)\n",
            "  [外部链接](https://example.gov.cn/)\n", 1),
        "base_original": "原件.pdf",
        "lines": {
            "year": ("year: 2021\n", "year: {}\n"),
            "ident": ("  slug: shiyan-bumen\n", "  slug: {}\n"),
            "agency": ("  name: 测试部门<script>alert(1)</script>\n", "  name: {}\n"),
            "project": ("        name: 无编码项目 \"引号\" <script>alert('x')</script>\n", "        name: {}\n"),
            "text": ("    text: 部分引言。\n", "    text: {}\n"),
        },
        "unit": "unit: 元\n",
        "region": "  region: 测试区\n",
        "originals_anchor": "    note: 测试用文件\n",
        "idents": ("shiyan-bumen", "ceshi", "x2"),
    },
}
assert "2022/287001" not in KINDS["b"]["text"]

CONFIG_TEXT = fixture_text("site_config.yaml")
CONFIG_TITLE = "title: 测试站点\n"
assert CONFIG_TITLE in CONFIG_TEXT


@dataclasses.dataclass
class Year:
    """One agency year: its file content/{year}/{ident}.yaml and folder content/{year}/{ident}/."""
    kind: str
    year: int
    ident: str
    fields: dict[str, str]                  # agency / project / text -> value (None: as in the fixture)
    broken: list[str] = dataclasses.field(default_factory=list)       # break modes applied, in order
    extra: dict[str, bytes] = dataclasses.field(default_factory=dict)  # extra originals in the folder
    listed: list[str] = dataclasses.field(default_factory=list)        # extra originals under `originals:`
    base_bytes: bytes = b""

    @property
    def key(self) -> tuple[int, str]:
        return (self.year, self.ident)

    def rel(self) -> str:
        return f"content/{self.year}/{self.ident}.yaml"

    def folder_rel(self) -> str:
        return f"content/{self.year}/{self.ident}"

    def text(self) -> str:
        kind = KINDS[self.kind]
        text = kind["text"]
        values = {"year": str(self.year), "ident": self.ident, **self.fields}
        for name, (old, new) in kind["lines"].items():
            assert old in text, (self.kind, old)
            if values.get(name) is not None:
                text = text.replace(old, new.format(values[name]), 1)
        anchor = kind["originals_anchor"]
        assert anchor in text
        text = text.replace(anchor, anchor + "".join(
            f"  - file: {name}\n    title: 附件（{name}）\n" for name in self.listed), 1)
        for mode in self.broken:
            if mode == "unit":        # a YAML syntax error
                assert kind["unit"] in text
                text = text.replace(kind["unit"], kind["unit"].replace(": ", ": [", 1), 1)
            elif mode == "colon":     # a YAML syntax error at the end
                text += ": :\n"
            elif mode == "region":    # valid YAML, a schema error (region not in site_config.yaml)
                assert kind["region"] in text
                text = text.replace(kind["region"], "  region: 无此地区\n", 1)
        return text

    def files(self) -> dict[str, bytes]:
        """Relative path -> bytes of everything this agency year puts on disk."""
        files = {self.rel(): self.text().encode("utf-8"),
                 f"{self.folder_rel()}/{KINDS[self.kind]['base_original']}": self.base_bytes}
        files.update({f"{self.folder_rel()}/{name}": data for name, data in self.extra.items()})
        return files


def year_of(kind: str, year: int, ident: str, **fields) -> Year:
    source = {"a": "content/2022/287001/002_sample.txt", "b": "content/2021/shiyan-bumen/原件.pdf"}[kind]
    return Year(kind, year, ident, {"agency": None, "project": None, "text": None, **fields},
                base_bytes=(FIXTURE / source).read_bytes())


def base_years() -> dict:
    years = [year_of("a", 2022, "287001"), year_of("b", 2021, "shiyan-bumen")]
    return {y.key: y for y in years}


def variant_years(n: int) -> dict:
    """Prepared versions of content/ for the whole-folder switch (like `git checkout`)."""
    if n == 0:
        return base_years()
    if n == 1:   # 287001 edited, shiyan-bumen gone, a new year folder 2023
        years = [year_of("a", 2022, "287001", project="切换甲", agency="切换乙"),
                 year_of("a", 2023, "287003", text="新年度正文")]
    else:        # 287001 broken, shiyan-bumen edited with an extra original
        broken = year_of("a", 2022, "287001")
        broken.broken = ["unit"]
        other = year_of("b", 2021, "shiyan-bumen", text="切换丙丁")
        other.extra, other.listed = {"附件.txt": "切换附件\n".encode()}, ["附件.txt"]
        years = [broken, other]
    return {y.key: y for y in years}


@dataclasses.dataclass
class Model:
    years: dict
    deleted: list = dataclasses.field(default_factory=list)
    title: str = "测试站点"
    config_broken: bool = False

    def config_text(self) -> str:
        title = ("[" if self.config_broken else "") + self.title
        return CONFIG_TEXT.replace(CONFIG_TITLE, f"title: {title}\n", 1)


# --------------------------------------------------------------------------- files as a watcher sees them

class Project:
    """The project folder; every change is recorded as the watcher would report it."""

    def __init__(self, root: Path):
        self.root = root.resolve()
        self.content = self.root / "content"
        self.config = self.root / "site_config.yaml"
        self.output = self.root / "_site"
        self.changed: set[Path] = set()

    def path(self, rel: str) -> Path:
        return self.root / rel

    def _mkdirs(self, folder: Path) -> None:
        missing = []
        while not folder.exists():
            missing.append(folder)
            folder = folder.parent
        for folder in reversed(missing):
            folder.mkdir()
            self.changed.add(folder)

    def write(self, rel: str, data: bytes) -> None:
        path = self.path(rel)
        self._mkdirs(path.parent)
        path.write_bytes(data)
        self.changed.add(path)

    def delete(self, rel: str) -> None:
        path = self.path(rel)
        path.unlink()
        self.changed.add(path)

    def remove_tree(self, rel: str) -> None:
        folder = self.path(rel)
        if folder.exists():
            self.changed.update(p for p in folder.rglob("*"))
            self.changed.add(folder)
            shutil.rmtree(folder)

    def rename(self, old: str, new: str) -> None:
        """One rename: the watcher reports both names (of a folder: not the files inside)."""
        self._mkdirs(self.path(new).parent)
        os.rename(self.path(old), self.path(new))
        self.changed.update({self.path(old), self.path(new)})

    def tree(self) -> dict[str, Optional[bytes]]:
        """site_config.yaml and content/: relative path -> bytes (None for a folder)."""
        tree: dict[str, Optional[bytes]] = {"site_config.yaml": self.config.read_bytes()}
        if self.content.exists():
            for path in sorted(self.content.rglob("*")):
                tree[path.relative_to(self.root).as_posix()] = None if path.is_dir() else path.read_bytes()
        return tree

    def digest(self) -> str:
        h = hashlib.sha256()
        for rel, data in sorted(self.tree().items()):
            h.update(rel.encode() + (b"/\0" if data is None else b"\0" + hashlib.sha256(data).digest()))
        return h.hexdigest()


def read_site(folder: Path) -> dict[str, bytes]:
    """Every file and folder (as `name/`) of a built site but the marker and the search index."""
    files: dict[str, bytes] = {}
    if not folder.is_dir():
        return files
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if rel == MARKER or rel.split("/")[0].startswith(("search-index", ".search-index")):
            continue
        files[rel + "/" if path.is_dir() else rel] = b"" if path.is_dir() else path.read_bytes()
    return files


# --------------------------------------------------------------------------- clean builds, cached

@dataclasses.dataclass
class Clean:
    rc: int
    files: Optional[dict[str, bytes]]
    log: str


CLEAN_BUILDS: dict[str, Clean] = {}


def clean_build(project: Project, digest: str, scratch: Path) -> Clean:
    """`build_command(..., force=True)` of a copy of the project's files (parse cache empty)."""
    if digest in CLEAN_BUILDS:
        return CLEAN_BUILDS[digest]
    source, out = scratch / "clean-src", scratch / "clean-out"
    for folder in (source, out):
        shutil.rmtree(folder, ignore_errors=True)
    source.mkdir(parents=True)
    shutil.copy2(project.config, source / "site_config.yaml")
    if project.content.exists():
        shutil.copytree(project.content, source / "content")
    log = io.StringIO()
    with contextlib.redirect_stderr(log), contextlib.redirect_stdout(log):
        rc = build_command(source / "site_config.yaml", output=out, search=False, force=True)
    result = Clean(rc, read_site(out) if rc == 0 else None, log.getvalue())
    shutil.rmtree(out, ignore_errors=True)
    CLEAN_BUILDS[digest] = result
    return result


# --------------------------------------------------------------------------- operations

VALUES = st.text(alphabet="甲乙丙丁", min_size=1, max_size=3)
PICK = st.integers(0, 3)

# `pick` chooses among what exists then (modulo), so every operation applies; one with
# nothing to act on is a no-op. Edit, break and fix are listed twice: twice as likely.
OPERATIONS = st.one_of(
    st.tuples(st.just("edit"), PICK, st.sampled_from(["project", "agency", "text"]), VALUES),
    st.tuples(st.just("break"), PICK, st.sampled_from(["unit", "colon", "region"])),
    st.tuples(st.just("fix"), PICK),
    st.tuples(st.just("edit"), PICK, st.sampled_from(["project", "agency", "text"]), VALUES),
    st.tuples(st.just("break"), PICK, st.sampled_from(["unit", "colon", "region"])),
    st.tuples(st.just("fix"), PICK),
    st.tuples(st.just("delete"), PICK),
    st.tuples(st.just("readd"), PICK),
    st.tuples(st.just("rename"), PICK, st.integers(0, 2)),
    st.tuples(st.just("add_original"), PICK, st.sampled_from(["附件.txt", "data.yaml", "BASE"]), st.integers(1, 2)),
    st.tuples(st.just("remove_original"), PICK, st.booleans()),
    st.tuples(st.just("switch"), st.integers(0, 2)),
    st.tuples(st.just("rm_output")),
    st.tuples(st.just("config_title"), VALUES),
    st.tuples(st.just("break_config")),
)
# Known defects these reach at HEAD 3fccb20 (../shared/docs/defects.md): a burst with a broken
# save or a switch to a version with a broken file (D1), a .yaml original of a numeric agency
# code (D12), removing the output folder (D17); also a broken file or site_config.yaml whose
# error is forgotten when another file is saved.
# A step: one change, or a burst of several (one `rebuild` with the union of their paths).
STEPS = st.lists(st.lists(OPERATIONS, min_size=1, max_size=3), min_size=1, max_size=6)


class Session:
    """One generated sequence: the project on disk, its model, the LiveSite, the log."""

    def __init__(self, root: Path, scratch: Path):
        self.project = Project(root)
        self.scratch = scratch
        self.model = Model(base_years())
        self.project.config.parent.mkdir(parents=True)
        self.project.config.write_text(self.model.config_text(), encoding="utf-8")
        for y in self.model.years.values():
            for rel, data in y.files().items():
                self.project.write(rel, data)
        self.project.changed.clear()
        self.live = LiveSite(self.project.config, output=self.project.output)
        self.log: list[str] = []
        self.last_good: Optional[tuple[int, str]] = None   # (step, digest)
        self.output_removed = False   # since the last good step (originals are then put back as they are now)

    # --- helpers

    def _pick(self, items: list, pick: int):
        return items[pick % len(items)] if items else None

    def _years(self) -> list[Year]:
        return [self.model.years[k] for k in sorted(self.model.years)]

    def _save(self, y: Year) -> None:
        self.project.write(y.rel(), y.text().encode("utf-8"))

    # --- the operations; each returns a description for the log

    def apply(self, op: tuple) -> str:
        name, args = op[0], op[1:]
        return getattr(self, "op_" + name)(*args)

    def op_edit(self, pick: int, field: str, value: str) -> str:
        y = self._pick(self._years(), pick)
        if y is None:
            return "edit: (no agency year)"
        y.fields[field] = value
        self._save(y)
        return f"edit {y.rel()}: {field} -> {value}"

    def op_break(self, pick: int, mode: str) -> str:
        y = self._pick(self._years(), pick)
        if y is None:
            return "break: (no agency year)"
        if mode not in y.broken:
            y.broken.append(mode)
        self._save(y)
        how = {"unit": "`unit: [...`", "colon": "append `: :`", "region": "region not in site_config"}[mode]
        return f"broken save {y.rel()}: {how}"

    def op_fix(self, pick: int) -> str:
        targets = (["config"] if self.model.config_broken else []) + [y for y in self._years() if y.broken]
        target = self._pick(targets, pick)
        if target is None:
            return "fix: (nothing broken)"
        if target == "config":
            self.model.config_broken = False
            self.project.write("site_config.yaml", self.model.config_text().encode("utf-8"))
            return "fix site_config.yaml"
        target.broken = []
        self._save(target)
        return f"fix {target.rel()} (last valid text)"

    def op_delete(self, pick: int) -> str:
        y = self._pick(self._years(), pick)
        if y is None:
            return "delete: (no agency year)"
        self.project.delete(y.rel())
        self.project.remove_tree(y.folder_rel())
        del self.model.years[y.key]
        self.model.deleted.append(y)
        return f"delete {y.rel()} and {y.folder_rel()}/"

    def op_readd(self, pick: int) -> str:
        free = [y for y in self.model.deleted if y.key not in self.model.years]
        y = self._pick(free, pick)
        if y is None:
            return "re-add: (nothing deleted)"
        self.model.deleted.remove(y)
        self.model.years[y.key] = y
        for rel, data in sorted(y.files().items(), key=lambda item: item[0] == y.rel()):
            self.project.write(rel, data)     # the originals first, the agency-year file last
        return f"re-add {y.rel()} and {y.folder_rel()}/"

    def op_rename(self, pick: int, to: int) -> str:
        y = self._pick(self._years(), pick)
        if y is None:
            return "rename: (no agency year)"
        idents = KINDS[y.kind]["idents"]
        choices = [idents[(to + i) % len(idents)] for i in range(len(idents))]
        new = next((c for c in choices if c != y.ident and (y.year, c) not in self.model.years), None)
        if new is None:
            return f"rename {y.rel()}: (no free code)"
        old_rel, old_folder = y.rel(), y.folder_rel()
        del self.model.years[y.key]
        y.ident = new
        self.model.years[y.key] = y
        self.project.rename(old_rel, y.rel())
        self.project.rename(old_folder, y.folder_rel())
        self._save(y)                            # agency.code / agency.slug inside
        return f"rename {old_rel} -> {y.rel()} (and its folder; code inside updated)"

    def op_add_original(self, pick: int, name: str, version: int) -> str:
        y = self._pick(self._years(), pick)
        if y is None:
            return "add original: (no agency year)"
        if name == "BASE":
            base = KINDS[y.kind]["base_original"]
            y.base_bytes = y.base_bytes + f"\n修订{version}\n".encode()
            self.project.write(f"{y.folder_rel()}/{base}", y.base_bytes)
            return f"change original {y.folder_rel()}/{base} (bytes only)"
        data = (f"数据: 附件{version}\n" if name.endswith(".yaml") else f"附件内容{version}\n").encode()
        y.extra[name] = data
        self.project.write(f"{y.folder_rel()}/{name}", data)
        if name not in y.listed:
            y.listed.append(name)
            self._save(y)
            return f"add original {y.folder_rel()}/{name}, listed under originals: in {y.rel()}"
        return f"change original {y.folder_rel()}/{name} (already listed)"

    def op_remove_original(self, pick: int, unlist: bool) -> str:
        with_extra = [y for y in self._years() if y.extra]
        y = self._pick(with_extra, pick)
        if y is None:
            return "remove original: (no extra original)"
        name = sorted(y.extra)[0]
        del y.extra[name]
        self.project.delete(f"{y.folder_rel()}/{name}")
        if unlist and name in y.listed:
            y.listed.remove(name)
            self._save(y)
            return f"remove original {y.folder_rel()}/{name} and its entry in {y.rel()}"
        return f"remove original {y.folder_rel()}/{name} (still listed: an error)" if name in y.listed else \
            f"remove original {y.folder_rel()}/{name}"

    def op_switch(self, version: int) -> str:
        """Replace content/ by a prepared version; report content/ and every changed file."""
        before = self.project.tree()
        shutil.rmtree(self.project.content)
        self.model.years = variant_years(version)
        self.project.content.mkdir()
        for y in self.model.years.values():
            for rel, data in y.files().items():
                path = self.project.path(rel)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
        after = self.project.tree()
        self.project.changed.add(self.project.content)
        self.project.changed.update(self.project.path(rel) for rel in before.keys() | after.keys()
                                    if before.get(rel, b"missing") != after.get(rel, b"missing"))
        return f"switch content/ to prepared version {version} ({', '.join(y.rel() for y in self._years())}" + \
            (", 287001 broken" if version == 2 else "") + ")"

    def op_rm_output(self) -> str:
        shutil.rmtree(self.project.output, ignore_errors=True)
        self.output_removed = True
        self.project.changed.add(self.project.output)
        return "rm -rf the output folder"

    def op_config_title(self, value: str) -> str:
        self.model.title = value
        self.project.write("site_config.yaml", self.model.config_text().encode("utf-8"))
        return f"edit site_config.yaml: title -> {value}"

    def op_break_config(self) -> str:
        self.model.config_broken = True
        self.project.write("site_config.yaml", self.model.config_text().encode("utf-8"))
        return "broken save site_config.yaml (`title: [...`)"

    # --- running and checking

    def start(self) -> None:
        self.run_live("start", self.live.start)
        self.check(0)

    def step(self, n: int, ops: list) -> None:
        self.project.changed.clear()
        descriptions = [self.apply(op) for op in ops]
        changed = set(self.project.changed)
        label = ("burst: " if len(ops) > 1 else "") + " + ".join(descriptions)
        if changed:
            self.run_live(f"{n}. {label}", lambda: self.live.rebuild(changed), changed)
        else:
            self.log.append(f"{n}. {label}\n     (no file changed: no rebuild)")
        self.check(n)

    def run_live(self, label: str, call, changed: Optional[set[Path]] = None) -> None:
        try:
            call()
        except Exception:
            self.log.append(label)
            raise AssertionError(self.report(f"LiveSite raised:\n{traceback.format_exc()}"))
        rels = ", ".join(sorted(self.rel(p) for p in changed)) if changed is not None else ""
        result = "ok" if not self.live.problems else \
            f"{len(self.live.problems)} error(s), first: {self.live.problems[0].format()}"
        self.log.append(label + (f"\n     rebuild({{{rels}}})" if changed is not None else "") + f"\n     -> {result}")

    def rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.project.root).as_posix() or "."
        except ValueError:
            return str(path)

    def check(self, n: int) -> None:
        digest = self.project.digest()
        clean = clean_build(self.project, digest, self.scratch)
        live_files = read_site(self.project.output)
        if not self.live.problems:
            if clean.rc != 0:
                raise AssertionError(self.report("serve reports no error, but a clean build of the same "
                                                 "files fails:\n" + tail(clean.log)))
            expected, what = clean.files, "a clean build of the current files"
            self.last_good = (n, digest)
            self.output_removed = False
        else:
            if clean.rc == 0:
                raise AssertionError(self.report("serve still reports errors, but a clean build of the same "
                                                 "files succeeds:\n" + "\n".join(p.format() for p in self.live.problems[:5])))
            if self.last_good is None:
                raise AssertionError(self.report("the first build failed:\n"
                                                 + "\n".join(p.format() for p in self.live.problems[:5])))
            good_step, good_digest = self.last_good
            expected = CLEAN_BUILDS[good_digest].files
            if self.output_removed:
                expected, live_files = without_originals(expected), without_originals(live_files)
            what = f"the last good state (a clean build of the files after step {good_step})"
        problems = compare(expected, live_files)
        # Raised on separate lines, so that Hypothesis reports each kind of failure on its own.
        if not self.project.output.is_dir():
            raise AssertionError(self.report(f"the output folder does not exist (expected {what}):\n"
                                             + "\n".join(problems)))
        if not (self.project.output / MARKER).is_file():
            raise AssertionError(self.report(f"marker {MARKER} missing (build.py build would refuse the folder)"
                                             + "".join("\n" + p for p in problems)))
        if problems and not self.live.problems:
            raise AssertionError(self.report(f"the output folder differs from {what}:\n" + "\n".join(problems)))
        if problems:
            raise AssertionError(self.report(f"the output folder differs from {what}:\n" + "\n".join(problems)))

    def report(self, message: str) -> str:
        return message + "\n\nsteps:\n" + "\n".join(self.log)


def tail(text: str, lines: int = 12) -> str:
    """The build's error lines (else its last lines), indented."""
    found = [line for line in text.splitlines() if "error" in line] or text.splitlines()
    return "\n".join("    " + line for line in found[-lines:])


def without_originals(files: dict[str, bytes]) -> dict[str, bytes]:
    """`files` without the originals (`YEAR/IDENT/originals/…`)."""
    return {rel: data for rel, data in files.items() if rel.split("/")[2:3] != ["originals"]}


def compare(expected: dict[str, bytes], actual: dict[str, bytes]) -> list[str]:
    """Readable differences: missing, extra and differing files (with a short diff)."""
    out: list[str] = []
    missing = sorted(expected.keys() - actual.keys())
    extra = sorted(actual.keys() - expected.keys())
    differ = sorted(rel for rel in expected.keys() & actual.keys() if expected[rel] != actual[rel])
    if missing:
        out.append(f"missing ({len(missing)}): " + ", ".join(missing[:12]) + (" …" if len(missing) > 12 else ""))
    if extra:
        out.append(f"extra ({len(extra)}): " + ", ".join(extra[:12]) + (" …" if len(extra) > 12 else ""))
    if differ:
        out.append(f"differ ({len(differ)}): " + ", ".join(differ))
        for rel in differ[:4]:
            want = expected[rel].decode("utf-8", "replace")
            got = actual[rel].decode("utf-8", "replace")
            at = next((i for i, (a, b) in enumerate(zip(want, got)) if a != b), min(len(want), len(got)))
            line = want.count("\n", 0, at) + 1
            out.append(f"  {rel}: first difference at line {line}, character {at}:")
            for label, text in (("expected", want), ("served  ", got)):
                window = text[max(0, at - 50):at + 70].replace("\n", "⏎")
                out.append(f"    {label}: {'…' if at > 50 else ''}{window}{'…' if at + 70 < len(text) else ''}")
            lines = [line[:140] for line in difflib.unified_diff(
                want.splitlines(), got.splitlines(), lineterm="", n=0)][2:]
            if len(want.splitlines()) > 1 and lines:
                out.extend("      " + line for line in lines[:8])
                if len(lines) > 8:
                    out.append(f"      … {len(lines) - 8} more diff lines")
    return out


# --------------------------------------------------------------------------- the property

@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """In memory (/dev/shm) where there is one: a third less time than on disk."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        folder = Path(tempfile.mkdtemp(prefix="gongkai-serve-property-", dir=shm))
        yield folder
        shutil.rmtree(folder, ignore_errors=True)
    else:
        yield tmp_path_factory.mktemp("serve-property")


@contextlib.contextmanager
def environment(**values: str):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_serve_equals_a_clean_build_after_any_changes(workdir):
    """Random sequences of edits, broken saves, fixes, deletions, renames, originals, bursts,
    whole-folder switches and output removals: after each step what serve has written equals
    a clean build of the same files (or, while there is an error, the last good one)."""
    counter = itertools.count()

    # One failure at a time: shrinking several at once took over five minutes.
    @settings(max_examples=200, deadline=None, report_multiple_bugs=False,
              phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(steps=STEPS)
    def sequence(steps):
        root = workdir / f"ex-{next(counter)}"
        try:
            session = Session(root / "project", workdir)
            session.start()
            for n, ops in enumerate(steps, 1):
                session.step(n, ops)
        finally:
            shutil.rmtree(root, ignore_errors=True)

    started = time.monotonic()
    with environment(GONGKAI_WORKERS="1"):
        sequence()
    print(f"{time.monotonic() - started:.1f} s, {len(CLEAN_BUILDS)} distinct clean builds")


# --------------------------------------------------------------------------- D14: pages over 64 KB

def test_live_reload_and_overlay_on_a_page_over_64_kb(tmp_path):
    """The agency page the editor works on is over 64 KB (long text): it is served with the
    live-reload script, shows the error overlay after a broken save, and loses it on fix."""
    from test_serve import Server

    shutil.copytree(FIXTURE, tmp_path, dirs_exist_ok=True)
    source = tmp_path / "content" / "2022" / "287001.yaml"
    old = KINDS["a"]["lines"]["text"][0]
    paragraphs = "\n\n".join("          " + f"第{i}段：" + "部门预算绩效目标公开的长篇正文，用于检验大页面。" * 6
                             for i in range(1, 241))
    text = source.read_text(encoding="utf-8")
    assert old in text
    source.write_text(text.replace(old, paragraphs + "\n", 1), encoding="utf-8")

    server = Server(tmp_path)
    try:
        page = "/2022/287001/index.html"
        size = (tmp_path / "_site" / page.lstrip("/")).stat().st_size
        assert size > 64 * 1024, size
        status, body = server.get(page)
        assert status == 200 and "第240段" in body and body.rstrip().endswith("</html>")
        assert "livereload.js" in body, f"{size}-byte page served without the live-reload script"
        assert body.count("livereload.js") == 1

        source.write_text(source.read_text(encoding="utf-8").replace("unit: 万元\n", "unit: [万元\n", 1),
                          encoding="utf-8")
        server.wait_for(page, lambda b: "gongkai-error-overlay" in b, timeout=5.0)
        status, body = server.get(page)
        assert "content/2022/287001.yaml:" in body and "第240段" in body
        assert body.rstrip().endswith("</html>") and body.count("gongkai-error-overlay") == 1

        source.write_text(source.read_text(encoding="utf-8").replace("unit: [万元\n", "unit: 万元\n", 1),
                          encoding="utf-8")
        server.wait_for(page, lambda b: "gongkai-error-overlay" not in b and "livereload.js" in b, timeout=5.0)
    finally:
        server.stop()
