"""The committed book renders offline with warnings as errors, and shows every chapter of the registry."""
import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from sat_lib.experiments import CHAPTERS, book_chapters
from sat_lib.provenance import PROJECT_ROOT

BOOK = PROJECT_ROOT / "book"


@pytest.mark.parametrize("name", book_chapters())
def test_every_chapter_is_executed_into_the_book(name):
    nb = json.loads((BOOK / "chapters" / f"{name}.ipynb").read_text())
    outputs = [o for c in nb["cells"] for o in c.get("outputs", [])]
    assert outputs and not any(o.get("output_type") == "error" for o in outputs)
    assert nb["metadata"]["papermill"]["parameters"], "executed by papermill with its parameters"


@pytest.mark.parametrize("name", book_chapters())
def test_no_table_cell_prints_nan_or_is_cut_short(name):
    """Tables print whole (no cell cut at 50 characters with "...", no rows elided) and a missing value prints as
    a dash, not ``NaN`` (``sat_lib.report.use_display``)."""
    nb = json.loads((BOOK / "chapters" / f"{name}.ipynb").read_text())
    tables = ["".join(o.get("data", {}).get("text/html", "")) for c in nb["cells"] for o in c.get("outputs", [])]
    cells = [cell for t in tables for cell in re.findall(r"<td>(.*?)</td>", t, re.S)]
    assert not [c for c in cells if c.strip() in ("NaN", "nan", "None")], "a table prints NaN"
    assert not [c for c in cells if c.rstrip().endswith("...")], "a table cell is cut short"
    assert not [t for t in tables if "<td>...</td>" in t or "<th>...</th>" in t], "a table elides rows or columns"


@pytest.mark.parametrize("name", book_chapters())
def test_every_chapter_opens_with_its_headline_figure(name):
    """The executed chapter's first figure or table is its headline figure, recorded (myst-nb glue, key
    ``plots.HEADLINE``) for the landing page, and the rerun box follows it before any table."""
    from sat_lib.plots import HEADLINE

    nb = json.loads((BOOK / "chapters" / f"{name}.ipynb").read_text())
    shown = [o for c in nb["cells"] if "hide-output" not in c["metadata"].get("tags", [])
             for o in c.get("outputs", []) if o.get("output_type") in ("display_data", "execute_result")]
    first = shown[0]
    assert first.get("metadata", {}).get("scrapbook", {}).get("name") == HEADLINE and "image/png" in first["data"]
    assert "Rerun this page" in "".join(shown[1]["data"].get("text/markdown", ""))


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    """The committed book, built once into a temporary folder with warnings as errors: its HTML folder."""
    exe = Path(sys.executable).with_name("jupyter-book")
    src = tmp_path_factory.mktemp("book") / "book"
    shutil.copytree(BOOK, src, ignore=shutil.ignore_patterns("_build", "__pycache__"))
    proc = subprocess.run([str(exe) if exe.exists() else "jupyter-book", "build", str(src), "-W", "-q"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return src / "_build" / "html"


class _Page(HTMLParser):
    """A built page's script sources, and the rows (lists of cell HTML) of each of its tables."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.scripts, self.tables, self._cell = [], [], None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and attrs.get("src"):
            self.scripts.append(attrs["src"])
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th") and self.tables:
            self._cell = []
        elif self._cell is not None:
            self._cell.append(self.get_starttag_text())

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None
        elif self._cell is not None:
            self._cell.append(f"</{tag}>")

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


CDN = re.compile(r"cdn\.jsdelivr|cdnjs|mathjax\.org|unpkg\.com|//[^/]*mathjax", re.I)


def test_book_serves_its_own_mathjax(html):
    """No page loads maths from a CDN: each loads the MathJax copied into the build, with its fonts."""
    pages = sorted(html.rglob("*.html"))
    loaded = set()
    for page in pages:
        for src in _Page(page.read_text()).scripts:
            assert not CDN.search(src), f"{page.relative_to(html)} loads {src}"
            if "mathjax" in src.lower():
                assert "://" not in src and not src.startswith("//"), src
                target = (page.parent / src.split("?")[0]).resolve()
                assert target.is_file() and target.stat().st_size > 100_000, f"{page.relative_to(html)}: {src}"
                loaded.add(target)
    assert loaded == {(html / "_static" / "mathjax" / "tex-mml-chtml.js").resolve()}
    assert any("mathjax" in s for s in _Page((html / "chapters" / "measures.html").read_text()).scripts)
    static = html / "_static" / "mathjax"
    assert (static / "output" / "chtml" / "fonts" / "woff-v2" / "MathJax_Main-Regular.woff").is_file()
    assert (static / "input" / "tex" / "extensions" / "boldsymbol.js").is_file()   # autoloaded by \boldsymbol
    assert (static / "LICENSE").is_file()


def test_measures_registry_renders_as_a_table_with_maths(html):
    """The registry, displayed as Markdown by the measures notebook, is parsed as MyST: an HTML table whose
    formulas are maths, with no pipe-table text left over."""
    text = (html / "chapters" / "measures.html").read_text()
    assert not re.search(r"\|\s*:?-{3,}:?\s*\|", text), "raw pipe-table text in the page"
    tables = [t for t in _Page(text).tables if t and "formula" in " ".join(t[0])]
    assert len(tables) == 1, "the registry table"
    header, *rows = tables[0]
    assert [re.sub(r"<[^>]+>", "", c) for c in header][:3] == ["measure", "kind", "formula"]
    assert "agreement" in rows[0][0] and '<span class="math' in rows[0][2]
    assert sum('<span class="math' in r[2] for r in rows) >= len(rows) // 2
    assert "$" not in rows[0][2]


def test_every_registry_formula_is_one_maths_span(html):
    tables = [t for t in _Page((html / "chapters" / "measures.html").read_text()).tables
              if t and "formula" in " ".join(t[0])]
    header, *rows = tables[0]
    broken = [re.sub(r"<[^>]+>", "", r[0]) for r in rows
              if len(r) != len(header) or not re.fullmatch(r'<p><span class="math[^>]*>.*</span></p>', r[2], re.S)]
    assert not broken, f"formulas that did not render as one maths span: {broken}"
    norms = [r[2] for r in rows if "procrustes" in r[0]]
    assert norms and r"\|" in norms[0], "matrix norms keep their double bars"


def test_book_builds_with_warnings_as_errors(html):
    for name in book_chapters():
        page = (html / "chapters" / f"{name}.html").read_text()
        assert CHAPTERS[name].title in page
    assert (html / "chapters" / "sat-matrix.html").read_text().count("<img") >= 3


def test_landing_page_shows_the_scorecard_and_a_figure_per_part(html):
    """``intro.md`` pastes the status page's scorecard and one chapter's headline per part (myst-nb glue from the
    executed chapters): every pasted image is a file of the build."""
    intro = (html / "intro.html").read_text()
    docs = re.findall(r":doc: (chapters/[\w-]+)\.ipynb", (BOOK / "intro.md").read_text())
    assert docs[0] == "chapters/status" and len(docs) >= 5 and all(d.split("/")[1] in CHAPTERS for d in docs)
    images = re.findall(r'<img[^>]*src="([^"]+)"', intro)
    assert len(images) >= len(docs) and all((html / src).is_file() for src in images)


def test_parameters_and_provenance_are_folded(html):
    """The parameters papermill injected (``_ext/fold_parameters.py``) and each chapter's setting tables sit in
    toggles a reader opens."""
    for name in book_chapters():
        page = (html / "chapters" / f"{name}.html").read_text()
        assert "Show the parameters papermill injected" in page, name
        assert "Show the parameters and provenance" in page or "Show the run behind each chapter" in page, name


def _offline_checker():
    """``tools/check_book_offline.py``, imported from its file (tools are scripts, not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("check_book_offline",
                                                  PROJECT_ROOT / "tools" / "check_book_offline.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)   # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


def test_offline_checker_tells_typeset_maths_from_raw_tex():
    dom = _offline_checker()._Dom(
        '<p>Prose \\(x\\) left raw.</p><pre>code \\(kept\\)</pre>'
        '<span class="math notranslate"><mjx-container><mjx-math>y</mjx-math></mjx-container></span>'
        '<div class="math notranslate">\\[z\\]</div><img src="a.png"><script>var s = "$$";</script>')
    assert [m["typeset"] for m in dom.maths] == [True, False]
    assert [m["raw"] for m in dom.maths] == [False, True]
    assert dom.stray == ["Prose \\(x\\) left raw."], "code and scripts may hold TeX; prose may not"
    assert dom.images == ["a.png"]


def test_book_renders_offline_in_a_browser(html, tmp_path):
    """The built book in headless Chromium with every host but localhost unresolvable: each maths element is
    typeset, no TeX is left raw, every image is a file of the build, and no page requests anything from outside;
    a page that breaks each rule is caught. Skipped where no Chromium is installed (``apt-get install chromium``)."""
    checker = _offline_checker()
    if checker.find_browser() is None:
        pytest.skip("no Chromium on this machine")
    pages = ["intro.html", "chapters/measures.html", "chapters/salience.html", "chapters/status.html"]
    reports = {r.page: r for r in checker.check_book(html, pages, shots=tmp_path / "shots")}
    for page in pages:
        assert reports[page].ok, reports[page]
        assert Path(reports[page].screenshot).stat().st_size > 10_000
    assert reports["chapters/measures.html"].typeset >= 20
    broken = tmp_path / "broken"   # beside the shared build, not in it: the other tests read every page there
    broken.mkdir()
    (broken / "bad.html").write_text(
        '<html><head><script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"></script></head>'
        '<body><p>Prose \\(x\\)</p><span class="math">\\(y\\)</span><img src="missing.png"></body></html>')
    [bad] = checker.check_book(broken, ["bad.html"])
    assert not bad.ok and bad.stray_tex and bad.raw_maths == 1 and bad.missing_images == ["missing.png"]
    assert bad.outside_requests == ["https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"]
