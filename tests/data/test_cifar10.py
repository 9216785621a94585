from __future__ import annotations

import pickle
import time
from pathlib import Path

import numpy as np
import pytest

from sat_lib.data import CorruptDatasetError, DatasetNotFoundError, load_dataset
from sat_lib.data.cifar10 import CLASSES, FORMATS
from tests.data._builders import (
    CIFAR_TEST,
    CIFAR_TRAIN_PER_BATCH,
    cifar_batch,
    image_tree_arrays,
    write_cifar_python_archive,
    write_cifar_python_folder,
    write_image_tar,
    write_image_tree,
)

REAL_JPEG_TAR = Path("/work/shared/data/cifar10/cifar10-jpeg.tar.gz")


def expected_python_split(split: str) -> tuple[np.ndarray, np.ndarray]:
    """What the fixture batches hold, decoded by hand: rows are R plane, G plane, B plane, each 32×32."""
    batches = [cifar_batch(CIFAR_TRAIN_PER_BATCH, seed=i) for i in range(1, 6)] if split == "train" else [
        cifar_batch(CIFAR_TEST, seed=99)
    ]
    data = np.concatenate([b[b"data"] for b in batches])
    labels = np.concatenate([b[b"labels"] for b in batches])
    return data, labels


def test_formats_are_tried_in_registration_order():
    assert FORMATS.names() == ["python-archive", "python-folder", "image-tar", "class-folders"]


@pytest.mark.parametrize("split", ["train", "test"])
def test_python_folder(tmp_path, split):
    folder = write_cifar_python_folder(tmp_path)
    data = load_dataset("cifar10", split, roots=[folder])
    rows, labels = expected_python_split(split)
    assert data.images.shape == (len(rows), 32, 32, 3) and data.images.dtype == np.uint8
    assert data.labels.tolist() == labels.tolist()
    i, y, x = len(rows) - 1, 5, 17
    for c in range(3):
        assert data.images[i, y, x, c] == rows[i, c * 1024 + y * 32 + x]
    assert data.classes == CLASSES and data.source == str(folder.absolute())
    assert data.mean == (0.4914, 0.4822, 0.4465)


@pytest.mark.parametrize("name", ["cifar-10-python.tar.gz", "renamed.tgz"])
def test_python_archive_matches_folder(tmp_path, name):
    archive = write_cifar_python_archive(tmp_path, name=name)
    from_archive = load_dataset("cifar10", "train", roots=[archive])
    from_folder = load_dataset("cifar10", "train", roots=[tmp_path / "_build" / "cifar-10-batches-py"])
    np.testing.assert_array_equal(from_archive.images, from_folder.images)
    np.testing.assert_array_equal(from_archive.labels, from_folder.labels)


def test_folder_root_finds_the_archive_inside(tmp_path):
    archive = write_cifar_python_archive(tmp_path)
    data = load_dataset("cifar10", "test", roots=[tmp_path / "missing", tmp_path])
    assert data.source == str(archive.absolute()) and len(data) == CIFAR_TEST


def test_jpeg_tar(tmp_path):
    arrays = image_tree_arrays(["truck", "airplane", "cat"], per_class=3)
    tar = write_image_tar(tmp_path / "cifar10-jpeg.tar.gz", arrays, fmt="JPEG")
    data = load_dataset("cifar10", "test", roots=[tar])
    assert data.images.shape == (9, 32, 32, 3)
    assert data.classes == CLASSES  # official names: official order, although only three are present
    assert data.labels.tolist() == [0] * 3 + [3] * 3 + [9] * 3
    # JPEG is lossy: the decoded image is nearest to its own source, not to another one
    distance = {k: np.abs(data.images[4].astype(int) - a).mean() for k, a in arrays.items() if k.startswith("test")}
    assert min(distance, key=distance.get) == "test/cat/0001"


def test_png_tar_is_exact_and_ordered(tmp_path):
    arrays = image_tree_arrays(["dog", "bird"], per_class=2, splits=["train", "test"])
    tar = write_image_tar(tmp_path / "images.tar.gz", arrays, fmt="PNG", prefix="")
    data = load_dataset("cifar10", "train", roots=[tar])
    expected = [arrays[k] for k in ("train/bird/0000", "train/bird/0001", "train/dog/0000", "train/dog/0001")]
    np.testing.assert_array_equal(data.images, np.stack(expected))
    assert data.labels.tolist() == [2, 2, 5, 5]


def test_generic_class_names_use_sorted_union_of_both_splits(tmp_path):
    arrays = image_tree_arrays(["zebra", "apple"], per_class=1, splits=["train"])
    arrays.update(image_tree_arrays(["mango"], per_class=1, splits=["test"], seed=1))
    tar = write_image_tar(tmp_path / "other.tar", arrays, fmt="PNG")
    train = load_dataset("cifar10", "train", roots=[tar])
    assert train.classes == ("apple", "mango", "zebra")
    assert train.labels.tolist() == [0, 2]


def test_class_folder_tree(tmp_path):
    arrays = image_tree_arrays(["horse", "ship"], per_class=2)
    root = write_image_tree(tmp_path / "cifar10", arrays, fmt="PNG")
    data = load_dataset("cifar10", "test", roots=[tmp_path])  # a folder holding cifar10/
    assert data.source == str(root.absolute())
    np.testing.assert_array_equal(data.images[2], arrays["test/ship/0000"])
    assert data.labels.tolist() == [7, 7, 8, 8]


def test_missing_lists_every_place_looked(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("cifar10", "train", roots=[tmp_path / "nope.tar.gz", tmp_path / "empty"])
    message = str(info.value)
    assert "CIFAR-10 not found" in message
    for place in ("nope.tar.gz (missing)", "empty (exists, but is not a CIFAR-10 layout)",
                  "empty/cifar-10-python.tar.gz (missing)", "empty/cifar-10-batches-py (missing)"):
        assert place in message
    assert "https://www.cs.toronto.edu/~kriz/cifar.html" in message and "download: true" in message
    assert len(info.value.looked_in) >= 4


def test_truncated_archive_is_corrupt(tmp_path):
    archive = write_cifar_python_archive(tmp_path)
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(CorruptDatasetError, match="truncated") as info:
        load_dataset("cifar10", "train", roots=[archive])
    assert info.value.path == archive.absolute()


def test_truncated_jpeg_tar_is_corrupt(tmp_path):
    tar = write_image_tar(tmp_path / "cifar10-jpeg.tar.gz", image_tree_arrays(["cat"], per_class=20))
    tar.write_bytes(tar.read_bytes()[:-200])
    with pytest.raises(CorruptDatasetError, match="cifar10-jpeg.tar.gz"):
        load_dataset("cifar10", "train", roots=[tar])


def test_image_count_mismatch_is_corrupt(tmp_path):
    folder = write_cifar_python_folder(tmp_path)
    batch = cifar_batch(4, seed=3)
    batch[b"labels"] = batch[b"labels"][:3]
    (folder / "data_batch_3").write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(CorruptDatasetError, match="data_batch_3: image count mismatch, 4 images but 3 labels"):
        load_dataset("cifar10", "train", roots=[folder])


def test_missing_batch_is_corrupt(tmp_path):
    folder = write_cifar_python_folder(tmp_path)
    (folder / "data_batch_5").unlink()
    with pytest.raises(CorruptDatasetError, match="missing data_batch_5"):
        load_dataset("cifar10", "train", roots=[folder])


def test_wrong_image_size_is_corrupt(tmp_path):
    root = write_image_tree(tmp_path / "tree", image_tree_arrays(["cat"], per_class=1, size=28))
    with pytest.raises(CorruptDatasetError, match="is 28x28, expected 32x32") as info:
        load_dataset("cifar10", "train", roots=[root])
    assert info.value.path.name == "0000.png"


@pytest.mark.skipif(not REAL_JPEG_TAR.is_file(), reason=f"{REAL_JPEG_TAR} not present")
def test_real_jpeg_copy_test_split():
    start = time.perf_counter()
    data = load_dataset("cifar10", "test", roots=[REAL_JPEG_TAR])
    assert len(data) == 10_000 and data.images.shape[1:] == (32, 32, 3)
    assert np.bincount(data.labels).tolist() == [1000] * 10
    assert data.classes == CLASSES
    assert time.perf_counter() - start < 60
