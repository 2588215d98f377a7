"""List what a folder holds, fast: os.scandir knows each entry's type from the directory
listing, so there is no stat per file. The input fingerprint, the final page check and the
search index's reuse check all walk folders of up to 26,000 entries this way."""
from __future__ import annotations

import os
from typing import Callable, Iterator

FILE, LINK, OTHER = "file", "link", "other"


def walk_folder(folder: str, skip: Callable[[str], bool] = lambda rel: False) -> Iterator[tuple[str, str, str]]:
    """(POSIX path relative to `folder`, path, kind) of every entry under `folder` that is
    not a folder, in no particular order. Kind is FILE, LINK (a symbolic link, never
    followed) or OTHER (a pipe, socket or device: never open one, it may block). An entry
    for which `skip(rel)` is true is left out, a folder with all it holds (a folder's rel
    ends with "/")."""
    stack = [("", folder)]
    while stack:
        base, path = stack.pop()
        with os.scandir(path) as entries:
            for entry in entries:
                rel = base + entry.name
                if entry.is_symlink():
                    kind = LINK
                elif entry.is_dir():
                    if not skip(rel + "/"):
                        stack.append((rel + "/", entry.path))
                    continue
                else:
                    kind = FILE if entry.is_file() else OTHER
                if not skip(rel):
                    yield rel, entry.path, kind
