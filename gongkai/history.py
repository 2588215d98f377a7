"""What git knows of the content files: when each was first committed and last changed,
and the commits that changed it since (read by `corrections.py`).

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

GIT_TIMEOUT = 60   # seconds; `git log` over 100,000 files takes about one


# Commits kept per file, newest first: the corrections a page lists are bounded by this
# (the commit that added the file is always known apart, as `FileDates.first`).
KEEP_COMMITS = 51


@dataclass(frozen=True)
class Commit:
    sha: str                 # full commit id
    day: datetime.date       # its committer date (%cs)


@dataclass(frozen=True)
class FileDates:
    first: datetime.date     # the commit that added the file: the site's publication date
    last: datetime.date      # the newest commit that changed it
    # The newest commits that changed the file (at most KEEP_COMMITS), newest first, and
    # how many there are in all (the one that added it included).
    commits: tuple[Commit, ...] = field(default=(), compare=False)
    count: int = 1


@dataclass(frozen=True)
class History:
    """What one `git log` says of the content files, and whether it could say anything:
    `state` is "git", or why there is nothing: "no-git" (not a checkout, or git missing),
    "shallow" (a shallow clone: its oldest commit is not when a file was added)."""
    dates: dict[str, FileDates]
    state: str

    @property
    def known(self) -> bool:
        return self.state == "git"


def content_dates(root: Path, folder: str = "content") -> dict[str, FileDates]:
    """Dates of every committed file under `folder`, keyed by its path relative to `root`
    (as `AgencyYear.source` is written). Empty when `root` is not in a git checkout, the
    checkout is shallow (CI's `fetch-depth: 1`: fetch the whole history) or git is not
    installed."""
    return read(root, folder).dates


def read(root: Path, folder: str = "content") -> History:
    """The content files' dates and commits. One `git log` for the whole folder: newest
    commit first, so a file's first line is its last change and its last line is the commit
    that added it. Merge commits list no files (`--name-only` without `-m`): a file's
    commits are those that changed it on the history that leads to HEAD."""
    try:
        shallow = subprocess.run(["git", "rev-parse", "--is-shallow-repository"], cwd=root,
                                 capture_output=True, timeout=GIT_TIMEOUT, check=False)
        if shallow.returncode != 0 or shallow.stdout.strip() not in (b"false", b"true"):
            return History({}, "no-git")
        if shallow.stdout.strip() == b"true":
            return History({}, "shallow")
        run = subprocess.run(
            ["git", "-c", "core.quotepath=off", "log", "--format=%x00%H %cs", "--name-only",
             "--no-renames", "--relative", "--", folder],
            cwd=root, capture_output=True, timeout=GIT_TIMEOUT, check=False)
    except (OSError, subprocess.SubprocessError):
        return History({}, "no-git")
    if run.returncode != 0:
        # A checkout with no commit yet: nothing is published, nothing to say about it.
        return History({}, "git" if b"does not have any commits" in run.stderr else "no-git")
    seen: dict[str, list] = {}   # path -> [newest day, oldest day, commits kept, count]
    commit: Optional[Commit] = None
    for line in run.stdout.decode("utf-8", "surrogateescape").split("\n"):
        if line.startswith("\0"):
            sha, _, day = line[1:].partition(" ")
            commit = Commit(sha, datetime.date.fromisoformat(day))
        elif line and commit is not None:
            entry = seen.get(line)
            if entry is None:
                seen[line] = [commit.day, commit.day, [commit], 1]
            else:
                entry[1] = commit.day        # older commits come later in the log
                entry[3] += 1
                if len(entry[2]) < KEEP_COMMITS:
                    entry[2].append(commit)
    return History({path: FileDates(first=e[1], last=e[0], commits=tuple(e[2]), count=e[3])
                    for path, e in seen.items()}, "git")


def digest(dates: dict[str, FileDates]) -> bytes:
    """A digest of the dates and the newest commit of each file, for the build's input
    fingerprint: a commit changes the pages (two on one day too: the corrections listed)."""
    text = "\n".join(f"{p}\t{d.first}\t{d.last}\t{d.count}\t{d.commits[0].sha if d.commits else ''}"
                      for p, d in sorted(dates.items()))
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).digest()
