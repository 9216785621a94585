"""SAT analyses with known answers: the accuracy band and the model-level bootstrap of SAT against accuracy."""
import numpy as np
import pytest
import xarray as xr

from sat_lib.analysis.sat_matrix import (accuracy_band, accuracy_effect, claims_table, cost_table, discussion,
                                   model_bootstrap,
                                   pair_frame)


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
    assert row["the interval shows"] == "SAT rises with accuracy"


def test_accuracy_effect_is_inconclusive_on_noise():
    eff = accuracy_effect(zoo_result(False, n=10, seed=3), n_boot=300)
    row = eff.loc["mean accuracy of the pair"]
    assert row["95 % CI low"] < 0 < row["95 % CI high"]
    assert row["the interval shows"] == "no detectable dependence"


def test_model_bootstrap_never_pairs_a_model_with_itself():
    ds = zoo_result(True, n=6)
    seen = []
    model_bootstrap(ds, lambda p: seen.append((p["i"] != p["j"]).all()) or 0.0, n_boot=50)
    assert seen and all(seen)


def claims_result(within_gap: float, n: int = 12, seed: int = 0) -> xr.Dataset:
    """A symmetric SAT matrix whose same-family pairs sit ``within_gap`` above the rest, diagonal ≈ 4.6."""
    rng = np.random.default_rng(seed)
    fam = np.array(["CNN", "Transformer", "Hybrid"] * n)[:n]
    noise = 0.1 * rng.standard_normal((n, n))
    sat = 2.7 + within_gap * (fam[:, None] == fam[None, :]) + (noise + noise.T) / 2
    np.fill_diagonal(sat, 4.6 + 0.01 * rng.standard_normal(n))
    names = [f"m{i}" for i in range(n)]
    sizes = [250, 500, 2000]
    stab = 60 + rng.normal(0, [[2.0], [1.0], [0.0]], (3, 10))
    return xr.Dataset({"sat": (("model", "model_b"), sat), "transfer_rate": (("model", "model_b"), np.exp(sat)),
                       "accuracy": ("model", np.linspace(0.6, 0.8, n)), "stability_rate": (("size", "repeat"), stab)},
                      coords={"model": names, "model_b": names, "family": ("model", fam), "size": sizes,
                              "repeat": np.arange(10)},
                      attrs={"params_json": '{"stability_pool": 2000, "steps": 50, "eps": 0.031, "epochs": 4, '
                                            '"train_size": 0}'})


def test_claims_table_verdicts_follow_the_intervals():
    table = claims_table(claims_result(within_gap=0.8), n_boot=300).set_index("claim")
    assert table.loc["SAT within a base-architecture family minus between families", "verdict"] == "agrees"
    assert table.loc["mean SAT between different architectures", "resampled"] == "12 models"
    # the stability row at the pool size (every subset = the pool) is left out
    assert not any("2000 images" in c for c in table.index)
    assert set(table["verdict"]) <= {"agrees", "disagrees", "inconclusive", "—"}
    # the diagonal is an equivalence with "close to 4.6" (± 0.05 around log 100): 4.60 ± 0.01 lies inside
    assert table.loc["SAT of a model with itself (mean diagonal)", "verdict"] == "agrees"
    # another zoo's mean and another pair's stds are context: shown, never judged
    assert table.loc["mean SAT between different architectures", "verdict"] == "—"
    assert (table[table["key"] == "stability_std"]["verdict"] == "—").all()
    no_gap = claims_table(claims_result(within_gap=0.0, seed=1), n_boot=300).set_index("claim")
    assert no_gap.loc["SAT within a base-architecture family minus between families", "verdict"] != "agrees"


def test_a_diagonal_far_from_log_100_disagrees():
    ds = claims_result(within_gap=0.8)
    ds["sat"].values[np.diag_indices(12)] = 4.3   # PGD fools only ~74 % of the images: not "almost 100 %"
    table = claims_table(ds, n_boot=200).set_index("claim")
    assert table.loc["SAT of a model with itself (mean diagonal)", "verdict"] == "disagrees"


def test_a_collapsed_model_makes_every_claim_not_tested():
    from sat_lib.analysis.sat_matrix import checks

    ds = claims_result(within_gap=0.8)
    ds["accuracy"].values[3] = 0.15   # below twice chance (20 % on 10 classes)
    gate = checks(ds)[0]
    assert gate.passed is False and "m3 15.0 %" in gate.detail
    table = claims_table(ds, n_boot=100)
    judged = table[table["kind"] != "context"]
    assert judged["verdict"].str.startswith("not tested (gate: every model above twice chance").all()


def test_token_gate_fails_for_a_stand_in_that_sees_two_by_two_tokens():
    from sat_lib.analysis.sat_matrix import token_gate, tokens_seen

    assert tokens_seen("levit_128s_32", 32) == 4 and tokens_seen("resnet10_c32") is None
    assert token_gate("levit_128s_32", 32).passed is False
    assert token_gate("levit_128s_32", 64).passed is True       # 4 × 4 tokens
    assert token_gate("resnet10_c32").passed is None


def test_discussion_quotes_the_table():
    ds = claims_result(within_gap=0.8)
    table = claims_table(ds, n_boot=200)
    text = discussion(ds, table)
    assert table.iloc[1]["ours [95 % CI]"] in text and "**agrees**" in text and "not judged" in text


def test_cost_table_adds_training_attack_and_evaluation():
    ds = claims_result(within_gap=0.0, n=4)
    ds["train_seconds"] = ("model", [60.0, 120.0, 60.0, 0.0])
    ds["attack_seconds"] = ("model", [30.0, 30.0, 30.0, 30.0])
    ds.attrs["evaluate_seconds"] = 60.0
    cost = cost_table(ds)
    assert cost.loc["training", "minutes"] == pytest.approx(4) and cost.loc["PGD", "minutes"] == pytest.approx(2)
    assert cost.loc["total", "minutes"] == pytest.approx(7)
    assert cost.loc["total", "models per hour"] == pytest.approx(4 / (7 / 60))
