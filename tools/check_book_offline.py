"""Open the built book in headless Chromium with the network cut off, and check what a reader would see.

    python tools/check_book_offline.py                      # every page of book/_build/html
    python tools/check_book_offline.py --pages chapters/measures.html --screenshots /tmp/shots

The pages are served from localhost; every host name but localhost resolves to nothing, so a page that needs the
network (a maths CDN, a web font) shows it. For each page the browser runs the page's scripts, then the DOM it
ends with is read:

- every maths element Sphinx wrote (``<span|div class="math ...">``) must hold typeset MathJax output
  (``mjx-container``) and no raw TeX delimiters;
- no text outside code and scripts may show TeX delimiters (``\\(``, ``\\[``, ``$$``) MathJax left alone;
- every image must be a file of the build;
- no request may leave localhost (Chromium's network log).

A screenshot of each page is written where ``--screenshots`` says. The report (one row per page) is printed and
written as JSON beside the screenshots; the exit status is 1 when any page fails, 2 when no browser is found.
"""
from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import asdict, dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# The flags a headless Chromium needs on a machine without a network or a display (no background connections,
# no sandbox as root, no GPU), and a resolver that knows localhost alone.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost")
RAW_TEX = re.compile(r"\\\(|\\\[|\$\$")
LOCAL_HOSTS = {"localhost", "127.0.0.1", ""}


def find_browser(explicit: str | None = None) -> str | None:
    """The Chromium to drive: ``explicit``, ``$CHROMIUM``, or the first of ``BROWSERS`` on the path."""
    for name in (explicit, os.environ.get("CHROMIUM"), *BROWSERS):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


class _Dom(HTMLParser):
    """What the checks read from a rendered DOM: maths elements (and whether each holds typeset output or raw
    TeX), stray TeX in prose, image sources."""

    SKIP = {"script", "style", "code", "pre", "textarea"}

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.maths: list[dict] = []          # one per Sphinx maths element: {"typeset": bool, "raw": bool}
        self.stray: list[str] = []           # prose with TeX delimiters outside maths elements
        self.images: list[str] = []
        self._stack: list[str] = []
        self._math_depth: int | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self._stack.append(tag)
        if tag == "img" and attrs.get("src"):
            self.images.append(attrs["src"])
        classes = (attrs.get("class") or "").split()
        if self._math_depth is None and tag in ("span", "div") and "math" in classes:
            self._math_depth = len(self._stack)
            self.maths.append({"typeset": False, "raw": False})
        elif self._math_depth is not None and tag == "mjx-container":
            self.maths[-1]["typeset"] = True

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if tag not in self._stack:
            return
        while self._stack and self._stack.pop() != tag:
            pass
        if self._math_depth is not None and len(self._stack) < self._math_depth:
            self._math_depth = None

    def handle_data(self, data):
        if not RAW_TEX.search(data) or any(t in self.SKIP for t in self._stack):
            return
        if self._math_depth is not None:
            self.maths[-1]["raw"] = True
        else:
            self.stray.append(data.strip()[:80])


@dataclass
class PageReport:
    page: str
    maths: int = 0
    typeset: int = 0
    raw_maths: int = 0
    stray_tex: list[str] = field(default_factory=list)
    images: int = 0
    missing_images: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)
    screenshot: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return (self.error is None and self.typeset == self.maths and not self.raw_maths and not self.stray_tex
                and not self.missing_images and not self.outside_requests)


def _serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://localhost:{server.server_address[1]}/"


def _browser(browser: str, profile: Path, *args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=timeout)


# Chromium's traffic annotations (the hashes it logs with each request) of requests a page makes: its navigation,
# its subresources (scripts, styles, fonts, images, fetch/XHR), its favicon. Chromium's own background requests
# (time sync, accounts, spelling dictionaries) carry other annotations and are not the book's doing.
PAGE_ANNOTATIONS = {63171670, 101845102, 112189210}


def _outside(netlog: Path) -> list[str]:
    """Every URL the page itself requested (``PAGE_ANNOTATIONS``) from a host other than localhost, by Chromium's
    network log."""
    if not netlog.is_file():
        return []
    text = netlog.read_text(errors="replace")
    urls = set()
    for m in re.finditer(r'\{[^{}]*"url"\s*:\s*"[^"]+"[^{}]*\}', text):
        try:
            params = json.loads(m.group(0))
        except json.JSONDecodeError:
            continue
        if params.get("traffic_annotation") in PAGE_ANNOTATIONS:
            urls.add(params["url"])
    return sorted(u for u in urls if urlparse(u).scheme in ("http", "https", "ws", "wss")
                  and urlparse(u).hostname not in LOCAL_HOSTS)


def check_page(browser: str, root: Path, base: str, page: str, shots: Path | None, wait_ms: int = 15000,
               timeout: float = 120) -> PageReport:
    """Render one page (its scripts run for up to ``wait_ms`` of virtual time) and check it."""
    report = PageReport(page)
    url = base + page
    with tempfile.TemporaryDirectory() as tmp:
        profile, netlog = Path(tmp) / "profile", Path(tmp) / "net.json"
        try:
            dom = _browser(browser, profile, f"--log-net-log={netlog}", f"--virtual-time-budget={wait_ms}",
                           "--dump-dom", url, timeout=timeout)
            if shots is not None:
                shot = shots / (page.replace("/", "__").removesuffix(".html") + ".png")
                _browser(browser, profile, f"--virtual-time-budget={wait_ms}", "--window-size=1280,1600",
                         "--hide-scrollbars", f"--screenshot={shot}", url, timeout=timeout)
                report.screenshot = str(shot) if shot.is_file() else None
        except subprocess.TimeoutExpired:
            report.error = f"the browser did not finish within {timeout:.0f} s"
            return report
        if dom.returncode != 0 or "<html" not in dom.stdout:
            report.error = f"the browser exited with {dom.returncode}: {dom.stderr.strip()[-300:]}"
            return report
        parsed = _Dom(dom.stdout)
        report.outside_requests = _outside(netlog)
    report.maths = len(parsed.maths)
    report.typeset = sum(m["typeset"] for m in parsed.maths)
    report.raw_maths = sum(m["raw"] for m in parsed.maths)
    report.stray_tex = parsed.stray
    report.images = len(parsed.images)
    page_dir = (root / page).parent
    for src in parsed.images:
        if src.startswith("data:"):
            continue
        parts = urlparse(src)
        if parts.scheme in ("http", "https") and parts.hostname not in LOCAL_HOSTS:
            report.missing_images.append(src)
        elif not (page_dir / unquote(parts.path)).resolve().is_file() and not (root / unquote(parts.path).lstrip("/")).is_file():
            report.missing_images.append(src)
    return report


def pages_of(root: Path) -> list[str]:
    """Every page of the build but Sphinx's own (search, genindex)."""
    skip = {"search.html", "genindex.html", "py-modindex.html"}
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.html")
                  if p.name not in skip and not any(part.startswith("_") for part in p.relative_to(root).parts))


def check_book(root: Path, pages: list[str] | None = None, shots: Path | None = None,
               browser: str | None = None, wait_ms: int = 15000) -> list[PageReport]:
    browser = find_browser(browser)
    if browser is None:
        raise FileNotFoundError(f"no Chromium found (tried {', '.join(BROWSERS)} and $CHROMIUM); install one "
                                "(Debian: apt-get install chromium) or name it with --browser")
    if not (root / "index.html").is_file() and not pages:
        raise FileNotFoundError(f"{root} holds no built book (no index.html); build it with `jupyter-book build "
                                "book` or name the folder with --html")
    if shots is not None:
        shots.mkdir(parents=True, exist_ok=True)
    server, base = _serve(root)
    try:
        return [check_page(browser, root, base, page, shots, wait_ms) for page in (pages or pages_of(root))]
    finally:
        server.shutdown()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--html", type=Path, default=Path(__file__).resolve().parents[1] / "book" / "_build" / "html")
    ap.add_argument("--pages", nargs="*", help="pages relative to the build folder (default: all)")
    ap.add_argument("--screenshots", type=Path, help="folder for one PNG per page and report.json "
                    "(default: <html>/../offline-check)")
    ap.add_argument("--browser", help="the Chromium executable")
    ap.add_argument("--wait-ms", type=int, default=15000, help="virtual time each page's scripts get")
    args = ap.parse_args(argv)
    shots = args.screenshots or args.html.parent / "offline-check"
    try:
        reports = check_book(args.html, args.pages, shots, args.browser, args.wait_ms)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    (shots / "report.json").write_text(json.dumps([{**asdict(r), "ok": r.ok} for r in reports], indent=1))
    width = max(len(r.page) for r in reports)
    print(f"{'page':<{width}}  maths typeset  raw  stray  images missing  outside  ok")
    for r in reports:
        print(f"{r.page:<{width}}  {r.maths:5d} {r.typeset:7d}  {r.raw_maths:3d}  {len(r.stray_tex):5d}  "
              f"{r.images:6d} {len(r.missing_images):7d}  {len(r.outside_requests):7d}  "
              f"{'yes' if r.ok else 'NO: ' + (r.error or '')}")
    for r in reports:
        for what, items in (("stray TeX", r.stray_tex), ("missing image", r.missing_images),
                            ("request outside localhost", r.outside_requests)):
            for item in items[:5]:
                print(f"  {r.page}: {what}: {item}")
    print(f"screenshots and report.json in {shots}")
    return 0 if all(r.ok for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
