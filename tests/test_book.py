"""The committed book renders offline with warnings as errors, and shows every chapter of the registry."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sat_lib.experiments import CHAPTERS
from sat_lib.provenance import PROJECT_ROOT

BOOK = PROJECT_ROOT / "book"


@pytest.mark.parametrize("name", list(CHAPTERS))
def test_every_chapter_is_executed_into_the_book(name):
    nb = json.loads((BOOK / "chapters" / f"{name}.ipynb").read_text())
    outputs = [o for c in nb["cells"] for o in c.get("outputs", [])]
    assert outputs and not any(o.get("output_type") == "error" for o in outputs)
    assert nb["metadata"]["papermill"]["parameters"], "executed by papermill with its parameters"


def test_book_builds_with_warnings_as_errors(tmp_path):
    exe = Path(sys.executable).with_name("jupyter-book")
    src = tmp_path / "book"
    shutil.copytree(BOOK, src, ignore=shutil.ignore_patterns("_build"))
    proc = subprocess.run([str(exe) if exe.exists() else "jupyter-book", "build", str(src), "-W", "-q"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    html = src / "_build" / "html"
    for name in CHAPTERS:
        page = (html / "chapters" / f"{name}.html").read_text()
        assert CHAPTERS[name].title in page
    assert (html / "chapters" / "sat-matrix.html").read_text().count("<img") >= 3
