"""Every chapter's source, ``notebooks/<chapter>.md`` (MyST markdown read by jupytext): one per chapter, its
parameters cell the chapter's typed config, and the executed chapter in the book made from it."""
import json

import papermill as pm
import pytest
import yaml

from sat_lib.experiments import CHAPTERS, book_chapters
from sat_lib.provenance import PROJECT_ROOT
from sat_lib.runner import read_source

RUNNER_CELLS = {"injected-parameters", "profile-note"}  # added to an executed chapter by papermill and the runner


def _header(path) -> dict:
    text = path.read_text()
    assert text.startswith("---\n"), f"{path} starts without its YAML header"
    return yaml.safe_load(text.split("---\n", 2)[1])


def test_one_source_per_chapter():
    found = sorted(p.name for p in (PROJECT_ROOT / "notebooks").iterdir() if not p.name.startswith("."))
    assert found == sorted(f"{n}.md" for n in CHAPTERS)
    assert all(CHAPTERS[n].source == f"notebooks/{n}.md" for n in CHAPTERS)


@pytest.mark.parametrize("name", book_chapters())
def test_source_is_myst(name):
    header = _header(PROJECT_ROOT / CHAPTERS[name].source)
    assert header["jupytext"]["text_representation"]["format_name"] == "myst"
    assert header["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("name", book_chapters())
def test_parameters_cell_matches_config(name):
    """The parameters cell names exactly the chapter's config fields (and ``mode``), with the config's defaults."""
    ch = CHAPTERS[name]
    nb = read_source(PROJECT_ROOT / ch.source)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0].cell_type == "code"
    assert tagged[0].metadata["tags"] == ["parameters", "remove-cell"]  # the book shows the injected values
    found = pm.inspect_notebook(nb)
    defaults = ch.config.defaults()
    assert set(found) == set(defaults) | {"mode"}
    for key, value in defaults.items():
        assert eval(found[key]["default"]) == (list(value) if isinstance(value, tuple) else value), key
    assert eval(found["mode"]["default"]) == "auto"


def test_cells_get_stable_ids():
    nb = read_source(PROJECT_ROOT / CHAPTERS["measures"].source)
    assert [c.id for c in nb.cells] == [f"cell-{i:02d}" for i in range(len(nb.cells))]
    assert "jupytext" not in nb.metadata


def _cells(cells) -> list[tuple]:
    return [(c["cell_type"], "".join(c["source"]), list(c.get("metadata", {}).get("tags", []))) for c in cells]


@pytest.mark.parametrize("name", book_chapters())
def test_executed_chapter_came_from_its_source(name):
    """The chapter in the book is its source executed: the same cells (type, text, tags) in the same order, with
    the ids the runner gives them, less the cells papermill and the runner add."""
    executed = json.loads((PROJECT_ROOT / "book" / "chapters" / f"{name}.ipynb").read_text())
    source = read_source(PROJECT_ROOT / CHAPTERS[name].source)
    kept = [c for c in executed["cells"] if not RUNNER_CELLS & set(c.get("metadata", {}).get("tags", []))]
    assert _cells(kept) == _cells(source.cells)
    assert [c["id"] for c in kept] == [c.id for c in source.cells]
    assert executed["metadata"]["papermill"]["input_path"] == CHAPTERS[name].source


@pytest.mark.parametrize("name", book_chapters())
def test_source_imports_resolve(name):
    """Every ``sat_lib`` name a chapter's cells import exists, so a renamed function fails here, not in a
    notebook run."""
    import ast
    import importlib
    import importlib.util

    def exists(module, attr: str) -> bool:
        if hasattr(module, attr):
            return True
        try:
            return importlib.util.find_spec(f"{module.__name__}.{attr}") is not None
        except ModuleNotFoundError:  # the module is no package
            return False

    nb = read_source(PROJECT_ROOT / CHAPTERS[name].source)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("sat_lib"):
                        importlib.import_module(alias.name)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sat_lib"):
                module = importlib.import_module(node.module)
                for alias in node.names:
                    assert exists(module, alias.name), f"{name}: `from {node.module} import {alias.name}` names nothing"


def _tags(cell) -> list[str]:
    return list(cell.metadata.get("tags", []))


@pytest.mark.parametrize("name", book_chapters())
def test_page_opens_with_its_headline_figure_and_rerun_command(name):
    """A chapter page shows what it found before anything else: its one headline figure (``plots.headline``,
    which the landing page may paste) and the box with the command that regenerates it (``report.rerun``) come
    before any table or other figure; the code that loads the result is folded, and so is every parameters and
    provenance table."""
    cells = [c for c in read_source(PROJECT_ROOT / CHAPTERS[name].source).cells
             if c.cell_type == "code" and "parameters" not in _tags(c)]
    setup, *rest = cells
    assert _tags(setup) == ["hide-input"] and "plots.headline(" not in setup.source
    headline = [i for i, c in enumerate(rest) if "plots.headline(" in c.source]
    rerun = [i for i, c in enumerate(rest) if "report.rerun(" in c.source]
    assert len(headline) == 1 and len(rerun) == 1, "one headline figure, one rerun box"
    shown = [i for i, c in enumerate(rest) if ("display(" in c.source or "plots.show(" in c.source)
             and i not in rerun and "hide-output" not in _tags(c)]
    assert headline[0] < rerun[0] < min(shown, default=len(rest)), "headline, then rerun, then the rest"
    for c in rest:
        if "report.parameters(" in c.source or "report.provenance(" in c.source:
            assert "hide-output" in _tags(c), f"{name}: a parameters or provenance table is not folded"
