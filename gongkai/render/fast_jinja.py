"""Jinja2 compiled for speed: the same output with less Python work per page.

A 10,000-page site runs the project template 10,000 times; these classes change how
templates are compiled and how views are looked up, never what a template writes.
"""
from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any, Iterator, Optional

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from markupsafe import Markup, escape


try:   # MarkupSafe's C escaper (pinned in requirements.txt): escape() is it plus a Markup wrapper
    from markupsafe import _escape_inner
except ImportError:   # pragma: no cover
    def _escape_inner(text: str) -> str:
        return str(escape(text))


def escape_output(value: Any) -> Any:
    """`{{ value }}` under autoescape: the text markupsafe.escape gives, as a plain str for str
    and int values. Compiled templates only join what they output, so a Markup object made
    for every value (a Python-level constructor call) buys nothing there."""
    kind = type(value)
    if kind is str:
        return _escape_inner(value)
    if kind is int:
        return str(value)
    return escape(value)


class ViewCodeGenerator(CodeGenerator):
    """Compiles templates to the same output with less Python work per page (a 10,000-page
    site runs the project template 10,000 times):

    - each run of text and `{{ }}` between two tags is one `yield` of the joined pieces, not
      one per piece, and a block's output is joined where the block is placed: every yield
      passes up through the block and every template it extends, which costs more than a join;
    - `{{ value }}` escapes a str inline with MarkupSafe's C escaper and writes an int with
      str(); anything else goes through markupsafe.escape as before (ViewTemplate puts the
      names this code uses into the compiled module);
    - `x.key` on a view dict is a key lookup inline (ViewEnvironment.getattr without the call).
    """

    def visit_Output(self, node: nodes.Output, frame: Frame) -> None:
        if frame.buffer is not None or frame.require_output_check:
            return super().visit_Output(node, frame)   # macros, call blocks, text outside blocks
        finalize = self._make_finalize()
        body: list = []   # as in CodeGenerator.visit_Output: lists of constant text, or expressions
        for child in node.nodes:
            try:
                if not (finalize.const or isinstance(child, nodes.TemplateData)):
                    raise nodes.Impossible()
                const = self._output_child_to_const(child, frame, finalize)
            except (nodes.Impossible, Exception):
                body.append(child)
                continue
            if body and isinstance(body[-1], list):
                body[-1].append(const)
            else:
                body.append([const])
        if len(body) == 1:
            return super().visit_Output(node, frame)
        self.writeline("yield concat((")
        self.indent()
        for item in body:
            if isinstance(item, list):
                self.writeline(self._output_const_repr(item) + ",")
            else:
                self.newline(item)
                self._output_child_pre(item, frame, finalize)
                self.visit(item, frame)
                self._output_child_post(item, frame, finalize)
                self.write(",")
        self.outdent()
        self.writeline("))")

    def _inline_escape(self, frame: Frame, finalize) -> bool:
        return frame.eval_ctx.autoescape and not frame.eval_ctx.volatile and finalize.src is None

    def _output_child_pre(self, node: nodes.Expr, frame: Frame, finalize) -> None:
        if not self._inline_escape(frame, finalize):
            return super()._output_child_pre(node, frame, finalize)
        self.write("(_escape_text(_out) if (_kind := type(_out := ")

    def _output_child_post(self, node: nodes.Expr, frame: Frame, finalize) -> None:
        if not self._inline_escape(frame, finalize):
            return super()._output_child_post(node, frame, finalize)
        self.write(")) is str else str(_out) if _kind is int else escape(_out))")

    def writeline(self, x: str, node=None, extra: int = 0) -> None:
        if x.startswith("yield from context.blocks["):   # a block placed in a template
            x = "yield concat(" + x[len("yield from "):] + ")"
        super().writeline(x, node, extra)

    def visit_Getattr(self, node: nodes.Getattr, frame: Frame) -> None:
        if self.environment.is_async:
            return super().visit_Getattr(node, frame)
        key = repr(node.attr)
        self.write("(_view[%s] if type(_view := " % key)
        self.visit(node.node, frame)
        self.write(") is dict and %s in _view else environment.getattr(_view, %s))" % (key, key))


class ViewTemplate(jinja2.Template):
    """A template compiled by ViewCodeGenerator, with the names its code uses."""

    @classmethod
    def from_code(cls, environment, code, globals, uptodate=None):
        template = super().from_code(environment, code, globals, uptodate)
        # Every function of the compiled module (root, blocks, macros) shares one namespace.
        template.root_render_func.__globals__.update(escape=escape_output, _escape_text=_escape_inner)
        return template


ATTR_KEY_RE = re.compile(r"[\s/>=]", flags=re.ASCII)   # as jinja2's xmlattr: a key may not leave the name
_ATTR_KEYS_SEEN: set[str] = set()


@jinja2.pass_eval_context
def xmlattr(eval_ctx, d, autospace: bool = True):
    """Jinja2's `xmlattr` filter (the same text and errors) without a Markup object made for
    every key and value: the `data-search-*` attributes are on every page."""
    items = []
    for key, value in d.items():
        if value is None or isinstance(value, jinja2.Undefined):
            continue
        if key not in _ATTR_KEYS_SEEN:   # the same few keys on every page: checked once
            if ATTR_KEY_RE.search(key) is not None:
                raise ValueError(f"Invalid character in attribute name: {key!r}")
            _ATTR_KEYS_SEEN.add(key)
        items.append(f'{escape_output(key)}="{escape_output(value)}"')
    text = " ".join(items)
    if autospace and text:
        text = " " + text
    return Markup(text) if eval_ctx.autoescape else text


class ViewEnvironment(jinja2.Environment):
    """Views are plain dicts: look `view.key` up as a key first. Jinja2 tries an attribute
    first, which raises and catches an AttributeError on every access (a tenth of a
    10,000-page build)."""

    def getattr(self, obj, attribute):
        if type(obj) is dict and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    checked: Optional[dict] = None   # during `one_pass`: (name, parent) -> template

    def get_template(self, name, parent=None, globals=None):
        checked = self.checked
        if checked is None or globals is not None or not isinstance(name, str):
            return super().get_template(name, parent, globals)
        template = checked.get((name, parent))
        if template is None:
            template = checked[name, parent] = super().get_template(name, parent)
        return template

    @contextlib.contextmanager
    def one_pass(self) -> Iterator[None]:
        """Within it, each template is looked up (its file checked for changes) only once:
        otherwise every page checks its template and the ones it extends and imports."""
        if self.checked is not None:
            yield
            return
        self.checked = {}
        try:
            yield
        finally:
            self.checked = None

    def make_globals(self, d):
        # A dict, not Jinja2's ChainMap over the environment's globals (never changed here once
        # templates are loaded): every render copies a template's globals into a set, and
        # iterating a ChainMap runs in Python (a tenth of a project page).
        return {**self.globals, **(d or {})}


ViewEnvironment.template_class = ViewTemplate
ViewEnvironment.code_generator_class = ViewCodeGenerator


def make_env(templates: Path) -> jinja2.Environment:
    """Jinja2 with autoescape on for every template and undefined names as errors."""
    env = ViewEnvironment(
        loader=jinja2.FileSystemLoader(str(templates)), autoescape=True,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True)
    env.filters["xmlattr"] = xmlattr
    return env

