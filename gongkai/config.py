"""Site configuration (`site_config.yaml`): read, checked, and handed to the other stages."""
from __future__ import annotations

import datetime
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .errors import Problem
from . import load


def source_date_epoch() -> Optional[datetime.date]:
    """The date of SOURCE_DATE_EPOCH (reproducible builds), or None when it is not set;
    ValueError when it is not a whole number of seconds."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise ValueError(f"SOURCE_DATE_EPOCH must be a whole number of seconds, got {value!r}")
    return datetime.datetime.fromtimestamp(int(value), datetime.timezone.utc).date()


@dataclass(frozen=True)
class Config:
    title: str
    owner: str
    regions: tuple[str, ...]
    output: str = "_site"
    serve_port: int = 8000
    contact: dict = field(default_factory=dict)
    site_id_code: str = ""
    icp: str = ""
    police_record: str = ""
    site_domain: str = ""
    column_name: str = ""
    column_type: str = ""           # 政府网站 meta ColumnType
    site_url: str = ""              # absolute URL of the published site (for sitemap.xml only)
    root: Path = Path(".")          # folder holding site_config.yaml

    @property
    def content_dir(self) -> Path:
        return self.root / "content"

    @property
    def output_dir(self) -> Path:
        return (self.root / self.output)


_TEXT_KEYS = ("title", "owner", "output", "site_id_code", "icp", "police_record",
              "site_domain", "column_name", "column_type", "site_url")


def load_config(path: str | Path) -> tuple[Optional[Config], list[Problem]]:
    """Read and check the configuration; return (config or None, problems)."""
    path = Path(path)
    node, problems = load.load_file(path)
    if node is None:
        return None, problems
    data = load.plain(node)
    if not isinstance(data, dict):
        return None, problems + [Problem.at(path, node, "expected a mapping of settings")]
    known = set(_TEXT_KEYS) | {"regions", "contact", "serve_port"}
    for key_node, _ in node.value:
        if key_node.value not in known:
            problems.append(Problem.at(path, key_node, f"unknown setting {key_node.value!r}",
                                       hint="known settings: " + ", ".join(sorted(known))))
    for key in ("title", "owner", "regions"):
        if key not in data:
            problems.append(Problem.at(path, node, f"missing setting {key!r}"))
    if problems:
        return None, problems
    site_url = str(data.get("site_url") or "")
    if site_url and not re.match(r"^https?://[^/\s]+/(\S*/)?$", site_url):
        problems.append(Problem.at(path, node, f"site_url: expected an http(s) URL ending in '/', got {site_url!r}",
                                   hint="e.g. https://example.gov.cn/zwgk/jxgk/"))
        return None, problems
    regions = data.get("regions") or []
    if not isinstance(regions, list) or not all(isinstance(r, str) for r in regions):
        return None, [Problem.at(path, node, "regions: expected a list of region names")]
    cfg = Config(
        title=str(data["title"]), owner=str(data["owner"]), regions=tuple(regions),
        output=str(data.get("output") or "_site"),
        serve_port=int(data.get("serve_port") or 8000),
        contact={str(k): str(v) for k, v in (data.get("contact") or {}).items()},
        **{k: str(data.get(k) or "") for k in _TEXT_KEYS if k not in ("title", "owner", "output")},
        root=path.resolve().parent,
    )
    return cfg, []
