"""The weights cache: a key for everything that determines the weights, and reuse only on an equal key."""
import dataclasses

import pytest

from sat_lib.config import project_config
from sat_lib.models import get_zoo
from sat_lib.train import RECIPES, TrainConfig
from sat_lib.weights import trained_model, weights_key


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
