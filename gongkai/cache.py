"""A content-addressed cache of parsed and checked files, so unchanged YAML is never re-parsed.

The key is a hash of the file's text, its label (positions name the file) and the source of
the modules that turn text into a model: editing either gives a new key, so a stale entry
can never be used. Entries are pickles written by this tool into `.cache/` (gitignored).
"""
from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path
from typing import Optional

_CODE_FILES = ("model.py", "load.py", "validate.py", "errors.py", "cache.py")


def _code_version() -> bytes:
    here = Path(__file__).parent
    digest = hashlib.sha256()
    for name in _CODE_FILES:
        digest.update((here / name).read_bytes())
    return digest.digest()


class ParseCache:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.version = _code_version()

    def key(self, label: str, text: str) -> str:
        digest = hashlib.sha256(self.version)
        # surrogateescape: a file name that is not UTF-8 (a zip from a GBK system) is a label too
        digest.update(label.encode("utf-8", "surrogateescape") + b"\0" + text.encode("utf-8", "surrogateescape"))
        return digest.hexdigest()

    def get(self, key: str) -> Optional[object]:
        try:
            with open(self.folder / key[:2] / key, "rb") as f:
                return pickle.load(f)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            return None

    def put(self, key: str, value: object) -> None:
        target = self.folder / key[:2] / key
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{key}.{os.getpid()}")
            tmp.write_bytes(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
            os.replace(tmp, target)  # a reader never sees half an entry
        except OSError:
            pass  # a cache that cannot be written only costs time
