"""Shared test helpers: build the site, serve a folder, drive Chromium, run axe and vnu.

The fixtures in `tests/conftest.py` wrap these; tests may also import the plain
functions and constants (``from harness import run_axe, run_vnu, save_screenshot``).

Everything here works offline. The tools come from `make test`:

- Chromium: Debian's ``/usr/bin/chromium`` (override with env ``GONGKAI_CHROMIUM``),
  driven by the pinned Playwright (never ``playwright install``);
- axe-core: ``node_modules/axe-core/axe.min.js`` (package-lock.json);
- Nu Html Checker: ``node_modules/vnu-jar/build/dist/vnu.jar``, run with ``java``.

Sub-path hosting is the default: `StaticServer` mounts a folder under
`DEFAULT_PREFIX` (``/zwgk/jxgk/``), as a 预决算公开统一平台 would, and answers 404 to
anything outside it. Like a plain static host it lists no directories and sends no
charset with ``text/html``: pages must declare ``<meta charset="utf-8">`` themselves.
"""
from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import urllib.parse
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterable, Iterator

REPO_ROOT = Path(__file__).resolve().parent.parent
OUTPUT_DIR = REPO_ROOT / "test-output"  # gitignored; CI keeps it as artifacts
SCREENSHOT_DIR = OUTPUT_DIR / "screenshots"
AXE_JS = REPO_ROOT / "node_modules" / "axe-core" / "axe.min.js"
VNU_JAR = REPO_ROOT / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"

CHROMIUM = os.environ.get("GONGKAI_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # tests run as root in CI
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--disable-sync",
]

DEFAULT_PREFIX = "/zwgk/jxgk/"
# The policy the site must work under (shared/docs/reliability.md): no inline scripts,
# nothing from elsewhere.
SITE_CSP = "default-src 'self'"

DEFAULT_VIEWPORT = {"width": 1280, "height": 800}
VIEWPORTS = {
    "desktop": DEFAULT_VIEWPORT,
    "tablet": {"width": 768, "height": 1024},
    "mobile": {"width": 375, "height": 667},
}

# axe runs a rule when it carries any of these tags; `wcag2aa` alone would skip level A.
AXE_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice")
# Experimental in axe, so off unless named: the rule that catches header-less data tables.
AXE_RULES_ENABLE = ("td-has-header",)

# Explicit types for everything the site publishes, so results do not depend on the
# machine's /etc/mime.types (absent on a minimal Debian).
MIME_TYPES = {
    ".html": "text/html",
    ".htm": "text/html",
    ".css": "text/css",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".xml": "application/xml",
    ".txt": "text/plain",
    ".csv": "text/csv",
    ".wasm": "application/wasm",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".ico": "image/vnd.microsoft.icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".pdf": "application/pdf",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xls": "application/vnd.ms-excel",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".zip": "application/zip",
    # the search index's files (gongkai/search/index.py)
    ".bin": "application/octet-stream",
}


# --------------------------------------------------------------------------- build


class BuildFailed(Exception):
    """`build.py build` exited non-zero; the message carries its command and output."""


def build_site(output: Path, *, python: str = sys.executable, timeout: float = 1800) -> Path:
    """Build the site into `output` (which should not exist yet) and return it.

    Runs ``<python> build.py build --output <output>`` from the repository root, the
    same command `make site` runs but into a folder of the caller's choosing.
    Raises `BuildFailed` with the command's output when it fails.
    """
    cmd = [python, str(REPO_ROOT / "build.py"), "build", "--output", str(output)]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise BuildFailed(
            f"{' '.join(cmd)} exited with {proc.returncode}\n"
            f"--- stdout ---\n{proc.stdout[-5000:]}\n--- stderr ---\n{proc.stderr[-5000:]}"
        )
    if not output.is_dir():
        raise BuildFailed(f"{' '.join(cmd)} succeeded but wrote no folder {output}")
    return output


# --------------------------------------------------------------------------- server


@dataclass(frozen=True)
class ServedRequest:
    """One request the server answered: method, raw path and HTTP status."""

    method: str
    path: str
    status: int


class _Handler(SimpleHTTPRequestHandler):
    """Serve `directory` under `prefix`; 404 outside it; no listings; quiet."""

    protocol_version = "HTTP/1.1"
    timeout = 30  # seconds a kept-alive connection may idle before its thread ends
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, **MIME_TYPES}

    # Set per server by StaticServer (a subclass per instance).
    prefix = DEFAULT_PREFIX
    csp: str | None = None
    not_found_page = False   # answer a missing path with the site's 404.html, as portals do
    served: list[ServedRequest]

    def send_error(self, code, message=None, explain=None):  # noqa: D401 - stdlib hook
        page = Path(self.directory) / "404.html"
        if code == HTTPStatus.NOT_FOUND and self.not_found_page and page.is_file():
            body = page.read_bytes()
            self.send_response(code)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            return
        super().send_error(code, message, explain)

    def send_head(self):  # noqa: D401 - stdlib hook
        path = urllib.parse.urlsplit(self.path).path
        if path == self.prefix.rstrip("/") and self.prefix != "/":
            query = urllib.parse.urlsplit(self.path).query
            self.send_response(HTTPStatus.MOVED_PERMANENTLY)
            self.send_header("Location", self.prefix + ("?" + query if query else ""))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if not path.startswith(self.prefix):
            self.send_error(HTTPStatus.NOT_FOUND, "outside the served prefix")
            return None
        return super().send_head()

    def translate_path(self, path: str) -> str:
        # Only called for paths under the prefix (see send_head). The stdlib method
        # decodes %-escapes and drops every `.`/`..` segment, so nothing escapes the folder.
        return super().translate_path("/" + path[len(self.prefix):])

    def list_directory(self, path):
        self.send_error(HTTPStatus.NOT_FOUND, "no directory listings")
        return None

    def end_headers(self) -> None:
        if self.csp:
            self.send_header("Content-Security-Policy", self.csp)
        super().end_headers()

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        try:
            status = int(code)
        except (TypeError, ValueError):
            status = 0
        self.served.append(ServedRequest(self.command or "", self.path, status))

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        # A browser that closes a kept-alive connection is not an error worth a traceback.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class StaticServer:
    """A folder served over HTTP on 127.0.0.1 (free port) under a sub-path, in a thread.

    >>> with StaticServer(Path("_site")) as server:
    ...     server.url            # 'http://127.0.0.1:PORT/zwgk/jxgk/'
    ...     server.url_for("2022/index.html")

    `prefix` must start and end with ``/``; requests outside it get 404, and the prefix
    without its trailing slash redirects to it. With `csp` true, every response carries
    ``Content-Security-Policy: <SITE_CSP>`` (pass a string for another policy).
    `served` lists every answered request (`ServedRequest`), in order.
    """

    def __init__(self, folder: Path | str, prefix: str = DEFAULT_PREFIX, csp: bool | str = False,
                 not_found_page: bool = False):
        if not (prefix.startswith("/") and prefix.endswith("/")):
            raise ValueError(f"prefix must start and end with '/': {prefix!r}")
        self.folder = Path(folder).resolve()
        if not self.folder.is_dir():
            raise FileNotFoundError(f"no folder to serve: {self.folder}")
        self.prefix = prefix
        self.csp = SITE_CSP if csp is True else (csp or None)
        self.served: list[ServedRequest] = []
        handler = type(
            "Handler",
            (_Handler,),
            {"prefix": prefix, "csp": self.csp, "served": self.served, "not_found_page": not_found_page},
        )
        self._httpd = _QuietServer(
            ("127.0.0.1", 0), functools.partial(handler, directory=str(self.folder))
        )
        self.port: int = self._httpd.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self.url = self.origin + prefix
        self._thread: threading.Thread | None = None

    def url_for(self, path: str = "") -> str:
        """Absolute URL of `path` (relative to the served folder) under the prefix."""
        return self.url + path.lstrip("/")

    def start(self) -> "StaticServer":
        """Start serving in a daemon thread; returns self."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"static-server-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> "StaticServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------- browser


def launch_chromium(playwright: Any, **kwargs: Any) -> Any:
    """Launch Debian's Chromium through a Playwright instance (sync API)."""
    if not os.access(CHROMIUM, os.X_OK):
        raise FileNotFoundError(f"{CHROMIUM} not found: run `make test` to install chromium")
    return playwright.chromium.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, **kwargs
    )


def is_local_url(url: str) -> bool:
    """True for URLs a test page may load: 127.0.0.1 and in-page schemes."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname == "127.0.0.1"


@dataclass
class BrowserLog:
    """What the pages of one test did besides rendering.

    `external_requests`: URLs outside 127.0.0.1 that a page asked for (all blocked);
    `page_errors`: uncaught JavaScript errors; `console`: ``(type, text)`` of every
    console message (CSP violations show up here as errors).
    """

    external_requests: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    console: list[tuple[str, str]] = field(default_factory=list)

    def console_errors(self) -> list[str]:
        """Texts of console messages of type ``error``."""
        return [text for kind, text in self.console if kind == "error"]


def new_context(browser: Any, log: BrowserLog, viewport: dict | None = None, **options: Any) -> Any:
    """A fresh browser context that blocks and records non-local requests.

    Defaults: `viewport` `DEFAULT_VIEWPORT`, locale zh-CN, time zone Asia/Shanghai,
    service workers blocked (their requests would bypass routing), 10 s timeouts.
    Extra keyword arguments go to ``browser.new_context``.
    """
    options = {
        "viewport": viewport or DEFAULT_VIEWPORT,
        "locale": "zh-CN",
        "timezone_id": "Asia/Shanghai",
        "service_workers": "block",
        **options,
    }
    context = browser.new_context(**options)
    context.set_default_timeout(10_000)

    def block(route: Any) -> None:
        log.external_requests.append(route.request.url)
        route.abort("blockedbyclient")

    context.route(lambda url: not is_local_url(url), block)

    def watch(page: Any) -> None:
        page.on("pageerror", lambda error: log.page_errors.append(str(error)))
        page.on("console", lambda msg: log.console.append((msg.type, msg.text)))

    context.on("page", watch)
    return context


@contextlib.contextmanager
def served_context(site: Path, browser: Any = None, timeout_ms: int = 60_000,
                   **options: Any) -> Iterator[tuple[StaticServer, Any]]:
    """`site` served under DEFAULT_PREFIX with the site's CSP and a fresh browser context
    (Chromium launched here when `browser` is None), for the probes `make bench` runs
    (tests/search_probe.py, tests/explorer_probe.py). Raises RuntimeError afterwards if a
    page threw or asked for anything outside the site."""
    if browser is None:
        from playwright.sync_api import sync_playwright
        with sync_playwright() as pw:
            own = launch_chromium(pw)
            try:
                with served_context(site, own, timeout_ms, **options) as pair:
                    yield pair
            finally:
                own.close()
        return
    log = BrowserLog()
    with StaticServer(Path(site), csp=True) as server:
        context = new_context(browser, log, **options)
        context.set_default_timeout(timeout_ms)
        try:
            yield server, context
        finally:
            context.close()
    if log.page_errors or log.external_requests:
        raise RuntimeError(f"the page failed: {log.page_errors or log.external_requests}")


# --------------------------------------------------------------------------- axe


@functools.cache
def _axe_source() -> str:
    if not AXE_JS.is_file():
        raise FileNotFoundError(f"{AXE_JS} not found: run `make test` (npm ci)")
    return AXE_JS.read_text(encoding="utf-8")


def run_axe(
    page: Any,
    tags: Iterable[str] = AXE_TAGS,
    rules_enable: Iterable[str] = AXE_RULES_ENABLE,
    rules_disable: Iterable[str] = (),
    include: str | None = None,
) -> list[dict]:
    """Run axe-core on the page as it is now; return its violations (empty = pass).

    axe is injected with ``page.evaluate(source)`` (not ``add_script_tag``, which the
    page's CSP would block) once per loaded document. `tags`: rules carrying any of
    them run; `rules_enable`/`rules_disable`: rule ids switched on/off by name;
    `include`: a CSS selector to limit the check to. Each violation is axe's dict
    (``id``, ``impact``, ``help``, ``helpUrl``, ``nodes``...); see `format_axe`.
    """
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_axe_source())
    return page.evaluate(
        """async ({tags, enable, disable, include}) => {
            const rules = {};
            for (const id of enable) rules[id] = {enabled: true};
            for (const id of disable) rules[id] = {enabled: false};
            const result = await window.axe.run(include ?? document, {
                runOnly: {type: 'tag', values: tags},
                rules,
                resultTypes: ['violations'],
            });
            return result.violations;
        }""",
        {"tags": list(tags), "enable": list(rules_enable), "disable": list(rules_disable),
         "include": include},
    )


def format_axe(violations: list[dict], max_nodes: int = 5) -> str:
    """Readable summary of axe violations for assertion messages."""
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v.get('impact')}): {v['help']} [{len(v['nodes'])} element(s)]")
        for node in v["nodes"][:max_nodes]:
            lines.append(f"    {' '.join(map(str, node['target']))}: {node['html'][:160]}")
    return "\n".join(lines)


def assert_no_axe_violations(page: Any, **kwargs: Any) -> None:
    """Fail with a readable list when `run_axe(page, **kwargs)` finds violations."""
    violations = run_axe(page, **kwargs)
    assert not violations, f"axe violations on {page.url}:\n{format_axe(violations)}"


# --------------------------------------------------------------------------- vnu


def run_vnu(*paths: Path | str, warnings: bool = False, timeout: float = 600) -> list[dict]:
    """Check HTML files or folders (recursively) with the Nu Html Checker in one call.

    Runs ``java -jar vnu.jar --skip-non-html --format json <paths>`` and returns its
    error messages (types ``error`` and ``non-document-error``; with `warnings`, also
    warnings). Each is vnu's dict: ``url``, ``lastLine``, ``message``, ``extract``...
    One call for a whole folder: Java start-up dominates a single page.
    """
    java = shutil.which("java")
    if java is None:
        raise FileNotFoundError("java not found: run `make test` (default-jre-headless)")
    if not VNU_JAR.is_file():
        raise FileNotFoundError(f"{VNU_JAR} not found: run `make test` (npm ci)")
    if not paths:
        raise ValueError("run_vnu needs at least one file or folder")
    cmd = [java, "-jar", str(VNU_JAR), "--skip-non-html", "--format", "json"]
    if not warnings:
        cmd.append("--errors-only")
    cmd += [str(p) for p in paths]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    try:
        messages = json.loads(proc.stderr)["messages"]
    except (json.JSONDecodeError, KeyError) as exc:
        raise RuntimeError(
            f"vnu gave no JSON (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        ) from exc
    kinds = {"error", "non-document-error"}
    return [
        m for m in messages
        if m.get("type") in kinds or (warnings and m.get("subType") == "warning")
    ]


def format_vnu(messages: list[dict]) -> str:
    """Readable ``file:line: message`` lines for assertion messages."""
    return "\n".join(
        f"{urllib.parse.unquote(m.get('url', '?')).removeprefix('file:')}:{m.get('lastLine', '?')}: "
        f"{m.get('type')}: {m.get('message')}"
        for m in messages
    )


# --------------------------------------------------------------------------- screenshots


def safe_name(name: str) -> str:
    """`name` reduced to a portable file name (ASCII letters, digits, ``._-``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "screenshot"


def save_screenshot(page: Any, name: str, *, full_page: bool = True, folder: Path = SCREENSHOT_DIR) -> Path:
    """Save a PNG of the page to ``test-output/screenshots/<name>.png``; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{safe_name(name)}.png"
    page.screenshot(path=str(path), full_page=full_page, animations="disabled")
    return path
