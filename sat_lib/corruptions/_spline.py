"""Corruptions the reference builds on scipy.ndimage's cubic splines: circular_motion_blur,
transverse_chromatic_abberation.

Reference: ``CircularMotionBlur`` (21 weighted ``scipy.ndimage.rotate`` calls: cubic spline, prefiltered, black
outside) and ``TransverseChromaticAbberation`` (one ``scipy.ndimage.zoom(..., prefilter=False)`` per channel: the
cubic B-spline evaluated on the raw pixels, which also smooths) in ``imagenet_c_bar/corrupt.py`` of
facebookresearch/augmentation-corruption. Both are linear maps that depend only on the size and the severity
(and, for the aberration, on which channel gets which zoom), so they are built once as matrices and applied to
the whole batch with matrix products. Spline taps beyond the border are mirrored, as scipy does.
"""
from __future__ import annotations

import functools
import math

import torch
from torch import Tensor

from sat_lib.corruptions._common import float_parameter, fold_mirror, uniform
from sat_lib.corruptions._registry import register_corruption


def bspline_taps(coords: Tensor, size: int) -> tuple[Tensor, Tensor]:
    """The four pixel indices (mirrored at the border) and cubic B-spline weights that evaluate a spline at
    ``coords`` (any shape); returns ``(index, weight)``, each ``coords.shape + (4,)``."""
    k = torch.floor(coords)
    t = (coords - k)[..., None]
    weight = torch.cat(((1 - t) ** 3, 3 * t ** 3 - 6 * t ** 2 + 4, -3 * t ** 3 + 3 * t ** 2 + 3 * t + 1, t ** 3),
                       dim=-1) / 6
    index = fold_mirror(k.long()[..., None] + torch.arange(-1, 3, device=coords.device), size)
    return index, weight


def bspline_matrix(coords: Tensor, size: int) -> Tensor:
    """``(len(coords), size)`` matrix that evaluates the cubic B-spline with coefficients ``c`` (one axis of
    ``size``) at ``coords``: ``matrix @ c``."""
    index, weight = bspline_taps(coords, size)
    out = torch.zeros(coords.shape[0], size, dtype=weight.dtype, device=coords.device)
    return out.scatter_add_(1, index, weight)


def spline_prefilter(size: int) -> Tensor:
    """``(size, size)`` matrix turning pixel values into cubic-spline coefficients (scipy's ``spline_filter``
    with mirrored borders): the inverse of evaluating the spline at the pixels."""
    return torch.linalg.inv(bspline_matrix(torch.arange(size, dtype=torch.float64), size))


# -------------------------------------------------------------------------------------- circular_motion_blur

ROTATIONS = 21


def _circular_motion_blur_params(gen: torch.Generator, n: int, size: int, severity: float) -> dict:
    """No random draw: 21 rotations by ``u · float_parameter(severity, 15)`` degrees, u evenly spaced in [-1, 1],
    weighted ``exp(-2 u²)``."""
    return {"amount": float_parameter(severity, 15.0)}


@functools.lru_cache(maxsize=8)
def _rotation_blur_operator(size: int, amount: float) -> tuple[Tensor, Tensor]:
    """``(prefilter, blur)``: the spline prefilter ``(size, size)`` and the sparse ``(size², size²)`` map from
    spline coefficients to the weighted sum of the 21 rotated images (about the image centre; a point that falls
    outside the image reads 0, as scipy's ``constant`` mode)."""
    centre = (size - 1) / 2
    pix = torch.arange(size, dtype=torch.float64)
    r = (pix[:, None] - centre).expand(size, size).reshape(-1)
    c = (pix[None, :] - centre).expand(size, size).reshape(-1)
    u = [2 * i / (ROTATIONS - 1) - 1 for i in range(ROTATIONS)]
    factors = torch.tensor([math.exp(-2 * v * v) for v in u], dtype=torch.float64)
    factors = factors / factors.sum()
    outputs, inputs, values = [], [], []
    for v, factor in zip(u, factors):
        theta = math.radians(v * amount)
        rr = math.cos(theta) * r + math.sin(theta) * c + centre
        cc = -math.sin(theta) * r + math.cos(theta) * c + centre
        inside = (rr >= 0) & (rr <= size - 1) & (cc >= 0) & (cc <= size - 1)
        ri, rw = bspline_taps(rr, size)
        ci, cw = bspline_taps(cc, size)
        inputs.append((ri[:, :, None] * size + ci[:, None, :]).reshape(-1))
        values.append((rw[:, :, None] * cw[:, None, :] * (factor * inside)[:, None, None]).reshape(-1))
        outputs.append(torch.arange(size * size).repeat_interleave(16))
    blur = torch.sparse_coo_tensor(torch.stack((torch.cat(outputs), torch.cat(inputs))), torch.cat(values),
                                   (size * size, size * size), check_invariants=True).coalesce()
    return spline_prefilter(size).float(), blur.float()


def _circular_motion_blur(x: Tensor, p: dict) -> Tensor:
    """Spline coefficients ``P x Pᵀ`` per channel, then the 21 weighted rotations as one sparse product."""
    n, ch, size, _ = x.shape
    prefilter, blur = (t.to(x.device) for t in _rotation_blur_operator(size, p["amount"]))
    coeffs = (prefilter @ x @ prefilter.T).reshape(n * ch, size * size)
    out = torch.sparse.mm(blur, coeffs.T.contiguous()).T
    return out.reshape(n, ch, size, size).clamp(0, 1)


# --------------------------------------------------------------------------- transverse_chromatic_abberation


def _transverse_chromatic_abberation_params(gen: torch.Generator, n: int, size: int, severity: float) -> dict:
    """Zoom factors ``1``, ``1 + s/2`` and ``1 + s`` with ``s = float_parameter(severity, 0.5)``, dealt to the
    three channels by a random permutation per image (``order[i, c]`` = which factor channel c gets)."""
    s = float_parameter(severity, 0.5)
    return {"factors": (1.0, 1.0 + s / 2, 1.0 + s), "order": uniform(gen, (n, 3)).argsort(dim=1)}


@functools.lru_cache(maxsize=32)
def zoom_matrix(size: int, factor: float) -> Tensor:
    """``(size, size)`` matrix ``Z`` with ``Z X Zᵀ`` = the centre crop of ``scipy.ndimage.zoom(X, factor,
    prefilter=False)``: output length ``round(size · factor)``, output pixel o reads
    ``o · (size - 1) / (length - 1)``, crop from ``(length - size) // 2``."""
    length = round(size * factor)
    edge = (length - size) // 2
    coords = torch.arange(edge, edge + size, dtype=torch.float64) * ((size - 1) / max(length - 1, 1))
    return bspline_matrix(coords, size).float()


def _transverse_chromatic_abberation(x: Tensor, p: dict) -> Tensor:
    """Each channel zoomed about the image centre by its factor: ``Z X Zᵀ`` per channel."""
    size = x.shape[-1]
    zooms = torch.stack([zoom_matrix(size, f) for f in p["factors"]]).to(x.device)[p["order"]]
    return (zooms @ x @ zooms.transpose(-1, -2)).clamp(0, 1)


register_corruption("circular_motion_blur", _circular_motion_blur_params, _circular_motion_blur,
                    "CircularMotionBlur", stochastic=False)
register_corruption("transverse_chromatic_abberation", _transverse_chromatic_abberation_params,
                    _transverse_chromatic_abberation, "TransverseChromaticAbberation")
