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
