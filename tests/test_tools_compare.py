"""``tools/compare_chapters.py``: two executions of a chapter show the same outputs, or it says which differ."""
import base64
import copy
import importlib.util
import json
import re
import shutil
import subprocess
import sys

import pytest

from sat_lib.provenance import PROJECT_ROOT

CHAPTER = PROJECT_ROOT / "book" / "chapters" / "measures.ipynb"  # a small executed chapter


@pytest.fixture(scope="module")
def tool():
    """The tool, imported from its file (tools are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("compare_chapters", PROJECT_ROOT / "tools" / "compare_chapters.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


def _outputs(nb):
    return [o for c in nb["cells"] for o in c.get("outputs", [])]


NUMBER = re.compile(r"(?<![\w.])(\d+\.\d*)(\d)(?![\w.])")  # a decimal number in a table cell or a sentence


def _change_one_number(nb):
    """The first decimal number in the first HTML output that has one changes its last digit; everything else stays.

    Returns the notebook and the new number as it is shown."""
    for o in _outputs(nb):
        html = "".join(o.get("data", {}).get("text/html", []))
        m = NUMBER.search(html)
        if m:
            changed = m.group(1) + str((int(m.group(2)) + 1) % 10)
            o["data"]["text/html"] = html[: m.start()] + changed + html[m.end():]
            return nb, changed
    raise AssertionError("the chapter shows no decimal number in an HTML output: pick another chapter")


def test_two_copies_of_a_chapter_are_the_same(tool, tmp_path, capsys):
    old, new = tmp_path / "old.ipynb", tmp_path / "new.ipynb"
    shutil.copyfile(CHAPTER, old)
    shutil.copyfile(CHAPTER, new)
    assert tool.main([str(old), str(new)]) == 0
    out = capsys.readouterr().out
    assert f"new: same ({len(_outputs(json.loads(CHAPTER.read_text())))} outputs)" in out


def test_one_changed_number_differs(tool, tmp_path, capsys):
    old, new = tmp_path / "old.ipynb", tmp_path / "new.ipynb"
    shutil.copyfile(CHAPTER, old)
    nb, changed = _change_one_number(json.loads(CHAPTER.read_text()))
    new.write_text(json.dumps(nb))
    assert tool.main([str(old), str(new)]) == 1
    out = capsys.readouterr().out
    assert "new: DIFFERS (1 of" in out
    assert "text/html differs" in out and "+" in out and changed in out
    assert "text/plain differs" not in out


def test_folders_and_missing_chapters(tool, tmp_path, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for d in ("a", "b"):
        shutil.copyfile(CHAPTER, tmp_path / d / "measures.ipynb")
    shutil.copyfile(CHAPTER, tmp_path / "a" / "status.ipynb")
    assert tool.main([str(tmp_path / "a"), str(tmp_path / "b")]) == 1
    out = capsys.readouterr().out
    assert "measures: same" in out and "status: DIFFERS" in out and "does not exist" in out


def _notebook(png: bytes, count: int, fingerprint: str, injected: str) -> dict:
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    params = new_code_cell(injected)
    params.metadata["tags"] = ["injected-parameters"]
    note = new_markdown_cell(f"*Executed at the `{fingerprint[:5]}` profile*")
    note.metadata["tags"] = ["profile-note"]
    figure = new_code_cell("plots.show(fig)", execution_count=count)
    figure.id = f"id-{count}"
    figure.outputs = [new_output("display_data", data={"image/png": base64.b64encode(png).decode(),
                                                       "text/plain": "<Figure size 640x480 with 1 Axes>"},
                                 metadata={"width": count})]
    figure.metadata["papermill"] = {"duration": count / 10}
    nb = new_notebook(cells=[note, params, figure])
    nb.metadata["sat_companion"] = {"fingerprint": fingerprint}
    return json.loads(nbformat.writes(nb))


def test_what_is_ignored_and_images_by_hash(tool):
    a = _notebook(b"\x89PNG one", 1, "aaaa", "seed = 0")
    # execution counts, cell ids and metadata, the fingerprint and the injected parameters may differ
    assert tool.compare_notebooks(a, _notebook(b"\x89PNG one", 7, "bbbb", "seed = 1")).same
    report = tool.compare_notebooks(a, _notebook(b"\x89PNG two", 1, "aaaa", "seed = 0"), "fig")
    assert not report.same
    assert len(report.differences) == 1 and "image/png differs" in report.differences[0]


def test_cells_are_matched_by_source(tool):
    a = json.loads(CHAPTER.read_text())
    b = copy.deepcopy(a)
    code = [c for c in b["cells"] if c["cell_type"] == "code" and c.get("outputs")]
    b["cells"].remove(code[-1])
    report = tool.compare_notebooks(a, b)
    assert len(report.differences) == 1 and "removed" in report.differences[0]
    code[0]["source"] = "# edited\n" + "".join(code[0]["source"])
    b["cells"].append(code[-1])
    report = tool.compare_notebooks(a, b)
    assert report.same and any("source changed" in n for n in report.notes)


def test_against_a_git_revision(tool, tmp_path, capsys):
    chapters = tmp_path / "book" / "chapters"
    chapters.mkdir(parents=True)
    shutil.copyfile(CHAPTER, chapters / "measures.ipynb")
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "book"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "executed"], check=True)
    assert all(r.same for r in tool.compare_rev("HEAD", [], root=tmp_path))
    (chapters / "measures.ipynb").write_text(json.dumps(_change_one_number(json.loads(CHAPTER.read_text()))[0]))
    assert [r.same for r in tool.compare_rev("HEAD", ["measures"], root=tmp_path)] == [False]
