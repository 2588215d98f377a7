"""Extract the vocabulary and distributions of the seed documents into bench/vocab.json.

Run once when the seeds change (the JSON is committed, so the generator needs no seeds):

    .venv/bin/python -m bench.extract_vocab [SEED_DIR]

It reads the extracted texts of real 部门预算绩效目标 documents (default
/work/shared/seeds/*.txt) with simple, forgiving heuristics: this is sampling material for
synthetic content, not an importer. What it keeps:

- paragraphs and sentences of the free text (part one), and the headings found there;
- per project table: name, budget / fiscal / other, unit, purpose, plan values, goals;
- indicator rows (一级, 二级, 三级, 描述, 指标值, 依据) with merged cells filled in;
- per document: the number of projects, the number of indicator rows per table.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

DEFAULT_SEEDS = Path("/work/shared/seeds")
OUT = Path(__file__).with_name("vocab.json")

TITLE_RE = re.compile(r"^(?:\[bookmark: [^\]]*\])?\s*(\d+[、.])\s*(.*?绩效目标表)(?:\s+TC .*)?$")
AMOUNT_RE = re.compile(r"^\d+(?:\.\d+)?$")
HEADER = ["一级指标", "二级指标", "三级指标", "绩效指标描述", "指标值", "指标值确定依据"]
NOISE_RE = re.compile(r"\s+TC .*$|\[bookmark: [^\]]*\]")
HEADING_RE = re.compile(r"^(?:[一二三四五六七八九十]+、|（[一二三四五六七八九十]+）|\d+[、.])")
TERMINATORS = ("。", "；", "！", "？", "：", ":")
SENT_RE = re.compile(r"[^。；！？]*[。；！？]")


def clean(line: str) -> str:
    return NOISE_RE.sub("", line).strip()


def word_cells(lines: list[str]) -> list[str]:
    """Cells of a Word-extracted table: a cell starts with a tab; other non-blank lines continue it."""
    cells: list[str] = []
    for line in lines:
        if line.startswith("\t"):
            cells.append(line[1:].strip())
        elif line.strip() and cells:
            cells[-1] = (cells[-1] + "\n" + line.strip()).strip()
    return cells


def after(cells: list[str], label: str, n: int = 1) -> list[str]:
    for i, cell in enumerate(cells):
        if cell == label:
            return cells[i + 1:i + 1 + n]
    return []


def parse_word_table(title: str, lines: list[str], unit: str) -> dict:
    cells = word_cells(lines)
    project: dict = {"title": title, "unit": unit}
    for label, key in (("项目编码", "code"), ("项目名称", "name"), ("预算数", "budget"),
                       ("其中：财政资金", "fiscal"), ("其他资金", "other")):
        got = after(cells, label)
        if got:
            project[key] = got[0]
    # the unlabelled purpose cell follows the 其他资金 value
    if "其他资金" in cells:
        i = cells.index("其他资金") + 2
        rest = [c for c in cells[i:i + 3] if c]
        if rest and rest[0] != "资金支出计划（%）":
            project["purpose"] = rest[0]
    if "资金支出计划（%）" in cells:
        i = cells.index("资金支出计划（%）")
        periods = cells[i + 1:i + 5]
        values = cells[i + 5:i + 10]
        if values and values[0] == "":
            values = values[1:]
        project["plan"] = [[p, v] for p, v in zip(periods, values[:4])]
    goals = after(cells, "绩效目标")
    if goals:
        project["goals"] = goals[0]
    rows: list[list[str]] = []
    if "指标值确定依据" in cells:
        i = cells.index("指标值确定依据") + 1
        body = cells[i:]
        for k in range(0, len(body) - len(body) % 6, 6):
            rows.append(body[k:k + 6])
    project["indicators"] = rows
    return project


def parse_pdf_tables(text: str, unit: str) -> list[dict]:
    """Tab-separated rows of a PDF extraction: keep clean 7-column indicator rows and amounts."""
    projects: list[dict] = []
    lines = text.split("\n")
    current: dict | None = None
    for i, line in enumerate(lines):
        m = re.match(r"^(\d+\.)\s*(.*绩效目标表)$", line.strip())
        if m and "....." not in line:
            current = {"title": m.group(2), "unit": unit, "indicators": []}
            projects.append(current)
            continue
        if current is None:
            continue
        cols = line.split("\t")
        if cols[0] == "项目名称" or (len(cols) > 4 and cols[3] == "项目名称"):
            current["name"] = cols[4].replace(" ", "") if len(cols) > 4 else ""
        if cols[0] == "项目编码":
            current["code"] = cols[1].replace(" ", "")
        if len(cols) >= 4 and cols[0].startswith("预算规模"):
            nums = [c for c in cols if AMOUNT_RE.match(c.strip())]
            if nums:
                current["budget"] = nums[0]
                current["fiscal"] = nums[1] if len(nums) > 1 else nums[0]
        if cols[0].startswith("预算规模") is False and current.get("budget") and "purpose" not in current \
                and len(cols) > 1 and cols[0] == "" and len(cols[1]) > 8:
            current["purpose"] = cols[1].strip()
        if cols[0].startswith("资金支出计") and len(cols) >= 5:
            periods = [c.strip() for c in cols[1:] if c.strip()]
            values = lines[i + 1].split("\t")[1:] if i + 1 < len(lines) else []
            values = [v.strip() for v in values]
            vals = [v for v in values if v] if len(values) != len(periods) else values
            current["plan"] = [[p, v] for p, v in zip(periods, vals)]
        if cols[0] == "绩效目标" and len(cols) > 1:
            current["goals"] = cols[1].strip()
        if len(cols) == 7 and cols[0] != "一级指标" and cols[2] and cols[5]:
            row = [join_wrapped(c) for c in (cols[0], cols[1], cols[2], cols[3], cols[5], cols[6])]
            if row[1].endswith("指标") and re.search(r"\d", row[4]) and not continued(lines, i):
                current["indicators"].append(row)
    return projects


def join_wrapped(cell: str) -> str:
    """Undo the PDF extraction's line wraps inside a cell (spaces between CJK characters)."""
    return re.sub(r"(?<=[\u4e00-\u9fff，。、]) (?=[\u4e00-\u9fff，。、])", "", cell.strip())


def continued(lines: list[str], i: int) -> bool:
    """Whether row i of a PDF table continues below (possibly after a repeated header row)."""
    for line in lines[i + 1:i + 6]:
        cols = line.split("\t")
        if not line.strip() or cols[0] == "一级指标":
            continue
        return len(cols) == 7 and cols[0] == "" and cols[1] == "" and bool(cols[2] or cols[3])
    return False


def free_text(text: str, first_title_at: int) -> tuple[list[str], list[str]]:
    """Paragraphs and headings of part one (before the first project table)."""
    paragraphs, headings = [], []
    seen = set()
    for raw in text[:first_title_at].split("\n"):
        line = clean(raw)
        if not line or "....." in line or line.startswith("第") and "部分" in line:
            continue
        if paragraphs and not paragraphs[-1].endswith(TERMINATORS) and not HEADING_RE.match(line):
            paragraphs[-1] += line          # a paragraph wrapped across lines or pages
        elif len(line) >= 40:
            if line not in seen:
                seen.add(line)
                paragraphs.append(line)
        elif HEADING_RE.match(line) and len(line) <= 30:
            headings.append(line)
    return paragraphs, headings


def fill_merged(rows: list[list[str]]) -> list[list[str]]:
    out, last1, last2 = [], "", ""
    for row in rows:
        row = [c.strip() for c in row] + [""] * (6 - len(row))
        level1 = row[0] or last1
        level2 = row[1] or last2
        if not level1 or not row[2]:
            continue
        last1, last2 = level1, level2
        out.append([level1, level2] + row[2:6])
    return out


def extract(seed_dir: Path) -> dict:
    vocab: dict = {"source": "extracted from the seed documents by bench/extract_vocab.py",
                   "documents": [], "paragraphs": [], "headings": [], "sentences": [],
                   "projects": [], "indicator_rows": []}
    for path in sorted(seed_dir.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        unit = "万元" if "单位：万元" in text else "元"
        lines = text.split("\n")
        titles = [i for i, line in enumerate(lines) if TITLE_RE.match(line.strip()) and "....." not in line]
        if titles and any(line.startswith("\t项目编码") for line in lines):
            projects = []
            for n, start in enumerate(titles):
                end = titles[n + 1] if n + 1 < len(titles) else len(lines)
                title = TITLE_RE.match(lines[start].strip()).group(2)
                projects.append(parse_word_table(title, lines[start + 1:end], unit))
            offset = len("\n".join(lines[:titles[0]]))
        else:
            projects = parse_pdf_tables(text, unit)
            offset = text.find("第二部分\n\n预算项目")
            offset = offset if offset >= 0 else len(text)
        paragraphs, headings = free_text(text, offset)
        vocab["paragraphs"] += [p for p in paragraphs if p not in vocab["paragraphs"]]
        vocab["headings"] += headings
        rows_per_table = []
        for project in projects:
            rows = fill_merged(project.pop("indicators"))
            rows_per_table.append(len(rows))
            vocab["indicator_rows"] += rows
            vocab["projects"].append(project)
        vocab["documents"].append({"file": path.name, "unit": unit, "projects": len(projects),
                                   "indicator_rows": rows_per_table,
                                   "free_text_chars": sum(len(p) for p in paragraphs)})
    sentences = []
    for para in vocab["paragraphs"]:
        sentences += [s.strip() for s in SENT_RE.findall(para) if 8 <= len(s.strip()) <= 200]
    vocab["sentences"] = sorted(set(sentences), key=sentences.index)
    vocab["paragraph_lengths"] = sorted(len(p) for p in vocab["paragraphs"])
    uniq, seen = [], set()
    for row in vocab["indicator_rows"]:
        if tuple(row) not in seen:
            seen.add(tuple(row))
            uniq.append(row)
    vocab["indicator_rows"] = uniq
    return vocab


def main(argv: list[str]) -> int:
    seed_dir = Path(argv[0]) if argv else DEFAULT_SEEDS
    vocab = extract(seed_dir)
    OUT.write_text(json.dumps(vocab, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{OUT}: {len(vocab['documents'])} documents, {len(vocab['projects'])} projects, "
          f"{len(vocab['indicator_rows'])} indicator rows, {len(vocab['paragraphs'])} paragraphs, "
          f"{len(vocab['sentences'])} sentences")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
