"""Geometric warps read back with bilinear interpolation: ripple, water_drop, pinch_and_twirl, caustic_refraction.

Reference: ``Ripple``, ``WaterDrop``, ``PinchAndTwirl`` and ``CausticRefraction`` in ``imagenet_c_bar/corrupt.py`` of
facebookresearch/augmentation-corruption. Each maps every output pixel to a point of the input and reads it with
the reference's bilinear interpolation (corners outside the image are black): ``sample_bilinear``.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from sat_lib.corruptions._common import (
    float_parameter,
    fold_reflect,
    grid,
    per_image,
    randint,
    sample_bilinear,
    uniform,
)
from sat_lib.corruptions._registry import register_corruption

TWO_PI = 2 * math.pi

# ------------------------------------------------------------------------------------------------------- ripple


def _ripple_params(gen: torch.Generator, n: int, size: int, severity: float) -> dict:
    """Per image and axis: wavelength ~ U(0.1, 0.3)·size, phase ~ U(0, 2π); amplitude
    ``float_parameter(severity, 0.025)·size`` on both axes."""
    return {"wavelengths": uniform(gen, (n, 2), 0.1, 0.3) * size,
            "phases": uniform(gen, (n, 2), 0.0, TWO_PI),
            "amplitude": float_parameter(severity, 0.025) * size}


def _ripple(x: Tensor, p: dict) -> Tensor:
    """Each coordinate moves by ``amplitude · sin(2π · coordinate / wavelength + phase)`` along its own axis."""
    rows, cols = grid(x.shape[-1], x.device)
    lam, phase, a = p["wavelengths"], p["phases"], p["amplitude"]
    r = rows + a * torch.sin(TWO_PI * rows / per_image(lam[:, 0], 3) + per_image(phase[:, 0], 3))
    c = cols + a * torch.sin(TWO_PI * cols / per_image(lam[:, 1], 3) + per_image(phase[:, 1], 3))
    return sample_bilinear(x, r, c)


# --------------------------------------------------------------------------------------------------- water_drop


def _water_drop_params(gen: torch.Generator, n: int, size: int, severity: float) -> dict:
    """Per image: centre ~ U(0.25, 0.75)·size, wavelength ~ U(0.05, 0.2)·size, phase ~ U(0, 2π); radius
    size // 2, amplitude ``float_parameter(severity, 0.25)``."""
    return {"centre": uniform(gen, (n, 2), 0.25, 0.75) * size,
            "wavelength": uniform(gen, (n,), 0.05, 0.2) * size,
            "phase": uniform(gen, (n,), 0.0, TWO_PI),
            "radius": size // 2,
            "amplitude": float_parameter(severity, 0.25)}


def _water_drop(x: Tensor, p: dict) -> Tensor:
    """Concentric ripples around the centre: a pixel at distance d <= radius reads the point moved away from the
    centre by ``amplitude · wavelength · sin(2π d / wavelength - phase)`` pixels (the reference scales the offset
    by ``amount · wavelength / d``); pixels beyond the radius stay."""
    rows, cols = grid(x.shape[-1], x.device)
    dr, dc = rows - per_image(p["centre"][:, 0], 3), cols - per_image(p["centre"][:, 1], 3)
    dist = torch.hypot(dr, dc)
    lam = per_image(p["wavelength"], 3)
    amount = p["amplitude"] * torch.sin(dist / lam * TWO_PI - per_image(p["phase"], 3))
    amount = torch.where(dist > 0, amount * lam / dist.clamp_min(1e-12), amount)
    amount = torch.where(dist > p["radius"], torch.zeros_like(amount), amount)
    return sample_bilinear(x, rows + amount * dr, cols + amount * dc)


# ---------------------------------------------------------------------------------------------- pinch_and_twirl


def _cells_per_axis(size: int) -> int:
    """The reference's ``num_per_axis``: 5 at ImageNet's 224 px, else 3."""
    return 5 if size == 224 else 3


def _pinch_and_twirl_params(gen: torch.Generator, n: int, size: int, severity: float) -> dict:
    """A 3 × 3 (5 × 5 at 224 px) grid of discs per image, each twirled by ``±float_parameter(severity, π/2)``
    (sign ~ fair coin, ``signs[i, j]`` for column cell i, row cell j) and pinched by
    ``float_parameter(severity, 0.4) + 0.1``."""
    k = _cells_per_axis(size)
    return {"signs": randint(gen, (n, k, k), 0, 2).mul(2).sub(1).float(),
            "angle": float_parameter(severity, math.pi / 2),
            "amount": float_parameter(severity, 0.4) + 0.1}


def _pinch_and_twirl(x: Tensor, p: dict) -> Tensor:
    """Cells of side size // k, in the reference's order (columns outer, rows inner), each read from the image as
    the earlier cells left it. In the disc of radius side / 2 around (top + side/2, left + side/2), a point at
    relative distance d is pushed out by ``sin(π d / 2) ** -amount`` and turned by ``angle · (1 - d)²``."""
    size = x.shape[-1]
    k = p["signs"].shape[-1]
    side = size // k
    radius = side / 2
    rows, cols = grid(size, x.device)
    out = x.clone()
    for i in range(k):
        for j in range(k):
            top, left = j * side, i * side
            r = rows[top:top + side, left:left + side]
            c = cols[top:top + side, left:left + side]
            dr, dc = r - (top + radius), c - (left + radius)
            dist = torch.hypot(dr, dc)
            inside = (dist <= radius) & (dist >= 5e-4)  # the reference skips dist that rounds to 0.000
            d = dist.clamp_min(5e-4) / radius
            push = torch.sin(math.pi / 2 * d) ** (-p["amount"])
            turn = per_image(p["signs"][:, i, j] * p["angle"], 3) * (1 - d) ** 2
            cos, sin = torch.cos(turn), torch.sin(turn)
            wr = top + radius + push * (dr * cos - dc * sin)
            wc = left + radius + push * (dr * sin + dc * cos)
            wr, wc = torch.where(inside, wr, r), torch.where(inside, wc, c)
            out[:, :, top:top + side, left:left + side] = sample_bilinear(out, wr, wc)
    return out


# ------------------------------------------------------------------------------------------- caustic_refraction


def _caustic_refraction_params(gen: torch.Generator, n: int, size: int, severity: float) -> dict:
    """Per image: time ~ U(0.5, 2), pattern size ~ U(0.75, 1.25)·size; eta 4, lens scale
    ``float_parameter(severity, 0.5·size)``, lighting ``float_parameter(severity, 2)``, Gaussian softening σ = 1."""
    return {"time": uniform(gen, (n,), 0.5, 2.0),
            "pattern": uniform(gen, (n,), 0.75, 1.25) * size,
            "eta": 4.0,
            "lens_scale": float_parameter(severity, 0.5 * size),
            "lighting": float_parameter(severity, 2.0),
            "softening": 1.0}


def caustics(size: int, time: Tensor, pattern: Tensor, device) -> Tensor:
    """The reference's caustic-noise kernel (five iterations of a water-caustic pattern, tiled every ``pattern``
    pixels) at every pixel, ``(n, size, size)`` in [0, 1]. float32 (the reference computes in float64; the
    corrupted images differ by 0.002 of a level on average, never by more than 2)."""
    rows, cols = grid(size, device)
    t0, scale = per_image(time, 3), per_image(pattern, 3)
    p0 = (rows / scale).remainder(1) * TWO_PI - 250
    p1 = (cols / scale).remainder(1) * TWO_PI - 250
    i0, i1 = p0, p1
    c = torch.ones_like(p0)
    for step in range(5):
        t = t0 * (1.0 - 3.5 / (step + 1))
        i0, i1 = p0 + torch.cos(t - i0) + torch.sin(t + i1), p1 + torch.sin(t - i1) + torch.cos(t + i0)
        length = 0.005 * torch.hypot(p0 / torch.sin(i0 + t), p1 / torch.cos(i1 + t))
        c = c + 1.0 / length
    c = 1.17 - (c / 5.0) ** 1.4
    return (c.abs() ** 8).clamp(0, 1)


def gaussian_blur(field: Tensor, sigma: float) -> Tensor:
    """``scipy.ndimage.gaussian_filter(field, sigma)`` on the last two axes: separable, truncated at 4σ, borders
    reflected (``reflect`` mode)."""
    radius = int(4.0 * sigma + 0.5)
    taps = torch.arange(-radius, radius + 1, device=field.device, dtype=field.dtype)
    w = torch.exp(-0.5 * (taps / sigma) ** 2)
    w = w / w.sum()
    for dim in (-2, -1):
        size = field.shape[dim]
        index = fold_reflect(torch.arange(-radius, size + radius, device=field.device), size)
        padded = field.index_select(dim, index)
        field = sum(w[k] * padded.narrow(dim, k, size) for k in range(2 * radius + 1))
    return field


def _caustic_refraction(x: Tensor, p: dict) -> Tensor:
    """Treat the softened caustics as a height map: its four-neighbour differences (0 outside the image) give a
    surface normal (the reference takes the luma of a grey image, whose weights 0.2126, 0.7152, 0.0722 sum to 1,
    so the luma is the height itself), the ray straight down is refracted through it (eta) and moves the read point by
    ``lens_scale ·`` its sideways part (rounded to 3 decimals); the differences also brighten or darken the pixel
    by ``lighting``."""
    size = x.shape[-1]
    height = gaussian_blur(caustics(size, p["time"], p["pattern"], x.device), p["softening"])
    padded = F.pad(height, (1, 1, 1, 1))
    north, south = padded[:, 1:-1, :-2], padded[:, 1:-1, 2:]  # the reference's names: (y, x - 1), (y, x + 1)
    west, east = padded[:, :-2, 1:-1], padded[:, 2:, 1:-1]  # (y - 1, x), (y + 1, x)
    a, b = east - west, south - north
    norm = torch.sqrt(a * a + b * b + 1)
    na, nb, nz = a / norm, b / norm, 1 / norm
    # refract((0, 0, 1), n, eta)[:2] = (na, nb) · (cos(asin(sin θ / eta)) - nz / eta) with sin θ = |(na, nb)|
    bend = torch.sqrt(1 - (na * na + nb * nb) / p["eta"] ** 2) - nz / p["eta"]
    bend = torch.where(nz >= 1 - 1e-3, torch.zeros_like(bend), bend)  # the reference passes near-normal rays
    rows, cols = grid(size, x.device)
    dr = torch.round(p["lens_scale"] * na * bend, decimals=3)
    dc = torch.round(p["lens_scale"] * nb * bend, decimals=3)
    light = ((north - south) + (east - west)) * p["lighting"]
    return (sample_bilinear(x, rows + dr, cols + dc) + light[:, None]).clamp(0, 1)


register_corruption("ripple", _ripple_params, _ripple, "Ripple")
register_corruption("water_drop", _water_drop_params, _water_drop, "WaterDrop")
register_corruption("pinch_and_twirl", _pinch_and_twirl_params, _pinch_and_twirl, "PinchAndTwirl")
register_corruption("caustic_refraction", _caustic_refraction_params, _caustic_refraction, "CausticRefraction")
