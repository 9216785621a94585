"""``corrupt``: one call for every registered corruption, on uint8 or float batches."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from sat_lib.corruptions._registry import CORRUPTIONS

#: Images are corrupted in chunks of about this many pixels per channel (4 096 CIFAR-size images), to bound
#: memory. Parameters are drawn chunk by chunk from the one generator, so the chunk size is part of what a seed
#: means: it depends on the image size only, never on the device or the batch.
CHUNK_PIXELS = 1 << 22
MIN_SIZE = 8


def _err(arg: str, what: str) -> ValueError:
    return ValueError(f"corrupt: argument {arg!r} {what}")


def _as_tensor(images: Any) -> tuple[Tensor, bool]:
    """``images`` as a tensor (numpy arrays shared, read-only ones copied) and whether it was numpy."""
    if isinstance(images, Tensor):
        return images, False
    if isinstance(images, np.ndarray):
        if not images.flags.writeable:
            images = images.copy()
        return torch.from_numpy(images), True
    raise TypeError(f"corrupt: argument 'images' must be a torch.Tensor or numpy.ndarray, got {type(images).__name__}")


def _check_images(t: Tensor) -> bool:
    """Check the layout and range of ``t``; True for uint8 ``(n, S, S, 3)``, False for float ``(n, 3, S, S)``."""
    shape = tuple(t.shape)
    if t.dtype == torch.uint8:
        if t.ndim != 4 or shape[-1] != 3:
            hint = "; uint8 (n, 3, H, W)? pass images.permute(0, 2, 3, 1)" if t.ndim == 4 and shape[1] == 3 else ""
            raise _err("images", f"has shape {shape}; expected uint8 (n, H, W, 3) channels-last RGB{hint}")
        h, w = shape[1:3]
    elif t.is_floating_point():
        if t.ndim != 4 or shape[1] != 3:
            hint = "; float (n, H, W, 3)? pass images.permute(0, 3, 1, 2)" if t.ndim == 4 and shape[-1] == 3 else ""
            raise _err("images", f"has shape {shape}; expected float (n, 3, H, W) RGB in [0, 1]{hint}")
        if t.numel():
            lo, hi = torch.aminmax(t)
            if not (lo >= 0 and hi <= 1):  # NaN fails both
                raise _err("images", f"has values in [{float(lo):g}, {float(hi):g}]; expected float images in [0, 1] "
                                     f"(uint8 images go in as (n, H, W, 3) uint8)")
        h, w = shape[2:]
    else:
        raise _err("images", f"has dtype {t.dtype}; expected uint8 (n, H, W, 3) or float (n, 3, H, W) in [0, 1]")
    if h != w or h < MIN_SIZE:
        raise _err("images", f"has {h} × {w} pixels; expected square images of at least {MIN_SIZE} × {MIN_SIZE} "
                             f"(the C-bar corruptions scale with one image size)")
    return t.dtype == torch.uint8


def _to_float(t: Tensor, is_uint8: bool, device: torch.device) -> Tensor:
    """A chunk of the input as float32 ``(n, 3, S, S)`` in [0, 1] on ``device``."""
    t = t.to(device)
    return t.permute(0, 3, 1, 2).float().div_(255) if is_uint8 else t.float()


def _from_float(x: Tensor, is_uint8: bool, like: Tensor) -> Tensor:
    """The inverse of :func:`_to_float`, in ``like``'s dtype and on its device (uint8 rounded)."""
    if is_uint8:
        x = x.mul(255).round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
    return x.to(device=like.device, dtype=like.dtype)


def _to_device(params: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {k: v.to(device) if isinstance(v, Tensor) else v for k, v in params.items()}


@torch.no_grad()
def corrupt(images: Any, name: str, severity: float, seed: int = 0, *,
            device: torch.device | str | None = None) -> Any:
    """Corrupt a batch with the named C-bar corruption at ``severity`` (the reference's continuous severity).

    ``images``: uint8 ``(n, H, W, 3)`` or float ``(n, 3, H, W)`` in [0, 1], numpy or torch, square. The result has
    the same kind, shape, dtype and device (uint8 results are rounded; the reference truncates). Computation runs
    on ``device`` (default: the input's device; numpy input on the CPU), chunk by chunk.

    Every image gets its own random parameters, drawn from one ``torch.Generator`` seeded with ``seed`` on the
    CPU: the same call gives the same images on any device. Unknown ``name`` raises ``KeyError`` with close
    matches; a severity outside (0, 10] raises ``ValueError``.
    """
    record = CORRUPTIONS[name]
    severity = record.check_severity(severity)
    t, was_numpy = _as_tensor(images)
    is_uint8 = _check_images(t)
    device = torch.device(device) if device is not None else t.device
    n, size = t.shape[0], t.shape[2]
    gen = torch.Generator().manual_seed(int(seed))
    chunk = max(1, CHUNK_PIXELS // (size * size))
    out = torch.empty_like(t)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        params = _to_device(record.sample(gen, stop - start, size, severity), device)
        x = record.apply(_to_float(t[start:stop], is_uint8, device), params)
        out[start:stop] = _from_float(x, is_uint8, t)
    return out.numpy() if was_numpy else out
