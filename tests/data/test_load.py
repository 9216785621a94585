"""``load_dataset`` itself: argument checks, the registry, downloads; every dataset through one set of checks."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torchvision.datasets

from sat_lib.data import DATASETS, DatasetNotFoundError, ImageData, load_dataset
from tests.data._builders import write_cifar_python_folder, write_fashion_mnist, write_imagenet_val

# One tiny source per registered dataset: (roots, options). Adding a dataset without one fails below.
FIXTURES: dict[str, Callable[[Path], tuple[list[Path], dict]]] = {
    "cifar10": lambda tmp: ([write_cifar_python_folder(tmp)], {}),
    "fashion_mnist": lambda tmp: ([write_fashion_mnist(tmp / "fm")], {}),
    "digits": lambda tmp: ([], {}),
    "imagenet_val": lambda tmp: ([write_imagenet_val(tmp)], {"resize": 40, "crop": 32}),
}


def test_every_dataset_has_a_fixture():
    assert set(FIXTURES) == set(DATASETS)


@pytest.mark.parametrize("name", list(DATASETS))
def test_every_dataset_and_split(tmp_path, name):
    roots, options = FIXTURES[name](tmp_path)
    for split in DATASETS[name].splits:
        data = load_dataset(name, split, roots=roots, cache_dir=tmp_path / "cache", **options)
        cached = load_dataset(name, split, roots=roots, cache_dir=tmp_path / "cache", **options)
        for d in (data, cached):
            assert isinstance(d, ImageData) and d.name == name and d.split == split and len(d) > 0
            assert d.images.dtype == np.uint8 and d.labels.dtype == np.int64
            assert len(d.mean) == len(d.std) == d.channels
            assert all(0 < m < 1 for m in d.mean) and all(0 < s < 1 for s in d.std)
            assert 0 <= d.labels.min() and d.labels.max() < d.num_classes
        np.testing.assert_array_equal(data.images, cached.images)


def test_unknown_dataset_suggests():
    with pytest.raises(KeyError, match="did you mean 'cifar10'"):
        load_dataset("cifar", "train")


def test_unknown_split_suggests():
    with pytest.raises(ValueError, match=r"unknown split 'tset'; did you mean 'test'\? \(splits: train, test\)"):
        load_dataset("cifar10", "tset")


def test_unknown_option_suggests():
    with pytest.raises(TypeError, match=r"unknown option\(s\) max_image; did you mean 'max_images'"):
        load_dataset("imagenet_val", "val", max_image=10)
    with pytest.raises(TypeError, match="accepted: none"):
        load_dataset("cifar10", "train", resize=3)


def test_a_single_root_string_is_one_root(tmp_path):
    folder = write_cifar_python_folder(tmp_path)
    assert len(load_dataset("cifar10", "test", roots=str(folder))) == 6


def test_download_needs_a_folder():
    with pytest.raises(ValueError, match="download=True needs download_dir"):
        load_dataset("cifar10", "test", roots=[], download=True)


class FakeTorchCIFAR10:
    """Stands in for torchvision's class: 'downloads' by writing the python folder, like the real one."""

    calls = 0

    def __init__(self, root: str, train: bool, download: bool) -> None:
        assert download
        FakeTorchCIFAR10.calls += 1
        write_cifar_python_folder(Path(root))


def test_download_path(tmp_path, monkeypatch):
    monkeypatch.setattr(torchvision.datasets, "CIFAR10", FakeTorchCIFAR10)
    FakeTorchCIFAR10.calls = 0
    data = load_dataset("cifar10", "test", download=True, download_dir=tmp_path / "raw")
    assert len(data) == 6 and data.source == str((tmp_path / "raw" / "cifar-10-batches-py").absolute())
    again = load_dataset("cifar10", "test", download=True, download_dir=tmp_path / "raw")
    assert FakeTorchCIFAR10.calls == 1 and len(again) == 6  # an earlier download is found, not repeated


def test_failed_download_is_reported(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz: no network")

    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", offline)
    from sat_lib.data import fashion_mnist

    monkeypatch.setattr(fashion_mnist, "DEBIAN_PATH", tmp_path / "absent")
    with pytest.raises(DatasetNotFoundError, match=r"download into .*raw \(failed: RuntimeError: Error downloading"):
        load_dataset("fashion_mnist", "train", download=True, download_dir=tmp_path / "raw")


def test_imagenet_is_not_downloadable(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="cannot be downloaded automatically"):
        load_dataset("imagenet_val", "val", roots=[tmp_path / "x"], download=True, download_dir=tmp_path)
