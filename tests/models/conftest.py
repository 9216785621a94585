"""Model-zoo tests: ``slow`` ones run only when asked for (``pytest -m slow``), on one CPU thread.

The project's pytest options do not deselect ``slow`` by default; this keeps ``pytest tests/models`` fast
until they do (any ``-m`` expression, e.g. ``-m "not slow"`` in addopts, switches this off).
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

_HERE = Path(__file__).parent


@pytest.fixture(autouse=True)
def _one_cpu_thread():
    """These tests push batches of 1-3 images: one intra-op thread is as fast, and on a busy 2-core machine
    several threads per process spin against each other (a 36-model sweep went from 7 s to 97 s)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def pytest_collection_modifyitems(config, items):
    if config.getoption("markexpr", ""):
        return
    skip = pytest.mark.skip(reason="slow: run with -m slow")
    for item in items:
        if "slow" in item.keywords and _HERE in Path(str(item.fspath)).parents:
            item.add_marker(skip)
