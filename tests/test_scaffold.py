"""`build.py new` scaffolds a file that passes `check` and never overwrites one."""
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(args, cwd):
    return subprocess.run([sys.executable, str(ROOT / "build.py"), *args], cwd=cwd,
                          capture_output=True, text=True)


def test_new_file_is_valid_and_complete(tmp_path):
    shutil.copy(ROOT / "site_config.yaml", tmp_path)
    made = run(["new", "--year", "2023", "--agency-code", "999001", "--name", '测试"单位'], tmp_path)
    assert made.returncode == 0, made.stderr
    text = (tmp_path / "content" / "2023" / "999001.yaml").read_text(encoding="utf-8")
    for heading in ("总体绩效目标", "分项绩效目标", "工作保障措施", "预算项目绩效目标", "indicators:"):
        assert heading in text
    assert 'name: "测试\\"单位"' in text
    checked = run(["check"], tmp_path)
    assert checked.returncode == 0, checked.stdout


def test_new_refuses_to_overwrite_and_unknown_region(tmp_path):
    shutil.copy(ROOT / "site_config.yaml", tmp_path)
    args = ["new", "--year", "2023", "--agency-code", "999001", "--name", "x"]
    assert run(args, tmp_path).returncode == 0
    again = run(args, tmp_path)
    assert again.returncode == 1 and "已存在" in again.stderr
    bad = run(["new", "--year", "2023", "--agency-code", "999002", "--name", "x", "--region", "火星"], tmp_path)
    assert bad.returncode == 1 and "没有列在 site_config.yaml" in bad.stderr
