"""Open data generated from the content: JSON per agency year, CSVs, a Frictionless datapackage.

Every file lives in the site's `data/` folder (paths in `datapackage.json` may not climb
out of it with `..`). Amounts are strings exactly as printed (`"4000.00"`), never floats.
CSVs are UTF-8 with a BOM (so Excel reads Chinese), CRLF line ends (RFC 4180), and a text
cell that a spreadsheet would run as a formula gets a leading apostrophe (see `_cell`).
Headers are the printed column names in Chinese: they are what a reader sees in Excel.
"""
from __future__ import annotations

import csv
import datetime
import hashlib
import io
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Optional

from . import measure, urls
from .derive import ProjectFacts, YearFacts, YearOutline
from .model import AgencyYear, Amount
from .values import decimal_text, in_yuan

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NEUTRALISED = ("CSV 文件中以 =、+、-、@、制表符或回车开头的文字单元格前加了一个英文单引号（'），"
               "以免电子表格软件把它当作公式执行；JSON 文件中的文字与原文完全一致。")

@dataclass(frozen=True)
class Column:
    """One CSV column: its header (the printed column name a reader sees in Excel), its
    Frictionless type and description, and the expression that reads a row's cell (over
    the names its table gives: `y`; `f, pf`; `f, pf, n, r`, see below)."""
    header: str
    type: str
    description: str
    value: str


# The agency's cells, the same on every row of an agency year's tables: read from the AgencyYear `y`.
AGENCY_COLUMNS = [
    Column("年度", "integer", "预算年度", "y.year"),
    Column("地区", "string", "部门所属地区", "y.agency.region"),
    Column("部门名称", "string", "部门名称（原文）", "y.agency.name"),
    Column("部门编码", "string", "部门编码（原文，未印时为空）", "y.agency.code"),
]
# One row per project table: read from the YearFacts `f` and the ProjectFacts `pf`.
PROJECT_COLUMNS = AGENCY_COLUMNS + [
    Column("部门标识", "string", "网址中使用的部门标识：编码，或未印编码时的英文标识", "f.year.agency.ident"),
    Column("项目位置", "integer", "项目表在文件中的顺序（派生）", "pf.index"),
    Column("序号", "string", "项目表标题的编号（原文）", "pf.project.number"),
    Column("表名", "string", "绩效目标表标题（原文）", "pf.project.title"),
    Column("项目编码", "string", "项目编码（原文，已去掉提取产生的空格）", "pf.project.code"),
    Column("项目名称", "string", "项目名称（原文）", "pf.project.name"),
    Column("单位", "string", "金额单位（原文）", "pf.unit"),
    Column("预算数", "number", "预算数（原文）", "pf.project.budget"),
    Column("其中：财政资金", "number", "财政资金（原文）", "pf.project.fiscal"),
    Column("其他资金", "number", "其他资金（原文；空表示未填写，不是零）", "pf.project.other"),
    Column("预算数（元，派生）", "number", "预算数按单位折算为元（派生）；单位未注明或不是 元、千元、万元、亿元 时为空",
           "in_yuan(pf.project.budget, pf.unit)"),
    Column("其中：财政资金（元，派生）", "number", "财政资金按单位折算为元（派生）", "in_yuan(pf.project.fiscal, pf.unit)"),
    Column("其他资金（元，派生）", "number", "其他资金按单位折算为元（派生）", "in_yuan(pf.project.other, pf.unit)"),
    Column("资金用途", "string", "资金用途（原文）", "pf.project.purpose"),
    Column("资金支出计划", "string", "资金支出计划（原文，按期间依次列出，格式“期间：数值”，以“；”分隔，空白单元格记为“（空白）”）",
           "_plan_text(pf)"),
    Column("绩效目标", "string", "绩效目标（原文；表式有实施期目标时为本年度目标）", "pf.project.goals"),
    Column("实施期绩效目标", "string", "实施期绩效目标（原文；只有部分省份的表式印有）", "pf.project.period_goals"),
    Column("备注", "string", "表内其他文字（原文）", "pf.project.remarks"),
    Column("其他字段（原文）", "string", "表式中其他带标签的字段，按原文顺序，每行“标签：值”，下级字段前加“－”",
           "_fields_text(pf.project.fields)"),
    Column("页面", "string", "项目页面相对网站根目录的地址",
           "urls.project_page(f.year.year, f.year.agency.ident, pf.slug)"),
    Column("核对提示（派生）", "string", "系统核对原文得出的提示，非原文内容；多条以换行分隔",
           "'\\n'.join(pf.notes)"),
    Column("可衡量指标数（派生）", "integer", "本表指标中“可衡量”（有数值和计量单位）的行数（派生，规则见网站“指标可衡量性说明”页）",
           "pf.measure.measurable"),
    Column("已归类指标数（派生）", "integer", "可衡量占比的分母：本表全部指标行（含实施期指标），不含“无法归类”的行和未印指标的空行（派生）",
           "pf.measure.classified"),
    Column("可衡量占比（%，派生）", "number", "可衡量指标数 ÷ 已归类指标数 × 100，保留一位小数；无已归类指标时为空（派生）",
           "pf.measure.share"),
]
# One row per printed indicator row: read from `f`, `pf`, the row number `n` and the derive.Row `r`.
INDICATOR_COLUMNS = AGENCY_COLUMNS + [
    Column("部门标识", "string", "网址中使用的部门标识", "f.year.agency.ident"),
    Column("项目位置", "integer", "项目表在文件中的顺序（派生）", "pf.index"),
    Column("项目编码", "string", "项目编码（原文）", "pf.project.code"),
    Column("项目名称", "string", "项目名称（原文）", "pf.project.name"),
    Column("行号", "integer", "指标在本表中的行序（派生）", "n"),
    Column("一级指标（原文）", "string", "一级指标单元格原文；与上一行合并的单元格为空", "r.indicator.level1"),
    Column("二级指标（原文）", "string", "二级指标单元格原文；与上一行合并的单元格为空", "r.indicator.level2"),
    Column("一级指标（派生）", "string", "本行所属的一级指标（合并单元格已展开）", "r.level1"),
    Column("二级指标（派生）", "string", "本行所属的二级指标（合并单元格已展开）", "r.level2"),
    Column("三级指标", "string", "三级指标（原文）", "r.indicator.level3"),
    Column("绩效指标描述", "string", "绩效指标描述（原文）", "r.indicator.description"),
    Column("指标值", "string", "指标值（原文）", "r.indicator.value"),
    Column("指标值确定依据", "string", "指标值确定依据（原文）", "r.indicator.basis"),
    Column("其他列（原文）", "string", "表式中其他指标列（如指标性质、度量单位、权重），按原文顺序，每行“列名：值”",
           "_more_text(r.indicator)"),
    Column("指标块", "string", "“实施期”：原文中实施期指标块的行；空：本年度指标表的行", "period"),
    Column("比较符（派生）", "string", "从指标值读出的比较符（≥ > ≤ < =）；无法唯一读出时为空",
           "r.parsed.comparator if r.parsed else None"),
    Column("数值（派生）", "number", "从指标值读出的数值；无法唯一读出时为空", "r.parsed.number if r.parsed else None"),
    Column("计量单位（派生）", "string", "从指标值读出的计量单位", "r.parsed.unit if r.parsed else None"),
    Column("解析来源（派生）", "string", "“程序解析”或“编辑给定”", "PARSED_BY.get(r.parsed_by or '')"),
    Column("可衡量性（派生）", "string",
           "指标值的可衡量性分类（派生）：" + "、".join(k.label for k in measure.KINDS)
           + "；空：该行未印指标（只有一级、二级指标）。规则见网站“指标可衡量性说明”页",
           "MEASURE_LABELS.get(r.measure)"),
]


def year_data(facts: YearFacts) -> dict[str, bytes]:
    """The data files of one agency year (built wherever its pages are rendered)."""
    paths = urls.year_data(facts.year.year, facts.year.agency.ident)
    return {paths["json"]: agency_year_json(facts),
            paths["projects"]: to_csv(PROJECT_COLUMNS, project_rows(facts)),
            paths["indicators"]: to_csv(INDICATOR_COLUMNS, indicator_rows(facts))}


SCHEMA_FILES = {id(PROJECT_COLUMNS): "schema-projects.json", id(INDICATOR_COLUMNS): "schema-indicators.json"}


def table_schema(columns: list[Column]) -> bytes:
    """A Frictionless Table Schema for a CSV kind."""
    schema = {"fields": [{"name": c.header, "type": c.type, "description": c.description} for c in columns]}
    return (json.dumps(schema, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def site_wide_paths() -> list[str]:
    """The paths of the site-wide files of `data/`, as `site_wide_data` makes them."""
    return [urls.ALL_PROJECTS, urls.data_file(SCHEMA_FILES[id(PROJECT_COLUMNS)]),
            urls.ALL_INDICATORS, urls.data_file(SCHEMA_FILES[id(INDICATOR_COLUMNS)]), urls.DATA_PACKAGE]


@dataclass(frozen=True)
class Written:
    """A site-wide data file written straight into the output folder (the joined CSVs of a
    province are hundreds of megabytes, never held in memory): where, its size and digest."""
    file: Path
    size: int
    sha256: str

    def open(self) -> BinaryIO:
        return open(self.file, "rb")


def site_wide_data(years: list[YearOutline], read: Callable[[str], bytes], title: str,
                   resources: Optional[list[list[dict]]] = None, license: Optional[dict] = None,
                   into: Optional[Path] = None) -> dict[str, bytes | Written]:
    """The site-wide files of `data/` (joined CSVs, table schemas, data package). `read(path)`
    gives an agency year's own data file; `resources` (one `year_resources` list per agency
    year) saves reading their JSON again: the build's workers compute them, so the main
    process need not hold every agency year's files. With `into` (the build's staging
    folder) the joined CSVs are written there as they are joined (`Written`)."""
    files: dict[str, bytes | Written] = {}
    for columns, key, path in ((PROJECT_COLUMNS, "projects", urls.ALL_PROJECTS),
                               (INDICATOR_COLUMNS, "indicators", urls.ALL_INDICATORS)):
        head = to_csv(columns, [])
        parts = (read(urls.year_data(y.year, y.ident)[key])[len(head):] for y in years)
        files[path] = head + b"".join(parts) if into is None else _join_into(into / path, head, parts)
        files[urls.data_file(SCHEMA_FILES[id(columns)])] = table_schema(columns)
    if resources is None:
        resources = [year_resources(y, {path: read(path) for path in urls.year_data(y.year, y.ident).values()})
                     for y in years]
    files[urls.DATA_PACKAGE] = datapackage(files, resources, title, license)
    return files


def _join_into(target: Path, head: bytes, parts: Iterable[bytes]) -> Written:
    digest, size = hashlib.sha256(head), len(head)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "xb") as f:
        f.write(head)
        for part in parts:
            f.write(part)
            digest.update(part)
            size += len(part)
    return Written(target, size, digest.hexdigest())


# --- JSON ---------------------------------------------------------------------------------

def plain(value: Any) -> Any:
    """A model value as JSON-ready data: Decimals and dates as text, positions dropped."""
    convert = _CONVERTERS.get(type(value))
    if convert is None:
        convert = _CONVERTERS[type(value)] = _converter(type(value))
    return convert(value)


# Values JSON takes as they are: no call to `plain` for them (most of a model's values).
_AS_IS = frozenset({str, int, bool, float, type(None)})
_CONVERTERS: dict[type, Any] = {}   # type -> its converter, made once per type
NOT_PRINTED = ("pos", "source", "links")   # where things were written, not what was printed


def _converter(kind: type):
    """The converter for values of one type: the generic rules of `plain`, decided once per
    type instead of once per value (a 10,000-project site converts over a million)."""
    fields = getattr(kind, "__dataclass_fields__", None)
    if fields is not None:
        # One function per record type, written out field by field as `dataclasses` writes
        # its __init__: no loop, no call for a value JSON takes as it is. Field names are
        # Python identifiers, so the source is safe.
        # The fields only other provinces' forms fill are written only when filled.
        items = "".join(f"{name!r}: v if type(v := value.{name}) in AS_IS else plain(v), "
                        if not f.metadata.get("form") else
                        f"**({{{name!r}: plain(v)}} if (v := value.{name}) else {{}}), "
                        for name, f in fields.items() if name not in NOT_PRINTED)
        namespace = {"AS_IS": _AS_IS, "plain": plain}
        exec(f"def convert(value):\n    return {{{items}}}\n", namespace)
        return namespace["convert"]
    if issubclass(kind, (list, tuple)):
        return lambda value: [v if type(v) in _AS_IS else plain(v) for v in value]
    if issubclass(kind, Amount):
        return lambda value: value.printed
    if issubclass(kind, Decimal):
        return decimal_text
    if issubclass(kind, dict):
        return lambda value: {k: plain(v) for k, v in value.items()}
    if issubclass(kind, datetime.date):
        return lambda value: value.isoformat()
    return lambda value: value


def _derived_project(facts: YearFacts, project: ProjectFacts) -> dict:
    """What the site computes for one project, kept apart from the printed record."""
    return {
        "position": project.index,
        "page": urls.project_page(facts.year.year, facts.year.agency.ident, project.slug),
        "plan_kind": project.plan_kind,
        "in_yuan": {key: plain(in_yuan(getattr(project.project, key), project.unit))
                    for key in ("budget", "fiscal", "other")},
        "plan_percent_of_budget": [plain(row.percent) for row in project.plan],
        "indicators": [{"level1": row.level1, "level2": row.level2,
                        "parsed": plain(row.parsed), "parsed_by": row.parsed_by,
                        "measure": row.measure}
                       for row in project.rows],
        **({"period_indicators": [{"measure": row.measure} for row in project.period_rows]}
           if project.period_rows else {}),
        "measurability": measurability(project.measure),
        "categories": list(project.categories),
        "notes": list(project.notes),
    }


def measurability(t: measure.Tally) -> dict:
    """A Tally as JSON: rows per class, the share's numerator and denominator, the share."""
    return {"counts": {k.key: n for k, n in zip(measure.KINDS, t.counts)},
            "not_indicators": t.ignored, "measurable": t.measurable, "classified": t.classified,
            "share_percent": plain(t.share)}


def agency_year_json(facts: YearFacts) -> bytes:
    """The whole agency year as printed, with derived values under `derived` keys."""
    data = plain(facts.year)
    by_project = iter(facts.projects)
    for part in data["parts"]:
        for project in part["projects"]:
            project["derived"] = _derived_project(facts, next(by_project))
    data["derived"] = {
        "note": "derived 中的内容由系统根据原文计算，非原文内容。",
        "total_budget": plain(facts.total_budget),
        "notes": list(facts.notes),
        "measurability": measurability(facts.measure),
    }
    # Compact separators keep json on its C encoder (indent forces the pure-Python one,
    # 15x slower: most of a 10,000-project build).
    return (json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


# --- CSV ----------------------------------------------------------------------------------

def _cell(value: Any) -> str:
    """One CSV cell: numbers as printed, text neutralised against formula injection."""
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return decimal_text(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


_FORMULA_CHARS = frozenset(FORMULA_START)   # one set lookup, not six prefix comparisons


def _cells(row: list) -> list:
    """The cells of one row, as `_cell` makes them, with its common cases inline (a call
    per cell was a third of writing the open data)."""
    cells = []
    for value in row:
        kind = type(value)
        if kind is str:
            cells.append("'" + value if value[:1] in _FORMULA_CHARS else value)
        elif value is None:
            cells.append("")
        elif kind is int:
            cells.append(str(value))
        elif kind is Decimal:
            cells.append(decimal_text(value))
        else:
            cells.append(_cell(value))
    return cells


def to_csv(columns: list[Column], rows: Iterable[list[str]]) -> bytes:
    """CSV bytes: UTF-8 with BOM, CRLF line ends, header row first. `rows` hold cells as
    `_cells` makes them."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([c.header for c in columns])
    out = [buffer.getvalue()]
    for cells in rows:
        # Most rows need no quoting: no cell holds a comma, quote or line break (the only
        # characters the csv module quotes for; it also quotes a lone empty cell). Such a
        # row is its cells joined by commas, which the csv module writes one character at
        # a time, several times slower.
        line = ",".join(cells)
        if (line.count(",") == len(cells) - 1 and len(cells) > 1 and '"' not in line
                and "\r" not in line and "\n" not in line):
            out.append(line + "\r\n")
        else:
            buffer.seek(0)
            buffer.truncate()
            writer.writerow(cells)
            out.append(buffer.getvalue())
    return "".join(out).encode("utf-8-sig")


def _fields_text(fields: tuple, depth: int = 0) -> Optional[str]:
    """Further labelled fields as lines of `label：value`; a small table's rows joined by ` | `."""
    lines = []
    for f in fields:
        lines.append("－" * depth + f.label + ("：" + f.value if f.value is not None else ""))
        if f.fields:
            lines.append(_fields_text(f.fields, depth + 1))
        if f.table:
            lines += ["－" * (depth + 1) + " | ".join(row) for row in (f.table.header, *f.table.rows)]
    return "\n".join(lines) or None


def _more_text(indicator) -> Optional[str]:
    return "\n".join(f"{k}：{v}" for k, v in indicator.more.items()) if indicator.more else None


def _plan_text(project: ProjectFacts) -> str:
    return "；".join(f"{p.period}：{p.value if p.value is not None else '（空白）'}"
                    for p in project.project.plan)


PARSED_BY = {"editor": "编辑给定", "parser": "程序解析"}


def _row_function(columns: list[Column], params: str) -> Callable[..., list]:
    """One function that lists a row's values, compiled once from the columns' expressions:
    a call per cell cost twice as much as writing the rows."""
    namespace = {"_plan_text": _plan_text, "_fields_text": _fields_text, "_more_text": _more_text, "in_yuan": in_yuan,
                 "PARSED_BY": PARSED_BY, "urls": urls, "MEASURE_LABELS": measure.LABELS}
    exec(f"def row({params}):\n    return [{', '.join(c.value for c in columns)}]\n", namespace)
    return namespace["row"]


_AGENCY_ROW = _row_function(AGENCY_COLUMNS, "y")
_PROJECT_ROW = _row_function(PROJECT_COLUMNS[len(AGENCY_COLUMNS):], "f, pf")
_INDICATOR_ROW = _row_function(INDICATOR_COLUMNS[len(AGENCY_COLUMNS):], "f, pf, n, r, period")


def project_rows(facts: YearFacts) -> list[list[str]]:
    """The cells of one row per project table, in document order (columns: PROJECT_COLUMNS)."""
    agency = _cells(_AGENCY_ROW(facts.year))   # the same on every row: made once
    return [agency + _cells(_PROJECT_ROW(facts, pf)) for pf in facts.projects]


def indicator_rows(facts: YearFacts) -> list[list[str]]:
    """The cells of one row per printed indicator row (columns: INDICATOR_COLUMNS)."""
    agency = _cells(_AGENCY_ROW(facts.year))   # the same on every row: made once
    # A form printing the 实施期 indicators apart prints them first: rows in printed order.
    return [agency + _cells(_INDICATOR_ROW(facts, pf, n, row, period))
            for pf in facts.projects
            for n, (period, row) in enumerate([("实施期", r) for r in pf.period_rows]
                                              + [(None, r) for r in pf.rows], 1)]


# --- datapackage.json ---------------------------------------------------------------------

_RESOURCES: dict[str, tuple[bytes, str, dict]] = {}   # path -> (bytes, title, entry): serve reuses


def _resource(path: str, data: bytes, title: str, fields: Optional[list] = None) -> dict:
    """A Frictionless resource entry for one file of data/ (remembered while its bytes are
    the same object, so a long-running `serve` does not hash unchanged files again)."""
    known = _RESOURCES.get(path)
    if known is not None and known[0] is data and known[1] == title:
        return known[2]
    entry = _new_resource(path, data, title, fields)
    _RESOURCES[path] = (data, title, entry)
    return entry


def _new_resource(path: str, data: bytes, title: str, fields: Optional[list] = None) -> dict:
    name = path.removeprefix(urls.DATA).lower().replace(".", "-")
    size, digest = ((data.size, data.sha256) if isinstance(data, Written)
                    else (len(data), hashlib.sha256(data).hexdigest()))
    resource: dict[str, Any] = {
        "name": name, "path": path.removeprefix(urls.DATA), "title": title,
        "bytes": size, "hash": "sha256:" + digest,
    }
    if fields is None:
        resource.update({"format": "json", "mediatype": "application/json", "encoding": "utf-8"})
    else:
        resource.update({
            "profile": "tabular-data-resource", "format": "csv", "mediatype": "text/csv",
            "encoding": "utf-8",
            "description": "UTF-8 编码，带字节顺序标记（BOM），行尾为 CRLF。" + NEUTRALISED,
            "dialect": {"delimiter": ",", "lineTerminator": "\r\n", "quoteChar": "\"",
                        "doubleQuote": True, "header": True},
            # One schema file per table kind, referenced by path (Data Package v1 allows a
            # url-or-path): inline, thousands of agency CSVs repeat it into megabytes.
            "schema": SCHEMA_FILES[id(fields)],
        })
    return resource


def year_resources(year: AgencyYear | YearOutline, files: dict[str, bytes], remember: bool = True) -> list[dict]:
    """The data package's entries (size, hash, schema) for one agency year's files;
    `remember=False` where the bytes are not kept (a build worker), so the memo keeps none."""
    paths, label = urls.year_data(year.year, year.agency.ident), f"{year.year} 年 {year.agency.name}"
    entry = _resource if remember else _new_resource
    return [
        entry(paths["json"], files[paths["json"]], f"{label}：完整数据（JSON）"),
        entry(paths["projects"], files[paths["projects"]], f"{label}：项目", PROJECT_COLUMNS),
        entry(paths["indicators"], files[paths["indicators"]], f"{label}：绩效指标", INDICATOR_COLUMNS),
    ]


def datapackage(files: dict[str, bytes], per_year: list[list[dict]], title: str,
                license: Optional[dict] = None) -> bytes:
    """`datapackage.json` describing every other file of data/ (Frictionless Data Package v1):
    the site-wide files in `files`, then each agency year's (`year_resources`)."""
    resources = [
        _resource(urls.ALL_PROJECTS, files[urls.ALL_PROJECTS], "全部项目", PROJECT_COLUMNS),
        _resource(urls.ALL_INDICATORS, files[urls.ALL_INDICATORS], "全部绩效指标", INDICATOR_COLUMNS),
    ] + [_resource(urls.data_file(name), files[urls.data_file(name)], f"表结构（Table Schema）：{name}")
         for name in SCHEMA_FILES.values()]
    for entries in per_year:
        resources += entries
    package = {
        "profile": "data-package",
        "name": "gongkai-budget-performance-targets",
        "title": f"{title}：开放数据",
        "description": ("由各部门公开的预算绩效目标文件整理而成，文字和金额与原文一致；"
                        "列名带“（派生）”的内容由系统计算，非原文内容。" + NEUTRALISED),
        "resources": resources,
    }
    if license:    # site_config.yaml `data_license`: the terms the publisher gives the data under
        package["licenses"] = [license]
    # Compact: json's C encoder (indent would take the pure-Python one; at 10,000 projects
    # the package is megabytes).
    return (json.dumps(package, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
