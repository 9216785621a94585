"""A figure is the same run to run: nothing it draws depends on numpy's global generator, which a notebook kernel
seeds from the operating system (strip-plot jitter and seaborn's bootstrapped bands are seeded)."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from sat_lib.plots import sat_ensembles, sat_training

RESULTS = Path(__file__).resolve().parents[2] / "data" / "results"


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=60)
    return buf.getvalue()


def _stored(chapter: str) -> xr.Dataset:
    files = sorted((RESULTS / chapter).glob("*.nc"))
    if not files:
        pytest.skip(f"no stored {chapter} result")
    return xr.open_dataset(files[0])


@pytest.mark.parametrize("draw", [lambda: sat_training.accuracy(_stored("sat-training")),
                                  lambda: sat_ensembles.by_training(_stored("sat-ensembles"))],
                         ids=["retrained accuracy (strip plot)", "ensembles by training (bootstrapped band)"])
def test_a_figure_does_not_depend_on_the_global_generator(draw):
    pngs = []
    for seed in (1, 2):
        np.random.seed(seed)
        pngs.append(_png(draw()))
    state = np.random.get_state()[1][:4].copy()
    assert pngs[0] == pngs[1]
    assert (np.random.get_state()[1][:4] == state).all(), "the global generator's state is restored"
