"""Additive and masking noise: blue_noise_sample, brownish_noise, plasma_noise.

Reference: ``BlueNoiseSample``, ``BrownishNoise`` and ``PlasmaNoise`` in ``imagenet_c_bar/corrupt.py`` of
facebookresearch/augmentation-corruption. Intensities there are in 0–255; here they are divided by 255.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from sat_lib.corruptions._common import float_parameter, grid, per_image, randint, uniform
from sat_lib.corruptions._registry import register_corruption

TWO_PI = 2 * math.pi


# ------------------------------------------------------------------------------------------------ spectral noise


def _sample_phases(gen: torch.Generator, n: int, fields: int, size: int) -> dict[str, Tensor]:
    """The reference's random Fourier phases for ``fields`` noise fields per image: U(0, 2π) of shape
    (size, size // 2), plus for odd sizes a centre column of size // 2 phases."""
    half = uniform(gen, (n, fields, size, size // 2), 0.0, TWO_PI)
    centre = uniform(gen, (n, fields, size // 2 if size % 2 else 0, 1), 0.0, TWO_PI)
    return {"phases": half, "centre_phases": centre}


def _radial_distance(size: int, device) -> Tensor:
    """Distance of every pixel from the point (size / 2, size / 2), ``(size, size)``."""
    rows, cols = grid(size, device)
    return torch.hypot(rows - size / 2, cols - size / 2)


def _spectral_noise(phases: Tensor, centre_phases: Tensor, power: Tensor) -> Tensor:
    """Unit-variance noise fields ``(n, fields, S, S)`` with amplitude spectrum ``power`` (centred).

    As the reference: the right half of the phase plane is the left half flipped in both axes (which is not
    exactly Hermitian, so the inverse FFT is complex and its real part is kept), the spectrum is rolled by S // 2
    so that its centre moves to frequency 0, and the field is divided by its standard deviation.
    """
    size = phases.shape[-2]
    parts = [phases]
    if size % 2:
        zero = torch.zeros_like(centre_phases[..., :1, :])
        parts.append(torch.cat((centre_phases, zero, centre_phases.flip(-2)), dim=-2))
    parts.append(phases.flip(-2, -1))
    full = torch.cat(parts, dim=-1)
    spectrum = torch.polar(power.expand_as(full), full)
    spectrum = torch.roll(spectrum, (size // 2, size // 2), dims=(-2, -1))
    noise = torch.fft.ifft2(spectrum).real
    return noise / noise.std(dim=(-2, -1), correction=0, keepdim=True)


# ------------------------------------------------------------------------------------------- blue_noise_sample


def _blue_noise_sample_params(gen: torch.Generator, n: int, size: int, severity: float) -> dict:
    """One blue-noise field per image (amplitude ∝ distance from the centre frequency) and
    ``threshold = float_parameter(severity, 3) - 2.5``."""
    return {**_sample_phases(gen, n, 1, size), "threshold": float_parameter(severity, 3.0) - 2.5}


def _blue_noise_sample(x: Tensor, p: dict) -> Tensor:
    """Pixels whose blue-noise value is at or below the threshold turn black (all channels)."""
    noise = _spectral_noise(p["phases"], p["centre_phases"], _radial_distance(x.shape[-1], x.device))
    return x * (noise > p["threshold"])


# ----------------------------------------------------------------------------------------------- brownish_noise


def _brownish_noise_params(gen: torch.Generator, n: int, size: int, severity: float) -> dict:
    """Three brownish fields per image (one per channel, amplitude 1 / (distance² + 1)) and
    ``intensity = float_parameter(severity, 64)`` (of 255)."""
    return {**_sample_phases(gen, n, 3, size), "intensity": float_parameter(severity, 64.0) / 255}


def _brownish_noise(x: Tensor, p: dict) -> Tensor:
    """``clip(x + intensity * noise)`` with a unit-variance brownish field per channel."""
    power = 1 / (_radial_distance(x.shape[-1], x.device) ** 2 + 1)
    return (x + p["intensity"] * _spectral_noise(p["phases"], p["centre_phases"], power)).clamp(0, 1)


# ------------------------------------------------------------------------------------------------- plasma_noise

PLASMA_MAX_ITERATIONS = 6


def _plasma_noise_params(gen: torch.Generator, n: int, size: int, severity: float) -> dict:
    """Per image: time ~ U(0, 6π), iterations ∈ {4, 5, 6}, sharpness ~ U(0.5, 1), scale ~ U(0.075, 0.2)·size;
    ``intensity = float_parameter(severity, 64)`` (of 255)."""
    return {"time": uniform(gen, (n,), 0.0, 6 * math.pi),
            "iterations": randint(gen, (n,), 4, PLASMA_MAX_ITERATIONS + 1),
            "sharpness": uniform(gen, (n,), 0.5, 1.0),
            "scale": uniform(gen, (n,), 0.075, 0.2) * size,
            "intensity": float_parameter(severity, 64.0) / 255}


def _plasma_field(size: int, p: dict, device) -> Tensor:
    """The reference's plasma kernel on every pixel: ``iterations`` domain-warping steps of the scaled
    coordinates, then three sines give r, g, b in [-1, 1]; ``(n, 3, size, size)``.

    The reference also carries a phase ``i[3]`` that starts at 0 and is only ever multiplied, so it stays 0 and is
    left out here.
    """
    rows, cols = grid(size, device)
    scale, t = per_image(p["scale"], 3), per_image(p["time"], 3)
    x, y = cols / scale, rows / scale
    freq, damp = torch.ones_like(t), torch.ones_like(t)
    period = torch.ones_like(t)
    growth = per_image(2.25 - p["sharpness"], 3)
    for step in range(PLASMA_MAX_ITERATIONS):
        active = per_image(p["iterations"] > step, 3)
        r0 = torch.cos(y * freq + t / period) / damp
        r1 = torch.sin(x * freq + t / period) / damp
        r0, r1 = r0 - 0.3 * r1, r1 + 0.3 * r0
        x, y = torch.where(active, x + r0, x), torch.where(active, y + r1, y)
        freq, period, damp = freq * 1.93, period * 1.15, damp * growth
    red, blue = torch.sin(x - t), torch.sin(y + t)
    green = torch.sin((x + y + torch.sin(t)) * 0.5)
    return torch.stack((red, green, blue), dim=1)


def _plasma_noise(x: Tensor, p: dict) -> Tensor:
    """``clip((1 - intensity) * x + intensity * plasma)``."""
    a = p["intensity"]
    return ((1 - a) * x + a * _plasma_field(x.shape[-1], p, x.device)).clamp(0, 1)


register_corruption("blue_noise_sample", _blue_noise_sample_params, _blue_noise_sample, "BlueNoiseSample")
register_corruption("brownish_noise", _brownish_noise_params, _brownish_noise, "BrownishNoise")
register_corruption("plasma_noise", _plasma_noise_params, _plasma_noise, "PlasmaNoise")
