"""The measures appendix's headline: every measure between the two models, and each invariance check."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from sat_lib.plots import measures as F
from tests.plots._checks import assert_polished

RESULTS = Path(__file__).resolve().parents[2] / "data" / "results" / "measures"


def synthetic() -> xr.Dataset:
    measures = ["linear_cka", "procrustes_similarity"]
    transforms = ["none", "orthogonal", "translation", "self"]
    rep = np.array([[0.5, 0.5, 0.5, 1.0], [0.55, 0.55, 0.3, 1.0]])
    return xr.Dataset(
        {"representational": (("measure", "transform"), rep),
         "declared_invariant": (("measure", "transform"), np.array([[1, 1, 1, 1], [1, 1, 0, 1]], dtype="int8")),
         "functional": ("functional_measure", [0.48, 0.92]),
         "gradient_cosine": ("resolution", [0.06, 0.23])},
        coords={"measure": measures, "transform": transforms, "functional_measure": ["agreement", "jsd_similarity"],
                "resolution": ["full", "8x8"], "model": ["model_a", "model_b"]})


def test_draws_polished_and_marks_the_declared_invariances():
    ds = synthetic()
    fig = F.measures(ds)
    assert_polished(fig)
    bars, heat = fig.axes[:2]
    assert len([p for p in bars.patches if p.get_width() > 0]) == 2 + 2 + 2   # representational, functional, gradient
    marks = [line for line in heat.lines if line.get_marker() == "o"]
    assert len(marks) == 3, "the declared invariances among orthogonal and translation, self and none left out"
    moved = heat.images[0].get_array()
    assert moved.shape == (2, 2) and moved[1, 1] == pytest.approx(np.log10(0.25))   # procrustes, translation


def test_draws_the_stored_result():
    files = sorted(RESULTS.glob("*.nc"))
    if not files:
        pytest.skip("no stored measures result")
    assert_polished(F.measures(xr.load_dataset(files[0])))
