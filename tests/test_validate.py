"""Every class of invalid input gives its exact message with file, line and column.

Each folder in tests/fixtures/invalid/ holds a small content/ tree and `expected.txt`, the
exact problem lines. After a deliberate change of wording, regenerate with:
    .venv/bin/python tests/test_validate.py --regenerate
"""
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from gongkai.config import Config
from gongkai.site import load

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "invalid"
CASES = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())


def problems_of(case: str) -> str:
    config = Config(title="t", owner="o", regions=("测试区",), root=FIXTURES / case)
    years, problems = load(config)
    assert not years, "an invalid file must not produce a model"
    return "\n".join(p.format() for p in problems)


def test_there_is_a_fixture_per_error_class():
    expected = {"syntax", "tabs", "duplicate_key", "anchor_alias", "unknown_key", "wrong_types",
                "missing_required", "unsafe_originals", "python_tag", "wrong_location",
                "unknown_region", "javascript_link", "empty", "gbk",
                "tagged_key", "bad_date", "windows_names", "markdown_limits"}
    assert expected <= set(CASES)


@pytest.mark.parametrize("case", CASES)
def test_exact_messages(case):
    expected = (FIXTURES / case / "expected.txt").read_text(encoding="utf-8").strip()
    assert problems_of(case) == expected


def test_each_message_names_file_line_and_column():
    for case in CASES:
        for line in (FIXTURES / case / "expected.txt").read_text(encoding="utf-8").splitlines():
            file, lineno, column, rest = line.split(":", 3)
            assert file == "content/2020/100001.yaml" and int(lineno) >= 1 and int(column) >= 1
            assert rest.startswith(" error: ")


def test_all_problems_of_a_file_at_once():
    assert len((FIXTURES / "wrong_types" / "expected.txt").read_text().splitlines()) == 5


def test_alias_bomb_is_refused_fast(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i-1}"] * 9) + "]" for i in range(1, 30)]
    path = tmp_path / "content" / "2020" / "bomb.yaml"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(lines) + "\n")
    config = Config(title="t", owner="o", regions=(), root=tmp_path)
    years, problems = load(config)
    assert not years
    assert any("锚点（anchor）`&a0`" in p.message for p in problems)


def test_check_command_exit_codes(tmp_path):
    bad = FIXTURES / "unknown_key" / "content"
    run = subprocess.run([sys.executable, "build.py", "check", str(bad)], cwd=ROOT,
                         capture_output=True, text=True)
    assert run.returncode == 1
    assert "budjet: 未知的键 (hint: 是否想写 'budget'？)" in run.stdout
    assert "Traceback" not in run.stderr


def test_amounts_keep_printed_digits(tmp_path):
    case = FIXTURES / "unknown_key" / "content" / "2020" / "100001.yaml"
    good = tmp_path / "content" / "2020" / "100001.yaml"
    good.parent.mkdir(parents=True)
    good.write_text(case.read_text(encoding="utf-8").replace("budjet", "budget"), encoding="utf-8")
    years, problems = load(Config(title="t", owner="o", regions=("测试区",), root=tmp_path))
    assert not [p for p in problems if p.is_error]
    project = years[0].year.projects[0]
    assert project.budget == Decimal("4000.00") and str(project.budget) == "4000.00"


if __name__ == "__main__" and "--regenerate" in sys.argv:
    for case in CASES:
        (FIXTURES / case / "expected.txt").write_text(problems_of(case) + "\n", encoding="utf-8")


def test_cache_returns_same_model_and_sees_every_change(tmp_path):
    from gongkai.cache import ParseCache
    from gongkai.validate import validate_file
    source = FIXTURES / "unknown_key" / "content" / "2020" / "100001.yaml"
    path = tmp_path / "content" / "2020" / "100001.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(source.read_text(encoding="utf-8").replace("budjet", "budget"), encoding="utf-8")
    config = Config(title="t", owner="o", regions=("测试区",), root=tmp_path)
    cache = ParseCache(tmp_path / ".cache")

    def read(cache=None):
        return validate_file(path, config.content_dir, config.regions, "content/2020/100001.yaml", cache)

    clean, _ = read()
    cold, _ = read(cache)
    warm, _ = read(cache)
    assert clean == cold == warm and any((tmp_path / ".cache").rglob("*"))
    path.write_text(path.read_text(encoding="utf-8").replace("4000.00", "4000.50", 1), encoding="utf-8")
    changed, _ = read(cache)
    assert str(changed.projects[0].budget) == "4000.50"
    path.write_text(path.read_text(encoding="utf-8").replace("budget", "budjet", 1), encoding="utf-8")
    broken, problems = read(cache)
    assert broken is None and any("budjet" in p.key for p in problems)
