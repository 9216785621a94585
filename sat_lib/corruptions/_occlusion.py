"""Occluders painted over the image: lines, checkerboard_cutout, sparkles, inverse_sparkles.

Reference: ``Lines``, ``CheckerBoardCutOut``, ``Sparkles`` and ``InverseSparkles`` in ``imagenet_c_bar/corrupt.py``
of facebookresearch/augmentation-corruption. Each blends pixels toward one colour (grey 128 or white), so several
occluders in a row are one blend whose keep factor is the product of theirs (``blend_toward``).

Every per-line, per-cell and per-ray random number is drawn for the most the corruption can use at severity 10
and the severity only decides how many are used or where the threshold lies, so with one seed a higher severity
adds to what a lower one drew.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from sat_lib.corruptions._common import GREY, blend_toward, float_parameter, grid, normal, per_image, randint, uniform
from sat_lib.corruptions._registry import register_corruption

TWO_PI = 2 * math.pi

# -------------------------------------------------------------------------------------------------------- lines


def _lines_params(gen: torch.Generator, n: int, size: int, severity: float) -> dict:
    """Per image: a main angle ~ U(0, 2π) and a spread ~ U(0.1, 1); ``int(float_parameter(severity, 1) * size)``
    lines, each with a centre ~ U(0, size)² and an angle offset ``2π·spread·(U(0, 1) - 0.5)``; half-length
    1 × size. The uniforms (centre row, centre column, offset) are drawn for ``size`` lines (severity 10's count)
    and the first ``count`` kept as ``line_draws``."""
    count = int(float_parameter(severity, 1.0) * size)
    angle, spread = uniform(gen, (n,), 0.0, TWO_PI), uniform(gen, (n,), 0.1, 1.0)
    draws = uniform(gen, (n, size, 3))
    return {"count": count, "angle": angle, "spread": spread, "line_draws": draws[:, :count]}


def segment_coverage(rows: Tensor, cols: Tensor, start: Tensor, end: Tensor) -> Tensor:
    """Anti-aliased coverage of the segments ``start``→``end`` ((n, 2) pixel coordinates) at every pixel:
    ``max(0, 1 - distance from the pixel centre to the segment)``, ``(n, H, W)``.

    skimage's ``line_aa`` (Zingl's anti-aliased Bresenham, which the reference draws with) gives the pixels it
    draws the same ``1 - distance``, and for the integer endpoints the reference uses it draws exactly the pixels
    nearer than 1: the benchmark's port of it agrees with this pixel for pixel.
    """
    r0, c0 = per_image(start[:, 0], 3), per_image(start[:, 1], 3)
    dr, dc = per_image(end[:, 0] - start[:, 0], 3), per_image(end[:, 1] - start[:, 1], 3)
    along = ((rows - r0) * dr + (cols - c0) * dc) / (dr * dr + dc * dc).clamp_min(1e-12)
    along = along.clamp(0, 1)
    distance = torch.hypot(rows - r0 - along * dr, cols - c0 - along * dc)
    return (1 - distance).clamp_min(0)


def _lines(x: Tensor, p: dict) -> Tensor:
    """``count`` grey lines, each blending the pixels it covers toward 128; endpoints truncated to integers as
    the reference's ``int()``."""
    size = x.shape[-1]
    rows, cols = grid(size, x.device)
    draws = p["line_draws"]
    a = p["angle"][:, None] + TWO_PI * p["spread"][:, None] * (draws[..., 2] - 0.5)
    centre = draws[..., :2] * size
    half = torch.stack((torch.cos(a), torch.sin(a)), dim=-1) * size
    start, end = torch.trunc(centre - half), torch.trunc(centre + half)
    keep = torch.ones_like(x[:, 0])
    for k in range(p["count"]):
        keep = keep * (1 - segment_coverage(rows, cols, start[:, k], end[:, k]))
    return blend_toward(x, GREY, keep[:, None])


# ------------------------------------------------------------------------------------------ checkerboard_cutout


def _cell_reach(size: int) -> int:
    """Largest |cell index| a pixel can fall in: the farthest pixel over the smallest cell (max(0.1·size, 1))."""
    return int(math.sqrt(2) * (size - 1) / max(0.1 * size, 1.0)) + 1


def _checkerboard_cutout_params(gen: torch.Generator, n: int, size: int, severity: float) -> dict:
    """Per image: grid angle ~ U(0, 2π), square cell side ``max(U(0.1, 0.25)·size, 1)``, one uniform per cell;
    a cell of the masked colour is cut out where its uniform is below ``float_parameter(severity, 1)``."""
    reach = _cell_reach(size)
    return {"angle": uniform(gen, (n,), 0.0, TWO_PI),
            "cell": uniform(gen, (n,), 0.1, 0.25).mul(size).clamp_min(1.0),
            "cell_draws": uniform(gen, (n, 2 * reach + 1, 2 * reach + 1)),
            "fraction": float_parameter(severity, 1.0)}


def _checkerboard_cutout(x: Tensor, p: dict) -> Tensor:
    """Rotate the pixel grid by the angle, cut it into cells; cells whose two cell indices (floor) have the same
    parity are candidates and a candidate whose uniform is below the fraction turns grey 128. Cells are looked up
    by the truncated index, as the reference's ``grid[int(nx), int(ny)]``."""
    size = x.shape[-1]
    rows, cols = grid(size, x.device)
    cos, sin = per_image(torch.cos(p["angle"]), 3), per_image(torch.sin(p["angle"]), 3)
    cell = per_image(p["cell"], 3)
    u = (cos * rows + sin * cols) / cell
    v = (-sin * rows + cos * cols) / cell
    candidate = torch.floor(u).remainder(2) == torch.floor(v).remainder(2)
    draws = p["cell_draws"]
    reach = (draws.shape[-1] - 1) // 2
    index = (torch.trunc(u).long() + reach) * draws.shape[-1] + torch.trunc(v).long() + reach
    cut = candidate & (draws.flatten(1).gather(1, index.flatten(1)).view_as(u) < p["fraction"])
    return blend_toward(x, GREY, (~cut).to(x.dtype)[:, None])


# ------------------------------------------------------------------------------------------ sparkles (shared part)

MAX_RAYS = 199  # rays ~ randint(50, 200)


def ray_field(rows: Tensor, cols: Tensor, centre: Tensor, lengths: Tensor, rays: Tensor, exponent) -> Tensor:
    """The reference's sparkle kernel at every pixel, ``(n, H, W)`` in [0, 1].

    Around ``centre`` (n, 2) the full turn is cut into ``rays`` (n,) sectors; ``lengths`` (n, MAX_RAYS) is the
    ray length at each sector edge, interpolated linearly between edges. With ``f`` the position inside the sector,
    the value is ``clip((1 - (f - 1/2)²) · (length² / (distance² + 1e-4)) ** exponent, 0, 1)``.
    """
    dr, dc = rows - per_image(centre[:, 0], 3), cols - per_image(centre[:, 1], 3)
    rays3 = per_image(rays, 3)
    position = (torch.atan2(dc, dr) + math.pi) / TWO_PI * rays3
    sector = torch.floor(position)
    frac = position - sector
    sector = sector.long()
    here = lengths.gather(1, sector.remainder(rays3).flatten(1)).view_as(frac)
    there = lengths.gather(1, (sector + 1).remainder(rays3).flatten(1)).view_as(frac)
    length = here + frac * (there - here)
    gain = (length * length / (dr * dr + dc * dc + 1e-4)) ** exponent
    return ((1 - (frac - 0.5) ** 2) * gain).clamp(0, 1)


# ----------------------------------------------------------------------------------------------------- sparkles

SPARKLES = 5


def _sparkles_params(gen: torch.Generator, n: int, size: int, severity: float) -> dict:
    """Five white sparkles per image: centres ~ U(0, size)², radius ``float_parameter(severity, 0.1)·size``,
    rays ∈ [50, 200), ray lengths ``max(1, radius·(1 + 0.25·N(0, 1)))``, amount 50 (exponent 1)."""
    return {"centres": uniform(gen, (n, SPARKLES, 2), 0.0, float(size)),
            "rays": randint(gen, (n, SPARKLES), 50, MAX_RAYS + 1),
            "ray_draws": normal(gen, (n, SPARKLES, MAX_RAYS)),
            "radius": float_parameter(severity, 0.1) * size}


def _sparkles(x: Tensor, p: dict) -> Tensor:
    """Each sparkle blends the image toward white by its ray field."""
    rows, cols = grid(x.shape[-1], x.device)
    radius = p["radius"]
    lengths = (radius + 0.25 * radius * p["ray_draws"]).clamp_min(1.0)
    keep = torch.ones_like(x[:, 0])
    for k in range(p["centres"].shape[1]):
        keep = keep * (1 - ray_field(rows, cols, p["centres"][:, k], lengths[:, k], p["rays"][:, k], 1.0))
    return blend_toward(x, 1.0, keep[:, None])


# --------------------------------------------------------------------------------------------- inverse_sparkles


def _inverse_sparkles_params(gen: torch.Generator, n: int, size: int, severity: float) -> dict:
    """One inverted sparkle per image: centre ~ U(0.25, 0.75)·size, radius 0.25·size, rays ∈ [50, 200), ray lengths
    ``radius·(1 + 0.25·N(0, 1))``, amount ``100 - float_parameter(severity, 65)``."""
    return {"centre": uniform(gen, (n, 2), 0.25, 0.75) * size,
            "rays": randint(gen, (n,), 50, MAX_RAYS + 1),
            "ray_draws": normal(gen, (n, MAX_RAYS)),
            "radius": 0.25 * size,
            "amount": 100 - float_parameter(severity, 65.0)}


def _inverse_sparkles(x: Tensor, p: dict) -> Tensor:
    """White everywhere except inside the sparkle, where the image shows through by the ray field."""
    rows, cols = grid(x.shape[-1], x.device)
    lengths = p["radius"] * (1 + 0.25 * p["ray_draws"])
    show = ray_field(rows, cols, p["centre"], lengths, p["rays"], (100 - p["amount"]) / 50)
    return blend_toward(x, 1.0, show[:, None])


register_corruption("lines", _lines_params, _lines, "Lines")
register_corruption("checkerboard_cutout", _checkerboard_cutout_params, _checkerboard_cutout, "CheckerBoardCutOut")
register_corruption("sparkles", _sparkles_params, _sparkles, "Sparkles")
register_corruption("inverse_sparkles", _inverse_sparkles_params, _inverse_sparkles, "InverseSparkles")
