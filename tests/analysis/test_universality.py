"""Analyses of the universality chapter on hand-made results."""
import math

import numpy as np
import pytest

from sat_lib.analysis import universality as A
from sat_lib.claims.verdict import AGREES, DISAGREES, INCONCLUSIVE, NOT_TESTED, Estimate, decide


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
def test_a_flat_claim_is_decided_against_its_band(low, high, verdict):
    from sat_lib.claims import scored_claims

    claim = scored_claims("universality")["procrustes_flat"]
    assert decide(claim, Estimate(0.0, low, high, "architectures", 5)) == verdict


def test_a_band_without_interval_is_inconclusive():
    from sat_lib.claims import scored_claims

    claim = scored_claims("universality")["jaccard_low"]
    assert decide(claim, Estimate(0.5, math.nan, math.nan, "architectures", 2)) == INCONCLUSIVE


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

    c = A.with_table4_value(paper_claims("universality")["claims"]["standard_adversarial_accuracy"])
    std = A.paper_table4().xs(0.0, level="eps")["adversarial accuracy (%)"]
    assert c["value"] == pytest.approx(std.mean())
    assert c["value"] == pytest.approx((2.84 + 0.17 + 1.59 + 1.67 + 2.06 + 1.00 + 0.02) / 7)
    assert c["paper_uncertainty"]["interval"] == [std.min(), std.max()]
    assert f"{std.mean():.1f} %" in c["statement"] and "0.02–2.84" in c["statement"]
    assert decide(c, Estimate(33.5, 24.8, 39.2, "architectures", 5)) == DISAGREES
    assert decide(c, Estimate(1.5, 0.5, 2.5, "architectures", 5)) == AGREES
    assert decide(c, Estimate(3.5, 2.5, 4.5, "architectures", 5)) == INCONCLUSIVE  # straddles 2.84 + 1


def test_a_claims_file_value_that_is_not_table4s_is_refused():
    from sat_lib.claims import paper_claims

    c = dict(paper_claims("universality")["claims"]["standard_adversarial_accuracy"], value=2.0)
    with pytest.raises(ValueError, match="Table 4's mean"):
        A.with_table4_value(c)


def test_every_claim_declares_a_kind_and_no_claim_holds_by_definition():
    from sat_lib.claims import scored_claims

    claims = scored_claims("universality")
    assert "regular_below_fort_bound" not in claims  # an identity: shown as a check
    assert claims["regular_agreement_drops"]["sign"] == -1 and claims["regular_jsd_spread_grows"]["sign"] == 1
    for key in ("regular_agreement_comparable", "regular_jsd_comparable", "procrustes_flat",
                "subset_procrustes_flat"):
        assert claims[key]["source"] == "project", key  # the ±0.05 bands are this project's reading
    assert claims["jaccard_low"].get("source", "paper") == "paper"  # "less than 0.05": the paper's number


def test_pair_spread_keeps_pairs_of_two_different_drawn_architectures():
    m = np.array([[np.nan, 1.0, 2.0], [1.0, np.nan, 4.0], [2.0, 4.0, np.nan]])
    assert A.pair_spread(m, np.arange(3)) == pytest.approx(np.std([1.0, 2.0, 4.0], ddof=1))
    assert A.pair_spread(m, np.array([0, 0, 1])) == 0.0  # (0, 1) twice
    assert math.isnan(A.pair_spread(m, np.array([2, 2, 2])))  # no pair


def _gate_dataset(acc_full, agree_offset=0.0):
    """Two settings of three architectures at two ε: accuracies, regular agreements at their Fort upper bound
    minus 0.1 (plus ``agree_offset``), inversion distances."""
    import json

    import xarray as xr

    names = ["a", "b", "c"]
    acc = np.stack([np.asarray(acc_full, float), np.full((2, 3), 0.7)])  # (setting, eps, model)
    agree = np.full((2, 2, 3, 3), np.nan)
    for s in range(2):
        for e in range(2):
            for i in range(3):
                for j in range(3):
                    if i != j:
                        agree[s, e, i, j] = 1 - abs(acc[s, e, i] - acc[s, e, j]) - 0.1 + agree_offset
    dims = ("setting", "eps", "model")
    return xr.Dataset({"accuracy": (dims, acc), "regular_agreement": (dims + ("model_b",), agree),
                       "start_distance": (dims, np.ones((2, 2, 3))), "final_distance": (dims, np.full((2, 2, 3), 0.2))},
                      coords={"setting": ["full", "subset"], "eps": [0.0, 1.0], "model": names, "model_b": names},
                      attrs={"params_json": json.dumps({"dataset": "cifar10"}),
                             "subset_class_names": json.dumps(["cat", "dog", "deer", "bird", "frog"])})


def test_a_model_at_twice_chance_fails_its_settings_gate_and_leaves_its_claims_not_tested():
    from sat_lib.claims import scored_claims
    from sat_lib.claims.verdict import claim_row

    ds = _gate_dataset([[0.6, 0.5, 0.4], [0.5, 0.2, 0.3]])  # b at ε = 1: 20 % = twice chance of 10 classes
    gates = A.checks(ds)
    by_name = {g.name: g for g in gates}
    full = by_name["every full model above twice chance accuracy"]
    subset = by_name["every subset model above twice chance accuracy"]
    assert full.passed is False and "b at ε = 1 20.0 %" in full.detail
    assert subset.passed is True and "40 %" in subset.detail  # 5 classes: twice chance is 40 %
    assert by_name["regular-image agreement within Fort et al.'s bounds"].passed is True
    assert by_name["inversion moved every model's images towards their targets"].passed is True
    assert by_name["evaluation attack converged (the chapter's PGD against more steps and APGD-CE, ε = 0.25)"].passed is None
    claims = scored_claims("universality")
    est = Estimate(0.5, 0.4, 0.6, "architectures", 3)
    row = claim_row("x", claims["cka_rises"], est, key="cka_rises", gates=gates)
    assert row["verdict"].startswith(NOT_TESTED) and "every full model above twice chance" in row["verdict"]
    row = claim_row("x", claims["subset_cka_rises"], est, key="subset_cka_rises", gates=gates)
    assert row["verdict"] == AGREES  # the subset's models passed their own gate


def test_agreement_above_the_fort_bound_fails_the_consistency_check():
    ds = _gate_dataset([[0.6, 0.5, 0.4], [0.5, 0.45, 0.3]], agree_offset=0.2)
    gate = A.fort_gate(ds)
    assert gate.passed is False and gate.claims == A.REGULAR_CLAIMS
    assert "0 of 6" in gate.detail
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


@pytest.mark.parametrize("rise,passed", [(0.2, True), (0.0, False)])
def test_the_confidence_gate_reads_jsd_at_one_entropy(rise, passed):
    """JSDSim's rise is gated on its rise at one output entropy; a result stored before says not computed."""
    import xarray as xr

    rng = np.random.default_rng(0)
    names = ["a", "b", "c", "d"]
    v = np.empty((1, 2, 4, 4, 4))
    v[0, 0] = 0.5 + 0.01 * rng.standard_normal((4, 4, 4))
    v[0, 1] = 0.5 + rise + 0.01 * rng.standard_normal((4, 4, 4))
    ds = xr.Dataset({"inverted_jsd_matched": (("setting", "eps", "source", "model", "model_b"), v),
                     "inverted_confidence": (("setting", "eps", "source", "model"), np.full((1, 2, 4, 4), 0.4)),
                     "accuracy": (("setting", "eps", "model"), np.full((1, 2, 4), 0.7))},
                    coords={"setting": ["full"], "eps": [0.0, 1.0], "model": names, "model_b": names,
                            "source": names},
                    attrs={"matched_entropy": 0.5})
    gate = A.confidence_gate(ds, n_boot=200)
    assert gate.passed is passed and gate.claims == ("inverted_jsd_rises",) and "0.5 ln C" in gate.detail
    assert A.confidence_gate(ds.drop_vars("inverted_jsd_matched")).passed is None


def test_how_much_weaker_our_models_are_is_read_from_the_accuracies():
    from sat_lib.analysis.universality.report import _strength_text

    paper = __import__("pandas").Series({0.0: 88.0, 0.5: 80.0})
    weaker = _strength_text({0.0: 80.5, 0.5: 72.0, 1.0: 63.0}, paper, "10–13", 90)
    assert "are 7.5–8.0 pp less accurate than the paper's at the same ε" in weaker
    assert "10–13 epochs on a CPU against the paper's 90" in weaker
    close = _strength_text({0.0: 88.4, 0.5: 72.0}, paper, "10", 90)
    assert "reach the paper's mean clean accuracy at some ε (ours minus the paper's: +0.4, -8.0 pp)" in close
    assert _strength_text({1.0: 63.0}, paper, "2", 90) == "Our models trained 2 epochs on a CPU against the paper's 90."
