"""Projected gradient descent (Madry et al.) — one implementation for the L∞ and L2 threat models.

Threat model: inputs and adversarial examples lie in [0, 1]; normalisation lives inside the model
(``sat_lib.models.Normalized``). The random start is drawn once for the whole input from a seeded generator, so
the result does not depend on the batch size. The model is put in eval mode and its mode restored. A CUDA
out-of-memory error halves the batch with a warning and carries on.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from sat_lib.precision import Layout, autocast, choose_layout, to_device_layout
from sat_lib.progress import progress
from sat_lib.registry import Registry

Step = Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]
Project = Callable[[torch.Tensor, float], torch.Tensor]
Start = Callable[[torch.Tensor, float, torch.Generator], torch.Tensor]


def _flat_norm(t: torch.Tensor) -> torch.Tensor:
    return t.flatten(1).norm(dim=1).view(-1, *([1] * (t.ndim - 1)))


@dataclass(frozen=True)
class Norm:
    """How one threat model steps along the gradient, projects back to the ball and draws a random start."""

    step: Step
    project: Project
    start: Start


def _linf_start(x: torch.Tensor, eps: float, gen: torch.Generator) -> torch.Tensor:
    return (torch.rand(x.shape, device=x.device, generator=gen) * 2 - 1) * eps


def _l2_start(x: torch.Tensor, eps: float, gen: torch.Generator) -> torch.Tensor:
    # as torchattacks.PGDL2: a Gaussian direction scaled to a radius drawn uniformly in [0, eps]
    d = torch.randn(x.shape, device=x.device, generator=gen)
    r = torch.rand((x.shape[0],) + (1,) * (x.ndim - 1), device=x.device, generator=gen)
    return d / _flat_norm(d).clamp_min(1e-12) * r * eps


NORMS: Registry[Norm] = Registry("PGD norm")
NORMS.register("linf", Norm(step=lambda x, g, a: x + a * g.sign(),
                            project=lambda d, eps: d.clamp(-eps, eps),
                            start=_linf_start))
NORMS.register("l2", Norm(step=lambda x, g, a: x + a * g / _flat_norm(g).clamp_min(1e-12),
                          project=lambda d, eps: d * (eps / _flat_norm(d).clamp_min(1e-12)).clamp(max=1.0),
                          start=_l2_start))


@dataclass(frozen=True)
class PGDConfig:
    norm: str = "linf"
    eps: float = 8 / 255
    step_size: float = 2 / 255
    steps: int = 10
    random_start: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        NORMS[self.norm]  # unknown norm → KeyError with suggestions
        if not (self.eps >= 0 and math.isfinite(self.eps)):
            raise ValueError(f"PGD: eps must be a finite number >= 0, got {self.eps}")
        if not (self.step_size > 0 and math.isfinite(self.step_size)):
            raise ValueError(f"PGD: step_size must be a finite number > 0, got {self.step_size}")
        if self.steps < 0:
            raise ValueError(f"PGD: steps must be >= 0, got {self.steps}")


def _is_oom(err: BaseException) -> bool:
    return isinstance(err, torch.cuda.OutOfMemoryError) or "out of memory" in str(err).lower()


def _pgd_batch(model: nn.Module, x: torch.Tensor, y: torch.Tensor, delta: torch.Tensor, cfg: PGDConfig,
               norm: Norm, precision: str) -> torch.Tensor:
    """``precision`` is resolved ("fp32" or "bf16"); x is already in the model's memory format."""
    x_adv = (x + delta).clamp(0, 1)
    for _ in range(cfg.steps):
        x_adv.requires_grad_(True)
        with autocast(precision, x.device):
            loss = F.cross_entropy(model(x_adv).float(), y, reduction="sum")
        (grad,) = torch.autograd.grad(loss, x_adv)
        with torch.no_grad():
            stepped = norm.step(x_adv, grad, cfg.step_size)
            x_adv = (x + norm.project(stepped - x, cfg.eps)).clamp(0, 1)
    return x_adv.detach()


def prepare_inputs(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, device, fn: str):
    device = torch.device(device) if device is not None else next(model.parameters()).device
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{fn}: images and labels differ in length: {tuple(images.shape)} vs {tuple(labels.shape)}")
    x_all = images.to(device)
    x_all = x_all.float().div(255) if x_all.dtype == torch.uint8 else x_all.float()
    if x_all.numel() and (x_all.min() < 0 or x_all.max() > 1):
        raise ValueError(f"{fn}: images must lie in [0, 1] (normalisation belongs inside the model wrapper)")
    return device, x_all, labels.to(device)


def initial_delta(x_all: torch.Tensor, norm: Norm, eps: float, seed: int, random_start: bool,
           delta_init: torch.Tensor | None, device, fn: str) -> torch.Tensor:
    if delta_init is not None:
        if delta_init.shape != x_all.shape:
            raise ValueError(f"{fn}: delta_init has shape {tuple(delta_init.shape)}, images {tuple(x_all.shape)}")
        return norm.project(delta_init.to(device).float(), eps)
    if random_start:
        return norm.start(x_all, eps, torch.Generator(device=device).manual_seed(seed))
    return torch.zeros_like(x_all)


def run_in_batches(model: nn.Module, x_all: torch.Tensor, y_all: torch.Tensor, delta_all: torch.Tensor,
                attack_batch: Callable, *, batch_size: int, precision: str, device, desc: str) -> torch.Tensor:
    """Run ``attack_batch(model, x, y, delta, precision)`` over batches in the model's fastest measured layout,
    eval mode (restored after), halving the batch on CUDA out-of-memory."""
    was_training = model.training
    layout: Layout = choose_layout(model, tuple(x_all.shape[1:]), precision, device)
    model.to(memory_format=layout.memory_format)
    model.eval()
    out = torch.empty_like(x_all)
    try:
        i, bs = 0, max(1, batch_size)
        bar = progress(total=x_all.shape[0], desc=desc, unit="img")
        while i < x_all.shape[0]:
            sl = slice(i, i + bs)
            try:
                xb = to_device_layout(x_all[sl], device, layout)
                db = delta_all[sl].contiguous(memory_format=layout.memory_format)
                out[sl] = attack_batch(model, xb, y_all[sl], db, layout.precision)
            except (RuntimeError, torch.cuda.OutOfMemoryError) as err:
                if not _is_oom(err) or bs == 1:
                    raise
                bs //= 2
                warnings.warn(f"{desc}: out of memory; retrying with batch_size={bs}", RuntimeWarning, stacklevel=3)
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                continue
            bar.update(xb.shape[0])
            i += xb.shape[0]
        bar.close()
    finally:
        model.train(was_training)
    return out


def pgd(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, cfg: PGDConfig = PGDConfig(), *,
        batch_size: int = 1024, precision: str = "auto", delta_init: torch.Tensor | None = None,
        device: torch.device | str | None = None, desc: str = "pgd") -> torch.Tensor:
    """Untargeted PGD on the cross-entropy loss; returns adversarial examples (float32, in [0, 1]).

    ``precision="auto"`` attacks in the layout measured fastest for the model (``choose_layout``): the gradient
    is computed under bf16 autocast where that won; the examples themselves stay float32.

    ``images`` are uint8 or float in [0, 1]. ``delta_init`` replaces the random start (for comparisons with
    other implementations that draw their own).
    """
    device, x_all, y_all = prepare_inputs(model, images, labels, device, "pgd")
    norm = NORMS[cfg.norm]
    delta_all = initial_delta(x_all, norm, cfg.eps, cfg.seed, cfg.random_start, delta_init, device, "pgd")
    return run_in_batches(model, x_all, y_all, delta_all,
                       lambda m, x, y, d, prec: _pgd_batch(m, x, y, d, cfg, norm, prec),
                       batch_size=batch_size, precision=precision, device=device, desc=desc)
