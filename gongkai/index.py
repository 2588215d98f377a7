"""Search index stage (stub).

This does nothing yet: the search work replaces it with a Pagefind index of the rendered
pages. The pipeline calls `build_index(staging_dir, config)` after every page is written
to the staging folder and before it is swapped in, so an index failure keeps the old site.
"""
from __future__ import annotations

from pathlib import Path

from .config import Config


def build_index(site_dir: Path, config: Config) -> None:
    """Build the search index inside `site_dir` (stub: does nothing)."""
    return None
