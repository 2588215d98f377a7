"""Fixtures shared by all tests. The helpers behind them live in `tests/harness.py`.

Site
    ``site_dir`` (session) -> Path
        The built site. Built once per session into a temporary folder with
        ``build.py build --output <tmp>`` (run by this interpreter, i.e. .venv's
        Python), unless env ``GONGKAI_SITE`` names an already built folder.
    ``site_server`` (session) -> harness.StaticServer
        ``site_dir`` served at ``site_server.url`` == ``http://127.0.0.1:PORT/zwgk/jxgk/``
        with the site's Content-Security-Policy (``harness.SITE_CSP``) on every response.
        ``site_server.url_for("2022/")`` gives a page's URL.
    ``static_server`` (function) -> factory
        ``static_server(folder, prefix="/zwgk/jxgk/", csp=False) -> StaticServer``:
        serve any folder (e.g. a fixture or ``tmp_path``); stopped after the test.

Browser (Playwright sync API, Debian's /usr/bin/chromium, one browser per session)
    ``browser`` (session) -> playwright Browser
    ``page`` (function) -> playwright Page
        A page in a new context (zh-CN, Asia/Shanghai). Viewport 1280x800 unless the
        test says ``@pytest.mark.viewport(375, 667)`` or parametrizes it indirectly:
        ``@pytest.mark.parametrize("page", ["mobile", {"width": 1024, "height": 768}],
        indirect=True)`` (names: ``harness.VIEWPORTS``).
    ``new_page`` (function) -> factory
        ``new_page(viewport=None, **context_options) -> Page``: more pages, each in its
        own new context (e.g. ``color_scheme="dark"``, ``reduced_motion="reduce"``).
    ``browser_log`` (function) -> harness.BrowserLog
        What this test's pages did: ``external_requests``, ``page_errors``, ``console``.

    Every request to a host other than 127.0.0.1 is blocked and recorded. After the
    test, the page fixtures fail it if any page asked for an external URL (unless marked
    ``@pytest.mark.allow_external_requests``) or threw an uncaught JavaScript error
    (unless marked ``@pytest.mark.allow_page_errors``). When a test fails, a screenshot
    of each of its open pages goes to ``test-output/screenshots/failed/``.

    ``screenshot`` (function) -> callable
        ``screenshot(page, name="") -> Path``: save a full-page PNG to
        ``test-output/screenshots/<test name>[-<name>].png``.

Checks (plain functions in harness, no fixture needed)
    ``run_axe(page, tags=AXE_TAGS, rules_enable=("td-has-header",), ...) -> list[dict]``,
    ``assert_no_axe_violations(page)``, ``format_axe(violations)``,
    ``run_vnu(*paths, warnings=False) -> list[dict]``, ``format_vnu(messages)``.

Hypothesis: no per-example deadline (CI machines vary); its example database lives
in ``.cache/hypothesis``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from hypothesis import settings
from hypothesis.database import DirectoryBasedExampleDatabase

import harness

settings.register_profile(
    "gongkai",
    deadline=None,
    database=DirectoryBasedExampleDatabase(str(harness.REPO_ROOT / ".cache" / "hypothesis")),
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "gongkai"))


# --------------------------------------------------------------------------- hooks


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """Keep each phase's report on the item (``item.rep_call``) for fixture teardown."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


# --------------------------------------------------------------------------- site


@pytest.fixture(scope="session")
def site_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built site folder (see module docstring)."""
    given = os.environ.get("GONGKAI_SITE")
    if given:
        folder = Path(given).resolve()
        if not folder.is_dir():
            pytest.fail(f"GONGKAI_SITE={given!r} is not a folder", pytrace=False)
        return folder
    output = tmp_path_factory.mktemp("build") / "site"
    try:
        return harness.build_site(output)
    except harness.BuildFailed as exc:
        pytest.fail(f"building the site failed:\n{exc}", pytrace=False)


@pytest.fixture(scope="session")
def site_server(site_dir: Path) -> Iterator[harness.StaticServer]:
    """`site_dir` served under ``/zwgk/jxgk/`` with the site's CSP, for the whole session."""
    with harness.StaticServer(site_dir, csp=True) as server:
        yield server


@pytest.fixture
def static_server() -> Iterator[Callable[..., harness.StaticServer]]:
    """Factory: ``static_server(folder, prefix="/zwgk/jxgk/", csp=False)`` -> started server."""
    servers: list[harness.StaticServer] = []

    def start(folder: Path | str, prefix: str = harness.DEFAULT_PREFIX,
              csp: bool | str = False) -> harness.StaticServer:
        server = harness.StaticServer(folder, prefix=prefix, csp=csp).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


# --------------------------------------------------------------------------- browser


@pytest.fixture(scope="session")
def playwright() -> Iterator[Any]:
    """The Playwright sync API instance, started once per session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright: Any) -> Iterator[Any]:
    """Debian's Chromium, launched once per session (see harness.CHROMIUM_ARGS)."""
    browser = harness.launch_chromium(playwright)
    yield browser
    browser.close()


@pytest.fixture
def browser_log() -> harness.BrowserLog:
    """Requests blocked, uncaught errors and console messages of this test's pages."""
    return harness.BrowserLog()


def _viewport(value: Any) -> dict:
    if isinstance(value, str):
        return dict(harness.VIEWPORTS[value])
    if isinstance(value, (tuple, list)):
        return {"width": value[0], "height": value[1]}
    return dict(value)


@pytest.fixture
def new_page(browser: Any, browser_log: harness.BrowserLog,
             request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """Factory: ``new_page(viewport=None, **context_options)`` -> Page in a new context."""
    contexts: list[Any] = []

    def make(viewport: Any = None, **options: Any) -> Any:
        context = harness.new_context(
            browser, browser_log, viewport=_viewport(viewport) if viewport else None, **options
        )
        contexts.append(context)
        return context.new_page()

    yield make

    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for number, context in enumerate(contexts):
        if failed:
            for index, page in enumerate(context.pages):
                try:
                    harness.save_screenshot(
                        page, f"{request.node.nodeid}-{number}-{index}",
                        folder=harness.SCREENSHOT_DIR / "failed",
                    )
                except Exception:  # a crashed page must not hide the test's own failure
                    pass
        context.close()

    problems = []
    if browser_log.external_requests and not request.node.get_closest_marker("allow_external_requests"):
        problems.append("requests outside 127.0.0.1 (blocked):\n  "
                        + "\n  ".join(browser_log.external_requests))
    if browser_log.page_errors and not request.node.get_closest_marker("allow_page_errors"):
        problems.append("uncaught JavaScript errors:\n  " + "\n  ".join(browser_log.page_errors))
    if problems and not failed:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def page(new_page: Callable[..., Any], request: pytest.FixtureRequest) -> Any:
    """A page in a new context; viewport from indirect param, `viewport` marker or default."""
    if hasattr(request, "param"):
        viewport = request.param
    elif (marker := request.node.get_closest_marker("viewport")) is not None:
        viewport = marker.args or marker.kwargs
        if isinstance(viewport, dict):
            viewport = (viewport["width"], viewport["height"])
    else:
        viewport = harness.DEFAULT_VIEWPORT
    return new_page(viewport)


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[..., Path]:
    """``screenshot(page, name="")`` -> Path of ``test-output/screenshots/<test>[-name].png``."""

    def save(page: Any, name: str = "", *, full_page: bool = True) -> Path:
        stem = request.node.name + (f"-{name}" if name else "")
        return harness.save_screenshot(page, stem, full_page=full_page)

    return save
