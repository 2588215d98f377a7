"""Content files read, checked and derived without hanging, leaking or lying (issue 14, part D).

Each test names the defect of docs ../shared/docs/defects.md it covers and fails on the code
before its fix. Cases that hung or ran out of memory before (a FIFO, /dev/zero) run in a
subprocess with a timeout and a memory limit, so that the old code fails instead of hanging.
"""
from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gongkai.config import Config
from gongkai.derive import derive_year
from gongkai.site import load as load_site, render_site
from test_hostile_yaml import GOOD
from test_site import REPO

FILE = "content/2020/100001.yaml"
CONFIG = "title: 测试站点\nowner: 测试主办单位\nregions:\n  - 测试区\n"


def site_root(tmp_path: Path, text: str = GOOD) -> Path:
    root = tmp_path / "p"
    (root / "content" / "2020" / "100001").mkdir(parents=True)
    (root / "site_config.yaml").write_text(CONFIG, encoding="utf-8")
    (root / FILE).write_text(text, encoding="utf-8")
    return root


def problems_of(root: Path) -> tuple[list, list[str]]:
    """(facts, every problem line) of the project at `root`, read in this process."""
    years, problems = load_site(Config(title="t", owner="o", regions=("测试区",), root=root))
    return years, [p.format() for p in problems]


def errors_of(tmp_path: Path, text: str) -> list[str]:
    years, lines = problems_of(site_root(tmp_path, text))
    errors = [line for line in lines if ": error: " in line]
    assert not years and errors, lines
    return errors


def limited(args: list[str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    """`args` in a new process with 1.5 GB of address space: reading /dev/zero whole (as the
    code before the fix did) fails fast instead of exhausting the machine's memory."""
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (1_500_000_000, 1_500_000_000))
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, preexec_fn=limit)


def check_command(root: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    return limited([sys.executable, str(REPO / "build.py"), "check"], root, timeout)


def with_published(date: str) -> str:
    return GOOD.replace("  toc_printed: false\n", f"  toc_printed: false\n  published: {date}\n", 1)


def with_text(markdown: str) -> str:
    """GOOD with its section text replaced by `markdown` (a `|-` block, indented)."""
    body = "\n".join("          " + line if line else "" for line in markdown.split("\n"))
    old = "          总体目标。\n          第二行。"
    assert old in GOOD
    return GOOD.replace(old, body, 1)


def with_originals(*names: str) -> str:
    entries = "".join(f"  - file: '{n}'\n    title: 原件\n" for n in names)
    return GOOD.replace("unit: 元\n", "unit: 元\noriginals:\n" + entries, 1)


# --- D3, D4, item 5: only regular files are read -------------------------------------------

def test_d3_symlink_to_passwd_is_refused_by_name_and_never_quoted(tmp_path):
    """D3: a content file linking to /etc/passwd was read and 300 characters of it printed."""
    root = site_root(tmp_path)
    (root / "content" / "2020" / "pw.yaml").symlink_to("/etc/passwd")
    run = check_command(root)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "content/2020/pw.yaml:1:1: error: 文件通过符号链接指向 content/ 之外" in run.stdout
    assert "root:" not in run.stdout + run.stderr


def test_d3_symlink_to_yaml_outside_reports_no_keys(tmp_path):
    """D3: a link to a YAML file outside content/ had its keys and values checked and quoted."""
    outside = tmp_path / "secret.yaml"
    outside.write_text("secret_key: 机密值\n", encoding="utf-8")
    root = site_root(tmp_path)
    (root / "content" / "2020" / "x.yaml").symlink_to(outside)
    _, lines = problems_of(root)
    mine = [line for line in lines if line.startswith("content/2020/x.yaml")]
    assert len(mine) == 1 and "指向 content/ 之外" in mine[0], lines
    assert "secret" not in "\n".join(lines) and "机密" not in "\n".join(lines)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_d3_symlink_to_a_device_ends_at_once(tmp_path, device):
    """D3: /dev/zero made build run until the OOM killer; /dev/urandom a MemoryError traceback."""
    root = site_root(tmp_path)
    (root / "content" / "2020" / "zero.yaml").symlink_to(device)
    started = time.monotonic()
    run = check_command(root)
    assert time.monotonic() - started < 30
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr[-2000:]
    assert "content/2020/zero.yaml:1:1: error:" in run.stdout


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_item5_a_device_is_refused_without_reading(device):
    """Item 5: read_text (content files and the config) refuses a device by its name: it is
    never opened, so it can neither block nor fill memory."""
    code = ("import sys; from pathlib import Path; from gongkai import load; "
            "text, problems = load.read_text(Path(sys.argv[1]), 'site_config.yaml'); "
            "print(text is None, len(problems)); print(problems[0].format())")
    run = limited([sys.executable, "-c", code, device], REPO, timeout=30)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.startswith("True 1\nsite_config.yaml:1:1: error: 不是普通文件，而是字符设备；没有读取 (hint: ")


def test_item5_a_folder_named_like_a_content_file_is_refused():
    from gongkai.load import read_text
    text, problems = read_text(Path("/tmp"), "content/2020/x.yaml")
    assert text is None and "不是普通文件，而是文件夹" in problems[0].message


def test_d4_fifo_content_file_does_not_hang_check(tmp_path):
    """D4: `mkfifo content/2020/pipe.yaml` hung build, check and serve forever."""
    root = site_root(tmp_path)
    os.mkfifo(root / "content" / "2020" / "pipe.yaml")
    run = check_command(root, timeout=30)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert ("content/2020/pipe.yaml:1:1: error: 不是普通文件，而是命名管道（FIFO）；没有读取 (hint: "
            in run.stdout), run.stdout


def test_d4_symlink_inside_content_to_a_fifo_is_refused(tmp_path):
    """D4: a link inside content/ to a FIFO inside content/ is refused by what it leads to."""
    root = site_root(tmp_path)
    os.mkfifo(root / "content" / "2020" / "100001" / "pipe")
    (root / "content" / "2020" / "p.yaml").symlink_to(root / "content" / "2020" / "100001" / "pipe")
    run = check_command(root, timeout=30)
    assert run.returncode == 1 and "content/2020/p.yaml:1:1: error: 不是普通文件，而是命名管道" in run.stdout


def test_item5_fifo_original_is_refused_by_name(tmp_path):
    """Item 5: an original that is a FIFO is named as such (it was 'not found'), never opened."""
    root = site_root(tmp_path, with_originals("pipe.txt"))
    os.mkfifo(root / "content" / "2020" / "100001" / "pipe.txt")
    years, lines = problems_of(root)
    assert not years
    assert any("originals[0].file: 原件 content/2020/100001/pipe.txt 不是普通文件，而是命名管道（FIFO）；不能发布"
               in line for line in lines), lines


# --- D26: tags on keys ---------------------------------------------------------------------

def test_d26_a_tag_on_a_key_is_refused(tmp_path):
    """D26: `!!python/name:os.system unit: 万元` built with exit 0."""
    errors = errors_of(tmp_path, GOOD.replace("unit: 元\n", "!!python/name:os.system unit: 元\n", 1))
    assert errors == ["content/2020/100001.yaml:6:1: error: 键上的 YAML 标签 `tag:yaml.org,2002:python/name:os.system` "
                      "不允许使用 (hint: 删除键前面的 `!…` 标签；内容文件的键只能是普通的词)"]


def test_d26_a_custom_tag_on_a_nested_key_is_refused(tmp_path):
    errors = errors_of(tmp_path, GOOD.replace("  name: 测试单位\n", "  !include name: 测试单位\n", 1))
    assert len(errors) == 1 and "content/2020/100001.yaml:3:3: error: 键上的 YAML 标签 `!include`" in errors[0]


# --- D27: dates ----------------------------------------------------------------------------

@pytest.mark.parametrize("written", ['"2020-W07-6"', '"20200215"', "2020-2-15", '"2020-02-30"',
                                     '"２０２０-02-15"', '"2020-02-15T10:00"', "2020-02-15 10:00:00"])
def test_d27_only_year_month_day_is_a_date(tmp_path, written):
    """D27: ISO week dates and `20200215` were accepted (through Python 3.11's fromisoformat)."""
    errors = errors_of(tmp_path, with_published(written))
    assert len(errors) == 1, errors
    assert errors[0].startswith("content/2020/100001.yaml:12:14: error: document.published: 应为日期，如 2022-02-15，实为 ")
    assert "(hint: 写成“年-月-日”：四位年份、两位月份、两位日期" in errors[0]


@pytest.mark.parametrize("written", ["0001-01-01", "2018-12-31", "2022-01-01", "9999-12-31"])
def test_d27_a_date_far_from_the_documents_year_is_refused(tmp_path, written):
    """D27: `0001-01-01` was accepted for a 2020 document."""
    errors = errors_of(tmp_path, with_published(written))
    assert errors == [f"content/2020/100001.yaml:12:14: error: document.published: 日期 {written} 与文件年度 2020 "
                      "相差太远（应在 2019-01-01 到 2021-12-31 之间） (hint: 写成“年-月-日”：四位年份、两位月份、两位日期，"
                      "如 2022-02-15，且须是日历上真实存在的日期，在文件年度的前一年 1 月 1 日到后一年 12 月 31 日之间；"
                      "原文没有印日期时，删去这一项)"]


@pytest.mark.parametrize("written", ["2019-01-01", "2020-02-29", '"2020-02-15"', "2021-12-31"])
def test_d27_plausible_dates_are_accepted(tmp_path, written):
    years, lines = problems_of(site_root(tmp_path, with_published(written)))
    assert years and not [line for line in lines if ": error: " in line]
    assert years[0].year.document.published.isoformat() == written.strip('"')


# --- D7, item 4: bounded work --------------------------------------------------------------

@pytest.mark.parametrize("run", ["[", "![a", "[*", "[\n"])
def test_d7_markdown_that_takes_minutes_is_refused_fast(tmp_path, run):
    """D7: 1 MB of `[` in a text block took 64 s to build, `![a`×200k 24 s. A 200 KB run
    (8 s or more to render before) is refused at the field, in a few seconds (the limit
    here allows for a loaded machine)."""
    text = with_text("正文。" + run * (200_000 // len(run)))
    started = time.monotonic()
    years, lines = problems_of(site_root(tmp_path, text))
    elapsed = time.monotonic() - started
    assert not years
    assert any(line.startswith("content/2020/100001.yaml:18:15: error: parts[0].sections[0].text: "
                               "Markdown 文本中的方括号 `[` 太多或没有配对，生成页面会耗时过长 (hint: ")
               for line in lines), lines[:3]
    assert elapsed < 20, elapsed


def test_d7_the_budget_is_per_file_not_per_field(tmp_path):
    """D7: many fields, each under the limit alone, add up to one refusal for the file."""
    many = "".join(f"      - title: 节{i}\n        text: \"{'[' * 3000}\"\n" for i in range(60))
    text = GOOD.replace("    sections:\n", "    sections:\n" + many, 1)
    years, lines = problems_of(site_root(tmp_path, text))
    assert not years
    assert sum("方括号 `[` 太多" in line for line in lines) == 1, lines[:3]


def test_d7_real_links_and_citations_are_accepted_and_rendered_as_before(tmp_path):
    """Text with many links and bracketed document numbers (冀财资[2017]674号) is accepted."""
    paragraph = "依据冀财资[2017]674号文件，详见[通知](http://www.example.gov.cn/a.html)。" * 2000
    years, lines = problems_of(site_root(tmp_path, with_text(paragraph + "\n\n" + paragraph)))
    assert years and not [line for line in lines if ": error: " in line], lines[:3]


@pytest.mark.parametrize("run", ["*_", "1. a\n"])
def test_item4_markdown_too_dense_with_marks_is_refused_once(tmp_path, run):
    """Item 4: linear but slow markup (1 MB of `*_` took 8 s, 2 MB 20 s; a list item costs
    33 µs) is capped per file: emphasis marks plus 3 per line end."""
    text = with_text("正文。" + run * (900_000 // len(run)))
    years, lines = problems_of(site_root(tmp_path, text))
    assert not years
    assert [line for line in lines if "强调符号" in line] == [
        "content/2020/100001.yaml:18:15: error: parts[0].sections[0].text: 本文件的 Markdown 文本中强调符号（* _ ~）"
        "和换行过多（换行按 3 个计，超过 400,000 个），生成页面会耗时过长 (hint: 真实的文件不会有这么多：请检查是否粘贴了"
        "多余内容；不是强调的 * 和 _ 请写成 \\* 和 \\_)"]


def test_item4_a_whole_number_of_5000_digits_is_an_error_not_a_traceback(tmp_path):
    """Item 4: `year:` with 5,000 digits raised ValueError (int() refuses 4,300 digits)."""
    errors = errors_of(tmp_path, GOOD.replace("year: 2020", "year: " + "2" * 5000, 1))
    assert errors[0].startswith("content/2020/100001.yaml:1:7: error: year: 整数有 5,000 位，超过 18 位的上限")


def test_item4_an_amount_of_more_than_100_digits_is_refused(tmp_path):
    errors = errors_of(tmp_path, GOOD.replace("budget: 4000.00", "budget: " + "9" * 101, 1))
    assert errors == ["content/2020/100001.yaml:28:17: error: parts[1].projects[0].budget: 金额有 101 个字符，"
                      "超过 100 位数字的上限 (hint: 金额照原文填写；这么长的数字不是金额，请检查是否粘贴了多余内容)"]


# --- D8: deep nesting ----------------------------------------------------------------------

def test_d8_text_nested_120_quotes_deep_is_refused_at_its_line(tmp_path):
    """D8: 120 `>` before 深处文字XYZ built with exit 0 and the phrase on no page."""
    errors = errors_of(tmp_path, with_text("总体目标。\n" + ">" * 120 + " 深处文字XYZ"))
    assert errors == ["content/2020/100001.yaml:20:11: error: parts[0].sections[0].text: Markdown 引用（`>`）和列表"
                      "嵌套超过 32 层；更深处的文字不会出现在页面上 (hint: 减少嵌套层数；如果 `>` 是原文文字，请写成 `\\>`)"]


def test_d8_lists_nested_60_deep_are_refused(tmp_path):
    """D8: lists lose their text at 50 levels (a list and its item are two of markdown-it's 100)."""
    lists = "\n".join("  " * i + "- 第" + str(i) + "层" for i in range(60)) + "\n" + "  " * 60 + "深处文字XYZ"
    errors = errors_of(tmp_path, with_text(lists))
    assert len(errors) == 1 and "嵌套超过 32 层" in errors[0]
    assert errors[0].startswith("content/2020/100001.yaml:51:11: error: parts[0].sections[0].text: ")


def test_d8_nesting_up_to_the_limit_renders_whole(tmp_path):
    root = site_root(tmp_path, with_text("> " * 32 + "深处文字XYZ"))
    years, lines = problems_of(root)
    assert years and not [line for line in lines if ": error: " in line]
    site, problems = render_site(Config(title="t", owner="o", regions=("测试区",), root=root), years)
    assert site is not None, problems
    assert "深处文字XYZ" in site.files["2020/100001/index.html"].decode("utf-8")


# --- D25: invisible characters written as entities -----------------------------------------

def test_d25_entities_of_invisible_characters_get_the_note_and_the_refusal(tmp_path):
    """D25: `&#x202E;`, `&#x2028;`, `&#x200B;` reached the page as the characters, with no note."""
    years, lines = problems_of(site_root(tmp_path, with_text("总体&#x202E;目标。\n第二&#x2028;行&ZeroWidthSpace;。")))
    assert not years
    assert lines == [
        "content/2020/100001.yaml:19:13: note: parts[0].sections[0].text: 字符引用 `&#x202E;` 表示不可见字符 "
        "U+202E（RIGHT-TO-LEFT OVERRIDE），将按原样发布 (hint: 除非原文印有它，否则请删除：它会妨碍搜索，还可能改变文字的显示顺序)",
        "content/2020/100001.yaml:20:13: error: parts[0].sections[0].text: 字符引用 `&#x2028;` 表示不可见字符 "
        "U+2028（LINE SEPARATOR），不允许使用 (hint: 删除它；页面、订阅和数据文件不能包含这个字符)"]


@pytest.mark.parametrize("entity", ["&#x200B;", "&#8203;", "&ZeroWidthSpace;", "&lrm;", "&#X202e;"])
def test_d25_each_spelling_of_an_invisible_character_is_noted(tmp_path, entity):
    years, lines = problems_of(site_root(tmp_path, with_text(f"总体{entity}目标。")))
    assert years and len(lines) == 1 and f"字符引用 `{entity}` 表示不可见字符" in lines[0] and ": note: " in lines[0]


@pytest.mark.parametrize("entity", ["&#x0C;", "&#0;", "&#x2029;", "&#133;"])
def test_d25_entities_of_control_characters_are_refused(tmp_path, entity):
    errors = errors_of(tmp_path, with_text(f"总体{entity}目标。"))
    assert len(errors) == 1 and f"字符引用 `{entity}` 表示不可见字符" in errors[0] and "不允许使用" in errors[0]


def test_d25_ordinary_entities_are_fine(tmp_path):
    years, lines = problems_of(site_root(tmp_path, with_text("A&amp;B &lt;x&gt; &#20013; &copy;")))
    assert years and lines == []


# --- D21: exact derived sums ---------------------------------------------------------------

def test_d21_a_60_digit_budget_equal_to_its_fiscal_amount_gets_no_note_and_no_e_notation(tmp_path):
    """D21: the 28-digit default context made 60 equal digits '不一致' and the total 1.23…E+59."""
    big = "123456789012345678901234567890123456789012345678901234567890.25"
    text = GOOD.replace("budget: 4000.00", f"budget: {big}").replace("fiscal: 4000.00", f"fiscal: {big}")
    years, lines = problems_of(site_root(tmp_path, text))
    assert years and not [line for line in lines if "不一致" in line], lines
    assert str(years[0].total_budget) == big


def test_d21_sums_and_shares_stay_exact():
    from decimal import Decimal
    from gongkai.model import Agency, AgencyYear, Part, PlanPoint, Project
    big, double = Decimal("9" * 60 + ".99"), Decimal("1" + "9" * 60 + ".98")
    project = Project(title="t", budget=double, fiscal=big, other=big,
                      plan=(PlanPoint("一季度", big), PlanPoint("四季度", double)))
    year = AgencyYear(year=2020, agency=Agency("a", "测试区", "1"), unit="元",
                      parts=(Part("p", projects=(project, project)),))
    facts = derive_year(year)
    assert str(facts.total_budget) == "3" + "9" * 60 + ".96"
    assert [row.percent for row in facts.projects[0].plan] == [Decimal("50.00"), Decimal("100.00")]
    assert facts.projects[0].notes == ("资金支出计划表头为“（%）”，但所列数值是以元计的累计金额（按与预算数一致判断）。",)


# --- D20: names Windows or a case-insensitive disk cannot hold ------------------------------

@pytest.mark.parametrize("name, why", [
    ("CON", "是 Windows 保留的设备名"), ("NUL.pdf", "是 Windows 保留的设备名"), ("aux.txt", "是 Windows 保留的设备名"),
    ("com1.docx", "是 Windows 保留的设备名"), ("a.txt.", "以句点或空格结尾"), ("b.txt ", "以句点或空格结尾"),
    ("*?.txt", "含有 Windows 文件名不允许的字符 *?"), ('a"b.txt', '不允许的字符 "'), ("报告:1.txt", "不允许的字符 :"),
])
def test_d20_original_names_windows_cannot_hold_are_refused(tmp_path, name, why):
    """D20: originals named CON, NUL.pdf, aux.txt, a.txt., 'b.txt ', *?.txt all built."""
    errors = errors_of(tmp_path, with_originals(name))
    assert len(errors) == 1 and errors[0].startswith(
        f"content/2020/100001.yaml:8:11: error: originals[0].file: 文件名 {name!r} "), errors
    assert why in errors[0] and "发布到 Windows 服务器时无法保存 (hint: " in errors[0]


def test_d20_originals_differing_only_in_case_are_refused(tmp_path):
    """D20: `A.txt` and `a.txt` are one file on Windows and a default macOS disk."""
    root = site_root(tmp_path, with_originals("A.txt", "a.txt"))
    for name in ("A.txt", "a.txt"):
        (root / "content" / "2020" / "100001" / name).write_text(name, encoding="utf-8")
    years, lines = problems_of(root)
    assert not years and lines == [
        "content/2020/100001.yaml:10:11: error: originals[1].file: 文件名 'a.txt' 与 originals[0] 的 'A.txt' 只有"
        "大小写不同；在 Windows 和 macOS 上它们是同一个文件 (hint: 给其中一个文件换一个名字)"]


@pytest.mark.parametrize("key, value", [("code", '"CON"'), ("code", "Aux"), ("slug", "nul")])
def test_d20_an_agency_named_like_a_windows_device_is_refused(tmp_path, key, value):
    text = GOOD.replace('  code: "100001"\n', f'  code: "100001"\n  {key}: {value}\n' if key == "slug"
                        else f"  code: {value}\n", 1)
    errors = errors_of(tmp_path, text)
    assert any(f"agency.{key}: '{value.strip(chr(34))}' 是 Windows 保留的设备名" in e for e in errors), errors


def test_d20_project_pages_never_take_a_device_name_or_a_case_only_twin(tmp_path):
    """D20: project codes `CON`, `P001`, `p001` gave folders CON/, P001/ and p001/. A device
    name is not a code that can name a page (its position is used), also with a dot."""
    project = GOOD[GOOD.index("      - number: 1、"):]
    projects = "".join(project.replace("287-0601-JBN-CK81", code) for code in ("CON", "P001", "p001", "P001-3", "aux.1"))
    years, lines = problems_of(site_root(tmp_path, GOOD[:GOOD.index("      - number: 1、")] + projects))
    assert years and not [line for line in lines if ": error: " in line], lines
    slugs = [pf.slug for pf in years[0].projects]
    assert slugs == ["1", "P001", "p001-3", "P001-3-4", "5"]
    assert len({s.casefold() for s in slugs}) == len(slugs)


def test_d21_notes_never_write_amounts_in_e_notation(tmp_path):
    """D21: a note wrote 0.0000001 as 1E-7 (str of a Decimal)."""
    text = GOOD.replace("budget: 4000.00", "budget: 0.0000001").replace("fiscal: 4000.00", "fiscal: 0.00000020")
    years, lines = problems_of(site_root(tmp_path, text))
    assert years and "财政资金 0.00000020 + 其他资金（空白） = 0.00000020元，与预算数 0.0000001元 不一致。" in "\n".join(lines)


def test_d21_a_tiny_amount_is_published_as_printed_never_in_e_notation(tmp_path):
    """D21: an amount printed 0.0000001 is Decimal('1E-7'); str() wrote `1E-7` on the pages,
    in the JSON and in the CSVs. It is written with the printed digits everywhere."""
    text = GOOD.replace("budget: 4000.00", "budget: 0.0000001", 1).replace("fiscal: 4000.00", "fiscal: 0.0000001", 1)
    root = site_root(tmp_path, text)
    years, lines = problems_of(root)
    assert years, lines
    site, problems = render_site(Config(title="t", owner="o", regions=("测试区",), root=root), years)
    assert site is not None, problems
    published = b"".join(data for path, data in site.files.items() if not path.startswith("assets/"))
    assert b"0.0000001" in published and b"1E-7" not in published


def test_d20_two_agency_years_whose_codes_differ_only_in_case_are_refused(tmp_path):
    """D20: content/2020/AB.yaml and ab.yaml would be one folder on a Windows or macOS server."""
    root = site_root(tmp_path)
    (root / FILE).unlink()
    for code in ("AB", "ab"):
        (root / "content" / "2020" / f"{code}.yaml").write_text(
            GOOD.replace('code: "100001"', f'code: "{code}"', 1), encoding="utf-8")
    years, lines = problems_of(root)
    assert any("只有大小写不同" in line for line in lines), lines


def test_d3_an_excerpt_never_quotes_a_linked_file(tmp_path):
    """D3: serve and check print the offending line under an error; for a content file that
    is a symbolic link (to /etc/passwd here) nothing of the target is quoted."""
    from gongkai.console import excerpt_of
    from gongkai.errors import Problem
    root = site_root(tmp_path)
    (root / "content" / "2020" / "pw.yaml").symlink_to("/etc/passwd")
    assert excerpt_of(Problem("content/2020/pw.yaml", 1, 1, "x"), root) == ""
    assert excerpt_of(Problem(FILE, 1, 1, "x"), root) != ""


@pytest.mark.parametrize("old, new", [("unit: 元", 'unit: ""'), ("unit: 元", "unit: '   '")])
def test_a_unit_left_empty_is_refused(tmp_path, old, new):
    """A unit written as an empty or blank string (`unit: ""`) was accepted and an empty unit
    published (found trying inputs outside the defect list, like D6 for content). A unit the
    document does not print is left out; then the pages say 未注明."""
    assert old in GOOD
    errors = errors_of(tmp_path, GOOD.replace(old, new, 1))
    assert any(": error: unit: 单位为空" in line for line in errors), errors
