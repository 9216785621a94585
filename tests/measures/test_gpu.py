"""The measures run on the input's device and agree with the CPU (skipped without CUDA)."""
from __future__ import annotations

import pytest
import torch

from sat_lib.measures import (
    MinibatchCKA,
    gradient_cosine,
    knn_jaccard,
    linear_cka,
    majority_vote,
    pairwise,
    procrustes_similarity,
    sat_matrix,
)

pytestmark = pytest.mark.gpu


@pytest.fixture
def pair() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(200, 32, generator=gen)
    return x, torch.tanh(x @ torch.randn(32, 48, generator=gen))


@pytest.mark.parametrize("fn", [linear_cka, procrustes_similarity, knn_jaccard], ids=lambda f: f.__name__)
def test_representational_measures_on_cuda(fn, pair):
    x, y = pair
    assert fn(x.cuda(), y.cuda()) == pytest.approx(fn(x, y), abs=1e-10)


def test_other_measures_on_cuda(pair):
    x, y = pair
    assert linear_cka(x.cuda(), y.cuda(), debiased=True) == pytest.approx(linear_cka(x, y, debiased=True), abs=1e-10)
    acc = MinibatchCKA()
    acc.update(x.cuda(), y.cuda())
    assert acc.compute() == pytest.approx(linear_cka(x, y, debiased=True), abs=1e-10)
    assert gradient_cosine(x.cuda(), y[:, :32].cuda()) == pytest.approx(gradient_cosine(x, y[:, :32]), abs=1e-10)
    fooled = torch.rand(3, 3, 50) < 0.5
    correct = torch.rand(3, 50) < 0.8
    torch.testing.assert_close(sat_matrix(fooled.cuda(), correct.cuda())[0].cpu(), sat_matrix(fooled, correct)[0])
    assert majority_vote(torch.randint(0, 4, (5, 100), device="cuda")).device.type == "cuda"
    out = pairwise("linear_cka", [x.cuda(), y.cuda()])
    assert float(out[0, 1]) == pytest.approx(linear_cka(x, y), abs=1e-10)


def test_mixed_devices_are_rejected(pair):
    x, y = pair
    with pytest.raises(ValueError, match="expected every input on one device"):
        linear_cka(x.cuda(), y)
