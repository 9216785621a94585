"""Auto-PGD: its schedule, that it fools at least as often as PGD of the same budget, and a peer check against
torchattacks.APGD and torchattacks.APGDT on the same model and images."""
import pytest
import torch
import torch.nn as nn

from sat_lib.apgd import APGDConfig, apgd, checkpoints
from sat_lib.attacks import PGDConfig, pgd


def test_checkpoints_follow_the_papers_schedule():
    assert checkpoints(100) == [22, 41, 57, 70, 80, 87, 93, 99]  # p_j = 0.22, 0.41, 0.57, 0.70, 0.80, …


@pytest.fixture(scope="module")
def model_and_data():
    """A small MLP trained on separable-ish random data, with clean accuracy well above chance."""
    g = torch.Generator().manual_seed(0)
    centers = torch.rand(6, 1, 6, 6, generator=g)
    y = torch.randint(0, 6, (300,), generator=g)
    x = (centers[y] + 0.15 * torch.randn(300, 1, 6, 6, generator=g)).clamp(0, 1)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(36, 64), nn.ReLU(), nn.Linear(64, 6))
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    for _ in range(200):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    model.eval()
    return model, x, y


def _acc(model, x, y):
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


@pytest.mark.parametrize("loss", ["ce", "dlr", "dlr-targeted"])
@pytest.mark.parametrize("norm, eps", [("linf", 0.2), ("l2", 1.2)])
def test_apgd_stays_in_the_ball_fools_and_matches_pgd_on_its_loss(model_and_data, loss, norm, eps):
    model, x, y = model_and_data
    adv = apgd(model, x, y, APGDConfig(norm=norm, eps=eps, steps=30, loss=loss, n_targets=3), precision="fp32")
    d = (adv - x).flatten(1)
    assert adv.min() >= 0 and adv.max() <= 1
    assert (d.abs().max(1).values <= eps + 1e-6).all() if norm == "linf" else (d.norm(dim=1) <= eps + 1e-5).all()
    clean = _acc(model, x, y)
    ours = _acc(model, adv, y)
    base = _acc(model, pgd(model, x, y, PGDConfig(norm=norm, eps=eps, step_size=eps / 4, steps=30), precision="fp32"), y)
    assert ours < clean
    if loss == "ce":  # the same loss as PGD: APGD's schedule should do at least as well (DLR may do worse alone)
        assert ours <= base + 0.03


def test_same_seed_same_examples_any_batch_size(model_and_data):
    model, x, y = model_and_data
    cfg = APGDConfig(eps=0.08, steps=10)
    a = apgd(model, x, y, cfg, batch_size=300, precision="fp32")
    b = apgd(model, x, y, cfg, batch_size=64, precision="fp32")
    torch.testing.assert_close(a, b)


@pytest.mark.parametrize("loss", ["ce", "dlr"])
def test_matches_torchattacks_apgd_in_robust_accuracy(model_and_data, loss):
    torchattacks = pytest.importorskip("torchattacks")
    model, x, y = model_and_data
    eps = 0.2
    ours = _acc(model, apgd(model, x, y, APGDConfig(eps=eps, steps=50, loss=loss), precision="fp32"), y)
    torch.manual_seed(0)
    peer = torchattacks.APGD(model, norm="Linf", eps=eps, steps=50, n_restarts=1, loss=loss, seed=0)
    theirs = _acc(model, peer(x, y), y)
    assert abs(ours - theirs) <= 0.03, (ours, theirs)


@pytest.mark.parametrize("eps", [0.15, 0.2])
def test_targeted_matches_torchattacks_apgdt_in_robust_accuracy(model_and_data, eps):
    """APGD-T: every target among the clean top 2 … 6 of a 6-class model, as torchattacks.APGDT with
    n_classes = 6 tries its n_classes − 1 targets."""
    torchattacks = pytest.importorskip("torchattacks")
    model, x, y = model_and_data
    ours = _acc(model, apgd(model, x, y, APGDConfig(eps=eps, steps=50, loss="dlr-targeted", n_targets=5),
                            precision="fp32"), y)
    torch.manual_seed(0)
    peer = torchattacks.APGDT(model, norm="Linf", eps=eps, steps=50, n_restarts=1, n_classes=6, seed=0)
    theirs = _acc(model, peer(x, y), y)
    assert ours < _acc(model, x, y)
    assert abs(ours - theirs) <= 0.03, (ours, theirs)


def test_bad_configs_are_named():
    with pytest.raises(KeyError, match="APGD loss"):
        APGDConfig(loss="cw")
    with pytest.raises(ValueError, match="steps"):
        APGDConfig(steps=0)
