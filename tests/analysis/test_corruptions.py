"""Analyses of the corruptions chapter on hand-made frames."""
import math

import numpy as np
import pandas as pd
import pytest

from sat_lib.analysis import corruptions as A


def test_adjusted_r2_pays_for_predictors():
    rng = np.random.default_rng(0)
    y = rng.normal(size=300)
    noise = rng.normal(size=(300, 5))
    assert abs(A.adjusted_r2(noise, y)) < 0.03  # unrelated predictors: about 0 after adjustment
    assert A.adjusted_r2(y[:, None] * 2 + 1, y) == pytest.approx(1.0)
    assert math.isnan(A.adjusted_r2(noise[:4, :4], y[:4]))  # no degrees of freedom left


def test_family_explains_a_resilience_set_by_family():
    f = pd.DataFrame({"family": ["CNN"] * 6 + ["Transformer"] * 6,
                      "params (M)": np.linspace(1, 12, 12), "clean (%)": np.linspace(50, 80, 12)[::-1],
                      "relative resilience": [0.5] * 6 + [0.8] * 6})
    f["relative resilience"] += np.random.default_rng(1).normal(0, 0.01, 12)
    idx = np.arange(12)
    assert A.explained(f, idx, "family") > 0.9
    assert A.explained(f, idx, "family") > A.explained(f, idx, "size")
    gap = A.attention_gap(f.assign(r=100 * f["relative resilience"]), "r", n_boot=200)
    assert gap.value == pytest.approx(30, abs=2) and gap.low > 0


def _zoo(n_models=8, n=300, seed=0, collapsed=None):
    """A corruptions result: models of two families on a clean set and the four paper corruptions, each model
    right on about 80 % of the clean images and less on the corrupted ones; ``collapsed``: that model predicts
    class 0 everywhere."""
    import json

    import xarray as xr

    rng = np.random.default_rng(seed)
    sets = ["clean", "plasma_noise@4", "checkerboard_cutout@4", "water_drop@7", "lines@1.6"]
    label = rng.integers(0, 10, n)
    p_right = np.array([0.8, 0.4, 0.4, 0.5, 0.4])
    right = rng.random((n_models, len(sets), n)) < p_right[None, :, None]
    pred = np.where(right, label, (label + 1) % 10)
    if collapsed is not None:
        pred[collapsed] = 0
    names = [f"m{i}" for i in range(n_models)]
    return xr.Dataset(
        {"pred": (("model", "set", "image"), pred.astype(np.int16)), "label": ("image", label.astype(np.int16)),
         "n_params": ("model", rng.integers(10**5, 10**6, n_models))},
        coords={"model": names, "set": sets, "family": ("model", ["CNN"] * (n_models // 2) + ["Transformer"]
                                                         * (n_models - n_models // 2)),
                "kind": ("set", ["clean"] + ["paper"] * 4), "corruption": ("set", ["clean"] + [s.split("@")[0]
                                                                                               for s in sets[1:]]),
                "severity": ("set", [0.0, 4.0, 4.0, 7.0, 1.6])},
        attrs={"baseline": "m0", "sets_json": json.dumps([])})


def test_the_baselines_drop_is_one_statement_over_the_four_corruptions():
    table = A.claims_table(_zoo(), n_boot=200)
    rows = table[table["key"] == "baseline_drops_under_corruption"]
    assert len(rows) == 4 and set(rows["verdict"]) == {"agrees"}  # 80 % clean against 40-50 % corrupted
    from sat_lib.claims.verdict import statements
    st = statements(table).set_index("key")
    assert st.loc["baseline_drops_under_corruption", "rows"] == 4
    assert st.loc["baseline_lines_ratio", "verdict"] == "—"  # context: the paper's ImageNet level, not judged


def test_a_collapsed_zoo_model_fails_the_gate_and_leaves_the_claims_not_tested():
    gate = A.checks(_zoo(collapsed=3))[0]
    assert gate.passed is False and "m3" in gate.detail and "twice chance: 20 %" in gate.detail
    table = A.claims_table(_zoo(collapsed=3), n_boot=50)
    tested = table[table["kind"] != "context"]
    assert set(tested["verdict"]) == {"not tested (gate: every zoo model above twice chance accuracy)"}
    assert A.checks(_zoo())[0].passed is True
