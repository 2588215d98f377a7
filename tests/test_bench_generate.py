"""The benchmark's synthetic content (bench/generate.py): deterministic, valid, and the same
records for Gongkai, Hugo and MkDocs. Fast (30 projects); no timing is asserted here."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bench.generate import generate, indicator_spans

REPO = Path(__file__).resolve().parent.parent
N = 30


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("bench") / "a"
    return out, generate(out, projects=N, seed=7)


def test_same_seed_gives_identical_bytes(generated, tmp_path):
    out, _ = generated
    generate(tmp_path / "b", projects=N, seed=7)
    assert tree(out) == tree(tmp_path / "b")
    generate(tmp_path / "c", projects=N, seed=8)
    assert tree(out / "gongkai") != tree(tmp_path / "c" / "gongkai")


def test_gongkai_content_passes_check_with_zero_errors(generated):
    out, _ = generated
    project = out / "gongkai"
    done = subprocess.run([sys.executable, "build.py", "check", "--config", str(project / "site_config.yaml"),
                           str(project / "content")], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "：0 个错误" in done.stderr, done.stderr
    assert ": error:" not in done.stdout


def test_content_shape_follows_the_specification(generated):
    out, manifest = generated
    files = sorted((out / "gongkai" / "content").rglob("*.yaml"))
    assert len(files) == manifest["agency_years"] and len(files) >= 3
    projects = []
    for path in files:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        assert path.name == f"{data['agency']['code']}.yaml" and path.parent.name == str(data["year"])
        found = [p for part in data["parts"] for p in part.get("projects", [])]
        assert 1 <= len(found) <= 15
        projects += found
    assert len(projects) == N
    for project in projects:
        rows = project["indicators"]
        assert 6 <= len(rows) <= 10
        assert "level1" in rows[0] and "level2" in rows[0]
        assert any("level1" not in row for row in rows)          # merged cells, as printed
        assert sum(s1 for s1, _ in indicator_spans(rows)) == len(rows)
    raw = (out / "gongkai" / files[0].relative_to(out / "gongkai")).read_text(encoding="utf-8")
    assert "budget: '" not in raw and 'budget: "' not in raw   # amounts are unquoted decimals


def test_hugo_and_mkdocs_inputs_hold_the_same_pages(generated):
    out, manifest = generated
    hugo, mkdocs = out / "hugo", out / "mkdocs"
    for path in ("config.toml", "layouts/_default/single.html", "layouts/_default/list.html",
                 "layouts/_default/baseof.html", "static/style.css", "content/_index.md"):
        assert (hugo / path).is_file(), path
    assert (mkdocs / "mkdocs.yml").is_file() and (mkdocs / "theme" / "main.html").is_file()
    hugo_pages = [p for p in (hugo / "content").rglob("*.md") if p.name != "_index.md"]
    mkdocs_pages = [p for p in (mkdocs / "docs").rglob("*.md") if p.name != "index.md"]
    assert len(hugo_pages) == len(mkdocs_pages) == N
    assert {p.relative_to(hugo / "content").with_suffix("") for p in hugo_pages} == \
        {p.relative_to(mkdocs / "docs").with_suffix("") for p in mkdocs_pages}
    sample = manifest["sample"]
    rel = Path(str(sample["year"]), sample["agency"], sample["code"] + ".md")
    assert sample["name"] in (hugo / "content" / rel).read_text(encoding="utf-8")
    assert sample["name"] in (mkdocs / "docs" / rel).read_text(encoding="utf-8")
    config = yaml.safe_load((mkdocs / "mkdocs.yml").read_text(encoding="utf-8"))
    assert len(config["nav"]) <= 5            # a constant-size nav (every page in it is N²)


def test_outputs_are_set_aside_before_a_timed_run_and_deleted_after(tmp_path, monkeypatch):
    """A clean build must not start right after a big delete (ext4 without a journal scans
    past recently freed inodes): outputs move to the trash and go only at the end."""
    from bench import run
    monkeypatch.setattr(run, "TRASH", tmp_path / "trash")
    monkeypatch.setattr(run, "TRASH_EMPTIED", tmp_path / "trash-emptied")
    monkeypatch.setattr(run, "REPO", tmp_path)
    out = tmp_path / "build" / "gongkai"
    for n in range(2):
        (out / "2020").mkdir(parents=True)
        (out / "2020" / "index.html").write_text(f"run {n}", encoding="utf-8")
        run.set_aside(out)
        assert not out.exists()
    kept = sorted(p.name for p in (tmp_path / "trash").iterdir())
    assert len(kept) == 2 and all(name.endswith("-gongkai") for name in kept)
    run.set_aside(tmp_path / "missing")          # nothing there: nothing to do
    run.empty_trash()
    assert not (tmp_path / "trash").exists() and (tmp_path / "trash-emptied").is_file()


def test_a_run_right_after_another_waits_for_freed_inodes(tmp_path, monkeypatch):
    from bench import run
    slept = []
    monkeypatch.setattr(run, "TRASH_EMPTIED", tmp_path / "trash-emptied")
    monkeypatch.setattr(run.time, "sleep", slept.append)
    run.wait_for_freed_inodes()                                  # never emptied: no wait
    (tmp_path / "trash-emptied").write_text(f"{run.time.time() - 100:.0f}\n")
    run.wait_for_freed_inodes()
    (tmp_path / "trash-emptied").write_text(f"{run.time.time() - 1000:.0f}\n")
    run.wait_for_freed_inodes()                                  # long ago: no wait
    assert len(slept) == 1 and 250 <= slept[0] <= 261
