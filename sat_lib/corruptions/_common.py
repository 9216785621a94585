"""Pieces the corruptions share: per-image parameter draws, pixel grids, bilinear sampling, blending.

Inside this package an image batch is float32 ``(n, 3, S, S)`` in [0, 1]; the reference works in 0–255, so its
intensities appear here divided by 255. Pixel ``(row, col)`` has coordinates ``(row, col)`` (the reference's
``point = [y, x]``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

#: Grey of the reference's cut-outs and lines (128 of 255).
GREY = 128 / 255


def float_parameter(severity: float, maxval: float) -> float:
    """The reference's ``float_parameter(level, maxval) = level * maxval / 10``: severity 10 gives ``maxval``."""
    return float(severity) * maxval / 10.0


def uniform(gen: torch.Generator, shape: tuple[int, ...], low: float = 0.0, high: float = 1.0) -> Tensor:
    """Independent U(low, high) draws (``np.random.uniform``), float32 on the CPU."""
    return torch.rand(shape, generator=gen) * (high - low) + low


def randint(gen: torch.Generator, shape: tuple[int, ...], low: int, high: int) -> Tensor:
    """Integers in [low, high) (``np.random.randint``), int64 on the CPU."""
    return torch.randint(low, high, shape, generator=gen)


def normal(gen: torch.Generator, shape: tuple[int, ...]) -> Tensor:
    """Standard normal draws (``random_state.randn``), float32 on the CPU."""
    return torch.randn(shape, generator=gen)


def grid(size: int, device: torch.device | str | None = None) -> tuple[Tensor, Tensor]:
    """Row and column coordinates of every pixel of a ``size`` × ``size`` image, each ``(size, size)`` float32."""
    r = torch.arange(size, device=device, dtype=torch.float32)
    return r[:, None].expand(size, size), r[None, :].expand(size, size)


def sample_bilinear(x: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
    """``x`` (n, C, H, W) read at pixel coordinates ``rows``, ``cols`` (n, h, w) with bilinear weights; corners
    outside the image count as 0 — the reference's ``bilinear_interpolation``."""
    h, w = x.shape[-2:]
    gx = cols * (2.0 / max(w - 1, 1)) - 1.0
    gy = rows * (2.0 / max(h - 1, 1)) - 1.0
    g = torch.stack((gx, gy), dim=-1)
    return F.grid_sample(x, g, mode="bilinear", padding_mode="zeros", align_corners=True)


def blend_toward(x: Tensor, target: float, keep: Tensor) -> Tensor:
    """``target + keep * (x - target)``: ``keep`` = 1 leaves a pixel, 0 replaces it with ``target``.

    Blending a pixel toward one colour several times in a row (the reference's lines, sparkles) is one blend
    whose ``keep`` is the product of the single ``keep`` factors.
    """
    return torch.lerp(torch.full_like(x, target), x, keep)


def per_image(t: Tensor, ndim: int = 4) -> Tensor:
    """A per-image vector ``(n,)`` shaped to broadcast against ``ndim``-dimensional batches."""
    return t.reshape(t.shape[0], *([1] * (ndim - 1)))


def fold_mirror(index: Tensor, size: int) -> Tensor:
    """Indices outside [0, size) mirrored about the edge pixels (… 2 1 | 0 1 2 … | S-2 S-1 | S-2 …), as
    scipy.ndimage's spline interpolation extends an image (its ``mirror`` and, for taps, ``constant`` modes)."""
    period = 2 * (size - 1) if size > 1 else 1
    index = index.remainder(period)
    return torch.where(index >= size, period - index, index)


def fold_reflect(index: Tensor, size: int) -> Tensor:
    """Indices outside [0, size) reflected about the image's border (… 1 0 | 0 1 … S-1 | S-1 S-2 …): scipy's
    ``reflect`` mode, the default of ``gaussian_filter``."""
    period = 2 * size
    index = index.remainder(period)
    return torch.where(index >= size, period - 1 - index, index)
