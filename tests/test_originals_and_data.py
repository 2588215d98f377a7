"""Labels and originals as they are, open data for people with spreadsheets (issue 16,
items 5 and 7): an extracted-text original is called 提取文本 and shown as a UTF-8 page;
目录 page numbers link only into a paginated original, with its page offset; the data
package states the configured licence; amounts are also given in 元 (derived) and derived
totals are grouped for readers while printed amounts stay as printed."""
from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

from gongkai.config import Config
from gongkai.site import load, render_site
from test_hostile_yaml import GOOD

FILE = "content/2020/100001.yaml"
TOC = "        toc:\n          text: 1、保险费绩效目标表\n          page: 3\n"
LICENSE = {"name": "CC-BY-4.0", "title": "知识共享署名 4.0 国际许可协议",
           "path": "https://creativecommons.org/licenses/by/4.0/"}


def project(tmp_path: Path, originals: str, text: str = GOOD) -> Path:
    root = tmp_path / "p"
    folder = root / "content" / "2020" / "100001"
    folder.mkdir(parents=True)
    text = text.replace("        title: 保险费绩效目标表\n", "        title: 保险费绩效目标表\n" + TOC, 1)
    text = text.replace("unit: 元\n", "unit: 元\noriginals:\n" + originals, 1)
    (root / FILE).write_text(text, encoding="utf-8")
    (folder / "文本.txt").write_text("第一部分 部门整体绩效目标\n总体目标。\n", encoding="utf-8")
    (folder / "原件.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    return root


def built(root: Path) -> dict[str, bytes]:
    config = Config(title="t", owner="o", regions=("测试区",), root=root, data_license=LICENSE)
    years, problems = load(config)
    assert years, [p.format() for p in problems]
    out, problems = render_site(config, years)
    assert out is not None, problems
    return out.files


def test_an_extracted_text_is_called_so_and_shown_as_utf8(tmp_path):
    files = built(project(tmp_path, "  - file: 文本.txt\n    title: 部门预算绩效文本（Word 导出文本）\n"))
    year = files["2020/100001/index.html"].decode("utf-8")
    assert "提取文本，不是原件本身" in year and "逐字节一致" not in year
    assert 'href="originals/%E6%96%87%E6%9C%AC.txt.html">在网页中阅读</a>' in year
    view = files["2020/100001/originals/文本.txt.html"].decode("utf-8")
    assert '<meta charset="utf-8">' in view and "提取文本：部门预算绩效文本（Word 导出文本）" in view
    assert "第一部分 部门整体绩效目标\n总体目标。" in view
    # A text has no pages: the 目录 page number and the project's page are not links into it.
    project_page = files["2020/100001/287-0601-JBN-CK81/index.html"].decode("utf-8")
    assert "原件页码：第 3 页" in project_page and "#page=" not in project_page
    assert not re.search(r'<a[^>]*href="[^"]*\.txt[^"]*"[^>]*>第 3 页', project_page)


def test_page_links_go_into_the_pdf_with_its_offset(tmp_path):
    originals = ("  - file: 文本.txt\n    title: 提取文本\n"
                 "  - file: 原件.pdf\n    title: 部门预算绩效文本（PDF）\n    page_offset: 2\n")
    files = built(project(tmp_path, originals))
    project_page = files["2020/100001/287-0601-JBN-CK81/index.html"].decode("utf-8")
    assert '<a href="../originals/%E5%8E%9F%E4%BB%B6.pdf#page=5">第 3 页</a>' in project_page
    year = files["2020/100001/index.html"].decode("utf-8")
    assert "原件与部门发布的文件逐字节一致；提取文本是从部门发布的文件中提取的文字，不是原件本身" in year


def test_open_data_states_the_licence_and_amounts_in_yuan(tmp_path):
    text = GOOD.replace("unit: 元", "unit: 万元").replace("budget: 4000.00", 'budget: "4,000.00"')
    files = built(project(tmp_path, "  - file: 原件.pdf\n    title: 原件\n", text))
    package = json.loads(files["data/datapackage.json"])
    assert package["licenses"] == [LICENSE]
    rows = list(csv.DictReader(io.StringIO(files["data/2020-100001-projects.csv"].decode("utf-8-sig"))))
    assert rows[0]["预算数"] == "4000.00" and rows[0]["预算数（元，派生）"] == "40000000.00"
    data = json.loads(files["data/2020-100001.json"])
    project_data = data["parts"][1]["projects"][0]
    assert project_data["budget"] == "4,000.00"                 # as printed
    assert project_data["derived"]["in_yuan"]["budget"] == "40000000.00"
    # Pages: the printed amount as printed, the derived total grouped for readers.
    page = files["2020/100001/287-0601-JBN-CK81/index.html"].decode("utf-8")
    assert "4,000.00 万元" in page
    year = files["2020/100001/index.html"].decode("utf-8")
    assert re.search(r"合计（派生）</th><td class=\"num derived\"[^>]*>4,000.00</td>", year)
