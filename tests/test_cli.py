"""The command line: usage errors print one message, exit 2 and write nothing."""
import subprocess
import sys

import pytest

from sat_lib.cli import main
from sat_lib.experiments import CHAPTERS


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("SAT_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("SAT_BOOK_DIR", str(tmp_path / "book"))
    return tmp_path


@pytest.mark.parametrize("argv,message", [
    (["run", "sat-matrx"], "unknown chapter 'sat-matrx'; did you mean 'sat-matrix'"),
    (["run", "sat-matrix", "-p", "step", "3"], "unknown parameter 'step'; did you mean 'steps'"),
    (["run", "sat-matrix", "-p", "steps", "many"], "parameter 'steps': expected an integer, got 'many'"),
    (["run", "sat-matrix", "-p", "eps", "big"], "parameter 'eps': expected a number"),
    (["run", "sat-matrix", "-p", "steps", "1", "-p", "steps", "2"], "given twice"),
    (["run", "sat-matrix", "-p", "norm", "l3"], "unknown PGD norm 'l3'"),
    (["run", "sat-matrix", "-p", "n_images", "0"], "n_images"),
    (["run", "sat-matrix", "--scheduler", "dask"], "unknown scheduler 'dask'"),
    (["run", "sat-matrix", "--threads-per-worker", "0"], "threads_per_worker >= 1"),
    (["book", "--scheduler", "slurm"], "unknown scheduler 'slurm'"),
    (["run", "sat-matrix", "-p", "zoo", "cifar-cpus"], "did you mean 'cifar-cpu'"),
    (["run", "sat-matrix", "-p", "dataset", "cifar100"], "did you mean 'cifar10'"),
    (["run", "sat-matrix", "-p", "models", "resnet10_c32,resnet99"], "resnet99"),
    (["run", "universality", "-p", "archs", "vgg_c32,resnet99"], "resnet99"),
    (["run", "universality", "-p", "eps", "0,-0.5"], "parameter 'eps' must list L2 radii >= 0"),
    (["run", "universality", "-p", "ood_dataset", "sat6"], "sat6"),
    (["run", "universality", "-p", "ks", "10,2000"], "k = 2000 needs more than n_images = 1000"),
    (["run", "universality", "-p", "ks", "10,600"], "k = 600 is more than subset_images = 500"),
    (["run", "universality", "-p", "ks", "10,600", "-p", "subset_classes", "0"], "k = 600 is more than ood_images"),
    (["run", "universality", "-p", "n_images", "20000", "-p", "ks", "10"], "more than the 10000 images of the cifar10"),
    (["run", "universality", "-p", "ood_images", "10001"], "more than the 10000 images of the fashion_mnist"),
    (["run", "universality", "-p", "subset_images", "5001"], "more than the 5000 test images of the 5 drawn"),
    (["run", "universality", "-p", "subset_classes", "10"], "'subset_classes' = 10 must be below the 10 classes"),
    (["run", "corruptions", "-p", "cbar", "lines,fog"], "unknown corruption 'fog'"),
    (["run", "corruptions", "-p", "levels", "1,6"], "outside the C-bar set's severity levels 1–5"),
    (["run", "diversity-ensembles", "-p", "pool", "vgg_c32,resnet10_c32,resnet99"], "resnet99"),
    (["run", "diversity-ensembles", "-p", "size", "15"], "an ensemble needs 2 to 14 members"),
    (["run", "diversity-ensembles", "-p", "sets", "clean,fog@2"], "unknown corruption 'fog'"),
    (["run", "diversity-ensembles", "-p", "consensus", "averaging,median"], "unknown or repeated rule(s) ['median']"),
    (["run", "diversity-training", "-p", "methods", "independent,gncl@mode"], "unknown consensus rule 'mode'"),
    (["run", "diversity-training", "-p", "methods", "independent,ncl@average"], "unknown ensemble training method"),
    (["run", "diversity-training", "-p", "balanced_lam", "1.5"], "lam must be [0, 1]"),
    (["run", "diversity-training", "-p", "heterogeneous", "vgg_c32,resnet99"], "resnet99"),
])
def test_usage_errors_exit_2_and_write_nothing(isolated, capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not any(isolated.rglob("*"))


def test_unknown_profile_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "sat-matrix", "--profile", "fast"])
    assert exc.value.code == 2


def test_list_shows_every_chapter_and_parameter(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name, ch in CHAPTERS.items():
        assert name in out
        for field in ch.config.field_types():
            assert field in out


def test_python_dash_m_entry_point(isolated):
    proc = subprocess.run([sys.executable, "-m", "sat_lib", "run", "nope"], capture_output=True, text=True)
    assert proc.returncode == 2 and "unknown chapter 'nope'" in proc.stderr


@pytest.mark.notebooks
def test_run_writes_the_chapter_and_a_failure_keeps_the_old_one(isolated, monkeypatch, capsys):
    monkeypatch.setenv("SAT_CACHE_DIR", str(isolated / "cache"))
    chapter = isolated / "book" / "chapters" / "sat-matrix.ipynb"
    assert main(["run", "sat-matrix", "--profile", "smoke", "-p", "steps", "1", "-p", "n_images", "60"]) == 0
    assert chapter.exists() and len(list((isolated / "results" / "sat-matrix").glob("*.nc"))) == 1
    before = chapter.read_bytes()
    # one model is not a zoo: the notebook raises, the chapter in the book stays as it was
    assert main(["run", "sat-matrix", "--profile", "smoke", "-p", "models", "tiny_cnn"]) == 1
    err = capsys.readouterr().err
    assert "needs at least 2 models" in err and "kept at" in err
    assert chapter.read_bytes() == before
    assert (isolated / "cache" / "failed" / "sat-matrix.ipynb").exists()
    assert not list(chapter.parent.glob(".*.ipynb"))


def test_claims_prints_every_claim_as_json_from_the_status_pages_function(monkeypatch, capsys):
    import json

    import pandas as pd

    from sat_lib.claims.verdict import Estimate, claim_row
    from sat_lib.experiments import status

    rows = [claim_row("diagonal", {"kind": "equivalence", "value": 4.6, "margin": 0.05, "reason": "'close to 4.6'"},
                      Estimate(4.6, 4.597, 4.602, "models", 24), key="diagonal"),
            claim_row("levels", {"kind": "context", "value": 4.23}, Estimate(4.3, 4.2, 4.4, "seeds", 5), key="lv")]
    monkeypatch.setattr(status, "collect", lambda cfg, mode="cache_only": {"sat-matrix": (pd.DataFrame(rows), "here"),
                                                                           "salience": None})
    assert main(["claims", "--json"]) == 0
    out, err = capsys.readouterr()
    records = json.loads(out)
    assert [r["key"] for r in records] == ["diagonal", "lv"] and "salience" in err
    assert {"chapter", "source", "kind", "gate", "verdict", "decided against", "low", "high"} <= set(records[0])
    assert records[0]["verdict"] == "agrees" and records[1]["verdict"] is None and records[1]["kind"] == "context"
    assert main(["claims"]) == 0 and "diagonal" in capsys.readouterr().out


def test_cost_prints_the_books_cost_and_refuses_an_unknown_profile(monkeypatch, capsys):
    import json

    from sat_lib import cost

    found = [cost.ChapterWork("sat-matrix", (cost.Work("train", 120.0, source="sat-matrix"),), {"sat-matrix": "cpu"}),
             "salience"]
    monkeypatch.setattr(cost, "book_cost", lambda profile=None: cost.count_once(found))
    assert main(["cost", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["total_minutes"] == 2.0 and out["chapters"][1]["parts"] == "not stored at this profile"
    assert main(["cost"]) == 0 and "whole book (each computation once): 2.0 minutes" in capsys.readouterr().out
    assert main(["cost", "--markdown"]) == 0 and "| `sat-matrix` | train 2.0 | 2.0 |" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["cost", "--profile", "fast"])
    assert exc.value.code == 2
