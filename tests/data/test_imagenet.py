from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from PIL import Image
from torchvision import transforms

from sat_lib.data import CorruptDatasetError, load_dataset
from sat_lib.data.imagenet import balanced_subset, resize_crop
from tests.data._builders import IMAGENET_WNIDS, write_imagenet_val

SMALL = {"resize": 48, "crop": 40}


def test_val_folder(tmp_path):
    val = write_imagenet_val(tmp_path)
    data = load_dataset("imagenet_val", "val", roots=[tmp_path], **SMALL)  # the parent of val/
    assert data.source == str(val.absolute())
    assert data.images.shape == (12, 40, 40, 3)
    assert data.classes == IMAGENET_WNIDS  # sorted wnids, ImageFolder's order
    assert data.labels.tolist() == [0] * 4 + [1] * 3 + [2] * 5
    assert data.mean == (0.485, 0.456, 0.406)


def test_resize_crop_matches_torchvision():
    rng = np.random.default_rng(0)
    for w, h in ((300, 200), (180, 260), (256, 256)):
        image = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        ours = np.asarray(resize_crop(image, 256, 224))
        theirs = np.asarray(transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224)])(image))
        np.testing.assert_array_equal(ours, theirs)


def test_max_images_is_class_balanced_and_seeded(tmp_path):
    write_imagenet_val(tmp_path, per_class=(6, 2, 6))
    a = load_dataset("imagenet_val", "val", roots=[tmp_path], max_images=9, seed=0, **SMALL)
    b = load_dataset("imagenet_val", "val", roots=[tmp_path], max_images=9, seed=0, **SMALL)
    counts = Counter(a.labels.tolist())
    assert len(a) == 9 and counts[1] == 2 and sorted([counts[0], counts[2]]) == [3, 4]  # class 1 has only 2
    np.testing.assert_array_equal(a.images, b.images)


def test_balanced_subset_round_robin():
    files = [[f"c{c}_{i}" for i in range(10)] for c in range(4)]
    chosen = balanced_subset(files, 10, seed=1)
    counts = Counter(label for label, _ in chosen)
    assert len(chosen) == 10 and max(counts.values()) - min(counts.values()) <= 1
    assert chosen != balanced_subset(files, 10, seed=2)
    assert len(balanced_subset(files, None, seed=0)) == 40


def test_undecodable_image_names_the_file(tmp_path):
    val = write_imagenet_val(tmp_path)
    bad = val / IMAGENET_WNIDS[1] / "broken.JPEG"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(CorruptDatasetError, match="broken.JPEG") as info:
        load_dataset("imagenet_val", "val", roots=[val], **SMALL)
    assert info.value.path == bad.absolute()


@pytest.mark.parametrize(
    "options, message",
    [({"crop": 0}, "crop must be"), ({"resize": 10, "crop": 20}, "resize must be"), ({"max_images": 0}, "max_images")],
)
def test_bad_options(tmp_path, options, message):
    with pytest.raises(ValueError, match=message):
        load_dataset("imagenet_val", "val", roots=[tmp_path], **options)


def test_split_is_val(tmp_path):
    with pytest.raises(ValueError, match="did you mean 'val'"):
        load_dataset("imagenet_val", "vall", roots=[tmp_path])
