"""``Normalized``: a model that takes images in [0, 1] and normalises them itself.

Attacks then work in pixel space (the threat model's eps is in [0, 1] units) and the normalisation is part of
the differentiated function.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


class Normalized(nn.Module):
    """``inner((x - mean) / std)`` for inputs ``x`` in [0, 1], shape (N, C, H, W).

    ``mean``/``std`` have one value per channel. They are non-persistent buffers: ``.to(device)`` moves them,
    and ``state_dict()`` holds only the wrapped model's tensors (under ``inner.``). Broadcasting keeps the
    input's memory format, so channels-last inputs stay channels-last.
    """

    def __init__(self, model: nn.Module, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        mean_t, std_t = tuple(float(m) for m in mean), tuple(float(s) for s in std)
        if len(mean_t) == 0 or len(mean_t) != len(std_t):
            raise ValueError(f"Normalized: mean and std need one value per channel, got {len(mean_t)} means and "
                             f"{len(std_t)} stds")
        if not all(math.isfinite(s) and s > 0 for s in std_t) or not all(math.isfinite(m) for m in mean_t):
            raise ValueError(f"Normalized: std must be finite and positive and mean finite, got mean={mean_t}, "
                             f"std={std_t}")
        self.inner = model
        self.mean_values, self.std_values = mean_t, std_t
        self.register_buffer("mean", torch.tensor(mean_t).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std_t).view(1, -1, 1, 1), persistent=False)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.mean.shape[1]:
            raise ValueError(f"Normalized: expected input (N, {self.mean.shape[1]}, H, W), got {tuple(x.shape)}")
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(self.normalize(x))

    def extra_repr(self) -> str:
        return f"mean={self.mean_values}, std={self.std_values}"
