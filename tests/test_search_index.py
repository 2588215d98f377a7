"""The search index, Python side: the bigram encoding (gongkai/searchtext.py), the shadow
pages, the Pagefind binary checks and the index itself (gongkai/search/)."""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from gongkai import searchtext
from gongkai.search import build_index
from gongkai.search.bundle import CHUNKS_FILE, KEYS_FILE, PAGES_FILE, PARTS_FILE, UNUSED_FILES, read_meta
from gongkai.search.pagefind import PAGEFIND_VERSION, SearchIndexError, check_log, pagefind_binary
from gongkai.search.pagefind import run_pagefinds
from gongkai.search.parts import (MAX_PART_PAGES, PAGEFIND_MB_PER_PAGE, SEARCH_MEMORY_MB, at_once, part_count,
                                   reusable_parts, split_pages)
from gongkai.search.shadow import SCRATCH_PREFIX, page_facets, remove_stale_scratch, scratch_dir, shadow_page
from gongkai.searchtext import (OTHER_TOKEN, SPACE_TOKEN, code, decode, encode, encode_string,
                                main_text, norm_text)

REPO = Path(__file__).resolve().parent.parent

# Text as pages hold it: CJK, Latin in both cases, digits, punctuation, all kinds of spaces,
# and a few characters from beyond the BMP.
TEXT = st.text(st.sampled_from(list("老干部正定县秦皇岛ABCXYZabcxyz0123456789.,-%≥（）[]：、。 \u3000\u00a0\t\n")
                               + ["𠀀", "𠀁", "İ"]), max_size=40)


def index_form(s: str) -> str:
    """`s` as an index text, a newline ending a block (searchtext.index_text does this for
    HTML): every other white-space run a printed space inside the block."""
    return searchtext.searchable(s.replace("\n", "\0"))


def plain(text: str) -> str:
    """What decoding an index text gives back: printed spaces and block ends as " ",
    characters that are tokens of their own as ¤."""
    return "".join(c if c.isalnum() or c == " " or unicodedata.category(c)[0] in "PS" else OTHER_TOKEN
                   for c in text.replace("\t", " "))


@given(TEXT)
def test_round_trip(s: str):
    text = index_form(s)
    assert decode(encode(text)) == plain(text)


@given(TEXT)
def test_index_text_is_folded_and_keeps_what_was_printed(s: str):
    """Letters and digits folded, printed punctuation kept, a space inside a block one tab
    (none at the ends), blocks separated by one space; folding it gives `fold` per block."""
    text = index_form(s)
    assert not re.search(r"^[ \t]|[ \t]$|[ \t]{2}", text)
    blocks = [b for b in s.split("\n") if searchtext.fold(b)]
    assert [searchtext.fold(b) for b in (text.split(" ") if text else [])] == [searchtext.fold(b) for b in blocks]


@given(TEXT)
def test_token_i_is_character_i(s: str):
    """One token per character of the index text but its printed spaces, which mark the
    token before them (`~`); a letter or digit pairs with the next one (across a printed
    space) when that is a letter or digit too, else carries `x`; the marks say upper case
    of the first only. No word is the start of another but for a code starting its pairs."""
    index = index_form(s)
    text = index.replace("\t", "")
    spaced = {i - 1 for i in range(len(index)) if index[i] == "\t"}
    spaced = {i - sum(1 for k in range(i) if index[k] == "\t") for i in spaced}
    tokens = encode(index)
    assert len(tokens) == len(text)
    for i, (c, token) in enumerate(zip(text, tokens)):
        assert token.endswith(searchtext.SPACED) == (i in spaced) or c == searchtext.SPACED, (i, token)
        if i in spaced:
            token = token[:-1]
        if c == " ":
            assert token == SPACE_TOKEN
        elif c.isalnum():
            nxt = text[i + 1] if i + 1 < len(text) else ""
            body = token.rstrip("^")
            assert body == code(c) + (code(nxt) if nxt.isalnum() else searchtext.UNPAIRED)
            assert token.endswith("^") == (c.lower() != c and len(c.lower()) == 1)
            assert re.fullmatch(r"[a-z]+\^?", token)
        else:
            assert token in (c, OTHER_TOKEN) and not token.isalnum()
    assert encode_string(index) == " ".join(tokens)
    words = {t.rstrip("^~") for t in tokens if t[0].isalpha() and t.isascii()}
    assert not [(a, b) for a in words for b in words if a != b and b.startswith(a)]


def test_folding_as_documented():
    """docs/search.md "What is folded": width and compatibility variants (NFKC), ≧/≦,
    white space; nothing else (no case, no punctuation class changes beyond NFKC)."""
    fold = searchtext.fold
    assert fold("２０２２ 年度") == fold("2022年度") == "2022年度"
    assert fold("成立 100 周年") == "成立100周年" and fold("12\u3000月\n底") == "12月底"
    assert fold("９０％") == fold("90%") == "90%"
    assert fold("≧90%") == fold("≥90%") == "≥90%" and fold("≦5") == fold("≤5") == "≤5"
    assert fold("⩾1") == "≥1" and fold("＞＜") == "><"
    assert fold("ＡＢｃ") == "ABc"            # case is search's other rule (lower case), not folding
    assert fold("㎡") == "m2" and fold("①") == "1" and fold("（含）") == "(含)"
    assert fold("老干部。、“”") == "老干部。、“”"   # CJK punctuation without a variant stays
    assert fold("e\u0301") == "e\u0301"      # character by character: no composition


def test_index_text_of_html():
    page = ('<main><h1>3.2022 年度特困帮扶</h1><table><tr><th>期间</th><th>12 月底</th></tr>'
            '<tr><td class="pre">成立\n100 周年</td><td>≧９０％&nbsp;为优</td></tr></table>'
            '<p data-search-skip>派生</p><p>A<span>B</span> <b>c</b></p></main>')
    text = searchtext.index_text(searchtext.main_fragment(page))
    assert text == "3.2022\t年度特困帮扶 期间 12\t月底 成立\t100\t周年 ≧90％\t为优 AB\tc"
    assert decode(encode(text)) == "3.2022 年度特困帮扶 期间 12 月底 成立 100 周年 ≧90％ 为优 AB c"
    # a term runs across a printed space, never across a block: 2 and 年 are a pair
    tokens = encode(text)
    assert tokens[5] == code("2") + code("年") + searchtext.SPACED
    assert tokens[12] == SPACE_TOKEN
    assert searchtext.heading_index_text(searchtext.main_fragment(page)) == "3.2022\t年度特困帮扶"


def test_codes_are_letters_and_prefix_free():
    """Pagefind keeps a word of letters whole; no code is the start of another, so a
    pair is found only where both characters stand (and one code alone is a prefix)."""
    assert code("老") == "bwmj" and code("A") == code("a") == "aadt"
    assert code("\U00010000") == "zaaaaa" and len(code("\uffff")) == 4 and code("\uffff")[0] <= "d"
    assert encode("老干部ABC 40.0（含）") == [
        "bwmjbjty", "bjtyccwu", "ccwuaadt", "aadtaadu^", "aaduaadv^", "aadvx^", SPACE_TOKEN,
        "aacaaabw", "aabwx", ".", "aabwx", "（", "bfwtx", "）"]
    assert encode("") == encode(" \u3000\n") == []
    assert encode("a_b") == ["aadtx", OTHER_TOKEN, "aadux"]    # Pagefind would keep `_` in a word


def test_main_text_reads_like_the_page():
    page = ('<html><body><header>站点</header><main id="main"><h1>标题<span class="n">一</span></h1>'
            '<table><tr><th>项目编码</th><td>287-0601</td></tr></table><p>A&amp;B&nbsp;<a href="x">老干部</a>局</p>'
            '<nav class="prev-next"><a href="y">下一个项目</a></nav><script>x()</script></main>'
            '<footer>页脚</footer></body></html>')
    assert main_text(page) == "标题一 项目编码 287-0601 A&B 老干部局"
    marked = ('<main><p>甲</p><figure class="chart" data-search-skip><svg><desc>乙</desc></svg>'
              '<figcaption>丙</figcaption></figure><p>丁</p><div data-search-skip><div>戊</div>己</div>'
              '<td data-search-skip=""><span class="vh">庚</span></td>辛<p data-search-skipped>壬</p></main>')
    assert main_text(marked) == "甲 丁 辛 壬"
    assert main_text("<html><body><p>无 main</p></body></html>") == ""


def test_shadow_page_carries_text_title_and_filters():
    page = ('<main><article class="project" data-search-kind="项目" data-search-year="2020" '
            'data-search-region="石家庄市正定县" data-search-agency="A&amp;B 局" '
            'data-search-category="产出指标|效益指标" data-search-budget="40000">'
            '<h1>1.保险费</h1><p>正文</p></article></main>')
    assert page_facets(page) == {"kind": "项目", "year": "2020", "region": "石家庄市正定县",
                                 "agency": "A&B 局", "category": "产出指标|效益指标", "budget": "40000"}
    shadow = shadow_page(page)
    assert f'<main data-pagefind-body>\n{encode_string("1.保险费 正文")}\n' in shadow
    assert f'<span data-pagefind-meta="title">{encode_string("1.保险费")}</span>' in shadow
    metas = re.findall(r'data-pagefind-meta="([^"]*)"', shadow)
    assert metas == ["title"] + [f"{k}:{searchtext.seal(v)}" for k, v in [
        ("year", "2020"), ("region", "石家庄市正定县"), ("agency", "A&B 局"),
        ("category", "产出指标|效益指标"), ("kind", "项目"), ("budget", "40000")]]
    assert all(re.fullmatch(r"y[a-z]+", m.split(":")[1]) for m in metas[1:])
    assert searchtext.unseal(searchtext.seal("A&B 局 𠀀")) == "A&B 局 𠀀"
    assert "data-pagefind-filter" not in shadow     # Pagefind 1.5.2 writes filters in random order
    assert 'lang="zxx"' in shadow
    assert shadow_page("<main><p>data-search-kind=\"x\" in text</p></main>") is None
    assert shadow_page('<main><article data-search-kind="部门"></article></main>') is None  # no text


def test_the_pin_is_the_one_the_build_checks():
    pins = dict(re.findall(r"^(pagefind[\w\[\]-]*)==([\d.]+)", (REPO / "requirements.txt").read_text(), re.M))
    assert pins == {"pagefind[extended]": PAGEFIND_VERSION, "pagefind-bin-extended": PAGEFIND_VERSION}
    assert pagefind_binary().name == "pagefind_extended"


def test_binary_and_log_checks(monkeypatch):
    """Without the extended binary (or with another version) the index is refused, with a
    message; so is a log without the extended banner or with the non-extended warning."""
    from importlib import metadata
    real = metadata.version

    def only_plain(name):
        if name == "pagefind-bin-extended":
            raise metadata.PackageNotFoundError(name)
        return "1.5.2" if name == "pagefind-bin" else real(name)

    monkeypatch.setattr(metadata, "version", only_plain)
    with pytest.raises(SearchIndexError, match="only the plain pagefind-bin 1.5.2"):
        pagefind_binary()
    monkeypatch.setattr(metadata, "version", lambda name: "1.4.0")
    with pytest.raises(SearchIndexError, match="1.4.0 is installed"):
        pagefind_binary()
    monkeypatch.setattr(metadata, "version", real)

    with pytest.raises(SearchIndexError, match="extended binary"):
        check_log("\nRunning Pagefind v1.5.2\n")
    with pytest.raises(SearchIndexError, match="non-extended"):
        check_log("Running Pagefind v1.5.2 (Extended)\n⚠ Indexing Chinese in non-extended mode.")
    check_log("Running Pagefind v1.5.2 (Extended)\nIndexed 34 pages")


def test_build_fails_without_the_extended_binary(tmp_path, monkeypatch, capsys):
    """The build stops before the swap and says why; the previous site stays."""
    from gongkai.pipeline import build_command
    out = tmp_path / "site"
    assert build_command(REPO / "site_config.yaml", output=out, search=False) == 0
    before = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    from importlib import metadata
    real = metadata.version
    monkeypatch.setattr(metadata, "version", lambda name: "9.9.9" if name == "pagefind-bin-extended" else real(name))
    assert build_command(REPO / "site_config.yaml", output=out, force=True) == 1
    err = capsys.readouterr().err
    assert "搜索索引生成失败" in err and "9.9.9" in err
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == before
    assert not list(tmp_path.glob("site.staging-*"))


def tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def test_index_is_deterministic_and_complete(site_dir: Path, tmp_path: Path):
    """Same pages, same index bytes (also when rebuilt in place, as the dev server does);
    every agency-year and project page is in it; the chunk list matches the index."""
    copies = []
    for name in ("one", "two"):
        copy = tmp_path / name
        shutil.copytree(site_dir, copy, ignore=shutil.ignore_patterns("pagefind"))
        copies.append(copy)
    stats = build_index(copies[0])
    build_index(copies[1])
    assert tree_digest(copies[0] / "pagefind") == tree_digest(copies[1] / "pagefind") \
        == tree_digest(site_dir / "pagefind")
    build_index(copies[1])    # in place: the old bundle is replaced whole
    assert tree_digest(copies[1] / "pagefind") == tree_digest(copies[0] / "pagefind")
    assert not [p.name for p in copies[1].iterdir() if p.name.startswith(".pagefind")]

    searched = [p for p in site_dir.rglob("index.html") if 'data-search-kind="' in p.read_text(encoding="utf-8")]
    expected = len(list(site_dir.glob("[12][0-9][0-9][0-9]/*/index.html"))) \
        + len(list(site_dir.glob("[12][0-9][0-9][0-9]/*/*/index.html")))
    assert stats["pages"] == len(searched) == expected
    check_parts(site_dir / "pagefind", expected)


def check_parts(bundle: Path, expected: int) -> None:
    """Every part of the index (search-parts.json) together holds each searched page once;
    the chunk list covers every part's chunks."""
    folders = [bundle] + [bundle / part for part in json.loads((bundle / PARTS_FILE).read_text())]
    counts, pages, spans = [], 0, []
    for folder in folders:
        entry = json.loads((folder / "pagefind-entry.json").read_text())
        assert len(entry["languages"]) == 1
        counts.append(entry["languages"]["zxx"]["page_count"])
        meta = read_meta(next(folder.glob("*.pf_meta")))
        assert meta["version"] == PAGEFIND_VERSION and meta["filters"] == [] and meta["sorts"] == []
        pages += len(meta["pages"])
        spans += [c[:2] for c in meta["chunks"]]
        assert not [n for n in UNUSED_FILES if (folder / n).exists()]
    assert sum(counts) == pages == expected and all(counts)
    chunks = json.loads((bundle / CHUNKS_FILE).read_text())
    assert chunks == sorted(spans)
    assert len(json.loads((bundle / PAGES_FILE).read_text())["pages"]) == expected


def test_index_in_parts(site_dir: Path, tmp_path: Path, monkeypatch):
    """A large site's index is split into parts indexed at once (one Pagefind each); the
    parts together hold every page once, deterministically."""
    expected = len(json.loads((site_dir / "pagefind" / PAGES_FILE).read_text())["pages"])
    assert part_count(2_000, workers=2) == 2 and part_count(900, workers=2) == 1
    assert part_count(1_400, workers=1) == 1
    monkeypatch.setenv("GONGKAI_SEARCH_PARTS", "3")
    digests = []
    for name in ("one", "two"):
        copy = tmp_path / name
        shutil.copytree(site_dir, copy, ignore=shutil.ignore_patterns("pagefind"))
        assert build_index(copy)["parts"] == 3
        assert json.loads((copy / "pagefind" / PARTS_FILE).read_text()) == ["part-2/", "part-3/"]
        check_parts(copy / "pagefind", expected)
        digests.append(tree_digest(copy / "pagefind"))
    assert digests[0] == digests[1]


@pytest.mark.parametrize("pages", [1, 499, 1_500, 1_501, 11_324, 100_000, 1_000_000])
@pytest.mark.parametrize("workers", [1, 2, 8, 64])
@pytest.mark.parametrize("used_mb", [0, 150, 825])
def test_parts_and_processes_keep_the_index_within_its_memory_budget(pages, workers, used_mb):
    """However many pages and cores, and whatever the build holds itself (825 MB at
    100,000 pages): parts of at most MAX_PART_PAGES pages, and no more of them at once than
    SEARCH_MEMORY_MB holds beside the build at the measured memory per page."""
    parts = part_count(pages, workers, used_mb)
    largest = max(len(share) for share in split_pages([f"2022/{n:07d}/index.html" for n in range(pages)], parts)) \
        if pages <= 11_324 else -(-pages // parts)
    assert largest <= MAX_PART_PAGES
    together = at_once(largest, workers, used_mb)
    assert 1 <= together <= workers
    assert used_mb + together * largest * PAGEFIND_MB_PER_PAGE <= SEARCH_MEMORY_MB


def test_no_more_pagefinds_run_at_once_than_allowed(tmp_path: Path):
    """run_pagefinds starts the next process only when one has ended (a stand-in binary
    records how many run together), and keeps the logs in job order."""
    binary = tmp_path / "pagefind"
    binary.write_text("#!/bin/sh\n"
                      f"cd {tmp_path}\n"
                      "n=$(ls running | wc -l); touch running/$$; echo $n >> seen; sleep 0.3\n"
                      "rm running/$$; echo \"$@\"\n")
    binary.chmod(0o755)
    (tmp_path / "running").mkdir()
    jobs = [(tmp_path / f"in-{n}", tmp_path / f"out-{n}") for n in range(5)]
    logs = run_pagefinds(binary, jobs, at_once=2)
    assert [f"in-{n}" in log for n, log in enumerate(logs)] == [True] * 5
    seen = [int(x) for x in (tmp_path / "seen").read_text().split()]
    assert len(seen) == 5 and max(seen) <= 1    # at most one other running when each started


def test_shadow_scratch_folder(tmp_path: Path, monkeypatch):
    """Shadow pages go to /dev/shm only when it has room; folders left by killed builds
    (their process gone) are removed, those of running builds and of others kept."""
    import os
    import subprocess
    import sys
    assert scratch_dir(10 ** 9) is None           # 64 TB of shadow pages: no room
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    names = [f"{SCRATCH_PREFIX}{dead}-abc", f"{SCRATCH_PREFIX}{os.getpid()}-abc",
             f"{SCRATCH_PREFIX}{os.getppid()}-abc", f"{SCRATCH_PREFIX}x1y2"]
    for name in names:
        (tmp_path / name / "pages").mkdir(parents=True)
    remove_stale_scratch(str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[1:])


def test_split_pages_keeps_agency_years_whole():
    """Shares are whole agency years in path order, never empty, as even in pages as whole
    agency years allow; adding a project page to one agency year away from a boundary
    changes only the share that holds it."""
    years = [f"2020/{n:06d}" for n in range(10)]
    pages = sorted([f"{y}/index.html" for y in years] + [f"{y}/p{k}/index.html" for y in years for k in range(3)])
    shares = split_pages(pages, 3)
    assert [len(s) for s in shares] == [12, 16, 12] and sum(shares, []) == pages
    assert all(len({"/".join(p.split("/")[:2]) for p in s} & {"/".join(p.split("/")[:2]) for p in t}) == 0
               for s in shares for t in shares if s is not t)
    grown = split_pages(sorted(pages + ["2020/000004/p9/index.html"]), 3)
    assert [s != t for s, t in zip(shares, grown)] == [False, True, False]
    assert split_pages(pages[:4], 3) == [pages[:4]]      # one agency year: one share
    uneven = sorted([f"2020/{n:06d}/p{k}/index.html" for n, size in enumerate([30, 1, 1, 1, 9]) for k in range(size)])
    assert [len(s) for s in split_pages(uneven, 3)] == [30, 1, 11]


def edit_page_text(site: Path) -> Path:
    """Change the text of one project page's goals."""
    page = sorted(site.glob("2020/*/*/index.html"))[-1]
    source = page.read_text(encoding="utf-8")
    assert '<p class="pre goals">' in source
    page.write_text(source.replace('<p class="pre goals">', '<p class="pre goals">新增一句文字。', 1), encoding="utf-8")
    return page


def test_unchanged_parts_of_the_index_are_reused(site_dir: Path, tmp_path: Path, monkeypatch):
    """A part whose pages' text did not change is taken from the bundle being replaced
    (the dev server, and `build.py build` from the live site); the result is always
    byte-identical to an index built from nothing, and a part whose files were touched
    since is indexed again."""
    monkeypatch.setenv("GONGKAI_SEARCH_PARTS", "3")
    site = tmp_path / "site"
    shutil.copytree(site_dir, site, ignore=shutil.ignore_patterns("pagefind"))

    def fresh_digest() -> str:
        copy = tmp_path / f"fresh-{len(list(tmp_path.iterdir()))}"
        shutil.copytree(site, copy, ignore=shutil.ignore_patterns("pagefind"))
        assert build_index(copy)["reused"] == 0
        return tree_digest(copy / "pagefind")

    first = build_index(site)
    assert (first["parts"], first["reused"]) == (3, 0)
    digest = tree_digest(site / "pagefind")
    assert build_index(site)["reused"] == 3              # nothing changed
    assert tree_digest(site / "pagefind") == digest

    edit_page_text(site)
    assert build_index(site)["reused"] == 2
    assert tree_digest(site / "pagefind") == fresh_digest() != digest

    fragment = sorted((site / "pagefind" / "part-3" / "fragment").iterdir())[0]
    fragment.write_bytes(fragment.read_bytes() + b"\0")              # a part touched after the build
    (site / "pagefind" / "part-2" / "extra").symlink_to("/etc/hostname")   # a link: never taken over
    assert build_index(site)["reused"] == 1
    assert tree_digest(site / "pagefind") == fresh_digest()

    keys = json.loads((site / "pagefind" / KEYS_FILE).read_text())["parts"]
    keys[0]["folder"] = "../../"                                     # only folders of the bundle
    (site / "pagefind" / KEYS_FILE).write_text(json.dumps({"parts": keys}))
    assert reusable_parts(site / "pagefind").keys() == {k["key"] for k in keys[1:]}


def test_build_takes_unchanged_index_parts_from_the_live_site(tmp_path: Path):
    """`build.py build` with search, again with --force: no page text changed, so the index
    is taken from the site being replaced, and is the same."""
    import subprocess
    import sys
    out = tmp_path / "site"
    cmd = [sys.executable, str(REPO / "build.py"), "build", "--output", str(out)]
    first = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=True)
    assert "search index:" not in first.stderr
    digest = tree_digest(out / "pagefind")
    again = subprocess.run(cmd + ["--force"], cwd=REPO, capture_output=True, text=True, check=True)
    assert "search index: 1 of 1 part(s) unchanged, taken from the previous build" in again.stderr
    assert tree_digest(out / "pagefind") == digest


FAKE_PAGEFIND = '''#!/usr/bin/env python3
# Stands in for Pagefind: a fragment per page, named by the shortest prefix (two hex digits
# at least: 256 names) of its content hash unique within this run, so that parts clash.
import gzip, hashlib, pathlib, sys
args = sys.argv[1:]
site, out = pathlib.Path(args[args.index("--site") + 1]), pathlib.Path(args[args.index("--output-path") + 1])
(out / "fragment").mkdir(parents=True, exist_ok=True)
taken = set()
for page in sorted(site.rglob("*.html")):
    digest = hashlib.sha256(page.read_bytes()).hexdigest()
    n = 2
    while digest[:n] in taken:
        n += 1
    taken.add(digest[:n])
    url = "/" + page.relative_to(site).as_posix()
    (out / "fragment" / f"zxx_{digest[:n]}.pf_fragment").write_bytes(
        gzip.compress(b'pagefind_dcd{"url":"' + url.encode() + b'"}'))
print("Running Pagefind v%s (Extended)")
''' % PAGEFIND_VERSION


def test_pages_of_different_parts_never_share_an_id(tmp_path: Path):
    """Ids clash across parts (the stand-in names pages by two hex digits): pages of later
    parts get salt until every id is unique; the result depends on the content only."""
    from gongkai.search import _separate_ids
    from gongkai.search.bundle import fragment_names
    from gongkai.search.shadow import ShadowPages, move_shadows, shadow_files

    binary = tmp_path / "pagefind"
    binary.write_text(FAKE_PAGEFIND)
    binary.chmod(0o755)
    pages = {f"2022/{n:03d}/index.html": ('<main data-search-kind="项目" data-search-year="2022">'
                                          f'<h1>第{n}页</h1><p>内容{n}</p></main>').encode()
             for n in range(60)}

    def index(root: Path) -> list[dict[str, str]]:
        root.mkdir()
        shadows = ShadowPages(root)
        shadows.add(shadow_files(pages, str(shadows.folder)), pages)
        shares = split_pages(sorted(shadows.digests), 4)
        outputs = [root / f"out-{n}" for n in range(4)]
        jobs = []
        for n, share in enumerate(shares):
            move_shadows(shadows.folder, root / f"part-{n}", share)
            jobs.append((root / f"part-{n}", outputs[n]))
        run_pagefinds(binary, jobs, 2)
        before = [fragment_names(o) for o in outputs]
        salted = _separate_ids(binary, root, shadows.folder, shares, outputs, 2)
        after = [fragment_names(o) for o in outputs]
        clashing = {n for n in range(1, 4) if set(before[n]) & set().union(*before[:n])}
        assert salted == sorted(clashing) and clashing, "the stand-in makes ids clash"
        assert set(before[0]) == set(after[0])               # the first part keeps its ids
        return after

    first = index(tmp_path / "one")
    names = [name for part in first for name in part]
    assert len(names) == len(set(names)) == 60
    assert sorted(a for part in first for a in part.values()) == sorted("/" + p for p in pages)
    assert index(tmp_path / "two") == first
