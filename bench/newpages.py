"""What the derived pages cost: `python -m bench.newpages CONFIG SITE` prints JSON.

The derived pages are the indicator explorer (`indicators/`: its page, data parts and the
listing without JavaScript), the method page (`indicators/method/`) and one page per agency
(`agencies/{agency}/`). For each group: files, bytes and the largest HTML page, read from
the built SITE; and the seconds this process takes to render the group again from the
content's outlines (read through the parse cache the build left) and the data files in
SITE, one group at a time, in the order the build renders them (`Renderer.common`).
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from gongkai import opendata, urls  # noqa: E402
from gongkai.config import load_config  # noqa: E402
from gongkai.render import Output, explorer  # noqa: E402
from gongkai.render.method import measurability_page  # noqa: E402
from gongkai.site import Site  # noqa: E402

GROUPS = {   # group -> does a site path belong to it
    "explorer": lambda rel: rel.startswith("indicators/") and not rel.startswith("indicators/method/"),
    "method": lambda rel: rel.startswith("indicators/method/"),
    "agencies": lambda rel: rel.startswith(urls.AGENCIES),
}


def sizes(site: Path) -> dict:
    """Files, bytes and the largest HTML page of each group in the built site."""
    found = {name: {"files": 0, "bytes": 0, "html_pages": 0, "largest_html": 0, "largest_page": ""}
             for name in GROUPS}
    for path in site.rglob("*"):
        if not path.is_file():
            continue
        rel = path.relative_to(site).as_posix()
        for name, belongs in GROUPS.items():
            if belongs(rel):
                size = path.stat().st_size
                group = found[name]
                group["files"] += 1
                group["bytes"] += size
                if rel.endswith(".html"):
                    group["html_pages"] += 1
                    if size > group["largest_html"]:
                        group["largest_html"], group["largest_page"] = size, rel
    first = site / urls.EXPLORER_MANIFEST
    if first.is_file():
        manifest = json.loads(first.read_text(encoding="utf-8"))
        found["explorer"]["data_parts"] = len(manifest.get("parts", ()))
    return found


def render_seconds(config_path: Path, site: Path) -> dict:
    """Seconds to render each group again in this process."""
    config, problems = load_config(config_path)
    if config is None:
        raise SystemExit("\n".join(p.format() for p in problems))
    built = Site(config, None)
    built.compile()
    results = built.years(built.content_files(), built.job(render=False), label="读取")
    years = Site.outlines(results)
    read = lambda path: (site / path).read_bytes()   # noqa: E731
    data = {path: read(path) for path in opendata.site_wide_paths()}
    renderer, seconds = built.renderer, {}
    for name, render in (("agencies", lambda out: renderer._agencies(out, years, read)),
                         ("method", lambda out: measurability_page(renderer, out, years, None)),
                         ("explorer", lambda out: explorer.pages(renderer, out, years, data))):
        started = time.perf_counter()
        render(Output())
        seconds[name] = round(time.perf_counter() - started, 3)
    return seconds


def main() -> int:
    config_path, site = Path(sys.argv[1]), Path(sys.argv[2])
    found = sizes(site)
    for name, secs in render_seconds(config_path, site).items():
        found[name]["render_s"] = secs
    print(json.dumps(found, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
