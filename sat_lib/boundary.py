"""Planes through triplets of images, and a model's predicted labels on a grid in each (Somepalli et al., CVPR
2022), for the decision-region similarity of ``sat_lib.measures.decision_region_similarity``.

For a triplet (x1, x2, x3) the plane is spanned by v1 = x2 − x1 and the part of x3 − x1 orthogonal to v1; the
grid covers the triplet's coordinates in that plane widened by ``margin`` on every side, with ``resolution`` points
per axis. By default points are clamped to the image range [0, 1] (models here take inputs in [0, 1]); with
``clamp=False`` the plane extends beyond the image range as Somepalli et al. draw it (their planes are not clamped:
the grid covers the triangle widened by ``margin`` whatever pixel values that gives). Triplets are drawn from a
seeded generator, so two models are always compared on the same planes.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from sat_lib.train import predict


def draw_triplets(labels: np.ndarray, n: int, seed: int = 0, distinct_classes: bool = True) -> np.ndarray:
    """``n`` triplets of image indices, (n, 3); by default each from three different classes (Somepalli et al.
    draw triplets of distinct classes so that the plane crosses decision boundaries)."""
    labels = np.asarray(labels)
    if n < 1:
        raise ValueError(f"draw_triplets: n must be >= 1, got {n}")
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    if distinct_classes and len(classes) < 3:
        raise ValueError(f"draw_triplets: distinct classes need at least 3 classes, the labels have {len(classes)}")
    out = np.empty((n, 3), dtype=np.int64)
    for t in range(n):
        if distinct_classes:
            cs = rng.choice(classes, 3, replace=False)
            out[t] = [rng.choice(np.flatnonzero(labels == c)) for c in cs]
        else:
            out[t] = rng.choice(len(labels), 3, replace=False)
    return out


def plane_points(x1: torch.Tensor, x2: torch.Tensor, x3: torch.Tensor, resolution: int = 50,
                 margin: float = 0.1, clamp: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """The (resolution², C, H, W) grid images of the plane through three images (float in [0, 1]; with
    ``clamp=False`` the points off the triangle may leave [0, 1]), and the (3, 2) coordinates of the three images
    in the plane's basis."""
    if resolution < 2:
        raise ValueError(f"plane_points: resolution must be >= 2, got {resolution}")
    v1 = (x2 - x1).flatten()
    v2 = (x3 - x1).flatten()
    n1 = v1.norm()
    if n1 == 0:
        raise ValueError("plane_points: the first two images are identical; no plane through them")
    e1 = v1 / n1
    v2 = v2 - (v2 @ e1) * e1
    n2 = v2.norm()
    if n2 <= 1e-5 * n1:  # zero up to rounding
        raise ValueError("plane_points: the three images are collinear; no plane through them")
    e2 = v2 / n2
    coords = torch.stack([torch.zeros(2, dtype=x1.dtype, device=x1.device),
                          torch.stack([n1, torch.zeros((), dtype=x1.dtype, device=x1.device)]),
                          torch.stack([(x3 - x1).flatten() @ e1, n2])])
    lo, hi = coords.min(0).values, coords.max(0).values
    span = hi - lo
    lo, hi = lo - margin * span, hi + margin * span
    a = torch.linspace(float(lo[0]), float(hi[0]), resolution, dtype=x1.dtype, device=x1.device)
    b = torch.linspace(float(lo[1]), float(hi[1]), resolution, dtype=x1.dtype, device=x1.device)
    ga, gb = torch.meshgrid(a, b, indexing="ij")
    pts = x1.flatten() + ga.reshape(-1, 1) * e1 + gb.reshape(-1, 1) * e2
    pts = pts.reshape(-1, *x1.shape)
    return (pts.clamp(0, 1) if clamp else pts), coords


def label_maps(model: nn.Module, images: torch.Tensor, triplets: np.ndarray, resolution: int = 50,
               margin: float = 0.1, batch_size: int = 1000, precision: str = "auto",
               clamp: bool = True) -> torch.Tensor:
    """The model's predicted class at every grid point of every triplet's plane: int64 (n_triplets, R, R).

    ``images``: (N, C, H, W) uint8 or float in [0, 1]; ``triplets``: (n, 3) indices into it; ``clamp``: as
    ``plane_points``. Costs n · R² forward passes."""
    x = images.float().div(255) if images.dtype == torch.uint8 else images.float()
    out = torch.empty((len(triplets), resolution, resolution), dtype=torch.int64)
    for t, (i, j, k) in enumerate(np.asarray(triplets)):
        pts, _ = plane_points(x[i], x[j], x[k], resolution, margin, clamp)
        out[t] = predict(model, pts, batch_size=batch_size, precision=precision).view(resolution, resolution).cpu()
    return out
