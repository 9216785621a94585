"""The weights cache: a key for everything that determines the weights, and reuse only on an equal key."""
import dataclasses

import pytest

from sat_lib.config import project_config
from sat_lib.models import get_zoo
from sat_lib.train import RECIPES, TrainConfig
from sat_lib.weights import trained_model, weights_key, zoo_fingerprint


@pytest.fixture(scope="module")
def digits():
    return project_config().load_data("digits", "train")


def test_key_is_stable_and_follows_each_input(digits, monkeypatch):
    entry = get_zoo("tiny")[get_zoo("tiny").names()[0]]
    cfg = TrainConfig(epochs=1, batch_size=64)
    key = weights_key(entry, digits, cfg, "fp32")
    assert key == weights_key(entry, digits, cfg, "fp32")
    assert key != weights_key(entry, digits, dataclasses.replace(cfg, seed=1), "fp32")
    assert key != weights_key(entry, digits, cfg, "bf16")
    # a recipe whose default learning rate changes must not reuse weights trained with the old one
    monkeypatch.setitem(RECIPES._entries, entry.recipe, dataclasses.replace(RECIPES[entry.recipe], lr=1.234))
    assert key != weights_key(entry, digits, cfg, "fp32")


def test_trained_once_then_read(digits, tmp_path):
    entry = get_zoo("tiny")[get_zoo("tiny").names()[0]]
    cfg = TrainConfig(epochs=1, batch_size=64, precision="fp32")
    first = trained_model(entry, digits, cfg, device="cpu", cache_dir=tmp_path)
    again = trained_model(entry, digits, cfg, device="cpu", cache_dir=tmp_path)
    assert not first.from_cache and again.from_cache and again.path == first.path
    assert again.train_seconds == pytest.approx(first.train_seconds)


def test_zoo_fingerprint_follows_every_entry_and_its_epochs():
    zoo = list(get_zoo("tiny"))
    key = zoo_fingerprint(zoo)
    assert key == zoo_fingerprint(list(get_zoo("tiny")))
    assert key != zoo_fingerprint([dataclasses.replace(zoo[0], epoch_scale=2.0), *zoo[1:]])
    assert key != zoo_fingerprint([dataclasses.replace(zoo[0], kwargs={**zoo[0].kwargs, "x": 1}), *zoo[1:]])
    assert key != zoo_fingerprint(zoo[1:])


def test_a_zoo_chapters_result_key_holds_the_zoo_definition(monkeypatch):
    """Editing a zoo (a model's epochs) must not be answered by the result computed from the old zoo."""
    from sat_lib.experiments._chapter import resolve_params, result_params
    from sat_lib.models import zoos

    cfg = resolve_params("sat-matrix", "smoke")
    before = result_params(cfg)
    assert before["zoo_definition"] == zoo_fingerprint(get_zoo(cfg.zoo))
    first = get_zoo(cfg.zoo)[get_zoo(cfg.zoo).names()[0]]
    changed = [dataclasses.replace(first, epoch_scale=3.0), *list(get_zoo(cfg.zoo))[1:]]
    monkeypatch.setattr(zoos, "get_zoo", lambda name: changed)
    import sat_lib.models as models
    monkeypatch.setattr(models, "get_zoo", lambda name: changed)
    assert result_params(cfg)["zoo_definition"] != before["zoo_definition"]
    assert "zoo_definition" not in result_params(resolve_params("salience", "smoke"))
