"""The shortcuts in gongkai/load.py give what the long way gives.

Each one skips work for the usual content file; none may change a result or a message:
- `_may_hold_anchor` is False only where libyaml finds no anchor or alias token, so the
  exact event scan that refuses them is never skipped for a file that holds one;
- `Loader` resolves every scalar to the tag the plain safe loader gives;
- `_is_clean` is True only where `check_tree` finds and repairs nothing;
- `_could_be_deep` answers as the full bracket and indentation count did.
"""
from __future__ import annotations

import random
import re

import pytest
import yaml
from yaml.nodes import ScalarNode

from gongkai import load

try:
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader

PIECES = ["a", "b", "1", "&", "*", "&", "*", " ", " ", "\n", "\t", ":", "-", "[", "]", "{", "}",
          ",", "!", '"', "'", "|", ">", "?", "#", "%", "@", "`", "中", "，", "\ufeff", "\r", ".",
          "_", "~", "\\", "a&b", "x*y", ": ", "- ", "? ", "!!str ", "--- ", "... ", "%YAML 1.1\n",
          "%TAG !e! tag:e,2000:\n", "!e!x ", "\u00a0"]


def _anchor_tokens(text: str) -> bool:
    found = False
    try:
        for token in yaml.scan(text, Loader=SafeLoader):
            found = found or isinstance(token, (yaml.AnchorToken, yaml.AliasToken))
    except yaml.YAMLError:
        pass
    return found


@pytest.mark.parametrize("text", ["a: &x 1", "a: *x", "[*a]", "[a,*b]", "{a: &b c}", "\ufeff&a x",
                                  "- !t &a x", "a:\n  - &a\n    b: 1", "? &k a\n: b", "'x'&a"])
def test_anchor_prefilter_sees_anchors_and_aliases(text):
    assert load._may_hold_anchor(text)


@pytest.mark.parametrize("text", ["6*2", "R&D", "元 * 9", "a: b & c", "x: 1*\n", "&", "* \n"])
def test_anchor_prefilter_passes_text(text):
    assert not load._may_hold_anchor(text)


def test_anchor_prefilter_never_misses_a_token():
    rng = random.Random(20261121)
    skipped = 0
    for _ in range(20_000):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randrange(1, 14)))
        if not load._may_hold_anchor(text):
            skipped += 1
            assert not _anchor_tokens(text), repr(text)
    assert skipped > 5_000


SCALARS = ["a", "1", "0x1f", "0o7", "017", "0b101", "-0x1", "1_000", "12:30:00", "190:20:30", "1.5",
           ".5", "+.5", "1e3", "1.0e+3", "12e03", "0.", "._", ".inf", "-.inf", ".NaN", ".nan", "+1", "-1",
           "true", "False", "yes", "NO", "on", "Off", "y", "n", "null", "Null", "~", "", "=", "<<",
           "2020-01-01", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5", "2020-1-1",
           "中文", "≥90%", "4000.00", "title", "number", "text", "-", "--", "+", ".",
           '"1"', "'true'", '""', "!!str 1", '!!int "1"', "!foo x", "!!float 1", "!!null ''"]


def _tags(node):
    if isinstance(node, ScalarNode):
        return (node.tag, node.value)
    if node.tag == "tag:yaml.org,2002:map":
        return (node.tag, [(_tags(k), _tags(v)) for k, v in node.value])
    return (node.tag, [_tags(n) for n in node.value])


def test_loader_gives_the_safe_loaders_tags():
    for scalar in SCALARS:
        for text in (f"- {scalar}", f"key: {scalar}", f"[{scalar}, x]", f"{{k: {scalar}}}", f"{scalar}: v"):
            try:
                expected = yaml.compose(text, Loader=SafeLoader)
            except yaml.YAMLError:
                continue
            assert _tags(yaml.compose(text, Loader=load.Loader)) == _tags(expected), text
    # one document, so that the tag remembered for a repeated text is reused
    text = "".join(f"- {scalar}\n- [{scalar}]\n" for scalar in SCALARS * 2)
    assert _tags(yaml.compose(text, Loader=load.Loader)) == _tags(yaml.compose(text, Loader=SafeLoader))


def _random_tree(rng: random.Random, depth: int = 0) -> str:
    roll = rng.random()
    if depth > 70 or roll < 0.45:
        return rng.choice(SCALARS)
    if roll < 0.7:
        keys = [rng.choice(["k", "a", "b", "<<", '"<<"', "1", "[x]", "{a: 1}", "!foo k", "null"])
                for _ in range(rng.randrange(0, 4))]
        return "{" + ", ".join(f"{k}: {_random_tree(rng, depth + 1)}" for k in keys) + "}"
    if roll < 0.97:
        return "[" + ", ".join(_random_tree(rng, depth + 1) for _ in range(rng.randrange(0, 4))) + "]"
    return "[" * 33 + "x" + "]" * 33


def test_clean_walk_agrees_with_check_tree():
    rng = random.Random(7)
    clean = unclean = 0
    for n in range(6_000):
        if n % 5:
            text = "root: " + _random_tree(rng)
        else:   # block sequences nested on one line: deep without brackets or indentation
            text = "- " * rng.choice([1, 63, 64, 65, 70]) + rng.choice(SCALARS[:20])
        try:
            node = yaml.compose(text, Loader=load.Loader)
        except yaml.YAMLError:
            continue
        if node is None:
            continue
        if load._is_clean(node):
            clean += 1
            assert load.check_tree(node, "x") == ([], False), text
        else:
            unclean += 1
    assert clean > 1_000 and unclean > 1_000


def _could_be_deep_by_counting(text: str) -> bool:
    depth = top = 0
    for match in re.finditer(r"[\[\]{}]", text):
        depth = depth + 1 if match.group(0) in "[{" else max(depth - 1, 0)
        top = max(top, depth)
    indent = max((len(m.group(0)) for m in re.finditer(r"(?m)^ +", text)), default=0)
    return top > load.MAX_DEPTH // 2 or indent > load.MAX_DEPTH


def test_could_be_deep_answers_as_the_full_count():
    rng = random.Random(3)
    pieces = ["[", "]", "{", "}", "a", "\n", " " * 8, " " * 64, " ", "\n" + " " * 65, "["* 30]
    answers = set()
    for _ in range(3_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 40)))
        answer = load._could_be_deep(text)
        assert answer == _could_be_deep_by_counting(text), repr(text)
        answers.add(answer)
    assert answers == {True, False}
