from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from sat_lib.data import load_dataset


def test_split_sizes_stratified_and_disjoint():
    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    assert (len(train), len(test)) == (1437, 360)
    assert train.images.shape[1:] == (8, 8, 1) and train.classes == tuple("0123456789")
    counts = np.bincount(load_digits().target)
    assert np.all(np.abs(np.bincount(test.labels) - 0.2 * counts) <= 1)  # stratified
    rows = {img.tobytes() + bytes([lab]) for img, lab in zip(train.images, train.labels)}
    assert len(rows | {img.tobytes() + bytes([lab]) for img, lab in zip(test.images, test.labels)}) >= 1790


def test_deterministic_and_rescaled():
    a, b = load_dataset("digits", "test"), load_dataset("digits", "test")
    np.testing.assert_array_equal(a.images, b.images)
    digits = load_digits()
    assert set(np.unique(a.images)) <= {round(v * 255 / 16) for v in range(17)}
    assert a.images.max() == 255 and np.unique(digits.images).max() == 16


def test_mean_std_come_from_the_train_split():
    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    assert test.mean == train.mean and test.std == train.std
    assert train.mean[0] == pytest.approx(train.images.mean() / 255)
    assert train.std[0] == pytest.approx((train.images / 255).std())


def test_options_change_the_split():
    assert len(load_dataset("digits", "test", test_size=0.5)) == 899
    with pytest.raises(ValueError, match="test_size must be a float in"):
        load_dataset("digits", "test", test_size=2.0)
