"""Fashion-MNIST (Xiao et al., 2017): 70 000 28×28 grey images of clothing, 60 000 train / 10 000 test.

Read from a folder of the four IDX files (``{train,t10k}-{images-idx3,labels-idx1}-ubyte``, raw or ``.gz``):
the Debian package ``dataset-fashion-mnist`` installs them in /usr/share/datasets/fashion-mnist, and
torchvision downloads them to ``<download_dir>/FashionMNIST/raw``.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from sat_lib.data._dataset import Dataset, Decoded, Format, register_dataset
from sat_lib.data._errors import CorruptDatasetError
from sat_lib.data._idx import read_idx
from sat_lib.registry import Registry

log = logging.getLogger(__name__)

CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
DEBIAN_PATH = Path("/usr/share/datasets/fashion-mnist")
PREFIX = {"train": "train", "test": "t10k"}
URL = "https://github.com/zalandoresearch/fashion-mnist"
FRESH_COPY = f"Get fresh IDX files from {URL} (or `apt install dataset-fashion-mnist`)."


def _find(folder: Path, stem: str) -> Path | None:
    """``stem`` raw if present (no decompression), else ``stem.gz``."""
    for name in (stem, f"{stem}.gz"):
        if (folder / name).is_file():
            return folder / name
    return None


class IdxFolderFormat(Format):
    """A folder holding the IDX image and label files."""

    name = "idx-folder"
    description = "a folder of {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]"

    def can_read(self, path: Path) -> bool:
        return path.is_dir() and any(_find(path, f"{p}-images-idx3-ubyte") for p in PREFIX.values())

    def read(self, path: Path, split: str) -> Decoded:
        start = time.perf_counter()
        prefix = PREFIX[split]
        images_file = _find(path, f"{prefix}-images-idx3-ubyte")
        labels_file = _find(path, f"{prefix}-labels-idx1-ubyte")
        for stem, found in (("images-idx3", images_file), ("labels-idx1", labels_file)):
            if found is None:
                raise CorruptDatasetError(path, f"missing {prefix}-{stem}-ubyte(.gz) for split {split!r}", FRESH_COPY)
        images = read_idx(images_file, 3, FRESH_COPY)
        labels = read_idx(labels_file, 1, FRESH_COPY).astype(np.int64)
        if images.shape[0] != labels.shape[0]:
            raise CorruptDatasetError(
                images_file,
                f"image count mismatch: {images.shape[0]} images but {labels.shape[0]} labels in {labels_file.name}",
                FRESH_COPY,
            )
        if labels.size and labels.max() >= len(CLASSES):
            raise CorruptDatasetError(labels_file, f"label {labels.max()} out of range for 10 classes", FRESH_COPY)
        log.info("read %d %s images from %s in %.1f s", len(labels), split, path, time.perf_counter() - start)
        return Decoded(images[:, :, :, None].copy(), labels, CLASSES)


FORMATS: Registry[Format] = Registry("Fashion-MNIST format")
FORMATS.register(IdxFolderFormat.name, IdxFolderFormat())


@register_dataset
class FashionMNIST(Dataset):
    name = "fashion_mnist"
    num_classes = 10
    title = "Fashion-MNIST"
    splits = ("train", "test")
    mean = (0.2860,)  # train split, [0, 1] scale
    std = (0.3530,)
    can_download = True
    how_to_get = (
        f"`apt install dataset-fashion-mnist` (files in {DEBIAN_PATH}), or `sat-companion` config key "
        f"data.roots.fashion_mnist (_config.yml) pointing at a folder of the IDX files from {URL}, "
        "or set download: true where a network exists."
    )

    @property
    def formats(self) -> Registry[Format]:
        return FORMATS

    def default_roots(self) -> tuple[Path, ...]:
        return (DEBIAN_PATH,)

    def candidates(self, root: Path) -> list[Path]:
        if not root.is_dir():
            return [root]
        return [root, root / "FashionMNIST" / "raw", root / "fashion-mnist"]

    def download_candidates(self, download_dir: Path) -> list[Path]:
        return [download_dir / "FashionMNIST" / "raw"]

    def download(self, download_dir: Path, split: str) -> list[Path]:
        from torchvision.datasets import FashionMNIST as TorchFashionMNIST  # only needed here

        start = time.perf_counter()
        download_dir.mkdir(parents=True, exist_ok=True)
        TorchFashionMNIST(root=str(download_dir), train=split == "train", download=True)  # checks md5s
        log.info("downloaded Fashion-MNIST into %s in %.0f s", download_dir, time.perf_counter() - start)
        return self.download_candidates(download_dir)
