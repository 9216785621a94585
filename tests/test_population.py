"""Training a population of seeds: the loop and vmap strategies train the same models."""
import dataclasses

import numpy as np
import pytest
import torch

from sat_lib.models.widths import build_width_model
from sat_lib.population import PopulationConfig, train_population


def _data(n=96, classes=3):
    g = torch.Generator().manual_seed(1)
    y = torch.randint(0, classes, (n,), generator=g)
    x = torch.randn(n, 1, 8, 8, generator=g) + y[:, None, None, None].float()
    return x, y


def _make(family="cnn_small"):
    return lambda: build_width_model(family, 2, num_classes=3, in_chans=1, img_size=8)


@pytest.mark.parametrize("family", ["cnn_small", "vit"])
def test_vmap_trains_the_same_models_as_the_loop(family):
    x, y = _data()
    cfg = PopulationConfig(epochs=2, batch_size=32, precision="fp32")
    loop = train_population(_make(family), [0, 1, 2], x, y, dataclasses.replace(cfg, strategy="loop"))
    vm = train_population(_make(family), [0, 1, 2], x, y, dataclasses.replace(cfg, strategy="vmap"))
    assert (loop.strategy, vm.strategy) == ("loop", "vmap")
    np.testing.assert_allclose(loop.epoch_loss, vm.epoch_loss, rtol=1e-4, atol=1e-5)
    for a, b in zip(loop.models, vm.models):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys()
        for key in sa:
            torch.testing.assert_close(sa[key].float(), sb[key].float(), rtol=1e-3, atol=1e-4, msg=key)
        assert not a.training and not b.training


def test_seeds_differ_and_training_learns():
    x, y = _data(192)
    pop = train_population(_make(), [0, 1], x, y, PopulationConfig(epochs=4, batch_size=32, strategy="loop"))
    w0, w1 = (next(m.parameters()) for m in pop.models)
    assert not torch.equal(w0, w1)
    assert pop.epoch_loss.shape == (2, 4) and (pop.epoch_loss[:, -1] < pop.epoch_loss[:, 0]).all()
    again = train_population(_make(), [0], x, y, PopulationConfig(epochs=4, batch_size=32, strategy="loop"))
    torch.testing.assert_close(next(again.models[0].parameters()), w0)


def test_schedule_is_inverse_sqrt_of_epoch():
    from sat_lib.population import SCHEDULES

    assert [SCHEDULES["inv_sqrt_epoch"](e) for e in (0, 3)] == [1.0, 0.5]


def test_bad_inputs_say_what_to_fix():
    x, y = _data(16)
    with pytest.raises(ValueError, match="fewer than one batch"):
        train_population(_make(), [0], x, y, PopulationConfig(epochs=1, batch_size=32))
    with pytest.raises(TypeError, match="float"):
        train_population(_make(), [0], (x * 10).to(torch.uint8), y, PopulationConfig(epochs=1, batch_size=8))
    with pytest.raises(ValueError, match="no seeds"):
        train_population(_make(), [], x, y, PopulationConfig(epochs=1, batch_size=8))
    with pytest.raises(KeyError, match="did you mean"):
        PopulationConfig(strategy="vmapp")
