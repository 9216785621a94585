"""Split-structured image files: a tar of ``<anything>/{train,test}/<class>/*.jpg|png`` or the same as folders.

Images are decoded with PIL straight from the tar stream in one pass (nothing is extracted to disk).
Class order is the dataset's official order when every folder name is an official class name, otherwise
the sorted folder names (train and test together, so both splits share one label map).
"""
from __future__ import annotations

import io
import logging
import tarfile
import time
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from sat_lib.data._dataset import Decoded, Format
from sat_lib.data._errors import CorruptDatasetError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
DECODERS = ("JPEG", "PNG")
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")
TAR_ERRORS = (tarfile.TarError, EOFError, OSError, zlib.error)
SPLITS = ("train", "test")


def is_image_name(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return not base.startswith(".") and base.lower().endswith(IMAGE_SUFFIXES)


def is_tar_name(path: Path) -> bool:
    return path.name.lower().endswith(TAR_SUFFIXES)


def class_order(names: set[str] | Sequence[str], official: Sequence[str] = ()) -> tuple[str, ...]:
    """Official order when every name is an official class, else sorted names."""
    names = set(names)
    if official and names <= set(official):
        return tuple(official)
    return tuple(sorted(names))


def decode_image(
    data: bytes, where: str | Path, shape: tuple[int, int, int] | None, archive: Path | None = None
) -> np.ndarray:
    """Decode one encoded image to uint8 ``(H, W, C)``; RGB for 3 channels, L for 1.

    ``shape`` (if given) is the required ``(H, W, C)``; a mismatch or an undecodable file is corrupt.
    """
    mode = "L" if shape is not None and shape[2] == 1 else "RGB"
    try:
        with Image.open(io.BytesIO(data), formats=DECODERS) as im:
            if im.mode != mode:
                im = im.convert(mode)
            array = np.asarray(im)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise CorruptDatasetError(archive or where, f"cannot decode image {where}: {exc}") from None
    if array.ndim == 2:
        array = array[:, :, None]
    if shape is not None and array.shape != shape:
        raise CorruptDatasetError(
            archive or where, f"image {where} is {array.shape[1]}x{array.shape[0]}, expected {shape[1]}x{shape[0]}"
        )
    return array


def assemble(
    images: list[np.ndarray], class_names: list[str], keys: list[str], classes: tuple[str, ...], path: Path, split: str
) -> Decoded:
    """Stack decoded images, sorted by (label, key) so the order does not depend on listing order."""
    if not images:
        raise CorruptDatasetError(
            path, f"no images for split {split!r} (expected <anything>/{split}/<class>/*.jpg|png)"
        )
    index = {c: i for i, c in enumerate(classes)}
    labels = np.array([index[c] for c in class_names], dtype=np.int64)
    order = np.lexsort((np.array(keys), labels))
    try:
        stacked = np.stack(images)
    except ValueError:
        sizes = sorted({im.shape for im in images})
        raise CorruptDatasetError(path, f"images of split {split!r} differ in size: {sizes[:4]}") from None
    return Decoded(stacked[order], labels[order], classes)


class ImageTarFormat(Format):
    """A tar (optionally compressed) of ``<anything>/{train,test}/<class>/*.jpg|png``."""

    name = "image-tar"
    description = "a tar/tar.gz of <anything>/{train,test}/<class>/*.jpg|png"

    def __init__(self, official_classes: Sequence[str] = (), shape: tuple[int, int, int] | None = None) -> None:
        self.official_classes = tuple(official_classes)
        self.shape = shape

    def can_read(self, path: Path) -> bool:
        return path.is_file() and is_tar_name(path)

    def read(self, path: Path, split: str) -> Decoded:
        start = time.perf_counter()
        images: list[np.ndarray] = []
        class_names: list[str] = []
        keys: list[str] = []
        all_classes: set[str] = set()
        try:
            with tarfile.open(path, "r|*") as tar:
                for member in tar:
                    parts = member.name.split("/")
                    if not member.isfile() or len(parts) < 3 or parts[-3] not in SPLITS:
                        continue
                    if not is_image_name(member.name):
                        continue
                    all_classes.add(parts[-2])
                    if parts[-3] != split:
                        continue
                    stream = tar.extractfile(member)
                    data = stream.read() if stream is not None else b""
                    images.append(decode_image(data, member.name, self.shape, archive=path))
                    class_names.append(parts[-2])
                    keys.append(member.name)
        except TAR_ERRORS as exc:
            raise CorruptDatasetError(
                path, f"cannot read the tar archive (truncated or damaged: {type(exc).__name__}: {exc})",
                "Get a fresh copy of the archive.",
            ) from None
        decoded = assemble(images, class_names, keys, class_order(all_classes, self.official_classes), path, split)
        log.info("decoded %d %s images from %s in %.1f s", len(images), split, path, time.perf_counter() - start)
        return decoded


class ClassFolderFormat(Format):
    """A folder tree ``root/{train,test}/<class>/*.jpg|png``."""

    name = "class-folders"
    description = "a folder of {train,test}/<class>/*.jpg|png"

    def __init__(self, official_classes: Sequence[str] = (), shape: tuple[int, int, int] | None = None) -> None:
        self.official_classes = tuple(official_classes)
        self.shape = shape

    def can_read(self, path: Path) -> bool:
        return path.is_dir() and any(
            (path / s).is_dir() and any(d.is_dir() for d in (path / s).iterdir()) for s in SPLITS
        )

    def read(self, path: Path, split: str) -> Decoded:
        start = time.perf_counter()
        split_dir = path / split
        if not split_dir.is_dir():
            raise CorruptDatasetError(path, f"no {split}/ folder (found: {sorted(p.name for p in path.iterdir())})")
        all_classes = {d.name for s in SPLITS if (path / s).is_dir() for d in (path / s).iterdir() if d.is_dir()}
        images: list[np.ndarray] = []
        class_names: list[str] = []
        keys: list[str] = []
        for class_dir in sorted(d for d in split_dir.iterdir() if d.is_dir()):
            for file in sorted(f for f in class_dir.iterdir() if f.is_file() and is_image_name(f.name)):
                try:
                    data = file.read_bytes()
                except OSError as exc:
                    raise CorruptDatasetError(file, f"cannot read: {exc}") from None
                images.append(decode_image(data, file, self.shape))
                class_names.append(class_dir.name)
                keys.append(f"{class_dir.name}/{file.name}")
        decoded = assemble(images, class_names, keys, class_order(all_classes, self.official_classes), path, split)
        log.info("decoded %d %s images from %s in %.1f s", len(images), split, path, time.perf_counter() - start)
        return decoded
