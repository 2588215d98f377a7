"""`python -m bench` (`make bench`): Gongkai against Hugo and MkDocs on the same synthetic pages.

For each scale (project pages; default 1,000 and 10,000, or `BENCH_SCALE=1000,50000`):

1. generate the content once (bench/generate.py; cached in bench/out/{N}/ by its manifest);
2. clean builds, `BENCH_RUNS` times each (default 3): Gongkai `--no-search` (output and
   parse cache removed), Gongkai into a removed output with the parse cache its clean build
   left (as in CI that keeps `.cache/`), Gongkai with search, Hugo, Pagefind on Hugo's
   output, MkDocs; then Gongkai rebuilds with nothing
   changed and after one agency-year file changed (a fresh `build.py build` each time);
3. at the largest scale, `build.py serve`: the time from writing one agency-year file to the
   changed project page being served (the "incremental" figure);
4. page weight of one Gongkai project page (HTML + the CSS/JS it references, and the number
   of references outside the site), and the size of the search index;
5. the derived pages (indicator explorer and listing, method page, agency pages): files,
   bytes, largest page and render time (bench/newpages.py), and the explorer's first load
   in Chromium (tests/explorer_probe.py).

Prints a Markdown table (median of the runs, min–max, peak memory) and, as its last two
lines, exactly `ratios (N pages): gongkai/hugo=R1 gongkai/mkdocs=R2 incremental_ms=M` and
`scale (N pages): peak_search_mb=P first_search_kb=F home_kb=H` (peak memory of the build
with search, a reader's first search on the search page measured in Chromium, the home
page's HTML) with N = 10000 when that scale was run (else the largest one); a value that
could not be measured is `NA`. Results are also written to bench/out/results.{json,md} (and a dated copy of
each); `python -m bench report` prints the last report again.

Environment: BENCH_SCALE, BENCH_RUNS, BENCH_SEED (default 1), BENCH_TOOLS (default
"gongkai,hugo,mkdocs,pagefind"), BENCH_SERVE=0 to skip the serve measurement,
BENCH_BASELINE=<git revision> to build the same content with that revision's Gongkai too,
interleaved in the same rounds (a row and a ratio against Hugo for it: a change compared
with the code before it in one run),
BENCH_TIMEOUT (seconds per command, default 1800; a command that runs longer is killed
and its row says so).
"""
from __future__ import annotations

import datetime
import html.parser
import itertools
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from . import generate as gen

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
OUT = BENCH / "out"
PY = Path(sys.executable)
DEFAULT_SCALES = (1000, 10000)
CONTRACT_SCALE = 10000
TIMEOUT = float(os.environ.get("BENCH_TIMEOUT", "1800"))   # seconds per command


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- tools ---------------------------------------------------------------------------------

def ensure_hugo() -> Optional[str]:
    hugo = shutil.which("hugo")
    if hugo:
        return hugo
    log("hugo not found: installing the Debian package")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        subprocess.run(sudo + ["apt-get", "install", "-y", "--no-install-recommends", "hugo"], check=True, env=env)
    except (subprocess.CalledProcessError, FileNotFoundError):
        subprocess.run(sudo + ["apt-get", "update", "-q"], check=False, env=env)
        subprocess.run(sudo + ["apt-get", "install", "-y", "--no-install-recommends", "hugo"], check=False, env=env)
    return shutil.which("hugo")


def ensure_mkdocs() -> Optional[Path]:
    mkdocs = PY.parent / "mkdocs"
    probe = subprocess.run([str(PY), "-c", "import mkdocs; print(mkdocs.__version__)"],
                           capture_output=True, text=True)
    if probe.returncode != 0 or probe.stdout.strip() != "1.6.1":
        log("installing bench/requirements.txt (MkDocs) into the venv")
        subprocess.run([str(PY), "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
                        "--quiet", "-r", str(BENCH / "requirements.txt")], check=False)
    return mkdocs if mkdocs.exists() else None


def has_pagefind() -> bool:
    return subprocess.run([str(PY), "-m", "pagefind", "--version"], capture_output=True).returncode == 0


def tool_version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


# --- measuring one command ---------------------------------------------------------------

@dataclass
class Run:
    seconds: float
    peak_kb: int          # largest of: summed PSS of the process tree (sampled every 50 ms or more), ru_maxrss
    ok: bool
    tail: str = ""
    cpu: float = 0.0      # user + system seconds of the process and its waited-for children


def _memory_kb(pid: int) -> int:
    """Proportional set size (shared pages split among their users: forked workers are not
    counted twice), or the resident set size where smaps_rollup is missing."""
    for path, key in ((f"/proc/{pid}/smaps_rollup", "Pss:"), (f"/proc/{pid}/status", "VmRSS:")):
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith(key):
                        return int(line.split()[1])
        except OSError:
            continue
    return 0


def _tree_rss_kb(pid: int) -> int:
    """Memory of a process and all its descendants (summed PSS)."""
    total, todo, seen = 0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            total += _memory_kb(p)
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except (OSError, ValueError):
            pass
    return total


def measure(cmd: list[str], cwd: Path = REPO, log_file: Optional[Path] = None) -> Run:
    """Run `cmd` once: wall time, peak memory (process tree), success."""
    out = open(log_file, "wb") if log_file else subprocess.DEVNULL
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT if log_file else subprocess.DEVNULL,
                            start_new_session=True)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        # Reading smaps_rollup walks the process's page tables: 38 ms for a 2 GB process
        # here. Sampling every 50 ms regardless took more than half a core from the measured
        # command while Pagefind ran, so the pause is at least 20 times the last reading.
        pause = 0.05
        while not done.wait(pause):
            started = time.perf_counter()
            peak[0] = max(peak[0], _tree_rss_kb(proc.pid))
            pause = max(0.05, 20 * (time.perf_counter() - started))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    timed_out = threading.Event()

    def kill() -> None:             # the process group this function started, nothing else
        timed_out.set()
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    timer = threading.Timer(TIMEOUT, kill)
    timer.start()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    timer.cancel()
    done.set()
    sampler.join()
    if timed_out.is_set():
        try:
            os.killpg(proc.pid, signal.SIGKILL)   # leftovers of the group (e.g. hung workers)
        except ProcessLookupError:
            pass
    proc.returncode = os.waitstatus_to_exitcode(status)
    if log_file:
        out.close()
    tail = ""
    if proc.returncode != 0 and log_file and log_file.exists():
        tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-5:])
    if timed_out.is_set():
        tail = f"timed out after {TIMEOUT:.0f} s (BENCH_TIMEOUT) and was killed\n" + tail
    return Run(seconds, max(peak[0], usage.ru_maxrss), proc.returncode == 0, tail,
               usage.ru_utime + usage.ru_stime)


@dataclass
class Result:
    name: str
    runs: list = field(default_factory=list)   # list[Run]
    note: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.runs) and all(r.ok for r in self.runs)

    @property
    def median(self) -> Optional[float]:
        return statistics.median(r.seconds for r in self.runs) if self.ok else None

    def as_dict(self) -> dict:
        return {"name": self.name, "ok": self.ok, "median_s": self.median, "note": self.note,
                "runs_s": [round(r.seconds, 4) for r in self.runs],
                "cpu_s": [round(r.cpu, 4) for r in self.runs],
                "peak_mb": round(max((r.peak_kb for r in self.runs), default=0) / 1024, 1),
                "error": next((r.tail for r in self.runs if not r.ok), "")}


def repeat(name: str, runs: int, cmd: list[str], before=None, cwd: Path = REPO,
           log_file: Optional[Path] = None) -> Result:
    result = Result(name)
    for i in range(runs):
        if before:
            before(i)
        settle()
        run = measure(cmd, cwd, log_file)
        result.runs.append(run)
        log(f"  {name} run {i + 1}/{runs}: {run.seconds:.2f} s, {run.peak_kb / 1024:.0f} MB"
            + ("" if run.ok else f" FAILED\n{run.tail}"))
        if not run.ok:
            break
    return result


def rmtree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


# Outputs of earlier runs are set aside here and deleted only once the benchmark is over.
# On ext4 without a journal (this machine's disk) the kernel will not reuse an inode freed
# in the last 60-360 s and scans past every such inode for each new file or folder
# (`recently_deleted` in `perf`): deleting 26,000 files just before a timed build made that
# build spend up to 20 s of system time finding inodes, a cost no fresh CI machine has.
TRASH = OUT / "trash"
_trashed = itertools.count()


def set_aside(path: Path) -> None:
    """Move `path` out of the way without freeing its inodes (deleted by `empty_trash`)."""
    if not os.path.lexists(path):
        return
    TRASH.mkdir(parents=True, exist_ok=True)
    os.rename(path, TRASH / f"{next(_trashed)}-{os.getpid()}-{path.name}")


TRASH_EMPTIED = OUT / "trash-emptied"   # when empty_trash last deleted something
INODE_RECENCY = 360                    # seconds: ext4's RECENTCY_MIN + RECENTCY_DIRTY


def empty_trash() -> None:
    """Delete what this and interrupted earlier runs set aside, once nothing is timed any more."""
    if TRASH.exists():
        log(f"deleting earlier outputs ({TRASH.relative_to(REPO)})")
        rmtree(TRASH)
        os.sync()
        TRASH_EMPTIED.write_text(f"{time.time():.0f}\n")


def wait_for_freed_inodes() -> None:
    """Before the first timed run: if a benchmark deleted its outputs less than 6 minutes
    ago, wait until then. Inodes freed that recently are skipped one by one while new
    files are made (see TRASH): the first round of a run started right after another was
    up to 60 % slower, for every tool."""
    try:
        since = time.time() - float(TRASH_EMPTIED.read_text())
    except (OSError, ValueError):
        return
    if 0 <= since < INODE_RECENCY:
        log(f"waiting {INODE_RECENCY - since:.0f} s: the previous benchmark deleted its outputs "
            f"{since:.0f} s ago, and ext4 does not reuse freed inodes for {INODE_RECENCY} s")
        time.sleep(INODE_RECENCY - since)


def settle() -> None:
    """Before a timed run: flush what earlier runs wrote, so their write-back (kernel
    threads on a 2-core machine) does not run during the next tool's build."""
    os.sync()


# --- page weight and search transfer -----------------------------------------------------

RESOURCE_ATTRS = {("link", "href"), ("script", "src"), ("img", "src"), ("source", "src"),
                  ("iframe", "src"), ("video", "src"), ("audio", "src"), ("embed", "src"),
                  ("object", "data"), ("video", "poster"), ("input", "src")}
LINK_LOADS = {"stylesheet", "icon", "preload", "modulepreload", "prefetch", "manifest",
              "apple-touch-icon", "shortcut"}


class _Refs(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs: list[tuple[str, str]] = []     # (kind, url)
        self.inline_styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "style":
            self._in_style = True
        if a.get("style"):
            self.inline_styles.append(a["style"])
        if tag == "link":
            rel = set((a.get("rel") or "").lower().split())
            if rel & LINK_LOADS and a.get("href"):
                self.refs.append(("css" if "stylesheet" in rel else "other", a["href"]))
            return
        for t, attr in RESOURCE_ATTRS:
            if tag == t and a.get(attr):
                self.refs.append(("js" if tag == "script" else "other", a[attr]))
        if tag == "img" and a.get("srcset"):
            for part in a["srcset"].split(","):
                if part.strip():
                    self.refs.append(("other", part.split()[0]))

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.inline_styles.append(data)


CSS_URL_RE = re.compile(r"""url\(\s*['"]?([^'")]+)['"]?\s*\)|@import\s+['"]([^'"]+)['"]""")


def _external(url: str) -> bool:
    return bool(re.match(r"^(?:[a-z][a-z0-9+.-]*:)?//", url, re.I)) and not url.startswith("data:")


def _local(site: Path, page: Path, url: str) -> Optional[Path]:
    if url.startswith(("data:", "#", "javascript:", "mailto:")) or _external(url):
        return None
    url = url.split("#")[0].split("?")[0]
    path = (site / url.lstrip("/")) if url.startswith("/") else (page.parent / url)
    path = path.resolve()
    if path.is_dir():
        path = path / "index.html"
    return path if path.is_file() else None


def page_weight(site: Path, page: Path) -> dict:
    """Bytes of the page and of the CSS/JS it loads (followed through CSS url() and @import)."""
    parser = _Refs()
    text = page.read_text(encoding="utf-8", errors="replace")
    parser.feed(text)
    seen: dict[Path, str] = {}
    external, missing = [], []
    todo = [(kind, url, page) for kind, url in parser.refs]
    todo += [("other", m.group(1) or m.group(2), page) for s in parser.inline_styles for m in CSS_URL_RE.finditer(s)]
    while todo:
        kind, url, base = todo.pop()
        if _external(url):
            external.append(url)
            continue
        path = _local(site, base, url)
        if path is None:
            if not url.startswith(("data:", "#")):
                missing.append(url)
            continue
        if path in seen:
            continue
        seen[path] = kind
        if path.suffix == ".css":
            css = path.read_text(encoding="utf-8", errors="replace")
            todo += [("other", m.group(1) or m.group(2), path) for m in CSS_URL_RE.finditer(css)]
    sizes = {"html": page.stat().st_size, "css": 0, "js": 0, "other": 0}
    for path, kind in seen.items():
        kind = "css" if path.suffix == ".css" else "js" if path.suffix in (".js", ".mjs") else kind
        sizes[kind if kind in sizes else "other"] += path.stat().st_size
    return {"page": str(page.relative_to(site)), **sizes,
            "html_css_js": sizes["html"] + sizes["css"] + sizes["js"],
            "external": sorted(set(external)), "missing": sorted(set(missing)),
            "files": sorted(str(p.relative_to(site)) if p.is_relative_to(site) else str(p) for p in seen)}


def largest_project_page(site: Path) -> Optional[dict]:
    """The largest project page ({year}/{agency}/{project}/index.html) with its CSS/JS."""
    best = None
    for path in site.glob("[12][0-9][0-9][0-9]/*/*/index.html"):
        size = path.stat().st_size
        if best is None or size > best[0]:
            best = (size, path)
    return page_weight(site, best[1]) if best else None


def seed_site(runs: int) -> dict:
    """The repository's own content (the seed documents), built with search: page weight of
    its largest project page and the first-search transfer estimate."""
    out = OUT / "seed-site"
    set_aside(out)
    result = repeat("Gongkai, seed site (repository content), with search", 1,
                    [str(PY), "build.py", "build", "--output", str(out)], log_file=OUT / "seed-site.log")
    info: dict = {"build": result.as_dict()}
    if result.ok:
        info["largest_project_page"] = largest_project_page(out)
        info["search_index"] = search_index_sizes(out)
        info["first_query"] = measured_first_query(out)
        info["serve"] = seed_serve(max(runs, 3)).as_dict()
    return info


def measured_first_query(site: Path) -> Optional[dict]:
    """KB the first search transfers, measured in Chromium (tests/search_probe.py); None
    when the browser tooling of `make test` is not installed."""
    try:
        sys.path.insert(0, str(REPO / "tests"))
        from search_probe import first_query_cost
        return first_query_cost(site, "秦皇岛市山海关区老干部服务中心")
    except Exception as exc:   # no Playwright/Chromium here: the estimate stands alone
        log(f"first query not measured in a browser: {exc}")
        return None


def measured_search_page(site: Path, query: str) -> Optional[dict]:
    """A reader's first search on the search page, measured in Chromium
    (tests/search_probe.py `search_page_cost`); None without the browser tooling."""
    try:
        sys.path.insert(0, str(REPO / "tests"))
        from search_probe import search_page_cost
        return search_page_cost(site, query)
    except Exception as exc:
        log(f"first search not measured in a browser: {exc}")
        return None


def derived_pages_cost(config: Path, site: Path) -> Optional[dict]:
    """Files, bytes, largest page and render seconds of the derived pages (bench/newpages.py),
    in a child process so the benchmark itself stays small."""
    proc = subprocess.run([str(PY), "-m", "bench.newpages", str(config), str(site)], cwd=REPO,
                          capture_output=True, text=True, timeout=TIMEOUT)
    if proc.returncode != 0:
        log(f"derived pages not measured: {proc.stderr.strip().splitlines()[-1:] or proc.returncode}")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def explorer_first_load(site: Path) -> Optional[dict]:
    """The indicator explorer's first load, measured in Chromium (tests/explorer_probe.py);
    None when the browser tooling of `make test` is not installed."""
    try:
        sys.path.insert(0, str(REPO / "tests"))
        from explorer_probe import first_load_cost
        return first_load_cost(site)
    except Exception as exc:
        log(f"explorer first load not measured in a browser: {exc}")
        return None


def seed_serve(runs: int) -> Result:
    """`serve` on a copy of the repository's content: one agency-year change to the page."""
    project = OUT / "seed-project"
    set_aside(project)
    project.mkdir(parents=True)
    shutil.copy(REPO / "site_config.yaml", project)
    shutil.copytree(REPO / "content", project / "content")
    manifest = {"projects": "seed", "sample": {"file": "content/2020/287002.yaml", "name": "保险费"}}
    return measure_serve(project, manifest, "2020/287002/287-0601-JBN-CK81/index.html", runs)


def find_page(site: Path, code: str) -> Optional[Path]:
    for path in site.rglob("*.html"):
        if code in path.as_posix():
            return path
    return None


def search_index_sizes(site: Path) -> Optional[dict]:
    """The search index's files (gongkai/search/index.py), bytes on disk as served (the
    build gzips them): {"all": {"bytes", "files"}, "meta": …, "words": …, "pages": …}, or
    None when the site has none."""
    sys.path.insert(0, str(REPO))
    from gongkai.search import index_stats
    return index_stats(site) or None


# --- serve: one agency-year change to the reloaded page ----------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 2.0) -> Optional[bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.read()
    except Exception:
        return None


def measure_serve(project: Path, manifest: dict, page_rel: str, runs: int) -> Result:
    """Start `build.py serve`, change one project name in one agency-year file, and time until
    the project page served over HTTP shows the change (then put the file back)."""
    result = Result("serve: one agency-year change → page served")
    if not any((REPO / "gongkai" / name).exists() for name in ("serve", "serve.py")):
        result.note = "gongkai/serve does not exist yet"
        return result
    port = _free_port()
    log_path = OUT / f"serve-{manifest['projects']}.log"
    cmd = [str(PY), "build.py", "serve", "--config", str(project / "site_config.yaml"), "--port", str(port)]
    with open(log_path, "wb") as logf:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
    url_path = page_rel[:-len("index.html")] if page_rel.endswith("index.html") else page_rel
    url = f"http://127.0.0.1:{port}/{url_path}"
    source = project / manifest["sample"]["file"]
    original = source.read_bytes()
    needle = f" name: {manifest['sample']['name']}\n"   # any indentation
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and proc.poll() is None:
            body = _get(url)
            if body and manifest["sample"]["name"].encode() in body:
                break
            time.sleep(0.2)
        else:
            if proc.poll() is not None:   # e.g. `error: 端口 … 已被占用`: its last line says why
                said = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
                result.note = f"serve exited: {said[-1] if said else 'no output'}"
            else:
                result.note = "serve did not serve the page"
            result.note += f" (log: {log_path.relative_to(REPO)})"
            return result
        time.sleep(1.0)   # let the watcher settle after the first build
        text = original.decode("utf-8")
        if needle not in text:
            result.note = "sample project name not found in its file"
            return result
        for i in range(runs):
            token = f"（基准修订{i + 1}）"
            changed = text.replace(needle, f" name: {manifest['sample']['name']}{token}\n", 1)
            start = time.perf_counter()
            source.write_text(changed, encoding="utf-8")
            seen = False
            while time.perf_counter() - start < 60:
                body = _get(url)
                if body and token.encode() in body:
                    seen = True
                    break
                time.sleep(0.005)
            elapsed = time.perf_counter() - start
            result.runs.append(Run(elapsed, 0, seen, "" if seen else "change not served within 60 s"))
            log(f"  serve change {i + 1}/{runs}: {elapsed * 1000:.0f} ms" + ("" if seen else " (not seen)"))
            if not seen:
                break
            time.sleep(1.0)
        return result
    finally:
        source.write_bytes(original)
        time.sleep(0.5)
        try:
            os.killpg(proc.pid, signal.SIGTERM)   # the serve process group this function started
            proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def code_state() -> str:
    """The commit and a hash of the builder's working files (gongkai/, templates/, theme/,
    build.py): a benchmark whose builder changed while it ran says so."""
    import hashlib
    digest = hashlib.sha256()
    for folder in ("gongkai", "templates", "theme"):
        for path in sorted((REPO / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(path.relative_to(REPO).as_posix().encode() + b"\0" + path.read_bytes())
    digest.update((REPO / "build.py").read_bytes())
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return f"{head.stdout.strip() or '?'}+{digest.hexdigest()[:10]}"


# --- one scale ------------------------------------------------------------------------------

def prepare(scale: int, seed: int, tools: set) -> tuple[Path, dict]:
    folder = OUT / str(scale)
    manifest_path = folder / "manifest.json"
    vocab_mtime = gen.VOCAB_PATH.stat().st_mtime
    needed = ["gongkai"] + [t for t in ("hugo", "mkdocs") if t in tools]
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if (manifest.get("projects") == scale and manifest.get("seed") == seed
                and set(needed) <= set(manifest.get("tools", ()))
                and manifest.get("generator_version") == gen.GENERATOR_VERSION
                and manifest_path.stat().st_mtime > max(vocab_mtime, Path(gen.__file__).stat().st_mtime)):
            log(f"{scale}: reusing generated content in {folder.relative_to(REPO)}")
            return folder, manifest
    log(f"{scale}: generating content (seed {seed})")
    t = time.perf_counter()
    # in a child process, so the benchmark itself stays small: a forked child's peak RSS
    # (ru_maxrss) includes what its parent held before exec
    subprocess.run([str(PY), "-m", "bench.generate", str(folder), "--projects", str(scale), "--seed", str(seed),
                    "--tools", ",".join(needed), "--quiet"], cwd=REPO, check=True)
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    log(f"{scale}: generated {manifest['agency_years']} agency years in {time.perf_counter() - t:.1f} s")
    return folder, manifest


def baseline_code(revision: str) -> Path:
    """The Gongkai code of `revision`, unpacked once under bench/out/ (`git archive`)."""
    commit = subprocess.run(["git", "rev-parse", "--verify", revision + "^{commit}"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.strip()
    folder = OUT / f"baseline-{commit[:12]}"
    if not (folder / "build.py").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", commit, "build.py", "gongkai", "templates", "theme"],
                                 cwd=REPO, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


@dataclass
class Job:
    key: str
    name: str
    cmd: list
    before: object = None      # callable(run_index) or None
    log_file: Optional[Path] = None


def interleaved(jobs: list[Job], runs: int, results: dict) -> None:
    """Run every job `runs` times, round-robin (A B C A B C …), so that load from other
    processes on a shared machine falls on every tool alike; a job that fails is dropped."""
    active = list(jobs)
    for job in jobs:
        results[job.key] = Result(job.name)
    for i in range(runs):
        for job in list(active):
            if job.before:
                job.before(i)
            settle()
            run = measure(job.cmd, REPO, job.log_file)
            results[job.key].runs.append(run)
            log(f"  {job.name} run {i + 1}/{runs}: {run.seconds:.2f} s (cpu {run.cpu:.2f} s), "
                f"{run.peak_kb / 1024:.0f} MB" + ("" if run.ok else f" FAILED\n{run.tail}"))
            if not run.ok:
                active.remove(job)


def bench_scale(scale: int, runs: int, seed: int, tools: set, hugo: Optional[str],
                mkdocs: Optional[Path], serve: bool) -> dict:
    folder, manifest = prepare(scale, seed, tools)
    project = folder / "gongkai"
    config = project / "site_config.yaml"
    builds = folder / "build"
    builds.mkdir(exist_ok=True)
    results: dict[str, Result] = {}
    extra: dict = {"manifest": manifest, "load_before": os.getloadavg(), "code_before": code_state()}
    g_out, h_out, m_out = builds / "gongkai", builds / "hugo", builds / "mkdocs"
    g_search_out = builds / "gongkai-search"
    g_warm_out = builds / "gongkai-warm"
    hugo_cache = builds / "hugo-cache"

    def clean(*paths):
        def run(_=None):
            for path in paths:
                set_aside(path)
        return run

    gk = [str(PY), "build.py", "build", "--config", str(config)]
    gongkai_clean = clean(g_out, project / ".cache", project / "_site")
    jobs: list[Job] = []
    if "gongkai" in tools:
        jobs.append(Job("gongkai_nosearch", "Gongkai, clean build, no search",
                        gk + ["--output", str(g_out), "--no-search"], gongkai_clean, builds / "gongkai.log"))
        # Right after a clean build its parse cache is warm: what a CI job that keeps
        # .cache/ between runs (actions/cache, a GitLab cache) pays for a fresh _site/.
        jobs.append(Job("gongkai_warm", "Gongkai, clean output, parse cache warm (CI keeping .cache/), no search",
                        gk + ["--output", str(g_warm_out), "--no-search"], clean(g_warm_out), builds / "gongkai.log"))
    if "hugo" in tools and hugo:
        jobs.append(Job("hugo", "Hugo, clean build",
                        [hugo, "--source", str(folder / "hugo"), "--destination", str(h_out),
                         "--cacheDir", str(hugo_cache), "--quiet"], clean(h_out, hugo_cache), builds / "hugo.log"))
        if "pagefind" in tools:
            jobs.append(Job("pagefind", "Pagefind on Hugo's output",
                            [str(PY), "-m", "pagefind", "--site", str(h_out)], clean(h_out / "pagefind"),
                            builds / "pagefind.log"))
    if "mkdocs" in tools and mkdocs:
        jobs.append(Job("mkdocs", "MkDocs, clean build",
                        [str(mkdocs), "build", "-q", "-f", str(folder / "mkdocs" / "mkdocs.yml"), "-d", str(m_out)],
                        clean(m_out), builds / "mkdocs.log"))
    baseline = os.environ.get("BENCH_BASELINE", "").strip()
    if "gongkai" in tools and baseline:
        code = baseline_code(baseline)
        b_out = builds / "gongkai-baseline"
        jobs.append(Job("gongkai_baseline", f"Gongkai at {baseline} (baseline), clean build, no search",
                        [str(PY), str(code / "build.py"), "build", "--config", str(config), "--output", str(b_out),
                         "--no-search"], clean(b_out, project / ".cache", project / "_site"),
                        builds / "gongkai-baseline.log"))
    if "gongkai" in tools:
        jobs.append(Job("gongkai_search", "Gongkai, clean build, with search",
                        gk + ["--output", str(g_search_out)], clean(g_search_out, project / ".cache", project / "_site"),
                        builds / "gongkai-search.log"))
    log(f"{scale}: clean builds, interleaved: " + ", ".join(j.key for j in jobs))
    interleaved(jobs, runs, results)

    if results.get("gongkai_search") and results["gongkai_search"].ok:
        extra["search_index"] = search_index_sizes(g_search_out)
        extra["first_search"] = measured_search_page(g_search_out, manifest["sample"]["name"])
        if extra["search_index"] is None:
            results["gongkai_search"].note = "no search-index/ folder in the output: search not built"
    if results.get("gongkai_nosearch") and results["gongkai_nosearch"].ok:
        page = find_page(g_out, manifest["sample"]["code"])
        if page:
            extra["page_weight"] = page_weight(g_out, page)
            extra["largest_project_page"] = largest_project_page(g_out)
        extra["home"] = page_weight(g_out, g_out / "index.html")
        extra["new_pages"] = derived_pages_cost(config, g_out)
        extra["explorer_load"] = explorer_first_load(g_out)
        log(f"{scale}: Gongkai rebuilds")
        source = project / manifest["sample"]["file"]
        original = source.read_bytes()

        def change_one(i: int) -> None:
            source.write_bytes(original.replace(manifest["sample"]["name"].encode(),
                                                f"{manifest['sample']['name']}（改{i}）".encode(), 1))
        rebuild = gk + ["--output", str(g_out), "--no-search"]
        # one untimed rebuild first: the output then matches the current code and content
        # even if the builder changed since the clean builds (it is being worked on)
        measure(rebuild, REPO, builds / "gongkai.log")
        interleaved([Job("gongkai_nochange", "Gongkai, rebuild, nothing changed, no search", rebuild,
                         None, builds / "gongkai.log")], runs, results)
        try:
            interleaved([Job("gongkai_onefile", "Gongkai, rebuild, one agency-year changed (CLI)", rebuild,
                             change_one, builds / "gongkai.log")], runs, results)
        finally:
            source.write_bytes(original)
        if serve and extra.get("page_weight"):
            log(f"{scale}: Gongkai serve")
            results["serve"] = measure_serve(project, manifest, extra["page_weight"]["page"], runs)
    extra["load_after"] = os.getloadavg()
    extra["code_after"] = code_state()
    return {"scale": scale, "results": results, **extra}


# --- report ---------------------------------------------------------------------------------

def fmt_s(seconds: Optional[float]) -> str:
    if seconds is None:
        return "—"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def ratio(a: Optional[float], b: Optional[float]) -> str:
    return f"{a / b:.2f}" if a and b else "NA"


def table(scales: list[dict], runs: int) -> list[str]:
    names = {}
    for s in scales:
        for key, r in s["results"].items():
            names.setdefault(key, r.name)
    lines = ["| measurement | " + " | ".join(f"{s['scale']:,} pages: median (min–max), peak" for s in scales) + " |",
             "|---|" + "---|" * len(scales)]
    for key, name in names.items():
        cells = []
        for s in scales:
            r = s["results"].get(key)
            if r is None:
                cells.append("not run")
            elif not r.ok:
                why = r.note or next((x.tail.splitlines()[0] for x in r.runs if not x.ok and x.tail), "")
                cells.append("FAILED" + (f": {why}" if why else ""))
            else:
                secs = [x.seconds for x in r.runs]
                if r.note:
                    cells.append(f"{fmt_s(r.median)} — {r.note}")
                    continue
                mem = max(x.peak_kb for x in r.runs) / 1024
                cpu = statistics.median(x.cpu for x in r.runs)
                cells.append(f"{fmt_s(r.median)} ({fmt_s(min(secs))}–{fmt_s(max(secs))})"
                             + (f", {mem:.0f} MB, cpu {fmt_s(cpu)}" if mem else ""))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    # derived rows
    def row(label, fn):
        lines.append(f"| {label} | " + " | ".join(fn(s) for s in scales) + " |")

    def med(s, key):
        r = s["results"].get(key)
        return r.median if r else None

    row("Gongkai no search / Hugo (target ≤ 1.0)", lambda s: ratio(med(s, "gongkai_nosearch"), med(s, "hugo")))
    row("Gongkai no search / MkDocs", lambda s: ratio(med(s, "gongkai_nosearch"), med(s, "mkdocs")))
    row("Gongkai, parse cache warm / Hugo", lambda s: ratio(med(s, "gongkai_warm"), med(s, "hugo")))
    if any("gongkai_baseline" in s["results"] for s in scales):
        row("Gongkai baseline no search / Hugo (same rounds)", lambda s: ratio(med(s, "gongkai_baseline"), med(s, "hugo")))
        row("Gongkai no search / baseline", lambda s: ratio(med(s, "gongkai_nosearch"), med(s, "gongkai_baseline")))

    def cpu(s, key):
        r = s["results"].get(key)
        return statistics.median(x.cpu for x in r.runs) if r and r.ok else None
    row("CPU time: Gongkai no search / Hugo (load-independent; Hugo uses every core)",
        lambda s: ratio(cpu(s, "gongkai_nosearch"), cpu(s, "hugo")))
    row("CPU time: Gongkai no search / MkDocs", lambda s: ratio(cpu(s, "gongkai_nosearch"), cpu(s, "mkdocs")))

    def search_target(s):
        g, h, p = med(s, "gongkai_search"), med(s, "hugo"), med(s, "pagefind")
        if not (g and h and p):
            return "NA"
        if not s.get("search_index"):
            return "NA: the build wrote no search index (search-index/)"
        return f"{g:.2f} s vs {2 * h + p:.2f} s: {'met' if g <= 2 * h + p else 'NOT met'}"
    row("Gongkai with search vs 2×Hugo + Pagefind (target ≤)", search_target)

    def nochange(s):
        a, b = med(s, "gongkai_nochange"), med(s, "gongkai_nosearch")
        return f"{100 * a / b:.0f}% of clean" if a and b else "NA"
    row("no-change rebuild / clean build (target ≤ 10%)", nochange)

    def per_page(s):
        g, c = med(s, "gongkai_nosearch"), cpu(s, "gongkai_nosearch")
        return f"{1000 * g / s['scale']:.2f} ms wall, {1000 * c / s['scale']:.2f} ms cpu" if g else "NA"
    row("Gongkai ms per project page (target: flat)", per_page)

    def weight(s):
        w = s.get("page_weight")
        if not w:
            return "NA"
        return (f"{w['html_css_js'] / 1024:.1f} KB (HTML {w['html'] / 1024:.1f}, CSS {w['css'] / 1024:.1f}, "
                f"JS {w['js'] / 1024:.1f}); external requests: {len(w['external'])}")
    row("project page weight (target ≤ 30 KB, no external)", weight)

    def largest(s):
        w = s.get("largest_project_page")
        return f"{w['html_css_js'] / 1024:.1f} KB ({w['page']})" if w else "NA"
    row("largest project page, HTML+CSS+JS", largest)

    def derived(s):
        d = s.get("new_pages")
        if not d:
            return "NA"
        return "; ".join(f"{label} {d[key]['html_pages']:,} pages + {d[key]['files'] - d[key]['html_pages']:,} data files, "
                         f"{d[key]['bytes'] / 2**20:.1f} MB, largest page {d[key]['largest_html'] / 1024:.0f} KB, "
                         f"render {fmt_s(d[key]['render_s'])}"
                         for key, label in (("explorer", "explorer"), ("method", "method"), ("agencies", "agencies")))
    row("derived pages: indicators/ explorer and listing, indicators/method/, agencies/ (render: in one process)", derived)

    def explorer_load(s):
        e = s.get("explorer_load")
        if not e:
            return "NA"
        return (f"first rows {e['first_rows']['kb']:.0f} KB in {e['first_rows']['ms']} ms "
                f"({e['first_rows']['requests']} requests); every part {e['complete']['kb']:.0f} KB in "
                f"{e['complete']['ms']} ms ({e['complete']['requests']} requests)")
    row("explorer first load in Chromium (uncompressed, local server)", explorer_load)

    def first_search(s):
        f = s.get("first_search")
        return (f"{f['kb']:.0f} KB in {f['requests']} requests, {f['ms']} ms (query {f['query']}: {f['status']})"
                if f else "NA")
    row("first search on the search page, measured in Chromium (target ≤ 300 KB)", first_search)

    def home(s):
        h = s.get("home")
        return f"{h['html'] / 1024:.1f} KB HTML ({h['html_css_js'] / 1024:.1f} KB with CSS and JS)" if h else "NA"
    row("home page (target ≤ 100 KB)", home)

    def index_size(s):
        t = s.get("search_index")
        return (f"{t['all']['bytes'] / 2 ** 20:.1f} MB in {t['all']['files']:,} files (meta {t['meta']['bytes'] / 1024:.0f} KB, "
                f"{t['words']['files']:,} word files, {t['big_words']['files']:,} large postings)") if t else "NA"
    row("search index on disk", index_size)
    return lines


def seed_lines(info: dict) -> list[str]:
    lines = ["", "Seed site (the repository's own content/, built with search):", ""]
    b = info["build"]
    if not b["ok"]:
        return lines + [f"- build FAILED: {b['error']}"]
    lines.append(f"- build: {fmt_s(b['median_s'])}, peak {b['peak_mb']:.0f} MB")
    w = info.get("largest_project_page")
    if w:
        lines.append(f"- largest project page: {w['html_css_js'] / 1024:.1f} KB HTML+CSS+JS "
                     f"(HTML {w['html'] / 1024:.1f}, CSS {w['css'] / 1024:.1f}, JS {w['js'] / 1024:.1f}; "
                     f"{w['page']}); external requests: {len(w['external'])} (target ≤ 30 KB, 0)")
    t = info.get("search_index")
    lines.append(f"- search index: {t['all']['bytes'] / 1024:.0f} KB in {t['all']['files']} files" if t
                 else "- search index: NA (no search-index/ in the output)")
    q = info.get("first_query")
    if q:
        lines.append(f"- first search transfer measured in Chromium: {q['kb']:.0f} KB in {q['requests']} requests "
                     "(query 秦皇岛市山海关区老干部服务中心; target ≤ 300 KB)")
    sv = info.get("serve")
    if sv:
        lines.append(f"- serve, one agency-year change → page served: {fmt_s(sv['median_s'])} median"
                     if sv["ok"] else f"- serve: {sv['note'] or 'not measured'}")
    return lines


def report(payload: dict, done: list[dict]) -> tuple[list[str], str]:
    """The Markdown report and the contract's last line."""
    runs, versions, seed_info = payload["runs"], payload["versions"], payload.get("seed_site")
    contract = next((s for s in done if s["scale"] == CONTRACT_SCALE), max(done, key=lambda s: s["scale"]))
    med = lambda key: contract["results"][key].median if key in contract["results"] else None
    serve_result = contract["results"].get("serve")
    incremental = f"{serve_result.median * 1000:.0f}" if serve_result and serve_result.ok else "NA"
    lines = [f"# Gongkai benchmark, {payload['date']}", "",
             f"{runs} runs per cell, seed {payload['seed']}; {versions['cpus']} CPUs, {versions['memory_gb']} GB; "
             f"Python {versions['python']}; {versions['hugo']}; {versions['mkdocs']}; pagefind {versions['pagefind']}", ""]
    loads = "; ".join(f"{s['scale']:,}: {s['load_before'][0]:.1f} → {s['load_after'][0]:.1f}" for s in done)
    shared = max(max(s["load_before"][0], s["load_after"][0]) for s in done) > (versions["cpus"] or 1) * 0.75
    lines += [f"Load average (1 min) before → after each scale: {loads}"
              + (" — the machine was shared; compare tools within this run only." if shared else ""),
              "Clean builds are interleaved (Gongkai, Gongkai with the parse cache warm, Hugo, Pagefind, MkDocs, Gongkai with search, then again).", ""]
    codes = {s.get("code_before") for s in done} | {s.get("code_after") for s in done}
    codes.discard(None)
    if len(codes) > 1:
        lines += ["**The builder's code changed while this benchmark ran** (" + " → ".join(
            f"{s['scale']:,}: {s.get('code_before')} → {s.get('code_after')}" for s in done)
            + "): runs of one row may have measured different code.", ""]
    elif codes:
        lines += [f"Builder code: {codes.pop()} (commit + hash of gongkai/, templates/, theme/, build.py).", ""]
    lines += table(done, runs)
    if serve_result is not None and not serve_result.ok:
        lines += ["", f"serve: {serve_result.note or 'not measured'}"]
    if seed_info:
        lines += seed_lines(seed_info)
    last = (f"ratios ({contract['scale']} pages): gongkai/hugo={ratio(med('gongkai_nosearch'), med('hugo'))} "
            f"gongkai/mkdocs={ratio(med('gongkai_nosearch'), med('mkdocs'))} incremental_ms={incremental}")
    search = contract["results"].get("gongkai_search")
    first = contract.get("first_search")
    home = contract.get("home")
    last += (f"\nscale ({contract['scale']} pages): "
             f"peak_search_mb={max(r.peak_kb for r in search.runs) / 1024:.0f}" if search and search.ok
             else f"\nscale ({contract['scale']} pages): peak_search_mb=NA")
    last += f" first_search_kb={first['kb']:.0f}" if first else " first_search_kb=NA"
    last += f" home_kb={home['html'] / 1024:.0f}" if home else " home_kb=NA"
    return lines, last


def reprint(path: Path = OUT / "results.json") -> int:
    """`python -m bench report`: print the report of the last run again (from results.json)."""
    payload = json.loads(path.read_text(encoding="utf-8"))
    done = []
    for s in payload["scales"]:
        results = {}
        for key, r in s["results"].items():
            cpus = r.get("cpu_s") or [0.0] * len(r["runs_s"])
            runs = [Run(t, int(r["peak_mb"] * 1024), r["ok"], r.get("error", ""), c) for t, c in zip(r["runs_s"], cpus)]
            results[key] = Result(r["name"], runs, r.get("note", ""))
        done.append({**s, "results": results})
    lines, last = report(payload, done)
    print("\n".join(lines))
    print()
    print(last, flush=True)
    return 0


def serve_only(scale: int, runs: int) -> int:
    """`python -m bench serve N [RUNS]`: only the `serve` measurement, on content already
    generated by `make bench` at that scale (bench/out/N/), without any clean build."""
    project = OUT / str(scale) / "gongkai"
    manifest = json.loads((OUT / str(scale) / "manifest.json").read_text(encoding="utf-8"))
    sample = manifest["sample"]
    page = f"{sample['year']}/{sample['agency']}/{sample['code']}/index.html"
    load_before = os.getloadavg()
    result = measure_serve(project, manifest, page, runs)
    times = [r.seconds * 1000 for r in result.runs]
    print(f"serve {scale}: median {fmt_s(result.median)}"
          + (f" ({min(times):.0f}–{max(times):.0f} ms, {len(times)} runs)" if times else "")
          + (f" {result.note}" if result.note else "")
          + f"; load average {load_before[0]:.2f} → {os.getloadavg()[0]:.2f}", flush=True)
    return 0 if result.ok else 1


def main() -> int:
    if sys.argv[1:] == ["report"]:
        return reprint()
    if sys.argv[1:2] == ["serve"]:
        return serve_only(int(sys.argv[2]) if len(sys.argv) > 2 else 10000,
                          int(sys.argv[3]) if len(sys.argv) > 3 else 3)
    scales = [int(x) for x in os.environ.get("BENCH_SCALE", "").replace(" ", "").split(",") if x] or list(DEFAULT_SCALES)
    runs = max(1, int(os.environ.get("BENCH_RUNS", "3")))
    seed = int(os.environ.get("BENCH_SEED", "1"))
    tools = set(os.environ.get("BENCH_TOOLS", "gongkai,hugo,mkdocs,pagefind").split(","))
    serve = os.environ.get("BENCH_SERVE", "1") != "0"
    OUT.mkdir(parents=True, exist_ok=True)
    hugo = ensure_hugo() if "hugo" in tools else None
    mkdocs = ensure_mkdocs() if "mkdocs" in tools else None
    if "pagefind" in tools and not has_pagefind():
        log("pagefind is not installed in the venv (bench/requirements.txt): no comparison with Pagefind")
        tools.discard("pagefind")
    versions = {"python": platform.python_version(),
                "hugo": tool_version([hugo, "version"]) if hugo else "missing",
                "mkdocs": tool_version([str(mkdocs), "--version"]) if mkdocs else "missing",
                "pagefind": tool_version([str(PY), "-m", "pagefind", "--version"]) if "pagefind" in tools else "missing",
                "cpus": os.cpu_count(), "machine": platform.machine(),
                "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)}
    log(f"scales {scales}, {runs} runs, seed {seed}; {versions}")
    wait_for_freed_inodes()
    largest = max(scales)
    done = []
    for scale in scales:
        done.append(bench_scale(scale, runs, seed, tools, hugo, mkdocs, serve and scale == largest))

    seed_info = seed_site(1) if "gongkai" in tools and (REPO / "content").is_dir() else None

    stamp = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    payload = {"date": stamp, "runs": runs, "seed": seed, "versions": versions, "seed_site": seed_info,
               "scales": [{**{k: v for k, v in s.items() if k != "results"},
                           "results": {k: r.as_dict() for k, r in s["results"].items()}} for s in done]}
    lines, last = report(payload, done)
    payload["last_line"] = last
    tag = time.strftime("%Y%m%d-%H%M%S")
    for name in ("results", f"results-{tag}"):     # the latest, and one kept per run
        (OUT / f"{name}.json").write_text(json.dumps(payload, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        (OUT / f"{name}.md").write_text("\n".join(lines + ["", last]) + "\n", encoding="utf-8")
    empty_trash()
    print("\n".join(lines))
    print()
    print(last, flush=True)
    return 0
