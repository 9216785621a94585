"""Analyses of the diversity-nas chapter on a synthetic result with the diversity-ensembles layout."""
import json
import math
from itertools import combinations

import numpy as np
import pytest
import xarray as xr

from sat_lib.analysis import diversity_nas as A
from sat_lib.claims import paper_claims


def _result(m: int = 6, gain: float = 0.0, seed: int = 0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    members = np.array(list(combinations(range(m), 3)))
    e = len(members)
    imp = rng.normal(gain, 0.5, (e, 1, 1))
    ad = rng.uniform(0, 1, (e, 1))
    return xr.Dataset(
        {"improvement": (("ensemble", "set", "consensus"), imp),
         "accuracy": (("ensemble", "set", "consensus"), 70 + imp),
         "attribution_diversity": (("ensemble", "set"), ad),
         "disagreement": (("ensemble", "set"), ad + rng.normal(0, 0.05, (e, 1))),
         "member_accuracy": (("ensemble", "set"), rng.uniform(60, 70, (e, 1))),
         "attribution_variance": (("ensemble", "set"), ad),
         "top_accuracy": (("ensemble", "set"), np.full((e, 1), 70.0)),
         "member_index": (("ensemble", "member"), members),
         "model_accuracy": (("model", "set"), rng.uniform(60, 70, (m, 1))),
         "model_params": ("model", rng.integers(900_000, 1_000_000, m)),
         "zero_maps": (("model", "set"), np.zeros((m, 1))),
         "unadapted_accuracy": ("model", rng.uniform(10, 60, m)),
         "subnet_config": ("model", [json.dumps({"depth": [0, 1], "expansion": [0, 1, 2, 0], "width": [0, 1, 2]})] * m),
         "pair_diversity": (("pair", "method"), np.repeat(rng.uniform(0, 1, (m * (m - 1) // 2, 1)), 2, axis=1)),
         "pair_index": (("pair", "pair_member"), np.array(list(combinations(range(m), 2))))},
        coords={"set": ["clean"], "consensus": ["averaging"], "model": [f"nas-{i}" for i in range(m)],
                "family": ("model", ["subnetwork"] * m), "image": np.arange(100)},
        attrs={"supernet_epoch_loss_json": "[3.0, 2.0]", "supernet_params": 2_000_000,
               "supernet_train_seconds": 600.0, "supernet_layout": "bf16+cl"})


def test_claims_table_has_every_claim_with_verdicts_from_intervals():
    ds, het = _result(gain=1.0), _result(m=8, gain=4.0, seed=1)
    t = A.claims_table(ds, het, n_boot=200)
    assert list(t["key"]) == list(paper_claims("diversity-nas")["claims"])
    v = dict(zip(t["key"], t["verdict"]))
    assert v["nas_below_heterogeneous"] == "agrees"       # 1 against 4 pp, spread 0.5
    assert v["diversity_metrics_agree"] == "agrees"       # disagreement = attribution diversity + noise
    assert v["nas_improvement_tiny"] == "—"               # an ImageNet level: shown beside ours, not judged
    assert t.set_index("key").loc["nas_improvement_tiny", "kind"] == "context"
    assert v["saliency_agrees_with_ig_nas"] == "inconclusive" or "1.000" in t.set_index("key").loc[
        "saliency_agrees_with_ig_nas", "ours [95 % CI]"]


def test_without_the_heterogeneous_result_its_claim_is_inconclusive():
    t = A.claims_table(_result(), None, n_boot=100).set_index("key")
    assert t.loc["nas_below_heterogeneous", "verdict"] == "inconclusive"
    assert t.loc["nas_below_heterogeneous", "ours [95 % CI]"] == "—"


def test_two_pool_estimate_matches_the_point_difference_and_covers_it():
    a, b = _result(gain=1.0), _result(m=7, gain=0.0, seed=2)
    ia = a["improvement"].values[:, 0, 0]
    ib = b["improvement"].values[:, 0, 0]
    est = A.two_pool_estimate(a, b, lambda i: float(ia[i].mean()), lambda i: float(ib[i].mean()), n_boot=300)
    assert math.isclose(est.value, ia.mean() - ib.mean())
    assert est.low < est.value < est.high and est.n == 13
    assert est.unit == "models (6 subnetworks + 7 heterogeneous, each pool resampled)"  # each pool's own size


def test_the_largest_improvement_claim_has_a_meaningful_interval():
    """A bootstrap interval of the maximum ends at the estimate; the claim's quantile has one around it, and the
    row names the largest improvement and how many ensembles exceed the paper's bound."""
    ds = _result(gain=0.0)
    imp = ds["improvement"].values[:, 0, 0]
    row = A.claims_table(ds, None, n_boot=300).set_index("key").loc["nas_improvement_tiny"]
    value, low, high = (float(x.strip("[],")) for x in row["ours [95 % CI]"].split())
    assert low < value < high and value == pytest.approx(np.quantile(imp, A.TOP_QUANTILE), abs=0.005)
    assert f"the largest: {imp.max():.2f} pp" in row["claim"] and f"{(imp > 0.04).sum()} of {len(imp)}" in row["claim"]
    assert row["resampled"] == "6 models"


def test_the_caveat_names_each_pools_test_images():
    ds, het = _result(), _result(m=8, seed=1)
    assert "100 test images" in A.comparison_caveat(ds, het) and "same number" in A.comparison_caveat(ds, het)
    small = het.isel(image=slice(0, 10))
    text = A.comparison_caveat(ds, small)
    assert "on 100 test images" in text and "on 10" in text and "3.2×" in text
    assert "not stored" in A.comparison_caveat(ds, None)


def test_tables_describe_the_pool_and_the_supernet():
    ds = _result()
    f = A.subnets_frame(ds)
    assert list(f.index) == list(ds["model"].values) and f["blocks per stage"].iloc[0] == "1 2"
    assert "clean, before recalibration (%)" in f.columns
    assert "thousand parameters" in A.size_spread(ds)
    assert A.supernet_summary(ds)["training (min)"].iloc[0] == 10.0
    c = A.comparison_table(ds, _result(m=8, seed=3))
    assert len(c) == 2


def test_a_collapsed_subnetwork_leaves_every_claim_not_tested():
    ds = _result(gain=1.0)
    ds["model_accuracy"][0, 0] = 12.0  # at chance on ten classes
    gates = A.checks(ds)
    assert [g.passed for g in gates if g.name == "every subnetwork above twice chance accuracy"] == [False]
    t = A.claims_table(ds, None, n_boot=100, gates=gates).set_index("key")
    assert "nas-0 12.0 %" in next(g.detail for g in gates if g.passed is False)
    for key in ("nas_below_heterogeneous", "diversity_metrics_agree", "saliency_agrees_with_ig_nas"):
        assert t.loc[key, "verdict"] == "not tested (gate: every subnetwork above twice chance accuracy)", key
    assert t.loc["nas_improvement_tiny", "verdict"] == "not tested (gate: every subnetwork above twice chance accuracy)"
