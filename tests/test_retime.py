"""Re-timing stored work: redone work is compared bit for bit apart from timings; all files or none replaced."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import xarray as xr

from sat_lib import retime
from sat_lib.cli import main
from sat_lib.experiments import resolve_params


def _weights(path, w: torch.Tensor, seconds: float):
    torch.save({"state_dict": {"w": w}, "info": json.dumps({"epoch_loss": [1.0, 0.5], "train_seconds": seconds,
                                                            "layout": "fp32"})}, path)
    return path


def _result(path, values: np.ndarray, seconds: float, commit: str):
    xr.Dataset({"accuracy": ("model", values), "train_seconds": ("model", np.full(len(values), seconds))},
               coords={"model": [f"m{i}" for i in range(len(values))]},
               attrs={"git_commit": commit, "created_at": commit, "duration_s": seconds, "chapter": "x",
                      "from_cache": int(seconds > 5)}  # whether the weights were read: goes with the timing
               ).to_netcdf(path)
    return path


def test_weights_differing_only_in_time_compare_equal(tmp_path):
    w = torch.randn(4, 3)
    a, b = _weights(tmp_path / "a.pt", w, 10.0), _weights(tmp_path / "b.pt", w.clone(), 99.0)
    assert retime.compare_files(a, b) == []
    assert retime.file_timings(a) == {"info.train_seconds": 10.0}


def test_a_result_times_each_entry_of_a_json_timing(tmp_path):
    path = tmp_path / "a.nc"
    xr.Dataset(attrs={"train_seconds": 3.0, "attack_seconds": json.dumps({"pgd": 1.5, "apgd": 2.0})}).to_netcdf(path)
    assert retime.file_timings(path) == {"train_seconds": 3.0, "attack_seconds.pgd": 1.5, "attack_seconds.apgd": 2.0}


def test_a_changed_weight_is_named(tmp_path):
    w = torch.randn(4, 3)
    v = w.clone()
    v[0, 0] = torch.nextafter(v[0, 0], torch.tensor(1e9))  # one ulp
    diff = retime.compare_files(_weights(tmp_path / "a.pt", w, 1.0), _weights(tmp_path / "b.pt", v, 1.0))
    assert diff == ["a.pt.state_dict.w: tensors differ"]


def test_results_compare_without_timings_and_stamp(tmp_path):
    x = np.array([0.5, np.nan])  # NaN matches NaN
    a = _result(tmp_path / "a.nc", x, 1.0, "abc")
    assert retime.compare_files(a, _result(tmp_path / "b.nc", x, 7.0, "def")) == []
    assert retime.file_timings(a) == {"train_seconds": 2.0, "duration_s": 1.0}
    diff = retime.compare_files(a, _result(tmp_path / "c.nc", x + 1e-7, 1.0, "abc"))
    assert diff == ["a.nc.vars.accuracy.values: tensors differ"]


@pytest.fixture
def stored(tmp_path, monkeypatch):
    """A project cache and results folder in tmp holding one smoke model's stored work (as the chapter makes it)."""
    from sat_lib import zoo

    monkeypatch.setenv("SAT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SAT_RESULTS_DIR", str(tmp_path / "results"))
    cfg = resolve_params("sat-matrix", "smoke")
    sample = zoo.attack_sample(cfg, 360)  # the digits test split
    zoo.model_job({**zoo.job_spec(cfg, "tiny_cnn"), "sample": sample})
    return cfg, tmp_path


def test_redone_smoke_model_is_bit_identical_and_replaces_the_timings(stored):
    cfg, tmp = stored
    files = sorted((tmp / "cache").rglob("*.pt"))
    assert {p.parent.name for p in files} >= {"digits"}  # weights and adversarial examples
    before = {p: retime.file_timings(p) for p in files}
    outcomes = retime.redo("sat-matrix", cfg, ["tiny_cnn"], tmp / "scratch")
    assert sorted(o.stored for o in outcomes) == files
    assert all(o.differences == [] and not o.new for o in outcomes)
    retime.apply(outcomes)
    after = {p: retime.file_timings(p) for p in files}
    assert after == {o.stored: o.after for o in outcomes} and after != before


def test_a_mismatch_replaces_nothing(stored):
    cfg, tmp = stored
    weights = next((tmp / "cache" / "weights").rglob("*.pt"))
    blob = torch.load(weights, weights_only=True)
    key = next(iter(blob["state_dict"]))
    blob["state_dict"][key] = blob["state_dict"][key] + 1
    torch.save(blob, weights)
    snapshot = {p: p.read_bytes() for p in (tmp / "cache").rglob("*.pt")}
    outcomes = retime.redo("sat-matrix", cfg, ["tiny_cnn"], tmp / "scratch")
    with pytest.raises(retime.RetimeMismatch, match=f"{weights.name}.state_dict.{key}: tensors differ"):
        retime.apply(outcomes)
    assert {p: p.read_bytes() for p in (tmp / "cache").rglob("*.pt")} == snapshot


def test_cli_retimes_and_removes_its_scratch(stored, capsys):
    cfg, tmp = stored
    assert main(["retime", "sat-matrix", "tiny_cnn", "--profile", "smoke", "--scratch", str(tmp / "s")]) == 0
    out = capsys.readouterr().out
    assert "train_seconds" in out and "replaced 2 stored files" in out
    assert not (tmp / "s").exists()


def test_work_stored_in_another_layout_is_redone_in_it(tmp_path, monkeypatch, capsys):
    """A model stored in a layout this machine's calibration no longer picks: the redone work differs in its
    layout and the error says what to pass; pinned to the stored layout it is bit-identical."""
    from sat_lib.precision import Layout, pinned

    monkeypatch.setenv("SAT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SAT_RESULTS_DIR", str(tmp_path / "results"))
    cfg = resolve_params("universality", "smoke")
    jobs = retime.retimer("universality").jobs(cfg)
    label = next(label for label in jobs if "-length" in label)
    with pinned(Layout("fp32", True)):  # the stored work, in a layout pinned as another machine's choice
        retime.retimer("universality").job(jobs[label])
    with pinned(Layout("fp32", False)):  # this machine's calibration picks another
        differing = retime.redo("universality", cfg, [label], tmp_path / "other")
    assert "attrs.layout: 'fp32+cl' → 'fp32'" in "\n".join(retime.mismatches(differing))
    assert retime.layout_hint(retime.mismatches(differing)) == (
        "the stored work ran in layout fp32+cl, this machine's calibration now picks fp32: `--layout fp32+cl` "
        "redoes it in the stored layout")
    same = retime.redo("universality", cfg, [label], tmp_path / "same", Layout("fp32", True))
    assert same and all(o.differences == [] for o in same)
    assert main(["retime", "universality", label, "--profile", "smoke", "--layout", "fp32+cl"]) == 0
    assert "replaced" in capsys.readouterr().out


def test_no_layout_hint_without_a_layout_change():
    assert retime.layout_hint(["a.pt.state_dict.w: tensors differ"]) is None
    assert retime.layout_hint(["a.pt.info.layout: 'bf16' → 'fp32'", "b.nc.attrs.layout: 'fp32' → 'bf16'"]) is None


@pytest.mark.parametrize("chapter", ["universality", "salience"])
def test_other_chapters_redo_their_first_model_bit_identically(chapter, tmp_path, monkeypatch):
    monkeypatch.setenv("SAT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SAT_RESULTS_DIR", str(tmp_path / "results"))
    cfg = resolve_params(chapter, "smoke")
    label, job = next(iter(retime.retimer(chapter).jobs(cfg).items()))
    retime.retimer(chapter).job(job)  # the stored work
    outcomes = retime.redo(chapter, cfg, [label], tmp_path / "scratch")
    assert outcomes and all(o.differences == [] and not o.new for o in outcomes)
    assert any(p.suffix == ".nc" for p in (o.stored for o in outcomes))


def test_the_universality_training_length_models_are_retimed_too(tmp_path, monkeypatch):
    monkeypatch.setenv("SAT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SAT_RESULTS_DIR", str(tmp_path / "results"))
    cfg = resolve_params("universality", "smoke")
    jobs = retime.retimer("universality").jobs(cfg)
    label = next(label for label in jobs if "-length" in label)
    retime.retimer("universality").job(jobs[label])  # the stored work
    outcomes = retime.redo("universality", cfg, [label], tmp_path / "scratch")
    assert outcomes and all(o.differences == [] and not o.new for o in outcomes)
    assert [o.stored.parent.name for o in outcomes if o.stored.suffix == ".nc"] == ["universality-length-model"]


@pytest.mark.parametrize("argv,message", [
    (["retime", "sat-matrx", "tiny_cnn"], "did you mean 'sat-matrix'"),
    (["retime", "corruptions", "vgg_c32"], "unknown re-timeable chapter 'corruptions'"),
    (["retime", "sat-matrix", "tiny_cn", "--profile", "smoke"], "sat-matrix has no model 'tiny_cn'"),
    (["retime", "sat-matrix", "tiny_cnn", "-p", "step", "3"], "unknown parameter 'step'"),
])
def test_cli_usage_errors_exit_2_and_write_nothing(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.setenv("SAT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SAT_RESULTS_DIR", str(tmp_path / "results"))
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not any(tmp_path.rglob("*.pt")) and not any(tmp_path.rglob("*.nc"))


def test_the_next_step_never_retrains_a_chapter_whose_result_was_redone():
    assert retime.retimer("sat-matrix").next_step("sat-matrix") == "sat-companion run sat-matrix --recompute"
    step = retime.retimer("salience").next_step("salience")
    assert step.startswith("sat-companion run salience ") and "--recompute would" in step


def test_a_published_model_is_redone_in_the_scratch_and_only_its_timings_replaced(tmp_path, monkeypatch):
    """Re-timing a published zoo trains again (never reads the published file) and compares with it."""
    from sat_lib import zoo
    from sat_lib.config import ProjectConfig
    from sat_lib.weight_store import WeightStore

    monkeypatch.setenv("SAT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SAT_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("SAT_WEIGHTS_STORE", str(tmp_path / "weights"))
    monkeypatch.setattr(ProjectConfig, "store_for", lambda self, name: WeightStore(self.weight_store.root, (name,)))
    cfg = resolve_params("sat-matrix", "smoke")
    zoo.model_job({**zoo.job_spec(cfg, "tiny_cnn"), "sample": zoo.attack_sample(cfg, 360)})
    (published,) = (tmp_path / "weights").rglob("*.pt")
    snapshot = published.read_bytes()
    outcomes = retime.redo("sat-matrix", cfg, ["tiny_cnn"], tmp_path / "scratch")
    redone = next(o for o in outcomes if o.stored == published)
    assert published.read_bytes() == snapshot and redone.differences == [] and not redone.new
    assert not list((tmp_path / "cache").rglob("weights/*.pt"))  # nothing of it in the local cache
    retime.apply(outcomes)
    assert retime.file_timings(published) == redone.after


def test_a_timing_attribute_that_is_not_a_number_holds_no_seconds(tmp_path):
    path = tmp_path / "a.nc"
    xr.Dataset(attrs={"train_seconds": 3.0, "note_seconds": "measured on a quiet machine"}).to_netcdf(path)
    assert retime.file_timings(path) == {"train_seconds": 3.0}


def test_work_redone_under_other_keys_replaces_nothing_and_says_so(stored, capsys):
    """The zoo's weights and adversarial examples are keyed by their layout: redone in another one, every file
    comes out new, which would re-time nothing — refused, with what to pass, and nothing stored is touched."""
    from sat_lib.precision import Layout

    cfg, tmp = stored
    files = sorted((tmp / "cache").rglob("*.pt"))
    snapshot = {p: p.read_bytes() for p in files}
    layout = json.loads(torch.load(next((tmp / "cache" / "weights").rglob("*.pt")), weights_only=True)["info"])["layout"]
    other = "fp32" if layout == "fp32+cl" else "fp32+cl"
    outcomes = retime.redo("sat-matrix", cfg, ["tiny_cnn"], tmp / "scratch", Layout.parse(other))
    assert outcomes and all(o.new for o in outcomes)
    with pytest.raises(retime.RetimeMismatch, match="nothing stored was redone.*`--layout`"):
        retime.apply(outcomes)
    assert main(["retime", "sat-matrix", "tiny_cnn", "--profile", "smoke", "--layout", other, "--dry-run",
                 "--scratch", str(tmp / "scratch")]) == 1
    assert "only files that are not stored" in capsys.readouterr().out
    assert sorted((tmp / "cache").rglob("*.pt")) == files and {p: p.read_bytes() for p in files} == snapshot
