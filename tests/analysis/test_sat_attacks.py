"""The attacks chapter's analyses on hand-made results with known answers."""
import json

import numpy as np
import pytest
import xarray as xr

from sat_lib.analysis import sat_attacks as A


def zoo_result(sat, fooled=None, correct=None, stability=None, steps=50, pool=2000):
    names = [f"m{i}" for i in range(len(sat))]
    n = 10
    fooled = np.zeros((len(sat), len(sat), n), bool) if fooled is None else fooled
    correct = np.ones((len(sat), n), bool) if correct is None else correct
    stability = np.zeros((2, 10)) if stability is None else stability
    return xr.Dataset(
        {"sat": (("model", "model_b"), np.asarray(sat, float)), "fooled": (("model", "model_b", "sample"), fooled),
         "correct": (("model", "sample"), correct), "stability_rate": (("size", "repeat"), stability)},
        coords={"model": names, "model_b": names, "sample": np.arange(n), "size": [250, 500][:len(stability)],
                "repeat": np.arange(stability.shape[1])},
        attrs={"params_json": json.dumps({"steps": steps, "stability_pool": pool, "eps_s": 0.01})})


def test_one_sided_sat_is_the_sources_transfer_alone():
    f = np.zeros((3, 3, 10), bool)
    f[0, 1, :5] = True   # m0's examples fool m1 on half the images, nothing fools m0
    z = A.sided_zoo(zoo_result(np.zeros((3, 3)), fooled=f))
    row = z[(z["source"] == "m0") & (z["target"] == "m1")].iloc[0]
    assert row["one_sided"] == pytest.approx(np.log(50))
    assert row["two_sided"] == pytest.approx(np.log(25))
    back = z[(z["source"] == "m1") & (z["target"] == "m0")].iloc[0]
    assert back["one_sided"] == pytest.approx(np.log(0.01)) and back["two_sided"] == pytest.approx(np.log(25))


def test_a_new_model_goes_to_the_cluster_it_is_most_similar_to():
    # two blocks: m0-m2 alike, m3-m5 alike
    sat = np.full((6, 6), 1.0)
    sat[:3, :3] = sat[3:, 3:] = 4.0
    zoo = zoo_result(sat)
    new = xr.Dataset({"new_sat_one_sided": (("new", "model"), [[4, 4, 4, 1, 1, 1], [1, 1, 1, 4, 4, 3.9]]),
                      "new_sat_two_sided": (("new", "model"), [[4, 4, 4, 1, 1, 1], [4, 4, 4, 1, 1, 1]]),
                      "new_accuracy": ("new", [0.7, 0.7])},
                     coords={"new": ["a", "b"], "new_arch": ("new", ["m0", "m0"]), "new_kind": ("new", ["x", "x"]),
                             "model": zoo["model"].values})
    a = A.assignment(new, zoo, n_clusters=2)
    assert a.loc["a", "sibling's cluster (one-sided)"] and not a.loc["b", "sibling's cluster (one-sided)"]
    assert a.loc["b", "sibling's cluster (two-sided)"] and not a.loc["b", "one- and two-sided agree"]
    assert a.loc["b", "nearest zoo model (one-sided)"] in {"m3", "m4"}


def test_equal_compute_pairs_each_image_set_with_the_triplet_set_of_closest_cost():
    zoo = zoo_result(np.zeros((2, 2)), stability=np.random.default_rng(0).normal(50, 1, (2, 10)))
    ds = xr.Dataset({"boundary_rate": (("tsize", "trepeat"), np.random.default_rng(1).normal(60, 4, (3, 10)))},
                    coords={"tsize": [5, 10, 20], "trepeat": np.arange(10)},
                    attrs={"params_json": json.dumps({"resolution": 50})})
    eq = A.equal_compute(ds, zoo)
    assert list(eq.index) == [250, 500] and list(eq["triplets"]) == [5, 10]  # 250 · 51 · 2 ≈ 5 · 2500 · 2
    assert (eq["decision-region std (pp)"] > eq["SAT std (pp)"]).all()


def test_std_difference_is_decided_by_its_interval():
    rng = np.random.default_rng(0)
    wide, narrow = rng.normal(0, 5, 10), rng.normal(0, 0.5, 10)
    assert A._std_difference(wide, narrow, 500, 0).low > 0
    assert A._std_difference(narrow, wide, 500, 0).high < 0


def test_cost_table_adds_the_chapters_own_parts():
    ds = xr.Dataset({"autoattack_seconds": ("attacked", [60.0, 120.0])}, coords={"attacked": ["a", "b"]},
                    attrs={"autoattack_evaluate_seconds": 30.0, "new_model_seconds": 90.0, "boundary_seconds": 60.0})
    cost = A.cost_table(ds)
    assert cost.loc["AutoAttack", "minutes"] == pytest.approx(3)
    assert cost.loc["total", "minutes"] == pytest.approx(6)


def test_value_rows_print_enough_decimals_to_show_the_side_of_the_papers_value():
    from sat_lib.claims import scored_claims
    from sat_lib.claims.verdict import Estimate, decide

    est = Estimate(0.8564, 0.8227, 0.8746, "new models", 28)   # two decimals: "0.86 [0.82, 0.87]" against 0.82
    claim = scored_claims("sat-attacks")["one_vs_two_sided"]  # 0.82 ± 0.1: a tight interval inside agrees
    assert decide(claim, est) == "agrees"
    assert decide(claim, Estimate(0.6, 0.55, 0.65, "new models", 28)) == "disagrees"
    assert decide(claim, Estimate(0.75, 0.65, 0.85, "new models", 28)) == "inconclusive"
    assert est.text(A.decisive_format(0.82, est)) == "0.856 [0.823, 0.875]"
    inside = Estimate(0.9963, 0.9797, 1.0, "models", 8)          # "1.00 [0.98, 1.00]": is 0.98 in or out?
    assert inside.text(A.decisive_format(0.98, inside)) == "0.9963 [0.9797, 1.0000]"
    assert A.decisive_format(0.5, Estimate(0.7, 0.6, 0.8, "models", 8)) == ".2f"   # plain when it already shows
    assert A.decisive_format(0.5, Estimate(0.5, float("nan"), float("nan"), "models", 2)) == ".2f"
    assert A.decisive_format(0.5, Estimate(0.5, 0.5, 0.6, "models", 8)) == ".4f"   # an exact tie: at most 4


def new_models_result(one, two):
    one, two = np.asarray(one, float), np.asarray(two, float)
    return xr.Dataset({"new_sat_one_sided": (("new", "model"), one), "new_sat_two_sided": (("new", "model"), two)},
                      coords={"new": [f"n{i}" for i in range(len(one))],
                              "model": [f"m{i}" for i in range(one.shape[1])]})


def test_one_vs_two_sided_gets_spearman_and_the_mean_difference_with_intervals():
    rng = np.random.default_rng(0)
    sat = rng.normal(2, 1, (6, 6))
    zoo = zoo_result(sat)
    two = rng.normal(2, 1, (8, 6))
    one = np.exp(two) - 0.5          # monotone in two-sided: Spearman 1, Pearson below 1; lower on average
    ds = new_models_result(one, two)
    est = {k: A.sided_estimates(ds, zoo, n_boot=200, kind=k) for k in A.SIDED_STATS}
    new = "new model × zoo pairs"
    assert est["spearman"][new].value == pytest.approx(1.0)
    assert est["pearson"][new].value < 0.99
    assert est["difference"][new].value == pytest.approx(np.mean(one - two))
    assert est["difference"][new].has_interval and est["spearman"][new].unit == "new models"
    table = A.sided_table(ds, zoo, estimates=est)
    assert {"Spearman r [95 % CI]", "mean one-sided − two-sided [95 % CI]"} <= set(table.columns)
    assert table.loc[new, "Spearman r [95 % CI]"] == est["spearman"][new].text()
    with pytest.raises(KeyError):
        A.sided_estimates(ds, zoo, kind="kendall")


def test_two_of_two_new_models_are_shown_not_judged():
    from sat_lib.claims import scored_claims
    from sat_lib.claims.verdict import NO_VERDICT, Estimate, decide, paper_interval

    claim = scored_claims("sat-attacks")["new_model_cluster"]   # 2 of 2: exact interval [0.16, 1] holds chance
    assert paper_interval({**claim, "paper_uncertainty": {"proportion": [2, 2]}})[0] < 1 / 6
    assert decide(claim, Estimate(0.05, 0.0, 0.1, "new models", 14)) == NO_VERDICT


def attack_result(pgd_rate, apgd_rate):
    """Two re-attacked zoo models whose white-box success by PGD and by APGD are given (share of 100 images)."""
    names = ["a", "b"]
    n = 100
    fooled = np.zeros((2, 2, 2, n), bool)
    for k, (p, q) in enumerate(zip(pgd_rate, apgd_rate)):
        fooled[0, k, k, :int(round(p * n))] = True
        fooled[1, k, k, :int(round(q * n))] = True
    zoo = xr.Dataset({"correct": (("model", "sample"), np.ones((2, n), bool)),
                      "fooled": (("model", "model_b", "sample"), fooled[0]),
                      "accuracy": ("model", [0.7, 0.7])}, coords={"model": names, "model_b": names})
    ds = xr.Dataset({"fooled_autoattack": (("attacked", "attacked_b", "sample"), fooled[1]),
                     "pgd_seconds": ("attacked", [1.0, 1.0]), "autoattack_seconds": ("attacked", [1.0, 1.0])},
                    coords={"attacked": names, "attacked_b": names})
    return ds, zoo


def test_the_convergence_gate_compares_pgd_with_apgd_success():
    assert A.convergence_gate(*attack_result([0.99, 1.0], [0.995, 1.0])).passed is True
    gate = A.convergence_gate(*attack_result([0.90, 1.0], [0.99, 1.0]))   # APGD fools 9 points more: not converged
    assert gate.passed is False and "+9.00 pp (a)" in gate.detail
