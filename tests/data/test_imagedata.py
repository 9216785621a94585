from __future__ import annotations

import numpy as np
import pytest
import torch

from sat_lib.data import ImageData


def make(n: int = 10, size: int = 4, channels: int = 3, classes: int = 3) -> ImageData:
    rng = np.random.default_rng(0)
    return ImageData(
        images=rng.integers(0, 256, (n, size, size, channels), dtype=np.uint8),
        labels=np.arange(n) % classes,
        classes=tuple(f"c{i}" for i in range(classes)),
        mean=(0.5,) * channels,
        std=(0.25,) * channels,
        name="toy",
        split="train",
        source="memory",
    )


def test_properties():
    data = make(n=7, size=5, channels=1)
    assert len(data) == 7
    assert (data.image_size, data.channels, data.num_classes) == (5, 1, 3)
    assert data.labels.dtype == np.int64
    assert "n=7" in repr(data) and len(repr(data)) < 200


@pytest.mark.parametrize(
    "change, message",
    [
        ({"images": np.zeros((2, 4, 4, 3), dtype=np.float32)}, "uint8"),
        ({"images": np.zeros((2, 4, 4), dtype=np.uint8)}, "uint8"),
        ({"labels": np.zeros(3, dtype=np.int64)}, "labels"),
        ({"labels": np.array([0, 5])}, r"\[0, 3\)"),
        ({"mean": (0.5,)}, "mean/std"),
    ],
)
def test_validation(change, message):
    base = {
        "images": np.zeros((2, 4, 4, 3), dtype=np.uint8),
        "labels": np.array([0, 1]),
        "classes": ("a", "b", "c"),
        "mean": (0.1, 0.2, 0.3),
        "std": (0.1, 0.2, 0.3),
        "name": "toy",
        "split": "train",
        "source": "memory",
    }
    with pytest.raises(ValueError, match=message):
        ImageData(**{**base, **change})


def test_image_size_rejects_non_square():
    data = make()
    wide = ImageData(**{**data.__dict__, "images": np.zeros((10, 4, 6, 3), dtype=np.uint8)})
    with pytest.raises(ValueError, match="4x6"):
        _ = wide.image_size


def test_tensors():
    data = make(n=6, size=4, channels=3)
    x, y = data.tensors()
    assert x.shape == (6, 3, 4, 4) and x.dtype == torch.float32 and x.is_contiguous()
    assert y.dtype == torch.int64 and y.tolist() == data.labels.tolist()
    np.testing.assert_allclose(x.numpy(), data.images.transpose(0, 3, 1, 2) / 255.0, rtol=1e-6)
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0


def test_subset_by_indices_and_mask():
    data = make(n=10)
    sub = data.subset([3, 1])
    np.testing.assert_array_equal(sub.images, data.images[[3, 1]])
    assert sub.labels.tolist() == [0, 1] and sub.classes == data.classes and sub.name == "toy"
    mask = data.labels == 2
    assert len(data.subset(mask)) == int(mask.sum())
    assert len(data.subset([])) == 0
    with pytest.raises(ValueError, match="boolean mask"):
        data.subset(np.ones(3, dtype=bool))
    with pytest.raises(ValueError, match="integers"):
        data.subset(np.array([0.5]))


def test_sample_is_seeded_distinct_and_bounded():
    data = make(n=20)
    a, b, c = data.sample(8, seed=1), data.sample(8, seed=1), data.sample(8, seed=2)
    np.testing.assert_array_equal(a.images, b.images)
    assert not np.array_equal(a.images, c.images)
    rows = {img.tobytes() for img in a.images}
    assert len(rows) == 8
    assert len(data.sample(20, seed=0)) == 20
    with pytest.raises(ValueError, match="exceeds the 20 images"):
        data.sample(21, seed=0)
    with pytest.raises(ValueError, match="non-negative"):
        data.sample(-1, seed=0)


def test_select_classes_relabels_in_the_given_order():
    data = make(n=12, classes=4)
    sub = data.select_classes([3, 1])
    assert sub.classes == ("c3", "c1") and len(sub) == 6
    np.testing.assert_array_equal(sub.labels, np.where(data.labels[np.isin(data.labels, [3, 1])] == 3, 0, 1))
    np.testing.assert_array_equal(sub.images, data.images[np.isin(data.labels, [3, 1])])
    for bad in ([1], [1, 1], [0, 4]):
        with pytest.raises(ValueError, match="select_classes"):
            data.select_classes(bad)


def test_conformed_changes_channels_and_size():
    grey = make(n=3, size=8, channels=1)
    rgb = grey.conformed(3, 16)
    assert rgb.images.shape == (3, 16, 16, 3) and rgb.images.dtype == np.uint8
    assert (rgb.images[..., 0] == rgb.images[..., 2]).all()  # grey repeated
    back = rgb.conformed(1, 8)
    assert back.images.shape == (3, 8, 8, 1) and len(back.mean) == 1
    np.testing.assert_array_equal(back.labels, grey.labels)
    with pytest.raises(ValueError, match="channels must be 1 or 3"):
        grey.conformed(2, 8)
