"""SAT analyses with known answers: the accuracy band and the model-level bootstrap of SAT against accuracy."""
import numpy as np
import pytest
import xarray as xr

from sat_lib.analysis.sat import accuracy_band, accuracy_effect, model_bootstrap, pair_frame


def zoo_result(sat_from_accuracy: bool, n: int = 12, seed: int = 0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    acc = np.linspace(0.55, 0.85, n)
    if sat_from_accuracy:  # SAT of a pair = the sum of its accuracies, plus a little noise
        sat = acc[:, None] + acc[None, :] + 0.01 * rng.standard_normal((n, n))
    else:
        sat = rng.standard_normal((n, n))
    names = [f"m{i}" for i in range(n)]
    fam = np.array(["CNN", "Transformer"] * n)[:n]
    return xr.Dataset({"sat": (("model", "model_b"), sat), "accuracy": ("model", acc)},
                      coords={"model": names, "model_b": names, "family": ("model", fam)})


def test_pair_frame_has_each_unordered_pair_once():
    ds = zoo_result(True, n=5)
    pairs = pair_frame(ds)
    assert len(pairs) == 10 and (pairs["i"] < pairs["j"]).all()
    row = pairs.iloc[0]
    assert row["mean_accuracy"] == pytest.approx(100 * (ds.accuracy[0] + ds.accuracy[1]) / 2)


def test_accuracy_band_counts_models_below_the_floor():
    band = accuracy_band(zoo_result(True, n=12))
    assert band.loc["all", "models"] == 12
    assert band.loc["all", "min (%)"] == pytest.approx(55)
    assert band.loc["all", "below 60 %"] == 2  # 55.0 and 57.7
    assert set(band.index) == {"all", "CNN", "Transformer"}


def test_accuracy_effect_detects_a_real_dependence():
    eff = accuracy_effect(zoo_result(True), n_boot=300)
    row = eff.loc["mean accuracy of the pair"]
    assert row["Spearman ρ"] > 0.9 and row["95 % CI low"] > 0
    assert row["verdict"] == "SAT rises with accuracy"


def test_accuracy_effect_is_inconclusive_on_noise():
    eff = accuracy_effect(zoo_result(False, n=10, seed=3), n_boot=300)
    row = eff.loc["mean accuracy of the pair"]
    assert row["95 % CI low"] < 0 < row["95 % CI high"]
    assert row["verdict"] == "no detectable dependence"


def test_model_bootstrap_never_pairs_a_model_with_itself():
    ds = zoo_result(True, n=6)
    seen = []
    model_bootstrap(ds, lambda p: seen.append((p["i"] != p["j"]).all()) or 0.0, n_boot=50)
    assert seen and all(seen)
