"""Every chapter executes with papermill at the smoke profile (its source, ``notebooks/<chapter>.md``, is
checked in ``test_sources``)."""
import json
import os

import pytest

from sat_lib.config import project_config
from sat_lib.experiments import CHAPTERS, resolve_params, book_chapters
from sat_lib.provenance import PROJECT_ROOT
from sat_lib.runner import tag_profile, execute_chapter, toc


@pytest.mark.notebooks
@pytest.mark.parametrize("name", list(CHAPTERS))
def test_executes_at_smoke_profile(name, tmp_path, monkeypatch):
    monkeypatch.setenv("SAT_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("SAT_BOOK_DIR", str(tmp_path / "book"))
    monkeypatch.setenv("SAT_CACHE_DIR", str(tmp_path / "cache"))
    config = project_config()
    cfg = resolve_params(name, "smoke", config=config)
    out = execute_chapter(name, cfg, profile="smoke", config=config)
    assert out == tmp_path / "book" / "chapters" / f"{name}.ipynb"
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # as a plain open() would create it, not 0600
    nb = json.loads(out.read_text())
    assert nb["metadata"]["sat_companion"]["profile"] == "smoke"
    assert nb["metadata"]["papermill"]["input_path"] == f"notebooks/{name}.md"
    assert "jupytext" not in nb["metadata"]
    assert [c["id"] for c in nb["cells"][:2]] == ["cell-00", "cell-01"]
    kinds = {o.get("output_type") for c in nb["cells"] for o in c.get("outputs", [])}
    assert "error" not in kinds
    pngs = sum("image/png" in o.get("data", {}) for c in nb["cells"] for o in c.get("outputs", []))
    shows = "".join("".join(c["source"]) for c in nb["cells"]).count("plots.show(")
    assert pngs >= shows  # every figure call drew (calls inside loops draw several)
    if not CHAPTERS[name].reads_all_results:  # the status page stores nothing: it reads the others' results
        assert list((tmp_path / "results" / name).glob("*.nc"))
    # rerun: the result is read from the cache, never recomputed
    execute_chapter(name, cfg, mode="cache_only", profile="smoke", config=config)


def test_toc_lists_every_chapter():
    files = [c["file"] for part in toc()["parts"] for c in part["chapters"]]
    assert files == [f"chapters/{n}" for n in book_chapters()]
    assert (PROJECT_ROOT / "book" / "_toc.yml").read_text().count("chapters/") == len(book_chapters())


def test_the_book_says_which_profile_ran(tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    cell = new_code_cell("x = 1")
    cell.metadata["tags"] = ["injected-parameters"]
    path = tmp_path / "nb.ipynb"
    nb = new_notebook(cells=[new_code_cell("title"), cell])
    nb.metadata["papermill"] = {"input_path": str(tmp_path / "notebooks" / "x.ipynb"),
                                "output_path": str(tmp_path / "book" / ".x-tmp123.ipynb")}
    nbformat.write(nb, path)
    tag_profile(path, "quick", tmp_path / "book" / "x.ipynb", tmp_path)
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata["sat_companion"]["profile"] == "quick"
    # no machine's folders and no temporary names in the book
    assert nb.metadata["papermill"] == {"input_path": "notebooks/x.ipynb", "output_path": "book/x.ipynb"}
    assert "`quick` profile" in nb.cells[1].source and "injected-parameters" in nb.cells[2].metadata["tags"]
    assert [c.id for c in nb.cells[1:]] == ["profile-note", "injected-parameters"]  # stable: reruns diff cleanly


def test_the_book_names_the_source(tmp_path):
    """papermill executes a notebook written from the MyST source in a scratch folder; the book names the source."""
    import nbformat
    from nbformat.v4 import new_notebook

    path = tmp_path / "nb.ipynb"
    nb = new_notebook()
    nb.metadata["papermill"] = {"input_path": "/tmp/scratch123/x.ipynb", "output_path": str(tmp_path / "x.ipynb")}
    nbformat.write(nb, path)
    tag_profile(path, "quick", tmp_path / "book" / "x.ipynb", tmp_path, source=tmp_path / "notebooks" / "x.md")
    assert nbformat.read(path, as_version=4).metadata["papermill"]["input_path"] == "notebooks/x.md"


def test_an_unchanged_chapter_is_not_executed_again(tmp_path, monkeypatch):
    """`sat-companion book` keeps an executed chapter byte for byte when nothing it depends on changed, so a
    rebuild leaves a clean tree; another profile or parameter (or result, notebook, code) executes it again."""
    monkeypatch.setenv("SAT_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("SAT_BOOK_DIR", str(tmp_path / "book"))
    monkeypatch.setenv("SAT_CACHE_DIR", str(tmp_path / "cache"))
    config = project_config()
    cfg = resolve_params("measures", "smoke", config=config)
    out = execute_chapter("measures", cfg, profile="smoke", config=config, only_if_changed=True)
    first = out.read_bytes()
    assert json.loads(first)["metadata"]["sat_companion"]["fingerprint"]
    execute_chapter("measures", cfg, profile="smoke", config=config, only_if_changed=True)
    assert out.read_bytes() == first
    # executed with cache_only, kept by an auto run (a fresh clone's `make book` computes nothing stored chapters lack)
    execute_chapter("measures", cfg, mode="cache_only", profile="smoke", config=config, only_if_changed=True)
    assert out.read_bytes() == first
    execute_chapter("measures", cfg, profile="smoke+overrides", config=config, only_if_changed=True)
    assert out.read_bytes() != first


def test_a_chapter_whose_upstream_changes_is_executed_again(monkeypatch, tmp_path):
    """sat-components' own parameters stay when sat-matrix's zoo changes, but its result key does: so must the
    fingerprint that decides whether its executed copy is kept."""
    from sat_lib.config import project_config
    from sat_lib.experiments._chapter import result_key_params
    from sat_lib.runner import fingerprint

    config = project_config()
    cfg = resolve_params("sat-components", "quick")
    before = fingerprint("sat-components", cfg.as_dict(), "quick", config, result_key_params(cfg))
    overlay = tmp_path / "o.yml"
    overlay.write_text("chapters:\n  sat-matrix:\n    quick: {zoo: cifar-cpu-long}\n")
    monkeypatch.setenv("SAT_CONFIG_OVERLAY", str(overlay))
    after_cfg = resolve_params("sat-components", "quick")
    assert after_cfg.as_dict() == cfg.as_dict()
    assert fingerprint("sat-components", after_cfg.as_dict(), "quick", project_config(),
                       result_key_params(after_cfg)) != before
