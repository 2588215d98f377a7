"""One site built on several machines (issue 18, item 4): `build.py build --shard …` into
shard folders, `build.py merge` into the site, byte-identical to `build.py build` of the
same content (every file, the marker and the search index included): on the seeds in three
shards, and on 3,000 generated projects in shards of regions and of one region's years."""
from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import harness

BUILD = str(harness.REPO_ROOT / "build.py")
SEEDS = ("秦皇岛市山海关区", "秦皇岛市北戴河区", "石家庄市正定县")


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
    return subprocess.run([sys.executable, BUILD, *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=900)


def same_tree(a: Path, b: Path) -> list[str]:
    """Paths that differ between two folders (missing on one side, or other bytes)."""
    found = []
    for folder, dirs, files in os.walk(a):
        rel = Path(folder).relative_to(a)
        for name in files:
            other = b / rel / name
            if not other.is_file() or not filecmp.cmp(Path(folder) / name, other, shallow=False):
                found.append(str(rel / name))
    for folder, dirs, files in os.walk(b):
        rel = Path(folder).relative_to(b)
        found += [str(rel / n) for n in files if not (a / rel / n).is_file()]
    return sorted(set(found))


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> Path:
    """A git copy of the repository's content (dates and corrections come from git)."""
    root = tmp_path_factory.mktemp("seeds") / "p"
    root.mkdir()
    shutil.copy(harness.REPO_ROOT / "site_config.yaml", root)
    shutil.copytree(harness.REPO_ROOT / "content", root / "content")
    for cmd in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@example.invalid",
                                                 "commit", "-qm", "content"]):
        subprocess.run(["git", *cmd], cwd=root, check=True, capture_output=True)
    return root


def test_seeds_in_three_shards_merge_into_the_same_site(seeds: Path, tmp_path: Path):
    for region in SEEDS:
        done = run(seeds, "build", "--shard", region, "--output", str(tmp_path / region))
        assert done.returncode == 0, done.stdout + done.stderr
        assert not (tmp_path / region / "index.html").exists()   # no site-wide page in a shard
    merged = run(seeds, "merge", *(str(tmp_path / r) for r in SEEDS), "--output", str(tmp_path / "merged"))
    assert merged.returncode == 0, merged.stdout + merged.stderr
    single = run(seeds, "build", "--output", str(tmp_path / "single"))
    assert single.returncode == 0, single.stdout + single.stderr
    assert (tmp_path / "single" / "search-index" / "meta.bin").is_file()
    assert same_tree(tmp_path / "single", tmp_path / "merged") == []


def test_a_shard_carries_its_search_records_and_the_merge_reads_no_page_for_search(seeds: Path, tmp_path: Path):
    """Each shard holds what search keeps of its pages (_shard-search.bin); the merge makes
    the index from those alone (a shard whose records name another text gives that text
    to search) and refuses records it cannot read, leaving no site behind."""
    from gongkai.search import PageRecords, pack_records, unpack_records
    from gongkai.search.index import read_words
    for region in SEEDS:
        assert run(seeds, "build", "--shard", region, "--output", str(tmp_path / region)).returncode == 0
    packed = tmp_path / SEEDS[0] / "_shard-search.bin"
    (tmp_path / "records").mkdir()
    records = PageRecords(tmp_path / "records")
    unpack_records(packed, records)
    assert records.facets and all(rel.startswith(("2020/", "2022/")) for rel in records.facets)
    data = packed.read_bytes()
    # Same size (the shard stays intact by its marker), another search word in the records.
    packed.write_bytes(data.replace("编码".encode(), "编号".encode()))
    merged = run(seeds, "merge", *(str(tmp_path / r) for r in SEEDS), "--output", str(tmp_path / "merged"))
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert read_words(tmp_path / "merged" / "search-index", "编号")
    assert not any("编号" in p.read_text(encoding="utf-8") for p in (tmp_path / "merged").rglob("*.html"))
    packed.write_bytes(data[:len(data) // 2] + b"x" * (len(data) - len(data) // 2))
    broken = run(seeds, "merge", *(str(tmp_path / r) for r in SEEDS), "--output", str(tmp_path / "broken"))
    assert broken.returncode == 1 and "无法读取分片的搜索记录" in broken.stdout + broken.stderr
    assert not (tmp_path / "broken").exists()
    assert pack_records(records, tmp_path / "again.bin") == len(data)


def test_merge_refuses_a_missing_shard_an_overlap_and_a_foreign_folder(seeds: Path, tmp_path: Path):
    for name, shard in (("a", "秦皇岛市山海关区"), ("b", "石家庄市正定县"), ("c", "石家庄市正定县/2022")):
        assert run(seeds, "build", "--shard", shard, "--output", str(tmp_path / name)).returncode == 0
    out = tmp_path / "out"
    missing = run(seeds, "merge", str(tmp_path / "a"), str(tmp_path / "b"), "--output", str(out), "--no-search")
    assert missing.returncode == 1 and "content/2020/203002.yaml: error: 这个部门年度不在任何分片中" in missing.stdout + missing.stderr
    assert run(seeds, "build", "--shard", "秦皇岛市北戴河区", "--output", str(tmp_path / "d")).returncode == 0
    overlap = run(seeds, "merge", *(str(tmp_path / n) for n in "abcd"), "--output", str(out), "--no-search")
    assert overlap.returncode == 1 and "这个部门年度在两个分片中" in overlap.stdout + overlap.stderr
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "index.html").write_text("x")
    foreign = run(seeds, "merge", str(tmp_path / "a"), str(tmp_path / "foreign"), "--output", str(out))
    assert foreign.returncode == 1 and "不是 build.py build --shard 生成的完整分片" in foreign.stdout + foreign.stderr
    assert not out.exists()
    unknown = run(seeds, "build", "--shard", "北京市", "--output", str(tmp_path / "x"))
    assert unknown.returncode == 2 and "regions 中没有地区“北京市”" in unknown.stdout + unknown.stderr
    no_output = run(seeds, "build", "--shard", "石家庄市正定县")
    assert no_output.returncode == 2 and "--shard 需要 --output" in no_output.stderr


def test_an_edit_changes_the_key_of_its_shard_only(seeds: Path, tmp_path: Path):
    project = tmp_path / "p"
    shutil.copytree(seeds, project)
    keys = {r: run(project, "shard-key", "--shard", r).stdout.strip() for r in SEEDS}
    assert len(set(keys.values())) == 3 and all(len(k) == 64 for k in keys.values())
    source = project / "content" / "2022" / "287001.yaml"     # 石家庄市正定县
    source.write_text(source.read_text(encoding="utf-8").replace("name: ", "name: 改", 1), encoding="utf-8")
    after = {r: run(project, "shard-key", "--shard", r).stdout.strip() for r in SEEDS}
    assert [r for r in SEEDS if after[r] != keys[r]] == ["石家庄市正定县"]


def test_generated_site_of_3000_projects_in_shards(tmp_path: Path):
    """3,000 generated projects (bench/generate.py): shards of several regions each and one
    region split by year; the merge equals a single build, search index included."""
    subprocess.run([sys.executable, "-m", "bench.generate", str(tmp_path / "gen"), "--projects", "3000",
                    "--tools", "gongkai", "--quiet"], cwd=harness.REPO_ROOT, check=True, capture_output=True)
    project = tmp_path / "gen" / "gongkai"
    regions = yaml.safe_load((project / "site_config.yaml").read_text(encoding="utf-8"))["regions"]
    years = sorted(p.name for p in (project / "content").iterdir() if p.name.isdigit())
    assert len(regions) >= 4 and len(years) >= 2
    first, rest = regions[0], regions[1:]
    groups = [[f"{first}/{year}"] for year in years] + [rest[i::3] for i in range(3)]
    folders = []
    for n, group in enumerate(groups):
        folder = tmp_path / f"shard-{n}"
        args = [a for region in group for a in ("--shard", region)]
        done = run(project, "build", *args, "--output", str(folder))
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        folders.append(str(folder))
    merged = run(project, "merge", *folders, "--output", str(tmp_path / "merged"))
    assert merged.returncode == 0, merged.stdout[-2000:] + merged.stderr[-2000:]
    single = run(project, "build", "--output", str(tmp_path / "single"))
    assert single.returncode == 0, single.stderr[-2000:]
    pages = sum(1 for _ in (tmp_path / "single").rglob("*.html"))
    assert pages >= 3000
    assert same_tree(tmp_path / "single", tmp_path / "merged") == []
