"""Deterministic YAML writer for content files: same data, same bytes, small diffs.

PyYAML's dumper re-orders, wraps and escapes in ways that make an editor's one-word change
show up as a reflowed paragraph, so content files are written here instead:

- mappings keep the order the caller built them in (the importer follows the tables of
  docs/content-format.md); keys whose value is None or an empty list are left out;
- 2-space indentation, list items indented under their key (`  - file: …`);
- text is written plain when PyYAML would read it back as the same string, else in double
  quotes (`code: "287002"`, `number: "1."`); multi-line text as a literal block (`|-`);
- real UTF-8 characters, never `\\u` escapes for printable text; no line wrapping;
- `Decimal` amounts are written unquoted exactly as held (`4000.00`);
- one blank line between top-level keys.
"""
from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import yaml

STR_TAG = "tag:yaml.org,2002:str"
_RESOLVER = yaml.resolver.Resolver()
# Characters YAML treats as line breaks: a literal block or plain scalar holding them
# would not read back unchanged, so they force double quotes.
_ODD_BREAKS = ("\r", "\x85", "\u2028", "\u2029")


def dump(data: dict) -> str:
    """The YAML text of a top-level mapping, ending with one newline."""
    chunks = []
    for key, value in data.items():
        if _absent(value):
            continue
        lines: list[str] = []
        _entry(key, value, 0, lines)
        chunks.append("\n".join(lines))
    return "\n\n".join(chunks) + "\n"


def _absent(value: Any) -> bool:
    """Values that are left out of the file: None, empty lists, mappings of absent values."""
    if isinstance(value, dict):
        return all(_absent(v) for v in value.values())
    return value is None or (isinstance(value, (list, tuple)) and not value)


def _entry(key: str, value: Any, indent: int, out: list[str]) -> None:
    """Write `key: value` at `indent`, nesting mappings and lists below it."""
    pad = " " * indent
    key = key if plain_ok(key) else double_quoted(key)  # the format's keys are all plain
    if isinstance(value, dict):
        out.append(f"{pad}{key}:")
        _mapping(value, indent + 2, out)
    elif isinstance(value, (list, tuple)):
        out.append(f"{pad}{key}:")
        _sequence(value, indent + 2, out)
    else:
        first, *rest = scalar(value, indent + 2)
        out.append(f"{pad}{key}: {first}")
        out.extend(rest)


def _mapping(data: dict, indent: int, out: list[str]) -> None:
    for key, value in data.items():
        if not _absent(value):
            _entry(key, value, indent, out)


def _sequence(items, indent: int, out: list[str]) -> None:
    """List items at `indent` (`- `), a mapping item's keys aligned after the dash."""
    pad = " " * indent
    for item in items:
        if isinstance(item, dict):
            lines: list[str] = []
            _mapping(item, indent + 2, lines)
            if not lines:
                out.append(f"{pad}- {{}}")
                continue
            out.append(f"{pad}- {lines[0][indent + 2:]}")
            out.extend(lines[1:])
        elif isinstance(item, (list, tuple)):
            raise TypeError("nested lists are not part of the content format")
        else:
            first, *rest = scalar(item, indent + 2)
            out.append(f"{pad}- {first}")
            out.extend(rest)


def scalar(value: Any, indent: int) -> list[str]:
    """A scalar as lines: the first goes after `key: `, the rest (a block's body) at `indent`."""
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, int):
        return [str(value)]
    if isinstance(value, Decimal):
        return [format(value, "f")]
    if isinstance(value, str):
        return _text(value, indent)
    raise TypeError(f"cannot write {type(value).__name__} {value!r} as YAML")


def _text(text: str, indent: int) -> list[str]:
    """Plain, literal block or double-quoted: the first form that reads back unchanged."""
    if "\n" in text:
        if _block_ok(text):
            pad = " " * indent
            return ["|-"] + [pad + line if line else "" for line in text.split("\n")]
        return [double_quoted(text)]
    if plain_ok(text):
        return [text]
    return [double_quoted(text)]


def _analysis(text: str):
    """PyYAML's own verdict on which scalar styles can hold `text`."""
    return yaml.emitter.Emitter(io.StringIO(), allow_unicode=True).analyze_scalar(text)


def plain_ok(text: str) -> bool:
    """True when `text` written unquoted reads back as this very string."""
    if not text or "\t" in text or any(b in text for b in _ODD_BREAKS):
        return False
    if _RESOLVER.resolve(yaml.ScalarNode, text, (True, False)) != STR_TAG:
        return False  # 287002, 1., yes, null, 2020-01-01: YAML would read a non-string
    return _analysis(text).allow_block_plain


def _block_ok(text: str) -> bool:
    """True when a `|-` literal block keeps `text` exactly."""
    if "\t" in text or any(b in text for b in _ODD_BREAKS):
        return False
    if text.startswith((" ", "\n")) or text.endswith("\n"):
        return False  # would need an indentation or chomping indicator
    if any(line != line.rstrip(" ") for line in text.split("\n")):
        return False  # trailing spaces are invisible in a block and easily lost
    return _analysis(text).allow_block


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\x00": "\\0",
            "\x85": "\\N", "\u2028": "\\L", "\u2029": "\\P", "\ufeff": "\\ufeff"}


def double_quoted(text: str) -> str:
    """`text` in double quotes, escaping only what YAML requires (and invisible characters)."""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F or 0x80 <= ord(ch) < 0xA0 or 0xD800 <= ord(ch) <= 0xDFFF \
                or ord(ch) in (0xFFFE, 0xFFFF):
            out.append(f"\\x{ord(ch):02x}" if ord(ch) <= 0xFF else f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'
