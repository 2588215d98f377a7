"""The preview's HTTP side: tornado serving the output folder, with livereload's websocket
and client script. The reload script and the error overlay are put into HTML pages as they
are sent, never into the files."""
from __future__ import annotations

import os
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Callable, Optional

PAGE_SUFFIXES = (".html", ".htm")
BASE_RE = re.compile(rb'<base href="[^"]*">')


def make_app(live, reload_port: Callable[[], int]):
    """A tornado application serving `live.output` with the reload script and error overlay."""
    from tornado import web
    from livereload.handlers import LiveReloadHandler, LiveReloadJSHandler

    LiveReloadHandler.watcher = SimpleNamespace(filepath=None)   # read by its log line only

    def with_reload(page: bytes) -> bytes:
        """The page as the browser gets it: the overlay (while there are errors) and the
        reload script before its `</body>`."""
        extra = live.overlay_html() + f'<script src="/livereload.js?port={reload_port()}"></script>'
        return page.replace(b"</body>", extra.encode("utf-8") + b"</body>", 1)

    class SiteHandler(web.StaticFileHandler):
        """Static files from the output folder; anything outside it, or missing, is a 404.

        A page is completed (`with_reload`) once per request, when its path is known, and
        its length, a byte range of it and its body all come from those bytes: HEAD reports
        what GET sends, and a Range is a range of the page as sent (tornado's own code would
        measure and slice the file on disk). Pages are read whole, so the script reaches
        pages of any size (tornado sends files in 64 KB chunks)."""

        page: Optional[bytes] = None

        def validate_absolute_path(self, root, absolute_path):
            if "\0" in absolute_path:
                raise web.HTTPError(404)
            root_real = os.path.realpath(root)
            if not os.path.realpath(absolute_path).startswith(root_real + os.sep) and \
                    os.path.realpath(absolute_path) != root_real:
                raise web.HTTPError(404)
            path = super().validate_absolute_path(root, absolute_path)
            if path is not None and path.endswith(PAGE_SUFFIXES):
                try:
                    with open(path, "rb") as f:
                        self.page = with_reload(f.read())
                except OSError:   # removed by a rebuild meanwhile
                    raise web.HTTPError(404)
            return path

        def get_content_size(self):
            return len(self.page) if self.page is not None else super().get_content_size()

        # An instance method where tornado has a class method: a page's bytes belong to this
        # request. Tornado calls it through the instance (`get`); its one call through the
        # class, for the ETag, is not made (`compute_etag`).
        def get_content(self, abspath, start=None, end=None):
            if self.page is not None:
                return self.page[start:end]
            return super().get_content(abspath, start, end)

        def compute_etag(self):
            # None: the overlay changes a page whose file did not change, and tornado keeps
            # each file's hash for the life of the process (files here change all the time).
            return None

        def should_return_304(self):
            return self.page is None and super().should_return_304()

        def send_error(self, status_code=500, **kwargs):
            # Paths outside the output folder (`/../x`, `/%2e%2e/`) are simply not there.
            super().send_error(404 if status_code == 403 else status_code, **kwargs)

        def write_error(self, status_code, **kwargs):
            page = Path(self.root) / "404.html"
            self.set_header("Content-Type", "text/html; charset=utf-8")
            if status_code == 404 and page.is_file():
                # Its <base href> is the site's path on the portal; here the site is at /.
                self.finish(with_reload(BASE_RE.sub(b'<base href="/">', page.read_bytes(), count=1)))
            else:
                self.finish(f"<!doctype html><title>{status_code}</title><p>{status_code}</p>")

        def set_extra_headers(self, path):
            self.set_header("Cache-Control", "no-store")

    return web.Application([
        (r"/livereload", LiveReloadHandler),
        (r"/livereload.js", LiveReloadJSHandler),
        (r"/(.*)", SiteHandler, {"path": str(live.output), "default_filename": "index.html"}),
    ])
