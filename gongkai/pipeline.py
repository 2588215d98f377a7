"""`build.py build`: the site built into a staging folder, indexed, checked and swapped in.

Nothing replaces the previous site until every input has been read, every page rendered
and checked: an error in content, configuration or a template leaves it as it was. User
errors print a message (`file:line:col: error: …`), never a traceback.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import threading
from pathlib import Path
from typing import Callable, Iterator, Optional

from . import history, parallel, search, verify, write
from .config import load_config, source_date_epoch
from .console import report, say
from .errors import Problem, relpath
from .files import FILE, LINK, OTHER, walk_folder
from .render import site_folder
from .site import Site, YearResult, ranked
from .write import WriteError


class Stop(Exception):
    """The build stops here; `problems` say why (content or template errors)."""

    def __init__(self, problems: list):
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


class IndexFailed(Exception):
    """The search index step raised; the message is its error."""


FAILURES = (Stop, WriteError, IndexFailed, verify.VerifyFailed, OSError)   # what `failed` explains


def build_command(config_path: str | Path, output: Optional[str | Path] = None, search: bool = True,
                  force: bool = False) -> int:
    """Build the site; 0 on success, 1 on any error (with the previous site untouched)."""
    with terminate_as_exit():
        return build(Path(config_path), output, search, force)


def build(config_path: Path, output: Optional[str | Path], with_search: bool, force: bool = False) -> int:
    config, config_notes = load_config(config_path)
    if config is None:
        report(config_notes)
        return 1
    target = Path(output) if output is not None else config.output_dir
    if not config.content_dir.is_dir():
        say(f"{relpath(config.content_dir)}: error: 找不到内容文件夹 (hint: 在 site_config.yaml 所在的文件夹中建立 content/)")
        return 1
    known = history.read(config.root, config.content_folder)   # once: the fingerprint and the site
    stamp = fingerprint(config, config_path, with_search, known)
    if not force and write.stamp_of(target) == stamp and write.intact(target):
        write.clean_stale(Path(os.path.abspath(target)))   # leftovers of a killed run go even now
        search.remove_stale_scratch(both=True)
        say(f"{target} 已是最新：上次生成以来输入没有变化（用 build.py build --force 可重新生成）")
        return 0
    try:
        site = Site(config, source_date_epoch(), parallel.worker_count(), known=known)
        files = site.content_files()
    except ValueError as exc:
        say(f"error: {exc}")
        return 1
    except FileNotFoundError as exc:
        say(f"{exc.args[0]}: error: 找不到内容文件夹")
        return 1
    if not site.history.known:   # a note, never an error: the site is built without them
        say("note: 更正记录无法列出：" + ("这是浅克隆（shallow clone），没有完整的 git 历史"
            if site.history.state == "shallow" else "内容不在 git 仓库中（或未安装 git）")
            + "；网站照常生成，页面不列更正记录（hint: 检出完整的 git 历史后重新生成）")
    try:
        results, notes, pages = _build(site, files, target, stamp, with_search)
    except FAILURES as exc:
        return failed(exc, target, "生成已停止")
    notes = config_notes + notes
    report(notes)
    years = [r.outline for r in results]
    say(f"已生成 {target}：{sum(p.endswith('.html') for p in pages)} 个页面，{len(pages)} 个文件，"
        f"{len(years)} 个部门年度，{sum(len(y.slugs) for y in years)} 个项目，{len(notes)} 条提示")
    return 0


def failed(exc: Exception, target: Path, stopped: str, command: str = "build.py build") -> int:
    """Say why a build (or a merge) stopped, as an editor reads it; the exit code 1. The
    previous site is untouched whichever of FAILURES it was."""
    if isinstance(exc, Stop):
        errors = report(exc.problems)
        say(f"{stopped}：{errors} 个错误；未写入任何文件")
    elif isinstance(exc, IndexFailed):
        say(f"error: 搜索索引生成失败，原有网站未改动：{exc} （不生成搜索索引：{command} --no-search）")
    elif isinstance(exc, verify.VerifyFailed):
        say(f"error: 生成的网站未通过检查，原有网站未改动：{exc}")
    elif isinstance(exc, WriteError):
        say(f"error: {exc}")
    else:
        say(f"{getattr(exc, 'filename', None) or target}: error: 无法写入网站：{getattr(exc, 'strerror', None) or exc}")
    return 1


def _build(site: Site, files: list[Path], target: Path, stamp: str, with_search: bool
           ) -> tuple[list[YearResult], list[Problem], list[str]]:
    """The steps, in order; any of them may raise, and then nothing is swapped in.
    Returns the agency years' results, their notes and every output path."""
    config = site.config
    problems = site.compile()
    if problems:
        raise Stop(problems)
    with contextlib.ExitStack() as stack:
        staging = stack.enter_context(write.staging(target, config.content_dir, config.root))
        records = stack.enter_context(page_records(len(files))) if with_search else None
        # Each agency year: read, check, derive, render, write into staging, check its pages.
        results = site.years(files, site.job(staging=staging, record_folder=records and str(records.folder)))
        notes = site.judge(results)
        if any(p.is_error for p in notes):
            raise Stop(notes)
        if any(r.clash for r in results):   # only two agency years with one address do this
            raise WriteError("两个部门年度写入了同一个文件；build.py check 会指出是哪两个")
        indexed = None
        if records is not None:
            for result in results:
                records.add(result.records)
            indexed = start_index(stack, staging, records)
        # The pages and data that list every agency year, from the outlines and the data
        # files in staging (so they are never all held in memory here).
        in_order = ranked(results)
        years = [r.outline for r in in_order]
        data = site.site_wide_data(years, lambda path: (staging / path).read_bytes(),
                                   [r.resources for r in in_order], into=staging)
        common, problems = site.common(years, data, lambda path: (staging / path).read_bytes(), into=staging)
        del data
        if common is None:
            raise Stop(problems)
        write.write_files(staging, common)
        if indexed is not None:
            indexed()
        found = verify.verify_site(staging, [r.scan for r in results])
        content = verify.content_problems(found)
        if content:
            raise Stop(content)
        if found:
            raise verify.VerifyFailed(found)
        sizes = {path: size for r in results for path, size in r.sizes.items()}
        sizes.update(common.sizes())
        sizes.update(write.sizes_under(staging, search.BUNDLE + "/"))
        write.seal(staging, stamp, sizes)
    return results, notes, [p for r in results for p in r.paths] + common.paths()


@contextlib.contextmanager
def page_records(agency_years: int) -> Iterator[search.PageRecords]:
    """Where the build's workers write each page's search record while its bytes are in memory.
    The scratch folder goes to /dev/shm if it has room for the pages of 16 projects per
    agency-year file (the seeds have up to 15), which is all the estimate decides."""
    try:
        with search.scratch(agency_years * 16) as folder:
            yield search.PageRecords(folder)
    except OSError as exc:
        raise IndexFailed(f"no scratch folder for it: {exc}") from exc


def index_search(staging: Path, records: search.PageRecords) -> None:
    """The search index of the staging folder from `records`, every searched page's."""
    try:
        search.build_index(staging, records)
    except Exception as exc:  # the index has its own failure modes; the site must not swap in
        raise IndexFailed(str(exc) or type(exc).__name__) from exc


# Up to this many searched pages the index is made while the site-wide pages are rendered;
# beyond, after them: the two together peaked at 318 MB at 10,000 pages, but at 1.5 GB at
# 100,000, where one after the other stays near 1 GB (docs/performance.md).
BESIDE_PAGES = 20_000


def start_index(stack: contextlib.ExitStack, staging: Path, records: search.PageRecords) -> Callable[[], None]:
    """Start the search index of every searched page (`records`, all written); the function
    that waits for it to be done. It needs only the agency years' pages, so on a site of
    up to BESIDE_PAGES pages it is made in a worker of its own meanwhile (the caller
    renders the site-wide pages), else when the caller waits."""
    if len(records.facets) <= BESIDE_PAGES:
        return stack.enter_context(parallel.beside(_index_job, (staging, records)))
    return lambda: index_search(staging, records)


def _index_job(job: tuple[Path, search.PageRecords]) -> None:
    index_search(*job)


def fingerprint(config, config_path: Path, with_search: bool, known: history.History) -> str:
    """A hash of everything the output depends on: content and originals, their git dates,
    configuration, templates, theme, this program's code, SOURCE_DATE_EPOCH and the search switch.
    Paths enter relative to their folder, so two copies of one project agree."""
    digest = hashlib.sha256(f"search={with_search};epoch={os.environ.get('SOURCE_DATE_EPOCH', '')}".encode())
    digest.update(hashlib.sha256(config_path.read_bytes()).digest())
    # The pages say when git first and last committed each content file.
    digest.update(history.digest(known.dates))
    folders = [config.content_dir, site_folder(config, "templates"), site_folder(config, "theme"),
               Path(__file__).parent]
    for n, folder in enumerate(folders):
        digest_tree(digest, n, folder)
    return digest.hexdigest()


def digest_tree(digest, n: int, folder: Path) -> None:
    """Add to `digest` every file under `folder` (or the file `folder`): its path relative
    to it, prefixed by `n` to tell the trees apart, and its bytes (a link: where it leads)."""
    if folder.is_file():
        found = [("", str(folder), FILE)]
    else:
        found = sorted(walk_folder(str(folder), _pycache))
    for rel, path, kind in found:
        if kind == OTHER:
            continue
        digest.update(f"{n}/{rel}".encode("utf-8", "surrogateescape") + b"\0")
        if kind == LINK:   # a linked folder is not entered; the check refuses links out
            digest.update(b"link:" + os.fsencode(os.readlink(path)) + b"\0")
        try:
            with open(path, "rb") as f:
                digest.update(hashlib.file_digest(f, "sha256").digest())
        except OSError:
            digest.update(b"unreadable")


def _pycache(rel: str) -> bool:
    return rel.endswith("/") and rel.rstrip("/").rpartition("/")[2] == "__pycache__"


@contextlib.contextmanager
def terminate_as_exit() -> Iterator[None]:
    """Turn SIGTERM into SystemExit so a killed build still removes its staging folder."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
