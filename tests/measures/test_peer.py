"""Optional agreement with the ckatorch package (skipped when it is not installed)."""
from __future__ import annotations

import pytest
import torch

from sat_lib.measures import MinibatchCKA, linear_cka

pytestmark = pytest.mark.peer


@pytest.fixture
def ckatorch():
    return pytest.importorskip("ckatorch")


def _pair(n: int = 64, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 12, generator=gen, dtype=torch.float64)
    return x, torch.tanh(x @ torch.randn(12, 9, generator=gen, dtype=torch.float64))


def test_linear_cka_matches_ckatorch(ckatorch):
    x, y = _pair()
    assert linear_cka(x, y) == pytest.approx(float(ckatorch.cka_base(x, y)), abs=1e-12)
    assert linear_cka(x, y, debiased=True) == pytest.approx(float(ckatorch.cka_base(x, y, unbiased=True)), abs=1e-12)


def test_minibatch_cka_matches_ckatorch(ckatorch):
    x, y = _pair(96)
    acc = MinibatchCKA()
    for i in range(0, 96, 32):
        acc.update(x[i:i + 32], y[i:i + 32])
    ref = ckatorch.cka_batch(x.reshape(3, 32, 12), y.reshape(3, 32, 9))
    assert acc.compute() == pytest.approx(float(ref), abs=1e-12)
