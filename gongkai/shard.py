"""One site built on several machines: `build.py build --shard …` and `build.py merge`.

A shard is the agency years of some regions (`--shard 石家庄市`) or of a region's year
(`--shard 石家庄市/2022`), taken through the same pipeline as `build.py build` into a folder
of their own: their pages, originals and data files, checked; SHARD_FILE, which holds
what the site-wide pages need of each agency year (its outline: docs/performance.md,
"Beyond one machine"); and SEARCH_FILE, what search keeps of each of their pages
(search/records.py), made while the pages were in memory. Pages that list every agency
year are not made in a shard, and the links that lead out of it are checked at the merge.

`merge` copies the shards into one staging folder (a file made by two shards is an error),
renders the site-wide pages and data from the shards' outlines, makes the search index of
every page from the shards' search records (the pages are not read again), checks the
whole site as `build` does and swaps it in. The merged site is
byte-identical to `build.py build` of the same content (tests/test_shard.py).
"""
from __future__ import annotations

import contextlib
import datetime
import hashlib
import itertools
import json
import os
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Optional

import yaml

from . import history, parallel, search, urls, verify, write
from .config import Config, load_config, source_date_epoch
from .console import report, say
from .content import address_clashes, find_files
from .derive import YearOutline
from .errors import relpath
from .files import FILE, walk_folder
from .measure import Tally
from .model import Agency
from .pipeline import (FAILURES, IndexFailed, Stop, digest_tree, failed, fingerprint, page_records, start_index,
                       terminate_as_exit)
from .render import site_folder
from .site import Site, order, ranked

SHARD_FILE = "_shard.json"           # in a shard folder, beside the pages
SEARCH_FILE = "_shard-search.bin"    # the shard's search records (search.pack_records)
FORMAT = 2


# --- which agency years a shard holds ------------------------------------------------------

def parse_shards(config: Config, given: list[str]) -> tuple[list[tuple[str, Optional[int]]], list[str]]:
    """`REGION` or `REGION/YEAR` options as (region, year or None); and the errors."""
    shards, errors = [], []
    for text in given:
        region, _, year = text.strip().rpartition("/") if "/" in text else (text.strip(), "", "")
        if region not in config.regions:
            errors.append(f"--shard {text}：site_config.yaml 的 regions 中没有地区“{region}” "
                          f"(hint: 可用的地区：{'、'.join(config.regions)}；或写成 地区/年度)")
        elif year and not (year.isdigit() and len(year) == 4):
            errors.append(f"--shard {text}：年度应为四位数字，如 {region}/2022")
        else:
            shards.append((region, int(year) if year else None))
    return shards, errors


def region_of(path: Path) -> Optional[str]:
    """The agency's region as the file writes it, read from its `agency:` block only (a
    shard build reads the other files no further); None if that block cannot be read so."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read(1 << 20).splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    for i, line in enumerate(lines):
        if line.startswith("agency:"):
            block = [line, *itertools.takewhile(_inside, lines[i + 1:])]
            try:
                agency = yaml.safe_load("\n".join(block)).get("agency")
            except (yaml.YAMLError, AttributeError):
                return None
            region = agency.get("region") if isinstance(agency, dict) else None
            return region if isinstance(region, str) else None
    return None


def _inside(line: str) -> bool:
    """Whether a line still belongs to the block above it (indented, blank or a comment)."""
    return not line.strip() or line[0].isspace() or line.startswith("#")


def chosen_files(config: Config, files: list[Path], shards: list[tuple[str, Optional[int]]]) -> list[Path]:
    """The content files of the shards. A file whose year or region cannot be told is in
    every shard: the pipeline then reports what is wrong with it in each."""
    chosen = []
    for path in files:
        rel = path.relative_to(config.content_dir).parts if path.is_relative_to(config.content_dir) else ()
        year = int(rel[0]) if len(rel) == 2 and urls.is_year_folder(rel[0]) else None
        region = region_of(path) if year is not None else None
        if year is None or region is None or region not in config.regions or any(
                region == r and (y is None or y == year) for r, y in shards):
            chosen.append(path)
    return chosen


# --- the shard's record of its agency years ------------------------------------------------

def outline_record(y: YearOutline) -> dict:
    return {"source": y.source, "year": y.year,
            "agency": {"name": y.agency.name, "region": y.agency.region, "code": y.agency.code, "slug": y.agency.slug},
            "unit": y.unit, "published": y.published.isoformat() if y.published else None,
            "total_budget": str(y.total_budget) if y.total_budget is not None else None,
            "slugs": list(y.slugs), "originals": list(y.originals),
            "measure": {"counts": list(y.measure.counts), "ignored": y.measure.ignored},
            "measure_examples": [list(e) for e in y.measure_examples]}


def outline_of(record: dict) -> YearOutline:
    return YearOutline(record["source"], record["year"], Agency(**record["agency"]), record["unit"],
                       datetime.date.fromisoformat(record["published"]) if record["published"] else None,
                       Decimal(record["total_budget"]) if record["total_budget"] is not None else None,
                       tuple(record["slugs"]), tuple(record["originals"]),
                       Tally(tuple(record["measure"]["counts"]), record["measure"]["ignored"]),
                       tuple(tuple(e) for e in record["measure_examples"]))


# --- build --shard -------------------------------------------------------------------------

def shard_fingerprint(config: Config, config_path: Path, files: list[Path], chosen: list[Path],
                      known: history.History) -> str:
    """What a shard's output depends on: its content files and originals, the names of all
    content files (pages link an agency's other years), their git dates, configuration,
    templates, theme and code: the CI cache key of a shard (`build.py shard-key`)."""
    digest = hashlib.sha256(f"shard;epoch={os.environ.get('SOURCE_DATE_EPOCH', '')}".encode())
    digest.update(hashlib.sha256(config_path.read_bytes()).digest())
    for path in files:
        digest.update(str(path.relative_to(config.content_dir)).encode("utf-8", "surrogateescape") + b"\0")
    sources = {relpath(p, config.root) for p in chosen}
    digest.update("\0".join(sorted(sources)).encode("utf-8", "surrogateescape") + b"\0")
    digest.update(history.digest({k: v for k, v in known.dates.items() if k in sources}))
    folders = [site_folder(config, "templates"), site_folder(config, "theme"), Path(__file__).parent]
    folders += [p for path in chosen for p in (path, urls.originals_folder(path)) if p.exists()]
    for n, folder in enumerate(folders):
        digest_tree(digest, n, folder)
    return digest.hexdigest()


def prepare(config_path: Path, given: list[str], build: bool = True) -> tuple[Optional[tuple], int]:
    """Configuration, the site (only to `build`: it reads every file's 更正记录), the
    content's git history, every content file and the shard's; or the exit code."""
    config, notes = load_config(config_path)
    if config is None:
        report(notes)
        return None, 1
    shards, errors = parse_shards(config, given)
    for error in errors:
        say(f"error: {error}")
    if errors:
        return None, 2
    if not config.content_dir.is_dir():
        say(f"{relpath(config.content_dir)}: error: 找不到内容文件夹")
        return None, 1
    known = history.read(config.root, config.content_folder)
    site = Site(config, source_date_epoch(), parallel.worker_count(), known=known) if build else None
    files = site.content_files() if site else find_files([config.content_dir])
    return (config, site, known, files, chosen_files(config, files, shards)), 0


def shard_key_command(config_path: str | Path, given: list[str]) -> int:
    """`build.py shard-key --shard …`: print the shard's input fingerprint (a CI cache key)."""
    prepared, code = prepare(Path(config_path), given, build=False)
    if prepared is None:
        return code
    config, _, known, files, chosen = prepared
    print(shard_fingerprint(config, Path(config_path), files, chosen, known))
    return 0


def build_shard_command(config_path: str | Path, given: list[str], output: Optional[str | Path],
                        force: bool = False) -> int:
    """Build the agency years of the shards into `output`; 0 on success."""
    with terminate_as_exit():
        prepared, code = prepare(Path(config_path), given)
        if prepared is None:
            return code
        config, site, known, files, chosen = prepared
        target = Path(output) if output is not None else config.output_dir
        stamp = shard_fingerprint(config, Path(config_path), files, chosen, known)
        if not force and write.stamp_of(target) == stamp and write.intact(target):
            say(f"{target} 已是最新：上次生成以来输入没有变化")
            return 0
        problems = site.compile()
        if problems:
            report(problems)
            return 1
        try:
            with write.staging(target, config.content_dir, config.root) as staging, \
                    page_records(len(chosen)) as records:
                results = site.years(chosen, site.job(staging=staging, record_folder=str(records.folder)))
                notes = site.judge(results)
                if any(p.is_error for p in notes):
                    raise Stop(notes)
                if any(r.clash for r in results):
                    raise write.WriteError("两个部门年度写入了同一个文件；build.py check 会指出是哪两个")
                # The pages' own problems; links out of the shard are checked at the merge.
                found = verify.settle([r.scan for r in results], set(), lambda target: set(), lambda target: True)
                if found:
                    raise verify.VerifyFailed(found)
                record = {"format": FORMAT, "shards": given, "inputs": stamp,
                          "agency_years": [outline_record(r.outline) for r in ranked(results)]}
                data = json.dumps(record, ensure_ascii=False, indent=0).encode("utf-8")
                (staging / SHARD_FILE).write_bytes(data)
                sizes = {path: size for r in results for path, size in r.sizes.items()}
                sizes[SHARD_FILE] = len(data)
                for result in results:
                    records.add(result.records)
                sizes[SEARCH_FILE] = search.pack_records(records, staging / SEARCH_FILE)
                write.seal(staging, stamp, sizes)
        except FAILURES as exc:
            return failed(exc, target, "生成已停止")
        report(notes)
        say(f"已生成分片 {target}：{len(results)} 个部门年度（{'、'.join(given)}）")
        return 0


# --- merge ---------------------------------------------------------------------------------

def read_shard(folder: Path) -> tuple[Optional[list[YearOutline]], Optional[str]]:
    """A shard folder's outlines, or why it is not one."""
    if not (folder / write.MARKER).is_file() or not write.intact(folder):
        return None, f"{folder}: error: 不是 build.py build --shard 生成的完整分片（或其中文件已被改动）"
    try:
        record = json.loads((folder / SHARD_FILE).read_text(encoding="utf-8"))
        if record.get("format") != FORMAT:
            return None, f"{folder}: error: 分片格式 {record.get('format')} 与本程序（{FORMAT}）不符 (hint: 用同一版本重新生成分片)"
        return [outline_of(r) for r in record["agency_years"]], None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return None, f"{folder / SHARD_FILE}: error: 无法读取分片记录：{exc}"


def merge_command(config_path: str | Path, shard_dirs: list[str], output: Optional[str | Path],
                  search_index: bool = True) -> int:
    """Join shard folders into one site at `output`; 0 on success."""
    with terminate_as_exit():
        return _merge(Path(config_path), [Path(d) for d in shard_dirs], output, search_index)


def _merge(config_path: Path, folders: list[Path], output, with_search: bool) -> int:
    config, notes = load_config(config_path)
    if config is None:
        report(notes)
        return 1
    years: list[YearOutline] = []
    holder: dict[str, Path] = {}
    failed = False
    for folder in folders:
        found, error = read_shard(folder)
        if error:
            say(error)
            failed = True
            continue
        for y in found:
            if y.source in holder:
                say(f"{y.source}: error: 这个部门年度在两个分片中：{holder[y.source]} 和 {folder} "
                    "(hint: 每个地区或地区年度只交给一个 --shard)")
                failed = True
            holder[y.source] = folder
        years += found
    if failed:
        return 1
    clashes = address_clashes(years)
    if clashes:
        report(clashes)
        return 1
    known = history.read(config.root, config.content_folder)
    site = Site(config, source_date_epoch(), parallel.worker_count(), known=known)
    problems = site.compile()
    if problems:
        report(problems)
        return 1
    # Every agency year of the content in some shard: a shard left out would leave a site
    # without its pages and no broken link to tell.
    held = {y.source for y in years}
    missing = [relpath(p, config.root) for p in site.content_files() if relpath(p, config.root) not in held]
    for source in missing:
        say(f"{source}: error: 这个部门年度不在任何分片中 (hint: 为它的地区运行 build.py build --shard，并把分片交给 merge)")
    if missing:
        return 1
    years.sort(key=order)
    target = Path(output) if output is not None else config.output_dir
    try:
        with contextlib.ExitStack() as stack:
            staging = stack.enter_context(write.staging(target, config.content_dir, config.root))
            sizes = _copy_shards(folders, staging)
            indexed = None
            if with_search:
                # From the shards' search records, as in a build (start_index).
                records = stack.enter_context(page_records(len(years)))
                for folder in folders:
                    try:
                        search.unpack_records(folder / SEARCH_FILE, records)
                    except (ValueError, KeyError, TypeError) as exc:
                        raise IndexFailed(f"{folder / SEARCH_FILE}: 无法读取分片的搜索记录：{exc}") from exc
                indexed = start_index(stack, staging, records)
            read = lambda path: (staging / path).read_bytes()   # noqa: E731
            data = site.site_wide_data(years, read, into=staging)
            common, problems = site.common(years, data, read, into=staging)
            del data
            if common is None:
                raise Stop(problems)
            write.write_files(staging, common)
            sizes.update(common.sizes())
            if indexed is not None:
                indexed()
                sizes.update(write.sizes_under(staging, search.BUNDLE + "/"))
            found = verify.verify_site(staging)
            if found:
                raise verify.VerifyFailed(found)
            write.seal(staging, fingerprint(config, config_path, with_search, known), sizes)
    except FAILURES as exc:
        return failed(exc, target, "合并已停止", "build.py merge")
    say(f"已合并 {len(folders)} 个分片到 {target}：{len(years)} 个部门年度，"
        f"{sum(len(y.slugs) for y in years)} 个项目")
    return 0


class ShardClash(write.WriteError):
    """Two shards hold one file."""


def _copy_shards(folders: list[Path], staging: Path) -> dict[str, int]:
    """Every file of every shard into staging (hard links where the file system allows);
    path -> size. A file in two shards stops the merge."""
    sizes: dict[str, int] = {}
    owner: dict[str, Path] = {}
    for folder in folders:
        for rel, path, kind in walk_folder(str(folder), lambda rel: rel in (write.MARKER, SHARD_FILE, SEARCH_FILE)):
            if kind != FILE:
                raise ShardClash(f"{folder / rel}: 分片中只应有普通文件")
            if rel in owner:
                raise ShardClash(f"{rel}: 两个分片都有这个文件（{owner[rel]} 和 {folder}）；每个部门年度只能属于一个分片")
            owner[rel] = folder
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, target)
            except OSError:
                shutil.copyfile(path, target)
            sizes[rel] = os.lstat(target).st_size
    return sizes
