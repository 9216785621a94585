from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from sat_lib.data import CorruptDatasetError, DatasetNotFoundError, load_dataset
from sat_lib.data import fashion_mnist
from tests.data._builders import fashion_arrays, idx_bytes, write_fashion_mnist

REAL = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture
def no_debian_copy(monkeypatch, tmp_path):
    """Hide the system-wide copy so the tests see only their own files."""
    monkeypatch.setattr(fashion_mnist, "DEBIAN_PATH", tmp_path / "no-debian-copy")


@pytest.mark.parametrize("gz", [True, False])
def test_idx_folder(tmp_path, gz):
    folder = write_fashion_mnist(tmp_path / "fm", gz=gz)
    train = load_dataset("fashion_mnist", "train", roots=[folder])
    test = load_dataset("fashion_mnist", "test", roots=[folder])
    images, labels = fashion_arrays(12, seed=0)
    np.testing.assert_array_equal(train.images[:, :, :, 0], images)
    assert train.labels.tolist() == labels.tolist() and train.labels.dtype == np.int64
    assert train.images.shape == (12, 28, 28, 1) and len(test) == 5
    assert train.classes[0] == "T-shirt/top" and train.num_classes == 10
    assert train.mean == (0.2860,) and train.channels == 1


def test_torchvision_layout_is_found_from_its_root(tmp_path):
    folder = write_fashion_mnist(tmp_path / "FashionMNIST" / "raw")
    assert load_dataset("fashion_mnist", "test", roots=[tmp_path]).source == str(folder.absolute())


def test_missing_lists_places_including_debian_path(tmp_path, no_debian_copy):
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("fashion_mnist", "train", roots=[tmp_path / "nowhere"])
    message = str(info.value)
    assert "nowhere (missing)" in message and "no-debian-copy (missing)" in message
    assert "apt install dataset-fashion-mnist" in message


def test_wrong_magic_is_corrupt(tmp_path):
    folder = write_fashion_mnist(tmp_path / "fm")
    labels = idx_bytes(np.zeros(12, dtype=np.uint8))
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(labels))
    with pytest.raises(CorruptDatasetError, match="train-images-idx3-ubyte.gz: bad IDX magic number"):
        load_dataset("fashion_mnist", "train", roots=[folder])


def test_truncated_gz_is_corrupt(tmp_path):
    folder = write_fashion_mnist(tmp_path / "fm")
    path = folder / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(CorruptDatasetError) as info:
        load_dataset("fashion_mnist", "test", roots=[folder])
    assert info.value.path == path.absolute()


def test_count_mismatch_is_corrupt(tmp_path):
    folder = write_fashion_mnist(tmp_path / "fm")
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(4, dtype=np.uint8))))
    with pytest.raises(CorruptDatasetError, match="image count mismatch: 5 images but 4 labels"):
        load_dataset("fashion_mnist", "test", roots=[folder])


def test_missing_labels_file_is_corrupt(tmp_path):
    folder = write_fashion_mnist(tmp_path / "fm")
    (folder / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(CorruptDatasetError, match="missing train-labels-idx1-ubyte"):
        load_dataset("fashion_mnist", "train", roots=[folder])


@pytest.mark.skipif(not REAL.is_dir(), reason=f"{REAL} not present (Debian package dataset-fashion-mnist)")
def test_real_debian_copy():
    train = load_dataset("fashion_mnist", "train")
    test = load_dataset("fashion_mnist", "test")
    assert train.source == str(REAL) and train.images.shape == (60_000, 28, 28, 1) and len(test) == 10_000
    assert np.bincount(train.labels).tolist() == [6000] * 10 and np.bincount(test.labels).tolist() == [1000] * 10
    assert abs(train.images.mean() / 255 - train.mean[0]) < 1e-3
    assert abs((train.images / 255).std() - train.std[0]) < 1e-3
