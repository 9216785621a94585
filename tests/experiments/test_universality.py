"""The universality chapter on the tiny zoo and digits (seconds on a CPU)."""
import numpy as np
import pytest

from sat_lib.analysis import universality as A
from sat_lib.claims import paper_claims
from sat_lib.experiments import resolve_params, universality as U
from sat_lib.params import ParameterError


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    tmp = tmp_path_factory.mktemp("universality")
    mp.setenv("SAT_CACHE_DIR", str(tmp / "cache"))
    mp.setenv("SAT_RESULTS_DIR", str(tmp / "results"))
    cfg = resolve_params("universality", "smoke")
    ds = U.run(cfg)
    yield cfg, ds, tmp
    mp.undo()


def test_one_stored_result_per_model_and_one_for_the_chapter(smoke):
    cfg, ds, tmp = smoke
    n_models = len(cfg.eps) * (len(cfg.archs) + len(cfg.subset_names()))
    assert len(list((tmp / "results" / U.MODEL_RESULTS).glob("*.nc"))) == n_models
    assert len(list((tmp / "results" / "universality").glob("*.nc"))) == 1
    robust = list((tmp / "cache" / "weights" / "digits").glob("*-robust-*.pt"))
    assert len(robust) == (len([e for e in cfg.eps if e > 0])) * (len(cfg.archs) + len(cfg.subset_names()))
    assert list(ds["setting"].values) == ["full", "subset", "ood"]


def test_the_subset_setting_holds_its_architectures_only(smoke):
    cfg, ds, _ = smoke
    assert A.members(ds, "subset") == cfg.subset_names()
    missing = [a for a in cfg.archs if a not in cfg.subset_names()]
    assert np.isnan(ds["accuracy"].sel(setting="subset", model=missing).values).all()
    assert len(np.asarray(__import__("json").loads(ds.attrs["subset_classes_drawn"]))) == cfg.subset_classes


def test_pairs_are_scored_on_both_members_inverted_images(smoke):
    cfg, ds, _ = smoke
    v = ds["inverted_cka"].sel(setting="full", eps=cfg.eps[0]).values  # (source, model, model_b)
    n = len(cfg.archs)
    for s in range(n):
        for a in range(n):
            for b in range(n):
                if a != b:
                    assert np.isfinite(v[s, a, b]) and v[s, a, b] == v[s, b, a]
    assert np.isnan(v[:, range(n), range(n)]).all()  # no pair of a model with itself


def test_inversion_moves_toward_the_target(smoke):
    _, ds, _ = smoke
    assert (ds["final_distance"] < ds["start_distance"]).sum() >= 0.8 * np.isfinite(ds["final_distance"]).sum()


def test_a_rerun_reads_every_model_from_its_stored_result(smoke, monkeypatch):
    cfg, ds, _ = smoke
    monkeypatch.setattr(U, "model_job", lambda spec: pytest.fail("a stored model was recomputed"))
    again = U.compute(cfg)
    np.testing.assert_array_equal(again["accuracy"].values, ds["accuracy"].values)
    np.testing.assert_allclose(again["inverted_cka"].values, ds["inverted_cka"].values, equal_nan=True)


def test_claims_table_has_the_claims_files_keys(smoke):
    _, ds, _ = smoke
    table = A.claims_table(ds, n_boot=50)
    assert list(table["key"]) == list(paper_claims("universality")["claims"])
    assert set(table["verdict"]) <= {"agrees", "disagrees", "inconclusive"}
    assert "Verdicts" in A.discussion(ds, table)
    assert len(A.summary(ds, n_boot=20)) > 0
    assert set(A.model_table(ds).index.get_level_values("architecture")) == set(A.members(ds, "full"))
    cost = A.cost_table(ds)
    assert len(cost) == len(ds["setting"]) * len(ds["eps"]) and (cost["inversion images / s"] > 0).all()


@pytest.mark.parametrize("override,message", [
    ({"eps": (0.0, -0.5)}, "must list L2 radii >= 0"),
    ({"eps": (0.5, 0.5)}, "radius twice"),
    ({"archs": ("tiny_cnn", "tiny_nope")}, "tiny_nope"),
    ({"ood_dataset": "sat6"}, "sat6"),
    ({"ood_dataset": "digits"}, "is the training dataset"),
    ({"ks": (5, 60)}, "k = 60 needs more than n_images = 60"),
    ({"subset_classes": 1}, "subset_classes"),
])
def test_bad_parameters_are_named(override, message):
    with pytest.raises((ParameterError, ValueError, KeyError), match=message):
        resolve_params("universality", "smoke", overrides=override)


def test_subset_classes_must_leave_classes_out():
    cfg = resolve_params("universality", "smoke", overrides={"subset_classes": 10})
    with pytest.raises(ValueError, match="must be below the 10 classes"):
        U.subset_class_indices(cfg, 10)


def test_seeds_come_from_another_class():
    labels = np.repeat(np.arange(4), 25)
    targets, seeds = U.seed_target_pairs(labels, 60, seed=3)
    assert len(set(targets)) == 60 and (labels[targets] != labels[seeds]).all()
    again = U.seed_target_pairs(labels, 60, seed=3)
    np.testing.assert_array_equal(again[0], targets)
    np.testing.assert_array_equal(again[1], seeds)
