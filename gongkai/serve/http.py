"""The preview's HTTP side: tornado serving the output folder, with livereload's websocket
and client script. The reload script and the error overlay are put into HTML responses
here, never into the files."""
from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import Callable


def make_app(live, reload_port: Callable[[], int]):
    """A tornado application serving `live.output` with the reload script and error overlay."""
    from tornado import web
    from livereload.handlers import LiveReloadHandler, LiveReloadJSHandler

    LiveReloadHandler.watcher = SimpleNamespace(filepath=None)   # read by its log line only

    class SiteHandler(web.StaticFileHandler):
        """Static files from the output folder; anything outside it, or missing, is a 404."""

        def validate_absolute_path(self, root, absolute_path):
            if "\0" in absolute_path:
                raise web.HTTPError(404)
            root_real = os.path.realpath(root)
            if not os.path.realpath(absolute_path).startswith(root_real + os.sep) and \
                    os.path.realpath(absolute_path) != root_real:
                raise web.HTTPError(404)
            return super().validate_absolute_path(root, absolute_path)

        def send_error(self, status_code=500, **kwargs):
            # Paths outside the output folder (`/../x`, `/%2e%2e/`) are simply not there.
            super().send_error(404 if status_code == 403 else status_code, **kwargs)

        def write_error(self, status_code, **kwargs):
            page = Path(self.root) / "404.html"
            self.set_header("Content-Type", "text/html; charset=utf-8")
            if status_code == 404 and page.is_file():
                self.finish(page.read_bytes())
            else:
                self.finish(f"<!doctype html><title>{status_code}</title><p>{status_code}</p>")

        def set_extra_headers(self, path):
            self.set_header("Cache-Control", "no-store")

        @classmethod
        def get_content(cls, abspath, start=None, end=None):
            # A page in one piece, so that `Inject` finds its </body> whatever its size
            # (tornado sends other files in 64 KB chunks).
            if abspath.endswith((".html", ".htm")) and start is None and end is None:
                with open(abspath, "rb") as f:
                    return f.read()
            return super().get_content(abspath, start, end)

    class Inject(web.OutputTransform):
        def transform_first_chunk(self, status_code, headers, chunk, finishing):
            if "text/html" in headers.get("Content-Type", "") and b"</body>" in chunk:
                extra = (live.overlay_html() + f'<script src="/livereload.js?port={reload_port()}"></script>')
                chunk = chunk.replace(b"</body>", extra.encode("utf-8") + b"</body>", 1)
                if "Content-Length" in headers:
                    headers["Content-Length"] = str(len(chunk))
                headers.pop("Etag", None)
            return status_code, headers, chunk

    return web.Application([
        (r"/livereload", LiveReloadHandler),
        (r"/livereload.js", LiveReloadJSHandler),
        (r"/(.*)", SiteHandler, {"path": str(live.output), "default_filename": "index.html"}),
    ], transforms=[Inject])
