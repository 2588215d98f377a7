"""`build.py serve` as an editor uses it: edit, see it served; break, see the overlay; fix it.

Each test runs the real server in a subprocess on a free port, on a copy of the seed content.
"""
from __future__ import annotations

import http.client
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Optional

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT_PAGE = "2020/287002/287-0601-JBN-CK81/index.html"
CONTENT_FILE = "content/2020/287002.yaml"
# The lines serve prints for the editor that tell where it is.
SERVING = "正在预览"                      # 正在预览 _site，地址 http://127.0.0.1:8000/（按 Ctrl-C 停止）
REBUILT = "已重新生成"                    # 已重新生成，用时 12 毫秒；改动的文件：content/…
SITE_WIDE_UPDATED = "全站页面已更新"      # 全站页面已更新，用时 5 毫秒
INDEX_NOT_REFRESHED = "站内搜索索引未更新"


class Server:
    """`build.py serve --port 0` in a folder, with its stderr collected line by line."""

    def __init__(self, folder: Path, env: Optional[dict] = None):
        self.folder = folder
        self.lines: list[str] = []
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "build.py"), "serve", "--port", "0"],
                                     cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, **(env or {})})
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + 60
        while not any(SERVING in line for line in self.lines):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()   # not left running when it said something else
                raise RuntimeError("server did not start:\n" + "\n".join(self.lines))
            time.sleep(0.05)
        self.port = int(re.search(r"127\.0\.0\.1:(\d+)", next(l for l in self.lines if SERVING in l)).group(1))

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def get(self, path: str) -> tuple[int, str]:
        """GET `path` exactly as given (no client-side normalisation of `..`)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read().decode("utf-8", "replace")
        conn.close()
        return response.status, body

    def wait_for(self, path: str, predicate, timeout: float) -> float:
        """Seconds until the served page satisfies `predicate`; fails after `timeout`."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            status, body = self.get(path)
            if predicate(body):
                return time.monotonic() - start
            time.sleep(0.02)
        raise AssertionError(f"not served within {timeout} s; server said:\n" + "\n".join(self.lines[-15:]))

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture
def served(tmp_path):
    shutil.copy(ROOT / "site_config.yaml", tmp_path)
    shutil.copytree(ROOT / "content", tmp_path / "content")
    server = Server(tmp_path)
    yield server
    server.stop()


def edit(folder: Path, old: str, new: str) -> None:
    path = folder / CONTENT_FILE
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_edit_is_served_within_a_second(served):
    status, body = served.get("/" + PROJECT_PAGE)
    assert status == 200 and "name: 保险费" in (served.folder / CONTENT_FILE).read_text(encoding="utf-8")
    edit(served.folder, "name: 保险费\n", "name: 保险费（已修订）\n")
    seconds = served.wait_for("/" + PROJECT_PAGE, lambda b: "保险费（已修订）" in b, timeout=1.0)
    assert seconds < 1.0
    deadline = time.monotonic() + 5   # the terminal line follows the files it reports on
    while not any(line.startswith(REBUILT) for line in served.lines):
        assert time.monotonic() < deadline, served.lines[-10:]
        time.sleep(0.02)


def test_error_keeps_old_page_and_shows_overlay_until_fixed(served):
    edit(served.folder, "unit: 元\n", "unit: [元\n")
    served.wait_for("/" + PROJECT_PAGE, lambda b: "gongkai-error-overlay" in b, timeout=2.0)
    status, body = served.get("/" + PROJECT_PAGE)
    assert status == 200 and "保险费" in body and "车辆保险费" in body   # the last good page
    assert re.search(r"content/2020/287002\.yaml:\d+:\d+: error:", body)
    assert "^" in body                                                   # the caret excerpt
    assert any(l.startswith("content/2020/287002.yaml:") and ": error:" in l for l in served.lines)
    assert any(l.strip().startswith("|") and "^" in l for l in served.lines)  # caret in terminal
    edit(served.folder, "unit: [元\n", "unit: 元\n")
    served.wait_for("/" + PROJECT_PAGE, lambda b: "gongkai-error-overlay" not in b, timeout=2.0)


def test_never_serves_outside_the_output_folder(served):
    for path in ("/../site_config.yaml", "/%2e%2e/site_config.yaml", "/%2e%2e/", "/../content/2020/287002.yaml",
                 "/..%2fsite_config.yaml", "/nope/"):
        status, body = served.get(path)
        assert status == 404, path
        assert "year:" not in body and "regions:" not in body


def test_reload_script_only_when_serving(served):
    status, body = served.get("/index.html")
    assert "/livereload.js?port=" in body
    on_disk = (served.folder / "_site" / "index.html").read_text(encoding="utf-8")
    assert "livereload" not in on_disk


def test_burst_of_saves_gives_one_rebuild(served):
    before = sum(l.startswith(REBUILT) for l in served.lines)
    path = served.folder / CONTENT_FILE
    text = path.read_text(encoding="utf-8")
    for i in range(20):
        path.write_text(text.replace("name: 保险费\n", f"name: 保险费{i}\n", 1), encoding="utf-8")
        time.sleep(0.005)
    served.wait_for("/" + PROJECT_PAGE, lambda b: "保险费19" in b, timeout=2.0)
    time.sleep(0.5)
    assert sum(l.startswith(REBUILT) for l in served.lines) - before <= 2


def test_browser_page_reloads_after_save(served, new_page):
    page = new_page()
    page.goto(f"http://127.0.0.1:{served.port}/{PROJECT_PAGE}")
    page.wait_for_function("() => window.LiveReload !== undefined", timeout=5000)
    edit(served.folder, "name: 保险费\n", "name: 保险费（浏览器已刷新）\n")
    page.wait_for_selector("text=保险费（浏览器已刷新）", timeout=5000)
    edit(served.folder, "unit: 元\n", "unit: [元\n")
    page.wait_for_selector("#gongkai-error-overlay", timeout=5000)
    edit(served.folder, "unit: [元\n", "unit: 元\n")
    page.wait_for_selector("#gongkai-error-overlay", state="detached", timeout=5000)


def test_open_data_follows_the_reload(served):
    """Data files are written after the page (deferred), but they are written."""
    edit(served.folder, "name: 保险费\n", "name: 保险费（数据）\n")
    served.wait_for("/" + PROJECT_PAGE, lambda b: "保险费（数据）" in b, timeout=2.0)
    deadline = time.monotonic() + 5
    for name in ("data/2020-287002.json", "data/projects.csv"):
        path = served.folder / "_site" / name
        while "保险费（数据）" not in path.read_text(encoding="utf-8-sig"):
            assert time.monotonic() < deadline, name
            time.sleep(0.05)


def site_files(folder: Path) -> dict[str, bytes]:
    """Every file and folder (as `name/`) of a built site but the search index (built by
    serve in the background) and the marker file (which holds the build's input fingerprint)."""
    files = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if rel == ".gongkai-site" or rel.split("/")[0].startswith(("search-index", ".search-index")):
            continue
        files[rel + "/" if path.is_dir() else rel] = b"" if path.is_dir() else path.read_bytes()
    return files


def assert_same_as_clean_build(served) -> None:
    clean = served.folder / "clean"
    shutil.rmtree(clean, ignore_errors=True)
    subprocess.run([sys.executable, str(ROOT / "build.py"), "build", "--no-search", "--output", str(clean)],
                   cwd=served.folder, check=True, capture_output=True)
    live, fresh = site_files(served.folder / "_site"), site_files(clean)
    assert sorted(live) == sorted(fresh)
    assert [rel for rel in fresh if live[rel] != fresh[rel]] == []


def wait_for_line(served, prefix: str, count: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while sum(l.startswith(prefix) for l in served.lines) < count:
        assert time.monotonic() < deadline, served.lines[-10:]
        time.sleep(0.02)


def test_site_wide_pages_follow_and_equal_a_clean_build(served):
    """The changed page comes first; home, site map, feeds and data/ follow, and the result
    is byte for byte what a clean build of the same content gives."""
    before = sum(l.startswith(SITE_WIDE_UPDATED) for l in served.lines)
    edit(served.folder, "name: 保险费\n", "name: 保险费（全站）\n")
    served.wait_for("/" + PROJECT_PAGE, lambda b: "保险费（全站）" in b, timeout=5.0)
    wait_for_line(served, SITE_WIDE_UPDATED, before + 1)
    assert "保险费（全站）" in (served.folder / "_site" / "data" / "projects.csv").read_text(encoding="utf-8-sig")
    assert_same_as_clean_build(served)


def test_folder_moved_in_and_removed_equal_a_clean_build(served, tmp_path_factory):
    """A new year folder moved into content/ is watched and built; removing it removes its
    pages and data files everywhere (each time as a clean build would)."""
    staging = tmp_path_factory.mktemp("staging") / "2019"
    (staging / "287002").mkdir(parents=True)
    text = (served.folder / CONTENT_FILE).read_text(encoding="utf-8")
    (staging / "287002.yaml").write_text(text.replace("year: 2020\n", "year: 2019\n", 1), encoding="utf-8")
    for original in (served.folder / "content" / "2020" / "287002").iterdir():
        shutil.copy(original, staging / "287002" / original.name)
    before = sum(l.startswith(SITE_WIDE_UPDATED) for l in served.lines)
    shutil.move(str(staging), served.folder / "content" / "2019")
    served.wait_for("/2019/287002/index.html", lambda b: "2019" in b and "保险费" in b, timeout=5.0)
    wait_for_line(served, SITE_WIDE_UPDATED, before + 1)
    assert_same_as_clean_build(served)

    rebuilt = sum(l.startswith(REBUILT) for l in served.lines)
    shutil.rmtree(served.folder / "content" / "2019")
    served.wait_for("/2019/287002/index.html", lambda b: "页面未找到" in b, timeout=10.0)
    wait_for_line(served, REBUILT, rebuilt + 1)
    assert not (served.folder / "_site" / "data" / "2019-287002.json").exists()
    assert_same_as_clean_build(served)


def test_search_index_is_built_in_the_background(served):
    entry = served.folder / "_site" / "search-index" / "meta.bin"
    deadline = time.monotonic() + 60
    while not entry.exists():
        assert time.monotonic() < deadline, served.lines[-10:]
        time.sleep(0.1)
    assert not any(l.startswith(INDEX_NOT_REFRESHED) for l in served.lines)


def test_polling_watcher_when_asked(tmp_path):
    """GONGKAI_WATCH=poll (file systems that report no changes) still sees a save."""
    shutil.copy(ROOT / "site_config.yaml", tmp_path)
    shutil.copytree(ROOT / "content", tmp_path / "content")
    server = Server(tmp_path, env={"GONGKAI_WATCH": "poll"})
    try:
        edit(tmp_path, "name: 保险费\n", "name: 保险费（轮询）\n")
        server.wait_for("/" + PROJECT_PAGE, lambda b: "保险费（轮询）" in b, timeout=5.0)
        wait_for_line(server, SITE_WIDE_UPDATED, 1)
        assert_same_as_clean_build(server)
    finally:
        server.stop()


def test_incremental_changes_equal_clean_builds(tmp_path):
    """LiveSite without a server: after each change (a new name, a removed agency year, the
    same file back under another year), the live folder equals a clean build."""
    sys.path.insert(0, str(ROOT))
    from gongkai.serve import LiveSite

    shutil.copy(ROOT / "site_config.yaml", tmp_path)
    shutil.copytree(ROOT / "content", tmp_path / "content")
    live = LiveSite(tmp_path / "site_config.yaml", output=tmp_path / "_site")
    assert not [p for p in live.start() if p.is_error]
    site = SimpleNamespace(folder=tmp_path)
    source = tmp_path / CONTENT_FILE
    text = source.read_text(encoding="utf-8")

    source.write_text(text.replace("name: 保险费\n", "name: 保险费（增量）\n", 1), encoding="utf-8")
    assert not [p for p in live.rebuild({source.resolve()}) if p.is_error]
    assert_same_as_clean_build(site)

    aside = tmp_path / "aside"
    aside.mkdir()
    source.rename(aside / "287002.yaml")
    (tmp_path / "content" / "2020" / "287002").rename(aside / "287002")
    assert not [p for p in live.rebuild({source.resolve()}) if p.is_error]
    assert not (tmp_path / "_site" / "2020" / "287002").exists()
    assert_same_as_clean_build(site)

    moved = tmp_path / "content" / "2019"
    moved.mkdir()
    (aside / "287002").rename(moved / "287002")
    (moved / "287002.yaml").write_text(text.replace("year: 2020\n", "year: 2019\n", 1), encoding="utf-8")
    assert not [p for p in live.rebuild({(moved / "287002.yaml").resolve()}) if p.is_error]
    assert "保险费" in (tmp_path / "_site" / "2019" / "287002" / "index.html").read_text(encoding="utf-8")
    assert_same_as_clean_build(site)

    # The 2020 file back beside 2019: one agency, two years; the unchanged 2019 page now
    # links 2020 too.
    source.write_text(text, encoding="utf-8")
    shutil.copytree(moved / "287002", tmp_path / "content" / "2020" / "287002")
    assert not [p for p in live.rebuild({source.resolve()}) if p.is_error]
    assert '<a href="../../2020/287002/index.html">2020 年</a>' in (
        tmp_path / "_site" / "2019" / "287002" / "index.html").read_text(encoding="utf-8")
    assert_same_as_clean_build(site)


def test_serve_runs_the_builds_page_checks(tmp_path):
    """D10 in serve: a Markdown link to a file the site does not have is refused as the build
    refuses it, at the content file's line and column, shown in the overlay; fixed, it goes."""
    from gongkai.serve import LiveSite

    shutil.copy(ROOT / "site_config.yaml", tmp_path)
    shutil.copytree(ROOT / "content", tmp_path / "content")
    live = LiveSite(tmp_path / "site_config.yaml", output=tmp_path / "_site")
    assert not [p for p in live.start() if p.is_error]
    source = tmp_path / "content" / "2022" / "287001.yaml"
    good = source.read_text(encoding="utf-8")
    marker = "text: |-\n"
    at = good.index(marker) + len(marker)
    indent = good[at:good.index("\n", at)].split("一")[0].split("（")[0]
    indent = indent[:len(indent) - len(indent.lstrip())]
    source.write_text(good[:at] + f"{indent}详见[原文](orig.txt)。\n" + good[at:], encoding="utf-8")
    line = good[:at].count("\n") + 1
    page = tmp_path / "_site" / "2022" / "287001" / "index.html"
    before = page.read_bytes()

    problems = [p for p in live.rebuild({source.resolve()}) if p.is_error]
    assert [(p.file, p.line) for p in problems] == [("content/2022/287001.yaml", line)], problems
    assert "orig.txt" in problems[0].message
    assert "content/2022/287001.yaml:" in live.overlay_html()
    assert page.read_bytes() == before                       # the last good page stays
    source.write_text(good, encoding="utf-8")
    assert not [p for p in live.rebuild({source.resolve()}) if p.is_error]
    assert live.overlay_html() == ""


# --- hardening (issue 14) ------------------------------------------------------------------

def seed_copy(folder: Path) -> Path:
    shutil.copy(ROOT / "site_config.yaml", folder)
    shutil.copytree(ROOT / "content", folder / "content")
    return folder


def run_serve(folder: Path, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    """`build.py serve ARGS` expected to stop by itself (a refusal); fails if it serves on."""
    return subprocess.run([sys.executable, str(ROOT / "build.py"), "serve", *args], cwd=folder,
                          capture_output=True, text=True, timeout=timeout)


def fetch(port: int, method: str, path: str, headers: Optional[dict] = None):
    """(status, headers, body bytes) of one request, the path sent exactly as given."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request(method, path, headers=headers or {})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, body


def test_port_in_use_is_refused_before_building(served):
    """D16: a second serve on a port in use (`make serve` twice) says so in one line, exit 1,
    no traceback, and leaves the running instance's output folder alone (it used to rebuild
    `_site/` first and then fail with `OSError: [Errno 98]`)."""
    page = served.folder / "_site" / "index.html"
    before = (page.stat().st_ino, page.stat().st_mtime_ns)
    second = run_serve(served.folder, "--port", str(served.port))
    assert second.returncode == 1, second.stderr
    assert "Traceback" not in second.stderr
    assert re.search(rf"^error: 端口 {served.port} 已被占用.*\(hint: .*--port", second.stderr, re.M), second.stderr
    assert (page.stat().st_ino, page.stat().st_mtime_ns) == before
    assert not list(served.folder.glob("_site.staging-*"))
    assert served.get("/index.html")[0] == 200          # the first one serves on


@pytest.mark.parametrize("port", ["-5", "99999", "65536"])
def test_port_out_of_range_is_refused(tmp_path, port):
    """D16: `--port -5` (a `socket.gaierror` traceback) and `--port 99999` (silently served on
    34463, 99999 mod 65536) are refused with a message before anything is built."""
    folder = seed_copy(tmp_path)
    result = run_serve(folder, "--port", port)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert f"error: --port {port}: 端口号无效，应为 0 到 65535 之间的整数 (hint: " in result.stderr, result.stderr
    assert not (folder / "_site").exists()


def test_serve_port_setting_out_of_range_is_refused_at_its_line(tmp_path):
    """D16: `serve_port: 99999` in site_config.yaml is refused at the setting's line and
    column, before anything is built."""
    folder = seed_copy(tmp_path)
    config = folder / "site_config.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("serve_port: 8000\n", "serve_port: 99999\n"), encoding="utf-8")
    line = text[:text.index("serve_port: 8000")].count("\n") + 1
    result = run_serve(folder)
    assert result.returncode == 1, result.stderr
    assert f"site_config.yaml:{line}:13: error: serve_port: " in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not (folder / "_site").exists()


def test_head_and_range_agree_with_get_on_pages(served):
    """D31: HEAD reported the file's length on disk while GET sends the page with the reload
    script; `Range: bytes=-100` got a Content-Range of the file and a 149-byte body. Now for a
    page (by name, by folder, the 404 page) and a plain file alike, HEAD gives the length
    GET sends, and a range is that range of what GET sends (206) or the whole (200)."""
    for path in ("/index.html", "/2020/287002/", "/" + PROJECT_PAGE, "/assets/site.css", "/nope.html"):
        status, headers, body = fetch(served.port, "GET", path)
        assert status in (200, 404), path
        if path.endswith((".html", "/")):
            assert b"/livereload.js?port=" in body, path
        head_status, head_headers, head_body = fetch(served.port, "HEAD", path)
        assert (head_status, head_body) == (status, b""), path
        assert int(head_headers["content-length"]) == len(body) == int(headers["content-length"]), path
        if status != 200:
            continue
        n = len(body)
        for spec, first, end in (("bytes=-100", n - 100, n), ("bytes=0-99", 0, 100), ("bytes=100-", 100, n),
                                 (f"bytes=10-{n + 50}", 10, n)):
            got_status, got_headers, got = fetch(served.port, "GET", path, {"Range": spec})
            if got_status == 200:
                assert got == body, (path, spec)
                continue
            assert (got_status, got) == (206, body[first:end]), (path, spec, got_status, len(got))
            assert got_headers["content-range"] == f"bytes {first}-{end - 1}/{n}", (path, spec)
            assert int(got_headers["content-length"]) == end - first, (path, spec)


def test_nul_in_the_path_is_a_404(served):
    """D9 (serve): `GET /index.html%00.txt` answered 500 with a traceback in the log; the
    handler refuses a NUL in the path as a missing file."""
    for path in ("/index.html%00.txt", "/%00", "/2020/%00/index.html", "/index.html%00"):
        status, body = served.get(path)
        assert status == 404, path
        assert "页面未找到" in body, path
    assert not any("Traceback" in line for line in served.lines)


def test_ctrl_c_during_the_first_build_stops_without_a_traceback(tmp_path, monkeypatch, capsys):
    """Hardening (issue 14, no traceback): Ctrl-C while the first build runs, before serving
    starts, ended with a `KeyboardInterrupt` traceback; now it stops as Ctrl-C does later."""
    from gongkai.serve import command

    def interrupted(self):
        raise KeyboardInterrupt

    folder = seed_copy(tmp_path)
    monkeypatch.chdir(folder)
    monkeypatch.setattr(command.LiveSite, "start", interrupted)
    assert command.serve_command(str(folder / "site_config.yaml"), port=0) == 0
    assert capsys.readouterr().err.splitlines()[-1] == "已停止预览"
