"""Shared fixtures: fixed seeds, a project-local temporary cache, a CPU-only torch."""
from __future__ import annotations

import os
import random
import tempfile

import numpy as np
import pytest
import torch


# Layout calibrations measured by tests go to a file of this session (Dask workers the tests start inherit it),
# never into the project's data/cache/calibration.json, which a background run may be using.
os.environ.setdefault("SAT_CALIBRATION_FILE", os.path.join(tempfile.mkdtemp(prefix="sat-tests-"), "calibration.json"))


@pytest.fixture(autouse=True)
def _fixed_seeds():
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    yield


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)
