"""Analyses of the universality chapter on hand-made results."""
import math

import numpy as np
import pytest

from sat_lib.analysis import universality as A
from sat_lib.claims.verdict import AGREES, DISAGREES, INCONCLUSIVE, Estimate, band_verdict


def test_pair_mean_keeps_pairs_of_two_different_drawn_architectures():
    m = np.array([[np.nan, 1.0, 2.0], [1.0, np.nan, 3.0], [2.0, 3.0, np.nan]])
    assert A.pair_mean(m, np.arange(3)) == pytest.approx(2.0)
    assert A.pair_mean(m, np.array([0, 0, 1])) == pytest.approx(1.0)  # (0, 0) is no pair; (0, 1) twice
    assert math.isnan(A.pair_mean(m, np.array([2, 2, 2])))


def test_chance_jaccard_matches_random_neighbourhoods():
    rng = np.random.default_rng(0)
    n, k = 400, 40
    sims = []
    for _ in range(300):
        a = set(rng.choice(n - 1, k, replace=False))
        b = set(rng.choice(n - 1, k, replace=False))
        sims.append(len(a & b) / len(a | b))
    assert A.chance_jaccard(n, k) == pytest.approx(np.mean(sims), rel=0.05)


@pytest.mark.parametrize("low,high,verdict", [
    (-0.02, 0.03, AGREES), (0.06, 0.09, DISAGREES), (-0.09, -0.06, DISAGREES), (0.01, 0.08, INCONCLUSIVE),
])
def test_band_verdict(low, high, verdict):
    assert band_verdict(-0.05, 0.05, Estimate(0.0, low, high, "architectures", 5)) == verdict


def test_band_verdict_without_interval_is_inconclusive():
    assert band_verdict(0, 1, Estimate(0.5, math.nan, math.nan, "architectures", 2)) == INCONCLUSIVE
    with pytest.raises(ValueError, match="empty"):
        band_verdict(1, 0, Estimate(0.5, 0.4, 0.6, "architectures", 5))


def test_paper_table4_is_quoted_verbatim():
    t = A.paper_table4()
    assert t.loc[("Densenet-161", 0.0), "accuracy (%)"] == 94.22
    assert t.loc[("VGG-16", 1.0), "adversarial accuracy (%)"] == 46.63
    assert len(t) == 7 * 4


def test_ood_jaccard_is_compared_above_chance(monkeypatch):
    """Unrelated neighbourhoods among 500 OOD images overlap more than among 1 000: the difference is taken
    above each set's chance level, so equal raw-above-chance scores give 0."""
    import json

    import xarray as xr

    ds = xr.Dataset(coords={"eps": [0.0, 1.0]}, attrs={"params_json": json.dumps({"n_images": 1000,
                                                                                   "ood_images": 500})})
    m = np.full((3, 3), 0.1)
    np.fill_diagonal(m, np.nan)

    def pairs(ds, setting, eps, measure, images, k=None):
        return m + (A.chance_jaccard(500 if setting == "ood" else 1000, k) if measure == "jaccard" else 0), None

    monkeypatch.setattr(A.core, "pair_matrix", pairs)  # where ood_difference looks it up
    est = A.ood_difference(ds, "jaccard", 10, n_boot=50)
    assert est.value == pytest.approx(0.0, abs=1e-12)
    assert A.ood_difference(ds, "cka", None, n_boot=50).value == pytest.approx(0.0)
    assert A.inverted_images(ds, "ood") == 500 and A.inverted_images(ds, "full") == 1000


def test_cost_table_counts_ood_inversions_but_not_its_reused_models():
    import xarray as xr

    dims = ("setting", "eps", "model")
    acc = np.array([[[0.5, 0.6]], [[0.5, np.nan]], [[0.5, 0.6]]])  # full, subset (one model), ood
    ones = np.where(np.isfinite(acc), 1.0, np.nan)
    ds = xr.Dataset({"accuracy": (dims, acc), "train_seconds": (dims, 60 * ones),
                     "attack_seconds": (dims, 6 * ones), "invert_seconds": (dims, 12 * ones)},
                    coords={"setting": ["full", "subset", "ood"], "eps": [0.0], "model": ["a", "b"]},
                    attrs={"pairs_seconds": 30.0})
    out = A.cost_table(ds)
    assert out.loc["training", "minutes"] == pytest.approx(3)  # 3 trained models, not 5
    assert out.loc["attacks (adversarial accuracy)", "minutes"] == pytest.approx(0.3)
    assert out.loc["inversion", "minutes"] == pytest.approx(1)  # 5 inversions: OOD's are its own
    assert out.loc["total", "minutes"] == pytest.approx(3 + 0.3 + 1 + 0.5)
    assert out.loc["total", "models"] == 3


def test_the_standard_models_adversarial_accuracy_claim_takes_its_value_from_table4():
    from sat_lib.claims import paper_claims
    from sat_lib.claims.verdict import claim_verdict

    c = A.with_table4_value(paper_claims("universality")["claims"]["standard_adversarial_accuracy"])
    std = A.paper_table4().xs(0.0, level="eps")["adversarial accuracy (%)"]
    assert c["value"] == pytest.approx(std.mean()) == pytest.approx((2.84 + 0.17 + 1.59 + 1.67 + 2.06 + 1.00 + 0.02) / 7)
    assert f"{std.mean():.1f} %" in c["statement"] and "0.02–2.84" in c["statement"]
    assert claim_verdict(c, Estimate(33.5, 24.8, 39.2, "architectures", 5)) == DISAGREES
    assert claim_verdict(c, Estimate(1.5, 0.5, 2.5, "architectures", 5)) == AGREES


def test_pair_estimates_are_the_summary_tables_numbers():
    """The figures' intervals and the summary table come from one computation (``pair_estimates``)."""
    import xarray as xr

    rng = np.random.default_rng(0)
    names = ["a", "b", "c", "d"]
    m = rng.uniform(0.2, 0.8, (1, 2, 4, 4))
    m = (m + m.transpose(0, 1, 3, 2)) / 2
    m[..., range(4), range(4)] = np.nan
    ds = xr.Dataset({"regular_agreement": (("setting", "eps", "model", "model_b"), m),
                     "accuracy": (("setting", "eps", "model"), np.full((1, 2, 4), 0.5))},
                    coords={"setting": ["full"], "eps": [0.0, 1.0], "model": names, "model_b": names})
    est = A.pair_estimates(ds, "full", "regular", "agreement", n_boot=200)
    assert list(est["pairs"]) == [6, 6]
    for _, row in est.iterrows():
        mat, _ = A.pair_matrix(ds, "full", row["eps"], "agreement", "regular")
        e = A.mean_estimate(mat, 200)
        assert (row["mean"], row["low"], row["high"]) == (e.value, e.low, e.high)
        assert row["min"] == np.nanmin(mat) and row["max"] == np.nanmax(mat)
