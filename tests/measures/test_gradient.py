"""Input gradients, gradient cosine, mean direction and t statistic."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sat_lib.measures import downsample_gradients, gradient_cosine, input_gradients, mean_direction, t_statistic


def tiny_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Dropout(0.5), nn.Linear(64, 5)
    ).double()


@pytest.fixture
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return torch.randn(6, 3, 4, 4, generator=gen, dtype=torch.float64), torch.randint(0, 5, (6,), generator=gen)


def _manual(model: nn.Module, x: torch.Tensor, y: torch.Tensor, of: str) -> torch.Tensor:
    model.eval()
    xi = x.clone().requires_grad_(True)
    out = model(xi)
    value = out.gather(1, y[:, None]).sum() if of == "logit" else F.cross_entropy(out, y, reduction="sum")
    (g,) = torch.autograd.grad(value, xi)
    return g


@pytest.mark.parametrize("of", ["logit", "loss"])
def test_input_gradients_match_autograd(of: str, batch):
    x, y = batch
    model = tiny_model()
    got = input_gradients(model, x, y, of=of)
    assert got.shape == x.shape and not got.requires_grad
    torch.testing.assert_close(got, _manual(tiny_model(), x, y, of))


def test_logit_gradients_are_signed(batch):
    x, y = batch
    assert (input_gradients(tiny_model(), x, y) < 0).any()  # captum's Saliency defaults to abs=True


def test_input_gradients_restore_modes_and_leave_no_param_grads(batch):
    x, y = batch
    model = tiny_model()
    model.train()
    model[1].eval()  # a mixed state must survive
    input_gradients(model, x, y)
    input_gradients(model, x, y, of="loss")
    assert model.training and model[0].training and not model[1].training
    assert all(p.grad is None for p in model.parameters())


def test_int_target_is_broadcast(batch):
    x, _ = batch
    torch.testing.assert_close(
        input_gradients(tiny_model(), x, 2), input_gradients(tiny_model(), x, torch.full((6,), 2))
    )


def test_prob_gradient_is_the_true_class_probability_gradient(batch):
    x, y = batch
    model = tiny_model().eval()
    xi = x.clone().requires_grad_(True)
    p = model(xi).softmax(1).gather(1, y[:, None]).sum()
    (want,) = torch.autograd.grad(p, xi)
    torch.testing.assert_close(input_gradients(model, x, y, of="prob"), want)


def test_input_gradient_errors(batch):
    x, y = batch
    with pytest.raises(ValueError, match="input_gradients: argument 'of' is 'probability'"):
        input_gradients(tiny_model(), x, y, of="probability")
    with pytest.raises(ValueError, match=r"input_gradients: expected equal n_samples, got target=\(5,\)"):
        input_gradients(tiny_model(), x, y[:5])
    with pytest.raises(ValueError, match="input_gradients: argument 'target' has dtype torch.float32"):
        input_gradients(tiny_model(), x, y.float())


def test_gradient_cosine_by_hand():
    g = torch.randn(5, 3, 4, 4, dtype=torch.float64)
    assert gradient_cosine(g, 2.5 * g) == pytest.approx(1.0)
    assert gradient_cosine(g, -g) == pytest.approx(-1.0)
    a = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    b = torch.tensor([[0.0, 3.0], [1.0, 0.0]])
    per = gradient_cosine(a, b, reduce="none")
    torch.testing.assert_close(per, torch.tensor([0.0, 1 / math.sqrt(2)], dtype=torch.float64))
    assert gradient_cosine(a, b) == pytest.approx(0.5 / math.sqrt(2))


def test_gradient_cosine_with_downsampling():
    g1, g2 = torch.randn(4, 3, 32, 32), torch.randn(4, 3, 32, 32)
    small = downsample_gradients(g1, 8)
    assert small.shape == (4, 3, 8, 8)
    torch.testing.assert_close(small, F.interpolate(g1, size=(8, 8), mode="area"))
    expected = gradient_cosine(F.interpolate(g1, size=8, mode="area"), F.interpolate(g2, size=8, mode="area"))
    assert gradient_cosine(g1, g2, downsample=8) == pytest.approx(expected)
    assert downsample_gradients(torch.randn(2, 4, 3, 16, 16), 8).shape == (2, 4, 3, 8, 8)  # stacked over models


def test_zero_gradients_raise_unless_asked():
    a = torch.randn(3, 4)
    b = a.clone()
    b[1] = 0
    with pytest.raises(ValueError, match="gradient_cosine: argument 'g2' has 1 sample.*all-zero gradient"):
        gradient_cosine(a, b)
    per = gradient_cosine(a, b, reduce="none", zero="zero")
    assert per[1] == 0 and per[0] == pytest.approx(1.0)


def test_gradient_cosine_shape_mismatch():
    with pytest.raises(ValueError, match=r"gradient_cosine: expected equal shapes, got g1=\(3, 4\) and g2=\(3, 5\)"):
        gradient_cosine(torch.randn(3, 4), torch.randn(3, 5))


def test_mean_direction_and_t_statistic_by_hand():
    # two models, one sample: orthogonal unit directions (with different lengths)
    grads = torch.tensor([[[3.0, 0.0]], [[0.0, 0.5]]])
    mu = mean_direction(grads)
    torch.testing.assert_close(mu, torch.tensor([[0.5, 0.5]], dtype=torch.float64))
    t = t_statistic(grads)
    assert t.shape == (2, 1)
    torch.testing.assert_close(t, torch.full((2, 1), 1 / math.sqrt(2), dtype=torch.float64))
    # a list of per-model tensors works, and an explicit mean direction is used as given
    t2 = t_statistic([grads[0], grads[1]], mean=torch.tensor([[1.0, 0.0]]))
    torch.testing.assert_close(t2, torch.tensor([[1.0], [0.0]], dtype=torch.float64))


def test_mean_direction_shapes():
    grads = torch.randn(4, 6, 3, 5, 5)
    assert mean_direction(grads).shape == (6, 3, 5, 5)
    assert t_statistic(grads).shape == (4, 6)
    assert (mean_direction(grads).flatten(1).norm(dim=1) <= 1 + 1e-12).all()
    with pytest.raises(ValueError, match=r"t_statistic: expected mean of shape \(6, 3, 5, 5\)"):
        t_statistic(grads, mean=torch.randn(6, 75))
