"""Training a super-network by the sandwich rule, and BatchNorm recalibration."""
import numpy as np
import pytest
import torch

from sat_lib.models import Normalized
from sat_lib.models.supernet import ElasticResNet, SearchSpace, extract
from sat_lib.nas import SandwichObjective, adapt_batchnorm
from sat_lib.train import TrainConfig, predict, train

SPACE = SearchSpace(stem_width=8, stage_widths=(8, 16, 16, 16), extra_depth=1)


def _digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.from_numpy((d.images / 16.0).astype(np.float32))[:, None]
    return x, torch.from_numpy(d.target.astype(np.int64))


def _supernet():
    torch.manual_seed(0)
    return Normalized(ElasticResNet(SPACE, num_classes=10, in_chans=1), [0.3], [0.3])


def test_sandwich_training_teaches_the_largest_and_the_smallest_subnetwork():
    x, y = _digits()
    model = _supernet()
    cfg = TrainConfig(epochs=6, batch_size=64, augment=False, precision="fp32", warmup=0.1, label_smoothing=0.0)
    log = train(model, x[:1400], y[:1400], cfg, objective=SandwichObjective(sampled=1, seed=0))
    assert log.epoch_loss[-1] < log.epoch_loss[0]
    for config in (SPACE.largest(), SPACE.smallest()):
        sub = Normalized(extract(model, config), [0.3], [0.3])
        adapt_batchnorm(sub, x[:500])
        acc = float((predict(sub, x[1400:]) == y[1400:]).float().mean())
        assert acc > 0.6, (config, acc)


def test_the_objective_is_seeded_and_leaves_the_largest_active():
    x, y = _digits()
    losses = []
    for _ in range(2):
        model = _supernet().train()
        obj = SandwichObjective(sampled=2, seed=5)
        losses.append([float(obj(model, x[:32], y[:32]).detach()) for _ in range(3)])
        assert model.inner.active == SPACE.plan(SPACE.largest())
    assert losses[0] == losses[1]
    with pytest.raises(ValueError, match="sampled"):
        SandwichObjective(sampled=-1)
    with pytest.raises(TypeError, match="ElasticResNet"):
        SandwichObjective()(torch.nn.Linear(2, 2), x[:2], y[:2])


def test_adapt_batchnorm_computes_the_exact_statistics_and_restores_momentum():
    net = extract(_supernet(), SPACE.smallest())
    images = torch.rand(40, 1, 8, 8)
    adapt_batchnorm(net, images, batch_size=40)
    bn = net.stem_bn
    with torch.no_grad():
        h = net.stem_conv(images)
    torch.testing.assert_close(bn.running_mean, h.mean((0, 2, 3)), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(bn.running_var, h.var((0, 2, 3), unbiased=True), rtol=1e-4, atol=1e-5)
    assert bn.momentum == 0.1 and not net.training
    with pytest.raises(ValueError, match="at least 2"):
        adapt_batchnorm(net, images[:1])
