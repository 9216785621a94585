"""The atlas's analyses on a synthetic atlas: models placed at random in a plane, every measure a noisy function of
their distance (so the measures agree), targets that follow or ignore it — seconds, no training."""
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from sat_lib.analysis import similarity_atlas as A
from sat_lib.analysis.similarity_atlas import prediction as P
from sat_lib.claims import paper_claims
from sat_lib.zoo.atlas_pairs import ATLAS_MEASURES, TARGETS


def _sym(rng, m, scale):
    e = rng.normal(scale=scale, size=(m, m))
    return (e + e.T) / 2


def synthetic(m: int = 10, seed: int = 0, noise: float = 0.03) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    pos = rng.normal(size=(m, 2))
    alike = np.exp(-np.linalg.norm(pos[:, None] - pos[None], axis=-1))
    measures = list(ATLAS_MEASURES)
    sims = []
    for name in measures:
        s = alike + _sym(rng, m, noise)
        np.fill_diagonal(s, 1.0)
        sims.append(s if ATLAS_MEASURES[name].higher_is_similar else 1 - s)  # disagreement: a difference
    acc = rng.uniform(0.6, 0.9, m)
    targets = np.stack([1 - alike + _sym(rng, m, noise), alike + _sym(rng, m, noise),
                        100 * np.abs(acc[:, None] - acc[None])])
    for t in targets:
        np.fill_diagonal(t, np.nan)
    names = [f"m{i}" for i in range(m)]
    return xr.Dataset(
        {"similarity": (("measure", "model", "model_b"), np.stack(sims)),
         "pair_target": (("target", "model", "model_b"), targets), "accuracy": ("model", acc),
         "atlas_seconds": (("model", "part"), np.ones((m, 2))), "train_seconds": ("model", np.full(m, 60.0)),
         "attack_seconds": ("model", np.full(m, 6.0)), "weights_from_cache": ("model", np.ones(m, bool))},
        coords={"measure": measures, "label": ("measure", [ATLAS_MEASURES[n].label for n in measures]),
                "group": ("measure", [ATLAS_MEASURES[n].group for n in measures]), "target": list(TARGETS),
                "model": names, "model_b": names, "family": ("model", ["CNN"] * m), "part": ["outputs", "regions"]},
        attrs={"n_classes": 10, "pairs_seconds": 3.0})


@pytest.fixture(scope="module")
def ds():
    return synthetic()


def test_pairs_are_unordered_and_oriented(ds):
    pairs = A.pair_frame(ds)
    m = ds.sizes["model"]
    assert len(pairs) == m * (m - 1) // 2 and (pairs["i"] < pairs["j"]).all()
    # disagreement is turned so that higher means more alike: it then follows agreement
    assert np.corrcoef(pairs["disagreement"], pairs["agreement"])[0, 1] > 0.9
    assert set(TARGETS) <= set(pairs.columns)


def test_measures_that_follow_one_distance_agree(ds):
    ag = A.measure_agreement(ds, n_boot=60)
    rho, low, high = ag["rho"].values, ag["low"].values, ag["high"].values
    off = ~np.eye(len(rho), dtype=bool)
    assert (rho[off] > 0.8).all() and np.allclose(rho, rho.T)
    assert (low[off] <= rho[off] + 1e-12).all() and (rho[off] <= high[off] + 1e-12).all()
    clusters = A.measure_clusters(ag)
    assert sorted(clusters.index) == sorted(ATLAS_MEASURES) and clusters["cluster"].nunique() == 1


def test_measure_clusters_split_unrelated_measures():
    d = synthetic(seed=1)
    rng = np.random.default_rng(5)
    noise = _sym(rng, d.sizes["model"], 1.0)
    d["similarity"].loc[dict(measure="input_gradient")] = noise  # a measure that follows nothing
    clusters = A.measure_clusters(A.measure_agreement(d, n_boot=20))
    alone = clusters.loc["input_gradient", "cluster"]
    assert (clusters["cluster"] == alone).sum() == 1


def test_identical_measures_cluster_the_models_identically(ds):
    d = ds.copy(deep=True)
    d["similarity"].loc[dict(measure="linear_cka")] = d["similarity"].sel(measure="sat").values
    found = A.cluster_agreement(d, n_clusters=3, n_boot=40, measures=["linear_cka", "knn_jaccard"])
    assert set(found) == {"linear_cka", "knn_jaccard"}
    assert found["linear_cka"].value == pytest.approx(1.0) and found["linear_cka"].unit == "models"


def test_folds_hold_every_model_once():
    folds = A.model_folds(11, 4, seed=3)
    assert sorted(np.bincount(folds)) == [2, 3, 3, 3]
    assert (A.model_folds(11, 4, seed=3) == folds).all()


def test_pairs_touching_a_held_out_model_are_never_fitted_on(ds, monkeypatch):
    pairs = A.pair_frame(ds)
    folds = A.model_folds(ds.sizes["model"], 3)
    seen = []
    original = P._fit_predict

    def spy(x_train, y_train, x_test):
        seen.append((x_train.copy(), x_test.copy()))
        return original(x_train, y_train, x_test)

    monkeypatch.setattr(P, "_fit_predict", spy)
    P.heldout_predictions(pairs, ["sat"], "err", folds)
    i, j = pairs["i"].to_numpy(), pairs["j"].to_numpy()
    x = pairs[["sat"]].to_numpy()
    for f, (x_train, x_test) in zip(np.unique(folds), seen):
        held = folds == f
        touching = held[i] | held[j]
        assert len(x_train) == (~touching).sum() and len(x_test) == touching.sum()
        np.testing.assert_array_equal(x_train, x[~touching])


def test_a_measure_that_follows_the_target_predicts_it_held_out(ds):
    table = A.prediction_table(ds, n_folds=3, n_boot=60)
    assert len(table) == len(TARGETS) * len(ATLAS_MEASURES)
    err = table[(table["target"] == "err")].set_index("measure")
    assert (err["score"] > 0.5).all() and (err["low"] > 0).all()  # the sign of the fit is learned: ERR falls
    shown = A.prediction_display(table)
    assert list(shown.columns) == list(TARGETS) and shown.shape[0] == len(ATLAS_MEASURES)


def test_noise_predicts_nothing():
    d = synthetic(seed=2)
    rng = np.random.default_rng(9)
    d["pair_target"].loc[dict(target="coincident_failure")] = _sym(rng, d.sizes["model"], 1.0)
    e = A.measure_estimate(d, "sat", "coincident_failure", n_folds=3, n_boot=100)
    assert e.low < 0.35 and e.has_interval


def test_group_difference_is_zero_when_the_groups_predict_alike(ds):
    e = A.group_difference(ds, "err", "functional", "representational", n_folds=3, n_boot=60)
    assert abs(e.value) < 0.1 and e.low <= e.value <= e.high


def test_embedding_keeps_the_order_of_distances():
    s = -np.abs(np.subtract.outer(np.arange(6.0), np.arange(6.0)))  # points on a line
    xy = A.embedding(s)
    d = np.linalg.norm(xy[:, None] - xy[None], axis=-1)
    assert d[0, 5] == pytest.approx(d.max()) and d[0, 1] < d[0, 3] < d[0, 5]
    np.testing.assert_allclose(A.embedding(s), xy)  # deterministic


def test_claims_table_decides_every_hypothesis(ds):
    table = A.claims_table(ds, n_boot=40, n_clusters=3, n_folds=3)
    assert list(table["key"]) == list(paper_claims("similarity-atlas")["claims"])
    assert set(table["source"]) == {"project"} and set(table["kind"]) == {"direction"}
    assert table.loc[table["key"] == "sat_gradient_rank_alike", "verdict"].item() == "agrees"


def test_the_chance_gate_stops_claims_on_collapsed_models(ds):
    d = ds.copy()
    d["accuracy"] = d["accuracy"].copy(data=np.full(d.sizes["model"], 0.1))
    table = A.claims_table(d, n_boot=20, n_clusters=3, n_folds=3)
    assert table["verdict"].str.startswith("not tested").all()


def test_another_copy_of_a_zoo_model_stops_claims(ds):
    """SAT is borrowed from the sat-matrix result: an atlas model that predicts otherwise than that result's copy
    (retrained elsewhere to other weights) makes every claim not tested; a result without the check says so."""
    assert A.same_models_gate(ds).passed is None and "not stored" in A.same_models_gate(ds).detail
    same = np.ones(ds.sizes["model"])
    d = ds.assign(same_predictions=("model", same))
    assert A.same_models_gate(d).passed is True
    same[3] = 0.9
    d = ds.assign(same_predictions=("model", same))
    gate = A.same_models_gate(d)
    assert gate.passed is False and "m3" in gate.detail
    assert A.claims_table(d, n_boot=20, n_clusters=3, n_folds=3)["verdict"].str.startswith("not tested").all()


def test_tables_for_the_reader(ds):
    assert {"SAT", "linear CKA"} <= set(A.measure_table(ds).index)
    costs = A.cost_table(ds)
    assert costs.loc["logits and penultimate features", "minutes (whole zoo)"] == pytest.approx(10 / 60)
    assert "10 models" in A.costs_text(ds)
    assert len(A.cluster_table(ds.isel(model=slice(0, 6), model_b=slice(0, 6)), 2, n_boot=20)) == len(ATLAS_MEASURES) - 1
    new = ds["similarity"].isel(model=0, drop=True).rename(model_b="model")
    place = A.placement_table(ds.isel(model=slice(1, None), model_b=slice(1, None)),
                              new.isel(model=slice(1, None)), "new")
    assert place.shape[0] == len(ATLAS_MEASURES) and place["nearest zoo model"].isin(ds["model"].values).all()
    assert isinstance(place, pd.DataFrame)
