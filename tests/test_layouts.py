"""Other provinces' forms (docs/content-format.md, "Other forms") on six real excerpts.

Each folder of tests/fixtures/layouts/ holds one excerpt of a published page
(`excerpt.txt`, from /work/shared/layouts/), the content file typed from it (every cell
of the form as printed; each file's comments say how its cells were split and what was
left out as web-page chrome) and a minimal `site_config.yaml` naming its region.

Every fixture is built in memory through the real pipeline (`site.load`, then
`site.render_site`), once per session, and checked:

- it validates with no error;
- every printed text of the file (each string under `parts`: titles, cells, fields,
  labels, columns, indicator rows and their `more`) is in the visible text of its page
  (the project's page; a part's own text on the agency year's page) and in the agency
  year's JSON data file, exactly;
- each indicator row is rendered as one table row with its cells in the printed columns'
  order, under a header with the printed column labels;
- each further field shows its label and exactly its value, nested fields and table;
- the page shows the form's own labels, and none of the Hebei labels the form does not print;
- every text typed is in the excerpt (the file was typed from it).
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest
import yaml

from gongkai import urls
from gongkai.config import load_config
from gongkai.derive import YearFacts
from gongkai.model import FIELD_LABELS, STANDARD_COLUMNS
from gongkai.render import Output
from gongkai.site import load, render_site

LAYOUTS = Path(__file__).parent / "fixtures" / "layouts"
NAMES = sorted(d.name for d in LAYOUTS.iterdir() if (d / "site_config.yaml").is_file())

# The Hebei form's labels: of the known fields and of the six indicator columns.
HEBEI_LABELS = set(FIELD_LABELS.values()) | {c.label for c in STANDARD_COLUMNS}
LEVEL_KEYS = ("level1", "level2")      # left out of a row where the printed cell is merged
NOT_PRINTED = ("key", "parsed")        # a column's known key, an editor's reading: not text


def test_six_fixtures():
    assert NAMES == ["03-ezhou", "06-dongguan", "08-jingyan", "12-banan", "13-xiangtan", "15-zhaohua"]


# --------------------------------------------------------------------------- building


@dataclass
class Built:
    name: str
    raw: dict                  # the content file as written: every scalar a string (BaseLoader)
    facts: YearFacts
    problems: list
    output: Output
    source: Path

    @property
    def year(self) -> int:
        return self.facts.year.year

    @property
    def ident(self) -> str:
        return self.facts.year.agency.ident

    def html(self, path: str) -> str:
        assert path in self.output.files, f"{self.name}: no page {path}"
        return self.output.files[path].decode("utf-8")

    def year_page(self) -> "Page":
        return page(self.html(urls.year_page(self.year, self.ident)))

    def project_pages(self) -> Iterator[tuple[dict, "Page"]]:
        """Each project as written (raw) with its rendered page, in document order."""
        raw = [p for part in self.raw["parts"] for p in part.get("projects") or []]
        assert len(raw) == len(self.facts.projects)
        for written, pf in zip(raw, self.facts.projects):
            yield written, page(self.html(urls.project_page(self.year, self.ident, pf.slug)))

    def data(self) -> Any:
        return json.loads(self.output.files[urls.year_data(self.year, self.ident)["json"]])


@functools.cache
def built(name: str) -> Built:
    folder = LAYOUTS / name
    config, problems = load_config(folder / "site_config.yaml")
    assert config is not None, problems
    years, problems = load(config)
    errors = [str(p) for p in problems if p.is_error]
    assert not errors, f"{name} does not validate:\n" + "\n".join(errors)
    assert len(years) == 1, f"{name}: expected one agency year, got {len(years)}"
    output, render_problems = render_site(config, years)
    assert output is not None, f"{name} does not render:\n" + "\n".join(map(str, render_problems))
    source = folder / years[0].year.source
    raw = yaml.load(source.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)
    return Built(name, raw, years[0], problems, output, source)


# --------------------------------------------------------------------------- pages


def norm(text: str) -> str:
    """Whitespace runs as one space: YAML line breaks and indentation are not the page's."""
    return re.sub(r"\s+", " ", text).strip()


def lines_of(text: str) -> str:
    """Each line's whitespace runs as one space, blank lines and spaces at line ends dropped."""
    return "\n".join(filter(None, (norm(line) for line in text.split("\n"))))


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@dataclass
class Table:
    classes: str
    header: list[str]          # the header row's cells (derived columns left out)
    rows: list[list[str]]      # body rows' cells (derived cells left out)
    parent_cell: Optional[str] = None   # the label (row header) of the facts row holding it


class Page(HTMLParser):
    """A page's <main>: visible text (<br> as a line break), the text of each element that
    can carry a label, every table's header and rows. Site additions marked
    `data-search-skip` count as text but not as table cells."""

    LABEL_TAGS = {"th", "dt", "h1", "h2", "h3", "h4", "legend", "summary"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.lines: list[str] = []      # the text as shown: line breaks only from <br> and `pre` elements
        self.labels: list[tuple[str, str, str]] = []   # (tag, classes, text)
        self.tables: list[Table] = []
        self._main = 0
        self._skip = 0                                  # inside script/style
        self._open: list[tuple[str, str, list[str], bool]] = []   # element stack: tag, classes, text, derived
        self._tables: list[tuple[Table, Optional[list[str]], bool]] = []   # open tables: table, row, in thead

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "main":
            self._main += 1
        if not self._main:
            return
        if tag in ("script", "style"):
            self._skip += 1
        if tag == "br":
            self._data("\n", kept=True)
            return
        if tag in ("img", "input", "meta", "link", "hr", "wbr", "col"):
            return
        derived = "data-search-skip" in attrs or any(d for *_, d in self._open[-1:])
        self._open.append((tag, attrs.get("class") or "", [], derived))
        if tag == "table":
            in_cell = any(t in ("td", "th") for t, *_ in self._open[:-1])
            parent = self._last_row_header() if in_cell else None
            self._tables.append((Table(attrs.get("class") or "", [], [], parent), None, False))
        elif tag == "thead" and self._tables:
            table, row, _ = self._tables[-1]
            self._tables[-1] = (table, row, True)
        elif tag == "tbody" and self._tables:
            table, row, _ = self._tables[-1]
            self._tables[-1] = (table, row, False)
        elif tag == "tr" and self._tables:
            table, _, head = self._tables[-1]
            self._tables[-1] = (table, [], head)

    def _last_row_header(self) -> Optional[str]:
        """The first cell of the enclosing table's current row (a facts row's label)."""
        if self._tables and self._tables[-1][1]:
            return self._tables[-1][1][0]
        return None

    def handle_endtag(self, tag):
        if not self._main:
            return
        if tag == "main":
            self._main -= 1
            self._open.clear()
            return
        if tag in ("script", "style"):
            self._skip -= 1
        if not any(t == tag for t, *_ in self._open):
            return                          # an end tag with no start: nothing to close
        while self._open:
            open_tag, classes, parts, derived = self._open.pop()
            text = norm("".join(parts))
            if open_tag in self.LABEL_TAGS or "label" in classes.split() or any(
                    c.endswith("-label") for c in classes.split()):
                self.labels.append((open_tag, classes, text))
            if open_tag in ("td", "th") and self._tables and self._tables[-1][1] is not None and not derived:
                self._tables[-1][1].append(text)
            elif open_tag == "tr" and self._tables:
                table, row, head = self._tables[-1]
                if row is not None:
                    if head:
                        table.header = row
                    else:
                        table.rows.append(row)
                self._tables[-1] = (table, None, head)
            elif open_tag == "table" and self._tables:
                self.tables.append(self._tables.pop()[0])
            if open_tag == tag:
                break

    def _data(self, data: str, kept: bool = False) -> None:
        self.text.append(data)
        pre = kept or any(t == "pre" or "pre" in c.split() for t, c, *_ in self._open)
        self.lines.append(data if pre else re.sub(r"\s", " ", data))
        for _, _, parts, _ in self._open:
            parts.append(data)

    def handle_data(self, data):
        if self._main and not self._skip:
            self._data(data)

    @property
    def visible(self) -> str:
        return norm("".join(self.text))

    @property
    def shown_lines(self) -> str:
        """The visible text with the line breaks a reader sees (spaces around them dropped)."""
        return lines_of("".join(self.lines))

    def label_texts(self, tags: Optional[set] = None) -> list[str]:
        return [text for tag, _, text in self.labels if tags is None or tag in tags]


def page(html: str) -> Page:
    parser = Page()
    parser.feed(html)
    parser.close()
    assert parser.text, "the page has no <main> text"
    return parser


# --------------------------------------------------------------------------- the content as written


def texts(value: Any) -> Iterator[str]:
    """Every printed text in a value as written: the values of mappings (never their keys,
    which name fields), the items of lists; not a column's `key` nor a `parsed` reading."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key not in NOT_PRINTED:
                yield from texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from texts(item)
    elif isinstance(value, str) and value.strip():
        yield value


def part_texts(part: dict) -> list[str]:
    """A part's own texts (its title, numbering, text, sections), not its projects'."""
    return [t for key, value in part.items() if key != "projects" for t in texts(value)]


def column_labels(columns: list) -> list[str]:
    return [c if isinstance(c, str) else c["label"] for c in columns]


def column_keys(columns: list) -> list[Optional[str]]:
    known = {c.label: c.key for c in STANDARD_COLUMNS}
    return [known.get(c) if isinstance(c, str) else c.get("key") for c in columns]


def field_labels(fields: list) -> Iterator[str]:
    for f in fields:
        yield f["label"]
        yield from field_labels(f.get("fields") or [])
        if f.get("table"):
            yield from f["table"].get("header") or []


def printed_labels(project: dict) -> set[str]:
    """The labels a project's form prints: of its known fields, further fields (nested,
    and small tables' headers) and indicator columns."""
    return (set((project.get("labels") or {}).values())
            | set(field_labels(project.get("fields") or []))
            | set(column_labels(project.get("columns") or []))
            | set(column_labels(project.get("period_columns") or [])))


def expected_row(row: dict, columns: list) -> list[str]:
    """The cells a printed indicator row shows, in its table's column order: a merged
    (left out) 一级/二级 cell is not repeated; any other missing cell is blank."""
    cells = []
    for label, key in zip(column_labels(columns), column_keys(columns)):
        text = row.get(key) if key else (row.get("more") or {}).get(label)
        if key in LEVEL_KEYS and text is None:
            continue
        cells.append(norm(text or ""))
    return cells


def field_tokens(field: dict) -> list[str]:
    """The texts a field's body shows, in order: its value, nested fields (label, body),
    then its small table (header, rows)."""
    out = [field["value"]] if field.get("value") is not None else []
    for sub in field.get("fields") or []:
        out += [sub["label"]] + field_tokens(sub)
    if field.get("table"):
        out += list(field["table"].get("header") or [])
        out += [cell for row in field["table"].get("rows") or [] for cell in row]
    return out


# --------------------------------------------------------------------------- the tests


@pytest.fixture(params=NAMES)
def site(request) -> Built:
    return built(request.param)


def test_validates_with_no_error(site: Built):
    """The real loader (validate, derive, render, page checks) finds no error; notes are facts."""
    assert not [p for p in site.problems if p.is_error]
    assert site.source.name == f"{site.ident}.yaml"
    assert site.source.parent.name == str(site.year)


def test_every_cell_is_on_its_page(site: Built):
    """Every printed text of a project is in its page's visible text; a part's own texts
    (title, text) and the document's title are on the agency year's page."""
    year_page = site.year_page()
    missing = []
    for part in site.raw["parts"]:
        missing += [("agency year page", t) for t in part_texts(part) if norm(t) not in year_page.visible]
    title = (site.raw.get("document") or {}).get("title")
    if title and norm(title) not in year_page.visible:
        missing.append(("agency year page", title))
    for n, (written, project_page) in enumerate(site.project_pages(), 1):
        missing += [(f"project {n} page", t) for t in texts(written) if norm(t) not in project_page.visible]
    assert not missing, f"{site.name}: texts not on their page:\n" + "\n".join(f"  {w}: {t!r}" for w, t in missing)


def test_line_breaks_are_kept(site: Built):
    """A text typed on several lines (`|-`: two-line titles, a part's text) is shown on as
    many lines ("line breaks are kept as printed", docs/content-format.md)."""
    year_page = site.year_page()
    wrong = []
    for part in site.raw["parts"]:
        wrong += [("agency year page", t) for t in part_texts(part)
                  if "\n" in t and lines_of(t) not in year_page.shown_lines]
    for n, (written, project_page) in enumerate(site.project_pages(), 1):
        wrong += [(f"project {n} page", t) for t in texts(written)
                  if "\n" in t and lines_of(t) not in project_page.shown_lines]
    assert not wrong, f"{site.name}: texts of several lines shown on one:\n" + "\n".join(f"  {w}: {t!r}" for w, t in wrong)


def test_every_cell_is_in_the_open_data(site: Built):
    """Every printed text is a string of the agency year's JSON file, exactly as written."""
    strings: set[str] = set()

    def collect(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                strings.add(key)
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)
        elif isinstance(value, str):
            strings.add(value)

    data = site.data()
    collect(data)
    written = [t for part in site.raw["parts"] for t in texts(part)]
    written += list(texts(site.raw.get("document", {}).get("title")))
    missing = [t for t in written if t not in strings]
    assert not missing, f"{site.name}: texts not in the JSON data file:\n" + "\n".join(f"  {t!r}" for t in missing)
    assert data.get("given") == site.raw.get("given"), f"{site.name}: `given` in the JSON"


def test_indicator_rows_keep_their_columns(site: Built):
    """Each indicator table is rendered under its printed column labels, in order, and each
    row shows its cells in those columns (merged 一级/二级 cells once, blank cells blank)."""
    for n, (written, project_page) in enumerate(site.project_pages(), 1):
        rendered = {tuple(t.header): t for t in project_page.tables if "indicators" in t.classes.split()}
        for rows_key, columns_key in (("indicators", "columns"), ("period_indicators", "period_columns")):
            rows = written.get(rows_key) or []
            if not rows:
                continue
            columns = written.get(columns_key) or [c.label for c in STANDARD_COLUMNS]
            header = tuple(column_labels(columns))
            assert header in rendered, (f"{site.name} project {n}: no indicator table headed {list(header)}; "
                                        f"tables: {[list(h) for h in rendered]}")
            got = rendered[header].rows
            want = [expected_row(row, columns) for row in rows]
            assert got == want, f"{site.name} project {n} {rows_key}:\n  expected {want}\n  got      {got}"


def test_fields_show_exactly_their_values(site: Built):
    """Each further field is a row of the facts table: its label, then exactly its value,
    nested fields and table, each once."""
    for n, (written, project_page) in enumerate(site.project_pages(), 1):
        facts = [t for t in project_page.tables if "facts-table" in t.classes.split()]
        assert len(facts) == 1, f"{site.name} project {n}: {len(facts)} facts tables"
        rows = {row[0]: row[1:] for row in facts[0].rows}
        for field in written.get("fields") or []:
            assert field["label"] in rows, f"{site.name} project {n}: no facts row {field['label']!r}"
            got = squash("".join(rows[field["label"]]))
            want = squash("".join(field_tokens(field)))
            assert got == want, (f"{site.name} project {n}, field {field['label']!r}:\n"
                                 f"  expected {want!r}\n  got      {got!r}")


def test_field_tables_are_aligned(site: Built):
    """A small table printed in a field: its header stands over its columns (a first column
    with no printed heading, as in the docs' example, leaves its header cell empty)."""
    for n, (written, project_page) in enumerate(site.project_pages(), 1):
        for field in written.get("fields") or []:
            if not field.get("table"):
                continue
            tables = [t for t in project_page.tables if t.parent_cell == field["label"]]
            assert len(tables) == 1, f"{site.name} project {n}: field {field['label']!r} has {len(tables)} tables"
            table = tables[0]
            assert table.rows == [[norm(c) for c in row] for row in field["table"]["rows"]]
            widths = {len(row) for row in table.rows}
            assert widths == {len(table.header)}, (
                f"{site.name} project {n}, field {field['label']!r}: the header has {len(table.header)} "
                f"cells {table.header} over rows of {sorted(widths)} cells: the header does not stand over its columns")


def test_the_forms_own_labels_and_no_others(site: Built):
    """The page shows each label the form prints, and no Hebei label it does not print,
    in any table's header cells (facts, goals, indicators)."""
    for n, (written, project_page) in enumerate(site.project_pages(), 1):
        own = printed_labels(written)
        shown = set(project_page.label_texts())
        assert not own - shown, f"{site.name} project {n}: printed labels not shown as labels: {sorted(own - shown)}"
        cells = {norm(t) for t in texts(written)}
        foreign = HEBEI_LABELS - own - cells
        headers = set(project_page.label_texts({"th"}))
        assert not foreign & headers, (f"{site.name} project {n}: Hebei labels this form does not print, "
                                       f"shown in table headers: {sorted(foreign & headers)}")
        facts = [t for t in project_page.tables if "facts-table" in t.classes.split()][0]
        row_heads = [row[0] for row in facts.rows]
        assert set(row_heads) <= own | cells, (f"{site.name} project {n}: facts rows the form does not print: "
                                               f"{sorted(set(row_heads) - own - cells)}")


def test_no_hebei_section_headings(site: Built):
    """The sections of a project page (goals, plan) are headed with the form's labels, not
    Hebei's: "nothing the form does not print" (docs/content-format.md, `labels`)."""
    for n, (written, project_page) in enumerate(site.project_pages(), 1):
        foreign = HEBEI_LABELS - printed_labels(written) - {norm(t) for t in texts(written)}
        headings = set(project_page.label_texts({"h2", "h3", "h4"}))
        assert not foreign & headings, (f"{site.name} project {n}: section headings with Hebei labels "
                                        f"this form does not print: {sorted(foreign & headings)}")


def test_typed_from_the_excerpt(site: Built):
    """Every line of every text typed is in the excerpt (spaces and the pages' cell
    separators "|" aside): nothing was made up, typos are the source's."""
    excerpt = squash((LAYOUTS / site.name / "excerpt.txt").read_text(encoding="utf-8")).replace("|", "")
    written = [t for part in site.raw["parts"] for t in texts(part)]
    written += list(texts((site.raw.get("document") or {}).get("title")))
    missing = [line for t in written for line in t.splitlines()
               if squash(line) and squash(line) not in excerpt]
    assert not missing, f"{site.name}: typed lines not in the excerpt: {missing}"
