"""The shared validation module."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from sat_lib.measures import _validation as V


def test_numpy_is_converted_explicitly_and_read_only_arrays_are_copied():
    arr = np.arange(6, dtype=np.float64).reshape(3, 2)
    assert isinstance(V.to_tensor(arr, "f", "x"), torch.Tensor)
    arr.setflags(write=False)
    t = V.to_tensor(arr, "f", "x")
    assert t.dtype == torch.float64 and t.shape == (3, 2)


def test_other_types_are_rejected():
    with pytest.raises(TypeError, match="f: argument 'x' must be a torch.Tensor or numpy.ndarray, got list"):
        V.to_tensor([1.0], "f", "x")


def test_stack_checks_member_shapes():
    with pytest.raises(ValueError, match=r"f: argument 'xs' must hold tensors of one shape"):
        V.stack([torch.zeros(2, 3), torch.zeros(2, 4)], "f", "xs")
    assert V.stack([np.zeros((2, 3)), torch.zeros(2, 3, dtype=torch.float64)], "f", "xs").shape == (2, 2, 3)


def test_dtype_decisions():
    with pytest.raises(ValueError, match="has dtype torch.int64; expected a floating-point tensor"):
        V.activations(torch.ones(3, 2, dtype=torch.int64), "f", "a")
    with pytest.raises(ValueError, match="has dtype torch.float32; expected torch.bool"):
        V.boolean(torch.ones(3), "f", "a")
    with pytest.raises(ValueError, match="has dtype torch.bool; expected an integer tensor"):
        V.integer(torch.ones(3, dtype=torch.bool), "f", "a")


def test_activations_flatten_maps_and_need_features():
    assert V.activations(torch.randn(4, 2, 3, 3), "f", "a").shape == (4, 18)
    with pytest.raises(ValueError, match="expected at least one feature"):
        V.activations(torch.randn(4, 0), "f", "a")


def test_device_mismatch_is_reported():
    a = torch.zeros(2, device="meta")
    with pytest.raises(ValueError, match="f: expected every input on one device, got a on meta, b on cpu"):
        V.same_samples("f", ("a", a), ("b", torch.zeros(2)))


def test_choice_and_numbers():
    with pytest.raises(ValueError, match=r"f: argument 'mode' is 'x'; expected one of \['a', 'b'\]"):
        V.choice("x", "f", "mode", ("a", "b"))
    with pytest.raises(ValueError, match="expected a positive integer"):
        V.positive_int(True, "f", "k")
    with pytest.raises(ValueError, match="expected a positive finite number"):
        V.positive_float(float("inf"), "f", "eps")
