"""Image datasets as uint8 arrays: CIFAR-10, Fashion-MNIST, scikit-learn digits, ImageNet val.

``load_dataset(name, split, roots=..., cache_dir=...)`` finds the data (official archives, JPEG tars,
class folders, IDX files; a download where asked), decodes it once and caches the arrays as ``.npz``.
Datasets live in the ``DATASETS`` registry; each module registers one.
"""
from __future__ import annotations

from sat_lib.data import cifar10, digits, fashion_mnist, imagenet  # noqa: F401  (register the datasets)
from sat_lib.data._dataset import DATASETS, Dataset, Decoded, Format, Source, num_classes, register_dataset
from sat_lib.data._errors import CorruptDatasetError, DatasetError, DatasetNotFoundError
from sat_lib.data._imagedata import ImageData
from sat_lib.data._load import load_dataset

__all__ = [
    "DATASETS",
    "num_classes",
    "CorruptDatasetError",
    "Dataset",
    "DatasetError",
    "DatasetNotFoundError",
    "Decoded",
    "Format",
    "ImageData",
    "Source",
    "load_dataset",
    "register_dataset",
]
