"""`build.py check`: the build's judgement of the content, with nothing written.

The same pipeline as `build` (`site.Site`): every agency-year file is read, checked,
derived, rendered and its pages checked, in workers; then the checks across files, and
the links that lead from one agency year to another page. Problems are printed as
`file:line:col: severity: …` lines; exit 1 on any error.

Given files or folders, only their problems are printed. They are judged within the
whole site, as a build would judge them: the other agency-year files are read for what the
checks across files and links into them need (their outlines), not rendered.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

from . import parallel, urls, verify
from .config import load_config, source_date_epoch
from .console import report
from .errors import Problem, relpath
from .render import Output
from .site import Site, YearResult, placeholder_data, settle_links


def check_command(paths: list[str], config: str = "site_config.yaml") -> int:
    """Print every error and note; exit 1 on any error, 0 otherwise."""
    cfg, problems = load_config(config)
    if cfg is None:
        report(problems, sys.stdout)
        return 1
    try:
        site = Site(cfg, source_date_epoch(), parallel.worker_count())
        chosen = site.content_files([Path(p) for p in paths])
        files = site.content_files() if paths else chosen
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except FileNotFoundError as exc:
        print(f"{exc.args[0]}: error: 没有这个文件或文件夹", file=sys.stderr)
        return 1
    given = {os.path.abspath(p) for p in chosen}
    config_notes = problems
    problems, checked = judge(site, chosen, [f for f in files if os.path.abspath(f) not in given])
    if paths:
        labels = {relpath(path, cfg.root) for path in chosen}
        problems = [p for p in problems if p.file in labels]
    problems = config_notes + problems
    report(problems, sys.stdout)
    errors = sum(p.is_error for p in problems)
    years = sum(1 for r in checked if r.outline is not None and os.path.abspath(r.source) in given)
    print(f"已检查 {years} 个部门年度：{errors} 个错误，{len(problems) - errors} 条提示", file=sys.stderr)
    return 1 if errors else 0


def judge(site: Site, files: list[Path], others: list[Path] = ()) -> tuple[list[Problem], list[YearResult]]:
    """What `build` would say of the content of `files` in a site that also holds `others`:
    every problem, in the order the build finds them (the files, then across files, then
    the links between pages)."""
    problems = site.compile()
    if problems:
        return problems, []
    results = site.years(files, site.job(), label="检查内容")
    rest = site.years(others, site.job(render=False), label="读取其他内容") if others else []
    problems = site.judge(results + rest)
    if any(p.is_error for p in problems):
        return problems, results + rest
    common, found = site.common(site.outlines(results + rest), placeholder_data())
    if common is None:
        return problems + found, results + rest
    paths = ({p for r in results for p in r.paths} | {p for r in rest for p in r.outline.paths()}
             | set(common.paths()))
    content, _ = settle_links([r.scan for r in results] + [verify.scan_written(common.files)], paths,
                              PageIds(site, results + rest, common))
    return problems + content, results + rest


class PageIds:
    """The ids of a page, for a link with a `#fragment` into it. The agency years' pages were
    not kept: one is rendered again when a link names an id in it (rare)."""

    def __init__(self, site: Site, results: list[YearResult], common: Output):
        self.site, self.common = site, common
        self.by_folder = {urls.year_dir(r.outline.year, r.outline.ident): r.source
                          for r in results if r.outline is not None}
        self.pages: dict[str, bytes] = {}

    def __call__(self, target: str) -> set[str]:
        data: Optional[bytes] = self.common.files.get(target) or self.pages.get(target)
        if data is None:
            folder = "/".join(target.split("/")[:2]) + "/"
            source = self.by_folder.get(folder)
            if source is not None:
                again = self.site.years([source], self.site.job(keep=True), label="检查链接")[0]
                if again.output is not None:
                    self.pages.update(again.output.files)
            data = self.pages.get(target, b"")
        return verify.page_ids(target, data)
