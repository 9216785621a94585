"""Parameter counts, timing and the cheapest-per-family pick."""
from __future__ import annotations

import pytest
import torch

from sat_lib.models import build_model, count_params, fwd_bwd_ms
from sat_lib.models.cost import cheapest_per_family


def test_count_params_counts_shared_tensors_once():
    lin = torch.nn.Linear(3, 4)
    model = torch.nn.Sequential(lin, torch.nn.ReLU(), lin)
    assert count_params(model) == 16
    lin.bias.requires_grad_(False)
    assert count_params(model, trainable_only=True) == 12


def test_fwd_bwd_ms_times_a_tiny_model():
    model = build_model("tiny", "tiny_cnn", num_classes=10, img_size=8, in_chans=1)
    ms = fwd_bwd_ms(model, batch_size=4, img_size=8, in_chans=1, repeats=2)
    assert 0 < ms < 10_000


def test_cheapest_per_family():
    costs = {"a": 5.0, "b": 1.0, "c": 3.0, "d": 2.0, "e": 9.0}
    families = {"a": "X", "b": "X", "c": "Y", "d": "X", "e": "Z"}
    assert cheapest_per_family(costs, families, 3) == ["b", "c", "e"]
    assert cheapest_per_family(costs, families, 4) == ["b", "d", "c", "e"]
    assert cheapest_per_family(costs, families, 4, must_include=["a"]) == ["b", "c", "a", "e"]
    with pytest.raises(ValueError, match="too small"):
        cheapest_per_family(costs, families, 2)
    with pytest.raises(ValueError, match="no cost"):
        cheapest_per_family({"a": 1.0}, families, 3)
