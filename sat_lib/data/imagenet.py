"""ImageNet (ILSVRC-2012) validation images from a class-folder tree ``val/<wnid>/*.JPEG``.

Labels follow the sorted wnid order (torchvision ``ImageFolder``'s order, which the standard pretrained
weights use); ``classes`` are the wnids. Each image is converted to RGB, its shorter side resized to
``resize`` (256; bilinear with antialiasing, as torchvision's ``Resize`` on PIL images) and centre-cropped
to ``crop`` (224). All 50 000 images at 224² take 7.5 GB, so ``max_images`` picks a seeded, class-balanced
subset: every class contributes in turn (a random image each round) until ``max_images`` are chosen.
The dataset cannot be downloaded automatically: its licence needs a sign-in at image-net.org.
"""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from sat_lib.data._dataset import Dataset, Decoded, Format, register_dataset
from sat_lib.data._errors import CorruptDatasetError
from sat_lib.data._imagefiles import is_image_name
from sat_lib.registry import Registry

log = logging.getLogger(__name__)


def resize_crop(image: Image.Image, resize: int | None, crop: int) -> Image.Image:
    """Shorter side to ``resize`` (skipped when ``None``), then a centre crop of ``crop``×``crop``.

    Sizes and offsets follow torchvision's ``Resize(int)`` and ``CenterCrop`` for PIL images.
    """
    if resize is not None:
        w, h = image.size
        short, long = (w, h) if w <= h else (h, w)
        if short != resize:
            new_long = int(resize * long / short)
            size = (resize, new_long) if w <= h else (new_long, resize)
            image = image.resize(size, Image.BILINEAR)
    w, h = image.size
    top, left = int(round((h - crop) / 2.0)), int(round((w - crop) / 2.0))
    return image.crop((left, top, left + crop, top + crop))


def balanced_subset(per_class: list[list[Path]], max_images: int | None, seed: int) -> list[tuple[int, Path]]:
    """``(label, file)`` pairs: all, or ``max_images`` taken round-robin over classes in a seeded order."""
    if max_images is None:
        return [(label, f) for label, files in enumerate(per_class) for f in files]
    rng = np.random.default_rng(seed)
    shuffled = [[files[i] for i in rng.permutation(len(files))] for files in per_class]
    chosen: list[tuple[int, Path]] = []
    for rank in range(max((len(f) for f in shuffled), default=0)):
        if len(chosen) >= max_images:
            break
        for label in rng.permutation(len(shuffled)):
            if rank < len(shuffled[label]) and len(chosen) < max_images:
                chosen.append((int(label), shuffled[label][rank]))
    return sorted(chosen)


class ValFolderFormat(Format):
    """``<val>/<wnid>/*.JPEG`` (what ImageNet's ``valprep.sh`` produces)."""

    name = "val-folders"
    description = "a folder val/<wnid>/*.JPEG (sort the flat val images into class folders, e.g. with valprep.sh)"

    def can_read(self, path: Path) -> bool:
        if not path.is_dir():
            return False
        for sub in path.iterdir():
            if sub.is_dir() and any(f.is_file() and is_image_name(f.name) for f in sub.iterdir()):
                return True
        return False

    def read(
        self, path: Path, split: str, resize: int | None = 256, crop: int = 224, max_images: int | None = None,
        seed: int = 0,
    ) -> Decoded:
        start = time.perf_counter()
        class_dirs = sorted(d for d in path.iterdir() if d.is_dir())
        per_class = [sorted(f for f in d.iterdir() if f.is_file() and is_image_name(f.name)) for d in class_dirs]
        chosen = balanced_subset(per_class, max_images, seed)
        if not chosen:
            raise CorruptDatasetError(path, "no images in its class folders (expected <wnid>/*.JPEG)")
        images = np.empty((len(chosen), crop, crop, 3), dtype=np.uint8)

        def decode(i: int) -> None:
            file = chosen[i][1]
            try:
                with Image.open(file) as im:
                    rgb = im.convert("RGB")
            except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
                raise CorruptDatasetError(file, f"cannot decode image: {exc}") from None
            if resize is None and min(rgb.size) < crop:
                raise CorruptDatasetError(
                    file, f"image is {rgb.size[0]}x{rgb.size[1]}, smaller than crop={crop}", "Set resize >= crop."
                )
            images[i] = np.asarray(resize_crop(rgb, resize, crop))

        with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:  # PIL decodes without the GIL
            list(pool.map(decode, range(len(chosen))))
        labels = np.array([label for label, _ in chosen], dtype=np.int64)
        log.info("decoded %d ImageNet val images from %s in %.1f s", len(chosen), path, time.perf_counter() - start)
        return Decoded(images, labels, tuple(d.name for d in class_dirs))


FORMATS: Registry[Format] = Registry("ImageNet format")
FORMATS.register(ValFolderFormat.name, ValFolderFormat())


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


@register_dataset
class ImageNetVal(Dataset):
    name = "imagenet_val"
    num_classes = 1000
    title = "ImageNet validation set"
    splits = ("val",)
    options = {"resize": 256, "crop": 224, "max_images": None, "seed": 0}
    mean = (0.485, 0.456, 0.406)  # the standard train-split statistics
    std = (0.229, 0.224, 0.225)
    how_to_get = (
        "download ILSVRC2012_img_val.tar from https://image-net.org (sign-in required), sort it into "
        "val/<wnid>/ folders (e.g. with valprep.sh), and point `sat-companion` config key "
        "data.roots.imagenet_val (_config.yml) at the val folder or its parent."
    )

    @property
    def formats(self) -> Registry[Format]:
        return FORMATS

    def candidates(self, root: Path) -> list[Path]:
        return [root / "val", root] if root.is_dir() else [root]

    def check_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        opts = super().check_options(options)
        where = "load_dataset('imagenet_val')"
        if not _positive_int(opts["crop"]):
            raise ValueError(f"{where}: crop must be a positive int, got {opts['crop']!r}")
        if opts["resize"] is not None and not (_positive_int(opts["resize"]) and opts["resize"] >= opts["crop"]):
            raise ValueError(f"{where}: resize must be None or an int >= crop={opts['crop']}, got {opts['resize']!r}")
        if opts["max_images"] is not None and not _positive_int(opts["max_images"]):
            raise ValueError(f"{where}: max_images must be None or a positive int, got {opts['max_images']!r}")
        if isinstance(opts["seed"], bool) or not isinstance(opts["seed"], int):
            raise ValueError(f"{where}: seed must be an int, got {opts['seed']!r}")
        return opts
