"""Pages: each template rendered with its view into an `Output`, nothing written."""
from __future__ import annotations

import datetime
import json
import re
import traceback
from pathlib import Path
from typing import Any, Callable, Optional

import jinja2

from .. import jsonld, parallel, urls
from ..config import Config
from ..compare import compare
from ..corrections import FileCorrections, feed_summary, page_view as corrections_view
from ..history import FileDates
from ..values import grouped
from ..derive import ProjectFacts, YearFacts, YearOutline
from ..errors import Problem, relpath
from ..opendata import Written
from . import explorer, lists
from .fast_jinja import make_env
from .method import measurability_page
from .output import Output
from .views import (amount, data_view, entry_date, make_markdown, markdown,
                    measure_view, original_view, page_view, project_title, project_view, search_facets,
                    sections_view, site_view, toc_view)

PACKAGE_ROOT = Path(__file__).resolve().parent.parent.parent


def site_folder(config: Config, name: str) -> Path:
    """`templates/` or `theme/` beside site_config.yaml if there is one, else the built-in one."""
    own = config.root / name
    return own if own.is_dir() else PACKAGE_ROOT / name


def template_problem(exc: Exception, templates: Path) -> Problem:
    """A template error as a Problem naming the template file and line."""
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return Problem(relpath(Path(exc.filename or exc.name or "?")), exc.lineno or 1, 1,
                       f"模板错误：{exc.message}")
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if f.filename.startswith(str(templates))]
    where = frames[-1] if frames else None
    return Problem(relpath(Path(where.filename)) if where else str(templates),
                   where.lineno if where else 1, 1, f"模板错误：{exc}")



CHINA = datetime.timezone(datetime.timedelta(hours=8))
FEED_CORRECTIONS = 100   # correction entries in the feed, newest first
FEED_ENTRIES = 100       # agency-year entries in the feed, newest first (all of them: open data)
SITEMAP_URLS = 50_000    # addresses per sitemap file (the sitemap protocol's limit)


def _iso(day: Optional[datetime.date]) -> Optional[str]:
    return day.isoformat() if day else None


def _changed(published: Optional[datetime.date], dates: Optional[FileDates]) -> Optional[datetime.date]:
    """When an agency year's pages last changed, when known: its file's last commit."""
    return dates.last if dates else published


class Renderer:
    """What every page needs (config, compiled templates, Markdown, the site's facts); each
    method renders one group of pages into a new `Output`."""

    def __init__(self, config: Config, epoch: Optional[datetime.date],
                 dates: Optional[dict[str, FileDates]] = None,
                 corrections: Optional[dict[str, FileCorrections]] = None):
        self.config, self.epoch = config, epoch
        self.dates = dates or {}     # content file -> when git first and last committed it
        self.corrections = corrections or {}   # content file -> its 更正记录 (corrections.py)
        self.templates = site_folder(config, "templates")
        self.env = make_env(self.templates)
        self.md = make_markdown()
        self.site_info = site_view(config)
        # agency identifier -> its years (urls.agency_years), set by the pipeline once the
        # content files are listed: each agency-year page links the agency's other years.
        self.agency_years: dict[str, tuple[int, ...]] = {}

    def compile(self) -> None:
        """Compile the templates now (forked build workers inherit them compiled); raises
        jinja2.TemplateError."""
        for name in ("agency_year.html", "project.html", "home.html"):
            self.env.get_template(name)

    def _page(self, out: Output, owner: str, template: str, path: str, frame: dict, **view: Any) -> None:
        """Render one template to `path` with the frame, the site facts and its view."""
        html = self.env.get_template(template).render(site=self.site_info, page=frame, **view)
        out.add(path, html.encode("utf-8"), owner)

    # --- one agency year ------------------------------------------------------------------

    def agency_year(self, facts: YearFacts, data: dict[str, bytes]) -> Output:
        """`/{year}/{agency}/`, its project pages and its data files, plus the originals to
        copy. `data` holds its own data files (their sizes are shown). Paths are owned by
        the content file: a clash between them is the content's to fix."""
        out = Output()
        with self.env.one_pass():
            self._agency_year(out, facts, data)
        for path, payload in data.items():
            out.add(path, payload, facts.year.source)
        out.problems += out.conflicts()
        return out

    def _agency_year(self, out: Output, facts: YearFacts, data: dict[str, bytes]) -> None:
        year = facts.year
        ident, owner = year.agency.ident, year.source
        path = urls.year_page(year.year, ident)
        root = urls.root_of(path)
        originals = []
        for original in year.originals:
            view, source = original_view(self.config, year, original)
            originals.append(view)
            out.copy(source, urls.original(year.year, ident, original.file), owner)
            if view["extracted"]:
                self._extracted_page(out, year, view, source,
                                     entry_date(year.document.published, self.dates.get(year.source)))
        heading = f"{year.agency.name} {year.year} 年部门预算绩效目标"
        by_project = {id(pf.project): pf for pf in facts.projects}
        # Each project's view, once: its own page and the agency year's print-only copy of its tables.
        views = {id(pf.project): project_view(pf, originals) for pf in facts.projects}
        parts = [{"id": f"part-{n}", "number": part.number, "title": part.title,
                  "html": markdown(self.md, part.text, root, 2),
                  "sections": sections_view(self.md, part.sections, f"part-{n}", 0, root),
                  "projects": [{"href": urls.project_from_year(by_project[id(p)].slug),
                                "text": (p.number or "") + p.title, "view": views[id(p)]} for p in part.projects]}
                 for n, part in enumerate(year.parts, 1)]
        projects = [{"href": urls.project_from_year(pf.slug), "number": pf.project.number or str(pf.index),
                     "code": pf.project.code, "name": pf.project.name or pf.project.title,
                     "budget": amount(pf.project.budget),
                     "unit": pf.unit if pf.unit != year.unit else None,
                     "measure": views[id(pf.project)]["measure"]} for pf in facts.projects]
        view = {
            "heading": heading, "agency": year.agency, "document": year.document, "unit": year.unit,
            "agency_href": root + urls.agency_page(ident),
            "other_years": [{"year": other, "href": root + urls.year_page(other, ident)}
                            for other in self.agency_years.get(ident, ()) if other != year.year],
            "given": year.given, "site_date": _iso(self.dates[year.source].first) if year.source in self.dates else None, "has_codes": any(p.code for p in year.projects),
            "year": year.year, "preamble": markdown(self.md, year.preamble, root, 1),
            "toc": toc_view(facts, originals), "toc_printed": year.document.toc_printed,
            "parts": parts, "projects": projects, "total": grouped(facts.total_budget),
            "notes": list(facts.notes), "unplaced": year.unplaced, "originals": originals,
            "data": data_view(year, data, root),
            "corrections": corrections_view(self.corrections.get(year.source)),
            "measure": measure_view(facts.measure, root + urls.MEASURABILITY),
        }
        published = entry_date(year.document.published, self.dates.get(year.source))
        frame = page_view(path, heading, self._year_crumbs(year.year) + [(year.agency.name, None)],
                          pub_date=published, source=year.agency.name)
        frame["jsonld"] = jsonld.agency_year(facts, heading, root)
        self._page(out, owner, "agency_year.html", path, frame, year=view,
                   search=search_facets(year, "部门", facts.total_budget, year.unit))
        for i, pf in enumerate(facts.projects):
            self._project(out, facts, pf, facts.projects[i - 1] if i else None,
                          facts.projects[i + 1] if i + 1 < len(facts.projects) else None, published,
                          views[id(pf.project)])

    def _extracted_page(self, out: Output, year, original: dict, source: Path,
                        published: Optional[datetime.date]) -> None:
        """`originals/x.txt.html`: an extracted-text original shown as a page, so that it
        reads as UTF-8 whatever charset the server sends for `.txt`."""
        path = urls.extracted_page(year.year, year.agency.ident, original["file"])
        data = source.read_bytes()
        try:
            text, exact = data.decode("utf-8"), True
        except UnicodeDecodeError:
            text, exact = data.decode("utf-8", errors="replace"), False
        title = f"提取文本：{original['title']}"
        crumbs = self._year_crumbs(year.year) + [(year.agency.name, urls.year_page(year.year, year.agency.ident)),
                                                 (title, None)]
        frame = page_view(path, title, crumbs, pub_date=published, source=year.agency.name)
        self._page(out, year.source, "extracted.html", path, frame,
                   original=original, text=text.removeprefix("\ufeff"), exact=exact,
                   download=urls.quote(original["file"]), back=urls.root_of(path) + urls.year_page(year.year, year.agency.ident),
                   back_label=f"{year.agency.name} {year.year} 年部门预算绩效目标")

    @staticmethod
    def _year_crumbs(number: int) -> list[tuple[str, Optional[str]]]:
        return [("首页", urls.HOME), (f"{number} 年", f"{urls.HOME}#y{number}")]

    def _project(self, out: Output, facts: YearFacts, pf: ProjectFacts, prev: Optional[ProjectFacts],
                 next_: Optional[ProjectFacts], published: datetime.date, view: dict) -> None:
        """`/{year}/{agency}/{project}/`: one 绩效目标表."""
        year = facts.year
        path = urls.project_page(year.year, year.agency.ident, pf.slug)
        nav = {"prev": {"href": "../" + urls.project_from_year(prev.slug), "title": project_title(prev)} if prev else None,
               "next": {"href": "../" + urls.project_from_year(next_.slug), "title": project_title(next_)} if next_ else None}
        frame = page_view(path, f"{project_title(pf)} - {year.agency.name} {year.year} 年",
                          self._year_crumbs(year.year) + [(year.agency.name, urls.year_page(year.year, year.agency.ident)),
                                                          (project_title(pf), None)],
                          pub_date=published, source=year.agency.name)
        self._page(out, year.source, "project.html", path, frame, project=view, nav=nav,
                   search=search_facets(year, "项目", pf.project.budget, pf.unit, pf.categories),
                   agency={"name": year.agency.name, "year": year.year, "href": urls.YEAR_FROM_PROJECT,
                           "count": len(facts.projects)})

    # --- the pages that list every agency year, fixed pages, assets ------------------------

    def common(self, years: list[YearOutline], data: dict[str, bytes | Written],
               read: Optional[Callable[[str], bytes]] = None,
               sink: Optional[Callable[[str, bytes], None]] = None, workers: int = 1) -> Output:
        """Everything but the agency-year pages: lists, feeds, the site-wide data files (`data`),
        fixed pages, assets. `years` in site order. `read(path)` gives an agency year's own
        data file, for the comparisons of an agency's years (without it, as in `check`, the
        agency pages list the years only). `sink(path, bytes)` writes each file at once
        (the build: a province's lists and explorer are hundreds of megabytes); with it and
        `workers` > 1 the explorer is rendered in a forked worker beside the rest."""
        out = Output(sink=sink)
        # indicators/: every indicator, filtered in the browser (a third of this step's time)
        groups = [lambda part: explorer.pages(self, part, years, data),
                  lambda part: self._common_rest(part, years, data, read)]
        if sink is None or workers <= 1:
            for group in groups:
                group(out)
        else:
            for written, owners, problems in parallel.run(_render_group, [0, 1], 2, (groups, sink, self.templates)):
                for path, owner in owners.items():
                    out.add_written(path, written[path], owner)
                out.problems += problems
        out.problems += out.conflicts()
        return out

    def _common_rest(self, out: Output, years: list[YearOutline], data: dict[str, bytes | Written],
                     read: Optional[Callable[[str], bytes]]) -> None:
        """`common` but the explorer."""
        self._agencies(out, years, read)
        updated = self.newest(years)
        groups, one_by_one = lists.by_year_and_region(self.config.regions, years), lists.listed_one_by_one(years)
        self._home(out, groups, one_by_one, updated)
        lists.pages(self, out, groups, updated)
        self._page(out, "templates/search.html", "search.html", urls.SEARCH,
                   self._plain_frame(urls.SEARCH, "站内搜索", updated))
        self._sitemap_page(out, years, groups, one_by_one, data, updated)
        self._page(out, "templates/accessibility.html", "accessibility.html", urls.ACCESSIBILITY,
                   self._plain_frame(urls.ACCESSIBILITY, "无障碍声明", updated))
        measurability_page(self, out, years, updated)   # indicators/method/: how indicators are classed
        # 404.html is served for a missing URL at any depth, so its links and stylesheet
        # cannot be relative: base.html gives it <base href> of the site's path (site_url).
        frame = page_view(urls.NOT_FOUND, "页面未找到", [("首页", urls.HOME), ("页面未找到", None)],
                          pub_date=updated, source=self.config.owner)
        frame["base"] = self.config.base_path
        self._page(out, "templates/404.html", "404.html", urls.NOT_FOUND, frame)
        self._feeds(out, years, updated)
        for path, payload in data.items():
            if isinstance(payload, Written):
                out.add_written(path, payload.size, "gongkai/opendata.py")
            else:
                out.add(path, payload, "gongkai/opendata.py")
        self._assets(out)

    def _agencies(self, out: Output, years: list[YearOutline], read: Optional[Callable[[str], bytes]]) -> None:
        """`agencies/{agency}/`: every year of one agency (newest first) and, from its data
        files, what changed from each year to the next (compare.py, all derived)."""
        by_ident: dict[str, list[YearOutline]] = {}
        for y in years:
            by_ident.setdefault(y.ident, []).append(y)
        for ident, group in by_ident.items():
            path = urls.agency_page(ident)
            root = urls.root_of(path)
            comparisons = []
            if read is not None and len(group) > 1:
                data = {y.year: json.loads(read(urls.year_data(y.year, ident)["json"])) for y in group}
                comparisons = [compare(data[older.year], data[newer.year]) for newer, older in zip(group, group[1:])]
            name = group[0].agency.name
            rows = [{"year": y.year, "href": root + urls.year_page(y.year, ident), "name": y.agency.name,
                     "projects": len(y.slugs), "total": grouped(y.total_budget), "unit": y.unit} for y in group]
            title = f"{name}：各年度预算绩效目标"
            frame = page_view(path, title, [("首页", urls.HOME), (title, None)],
                              pub_date=self.newest(group), source=name)
            self._page(out, "gongkai/compare.py", "agency.html", path, frame, rows=rows,
                       comparisons=comparisons, root=root, compared=read is not None)

    def newest(self, years: list[YearOutline]) -> Optional[datetime.date]:
        """When a list of these agency years last changed: the newest known date of one."""
        return max(filter(None, (entry_date(y.published, self.dates.get(y.source)) for y in years)), default=None)

    def _plain_frame(self, path: str, title: str, updated: datetime.date) -> dict:
        return page_view(path, title, [("首页", urls.HOME), (title, None)],
                         pub_date=updated, source=self.config.owner)

    def _home(self, out: Output, groups: list[dict], one_by_one: bool, updated: datetime.date) -> None:
        """`/`: agency years grouped by year (newest first) and region (config order); past
        lists.HOME_ROWS agency years, one row per year and region (render/lists.py)."""
        for group in groups:
            for region in group["regions"]:
                region["rows"] = [lists.row(y) for y in region["years"]] if one_by_one else []
        frame = page_view(urls.HOME, self.config.title, [("首页", None)],
                          pub_date=updated, source=self.config.owner)
        self._page(out, "templates/home.html", "home.html", urls.HOME, frame, groups=groups, one_by_one=one_by_one,
                   data={"projects": urls.ALL_PROJECTS, "indicators": urls.ALL_INDICATORS,
                         "package": urls.DATA_PACKAGE, "method": urls.MEASURABILITY})

    def _sitemap_page(self, out: Output, years: list[YearOutline], groups: list[dict], one_by_one: bool,
                      data: dict[str, bytes], updated: datetime.date) -> None:
        """`/sitemap/`: 网站地图. Agency years, not every project: at province scale a page of
        tens of thousands of links helps no reader (each agency page lists its projects);
        past lists.HOME_ROWS agency years, each year's regions and their list pages."""
        shown = [{"year": g["year"], "regions": g["regions"],
                  "agencies": [{"href": urls.year_page(y.year, y.ident), "name": y.agency.name,
                                "projects": len(y.slugs)} for y in years if y.year == g["year"]] if one_by_one else []}
                 for g in groups]
        site_wide = [p for p in data if not urls.is_year_data(p)]
        self._page(out, "templates/sitemap.html", "sitemap.html", urls.SITEMAP_PAGE,
                   self._plain_frame(urls.SITEMAP_PAGE, "网站地图", updated), years=shown, one_by_one=one_by_one,
                   data=[{"href": p, "file": p.removeprefix(urls.DATA)} for p in site_wide])

    def _feeds(self, out: Output, years: list[YearOutline], updated: datetime.date) -> None:
        """sitemap.xml, robots.txt and the Atom feed of agency years."""
        domain = self.config.site_domain or "gongkai.invalid"
        entries = [{"href": urls.year_page(y.year, y.ident), "dir": urls.year_dir(y.year, y.ident),
                    "title": f"{y.agency.name} {y.year} 年部门预算绩效目标",
                    "id": f"tag:{domain},{y.year}:{y.year}/{y.ident}",
                    "date": _iso(entry_date(y.published, self.dates.get(y.source))),
                    "lastmod": _iso(_changed(y.published, self.dates.get(y.source))),
                    "summary": f"{y.agency.region} {y.agency.name}：{len(y.slugs)} 个项目"
                               + (f"，预算合计（派生）{grouped(y.total_budget)}{' ' + y.unit if y.unit else ''}" if y.total_budget is not None else "") + "。",
                    "projects": [urls.project_dir(y.year, y.ident, slug) for slug in y.slugs]}
                   for y in years]
        # 更正记录: an entry per commit that changed what an agency year prints, newest first
        # (at most FEED_CORRECTIONS), linked to the correction on its page.
        corrections = sorted(
            ({"href": f"{urls.year_page(y.year, y.ident)}#{c.anchor}",
              "title": f"更正：{y.agency.name} {y.year} 年部门预算绩效目标",
              "id": f"tag:{domain},{c.day.isoformat()}:{y.year}/{y.ident}/corrections/{c.sha}",
              "date": c.day.isoformat(),
              "summary": feed_summary(c, f"{y.agency.name} {y.year} 年部门预算绩效目标")}
             for y in years if y.source in self.corrections for c in self.corrections[y.source].items),
            key=lambda e: (e["date"], e["id"]), reverse=True)[:FEED_CORRECTIONS]
        newest = max(filter(None, [updated, corrections and datetime.date.fromisoformat(corrections[0]["date"])]),
                     default=None)   # the feed's `updated`: its newest entry, a correction too
        first = min((y.year for y in years), default=2000)
        # Atom requires the feed's `updated`: the newest entry's date; a site with none known
        # says when it was built (SOURCE_DATE_EPOCH, else today in China, the zone the feed's
        # dates are written in, so that the machine's time zone changes nothing).
        built = self.epoch or datetime.datetime.now(CHINA).date()
        feed = {"id": f"tag:{domain},{first}:feed", "updated": (newest or built).isoformat(),
                "lastmod": _iso(updated), "entries": entries, "corrections": corrections,
                "site_url": self.config.site_url, "capped": None, "all": None}
        # The feed announces the newest agency years only; every one is in the open data.
        dated = [e for e in entries if e["date"]]
        if len(dated) > FEED_ENTRIES:
            kept = {id(e) for e in sorted(dated, key=lambda e: e["date"], reverse=True)[:FEED_ENTRIES]}
            feed["entries"] = [e for e in dated if id(e) in kept]
            feed["capped"], feed["all"] = FEED_ENTRIES, urls.ALL_PROJECTS
        for template, path in (("robots.txt", urls.ROBOTS), ("feed.xml", urls.FEED)):
            self._page(out, f"templates/{template}", template, path,
                       page_view(path, self.config.title, [], pub_date=updated, source=self.config.owner),
                       feed=feed)
        self._sitemaps(out, entries, updated)

    def _sitemaps(self, out: Output, entries: list[dict], updated: Optional[datetime.date]) -> None:
        """sitemap.xml: every agency-year and project page; past SITEMAP_URLS addresses (the
        protocol's limit per file) a sitemap index of files `sitemap-{n}.xml` holding that many each."""
        locations = [("", _iso(updated))]
        for e in entries:
            locations.append((e["dir"], e["lastmod"]))
            locations += [(p, e["lastmod"]) for p in e["projects"]]
        locations += [("search/", None), ("sitemap/", None), ("accessibility/", None)]
        frame = page_view(urls.SITEMAP_XML, self.config.title, [], pub_date=updated, source=self.config.owner)
        if len(locations) <= SITEMAP_URLS:
            self._page(out, "templates/sitemap.xml", "sitemap.xml", urls.SITEMAP_XML, frame,
                       site_url=self.config.site_url, locations=locations)
            return
        files = []
        for n, start in enumerate(range(0, len(locations), SITEMAP_URLS), 1):
            share = locations[start:start + SITEMAP_URLS]
            path = urls.sitemap_file(n)
            self._page(out, "templates/sitemap.xml", "sitemap.xml", path, frame,
                       site_url=self.config.site_url, locations=share)
            files.append((path, max(filter(None, (day for _, day in share)), default=None)))
        self._page(out, "templates/sitemap.xml", "sitemap-index.xml", urls.SITEMAP_XML, frame,
                   site_url=self.config.site_url, files=files)

    def _assets(self, out: Output) -> None:
        """theme/assets/* copied to assets/ (read into memory: a few small files)."""
        folder = site_folder(self.config, "theme") / "assets"
        for source in sorted(folder.rglob("*")):
            if source.is_file():
                data = source.read_bytes()
                if source.suffix == ".css":
                    data = compact_css(data)
                out.add(urls.ASSETS + source.relative_to(folder).as_posix(), data, relpath(source))


def compact_css(data: bytes) -> bytes:
    """CSS without comments and indentation: it counts in every page's weight budget.
    Only what cannot change meaning goes (spaces inside lines stay: `.a :focus`)."""
    text = re.sub(r"/\*.*?\*/", "", data.decode("utf-8"), flags=re.DOTALL)
    return ("\n".join(line.strip() for line in text.splitlines() if line.strip()) + "\n").encode("utf-8")


def _render_group(shared: tuple[list, Callable[[str, bytes], None], Path], n: int) -> tuple[dict, dict, list]:
    """In a forked worker: group `n` of `Renderer.common`, its files written by the sink;
    what it wrote (path -> size), who asked for each path, its problems."""
    groups, sink, templates = shared
    out = Output(sink=sink)
    try:
        groups[n](out)
    except OSError:            # the sink could not write (a full disk): the build's write error
        raise
    except Exception as exc:   # a template error, told with its template's line while the traceback is here
        out.problems.append(template_problem(exc, templates))
    return out.written, out.owners, out.problems
