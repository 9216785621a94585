import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from sat_lib.attacks import NORMS, PGDConfig, pgd
from sat_lib.registry import UnknownNameError


def tiny_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
                         nn.Flatten(), nn.Linear(32, 10))


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(1)
    return torch.rand(32, 3, 8, 8, generator=g), torch.randint(0, 10, (32,), generator=g)


def _norm(t, kind):
    flat = t.flatten(1)
    return flat.abs().amax(1) if kind == "linf" else flat.norm(dim=1)


@pytest.mark.parametrize("norm,eps,alpha", [("linf", 8 / 255, 2 / 255), ("l2", 0.5, 0.1)])
def test_stays_in_ball_and_box_and_raises_loss(batch, norm, eps, alpha):
    x, y = batch
    model = tiny_model()
    adv = pgd(model, x, y, PGDConfig(norm=norm, eps=eps, step_size=alpha, steps=10))
    assert adv.shape == x.shape and adv.dtype == torch.float32
    assert adv.min() >= 0 and adv.max() <= 1
    assert (_norm(adv - x, norm) <= eps + 1e-5).all()
    model.eval()
    with torch.no_grad():
        assert F.cross_entropy(model(adv), y) > F.cross_entropy(model(x), y) + 1e-3


def test_restores_model_mode(batch):
    x, y = batch
    model = tiny_model().train()
    pgd(model, x, y, PGDConfig(steps=2))
    assert model.training
    model.eval()
    pgd(model, x, y, PGDConfig(steps=2))
    assert not model.training
    assert all(p.grad is None for p in model.parameters())


def test_seeded_and_independent_of_batch_size(batch):
    x, y = batch
    model = tiny_model()
    a = pgd(model, x, y, PGDConfig(steps=3, seed=5), batch_size=32)
    b = pgd(model, x, y, PGDConfig(steps=3, seed=5), batch_size=7)
    c = pgd(model, x, y, PGDConfig(steps=3, seed=6), batch_size=32)
    torch.testing.assert_close(a, b)
    assert not torch.equal(a, c)


def test_uint8_input_is_scaled(batch):
    x, y = batch
    x8 = (x * 255).round().to(torch.uint8)
    adv = pgd(tiny_model(), x8, y, PGDConfig(steps=1, random_start=False))
    assert adv.max() <= 1 and (adv - x8.float() / 255).abs().max() <= 8 / 255 + 1e-6


def test_zero_steps_returns_projected_start(batch):
    x, y = batch
    adv = pgd(tiny_model(), x, y, PGDConfig(steps=0, random_start=False))
    torch.testing.assert_close(adv, x)


def test_bad_inputs(batch):
    x, y = batch
    with pytest.raises(ValueError, match="differ in length"):
        pgd(tiny_model(), x, y[:3])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        pgd(tiny_model(), x * 3, y)
    with pytest.raises(UnknownNameError, match="did you mean 'linf'"):
        PGDConfig(norm="lnf")
    with pytest.raises(ValueError, match="step_size"):
        PGDConfig(step_size=0)


def test_oom_halves_the_batch(batch, monkeypatch):
    import sat_lib.attacks as attacks

    x, y = batch
    real = attacks._pgd_batch
    seen = []

    def flaky(model, xb, *a, **k):
        seen.append(xb.shape[0])
        if xb.shape[0] > 8:
            raise RuntimeError("CUDA out of memory. Tried to allocate 1 GiB")
        return real(model, xb, *a, **k)

    monkeypatch.setattr(attacks, "_pgd_batch", flaky)
    with pytest.warns(RuntimeWarning, match="batch_size=8"):
        adv = pgd(tiny_model(), x, y, PGDConfig(steps=2), batch_size=32)
    monkeypatch.setattr(attacks, "_pgd_batch", real)
    torch.testing.assert_close(adv, pgd(tiny_model(), x, y, PGDConfig(steps=2), batch_size=32))
    assert seen[:3] == [32, 16, 8]


@pytest.mark.parametrize("norm,eps,alpha", [("linf", 8 / 255, 2 / 255), ("l2", 0.5, 0.1)])
def test_matches_torchattacks_with_the_same_start(batch, norm, eps, alpha):
    torchattacks = pytest.importorskip("torchattacks")
    x, y = batch
    model = tiny_model().eval()
    steps = 5
    if norm == "linf":
        peer = torchattacks.PGD(model, eps=eps, alpha=alpha, steps=steps, random_start=False)
    else:
        peer = torchattacks.PGDL2(model, eps=eps, alpha=alpha, steps=steps, random_start=False)
    theirs = peer(x, y)
    ours = pgd(model, x, y, PGDConfig(norm=norm, eps=eps, step_size=alpha, steps=steps, random_start=False),
               precision="fp32")
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)


def test_every_norm_is_registered_with_all_parts():
    assert set(NORMS) == {"linf", "l2"}
