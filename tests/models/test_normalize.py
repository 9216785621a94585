"""``Normalized``: normalisation inside the model, inputs in [0, 1]."""
from __future__ import annotations

import pytest
import torch

from sat_lib.models import Normalized, build_model

MEAN, STD = (0.49, 0.48, 0.45), (0.25, 0.24, 0.26)


@pytest.fixture
def inner() -> torch.nn.Module:
    return build_model("tiny", "tiny_cnn", num_classes=10, img_size=32).eval()


def test_same_output_as_normalising_by_hand(inner):
    x = torch.rand(4, 3, 32, 32)
    by_hand = inner((x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1))
    torch.testing.assert_close(Normalized(inner, MEAN, STD)(x), by_hand)


def test_gradients_reach_the_unit_interval_input(inner):
    model = Normalized(inner, MEAN, STD)
    x = torch.rand(2, 3, 32, 32, requires_grad=True)
    model(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    # d/dx of f((x - m) / s) is f'(.) / s: compare with the gradient taken on the normalised input
    z = ((x.detach() - model.mean) / model.std).requires_grad_(True)
    inner(z).sum().backward()
    torch.testing.assert_close(x.grad, z.grad / model.std)


def test_inner_buffers_and_state_dict(inner):
    model = Normalized(inner, MEAN, STD)
    assert model.inner is inner
    assert {n for n, _ in model.named_buffers()} >= {"mean", "std"}
    assert all(k.startswith("inner.") for k in model.state_dict())
    assert model.to("meta").mean.device.type == "meta"


def test_channels_last_input_stays_channels_last(inner):
    model = Normalized(inner, MEAN, STD)
    x = torch.rand(2, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    assert model.normalize(x).is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(model(x), model(x.contiguous()))


def test_single_channel():
    gray = build_model("tiny", "tiny_vit", num_classes=10, img_size=28, in_chans=1)
    out = Normalized(gray, [0.286], [0.353])(torch.rand(2, 1, 28, 28))
    assert out.shape == (2, 10)


@pytest.mark.parametrize("mean, std, match", [((0.5, 0.5), (0.2, 0.2, 0.2), "one value per channel"),
                                              ((0.5,), (0.0,), "positive"), ((), (), "one value per channel")])
def test_bad_statistics_are_refused(inner, mean, std, match):
    with pytest.raises(ValueError, match=match):
        Normalized(inner, mean, std)


def test_wrong_channel_count_is_refused(inner):
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        Normalized(inner, MEAN, STD)(torch.rand(2, 1, 32, 32))
