"""What git knows of the content files: when each was first committed and last changed.

A document that prints no publication date still has one date that is known: the day its
content file was first committed, which is the day this site published it. The pages say
so in those words, and the sitemap's `lastmod` is the day of the file's last commit. No
date is ever made up: outside a git checkout (or for a file not yet committed) there is
none, and the pages, sitemap and feed leave the field out.
"""
from __future__ import annotations

import datetime
import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

GIT_TIMEOUT = 60   # seconds; `git log` over 100,000 files takes about one


@dataclass(frozen=True)
class FileDates:
    first: datetime.date     # the commit that added the file: the site's publication date
    last: datetime.date      # the newest commit that changed it


def content_dates(root: Path, folder: str = "content") -> dict[str, FileDates]:
    """Dates of every committed file under `folder`, keyed by its path relative to `root`
    (as `AgencyYear.source` is written). Empty when `root` is not in a git checkout, the
    checkout is shallow (CI's `fetch-depth: 1`: fetch the whole history) or git is not
    installed. One `git log` for the whole folder: newest commit first, so a file's
    first line is its last change and its last line is the commit that added it."""
    try:
        shallow = subprocess.run(["git", "rev-parse", "--is-shallow-repository"], cwd=root,
                                 capture_output=True, timeout=GIT_TIMEOUT, check=False)
        if shallow.returncode != 0 or shallow.stdout.strip() != b"false":
            return {}   # no checkout, or a shallow one: its oldest commit is not when a file was added
        run = subprocess.run(
            ["git", "-c", "core.quotepath=off", "log", "--format=%x00%cs", "--name-only",
             "--no-renames", "--relative", "--", folder],
            cwd=root, capture_output=True, timeout=GIT_TIMEOUT, check=False)
    except (OSError, subprocess.SubprocessError):
        return {}
    if run.returncode != 0:
        return {}
    dates: dict[str, list[datetime.date]] = {}
    day: Optional[datetime.date] = None
    for line in run.stdout.decode("utf-8", "surrogateescape").split("\n"):
        if line.startswith("\0"):
            day = datetime.date.fromisoformat(line[1:])
        elif line and day is not None:
            seen = dates.setdefault(line, [day, day])
            seen[1] = day            # older commits come later in the log
    return {path: FileDates(first=days[1], last=days[0]) for path, days in dates.items()}


def digest(dates: dict[str, FileDates]) -> bytes:
    """A digest of the dates, for the build's input fingerprint: a commit changes the pages."""
    text = "\n".join(f"{p}\t{d.first}\t{d.last}" for p, d in sorted(dates.items()))
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).digest()
