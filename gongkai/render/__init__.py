"""Render pages and data in memory: every file as bytes in an `Output`, nothing written.

`pages` renders templates with the views of `views`; `fast_jinja` compiles the templates
for speed; `output` holds the result and refuses two files with one path.
"""
from .output import Output
from .pages import Renderer, compact_css, site_folder, template_problem
from .views import make_markdown, markdown

__all__ = ["Output", "Renderer", "compact_css", "make_markdown", "markdown", "site_folder",
           "template_problem"]
