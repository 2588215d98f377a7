"""What the commands print for editors: problems as `file:line:col` lines, and one-line notes."""
from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import Iterable, Optional, TextIO

from .errors import Problem, sort_key


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def report(problems: Iterable[Problem], stream: Optional[TextIO] = None,
           excerpts_from: Optional[Path] = None) -> int:
    """Print every problem in file order (to stderr unless `stream` is given); with
    `excerpts_from` (the project root), each error is followed by its line with a caret.
    Returns the number of errors."""
    stream = stream or sys.stderr
    problems = sorted(problems, key=sort_key)
    for problem in problems:
        print(_printable(problem.format()), file=stream)
        if excerpts_from is not None and problem.is_error:
            excerpt = excerpt_of(problem, excerpts_from)
            if excerpt:
                print(excerpt, file=stream)
    stream.flush()
    return sum(p.is_error for p in problems)


def _printable(line: str) -> str:
    """A line any terminal or log takes: a file name that is not UTF-8 (its bytes kept as
    surrogates) shows as escapes instead of stopping the program."""
    return line.encode("utf-8", "backslashreplace").decode("utf-8")


def excerpt_of(problem: Problem, root: Path) -> str:
    """The offending line of the problem's file with a caret, or "" when it cannot be read.
    A link leading elsewhere, a pipe or a device is never opened or quoted (D3, D4)."""
    path = root / problem.file
    try:
        if (os.path.realpath(path) != os.path.join(os.path.realpath(root), problem.file)
                or not stat.S_ISREG(os.stat(path).st_mode)):
            return ""
        return problem.excerpt(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return ""
