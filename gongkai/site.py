"""The one pipeline: every content file read, judged and rendered the same way for every command.

`build`, `check`, `serve` and the tests drive this module; they differ only in where the
output goes. Per agency-year file (in forked workers when there are many):

    read and check the YAML -> derive -> render its pages and data -> check those pages
    -> (build) write them into staging

and then, for the whole site: the checks across files, the pages that list every agency
year (`common`), and the links that lead from one agency year to another page (`settle`).
A link written in content that leads nowhere is a problem of the content file, at the
line and column where it was written.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional

from . import corrections, history, opendata, parallel, urls, verify
from .cache import ParseCache
from .config import Config
from .content import address_clashes, find_files, read_year
from .derive import YearFacts, YearOutline, outline
from .errors import Problem, sort_key
from .progress import Progress
from .render import Output, Renderer, template_problem
from .search.records import record_files
from .write import write_file, write_files

BATCH = 4   # agency-year files per task: the progress bar moves, results stay small


@dataclass(frozen=True)
class YearJob:
    """What a worker needs to turn agency-year files into results (its only input)."""
    config: Config
    renderer: Renderer
    cache: Optional[ParseCache]
    render: bool = True                  # False: read, check and derive only
    keep: bool = False                   # hand the rendered files back (serve)
    staging: Optional[Path] = None       # write the files here (build)
    record_folder: Optional[str] = None  # and the search's page records here (build with search)


@dataclass
class YearResult:
    """One agency-year file after the pipeline: its problems and, when it has no error, its
    outline, output paths, page checks and data-package entries."""
    source: Path
    problems: list[Problem] = field(default_factory=list)
    outline: Optional[YearOutline] = None
    paths: list[str] = field(default_factory=list)          # every file of its output
    sizes: dict[str, int] = field(default_factory=dict)     # their sizes, where written (build)
    scan: Optional[verify.Scan] = None
    resources: list[dict] = field(default_factory=list)     # its data-package entries
    output: Optional[Output] = None                         # its files (only when kept)
    facts: Optional[YearFacts] = None                       # its facts (only when kept)
    records: list = field(default_factory=list)             # search records written (build with search)
    clash: bool = False                                     # its files were written by another
    links_out: frozenset = frozenset()                      # other agency years' folders it links into

    @property
    def failed(self) -> bool:
        return self.outline is None or any(p.is_error for p in self.problems)


def year_result(job: YearJob, path: Path) -> YearResult:
    """One agency-year file through the pipeline."""
    facts, problems = read_year(path, job.config, job.cache)
    if facts is None or any(p.is_error for p in problems):
        return YearResult(path, problems)
    return render_year(job, facts, YearResult(path, problems))


def render_year(job: YearJob, facts: YearFacts, result: YearResult) -> YearResult:
    """The pipeline after reading: one agency year's outline, pages, data and page checks."""
    result.outline = outline(facts)
    if not job.render:
        return result
    data = opendata.year_data(facts)
    try:
        out = job.renderer.agency_year(facts, data)
    except Exception as exc:   # template errors of every kind, with the template's file and line
        result.problems.append(template_problem(exc, job.renderer.templates))
        return result
    if out.problems:
        result.problems += out.problems
        return result
    result.scan = verify.scan_written(out.files, (rel for _, rel in out.copies),
                                      content_links(facts, job.renderer))
    result.problems += verify.content_problems(result.scan.problems)
    result.scan.problems = [p for p in result.scan.problems
                            if not (isinstance(p, verify.Broken) and p.where is not None)]
    result.links_out = frozenset(
        "/".join(target.split("/")[:2]) + "/" for target, _, _ in result.scan.pending
        if target and urls.is_year_folder(target.split("/")[0]) and target.count("/") >= 2)
    result.paths = out.paths()
    result.resources = opendata.year_resources(facts.year, data, remember=job.keep)
    if job.staging is not None and not result.failed:
        try:
            write_files(job.staging, out)
            result.sizes = out.sizes()
        except FileExistsError:   # another agency year with this address: `Site.judge` says so
            result.clash = True
        if job.record_folder is not None:
            result.records = record_files(out.files, job.record_folder)
    if job.keep:
        result.output, result.facts = out, facts
    return result


def content_links(facts: YearFacts, renderer: Renderer) -> verify.Where:
    """Where each link written in the agency year's Markdown appears on its page, as the
    page writes it (Markdown normalises the URL; relative links are taken from the root)."""
    year = facts.year
    page = urls.year_page(year.year, year.agency.ident)
    root = urls.root_of(page)
    normalize = renderer.md.normalizeLink
    return {(page, normalize(link.url) if link.url.startswith("#") else root + normalize(link.url)): link.pos
            for link in year.links}


def _year_batch(job: YearJob, paths: list[Path]) -> list[YearResult]:
    return [year_result(job, path) for path in paths]


class Site:
    """One site: its configuration, compiled templates and parse cache."""

    def __init__(self, config: Config, epoch: Optional[datetime.date], workers: int = 1, cache: bool = True,
                 known: Optional[history.History] = None):
        self.config, self.epoch, self.workers = config, epoch, workers
        # One `git log` of content/ (`known`, when the caller has read it already): dates for
        # every page, and the commits whose versions `corrections` compares (the pages'
        # 更正记录 and the feed); `history.known` is False outside a git checkout or in a
        # shallow one (the build says so and goes on).
        self.history = known if known is not None else history.read(config.root, config.content_folder)
        self.renderer = Renderer(config, epoch, self.history.dates, corrections.read(
            config.root, self.history.dates, cache=config.root / ".cache" / "corrections" if cache else None))
        self.cache = ParseCache(config.root / ".cache" / "models") if cache else None

    def compile(self) -> list[Problem]:
        """Compile the templates (once, before workers fork); their errors as problems."""
        try:
            self.renderer.compile()
        except Exception as exc:
            return [template_problem(exc, self.renderer.templates)]
        return []

    def content_files(self, paths: Optional[Iterable[Path]] = None) -> list[Path]:
        """The agency-year files under `paths` (default: content/). FileNotFoundError for a
        path that does not exist."""
        files = find_files(list(paths) if paths else [self.config.content_dir])
        if not paths:   # the whole site: each agency's years, for the links between them
            self.renderer.agency_years = urls.agency_years(self.config.content_dir, files)
        return files

    def job(self, **options) -> YearJob:
        return YearJob(self.config, self.renderer, self.cache, **options)

    def years(self, files: list[Path], job: YearJob, label: str = "生成页面") -> list[YearResult]:
        """Every file through the pipeline, in order; in workers when there are several."""
        results: list[YearResult] = []
        with Progress(label, len(files)) as progress:
            for batch in parallel.run(_year_batch, parallel.tasks(files, BATCH), self.workers, job):
                results += batch
                progress.advance(len(batch))
        return results

    @staticmethod
    def judge(results: list[YearResult]) -> list[Problem]:
        """Every problem of the files, and those across files (two agency years, one address)."""
        problems = unique(p for r in results for p in r.problems)
        return problems + address_clashes([r.outline for r in results if r.outline is not None])

    @staticmethod
    def outlines(results: list[YearResult]) -> list[YearOutline]:
        """The agency years in site order: newest year first, then identifier."""
        return [r.outline for r in ranked(results)]

    def common(self, years: list[YearOutline], data: dict[str, bytes | opendata.Written],
               read: Optional[Callable[[str], bytes]] = None, into: Optional[Path] = None
               ) -> tuple[Optional[Output], list[Problem]]:
        """The pages that list every agency year, the fixed pages, assets and the site-wide
        `data`; `read(path)` gives an agency year's own data file; or None and the problems.
        With `into` (a staging folder) each file is written there at once, not kept."""
        sink = None if into is None else (lambda path, payload: write_file(into, path, payload))
        try:
            out = self.renderer.common(years, data, read, sink, self.workers)
        except Exception as exc:
            if into is not None and isinstance(exc, OSError):   # writing failed (a full disk): the caller's error
                raise
            return None, [template_problem(exc, self.renderer.templates)]
        return (None, out.problems) if out.problems else (out, [])

    def site_wide_data(self, years: list[YearOutline], read: Callable[[str], bytes],
                       resources: Optional[list[list[dict]]] = None, into: Optional[Path] = None
                       ) -> dict[str, bytes | opendata.Written]:
        return opendata.site_wide_data(years, read, self.config.title, resources, self.config.data_license, into)


def ranked(results: list[YearResult]) -> list[YearResult]:
    """The results that have an outline, in site order."""
    return sorted((r for r in results if r.outline is not None), key=lambda r: order(r.outline))


def order(year: YearOutline) -> tuple:
    """Site order of agency years: newest year first, then identifier."""
    return (-year.year, year.ident)


def unique(problems: Iterable[Problem]) -> list[Problem]:
    """Problems in order, each once: every worker meets a broken template and says so."""
    return list(dict.fromkeys(problems))


def placeholder_data() -> dict[str, bytes]:
    """The site-wide data files' paths with empty bytes: what `common` needs to render the
    pages that link to them, where the files themselves are not made (check)."""
    return dict.fromkeys(opendata.site_wide_paths(), b"")


def settle_links(scans: Iterable[verify.Scan], files: set[str], ids: Callable[[str], set[str]],
                 later: Callable[[Optional[str]], bool] = lambda target: False) -> tuple[list[Problem], list]:
    """The links the agency years' page checks left to the site (targets elsewhere): broken
    ones written in content as problems of the content, the rest as the site's problems."""
    found = verify.settle(scans, files, ids, later)
    content = verify.content_problems(found)
    return content, [p for p in found if not (isinstance(p, verify.Broken) and p.where is not None)]


def load(config: Config, paths: Optional[list[Path]] = None) -> tuple[list[YearFacts], list[Problem]]:
    """Every agency year read, checked, derived and rendered in this process (site order),
    with every problem: the pipeline as tests and tools see it, nothing written."""
    site = Site(config, None, cache=False)
    results = site.years(site.content_files(paths), site.job(keep=True))
    return [r.facts for r in ranked(results) if r.facts is not None], sorted(site.judge(results), key=sort_key)


def render_site(config: Config, years: list[YearFacts], epoch: Optional[datetime.date] = None
                ) -> tuple[Optional[Output], list[Problem]]:
    """The whole site of `years` (facts made in code or by `load`) rendered into one
    `Output` through the pipeline's stages, nothing written; or None and the problems."""
    site = Site(config, epoch, cache=False)
    problems = site.compile()
    if problems:
        return None, problems
    agencies: dict[str, set[int]] = {}
    for facts in years:
        agencies.setdefault(facts.year.agency.ident, set()).add(facts.year.year)
    site.renderer.agency_years = {ident: tuple(sorted(found, reverse=True)) for ident, found in agencies.items()}
    job = site.job(keep=True)
    results = [render_year(job, facts, YearResult(config.root / facts.year.source)) for facts in years]
    problems = site.judge(results)
    if any(p.is_error for p in problems):
        return None, problems
    in_order = ranked(results)
    whole = Output()
    for result in in_order:
        whole.merge(result.output)
    data = site.site_wide_data([r.outline for r in in_order], whole.files.__getitem__, [r.resources for r in in_order])
    common, problems = site.common([r.outline for r in in_order], data, whole.files.__getitem__)
    if common is None:
        return None, problems
    whole.merge(common)
    return (None, whole.problems) if whole.problems else (whole, [])
