"""Component importance and spectral features on a synthetic zoo whose SAT is known to follow one component."""
import numpy as np
import pytest
import xarray as xr

from sat_lib.analysis import sat_components as C
from sat_lib.models.components import COMPONENTS


def synthetic_zoo(n=14, seed=0):
    """SAT is high within a base architecture, low across; every other component varies at random."""
    rng = np.random.default_rng(seed)
    base = np.array(["CNN", "Transformer"])[np.arange(n) % 2]
    coords = {"model": [f"m{i}" for i in range(n)], "family": ("model", base)}
    for c in COMPONENTS:
        coords[f"card_{c}"] = ("model", base if c == "base_architecture" else rng.choice(["a", "b"], n))
    sat = np.where(base[:, None] == base[None, :], 3.0, 1.0) + rng.normal(0, 0.05, (n, n))
    np.fill_diagonal(sat, 4.6)
    return xr.Dataset({"sat": (("model", "model_b"), sat), "accuracy": ("model", np.full(n, 0.7))},
                      coords={**coords, "model_b": coords["model"]})


def test_pair_features_are_hamming_differences_of_the_cards():
    zoo = synthetic_zoo()
    x, y, i, j = C.pair_features(zoo)
    cards = C.cards(zoo).to_numpy()
    assert x.shape == (14 * 13 // 2, len(COMPONENTS)) and set(np.unique(x)) <= {0.0, 1.0}
    k = 7
    np.testing.assert_array_equal(x[k], (cards[i[k]] != cards[j[k]]).astype(float))
    assert y[k] == pytest.approx((zoo["sat"].values[i[k], j[k]] + zoo["sat"].values[j[k], i[k]]) / 2)


def test_the_component_that_drives_sat_ranks_first_and_predicts_held_out_pairs():
    zoo = synthetic_zoo()
    x, y, i, j = C.pair_features(zoo)
    gbr = C.GBR(n_estimators=60, max_depth=3)
    imp = C.fit_importance(x, y, gbr, 0)
    assert np.argmax(imp) == list(COMPONENTS).index("base_architecture")
    r2, pred = C.held_out_r2(x, y, i, j, 14, gbr, 0)
    assert r2 > 0.8 and np.isfinite(pred).all()
    boot = C.bootstrap_importance(x, y, i, j, 14, gbr, 8, 0)
    assert boot.shape == (8, len(COMPONENTS)) and (np.nanargmax(boot, axis=1) == 0).sum() >= 6


def test_spectral_features_separate_the_two_blocks():
    zoo = synthetic_zoo()
    f = C.spectral_features(zoo["sat"], 2)
    d = C.feature_distances(f)
    base = zoo["family"].values
    same = base[:, None] == base[None, :]
    assert d[same].mean() < d[~same].mean()


def _chapter_like(zoo, gbr, seed=0):
    """The fields of a sat-components result that the held-out R² interval reads."""
    x, y, i, j = C.pair_features(zoo)
    r2, pred = C.held_out_r2(x, y, i, j, zoo.sizes["model"], gbr, seed)
    names = zoo["model"].values
    return xr.Dataset({"difference": (("pair", "component"), x), "pair_sat": ("pair", y),
                       "held_out_prediction": ("pair", pred)},
                      coords={"model": names, "model_a": ("pair", names[i]), "model_b": ("pair", names[j])},
                      attrs={"held_out_r2": r2})


def test_held_out_r2_gets_intervals_over_models_refitted_and_with_predictions_kept():
    gbr = C.GBR(n_estimators=30, max_depth=3)
    ds = _chapter_like(synthetic_zoo(), gbr)
    est = C.held_out_r2_estimates(ds, gbr, n_refit=20, n_boot=200, seed=0)
    for e in est.values():
        assert e.value == ds.attrs["held_out_r2"] and e.has_interval and e.low <= e.high
    # the SAT here follows one component: unseen models are predicted well, whatever models are resampled
    assert est["refit"].low > 0 and est["fixed"].low > 0
    assert "20 resamples" in est["refit"].unit and "200 resamples" in est["fixed"].unit
    table = C.held_out_table(est)
    assert len(table) == 2 and table["held-out R² [95 % CI]"].str.contains(r"\[").all()
    # fewer refits than the shared rule's 20 resamples: no interval, never a spurious one
    assert not C.held_out_r2_estimates(ds, gbr, n_refit=5, n_boot=200)["refit"].has_interval


def test_held_out_r2_without_skill_has_an_interval_that_contains_zero():
    zoo = synthetic_zoo(n=12, seed=3)
    rng = np.random.default_rng(3)
    noise = rng.normal(0, 1, zoo["sat"].shape)
    zoo["sat"] = (("model", "model_b"), noise + noise.T)  # SAT that no component explains
    gbr = C.GBR(n_estimators=30, max_depth=3)
    ds = _chapter_like(zoo, gbr)
    est = C.held_out_r2_estimates(ds, gbr, n_refit=20, n_boot=300)
    assert est["fixed"].low < 0 and est["refit"].low < 0


def test_no_importance_claim_is_scored_unless_the_held_out_r2_interval_is_above_zero():
    from sat_lib.claims.verdict import Estimate

    skill = {"refit": Estimate(0.5, 0.3, 0.7, "models", 14), "fixed": Estimate(0.5, 0.35, 0.6, "models", 14)}
    none = {"refit": Estimate(0.16, -0.92, 0.38, "models", 24), "fixed": Estimate(0.16, -0.52, 0.51, "models", 24)}
    assert C.r2_gate(skill).passed is True
    assert C.r2_gate(none).passed is False
    half = {"refit": Estimate(0.2, float("nan"), float("nan"), "models", 24), "fixed": skill["fixed"]}
    assert C.r2_gate(half).passed is True          # only computed intervals count
    comps = list(C.COMPONENTS)
    rng = np.random.default_rng(0)
    imp = rng.uniform(0.1, 1.0, len(comps))
    ds = xr.Dataset({"importance": ("component", imp),
                     "importance_boot": (("boot", "component"), imp * rng.uniform(0.8, 1.2, (30, len(comps))))},
                    coords={"component": comps, "n_values": ("component", [2] * len(comps)),
                            "model": [f"m{i}" for i in range(12)]})
    table = C.claims_table(ds, r2=none)
    assert table["verdict"].str.startswith("not tested (gate: the regressor predicts SAT").all()
    assert list(table["key"]).count("efficient_convs_least") == 2   # depth-wise and group conv one by one
