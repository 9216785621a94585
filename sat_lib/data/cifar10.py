"""CIFAR-10 (Krizhevsky, 2009): 60 000 32×32 RGB images in 10 classes, 50 000 train / 10 000 test.

Readable from, in this order at each location: the official ``cifar-10-python.tar.gz``, its extracted
``cifar-10-batches-py/`` folder, a tar of ``<anything>/{train,test}/<class>/*.jpg|png`` (such as the
development copy ``cifar10-jpeg.tar.gz``, whose JPEG pixels differ slightly from the official ones), or the
same as a folder tree. Downloads the official archive with torchvision where a network exists.
"""
from __future__ import annotations

import logging
import pickle
import tarfile
import time
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from sat_lib.data._dataset import Dataset, Decoded, Format, register_dataset
from sat_lib.data._errors import CorruptDatasetError
from sat_lib.data._imagefiles import TAR_ERRORS, ClassFolderFormat, ImageTarFormat, is_tar_name
from sat_lib.registry import Registry

log = logging.getLogger(__name__)

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
SHAPE = (32, 32, 3)
BATCH_FOLDER = "cifar-10-batches-py"
ARCHIVE = "cifar-10-python.tar.gz"
BATCHES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
META = "batches.meta"
URL = "https://www.cs.toronto.edu/~kriz/cifar.html"
FRESH_COPY = f"Get a fresh {ARCHIVE} from {URL} (or set download: true where a network exists)."


def _unpickle(data: bytes, where: str, path: Path) -> dict[str, Any]:
    """A CIFAR pickle (Python 2, bytes keys) as a dict with str keys."""
    try:
        obj = pickle.loads(data, encoding="bytes")
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise CorruptDatasetError(path, f"{where} is not a readable pickle ({type(exc).__name__}: {exc})", FRESH_COPY)
    if not isinstance(obj, dict):
        raise CorruptDatasetError(path, f"{where} holds a {type(obj).__name__}, expected a dict", FRESH_COPY)
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _classes_from_meta(meta: dict[str, Any], path: Path) -> tuple[str, ...]:
    names = meta.get("label_names")
    if names is None:
        raise CorruptDatasetError(path, f"{META} lacks 'label_names'", FRESH_COPY)
    return tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)


def _batch_arrays(batch: dict[str, Any], where: str, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch as uint8 ``(N, 32, 32, 3)`` images and int64 labels, with its counts checked."""
    if "data" not in batch or "labels" not in batch:
        raise CorruptDatasetError(path, f"{where} lacks 'data' or 'labels' (has {sorted(batch)})", FRESH_COPY)
    data = np.asarray(batch["data"])
    labels = np.asarray(batch["labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise CorruptDatasetError(
            path, f"{where}: 'data' is {data.dtype} {data.shape}, expected uint8 (N, 3072)", FRESH_COPY
        )
    if labels.shape != (data.shape[0],):
        raise CorruptDatasetError(
            path, f"{where}: image count mismatch, {data.shape[0]} images but {labels.size} labels", FRESH_COPY
        )
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def _decode_batches(blobs: Mapping[str, bytes], split: str, path: Path) -> Decoded:
    """Images, labels and classes from the raw bytes of ``batches.meta`` and the split's batch files."""
    missing = [n for n in (META, *BATCHES[split]) if n not in blobs]
    if missing:
        raise CorruptDatasetError(path, f"missing {', '.join(missing)}", FRESH_COPY)
    classes = _classes_from_meta(_unpickle(blobs[META], META, path), path)
    parts = [_batch_arrays(_unpickle(blobs[n], n, path), n, path) for n in BATCHES[split]]
    images = np.ascontiguousarray(np.concatenate([p[0] for p in parts]))
    labels = np.concatenate([p[1] for p in parts])
    if labels.size and (labels.min() < 0 or labels.max() >= len(classes)):
        raise CorruptDatasetError(
            path, f"labels range over [{labels.min()}, {labels.max()}] but there are {len(classes)} classes", FRESH_COPY
        )
    return Decoded(images, labels, classes)


class PythonArchiveFormat(Format):
    """The official ``cifar-10-python.tar.gz``, read in one pass without extracting."""

    name = "python-archive"
    description = f"the official {ARCHIVE}"

    def can_read(self, path: Path) -> bool:
        if not (path.is_file() and is_tar_name(path)):
            return False
        if path.name == ARCHIVE:
            return True
        try:  # a renamed official archive: its first members sit in cifar-10-batches-py/
            with tarfile.open(path, "r|*") as tar:
                for _, member in zip(range(3), tar):
                    if PurePosixPath(member.name).parts[:1] == (BATCH_FOLDER,):
                        return True
        except TAR_ERRORS:
            return False
        return False

    def read(self, path: Path, split: str) -> Decoded:
        wanted = {META, *BATCHES[split]}
        blobs: dict[str, bytes] = {}
        try:
            with tarfile.open(path, "r|*") as tar:
                for member in tar:
                    base = PurePosixPath(member.name).name
                    if member.isfile() and base in wanted:
                        stream = tar.extractfile(member)
                        blobs[base] = stream.read() if stream is not None else b""
        except TAR_ERRORS as exc:
            raise CorruptDatasetError(
                path, f"cannot read the tar archive (truncated or damaged: {type(exc).__name__}: {exc})", FRESH_COPY
            ) from None
        return _decode_batches(blobs, split, path)


class PythonFolderFormat(Format):
    """The extracted ``cifar-10-batches-py/`` folder."""

    name = "python-folder"
    description = f"the extracted {BATCH_FOLDER}/ folder"

    def can_read(self, path: Path) -> bool:
        return path.is_dir() and any((path / n).is_file() for n in (META, "data_batch_1", "test_batch"))

    def read(self, path: Path, split: str) -> Decoded:
        blobs = {}
        for name in (META, *BATCHES[split]):
            file = path / name
            if file.is_file():
                try:
                    blobs[name] = file.read_bytes()
                except OSError as exc:
                    raise CorruptDatasetError(file, f"cannot read: {exc}") from None
        return _decode_batches(blobs, split, path)


FORMATS: Registry[Format] = Registry("CIFAR-10 format")
for _fmt in (
    PythonArchiveFormat(),
    PythonFolderFormat(),
    ImageTarFormat(official_classes=CLASSES, shape=SHAPE),
    ClassFolderFormat(official_classes=CLASSES, shape=SHAPE),
):
    FORMATS.register(_fmt.name, _fmt)


@register_dataset
class CIFAR10(Dataset):
    name = "cifar10"
    num_classes = 10
    title = "CIFAR-10"
    splits = ("train", "test")
    mean = (0.4914, 0.4822, 0.4465)  # the standard published train-split statistics
    std = (0.2470, 0.2435, 0.2616)
    can_download = True
    how_to_get = (
        f"`sat-companion` config key data.roots.cifar10 (_config.yml) pointing at {ARCHIVE} from {URL} "
        "(or at a folder holding it), or set download: true where a network exists."
    )

    @property
    def formats(self) -> Registry[Format]:
        return FORMATS

    def candidates(self, root: Path) -> list[Path]:
        if not root.is_dir():
            return [root]
        return [root / BATCH_FOLDER, root / ARCHIVE, root, root / "cifar10-jpeg.tar.gz", root / "cifar10"]

    def download_candidates(self, download_dir: Path) -> list[Path]:
        return [download_dir / BATCH_FOLDER, download_dir / ARCHIVE]

    def download(self, download_dir: Path, split: str) -> list[Path]:
        from torchvision.datasets import CIFAR10 as TorchCIFAR10  # only needed here

        start = time.perf_counter()
        download_dir.mkdir(parents=True, exist_ok=True)
        TorchCIFAR10(root=str(download_dir), train=split == "train", download=True)  # checks the md5 and extracts
        log.info("downloaded CIFAR-10 into %s in %.0f s", download_dir, time.perf_counter() - start)
        return self.download_candidates(download_dir)
