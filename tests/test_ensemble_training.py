"""sat_lib.ensemble_training: consensus rules, the Fig. 10 objectives and joint training through the trainer."""
import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from sat_lib.ensemble_training import (CONSENSUS, METHODS, EnsembleObjective, Members, consensus_predictions,
                                       curvature_quadratic, input_saliency, members_cross_entropy)
from sat_lib.train import TrainConfig, train


def linear_members(m=3, seed=0):
    torch.manual_seed(seed)
    return Members([nn.Sequential(nn.Flatten(), nn.Linear(12, 4)) for _ in range(m)])


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(1)
    return torch.rand(6, 3, 2, 2, generator=g), torch.randint(0, 4, (6,), generator=g)


def test_members_stack_logits_and_take_one_input_per_member(batch):
    x, _ = batch
    ms = linear_members()
    h = ms(x)
    assert h.shape == (3, 6, 4)
    assert torch.allclose(h[1], ms.members[1](x))
    assert torch.allclose(ms([x, x, x]), h)
    with pytest.raises(ValueError, match="3 members"):
        ms([x, x])
    with pytest.raises(ValueError, match="at least 2"):
        Members([nn.Linear(2, 2)])


def test_consensus_rules():
    h = torch.tensor([[[2.0, 0.0, 0.0]], [[0.0, 3.0, 0.0]], [[1.0, 0.0, 0.5]]])  # votes 0, 1, 0
    assert torch.allclose(CONSENSUS["average"](h), h.mean(0))
    assert torch.allclose(CONSENSUS["median"](h), torch.tensor([[1.0, 0.0, 0.0]]))
    assert torch.allclose(CONSENSUS["geometric"](h), F.log_softmax(h, -1).mean(0))
    assert torch.allclose(CONSENSUS["vote"](h), (h[0] + h[2]) / 2)  # the two members that voted for class 0
    assert consensus_predictions(h, "vote").tolist() == [0]
    tie = torch.tensor([[[5.0, 0.0]], [[0.0, 1.0]]])  # one vote each: the larger mean probability wins
    assert consensus_predictions(tie, "vote").tolist() == [0]
    with pytest.raises(KeyError, match="did you mean 'median'"):
        CONSENSUS["medain"]


def test_the_penalty_is_the_cross_entropy_hessian_quadratic_form():
    torch.manual_seed(0)
    h = torch.randn(3, 4, 5)
    f = h.mean(0)
    q = curvature_quadratic(h, f)
    for i in range(3):
        for b in range(4):
            hess = torch.autograd.functional.hessian(lambda z: F.cross_entropy(z[None], torch.tensor([2])), f[b])
            d = h[i, b] - f[b]
            assert torch.allclose(d @ hess @ d, q[i, b], atol=1e-5)
    assert (q >= -1e-7).all()  # D is positive semi-definite


def test_objectives_reduce_to_independent_training(batch):
    x, y = batch
    ms = linear_members()
    independent = EnsembleObjective("independent")(ms, x, y)
    assert torch.allclose(independent, members_cross_entropy(ms(x), y))
    assert torch.allclose(independent, sum(F.cross_entropy(m(x), y) for m in ms.members))
    for obj in (EnsembleObjective("gncl", 0.0, "vote"), EnsembleObjective("gncl_masked", 0.0),
                EnsembleObjective("balanced", 0.0), EnsembleObjective("attribution", 0.0)):
        assert torch.allclose(obj(ms, x, y), independent), obj.name
    team = EnsembleObjective("balanced", 1.0)(ms, x, y)
    assert torch.allclose(team, 3 * F.cross_entropy(ms(x).mean(0), y))


def test_gncl_rewards_spread_and_masks_wrong_members(batch):
    x, y = batch
    ms = linear_members()
    plain = EnsembleObjective("gncl", 0.5)(ms, x, y)
    masked = EnsembleObjective("gncl_masked", 0.5)(ms, x, y)
    independent = EnsembleObjective("independent")(ms, x, y)
    h = ms(x)
    quad = curvature_quadratic(h, h.mean(0))
    assert torch.allclose(plain, independent - 0.5 / 6 * quad.sum(0).mean())
    right = (h.argmax(-1) == y).float()
    assert torch.allclose(masked, independent - 0.5 / 6 * (quad * right).sum(0).mean())


def test_attribution_penalty_uses_each_members_own_saliency(batch):
    from captum.attr import Saliency

    x, y = batch
    ms = linear_members()
    h, maps = input_saliency(ms, x, y)
    assert maps.shape == (3, *x.shape)
    for i, m in enumerate(ms.members):
        assert torch.allclose(maps[i], Saliency(m).attribute(x.clone().requires_grad_(), target=y, abs=False))
    loss = EnsembleObjective("attribution", 0.1)(ms, x, y)
    variance = maps.flatten(2).var(0, correction=0).sum(-1).mean()
    assert torch.allclose(loss, members_cross_entropy(h, y) - 3 * 0.1 * variance)
    sub = EnsembleObjective("attribution", 0.1, penalty_batch=2)(ms, x, y)
    _, sub_maps = input_saliency(ms, x[:2], y[:2])
    assert torch.allclose(sub, members_cross_entropy(h, y) - 0.3 * sub_maps.flatten(2).var(0, correction=0)
                          .sum(-1).mean())
    loss.backward()  # differentiable through the maps (double backward)
    assert all(p.grad is not None for p in ms.parameters())


def test_objective_names_specs_and_bad_input():
    assert EnsembleObjective("gncl", 0.2, "median").name == "gncl-median"
    assert EnsembleObjective("independent", consensus="vote").name == "independent"  # no consensus, none named
    assert EnsembleObjective("gncl_masked", 0.2).spec() == {"method": "gncl_masked", "lam": 0.2, "size": 3,
                                                            "consensus": "average"}
    assert EnsembleObjective("attribution", 1e-3, penalty_batch=64).spec()["penalty_batch"] == 64
    with pytest.raises(KeyError, match="ensemble training method"):
        EnsembleObjective("ncl")
    with pytest.raises(KeyError, match="consensus rule"):
        EnsembleObjective("gncl", 0.2, "mode")
    with pytest.raises(ValueError, match=r"lam must be \[0, 1\]"):
        EnsembleObjective("balanced", 1.5)
    with pytest.raises(ValueError, match="lam must be >= 0"):
        EnsembleObjective("gncl", -0.1)
    with pytest.raises(ValueError, match="at least 2 members"):
        EnsembleObjective("gncl", 0.2, size=1)
    with pytest.raises(ValueError, match="expected Members of 3"):
        EnsembleObjective("independent")(linear_members(2), torch.rand(2, 3, 2, 2), torch.zeros(2, dtype=torch.long))
    assert set(METHODS.names()) >= {"independent", "gncl", "gncl_masked", "balanced", "attribution"}


def test_joint_training_through_the_trainer_learns_and_is_seeded():
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(256, 3, 2, 2, generator=g) * 255).to(torch.uint8)
    y = (x.float().mean((1, 2, 3)) > 127).long()
    cfg = TrainConfig(epochs=25, batch_size=64, augment=False, label_smoothing=0.0, precision="fp32", lr=0.5)
    runs = []
    for _ in range(2):
        ms = linear_members()
        log = train(ms, x, y, cfg, objective=EnsembleObjective("gncl", 0.2, "average"))
        runs.append([p.detach().clone() for p in ms.parameters()])
    assert log.epoch_loss[-1] < log.epoch_loss[0]
    assert all(torch.equal(a, b) for a, b in zip(*runs))
    acc = (ms(x.float() / 255).mean(0).argmax(-1) == y).float().mean()
    assert acc > 0.8
    with pytest.raises(ValueError, match="cannot be combined"):
        from sat_lib.attacks import PGDConfig
        from sat_lib.train import Adversary

        train(ms, x, y, cfg, objective=EnsembleObjective("independent"),
              adversary=Adversary(PGDConfig(eps=0.1, steps=1, step_size=0.1, norm="l2")))


def test_trained_model_caches_an_ensemble_under_its_objective(tmp_path):
    from sat_lib.data import ImageData
    from sat_lib.models import get_zoo
    from sat_lib.weights import trained_model

    rng = np.random.default_rng(0)
    data = ImageData(images=rng.integers(0, 255, (64, 8, 8, 1), dtype=np.uint8), labels=rng.integers(0, 3, 64),
                     classes=("a", "b", "c"), mean=(0.5,), std=(0.25,), name="toy", split="train", source="test")
    entry = get_zoo("tiny")["tiny_cnn"]
    cfg = TrainConfig(epochs=1, batch_size=32, precision="fp32")
    obj = EnsembleObjective("balanced", 0.2)
    t = trained_model(entry, data, cfg, device=torch.device("cpu"), cache_dir=tmp_path, objective=obj)
    assert isinstance(t.model, Members) and len(t.model) == 3 and not t.from_cache
    assert t.path.name.startswith("tiny_cnn-ens3-balanced-average-")
    again = trained_model(entry, data, cfg, device=torch.device("cpu"), cache_dir=tmp_path, objective=obj)
    assert again.from_cache and again.path == t.path
    assert all(torch.equal(a, b) for a, b in zip(t.model.state_dict().values(), again.model.state_dict().values()))
    other = trained_model(entry, data, cfg, device=torch.device("cpu"), cache_dir=tmp_path,
                          objective=EnsembleObjective("balanced", 0.3))
    assert other.path != t.path and not other.from_cache
    w0, w1 = (list(t.model.members[i].parameters())[0] for i in (0, 1))
    assert not torch.equal(w0, w1)  # members start from different initialisations
