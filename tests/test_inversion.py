"""Image inversion (Eq. 7 of the robustness paper): it lowers the objective, keeps pixels valid, stays in its
ball, and refuses bad input."""
import pytest
import torch
import torch.nn as nn

from sat_lib.inversion import InversionConfig, invert, relative_distance


def model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten(),
                         nn.Linear(128, 16), nn.ReLU(), nn.Linear(16, 4))


def images(n, seed):
    return torch.rand(n, 3, 8, 8, generator=torch.Generator().manual_seed(seed))


def test_inversion_lowers_the_relative_representation_distance():
    m = model()
    seeds, targets = images(6, 1), images(6, 2)
    inv = invert(m, seeds, targets, InversionConfig(steps=100, step_size=1.0), batch_size=4)
    assert inv.images.shape == seeds.shape
    assert (inv.final_distance < inv.start_distance).all(), (inv.start_distance, inv.final_distance)
    assert inv.final_distance.mean() < 0.5 * inv.start_distance.mean()  # some targets need dead ReLUs: not all
    assert inv.images.min() >= 0 and inv.images.max() <= 1
    assert not torch.equal(inv.images, targets)  # it moved the seed, it did not copy the target


def test_the_ball_around_the_seed_holds():
    m = model()
    seeds, targets = images(3, 3), images(3, 4)
    inv = invert(m, seeds, targets, InversionConfig(steps=20, step_size=0.5, eps=0.3))
    assert ((inv.images - seeds).flatten(1).norm(dim=1) <= 0.3 + 1e-5).all()


def test_the_start_distance_is_the_objective_at_the_seed():
    m = model().eval()
    seeds, targets = images(2, 5), images(2, 6)
    inv = invert(m, seeds, targets, InversionConfig(steps=1))
    feats = lambda x: m[:-1](x)  # noqa: E731 - the classifier's input
    torch.testing.assert_close(inv.start_distance, relative_distance(feats(seeds), feats(targets)).detach())


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="steps"):
        InversionConfig(steps=0)
    with pytest.raises(ValueError, match="step_size"):
        InversionConfig(step_size=float("nan"))
    with pytest.raises(ValueError, match="differ in shape"):
        invert(model(), images(2, 0), images(3, 0))
