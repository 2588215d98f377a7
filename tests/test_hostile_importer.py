"""The importer under fuzzing: mutated seed texts never crash it and never lose text silently.

Each example takes one of the seed texts (the four committed originals and the two import
fixtures) and applies random mutations: lines dropped, duplicated, swapped, moved, split,
truncated, joined, stripped of their TABs, and random characters inserted (CJK, ASCII,
TABs, numbering such as 第一部分 or 1、, control and invisible characters). Then:

- `import_text` returns a result or raises ImportFailure (a message for the user), nothing
  else; its YAML is written and read back by the validator without an exception;
- every printed piece of every source line is either in the result, in document order
  (all string values joined; whitespace and the importer's Markdown escapes ignored), or in
  an `unplaced` entry reported at that line or at the first line of its table cell.

What counts as extraction noise, and may vanish: blank lines, whitespace, `[bookmark: …]`,
Word TC field syntax (the heading and its 目录 text are kept), the dotted leaders of a
printed 目录 (text and page kept), lone page numbers (1–3 digits), the 目录 heading itself
(kept as `toc_printed`), table labels (项目编码, 预算数, 绩效目标, indicator column
headers …) and the `单位：` label (the unit is kept), and PDF table header rows printed
again after a page break. A piece that occurs twice in the input is found once in the
output; duplicates are not counted.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gongkai import importer, yamlout
from gongkai.importer import (BOOKMARK_RE, COLUMNS, FIELDS, GOALS_LABEL, GROUP_LABEL, LEADER_RE, PLAN_LABEL,
                              TC_RE, TOC_HEAD_RE, UNIT_RE, ImportFailure, import_text)
from gongkai.validate import model_text

REPO = Path(__file__).resolve().parent.parent
SEEDS = sorted(REPO.glob("content/*/*/*.txt")) + sorted((REPO / "tests" / "fixtures" / "import").glob("*.txt"))
TEXTS = [p.read_text(encoding="utf-8") for p in SEEDS]
# What a text does not print, given as the editor would (its options).
GIVEN = {"unseen_word.txt": {"agency_name": "某县文化馆", "agency_code": "wenhuaguan"}}
LABELS = {importer.label(t) for t in (*FIELDS, GROUP_LABEL, PLAN_LABEL, GOALS_LABEL, *COLUMNS)}
PAGE_NUMBER = re.compile(r"^[0-9]{1,3}$")
LEADERS = re.compile(r"\.{2,}|…+|·{2,}")
INSERTS = ["第一部分", "第二部分 ", "一、", "（二）", "1、", "2.", "绩效目标表", "\t", "\t\t", " ", "目录",
           "……3", "....12", "单位：", "单位：万元", "项目名称", "预算数", "\t4000.00\t", "一级指标", "指标值",
           "287001 测试单位", "TC \"x\" \\f C \\l 1", "[bookmark: _Toc1]", "- ", "#", "*", "\\", "<script>",
           "\x0c", "\x00", "\u2028", "\u200b", "\ufeff", "\r", "测试", "０１２", "e\u0301"]


def mutate(data: st.DataObject, text: str) -> str:
    lines = text.split("\n")
    for _ in range(data.draw(st.integers(1, 6), label="mutations")):
        if not lines:
            lines = [""]
        i = data.draw(st.integers(0, len(lines) - 1), label="line")
        kind = data.draw(st.sampled_from(["drop", "duplicate", "swap", "move", "split", "truncate",
                                          "join", "untab", "insert", "random"]), label="kind")
        line = lines[i]
        if kind == "drop":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, line)
        elif kind in ("swap", "move"):
            j = data.draw(st.integers(0, len(lines) - 1), label="other")
            if kind == "swap":
                lines[i], lines[j] = lines[j], lines[i]
            else:
                lines.insert(j, lines.pop(i))
        elif kind == "split":
            k = data.draw(st.integers(0, len(line)), label="at")
            lines[i:i + 1] = [line[:k], line[k:]]
        elif kind == "truncate":
            lines[i] = line[:data.draw(st.integers(0, len(line)), label="at")]
        elif kind == "join" and i + 1 < len(lines):
            lines[i:i + 2] = [line + lines[i + 1]]
        elif kind == "untab":
            lines[i] = line.replace("\t", " ")
        elif kind == "insert":
            k = data.draw(st.integers(0, len(line)), label="at")
            lines[i] = line[:k] + data.draw(st.sampled_from(INSERTS), label="text") + line[k:]
        else:
            k = data.draw(st.integers(0, len(line)), label="at")
            noise = data.draw(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=5),
                              label="characters")
            lines[i] = line[:k] + noise + line[k:]
    return "\n".join(lines)


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def strings(value) -> list[str]:
    """Every text, number and amount of the result, in document (YAML) order."""
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in strings(v)]
    return [] if value is None or isinstance(value, bool) else [str(value)]


def unescape_markdown(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def printed_pieces(raw: str, plain: bool = False) -> list[str]:
    """What of one source line must survive the import (noise removed), squashed; `plain`:
    the line is only TAB-separated cells (no TC field, no 目录 leader)."""
    text = BOOKMARK_RE.sub("", raw).strip()
    if TOC_HEAD_RE.match(text):
        return []                                     # 目录: kept as toc_printed
    tc = None if plain else TC_RE.match(text)
    if tc:
        parts = [tc.group("head"), tc.group("toc")]
    else:
        leader = None if plain else LEADER_RE.match(text)
        # A 目录 line: its text (its page number, like any lone number, is not checked here).
        parts = [leader.group("text")] if leader else BOOKMARK_RE.sub("", raw).split("\t")
    out = []
    for part in parts:
        piece = squash(part)
        unit = UNIT_RE.match(piece)
        if unit:
            piece = unit.group(1)                     # 单位：万元 -> the unit is kept
        if (not piece or PAGE_NUMBER.match(piece) or TOC_HEAD_RE.match(piece)
                or importer.label(piece) in LABELS):
            continue
        out.append(piece)
    return out


def lost_pieces(text: str, result) -> list[tuple[int, str]]:
    """(line, piece) of every printed piece found neither in the result nor in `unplaced`.

    A line passes when all its pieces are accounted for, read as printed (noise removed),
    or as plain TAB-separated cells, or as a Word cell continued from the line above or onto
    the line below (a line without a leading TAB continues the cell above it)."""
    joined = squash("".join(BOOKMARK_RE.sub("", s) for s in strings(result.data)))
    # Table cells as written; Markdown unescaped; a 目录 line kept whole (as a title line, say).
    placed = joined + "\0" + unescape_markdown(joined) + "\0" + LEADERS.sub("", joined)
    unplaced = [(line, squash(t) + "\0" + squash(LEADERS.sub("", t))) for line, t in
                ((line, BOOKMARK_RE.sub("", t)) for line, t in result.unplaced)]
    raws = [raw.rstrip("\r") for raw in text.removeprefix("\ufeff").split("\n")]

    def missing(raw: str, no: int, plain: bool = False) -> list[str]:
        return [p for p in printed_pieces(raw, plain)
                if p not in placed and not any(p in t and line <= no for line, t in unplaced)]

    def cells(raw: str) -> list[str]:
        return BOOKMARK_RE.sub("", raw).split("\t")

    lost = []
    for i, raw in enumerate(raws):
        first = missing(raw, i + 1)
        if not first:
            continue
        readings = ["\t".join(cells(raw)[1:] if raw.startswith("\t") else cells(raw))]
        if i and raws[i - 1].strip() and not raw.startswith("\t"):
            above = cells(raws[i - 1])
            readings.append("\t".join(above[:-1] + [above[-1] + cells(raw)[0]] + cells(raw)[1:]))
        if i + 1 < len(raws) and raws[i + 1].strip() and not raws[i + 1].startswith("\t"):
            here = cells(raw)
            readings.append("\t".join(here[:-1] + [here[-1] + cells(raws[i + 1])[0]]))
        if not any(not missing(reading, i + 2, plain=True) for reading in readings):
            lost += [(i + 1, piece) for piece in first]
    return lost


@pytest.mark.parametrize("seed", SEEDS, ids=[p.name for p in SEEDS])
def test_the_unmutated_seeds_lose_nothing(seed):
    text = seed.read_text(encoding="utf-8")
    result = import_text(text, year=2020, region="测试区", **GIVEN.get(seed.name, {}))
    assert lost_pieces(text, result) == []


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(seed=st.integers(0, len(SEEDS) - 1), data=st.data())
def test_mutated_seeds_never_crash_and_never_lose_text(seed, data):
    text = mutate(data, TEXTS[seed])
    try:
        result = import_text(text, year=2020, region="测试区", **GIVEN.get(SEEDS[seed].name, {}))
    except ImportFailure:
        return                                       # a message for the user, nothing written
    lost = lost_pieces(text, result)
    assert not lost, lost[:10]
    document = dict(result.data)
    if result.unplaced:
        document["unplaced"] = [{"line": no, "text": line} for no, line in result.unplaced]
    model_text(yamlout.dump(document), "fuzz.yaml")   # written and read back without an exception


def test_an_unused_toc_entry_is_reported_with_its_page_number():
    """Regression: a 目录 line that matched no heading was reported without its page number."""
    last = "4.2022 年度县级老干部座谈及慰问等经费县级资金绩效目标表.....\t15"
    text = TEXTS[3].replace(last, last + "\n附件.....\t17", 1)
    result = import_text(text, year=2022, region="测试区")
    assert [t for _, t in result.unplaced] == ["附件.....\t17"]


def test_a_table_row_printed_twice_does_not_overwrite_the_first():
    """Regression: a second 资金支出计划 or 绩效目标 row in one table replaced the first."""
    text = TEXTS[1].replace("\t绩效目标\n", "\t绩效目标\n\t重复的目标\n\n\t绩效目标\n", 1)
    result = import_text(text, year=2020, region="测试区")
    assert lost_pieces(text, result) == []


def test_a_column_printed_twice_does_not_overwrite_the_first():
    """Regression: a repeated indicator column header made the second cell overwrite the first."""
    text = TEXTS[1].replace("\t一级指标\n", "\t一级指标\n\t一级指标\n", 1)
    result = import_text(text, year=2020, region="测试区")
    assert lost_pieces(text, result) == []
    assert any(t == "一级指标" for _, t in result.unplaced)


def test_a_second_status_line_is_kept_as_text():
    """Regression: a second （…） line before the body replaced the first as the status."""
    text = TEXTS[3].replace("(草案)\n", "(草案)\n(征求意见稿)\n", 1)
    result = import_text(text, year=2022, region="测试区")
    assert result.data["document"]["status"] == "(草案)"
    assert lost_pieces(text, result) == []


def test_full_width_digits_are_never_rewritten_as_an_amount():
    """Regression: `\\d` read a full-width ２.００ as the amount 2.00; the printed text was lost."""
    text = TEXTS[1].replace("\t100.00\n", "\t１００.００\n", 1)
    assert text != TEXTS[1]
    result = import_text(text, year=2020, region="测试区")
    assert lost_pieces(text, result) == []
    assert any(t == "１００.００" for _, t in result.unplaced)


def test_random_bytes_and_gbk_fail_with_a_message(tmp_path):
    """The command line reads UTF-8 only: other bytes are refused with a message, no traceback."""
    cases = {"random.txt": bytes(range(256)) * 8, "gbk.txt": TEXTS[0].encode("gb18030")}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        run = subprocess.run([sys.executable, str(REPO / "build.py"), "import", str(tmp_path / name),
                              "--year", "2020", "--region", "测试区"], capture_output=True, text=True, cwd=REPO)
        assert run.returncode == 1 and "不是 UTF-8 文本" in run.stderr and "Traceback" not in run.stderr
