"""`build.py serve`: the live preview (see `command`)."""
from .background import index_child
from .command import serve_command
from .live import LiveSite

__all__ = ["LiveSite", "index_child", "serve_command"]
