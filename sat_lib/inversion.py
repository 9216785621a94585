"""Image inversion (Ilyas et al. 2019; robustness-and-universality paper, Eq. 7): a seed image s is moved by
gradient steps until the model's penultimate representation of it matches that of a target image x,

    min_s ||f^L(s) − f^L(x)||₂ / ||f^L(x)||₂,

so the inverted image carries the input features the model itself relies on. Steps are normalised L2 steps
(``sat_lib.attacks``' L2 step and projection, as the robustness library's inversion takes them) inside an L2 ball
of radius ``eps`` around the seed (the library's default is large enough to be no constraint) and the valid pixel
range [0, 1]. Batched and deterministic: no random start.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn

from sat_lib.activations import penultimate_fn
from sat_lib.attacks import NORMS
from sat_lib.precision import autocast, choose_layout, to_device_layout
from sat_lib.progress import progress


@dataclass(frozen=True)
class InversionConfig:
    steps: int = 200
    step_size: float = 0.1   # L2 length of each step, in [0, 1] pixel units
    eps: float = 1000.0      # L2 radius around the seed (1000: no constraint, as the robustness library's default)
    decay: bool = True       # step lengths fall linearly to 0 (the library keeps them fixed, which oscillates)

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"inversion: steps must be >= 1, got {self.steps}")
        for name in ("step_size", "eps"):
            v = getattr(self, name)
            if not (v > 0 and math.isfinite(v)):
                raise ValueError(f"inversion: {name} must be a finite number > 0, got {v}")


@dataclass
class Inversion:
    images: torch.Tensor          # (n, C, H, W) float in [0, 1]
    start_distance: torch.Tensor  # (n,) Eq. 7's objective at the seed
    final_distance: torch.Tensor  # (n,) at the inverted image


def relative_distance(fs: torch.Tensor, fx: torch.Tensor) -> torch.Tensor:
    """||fs − fx||₂ / ||fx||₂ per row (Eq. 7), float32 (n,)."""
    return (fs - fx).norm(dim=1) / fx.norm(dim=1).clamp_min(1e-12)


def _as_float(x: torch.Tensor) -> torch.Tensor:
    return x.float().div(255) if x.dtype == torch.uint8 else x.float()


def invert(model: nn.Module, seeds: torch.Tensor, targets: torch.Tensor, cfg: InversionConfig = InversionConfig(),
           *, batch_size: int = 256, precision: str = "fp32", desc: str = "invert") -> Inversion:
    """Inverted images of ``targets`` started from ``seeds`` (both (n, C, H, W), uint8 or float in [0, 1]) for
    ``model`` (which takes inputs in [0, 1]), in eval mode; the model's mode is restored."""
    if seeds.shape != targets.shape:
        raise ValueError(f"invert: seeds and targets differ in shape: {tuple(seeds.shape)} vs {tuple(targets.shape)}")
    device = next(model.parameters()).device
    norm = NORMS["l2"]
    layout = choose_layout(model, tuple(seeds.shape[1:]), precision, device)
    features = penultimate_fn(model)
    was_training = model.training
    model.eval()
    out, d0, d1 = [], [], []
    bar = progress(total=seeds.shape[0], desc=desc, unit="img")
    try:
        for i in range(0, seeds.shape[0], batch_size):
            s = to_device_layout(_as_float(seeds[i:i + batch_size].to(device)), device, layout)
            x = to_device_layout(_as_float(targets[i:i + batch_size].to(device)), device, layout)
            with torch.no_grad(), autocast(layout.precision, device):
                fx = features(x).float()
                d0.append(relative_distance(features(s).float(), fx).cpu())
            cur = s.clone()
            for t in range(cfg.steps):
                cur.requires_grad_(True)
                with autocast(layout.precision, device):
                    loss = relative_distance(features(cur).float(), fx).sum()
                (grad,) = torch.autograd.grad(loss, cur)
                with torch.no_grad():
                    size = cfg.step_size * ((1 - t / cfg.steps) if cfg.decay else 1.0)
                    stepped = norm.step(cur, -grad, size)  # descend: the L2 step along −∇
                    cur = (s + norm.project(stepped - s, cfg.eps)).clamp(0, 1)
            with torch.no_grad(), autocast(layout.precision, device):
                d1.append(relative_distance(features(cur).float(), fx).cpu())
            out.append(cur.detach().float().contiguous().cpu())
            bar.update(s.shape[0])
    finally:
        bar.close()
        model.train(was_training)
    return Inversion(torch.cat(out), torch.cat(d0), torch.cat(d1))
