"""Tiny dataset files written by the tests themselves, in each format the loaders accept."""
from __future__ import annotations

import gzip
import io
import pickle
import struct
import tarfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from sat_lib.data.cifar10 import CLASSES as CIFAR_CLASSES

CIFAR_TRAIN_PER_BATCH = 4  # 5 batches -> 20 train images
CIFAR_TEST = 6


def cifar_batch(n: int, seed: int) -> dict[bytes, object]:
    """A CIFAR python batch as the official Python 2 pickles hold it: bytes keys, uint8 (N, 3072) rows."""
    rng = np.random.default_rng(seed)
    return {
        b"batch_label": b"fixture batch",
        b"labels": [int(v) for v in rng.integers(0, 10, n)],
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"filenames": [f"img_{i}.png".encode() for i in range(n)],
    }


def write_cifar_python_folder(root: Path, n_per_batch: int = CIFAR_TRAIN_PER_BATCH, n_test: int = CIFAR_TEST) -> Path:
    """``root/cifar-10-batches-py`` with five train batches, a test batch and batches.meta."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    meta = {b"label_names": [c.encode() for c in CIFAR_CLASSES], b"num_cases_per_batch": n_per_batch, b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    for i in range(1, 6):
        (folder / f"data_batch_{i}").write_bytes(pickle.dumps(cifar_batch(n_per_batch, seed=i), protocol=2))
    (folder / "test_batch").write_bytes(pickle.dumps(cifar_batch(n_test, seed=99), protocol=2))
    return folder


def write_cifar_python_archive(root: Path, name: str = "cifar-10-python.tar.gz") -> Path:
    """The official archive layout: a tar.gz of ``cifar-10-batches-py/``."""
    build = root / "_build"
    folder = write_cifar_python_folder(build)
    archive = root / name
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    return archive


def image_bytes(array: np.ndarray, fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array.squeeze()).save(buf, format=fmt)
    return buf.getvalue()


def image_tree_arrays(
    classes: Sequence[str], per_class: int, splits: Sequence[str] = ("train", "test"), size: int = 32, seed: int = 0
) -> dict[str, np.ndarray]:
    """``{"<split>/<class>/<NNNN>.ext": image}`` with distinct random RGB images."""
    rng = np.random.default_rng(seed)
    return {
        f"{split}/{cls}/{i:04d}": rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        for split in splits
        for cls in classes
        for i in range(per_class)
    }


def write_image_tree(root: Path, arrays: dict[str, np.ndarray], fmt: str = "PNG") -> Path:
    ext = ".png" if fmt == "PNG" else ".jpg"
    for key, array in arrays.items():
        file = root / f"{key}{ext}"
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(image_bytes(array, fmt))
    return root


def write_image_tar(path: Path, arrays: dict[str, np.ndarray], fmt: str = "JPEG", prefix: str = "cifar10/") -> Path:
    """A tar.gz of ``<prefix><split>/<class>/<NNNN>.ext``, members in reverse order (order must not matter)."""
    ext = ".png" if fmt == "PNG" else ".jpg"
    with tarfile.open(path, "w:gz") as tar:
        for key in sorted(arrays, reverse=True):
            data = image_bytes(arrays[key], fmt)
            info = tarfile.TarInfo(f"{prefix}{key}{ext}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def idx_bytes(array: np.ndarray) -> bytes:
    """An unsigned-byte IDX file: magic 0x0000080<ndim>, big-endian dims, then the data."""
    header = struct.pack(">I", 0x0800 | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def fashion_arrays(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n).astype(np.uint8)


def write_fashion_mnist(folder: Path, gz: bool = True, n_train: int = 12, n_test: int = 5) -> Path:
    """The four IDX files of Fashion-MNIST in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n, seed in (("train", n_train, 0), ("t10k", n_test, 1)):
        images, labels = fashion_arrays(n, seed)
        for stem, array in (("images-idx3", images), ("labels-idx1", labels)):
            name = f"{prefix}-{stem}-ubyte"
            data = idx_bytes(array)
            if gz:
                (folder / f"{name}.gz").write_bytes(gzip.compress(data))
            else:
                (folder / name).write_bytes(data)
    return folder


IMAGENET_WNIDS = ("n01440764", "n01443537", "n01484850")


def write_imagenet_val(root: Path, per_class: Sequence[int] = (4, 3, 5), seed: int = 0) -> Path:
    """``root/val/<wnid>/*.JPEG`` with varied sizes, one grey and one PNG-encoded image."""
    rng = np.random.default_rng(seed)
    val = root / "val"
    sizes = [(80, 60), (50, 90), (64, 64), (100, 70), (70, 100)]
    k = 0
    for wnid, n in zip(IMAGENET_WNIDS, per_class):
        (val / wnid).mkdir(parents=True)
        for i in range(n):
            w, h = sizes[k % len(sizes)]
            array = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            image = Image.fromarray(array)
            if k == 2:
                image = image.convert("L")
            image.save(val / wnid / f"ILSVRC2012_val_{k:08d}.JPEG", format="PNG" if k == 3 else "JPEG")
            k += 1
    return val
