"""Attribution diversity (design-diversity Eq. 7)."""
from __future__ import annotations

import pytest
import torch
from captum.attr import IntegratedGradients, Saliency

from sat_lib.measures import attribution_diversity, attribution_variance

from .test_gradient import tiny_model


def test_attribution_variance_by_hand():
    # two members, one sample, two "pixels": values (0, 2) and (1, 1) -> variances 1 and 0 -> A = 1
    a = torch.tensor([[[0.0, 1.0]], [[2.0, 1.0]]])
    assert attribution_variance(a) == pytest.approx(1.0)
    # population variance over members (divide by M), summed over channels and pixels, averaged over samples
    stacked = torch.randn(4, 3, 2, 5, 5, dtype=torch.float64)
    expected = stacked.var(dim=0, unbiased=False).sum(dim=(1, 2, 3)).mean()
    assert attribution_variance(stacked) == pytest.approx(float(expected))
    assert attribution_variance(stacked, reduce="none").shape == (3,)


def test_normalised_attribution_variance():
    base = torch.randn(1, 6, 3, 4, 4, dtype=torch.float64)
    assert attribution_variance(torch.cat([base, 5 * base])) > 1.0  # raw variance sees the scale difference
    assert attribution_variance(torch.cat([base, 5 * base]), normalize=True) == pytest.approx(0.0, abs=1e-12)
    assert attribution_variance(torch.cat([base, -base]), normalize=True) == pytest.approx(1.0)
    m = torch.randn(3, 6, 3, 4, 4, dtype=torch.float64)
    u = m.flatten(2) / m.flatten(2).norm(dim=2, keepdim=True)
    expected = (1 - u.mean(0).square().sum(1)).mean()
    assert attribution_variance(m, normalize=True) == pytest.approx(float(expected))


def test_attribution_variance_needs_two_members():
    with pytest.raises(ValueError, match="attribution_variance: .* expected at least 2 members"):
        attribution_variance(torch.randn(1, 4, 3, 2, 2))
    with pytest.raises(ValueError, match="attribution_variance: argument 'attributions' has dtype torch.int64"):
        attribution_variance(torch.ones(2, 4, 3, 2, 2, dtype=torch.int64))


@pytest.fixture
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return torch.randn(5, 3, 4, 4, generator=gen, dtype=torch.float64), torch.randint(0, 5, (5,), generator=gen)


def test_saliency_diversity_matches_manual_captum(batch):
    x, y = batch
    models = [tiny_model(0), tiny_model(1), tiny_model(2)]
    for m in models:
        m.eval()
    maps = torch.stack([Saliency(m).attribute(x.clone().requires_grad_(), target=y) for m in models])
    assert attribution_diversity(models, x, y) == pytest.approx(attribution_variance(maps))
    signed = torch.stack([Saliency(m).attribute(x.clone().requires_grad_(), target=y, abs=False) for m in models])
    got = attribution_diversity(models, x, y, absolute=False, normalize=True)
    assert got == pytest.approx(attribution_variance(signed, normalize=True))


def test_integrated_gradients_diversity(batch):
    x, y = batch
    models = [tiny_model(0), tiny_model(1)]
    for m in models:
        m.train()
    got = attribution_diversity(models, x, y, method="integrated_gradients", n_steps=8, internal_batch_size=16)
    assert all(m.training for m in models)  # modes restored
    for m in models:
        m.eval()
    maps = torch.stack([IntegratedGradients(m).attribute(x, target=y, n_steps=8) for m in models])
    assert got == pytest.approx(attribution_variance(maps), rel=1e-9)


def test_identical_members_have_no_diversity(batch):
    x, y = batch
    assert attribution_diversity([tiny_model(0), tiny_model(0)], x, y) == 0.0


def test_attribution_diversity_errors(batch):
    x, y = batch
    with pytest.raises(ValueError, match="attribution_diversity: argument 'method' is 'gradcam'"):
        attribution_diversity([tiny_model(), tiny_model()], x, y, method="gradcam")
    with pytest.raises(ValueError, match="attribution_diversity: argument 'models' has 1 model"):
        attribution_diversity([tiny_model()], x, y)
