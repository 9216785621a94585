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


@pytest.fixture
def serial_and_local(tmp_path, monkeypatch):
    """``serial_and_local(fn)`` → ``{"serial": fn(), "local": fn()}``: ``fn`` run once serially and once on a
    2-worker Dask LocalCluster, each with its own cache and results folders under ``tmp_path / scheduler`` and one
    shared layout-calibration file (as a cluster shares its cache folder), both with one torch thread per job."""
    monkeypatch.setenv("SAT_CALIBRATION_FILE", str(tmp_path / "calibration.json"))

    def both(fn):
        runs = {}
        for scheduler in ("serial", "local"):
            monkeypatch.setenv("SAT_CACHE_DIR", str(tmp_path / scheduler / "cache"))
            monkeypatch.setenv("SAT_RESULTS_DIR", str(tmp_path / scheduler / "results"))
            monkeypatch.setenv("SAT_SCHEDULER", scheduler)
            monkeypatch.setenv("SAT_WORKERS", "2")
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                runs[scheduler] = fn()
            finally:
                torch.set_num_threads(threads)
        return runs

    return both


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
