"""scikit-learn's digits (UCI optical recognition of handwritten digits): 1 797 8×8 grey images, classes 0–9.

The data ship with scikit-learn, so ``roots`` and ``download`` are ignored. Pixels (integers 0–16) are
rescaled to uint8 by ``round(v * 255 / 16)``. There is no official split: ours is a stratified
``train_test_split`` with ``test_size=0.2`` and ``seed=0`` (1 437 train / 360 test), each split kept in the
original order. ``mean``/``std`` are computed on that train split.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from sat_lib.data._dataset import Dataset, Decoded, Format, Source, register_dataset
from sat_lib.data._errors import DatasetNotFoundError
from sat_lib.registry import Registry

CLASSES = tuple(str(d) for d in range(10))


@lru_cache(maxsize=4)
def _split_indices(test_size: float, seed: int) -> dict[str, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    target = load_digits().target
    train, test = train_test_split(
        np.arange(len(target)), test_size=test_size, random_state=seed, stratify=target
    )
    return {"train": np.sort(train), "test": np.sort(test)}


def _bundled_file() -> Path:
    return Path(str(resources.files("sklearn.datasets.data") / "digits.csv.gz"))


class BundledDigitsFormat(Format):
    """``load_digits()`` from scikit-learn's bundled ``digits.csv.gz``."""

    name = "sklearn-bundled"
    description = "scikit-learn's bundled digits.csv.gz"

    def can_read(self, path: Path) -> bool:
        return path.is_file() and path.name == "digits.csv.gz"

    def read(self, path: Path, split: str, test_size: float = 0.2, seed: int = 0) -> Decoded:
        from sklearn.datasets import load_digits

        digits = load_digits()
        idx = _split_indices(test_size, seed)[split]
        images = np.rint(digits.images[idx] * (255.0 / 16.0)).astype(np.uint8)[:, :, :, None]
        return Decoded(images, digits.target[idx].astype(np.int64), CLASSES)


FORMATS: Registry[Format] = Registry("digits format")
FORMATS.register(BundledDigitsFormat.name, BundledDigitsFormat())


@register_dataset
class Digits(Dataset):
    name = "digits"
    num_classes = 10
    title = "scikit-learn digits"
    splits = ("train", "test")
    options = {"test_size": 0.2, "seed": 0}
    how_to_get = "install scikit-learn (`pip install scikit-learn`); the digits ship with it."

    @property
    def formats(self) -> Registry[Format]:
        return FORMATS

    def check_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        opts = super().check_options(options)
        if not isinstance(opts["test_size"], float) or not 0.0 < opts["test_size"] < 1.0:
            raise ValueError(f"load_dataset('digits'): test_size must be a float in (0, 1), got {opts['test_size']!r}")
        if isinstance(opts["seed"], bool) or not isinstance(opts["seed"], int):
            raise ValueError(f"load_dataset('digits'): seed must be an int, got {opts['seed']!r}")
        return opts

    def locate(self, roots: Sequence[Path], *, download: bool, download_dir: Path | None, split: str) -> Source:
        path = _bundled_file()
        if not path.is_file():
            raise DatasetNotFoundError(self.not_found_message([f"{path} (missing)"]), [f"{path} (missing)"])
        return Source(path, FORMATS[BundledDigitsFormat.name])

    def statistics(self, source: Source, options: Mapping[str, Any]) -> tuple[tuple[float, ...], tuple[float, ...]]:
        train = source.format.read(source.path, "train", **options).images / 255.0
        return (float(train.mean()),), (float(train.std()),)
