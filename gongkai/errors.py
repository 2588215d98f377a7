"""Problems found in input: values with file, line, column and message until the CLI prints them."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ERROR = "error"
NOTE = "note"


@dataclass(frozen=True)
class Problem:
    file: str
    line: int            # 1-based; 0 when the problem concerns the whole file
    column: int          # 1-based
    message: str
    severity: str = ERROR
    key: str = ""        # key path such as parts[1].projects[0].budget
    hint: str = ""

    @classmethod
    def at(cls, file, node, message: str, *, key: str = "", hint: str = "",
           severity: str = ERROR) -> "Problem":
        """A problem at a YAML node's start (node may be None: the file's start)."""
        line, column = (node.start_mark.line + 1, node.start_mark.column + 1) if node is not None else (1, 1)
        return cls(str(file), line, column, message, severity, key, hint)

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def format(self) -> str:
        """One line, `file:line:col: error: key: message (hint)`, fit for editors and CI."""
        where = f"{self.file}:{self.line}:{self.column}"
        text = f"{_clip(self.key)}: {_clip(self.message)}" if self.key else _clip(self.message)
        if self.hint:
            text += f" (hint: {_clip(self.hint)})"
        return f"{where}: {self.severity}: {text}"

    def excerpt(self, source: str, context: int = 1) -> str:
        """The offending line(s) of `source` with a caret under the column."""
        lines = source.splitlines()
        if not (1 <= self.line <= len(lines)):
            return ""
        out = []
        first = max(1, self.line - context)
        for n in range(first, self.line + 1):
            out.append(f"{n:>5} | {lines[n - 1]}")
        # Wide (CJK) characters take two terminal cells; align the caret with them.
        prefix = lines[self.line - 1][: self.column - 1]
        width = sum(2 if _is_wide(c) else 1 for c in prefix)
        out.append("      | " + " " * width + "^")
        return "\n".join(out)


def _clip(text: str, limit: int = 300) -> str:
    """A message part no longer than `limit`: a 1 MB value quoted in a message stays one line."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _is_wide(char: str) -> bool:
    import unicodedata
    return unicodedata.east_asian_width(char) in ("W", "F")


def sort_key(problem: Problem):
    return (problem.file, problem.line, problem.column, problem.message)


def relpath(path: Path, root: Path | None = None) -> str:
    """A path as shown in messages: relative to the root (or cwd) when possible."""
    path = Path(path)
    base = (root or Path.cwd()).resolve()
    for candidate in (path.absolute(), path.resolve()):   # a symbolic link: where it is, not its target
        try:
            return str(candidate.relative_to(base))
        except ValueError:
            pass
    return str(path)
