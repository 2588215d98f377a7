"""The importer: golden files, fidelity to the printed text, unplaced lines, options.

The golden files are the committed `content/{year}/{agency}.yaml`; the commands that made
them are the ones recorded in content/README.md, and these tests run exactly those
commands. To regenerate the goldens after an importer change, run the commands from
content/README.md and review `git diff content/`.
"""
from __future__ import annotations

import dataclasses
import difflib
import html
import re
import shlex
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from markdown_it import MarkdownIt

import build
from gongkai.config import load_config
from gongkai.importer import import_text, md_line, with_original
from gongkai.validate import validate_file

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "content"
FIXTURES = ROOT / "tests" / "fixtures" / "import"
SEEDS = Path("/work/shared/seeds")   # where the seed texts came from, when present
REGIONS = load_config(ROOT / "site_config.yaml")[0].regions
MD = MarkdownIt("js-default", {"breaks": True})


def recorded_commands() -> list[list[str]]:
    """`build.py` arguments of each import command recorded in content/README.md."""
    text = (CONTENT / "README.md").read_text(encoding="utf-8")
    return [shlex.split(line)[2:] for line in text.splitlines() if line.startswith("python build.py import ")]


COMMANDS = recorded_commands()
IDS = [Path(argv[1]).name[:3] for argv in COMMANDS]


def option(argv: list[str], name: str):
    return argv[argv.index(name) + 1] if name in argv else None


@pytest.fixture
def in_root(monkeypatch):
    monkeypatch.chdir(ROOT)


# --- golden files --------------------------------------------------------------------------

def test_every_seed_has_a_recorded_command():
    assert sorted(IDS) == ["000", "001", "002", "003"]
    for argv in COMMANDS:
        assert argv[0] == "import" and option(argv, "--year") and option(argv, "--region")
        assert (ROOT / option(argv, "-o")).is_file()


@pytest.mark.parametrize("argv", COMMANDS, ids=IDS)
def test_import_reproduces_the_committed_yaml(argv, tmp_path, in_root):
    golden = ROOT / option(argv, "-o")
    out = tmp_path / option(argv, "-o")
    args = list(argv)
    args[args.index("-o") + 1] = str(out)
    assert build.main(args) == 0
    produced, expected = out.read_text(encoding="utf-8"), golden.read_text(encoding="utf-8")
    diff = "".join(difflib.unified_diff(expected.splitlines(True), produced.splitlines(True),
                                        str(golden), "import", n=1))
    assert out.read_bytes() == golden.read_bytes(), diff[:3000]
    source = Path(argv[1])
    copied = out.parent / golden.stem / source.name
    assert copied.read_bytes() == (ROOT / source).read_bytes()


@pytest.mark.parametrize("argv", COMMANDS, ids=IDS)
def test_committed_original_is_the_seed_text(argv):
    seed = SEEDS / Path(argv[1]).name
    if not seed.exists():
        pytest.skip("seed folder not available")
    assert (ROOT / argv[1]).read_bytes() == seed.read_bytes()


# --- the model -----------------------------------------------------------------------------

@pytest.mark.parametrize("argv", COMMANDS, ids=IDS)
def test_committed_yaml_validates(argv):
    model, problems = validate_file(ROOT / option(argv, "-o"), CONTENT, REGIONS)
    assert model is not None, "\n".join(p.format() for p in problems)
    assert not [p for p in problems if p.is_error]


def _plain(value):
    """Model objects and importer data as comparable plain values; absent fields left out."""
    if dataclasses.is_dataclass(value):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)
                 if f.name not in ("pos", "source")}
    if isinstance(value, dict):
        out = {k: _plain(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != [] and v != {} and v is not False}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@pytest.mark.parametrize("argv", COMMANDS, ids=IDS)
def test_writer_and_validator_round_trip_the_importer_data(argv):
    source = ROOT / argv[1]
    result = import_text(source.read_text(encoding="utf-8"), year=int(option(argv, "--year")),
                         agency_code=option(argv, "--agency-code"), region=option(argv, "--region"))
    assert result.unplaced == []
    model, problems = validate_file(ROOT / option(argv, "-o"), CONTENT, REGIONS)
    assert model is not None, problems
    assert _plain(model) == _plain(with_original(result, source.name))


def test_seed_facts():
    """Spot checks of layout decisions on the seeds (see the importer's docstrings)."""
    def load(name):
        return yaml.safe_load((CONTENT / name).read_text(encoding="utf-8"))
    y000, y001, y002 = load("2020/287002.yaml"), load("2020/610002.yaml"), load("2022/287001.yaml")
    assert y000["preamble"] == "第二部分 预算项目绩效目标"
    assert [p["number"] for p in y000["parts"]] == ["第一部分", "第二部分"]
    first = y000["parts"][1]["projects"][0]
    assert first["plan"][0] == {"period": "3月底"} and first["budget"] == 4000.0
    assert "other" not in first and "unit" not in first
    assert first["toc"] == {"text": "1、保险费绩效目标表"}
    value = y001["parts"][1]["projects"][1]["indicators"][1]["value"]
    assert value == "≧90%为优秀\n90%-80%为良好\n80%-70%为中\n70%以下为差"
    assert y002["document"]["title"] == "中共正定县委老干部局\n2022 年部门预算绩效文本"
    projects = y002["parts"][1]["projects"]
    assert projects[2]["code"] == "13012322P00258110510Q"
    assert projects[2]["plan"] == [{"period": "3 月底"}, {"period": "6 月底", "value": 5.0},
                                   {"period": "10 月底"}, {"period": "12 月底"}]
    assert projects[1]["indicators"][5]["level3"] == "引导老干部发挥正能量，丰富老年人晚年生活"
    assert projects[3]["indicators"][4]["level2"] == "社会效益指标"
    assert projects[0]["toc"] == {"text": "1.2022 年度关工委和老促会工作经费县级资金绩效目标表", "page": 10}
    measures = y002["parts"][0]["sections"][2]["text"]
    assert measures.count("一、领导高度重视，老干部工作氛围更加浓厚") == 3   # printed three times
    assert "中国共产党成立 100 周年活动实施方案" in measures                  # page break re-joined


# --- fidelity: every printed cell and line is in the YAML, unchanged ----------------------
#
# A second, deliberately simple noise removal, independent of the importer's parser.

LABELS = {"项目编码", "项目名称", "预算规模及资金用途", "预算数", "其中：财政资金", "其他资金",
          "资金支出计划（%）", "绩效目标", "一级指标", "二级指标", "三级指标", "绩效指标描述", "指标值",
          "指标值确定依据"}
TC = re.compile(r"^(.*?)\s+TC\s+(.*?)\s+\\f\s+\w(?:\s+\\l\s+\d+)?\s*$")
HAN = "\u3000-\u303f\u4e00-\u9fff\uff00-\uffef"
WRAP = re.compile(rf"(?<=[{HAN}])\s+(?=[{HAN}])")
LEADER = re.compile(r"\.{2,}\t(\d+)$")


def printed_items(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every content cell and line of an extracted text, noise removed."""
    lines = path.read_text(encoding="utf-8").split("\n")
    pdf = any("\t" in line.lstrip("\t") for line in lines)
    items = []
    for no, raw in enumerate(lines, 1):
        line = re.sub(r"\[bookmark: [^\]]*\]", "", raw)
        text = line.strip()
        if not text or re.fullmatch(r"目\s*录", text):
            continue       # blank; the 目录 heading itself is `document.toc_printed`
        if not line.startswith("\t") and re.fullmatch(r"\d{1,3}", text):
            continue       # lone page number
        tc = TC.match(text)
        part = re.match(r"^(第.部分)\s+(\S.*)$", text)
        if tc:
            items += [(no, tc.group(1).strip()), (no, tc.group(2).strip())]
        elif pdf and LEADER.search(text):
            items.append((no, LEADER.sub("", text)))
        elif part:         # the gap between number and title is layout
            items.append((no, f"{part.group(1)} {part.group(2)}"))
        elif pdf and "\t" in line:
            label = None
            for cell in (WRAP.sub("", c.strip()) for c in line.split("\t")):
                key = re.sub(r"\s", "", cell)
                if key in LABELS or not cell:
                    label = key if key in LABELS else label
                    continue
                items.append((no, key if label == "项目编码" else cell))
                label = None
        else:
            text = text[2:] if pdf and text.startswith("- ") else text
            text = text.removeprefix("单位：")
            if re.sub(r"\s", "", text) not in LABELS:
                items.append((no, text))
    return items


def rendered(markdown: str) -> str:
    """Markdown as the reader sees it: rendered, tags stripped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", MD.render(markdown)))


def yaml_lines(path: Path) -> Counter:
    """Every line of every text value of a content file (Markdown as rendered), counted.

    Headings count as printed (number and title together, parts also with a space), and
    each project counts its unit, printed on every table but stored once when shared.
    """
    values: list[str] = []
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)  # scalars as written

    def walk(node):
        if isinstance(node, dict):
            if "number" in node and "title" in node:
                values.append(node["number"] + node["title"])
                if node["number"].startswith("第"):
                    values.append(node["number"] + " " + node["title"])
            if "agency_line" in node:
                values.append(node.get("unit", data["unit"]))
            for key, value in node.items():
                if key in ("text", "preamble") and isinstance(value, str):
                    values.append(rendered(value))
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, str):
            values.append(node)

    walk(data)
    return Counter(line for value in values for line in value.split("\n"))


@pytest.mark.parametrize("argv", COMMANDS, ids=IDS)
def test_every_printed_cell_is_in_the_yaml(argv):
    """Each printed cell or line occurs in the YAML as a whole line, as often as printed."""
    source, target = ROOT / argv[1], ROOT / option(argv, "-o")
    available = yaml_lines(target)
    pdf = "PDF" in target.read_text(encoding="utf-8")
    items = printed_items(source)
    assert len(items) > 150
    missing = []
    for no, text in items:
        if available[text] > 0:
            available[text] -= 1
        # PDF: a cell or paragraph cut by a page break is one half of a re-joined line.
        elif not (pdf and any(line.startswith(text) or line.endswith(text) for line in available)):
            missing.append(f"{source.name}:{no}: {text}")
    assert not missing, "\n".join(missing)


# --- section text renders as printed -------------------------------------------------------

def _clean(raw: str) -> str:
    line = re.sub(r"\[bookmark: [^\]]*\]", "", raw).strip()
    tc = TC.match(line)
    return tc.group(1).strip() if tc else line


def _headings(data: dict):
    """(heading text, node, kind) for parts, sections and projects in document order."""
    for part in data["parts"]:
        yield part["number"], part, "part"
        for section in part.get("sections", []):
            yield section.get("number", "") + section["title"], section, "section"
        for project in part.get("projects", []):
            yield project.get("number", "") + project["title"], project, "project"


@pytest.mark.parametrize("argv", COMMANDS, ids=IDS)
def test_section_text_renders_to_the_printed_text(argv):
    source, target = ROOT / argv[1], ROOT / option(argv, "-o")
    raw_lines = source.read_text(encoding="utf-8").split("\n")
    cleaned = [_clean(line) for line in raw_lines]
    pdf = any("\t" in line.lstrip("\t") for line in raw_lines)
    data = yaml.safe_load(target.read_text(encoding="utf-8"))
    cursor = max(i for i, line in enumerate(cleaned) if line.startswith("第一部分"))
    found = []
    for text, node, kind in _headings(data):
        key = re.sub(r"\s", "", text)
        index = next(i for i in range(cursor, len(cleaned)) if re.sub(r"\s", "", cleaned[i]).startswith(key))
        found.append((index, node, kind))
        cursor = index + 1
    checked = 0
    for n, (index, node, kind) in enumerate(found):
        if kind != "section":
            continue
        end = found[n + 1][0] if n + 1 < len(found) else len(cleaned)
        printed = [line for line in cleaned[index + 1:end] if line and not re.fullmatch(r"\d{1,3}", line)]
        printed = [line[2:] if pdf and line.startswith("- ") else line for line in printed]
        shown = [line for line in rendered(node.get("text", "")).split("\n") if line]
        assert "".join(shown) == "".join(printed)
        if not pdf:   # PDF paragraphs cut by a page break are one line again
            assert shown == printed
        checked += 1
    assert checked >= 3


@pytest.mark.parametrize("line", ["2. 不是列表", "1) 也不是", "# 不是标题", "- 不是列表项", "+ 不是", "> 不是引用",
                                  "=====", "***", "a*b*c", "_x_", "`代码`", "[链接](http://x)", "<b>粗</b>",
                                  "a | b", "&amp;", "反斜杠\\", "~~删除~~", "![图](x.png)", "<http://x>"])
def test_markdown_escaping_renders_the_line_as_printed(line):
    assert rendered(md_line(line, "word")).strip() == line
    assert rendered("前一行\n" + md_line(line, "word")).strip() == "前一行\n" + line


# --- unplaced lines and options ------------------------------------------------------------

def test_unplaced_line_fails_the_import(tmp_path, capsys):
    source = FIXTURES / "word_unplaced.txt"
    out = tmp_path / "2021" / "999001.yaml"
    code = build.main(["import", str(source), "--year", "2021", "--region", "秦皇岛市山海关区", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert f'{source}:45: error: 无法确定此行的位置："这一行不属于任何单元格"' in err
    assert not out.exists() and not (tmp_path / "2021" / "999001").exists()


def test_keep_unplaced_keeps_the_line_in_the_yaml(tmp_path, capsys):
    source = FIXTURES / "word_unplaced.txt"
    out = tmp_path / "2021" / "999001.yaml"
    code = build.main(["import", str(source), "--year", "2021", "--region", "秦皇岛市山海关区", "-o", str(out),
                       "--keep-unplaced"])
    assert code == 0
    assert "45: warning: 无法确定此行的位置" in capsys.readouterr().err
    data = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert data["unplaced"] == [{"line": 45, "text": "这一行不属于任何单元格"}]
    model, problems = validate_file(out, tmp_path, REGIONS)
    assert model is not None, [p.format() for p in problems]
    assert model.unplaced[0].line == 45
    assert (tmp_path / "2021" / "999001" / "word_unplaced.txt").read_bytes() == source.read_bytes()
    section = data["parts"][0]["sections"][0]["text"]
    assert rendered(section).strip() == "做好*重点*工作，落实[2020]号文件。\n2. 这不是列表"


def test_pdf_value_in_a_spacer_column_is_reported(capsys):
    source = FIXTURES / "pdf_unplaced.txt"
    assert build.main(["import", str(source), "--region", "石家庄市正定县"]) == 1
    captured = capsys.readouterr()
    assert f'{source}:23: error: 无法确定此行的位置："0.30"' in captured.err
    assert captured.out == ""


def test_pdf_fixture_with_keep_unplaced(capsys):
    source = FIXTURES / "pdf_unplaced.txt"
    assert build.main(["import", str(source), "--region", "石家庄市正定县", "--keep-unplaced"]) == 0
    data = yaml.safe_load(capsys.readouterr().out)
    assert data["year"] == 2021                        # printed on the title page
    project = data["parts"][1]["projects"][0]
    assert project["code"] == "9990002X" and project["name"] == "测试经费" and project["purpose"] == "测试用途"
    assert project["indicators"] == [{"level1": "产出指标", "level2": "数量指标", "level3": "次数",
                                      "description": "开展次数", "value": "≥4 次", "basis": "历史标准"}]
    assert data["parts"][0]["sections"][0]["text"] == "- 一项\n- 二项"
    assert data["unplaced"] == [{"line": 23, "text": "0.30"}]


def test_without_output_the_yaml_goes_to_stdout(in_root, capsys):
    argv = COMMANDS[IDS.index("000")]
    args = argv[:argv.index("-o")]
    assert build.main(args) == 0
    out = capsys.readouterr().out
    golden = (ROOT / option(argv, "-o")).read_text(encoding="utf-8")
    assert "originals:" not in out
    assert out == re.sub(r"originals:\n(?:  .*\n)+\n", "", golden)


def test_agency_code_overrides_the_identifier(in_root, capsys):
    source = COMMANDS[IDS.index("000")][1]
    assert build.main(["import", source, "--year", "2020", "--region", "秦皇岛市山海关区",
                       "--agency-code", "shg-lgb"]) == 0
    agency = yaml.safe_load(capsys.readouterr().out)["agency"]
    assert agency == {"name": "秦皇岛市山海关区老干部服务中心", "code": "287002", "slug": "shg-lgb",
                      "region": "秦皇岛市山海关区"}
    assert build.main(["import", source, "--year", "2020", "--region", "x", "--agency-code", "Bad Code"]) == 1
    assert "--agency-code" in capsys.readouterr().err


@pytest.mark.parametrize("missing, message", [("--year", "--year"), ("--region", "--region")])
def test_missing_metadata_fails(in_root, capsys, missing, message):
    args = ["import", COMMANDS[IDS.index("000")][1], "--year", "2020", "--region", "秦皇岛市山海关区"]
    del args[args.index(missing):args.index(missing) + 2]
    assert build.main(args) == 1
    assert message in capsys.readouterr().err


def test_amounts_keep_their_printed_digits():
    result = import_text((FIXTURES / "word_unplaced.txt").read_text(encoding="utf-8"), year=2021, region="r")
    project = result.data["parts"][1]["projects"][0]
    assert project["budget"] == Decimal("100.00") and str(project["budget"]) == "100.00"
