"""``ImageData``: one split of an image dataset as uint8 arrays, plus its classes and statistics."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch


@dataclass(frozen=True, eq=False)
class ImageData:
    """One split of a dataset held in memory.

    ``images`` is uint8 ``(N, H, W, C)`` (``C=1`` for grey), ``labels`` int64 ``(N,)`` indexing ``classes``.
    ``mean``/``std`` are per-channel statistics of the *train* split on the [0, 1] scale, for the model's
    normalisation layer. ``source`` says where the data were read from.
    """

    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    name: str
    split: str
    source: str

    def __post_init__(self) -> None:
        images, labels = self.images, self.labels
        if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4:
            got = f"{images.dtype} {images.shape}" if isinstance(images, np.ndarray) else type(images).__name__
            raise ValueError(f"ImageData.images: expected a uint8 array of shape (N, H, W, C), got {got}")
        labels = np.asarray(labels)
        if labels.ndim != 1 or labels.shape[0] != images.shape[0] or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(
                f"ImageData.labels: expected {images.shape[0]} integer labels (one per image), "
                f"got {labels.dtype} {labels.shape}"
            )
        object.__setattr__(self, "labels", labels.astype(np.int64, copy=False))
        object.__setattr__(self, "classes", tuple(str(c) for c in self.classes))
        object.__setattr__(self, "mean", tuple(float(m) for m in self.mean))
        object.__setattr__(self, "std", tuple(float(s) for s in self.std))
        if len(labels) and (labels.min() < 0 or labels.max() >= len(self.classes)):
            raise ValueError(
                f"ImageData.labels: values must lie in [0, {len(self.classes)}) for {len(self.classes)} classes, "
                f"got range [{labels.min()}, {labels.max()}]"
            )
        channels = images.shape[3]
        if len(self.mean) != channels or len(self.std) != channels:
            raise ValueError(
                f"ImageData.mean/std: expected {channels} values (one per channel), "
                f"got {len(self.mean)} and {len(self.std)}"
            )

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __repr__(self) -> str:
        h, w, c = self.images.shape[1:]
        return (
            f"ImageData(name={self.name!r}, split={self.split!r}, n={len(self)}, image={h}x{w}x{c}, "
            f"classes={self.num_classes}, source={self.source!r})"
        )

    @property
    def image_size(self) -> int:
        """Side length of the (square) images; raises ``ValueError`` for non-square images."""
        h, w = self.images.shape[1:3]
        if h != w:
            raise ValueError(f"ImageData.image_size: images of {self.name}/{self.split} are {h}x{w}, not square")
        return int(h)

    @property
    def channels(self) -> int:
        return int(self.images.shape[3])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def tensors(self, device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Images as float32 ``(N, C, H, W)`` in [0, 1] and int64 labels, on ``device`` (default CPU).

        The uint8 array moves to the device first (a quarter of the bytes), then converts there once.
        """
        x = torch.from_numpy(np.ascontiguousarray(self.images)).to(device)
        x = x.permute(0, 3, 1, 2).to(torch.float32, memory_format=torch.contiguous_format).div_(255.0)
        y = torch.from_numpy(np.ascontiguousarray(self.labels)).to(device)
        return x, y

    def subset(self, indices: np.ndarray | list[int] | range) -> ImageData:
        """The images at ``indices`` (integer positions or a boolean mask), in that order."""
        idx = np.asarray(indices)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise ValueError(f"ImageData.subset: boolean mask must have shape ({len(self)},), got {idx.shape}")
        elif idx.size == 0:
            idx = idx.astype(np.int64)
        elif not np.issubdtype(idx.dtype, np.integer):
            raise ValueError(f"ImageData.subset: indices must be integers or a boolean mask, got dtype {idx.dtype}")
        return replace(self, images=self.images[idx], labels=self.labels[idx])

    def sample(self, n: int, seed: int) -> ImageData:
        """A seeded random subset of ``n`` distinct images, kept in their original order."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"ImageData.sample: n must be a non-negative int, got {n!r}")
        if n > len(self):
            raise ValueError(
                f"ImageData.sample: n={n} exceeds the {len(self)} images of {self.name}/{self.split}; "
                f"use n <= {len(self)}"
            )
        rng = np.random.default_rng(seed)
        return self.subset(np.sort(rng.choice(len(self), size=int(n), replace=False)))

    def select_classes(self, classes: Sequence[int]) -> ImageData:
        """The images of ``classes`` only (indices into ``self.classes``), relabelled 0 … len(classes) − 1 in the
        order given; the statistics stay those of the whole training split."""
        idx = [int(c) for c in classes]
        if len(idx) < 2 or len(set(idx)) != len(idx) or min(idx) < 0 or max(idx) >= self.num_classes:
            raise ValueError(f"ImageData.select_classes: expected at least 2 distinct class indices in "
                             f"[0, {self.num_classes}) of {self.name}, got {list(classes)}")
        lookup = np.full(self.num_classes, -1, dtype=np.int64)
        lookup[idx] = np.arange(len(idx))
        keep = lookup[self.labels] >= 0
        return replace(self, images=self.images[keep], labels=lookup[self.labels[keep]],
                       classes=tuple(self.classes[i] for i in idx))

    def conformed(self, channels: int, size: int) -> ImageData:
        """The images as ``channels`` (1 or 3) × ``size`` × ``size``, to feed them to models trained on another
        dataset: grey is repeated to RGB, RGB averaged to grey, and the side resized (bilinear, antialiased).
        Labels and classes are kept; mean/std become these images' own."""
        if channels not in (1, 3) or size < 1:
            raise ValueError(f"ImageData.conformed: channels must be 1 or 3 and size >= 1, got {channels}, {size}")
        x = torch.from_numpy(np.ascontiguousarray(self.images)).permute(0, 3, 1, 2).float()
        if x.shape[1] != channels:
            x = x.mean(1, keepdim=True) if channels == 1 else x.expand(-1, 3, -1, -1)
        if x.shape[-1] != size or x.shape[-2] != size:
            x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                                                antialias=True)
        images = x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()
        scaled = images.reshape(-1, channels) / 255.0
        return replace(self, images=images, mean=tuple(scaled.mean(0)), std=tuple(scaled.std(0) + 1e-8))
