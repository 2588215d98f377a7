"""Synthetic content for the benchmarks: the same agency years as Gongkai, Hugo and MkDocs input.

    generate(out_dir, projects=10000, seed=1)

writes three folders under `out_dir`, all from the same in-memory records:

- `gongkai/`: a complete Gongkai project folder (`site_config.yaml` with 20 regions of
  Hebei, `content/{year}/{code}.yaml`), every file valid per docs/content-format.md;
- `hugo/`: `config.toml`, `content/` (one page per project with its data in YAML front
  matter, one `_index.md` per agency year, per year and for the home page) and minimal
  `layouts/` that render the same header, facts table, plan table and indicator table
  (一级/二级 merged with rowspan, computed by the template as Gongkai computes it);
- `mkdocs/`: `mkdocs.yml` (a four-entry nav, no plugins, a one-file custom theme) and
  `docs/` with the same pages as Markdown (plan table as a Markdown table, the indicator
  table as HTML because Markdown tables cannot merge cells).

The text is sampled from bench/vocab.json (extracted from the seed documents by
bench/extract_vocab.py): paragraphs built from the seeds' sentences to the seeds' lengths,
project names, purposes, goals, budgets, spending-plan shapes and indicator rows from the
seeds' tables. Numbers of projects per agency year follow the seeds (4, 8, 4, 14, ±1);
indicator rows per table are the seeds' counts + 3 clipped to 6–10 (the benchmark
specification asks for 6–10; the seeds have 3–8). Deterministic: the same arguments give
the same bytes.

Command line: `python -m bench.generate OUT_DIR [--projects N] [--seed S]`.
"""
from __future__ import annotations

import argparse
import datetime
import html
import json
import random
import re
import shutil
import sys
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Iterable

import yaml

VOCAB_PATH = Path(__file__).with_name("vocab.json")
GENERATOR_VERSION = 1
YEARS = (2020, 2021, 2022)
SITE_TITLE = "部门预算绩效目标公开"

# 20 regions of one province (Hebei); the three of the seed documents first.
REGIONS = (
    "秦皇岛市山海关区", "秦皇岛市北戴河区", "石家庄市正定县", "秦皇岛市海港区", "秦皇岛市昌黎县",
    "石家庄市长安区", "石家庄市桥西区", "石家庄市藁城区", "石家庄市鹿泉区", "唐山市路南区",
    "唐山市丰润区", "唐山市迁安市", "邯郸市丛台区", "邯郸市武安市", "邢台市信都区",
    "保定市竞秀区", "保定市涿州市", "张家口市宣化区", "承德市双桥区", "沧州市任丘市",
)
# Agency names: {c} is the county/district (正定县); the seeds' agencies come first.
AGENCIES = (
    "{c}老干部服务中心", "{c}古城街道办事处", "中共{c}委老干部局本级", "中国共产党{c}委员会组织部",
    "{c}财政局", "{c}教育局", "{c}卫生健康局", "{c}民政局", "{c}人力资源和社会保障局",
    "{c}自然资源和规划局", "{c}住房和城乡建设局", "{c}交通运输局", "{c}农业农村局", "{c}水务局",
    "{c}文化广电和旅游局", "{c}应急管理局", "{c}市场监督管理局", "{c}统计局", "{c}司法局",
    "中共{c}委宣传部", "中共{c}委政法委员会", "{c}发展和改革局", "{c}科学技术局", "{c}审计局",
    "{c}退役军人事务局", "{c}医疗保障局", "{c}行政审批局", "{c}城市管理综合行政执法局",
    "{c}档案馆", "{c}图书馆",
)
SERIES = ("第{n}中学", "第{n}小学", "第{n}幼儿园", "{n}号社区服务中心")
STANDARD_SECTIONS = ("总体绩效目标", "分项绩效目标", "工作保障措施")
HEADING_RE = re.compile(r"^([一二三四五六七八九十]+、|（[一二三四五六七八九十]+）|\d+[、.])(.+)$")
CODE_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
CENT = Decimal("0.01")


class Amount(str):
    """An amount written as printed (unquoted decimal in YAML)."""


def _amount_representer(dumper: yaml.Dumper, value: Amount) -> yaml.Node:
    tag = "tag:yaml.org,2002:float" if "." in value else "tag:yaml.org,2002:int"
    return dumper.represent_scalar(tag, str(value))


def _str_representer(dumper: yaml.Dumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


class ContentDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):
    pass


ContentDumper.add_representer(Amount, _amount_representer)
ContentDumper.add_representer(str, _str_representer)


def dump_yaml(data) -> str:
    return yaml.dump(data, Dumper=ContentDumper, allow_unicode=True, sort_keys=False,
                     width=1 << 20, default_flow_style=False)


# --- the records ------------------------------------------------------------------------

@dataclass
class AgencyYear:
    year: int
    ident: str           # the agency code, also the file name
    name: str
    region: str
    data: dict           # exactly the Gongkai YAML mapping
    projects: list = field(default_factory=list)   # the project mappings (inside data)


@dataclass
class Site:
    projects: int
    seed: int
    regions: tuple
    years: list          # list[AgencyYear]


class Vocab:
    def __init__(self, raw: dict):
        self.raw = raw
        self.sentences = raw["sentences"]
        self.paragraph_lengths = raw["paragraph_lengths"]
        self.projects = [p for p in raw["projects"] if p.get("name") and p.get("budget")]
        self.names = sorted({p["name"] for p in self.projects}, key=[p["name"] for p in self.projects].index)
        self.purposes = [p["purpose"] for p in self.projects if p.get("purpose")]
        self.goals = [p["goals"] for p in self.projects if p.get("goals")]
        self.budgets = {unit: [p["budget"] for p in self.projects if p["unit"] == unit]
                        for unit in ("元", "万元")}
        shapes = []
        for p in self.projects:
            values = [v for _, v in p.get("plan", [])]
            if len(values) == 4 and values[-1] == "100.00" and values not in shapes:
                shapes.append(values)
        self.plan_shapes = shapes
        self.table_rows = [n for d in raw["documents"] for n in d["indicator_rows"] if n]
        self.project_counts = [d["projects"] for d in raw["documents"]]
        groups: dict[str, list] = {"output": [], "effect": [], "satisfaction": []}
        for row in raw["indicator_rows"]:
            groups[_group(row[0])].append(row)
        self.rows = groups
        subs = []
        for heading in raw["headings"]:
            m = HEADING_RE.match(heading)
            if m and not any(s in heading for s in STANDARD_SECTIONS) and (m.group(1), m.group(2)) not in subs:
                subs.append((m.group(1), m.group(2)))
        self.subheadings = [t for _, t in subs]


def _group(level1: str) -> str:
    if level1.startswith("产出"):
        return "output"
    if level1.startswith("满意"):
        return "satisfaction"
    return "effect"


def load_vocab(path: Path = VOCAB_PATH) -> Vocab:
    return Vocab(json.loads(path.read_text(encoding="utf-8")))


class Maker:
    """Draws the synthetic records; one `random.Random(seed)` makes everything deterministic."""

    def __init__(self, vocab: Vocab, seed: int):
        self.v = vocab
        self.rng = random.Random(seed)

    # text
    def paragraph(self, target: int | None = None) -> str:
        """Consecutive seed sentences from a random start, to a length drawn from the seeds."""
        rng, sentences = self.rng, self.v.sentences
        target = target or rng.choice(self.v.paragraph_lengths)
        i = rng.randrange(len(sentences))
        out = ""
        while len(out) < target:
            out += sentences[i % len(sentences)]
            i += 1
        return out

    def text(self, paragraphs: int) -> str:
        return "\n\n".join(self.paragraph() for _ in range(paragraphs))

    def code(self, n: int) -> str:
        return "".join(self.rng.choice(CODE_CHARS) for _ in range(n))

    # one agency year
    def agency_year(self, year: int, region_index: int, agency_index: int, n_projects: int) -> AgencyYear:
        rng = self.rng
        region = REGIONS[region_index]
        county = region[region.index("市") + 1:] if "市" in region[:-1] else region
        base = AGENCIES[agency_index % len(AGENCIES)].format(c=county)
        series = agency_index // len(AGENCIES)
        name = base if series == 0 else f"{county}" + SERIES[series % len(SERIES)].format(n=series)
        ident = f"{region_index + 1:02d}{agency_index + 1:04d}" if agency_index < 9999 \
            else f"{region_index + 1:02d}{agency_index + 1:05d}"
        style = "word" if year == 2020 else "pdf" if year == 2022 else rng.choice(("word", "pdf"))
        unit = rng.choice(("元", "万元"))
        toc = style == "pdf" and rng.random() < 0.6
        data: dict = {"year": year,
                      "agency": {"name": name, "code": ident, "region": region}}
        month, day = rng.randint(1, 3), rng.randint(1, 28)
        if style == "pdf":
            data["document"] = {"title": f"{name}\n{year} 年部门预算绩效文本", "status": "(草案)",
                                "compiler": f"{name}编制", "reviewer": f"{county}财政局审核",
                                "published": datetime.date(year, month, day), "toc_printed": toc}
        else:
            data["document"] = {"title": f"{year}年部门预算绩效信息",
                                "published": datetime.date(year, month, day)}
        data["unit"] = unit
        part1_sections = self.part_one(style, toc)
        projects = [self.project(k, style, unit, name, ident, year, region_index, toc)
                    for k in range(n_projects)]
        part1 = {"number": "第一部分", "title": "部门整体绩效目标"}
        part2 = {"number": "第二部分", "title": "预算项目绩效目标"}
        if toc:
            part1["toc"] = {"text": "第一部分 部门整体绩效目标"}
            part2["toc"] = {"text": "第二部分 预算项目绩效目标"}
        part1["sections"] = part1_sections
        part2["projects"] = projects
        data["parts"] = [part1, part2]
        return AgencyYear(year, ident, name, region, data, projects)

    def part_one(self, style: str, toc: bool) -> list:
        rng = self.rng
        numbers = ("一、", "二、", "三、") if style == "pdf" or rng.random() < 0.5 else ("（一）", "（二）", "（三）")
        sections = []
        for i, title in enumerate(STANDARD_SECTIONS):
            sec: dict = {"number": numbers[i], "title": title + "：" if "（" in numbers[i] else title}
            if toc:
                sec["toc"] = {"text": f"{numbers[i]}{title}", "page": i + 1}
            if i == 0:
                sec["text"] = self.text(rng.choice((1, 1, 2)))
            elif i == 1:
                if rng.random() < 0.5:
                    sec["text"] = self.text(rng.choice((1, 2)))
                else:
                    subs = rng.sample(self.v.subheadings, rng.randint(2, 4))
                    sec["sections"] = [{"number": f"{k + 1}、", "title": t, "text": self.text(1)}
                                       for k, t in enumerate(subs)]
            else:
                sec["text"] = self.text(rng.randint(2, 4))
            sections.append(sec)
        return sections

    def project(self, k: int, style: str, unit: str, agency: str, ident: str, year: int,
                region_index: int, toc: bool) -> dict:
        rng, v = self.rng, self.v
        name = rng.choice(v.names)
        if style == "pdf" and not name.startswith("20") and rng.random() < 0.7:
            name = f"{year} 年度{name}县级资金"
        number = f"{k + 1}." if style == "pdf" else f"{k + 1}、"
        title = f"{name}绩效目标表"
        if style == "word":
            code = f"{ident[:3]}-{rng.choice(('04', '05', '06', '12', '13'))}{k + 1:02d}-JBN-{self.code(4)}"
            agency_line = f"{ident}{agency}"
        else:
            code = f"1301{region_index + 1:02d}{year % 100:02d}P{ident}{k + 1:04d}{self.code(1)}"
            agency_line = f"{ident} {agency}"
        budget = Decimal(rng.choice(v.budgets[unit] or v.budgets["元"])) * \
            Decimal(rng.choice(("0.5", "0.8", "1", "1", "1.2", "1.5", "2", "3")))
        budget = budget.quantize(CENT, ROUND_HALF_UP)
        project: dict = {"number": number, "title": title}
        if toc:
            project["toc"] = {"text": f"{number}{title}", "page": 10 + 2 * k}
        project["agency_line"] = agency_line
        project["code"] = code
        project["name"] = name
        project["budget"] = Amount(budget)
        if rng.random() < 0.15:
            other = (budget * Decimal("0.2")).quantize(CENT, ROUND_HALF_UP)
            project["fiscal"] = Amount(budget - other)
            project["other"] = Amount(other)
        else:
            project["fiscal"] = Amount(budget)
        project["purpose"] = rng.choice(v.purposes)
        periods = ("3 月底", "6 月底", "10 月底", "12 月底") if style == "pdf" else ("3月底", "6月底", "10月底", "12月底")
        shape = rng.choice(v.plan_shapes)
        as_amounts = style == "pdf" and unit == "万元" and rng.random() < 0.5
        plan = []
        for period, pct in zip(periods, shape):
            point: dict = {"period": period}
            if pct:
                value = (budget * Decimal(pct) / 100).quantize(CENT, ROUND_HALF_UP) if as_amounts else Decimal(pct)
                point["value"] = Amount(value)
            plan.append(point)
        project["plan"] = plan
        project["goals"] = rng.choice(v.goals)
        project["indicators"] = self.indicators(style)
        return project

    def indicators(self, style: str) -> list:
        rng, groups = self.rng, self.v.rows
        n = min(10, max(6, rng.choice(self.v.table_rows) + 3))
        sat = 2 if n >= 9 and rng.random() < 0.5 else 1
        effect = max(1, round((n - sat) * 0.35))
        output = n - sat - effect
        effect_label = "效益指标" if style == "pdf" else "效果指标"
        merge_level2 = rng.random() < 0.7
        rows = []
        for group, count, label in (("output", output, "产出指标"), ("effect", effect, effect_label),
                                    ("satisfaction", sat, "满意度指标")):
            picked = [rng.choice(groups[group]) for _ in range(count)]
            order = {}
            for row in picked:
                order.setdefault(row[1], len(order))
            picked.sort(key=lambda r: order[r[1]])
            last2 = None
            for i, row in enumerate(picked):
                out: dict = {}
                if i == 0:
                    out["level1"] = label
                if i == 0 or not merge_level2 or row[1] != last2:
                    out["level2"] = row[1]
                last2 = row[1]
                for key, value in zip(("level3", "description", "value", "basis"), row[2:]):
                    if value:
                        out[key] = value
                rows.append(out)
        return rows


def project_counts(vocab: Vocab, rng: random.Random, total: int) -> Iterable[int]:
    left = total
    while left > 0:
        n = max(3, min(15, rng.choice(vocab.project_counts) + rng.randint(-1, 1)))
        n = min(n, left)
        left -= n
        yield n


def make_site(projects: int, seed: int = 1, vocab: Vocab | None = None) -> Site:
    """The in-memory records: agencies spread over the regions, each publishing every year."""
    vocab = vocab or load_vocab()
    maker = Maker(vocab, seed)
    counts = project_counts(vocab, random.Random(seed + 1), projects)
    years: list[AgencyYear] = []
    per_region = [0] * len(REGIONS)
    agency = 0
    done = False
    while not done:
        region = agency % len(REGIONS)
        index = per_region[region]
        per_region[region] += 1
        agency += 1
        for year in YEARS:
            n = next(counts, None)
            if n is None:
                done = True
                break
            years.append(maker.agency_year(year, region, index, n))
    return Site(projects, seed, REGIONS, years)


# --- shared rendering helpers -------------------------------------------------------------

def indicator_spans(rows: list) -> list[tuple[int, int]]:
    """Rowspans of the 一级 and 二级 cells of each row (0: merged into the row above)."""
    spans = []
    for i, row in enumerate(rows):
        s1 = s2 = 0
        if row.get("level1"):
            s1 = 1
            for nxt in rows[i + 1:]:
                if nxt.get("level1"):
                    break
                s1 += 1
        if row.get("level2"):
            s2 = 1
            for nxt in rows[i + 1:]:
                if nxt.get("level1") or nxt.get("level2"):
                    break
                s2 += 1
        spans.append((s1, s2))
    return spans


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def plain(value) -> object:
    """Records as plain data for other tools: amounts become text (kept as printed)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, Amount):
        return str(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def project_slug(project: dict) -> str:
    return project["code"].replace(" ", "")


# --- Gongkai -----------------------------------------------------------------------------

def write_gongkai(site: Site, root: Path) -> int:
    """Write the Gongkai project folder; return the bytes of YAML content written."""
    config = {
        "title": SITE_TITLE,
        "owner": "河北省部门预算绩效目标公开示范站（基准测试）",
        "contact": {"phone": "0335-0000000", "email": "jxgk@example.gov.cn", "address": "河北省（示例地址）"},
        "site_id_code": "", "icp": "", "police_record": "",
        "site_domain": "example.gov.cn", "column_name": "预算绩效目标",
        "regions": list(site.regions),
        "output": "_site",
        "serve_port": 8000,
    }
    write(root / "site_config.yaml",
          "# Synthetic benchmark site (bench/generate.py); keys as in the repository's site_config.yaml.\n"
          + dump_yaml(config))
    total = 0
    for ay in site.years:
        text = f"# content/{ay.year}/{ay.ident}.yaml: synthetic agency year (bench/generate.py)\n" + dump_yaml(ay.data)
        write(root / "content" / str(ay.year) / f"{ay.ident}.yaml", text)
        total += len(text.encode("utf-8"))
    return total


# --- Hugo --------------------------------------------------------------------------------

HUGO_CONFIG = """baseURL = "/"
languageCode = "zh-cn"
title = "{title}"
hasCJKLanguage = true
disablePathToLower = true
disableKinds = ["taxonomy", "term", "RSS", "sitemap", "robotsTXT", "404"]
enableRobotsTXT = false
[markup.goldmark.renderer]
  unsafe = false
"""

CSS = """body{font-family:sans-serif;max-width:60rem;margin:0 auto;padding:0 1rem;line-height:1.6}
table{border-collapse:collapse;width:100%;margin:1rem 0}th,td{border:1px solid #999;padding:.3rem .5rem;vertical-align:top}
th{background:#eee}nav.crumbs{font-size:.9rem;margin:1rem 0}
"""

HUGO_BASEOF = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ .Title }} - {{ .Site.Title }}</title><link rel="stylesheet" href="/style.css"></head>
<body><header><a href="/">{{ .Site.Title }}</a></header>
<nav class="crumbs"><a href="/">首页</a>{{ with .Parent }}{{ with .Parent }}{{ if not .IsHome }} › <a href="{{ .RelPermalink }}">{{ .Title }}</a>{{ end }}{{ end }} › <a href="{{ .RelPermalink }}">{{ .Title }}</a>{{ end }}</nav>
<main>{{ block "main" . }}{{ end }}</main>
<footer>{{ .Site.Title }}</footer></body></html>
"""

HUGO_SINGLE = """{{ define "main" }}{{ $p := .Params }}
<h1>{{ .Title }}</h1>
<p>{{ $p.agency_line }}</p><p>单位：{{ $p.unit }}</p>
<table class="facts"><tbody>
<tr><th>项目编码</th><td>{{ $p.code }}</td><th>项目名称</th><td>{{ $p.name }}</td></tr>
<tr><th>预算数</th><td>{{ $p.budget }}</td><th>其中：财政资金</th><td>{{ $p.fiscal }}</td></tr>
<tr><th>其他资金</th><td>{{ $p.other }}</td><th>资金用途</th><td>{{ $p.purpose }}</td></tr>
</tbody></table>
<h2>资金支出计划</h2>
<table class="plan"><thead><tr>{{ range $p.plan }}<th>{{ .period }}</th>{{ end }}</tr></thead>
<tbody><tr>{{ range $p.plan }}<td>{{ .value }}</td>{{ end }}</tr></tbody></table>
<h2>绩效目标</h2><p>{{ $p.goals }}</p>
<h2>绩效指标</h2>
{{ $rows := $p.indicators }}
<table class="indicators"><thead><tr><th>一级指标</th><th>二级指标</th><th>三级指标</th><th>绩效指标描述</th><th>指标值</th><th>指标值确定依据</th></tr></thead><tbody>
{{ range $i, $r := $rows }}<tr>
{{- with $r.level1 }}{{ $span := 1 }}{{ $open := true }}{{ range after (add $i 1) $rows }}{{ if $open }}{{ if .level1 }}{{ $open = false }}{{ else }}{{ $span = add $span 1 }}{{ end }}{{ end }}{{ end }}<td rowspan="{{ $span }}">{{ . }}</td>{{ end }}
{{- with $r.level2 }}{{ $span := 1 }}{{ $open := true }}{{ range after (add $i 1) $rows }}{{ if $open }}{{ if or .level1 .level2 }}{{ $open = false }}{{ else }}{{ $span = add $span 1 }}{{ end }}{{ end }}{{ end }}<td rowspan="{{ $span }}">{{ . }}</td>{{ end }}
<td>{{ $r.level3 }}</td><td>{{ $r.description }}</td><td>{{ $r.value }}</td><td>{{ $r.basis }}</td></tr>
{{ end }}</tbody></table>
{{ end }}
"""

HUGO_LIST = """{{ define "main" }}
<h1>{{ .Title }}</h1>
{{ with .Params.region }}<p>{{ . }}</p>{{ end }}
{{ .Content }}
<ul>{{ range .Pages }}<li><a href="{{ .RelPermalink }}">{{ .Title }}</a>{{ with .Params.budget }} {{ . }}{{ end }}</li>
{{ end }}</ul>
{{ end }}
"""


def front_matter(data: dict, body: str = "") -> str:
    return "---\n" + dump_yaml(plain(data)) + "---\n" + body


def section_markdown(sections: list, depth: int = 2) -> str:
    out = []
    for sec in sections:
        out.append("#" * depth + f" {sec.get('number', '')}{sec['title']}\n")
        if sec.get("text"):
            out.append(sec["text"] + "\n")
        if sec.get("sections"):
            out.append(section_markdown(sec["sections"], depth + 1))
    return "\n".join(out)


def agency_year_markdown(ay: AgencyYear) -> str:
    out = []
    for part in ay.data["parts"]:
        if part.get("sections"):
            out.append(f"## {part.get('number', '')} {part['title']}\n")
            out.append(section_markdown(part["sections"], 3))
    return "\n".join(out)


def write_hugo(site: Site, root: Path) -> None:
    write(root / "config.toml", HUGO_CONFIG.format(title=SITE_TITLE))
    write(root / "static" / "style.css", CSS)
    layouts = root / "layouts" / "_default"
    write(layouts / "baseof.html", HUGO_BASEOF)
    write(layouts / "single.html", HUGO_SINGLE)
    write(layouts / "list.html", HUGO_LIST)
    write(root / "content" / "_index.md", front_matter({"title": SITE_TITLE}))
    for year in YEARS:
        write(root / "content" / str(year) / "_index.md", front_matter({"title": f"{year}年"}))
    for ay in site.years:
        folder = root / "content" / str(ay.year) / ay.ident
        write(folder / "_index.md", front_matter(
            {"title": f"{ay.name} {ay.year}年", "region": ay.region, "unit": ay.data["unit"]},
            agency_year_markdown(ay)))
        for k, project in enumerate(ay.projects):
            fm = {key: value for key, value in project.items() if key not in ("number", "toc")}
            fm["unit"] = project.get("unit", ay.data["unit"])
            fm["weight"] = k + 1
            write(folder / f"{project_slug(project)}.md", front_matter(fm))


# --- MkDocs ------------------------------------------------------------------------------

MKDOCS_MAIN = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ page.title }} - {{ config.site_name }}</title><link rel="stylesheet" href="{{ 'style.css' | url }}"></head>
<body><header><a href="{{ nav.homepage.url | url }}">{{ config.site_name }}</a></header>
<nav class="crumbs"><a href="{{ nav.homepage.url | url }}">首页</a>{% if page.meta.parent_url %} › <a href="{{ page.meta.parent_url | url }}">{{ page.meta.parent_title }}</a>{% endif %}</nav>
<main>{{ page.content }}</main>
<footer>{{ config.site_name }}</footer></body></html>
"""


def e(value) -> str:
    return html.escape(str(value), quote=False) if value is not None else ""


def md_cell(value) -> str:
    return e(value).replace("|", "\\|").replace("\n", "<br>")


def mkdocs_project(ay: AgencyYear, project: dict) -> str:
    meta = {"title": project["title"], "parent_url": f"{ay.year}/{ay.ident}/",
            "parent_title": f"{ay.name} {ay.year}年"}
    out = [front_matter(meta), f"# {e(project['title'])}\n",
           f"{e(project.get('agency_line'))}\n", f"单位：{e(project.get('unit', ay.data['unit']))}\n",
           "| | | | |", "|---|---|---|---|",
           f"| 项目编码 | {md_cell(project.get('code'))} | 项目名称 | {md_cell(project.get('name'))} |",
           f"| 预算数 | {md_cell(project.get('budget'))} | 其中：财政资金 | {md_cell(project.get('fiscal'))} |",
           f"| 其他资金 | {md_cell(project.get('other'))} | 资金用途 | {md_cell(project.get('purpose'))} |",
           "", "## 资金支出计划\n",
           "| " + " | ".join(md_cell(p["period"]) for p in project["plan"]) + " |",
           "|" + "---|" * len(project["plan"]),
           "| " + " | ".join(md_cell(p.get("value")) for p in project["plan"]) + " |",
           "", "## 绩效目标\n", e(project.get("goals")).replace("\n", "  \n") + "\n", "## 绩效指标\n"]
    rows = project["indicators"]
    table = ['<table class="indicators"><thead><tr><th>一级指标</th><th>二级指标</th><th>三级指标</th>'
             '<th>绩效指标描述</th><th>指标值</th><th>指标值确定依据</th></tr></thead><tbody>']
    for row, (s1, s2) in zip(rows, indicator_spans(rows)):
        cells = []
        if s1:
            cells.append(f'<td rowspan="{s1}">{e(row["level1"])}</td>')
        if s2:
            cells.append(f'<td rowspan="{s2}">{e(row["level2"])}</td>')
        cells += [f"<td>{e(row.get(k))}</td>" for k in ("level3", "description", "value", "basis")]
        table.append("<tr>" + "".join(cells) + "</tr>")
    table.append("</tbody></table>")
    out.append("\n".join(table) + "\n")
    return "\n".join(out)


def write_mkdocs(site: Site, root: Path) -> None:
    nav = [{"首页": "index.md"}] + [{f"{year}年": f"{year}/index.md"} for year in YEARS]
    config = {"site_name": SITE_TITLE, "docs_dir": "docs", "use_directory_urls": True,
              "theme": {"name": None, "custom_dir": "theme"}, "plugins": [],
              "markdown_extensions": ["tables"], "nav": nav,
              "validation": {"omitted_files": "ignore", "nav": {"omitted_files": "ignore"}}}
    write(root / "mkdocs.yml", dump_yaml(config))
    write(root / "theme" / "main.html", MKDOCS_MAIN)
    write(root / "docs" / "style.css", CSS)
    by_year: dict[int, list] = {}
    for ay in site.years:
        by_year.setdefault(ay.year, []).append(ay)
    write(root / "docs" / "index.md", f"# {SITE_TITLE}\n\n" + "\n".join(
        f"- [{y}年]({y}/index.md)" for y in YEARS) + "\n")
    for year in YEARS:
        write(root / "docs" / str(year) / "index.md", f"# {year}年\n\n" + "\n".join(
            f"- [{e(ay.name)}]({ay.ident}/index.md)" for ay in by_year.get(year, [])) + "\n")
    for ay in site.years:
        folder = root / "docs" / str(ay.year) / ay.ident
        meta = {"title": f"{ay.name} {ay.year}年", "parent_url": f"{ay.year}/", "parent_title": f"{ay.year}年"}
        items = "\n".join(f"- [{e(p['title'])}]({project_slug(p)}.md) {p.get('budget', '')}" for p in ay.projects)
        write(folder / "index.md", front_matter(meta) + f"# {e(ay.name)} {ay.year}年\n\n{e(ay.region)}\n\n"
              + agency_year_markdown(ay) + "\n\n" + items + "\n")
        for project in ay.projects:
            write(folder / f"{project_slug(project)}.md", mkdocs_project(ay, project))


# --- entry point -------------------------------------------------------------------------

def generate(out_dir, projects: int = 1000, seed: int = 1, tools=("gongkai", "hugo", "mkdocs")) -> dict:
    """Write the synthetic site for every tool under out_dir; return the manifest (also written)."""
    out = Path(out_dir)
    site = make_site(projects, seed)
    writers = {"gongkai": write_gongkai, "hugo": write_hugo, "mkdocs": write_mkdocs}
    written = {}
    for tool in tools:
        target = out / tool
        if target.exists():
            shutil.rmtree(target)
        written[tool] = writers[tool](site, target)
    first = site.years[0]
    sample = first.projects[0]
    manifest = {
        "generator_version": GENERATOR_VERSION, "projects": projects, "seed": seed,
        "agency_years": len(site.years), "agencies": len({(a.region, a.ident) for a in site.years}),
        "years": list(YEARS), "regions": len(REGIONS), "tools": list(tools),
        "yaml_bytes": written.get("gongkai"),
        "sample": {"year": first.year, "agency": first.ident, "code": project_slug(sample),
                   "name": sample["name"], "title": sample["title"],
                   "file": f"content/{first.year}/{first.ident}.yaml"},
    }
    write(out / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1) + "\n")
    return manifest


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.split("\n")[0])
    parser.add_argument("out_dir")
    parser.add_argument("--projects", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tools", default="gongkai,hugo,mkdocs", help="comma-separated: gongkai,hugo,mkdocs")
    parser.add_argument("--quiet", action="store_true", help="do not print the manifest")
    args = parser.parse_args(argv)
    manifest = generate(args.out_dir, projects=args.projects, seed=args.seed, tools=tuple(args.tools.split(",")))
    if not args.quiet:
        print(json.dumps(manifest, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
