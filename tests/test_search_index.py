"""The search index, Python side: what search keeps of a page (gongkai/searchtext.py,
gongkai/search/records.py) and the index files made from it (gongkai/search/index.py).
assets/search.js reads them; tests/test_search.py checks the two sides agree."""
from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from gongkai import searchtext
from gongkai.search import SearchIndexError, build_index, index
from gongkai.search.index import (BUDGETS_FILE, META_FILE, TITLE, page_path, posting, read_file, read_posting,
                                  read_varints, read_words, varints, word_hash)
from gongkai.search.records import (BLOCK, SCRATCH_PREFIX, is_word_char, lowered, page_facets, page_record,
                                    remove_stale_scratch, scratch_dir, search_words)
from gongkai.searchtext import main_text

REPO = Path(__file__).resolve().parent.parent

# Text as pages hold it: CJK, Latin in both cases, digits, punctuation, all kinds of spaces,
# and a few characters from beyond the BMP.
TEXT = st.text(st.sampled_from(list("老干部正定县秦皇岛ABCXYZabcxyz0123456789.,-%≥（）[]：、。 \u3000\u00a0\t\n")
                               + ["𠀀", "𠀁", "İ", "Ａ", "９"]), max_size=40)


def index_form(s: str) -> str:
    """`s` as an index text, a newline ending a block (searchtext.index_text does this for
    HTML): every other white-space run a printed space inside the block."""
    return searchtext.searchable(s.replace("\n", "\0"))


def shown(s: str) -> str:
    """`s` as a page file's text (records._shown)."""
    return index_form(s).replace(" ", BLOCK).replace("\t", " ")


def query_words(term: str) -> set[str]:
    """The words search.js looks a (lowered) term up as (`words` there): per run of
    letters and digits every pair of neighbours, a lone one itself."""
    out, i = set(), 0
    while i < len(term):
        if not is_word_char(term[i]):
            i += 1
            continue
        j = i
        while j < len(term) and is_word_char(term[j]):
            j += 1
        if j - i == 1:
            out.add(term[i])
        else:
            out.update(term[k:k + 2] for k in range(i, j - 1))
        i = j
    return out


@given(TEXT)
def test_index_text_is_folded_and_keeps_what_was_printed(s: str):
    """Letters and digits folded, printed punctuation kept, a space inside a block one tab
    (none at the ends), blocks separated by one space; folding it gives `fold` per block."""
    text = index_form(s)
    assert not re.search(r"^[ \t]|[ \t]$|[ \t]{2}", text)
    blocks = [b for b in s.split("\n") if searchtext.fold(b)]
    assert [searchtext.fold(b) for b in (text.split(" ") if text else [])] == [searchtext.fold(b) for b in blocks]


@given(TEXT, st.data())
def test_a_term_printed_in_a_page_finds_its_words(s: str, data):
    """Whatever a reader types that occurs in a page (folded, any case), every word
    search.js looks it up as is one of the page's search words: nothing printed is missed."""
    text = shown(s)
    words = set(search_words(text).split(" ")) - {""}
    for block in lowered(text).split(" "):
        if not block:
            continue
        start = data.draw(st.integers(0, len(block) - 1))
        end = data.draw(st.integers(start + 1, len(block)))
        assert query_words(block[start:end]) <= words, (block, start, end)
    # and nothing else: every word is a letter or digit, or two in one block
    low = lowered(text)
    assert all(is_word_char(w[0]) and is_word_char(w[-1]) and w in low for w in words)


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
    assert searchtext.heading_index_text(searchtext.main_fragment(page)) == "3.2022\t年度特困帮扶"
    # a term runs across a printed space, never across a block: 2 and 年 stand together
    words = search_words(text.replace(" ", BLOCK).replace("\t", " ")).split(" ")
    assert "2年" in words and "底成" not in words and "ab" in words and "bc" in words
    assert "≧9" not in words and "9" in words and "派生" not in words


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


def test_page_record_carries_text_title_facets_and_words():
    page = ('<main><article class="project" data-search-kind="项目" data-search-year="2020" '
            'data-search-region="石家庄市正定县" data-search-agency="A&amp;B 局" '
            'data-search-category="产出指标|效益指标" data-search-budget="40000">'
            '<h1>1.保险 费</h1><p>正文Ｘ</p></article></main>')
    facets = {"kind": "项目", "year": "2020", "region": "石家庄市正定县",
              "agency": "A&B 局", "category": "产出指标|效益指标", "budget": "40000"}
    assert page_facets(page) == facets
    got, record, words = page_record("2020/1/2/index.html", page)
    assert got == facets
    assert record == {"url": "2020/1/2/index.html", "title": "1.保险 费", "text": "1.保险 费\0正文X", "budget": 40000}
    body, title = words.split("\n")
    assert sorted(body.split(" ")) == sorted({"1", "保", "险", "费", "正", "文", "x", "保险", "险费", "正文", "文x"})
    assert sorted(title.split(" ")) == sorted({"1", "保", "险", "费", "保险", "险费"})
    assert page_record("x.html", "<main><p>data-search-kind=\"x\" in text</p></main>") is None
    assert page_record("x.html", '<main><article data-search-kind="部门"></article></main>') is None  # no text


@given(st.lists(st.integers(0, 10 ** 6), unique=True, max_size=60))
def test_postings_round_trip(pages: list[int]):
    from array import array
    pages.sort()
    assert read_posting(posting(array("i", pages))) == pages
    assert read_varints(varints([0, 127, 128, 300, 2 ** 35])) == [0, 127, 128, 300, 2 ** 35]


def test_word_hash_is_fnv1a_of_utf8():
    assert word_hash("") == 0x811C9DC5
    assert word_hash("a") == 0xE40C292C          # the published FNV-1a test vector
    assert word_hash("老干") != word_hash("干老")


def tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def searched_pages(site_dir: Path) -> dict[str, str]:
    """Address -> page file text of every searched page, from the pages themselves."""
    found = {}
    for path in sorted(site_dir.rglob("*.html")):
        rel = path.relative_to(site_dir).as_posix()
        made = page_record(rel, path.read_text(encoding="utf-8"))
        if made is not None:
            found[rel] = made[1]["text"]
    return found


def test_index_is_deterministic_and_complete(site_dir: Path, tmp_path: Path):
    """Same pages, same index bytes (also when rebuilt in place, as the dev server does);
    every agency-year and project page is in it, numbered in address order; each word's
    posting is exactly the pages whose text holds it; every file is gzipped."""
    copies = []
    for name in ("one", "two"):
        copy = tmp_path / name
        shutil.copytree(site_dir, copy, ignore=shutil.ignore_patterns("search-index"))
        copies.append(copy)
    stats = build_index(copies[0])
    build_index(copies[1])
    bundle = site_dir / "search-index"
    assert tree_digest(copies[0] / "search-index") == tree_digest(copies[1] / "search-index") == tree_digest(bundle)
    build_index(copies[1])    # in place: the old index is replaced whole
    assert tree_digest(copies[1] / "search-index") == tree_digest(copies[0] / "search-index")
    assert not [p.name for p in copies[1].iterdir() if p.name.startswith(".search-index")]

    pages = searched_pages(site_dir)
    expected = len(list(site_dir.glob("[12][0-9][0-9][0-9]/*/index.html"))) \
        + len(list(site_dir.glob("[12][0-9][0-9][0-9]/*/*/index.html")))
    assert stats["pages"] == len(pages) == expected
    order = sorted(pages)
    meta = read_file(bundle / META_FILE)
    assert meta["pages"] == expected and sum(g[0] for g in meta["groups"]) == expected
    assert re.fullmatch(r"[0-9a-f]{16}", meta["version"])
    assert len(meta["kinds"]) == len(meta["categories"]) == len(read_file(bundle / BUDGETS_FILE)) == expected
    for n, rel in enumerate(order):
        assert read_file(bundle / page_path(n))["url"] == rel
    lows = [lowered(pages[rel]) for rel in order]
    for word in ("老干", "干部", "秦", "满意", "02", "20", "jb", "y", "a"):
        assert read_words(bundle, word) == [n for n, low in enumerate(lows) if word in low], word
    titles = [lowered(read_file(bundle / page_path(n))["title"]) for n in range(expected)]
    assert read_words(bundle, TITLE + "老干") == [n for n, low in enumerate(titles) if "老干" in low]
    assert read_words(bundle, "不存在的词") == []
    assert all(p.read_bytes()[:2] == b"\x1f\x8b" for p in bundle.rglob("*.bin"))


def test_large_postings_get_files_of_their_own(site_dir: Path, tmp_path: Path, monkeypatch):
    """A posting too large to share a word file gets its own (words/big/), and reads back
    the same; the word files' count follows the postings' size."""
    copy = tmp_path / "site"
    shutil.copytree(site_dir, copy, ignore=shutil.ignore_patterns("search-index"))
    monkeypatch.setattr(index, "BIG_POSTING", 2)
    monkeypatch.setattr(index, "WORD_FILE_BYTES", 512)
    stats = build_index(copy)
    bundle = copy / "search-index"
    assert stats["word_files"] > 4 and len(list((bundle / "words" / "big").iterdir())) > 100
    for word in ("老干", "干部", "秦", "满意", "02"):
        assert read_words(bundle, word) == read_words(site_dir / "search-index", word), word


def test_a_site_without_searched_pages_has_no_index(tmp_path: Path):
    (tmp_path / "index.html").write_text("<main><p>正文</p></main>", encoding="utf-8")
    with pytest.raises(SearchIndexError):
        build_index(tmp_path)
    assert not (tmp_path / "search-index").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["index.html"]


def test_record_scratch_folder(tmp_path: Path):
    """Records go to /dev/shm only when it has room; folders left by killed builds
    (their process gone) are removed, those of running builds and of others kept."""
    import os
    import subprocess
    import sys
    assert scratch_dir(10 ** 9) is None           # 16 TB of records: no room
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    names = [f"{SCRATCH_PREFIX}{dead}-abc", f"{SCRATCH_PREFIX}{os.getpid()}-abc",
             f"{SCRATCH_PREFIX}{os.getppid()}-abc", f"{SCRATCH_PREFIX}x1y2"]
    for name in names:
        (tmp_path / name / "pages").mkdir(parents=True)
    remove_stale_scratch(str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[1:])


def test_word_characters_are_letters_and_digits():
    """is_word_char is Unicode's letters and numbers (search.js: /[\\p{L}\\p{N}]/u)."""
    assert all(map(is_word_char, "老A9ǅⅫ①")) and not any(map(is_word_char, " .%（_\u0301"))


def test_the_index_is_the_same_made_beside_or_after_the_site_wide_pages(tmp_path: Path, monkeypatch):
    """A large site's index is made after the site-wide pages (pipeline.BESIDE_PAGES, for
    memory), a small one's in a worker meanwhile: the same bytes either way."""
    from gongkai import pipeline
    monkeypatch.chdir(REPO)
    assert pipeline.build_command(REPO / "site_config.yaml", tmp_path / "beside") == 0
    monkeypatch.setattr(pipeline, "BESIDE_PAGES", 0)
    assert pipeline.build_command(REPO / "site_config.yaml", tmp_path / "after") == 0
    assert tree_digest(tmp_path / "beside" / "search-index") == tree_digest(tmp_path / "after" / "search-index")
    # another text, another version: browsers ask for every other file with ?v=version
    page = next((tmp_path / "after").glob("20*/*/index.html"))
    page.write_text(page.read_text(encoding="utf-8").replace("</h1>", "改</h1>", 1), encoding="utf-8")
    build_index(tmp_path / "after")
    assert read_file(tmp_path / "after" / "search-index" / META_FILE)["version"] \
        != read_file(tmp_path / "beside" / "search-index" / META_FILE)["version"]
