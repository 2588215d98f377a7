"""Proof that the test harness works: server, browser, screenshots, axe and vnu.

Each check is shown to pass on a clean fixture and to fail on a broken one, so a green
run of the site's own browser tests means something.
"""
from __future__ import annotations

import http.client
from pathlib import Path

import pytest

import harness
from harness import format_axe, format_vnu, run_axe, run_vnu

FIXTURES = Path(__file__).parent / "fixtures" / "harness"
CLEAN_SITE = FIXTURES / "site"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def get(server: harness.StaticServer, path: str) -> tuple[int, http.client.HTTPMessage, bytes]:
    """GET a raw path (sent exactly as given, no normalisation, no redirects)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


# --------------------------------------------------------------------------- server


def test_server_serves_under_prefix_only(static_server):
    server = static_server(CLEAN_SITE)
    assert server.url == f"http://127.0.0.1:{server.port}/zwgk/jxgk/"
    assert server.url_for("/style.css") == server.url + "style.css"

    status, headers, body = get(server, "/zwgk/jxgk/")
    assert status == 200
    assert headers["Content-Type"] == "text/html"
    assert "部门预算绩效目标".encode() in body
    assert get(server, "/zwgk/jxgk/index.html?x=1")[0] == 200

    status, headers, _ = get(server, "/zwgk/jxgk")
    assert (status, headers["Location"]) == (301, "/zwgk/jxgk/")

    for outside in ("/", "/index.html", "/style.css", "/zwgk/", "/zwgk/index.html",
                    "/zwgk/jxgkx/index.html", "/ZWGK/JXGK/index.html"):
        assert get(server, outside)[0] == 404, outside

    # Nothing outside the folder, however the path is spelt.
    for escape in ("/zwgk/jxgk/../invalid/index.html", "/zwgk/jxgk/%2e%2e/invalid/index.html",
                   "/zwgk/jxgk/..%2finvalid/index.html", "/zwgk/jxgk/missing.html"):
        assert get(server, escape)[0] == 404, escape

    assert [(r.path, r.status) for r in server.served[:2]] == [
        ("/zwgk/jxgk/", 200), ("/zwgk/jxgk/index.html?x=1", 200)]


def test_server_other_prefix(static_server):
    server = static_server(CLEAN_SITE, prefix="/")
    assert get(server, "/")[0] == 200
    with pytest.raises(ValueError):
        static_server(CLEAN_SITE, prefix="/no-trailing-slash")


def test_server_mime_types_csp_and_no_listing(static_server, tmp_path):
    expected = {
        "a.html": "text/html",
        "a.css": "text/css",
        "a.js": "text/javascript",
        "a.mjs": "text/javascript",
        "a.json": "application/json",
        "a.svg": "image/svg+xml",
        "a.wasm": "application/wasm",
        "a.bin": "application/octet-stream",
    }
    for name in expected:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "file.txt").write_text("x")

    with_csp = static_server(tmp_path, csp=True)
    for name, mime in expected.items():
        status, headers, _ = get(with_csp, with_csp.prefix + name)
        assert (status, headers["Content-Type"]) == (200, mime), name
        assert headers["Content-Security-Policy"] == harness.SITE_CSP
    assert get(with_csp, with_csp.prefix + "folder/")[0] == 404  # no directory listings

    without_csp = static_server(tmp_path)
    assert "Content-Security-Policy" not in get(without_csp, without_csp.prefix + "a.html")[1]


# --------------------------------------------------------------------------- browser


def test_chromium_renders_chinese_and_saves_screenshot(page, static_server, screenshot):
    server = static_server(CLEAN_SITE, csp=True)
    response = page.goto(server.url)
    assert response is not None and response.ok
    assert page.title() == "测试页面 · 部门预算绩效目标"
    # The external script ran under the CSP (and was served with a script MIME type).
    assert page.get_attribute("html", "data-js") == "ok"

    path = screenshot(page)
    assert path == harness.SCREENSHOT_DIR / "test_chromium_renders_chinese_and_saves_screenshot.png"
    assert path.read_bytes().startswith(PNG_SIGNATURE)

    # With no CJK font, every Chinese character renders as the same box: two different
    # characters must give two different images.
    page.evaluate("""() => {
        for (const [id, text] of [['g1', '部'], ['g2', '门']]) {
            const span = document.createElement('span');
            span.id = id;
            span.textContent = text;
            span.style.cssText = 'font-size: 64px; display: inline-block; width: 80px';
            document.body.append(span);
        }
    }""")
    assert page.locator("#g1").screenshot() != page.locator("#g2").screenshot()


@pytest.mark.viewport(375, 667)
def test_viewport_marker(page):
    assert page.viewport_size == {"width": 375, "height": 667}


@pytest.mark.parametrize("page", ["mobile", {"width": 1024, "height": 768}], indirect=True)
def test_viewport_indirect(page):
    assert page.viewport_size["width"] in (375, 1024)


def test_default_page_context(page):
    assert page.viewport_size == harness.DEFAULT_VIEWPORT
    assert page.evaluate("navigator.language") == "zh-CN"


def test_inline_script_blocked_by_csp(new_page, static_server, tmp_path, browser_log):
    (tmp_path / "index.html").write_text(
        '<!DOCTYPE html><html lang="zh-CN"><meta charset="utf-8"><title>t</title>'
        '<script>document.documentElement.dataset.inline = "ran"</script>', encoding="utf-8")
    strict = new_page()
    strict.goto(static_server(tmp_path, csp=True).url)
    assert strict.get_attribute("html", "data-inline") is None
    assert any("Content Security Policy" in text for text in browser_log.console_errors())

    lax = new_page()
    lax.goto(static_server(tmp_path).url)
    assert lax.get_attribute("html", "data-inline") == "ran"


@pytest.mark.allow_external_requests
def test_external_requests_blocked_and_recorded(page, static_server, tmp_path, browser_log):
    (tmp_path / "index.html").write_text(
        '<!DOCTYPE html><html lang="zh-CN"><meta charset="utf-8"><title>t</title>'
        '<link rel="stylesheet" href="http://203.0.113.9/x.css">'
        '<img src="https://example.com/x.png" alt="x"><img src="local.png" alt="y">',
        encoding="utf-8")
    page.goto(static_server(tmp_path).url, wait_until="load")
    assert sorted(browser_log.external_requests) == [
        "http://203.0.113.9/x.css", "https://example.com/x.png"]


@pytest.mark.allow_page_errors
def test_page_errors_recorded(page, static_server, browser_log):
    page.goto(static_server(CLEAN_SITE).url)
    page.evaluate("setTimeout(() => { throw new Error('boom') }, 0)")
    page.wait_for_timeout(100)
    assert any("boom" in error for error in browser_log.page_errors)


# --------------------------------------------------------------------------- axe


def test_axe_flags_faulty_page(page, static_server):
    # Served with the CSP: injecting axe must still work.
    page.goto(static_server(FIXTURES / "a11y-bad", csp=True).url)
    violations = run_axe(page)
    ids = {v["id"] for v in violations}
    assert {"label", "td-has-header", "color-contrast"} <= ids, format_axe(violations)
    assert "faint" in format_axe(violations)

    # td-has-header is experimental: without enabling it by name the table passes.
    assert "td-has-header" not in {v["id"] for v in run_axe(page, rules_enable=())}


def test_axe_passes_clean_page(page, static_server):
    page.goto(static_server(CLEAN_SITE, csp=True).url)
    violations = run_axe(page)
    assert violations == [], format_axe(violations)
    # Reusing the tab for another page re-injects axe.
    page.goto(static_server(FIXTURES / "a11y-bad").url)
    assert run_axe(page, include="table")


# --------------------------------------------------------------------------- vnu


@pytest.fixture(scope="module")
def vnu_errors() -> list[dict]:
    """vnu's errors for all three fixture folders, from one call (Java starts once)."""
    return run_vnu(CLEAN_SITE, FIXTURES / "a11y-bad", FIXTURES / "invalid")


def test_vnu_rejects_invalid_html(vnu_errors):
    errors = [e for e in vnu_errors if "/invalid/" in e["url"]]
    assert errors, "vnu found no error in the invalid fixture"
    assert "title" in format_vnu(errors)
    assert all(e["url"].endswith("/invalid/index.html") for e in errors)


def test_vnu_accepts_valid_html(vnu_errors):
    errors = [e for e in vnu_errors if "/invalid/" not in e["url"]]
    assert errors == [], format_vnu(errors)


# --------------------------------------------------------------------------- build


def test_build_failure_is_reported(tmp_path):
    with pytest.raises(harness.BuildFailed, match="exited with"):
        harness.build_site(tmp_path / "out", python="/bin/false")


# --------------------------------------------------------------------------- guards


def test_page_fixture_guards_fail_tests(pytester, monkeypatch):
    """Run a small suite in a fresh process: an external request or an uncaught error
    fails an otherwise passing test, the markers opt out, and a failing test leaves a
    screenshot of its page."""
    tests_dir = Path(__file__).parent
    monkeypatch.setenv("PYTHONPATH", str(tests_dir))  # for `import harness`
    pytester.makeconftest((tests_dir / "conftest.py").read_text(encoding="utf-8"))
    pytester.makeini(
        "[pytest]\nmarkers =\n    allow_external_requests: -\n    allow_page_errors: -\n"
    )
    pytester.makepyfile(test_guarded='''
        import pytest

        PAGE = '<!DOCTYPE html><title>t</title><img src="https://example.com/a.png" alt="">'

        @pytest.fixture
        def url(static_server, tmp_path):
            (tmp_path / "index.html").write_text(PAGE)
            return static_server(tmp_path).url

        def test_external(page, url):
            page.goto(url)

        @pytest.mark.allow_external_requests
        def test_external_allowed(page, url):
            page.goto(url)

        def test_page_error(page, url, browser_log):
            browser_log.page_errors.append("Error: boom")

        def test_fails_with_screenshot(page, url):
            page.goto(url)
            assert False
    ''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, failed=1, errors=2)
    result.stdout.fnmatch_lines([
        "*ERROR at teardown of test_external*",
        "*requests outside 127.0.0.1 (blocked):*",
        "*https://example.com/a.png*",
        "*ERROR at teardown of test_page_error*",
        "*uncaught JavaScript errors:*",
    ])
    shot = harness.SCREENSHOT_DIR / "failed" / "test_guarded.py_test_fails_with_screenshot-0-0.png"
    assert shot.read_bytes().startswith(PNG_SIGNATURE)
    shot.unlink()
