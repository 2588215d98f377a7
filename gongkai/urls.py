"""Every path rule of the site and of the content folder, in one place.

Output paths are site-relative POSIX paths (`2022/287001/index.html`); pages link to each
other with relative URLs made from them (`root_of`, `quote`), so the site works under any
sub-path and from disk. Render, open data, search, serve and the feed ask this module;
none of them spells a path out.
"""
from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Optional

# --- content/ ---------------------------------------------------------------------------

CONTENT_SUFFIXES = (".yaml", ".yml")   # .yml is found so that it is reported, never left out


def is_year_folder(name: str) -> bool:
    """`content/{year}/`: a folder named by digits only."""
    return name.isdigit()


def agency_file_of(content_dir: Path, path: Path) -> Optional[Path]:
    """The agency-year file a path under `content/` belongs to: itself
    (`content/2022/287001.yaml`), or the owner of an original in `content/2022/287001/`."""
    try:
        parts = path.relative_to(content_dir).parts
    except ValueError:
        return None
    if len(parts) < 2 or not is_year_folder(parts[0]):
        return None
    if len(parts) == 2:
        return path if parts[1].endswith(CONTENT_SUFFIXES) else None
    return content_dir / parts[0] / f"{parts[1]}.yaml"


def agency_years(content_dir: Path, files: list[Path]) -> dict[str, tuple[int, ...]]:
    """Each agency's years, newest first, from where its files are (`content/{year}/{ident}.yaml`,
    the place validation holds every file to): what an agency-year page needs to link the
    agency's other years before any other file is read."""
    found: dict[str, set[int]] = {}
    for path in files:
        try:
            parts = path.relative_to(content_dir).parts
        except ValueError:
            continue
        if len(parts) == 2 and is_year_folder(parts[0]) and parts[1].endswith(CONTENT_SUFFIXES):
            found.setdefault(parts[1].rsplit(".", 1)[0], set()).add(int(parts[0]))
    return {ident: tuple(sorted(years, reverse=True)) for ident, years in found.items()}


def originals_folder(agency_file: Path, ident: Optional[str] = None) -> Path:
    """`content/2022/287001/` beside `content/2022/287001.yaml`: the agency year's originals
    (named by the agency's identifier, which placement checks to be the file's name)."""
    return agency_file.parent / (ident or agency_file.stem)


# --- pages ------------------------------------------------------------------------------

def year_dir(year: int, ident: str) -> str:
    """`2022/287001/`: the folder of an agency year's pages, originals and nothing else."""
    return f"{year}/{ident}/"


def year_page(year: int, ident: str) -> str:
    return f"{year}/{ident}/index.html"


def project_page(year: int, ident: str, slug: str) -> str:
    return f"{year}/{ident}/{slug}/index.html"


def project_dir(year: int, ident: str, slug: str) -> str:
    return f"{year}/{ident}/{slug}/"


def project_from_year(slug: str) -> str:
    """A project page's link from its agency year's page (and, with "../", from another project page)."""
    return f"{slug}/index.html"


YEAR_FROM_PROJECT = "../index.html"   # a project page's link to its agency year's page


def original(year: int, ident: str, file: str) -> str:
    return f"{year}/{ident}/originals/{file}"


ORIGINALS_FROM_YEAR_PAGE = "originals/"   # where the agency-year page finds its originals
# An original that is a text extracted from the published file, not the file itself. A
# server that sends no charset shows its UTF-8 as mojibake, so it is also shown as a page.
EXTRACTED_SUFFIXES = (".txt",)


def is_extracted(file: str) -> bool:
    return file.lower().endswith(EXTRACTED_SUFFIXES)


def extracted_page(year: int, ident: str, file: str) -> str:
    """The page showing an extracted-text original (`originals/x.txt.html`)."""
    return original(year, ident, file) + ".html"
# Names in an agency year's folder that are not project pages: no project may take them.
YEAR_FOLDER_NAMES = ("index.html", "originals")

HOME = "index.html"
SEARCH = "search/index.html"
SITEMAP_PAGE = "sitemap/index.html"
ACCESSIBILITY = "accessibility/index.html"
MEASURABILITY = "indicators/method/index.html"   # how indicators are classed (measure.py)
NOT_FOUND = "404.html"
AGENCIES = "agencies/"


def region_list(year: int, region: int, n: int = 1) -> str:
    """Page `n` (from 1) of the list of one year's agency years of a region (`region`: its
    place in site_config, from 1); render/lists.py."""
    return f"list/{year}-{region}.html" if n == 1 else f"list/{year}-{region}-{n}.html"


def agency_page(ident: str) -> str:
    """`agencies/{agency}/`: every year of one agency and what changed between them."""
    return f"{AGENCIES}{ident}/index.html"
SITEMAP_XML = "sitemap.xml"


def sitemap_file(n: int) -> str:
    """File `n` (from 1) of a sitemap split by the protocol's 50,000 addresses per file;
    sitemap.xml is then their index."""
    return f"sitemap-{n}.xml"


ROBOTS = "robots.txt"
FEED = "feed.xml"
ASSETS = "assets/"

# --- open data --------------------------------------------------------------------------

DATA_DIR = "data"
DATA = DATA_DIR + "/"
ALL_PROJECTS = "data/projects.csv"
ALL_INDICATORS = "data/indicators.csv"
DATA_PACKAGE = "data/datapackage.json"


def data_file(name: str) -> str:
    return f"{DATA_DIR}/{name}"


def year_data(year: int, ident: str) -> dict[str, str]:
    """Site-relative paths of one agency year's data files."""
    stem = f"{DATA_DIR}/{year}-{ident}"
    return {"json": f"{stem}.json", "projects": f"{stem}-projects.csv",
            "indicators": f"{stem}-indicators.csv"}


def is_year_data(path: str) -> bool:
    """`data/2022-287001.json` and its CSVs, as opposed to the site-wide data files."""
    return path.startswith(DATA) and path[len(DATA):len(DATA) + 4].isdigit()


# --- search -----------------------------------------------------------------------------

SEARCH_BUNDLE = "search-index"       # the index folder in the site (gongkai/search/index.py)


# --- what serve rewrites after a content change -------------------------------------------

# Outputs that list every agency year: brought up to date after the changed agency years'
# own pages, which the browser reloads first.
SITE_WIDE = (DATA, HOME, "sitemap/", SITEMAP_XML, FEED, ROBOTS)
# Written after the browser reloaded when everything is re-rendered (megabytes of open data).
DEFERRED = (DATA,)


# --- links ------------------------------------------------------------------------------

def root_of(path: str) -> str:
    """The relative prefix that leads from the page at `path` back to the site root."""
    return "../" * path.count("/")


def quote(path: str) -> str:
    """A site path as a URL: every segment percent-encoded (originals may have Chinese names)."""
    return "/".join(urllib.parse.quote(part) for part in path.split("/"))


# --- the indicator explorer (render/explorer.py) ---------------------------------------------

EXPLORER = "indicators/index.html"                 # every indicator, filtered in the browser
EXPLORER_MANIFEST = "indicators/data/manifest.json"   # columns, facets, the list of parts
EXPLORER_LIST = "indicators/list/index.html"       # the listing without JavaScript: its contents


def explorer_part(n: int) -> str:
    """Part `n` (from 1) of the explorer's rows: compact JSON, loaded one after another."""
    return f"indicators/data/part-{n}.json"


def explorer_region(year: int, region: int) -> str:
    """The listing's directory of one year's region (`region`: its place in site_config, from 1)."""
    return f"indicators/list/{year}-{region}.html"


def explorer_list_page(year: int, region: int, n: int) -> str:
    """Page `n` (from 1) of the listing of one year's region: every indicator, grouped by agency."""
    return f"indicators/list/{year}-{region}-{n}.html"
