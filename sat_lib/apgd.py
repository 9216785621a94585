"""Auto-PGD (Croce & Hein, ICML 2020): the step-size-free attack of AutoAttack, for the SAT paper's appendix G
("is SAT robust to the choice of attack?").

APGD runs ``steps`` iterations of a momentum PGD (α = 0.75) whose per-image step size starts at 2ε and is halved at
checkpoints w_j (p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06)) when fewer than ρ = 75 % of
the steps since the last checkpoint raised the loss, or when neither the step size nor the best loss changed;
after a halving it restarts from the best point so far. Losses are a registry: cross-entropy (APGD-CE), the
difference of logits ratio (DLR) and its targeted form (APGD-T, run once per target class among the clean top
``n_targets + 1``). Batching, seeding, the random start and the layout are those of ``sat_lib.attacks.pgd``.

An image's result is the last iterate that fooled the model (for APGD-T: any target's), else the point of highest
loss.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from sat_lib.attacks import NORMS, Norm, initial_delta, prepare_inputs, run_in_batches
from sat_lib.precision import autocast
from sat_lib.registry import Registry

Loss = Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor]  # (logits, y, target) -> (b,)


def _dlr(z: torch.Tensor, y: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
    srt = z.sort(dim=1).values
    zy = z.gather(1, y[:, None]).squeeze(1)
    if target is None:  # −(z_y − max_{i≠y} z_i) / (z_π1 − z_π3)
        top_other = torch.where(srt[:, -1] == zy, srt[:, -2], srt[:, -1])
        return -(zy - top_other) / (srt[:, -1] - srt[:, -3] + 1e-12)
    zt = z.gather(1, target[:, None]).squeeze(1)  # −(z_y − z_t) / (z_π1 − (z_π3 + z_π4) / 2)
    return -(zy - zt) / (srt[:, -1] - 0.5 * (srt[:, -3] + srt[:, -4]) + 1e-12)


LOSSES: Registry[Loss] = Registry("APGD loss")
LOSSES.register("ce", lambda z, y, t: F.cross_entropy(z, y, reduction="none"))
LOSSES.register("dlr", _dlr)
LOSSES.register("dlr-targeted", _dlr)


@dataclass(frozen=True)
class APGDConfig:
    norm: str = "linf"
    eps: float = 8 / 255
    steps: int = 100
    loss: str = "ce"           # ce (APGD-CE) | dlr | dlr-targeted (APGD-T)
    n_targets: int = 9         # APGD-T: target classes tried, the clean top 2 … n_targets + 1
    rho: float = 0.75
    momentum: float = 0.75
    random_start: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        NORMS[self.norm]
        LOSSES[self.loss]
        if not (self.eps >= 0 and math.isfinite(self.eps)):
            raise ValueError(f"APGD: eps must be a finite number >= 0, got {self.eps}")
        if self.steps < 1:
            raise ValueError(f"APGD: steps must be >= 1, got {self.steps}")
        if self.n_targets < 1:
            raise ValueError(f"APGD: n_targets must be >= 1, got {self.n_targets}")


def checkpoints(steps: int) -> list[int]:
    """The iterations w_j at which APGD decides whether to halve the step size: the paper's p_j in whole steps
    (first interval ⌊0.22 N⌋, each next one 3 % of N shorter, at least 6 % of N), as AutoAttack counts them."""
    h = max(int(0.22 * steps), 1)
    shrink, floor = max(int(0.03 * steps), 1), max(int(0.06 * steps), 1)
    out, w = [], h
    while w < steps:
        out.append(w)
        h = max(h - shrink, floor)
        w += h
    return out


def _apgd_batch(model: nn.Module, x: torch.Tensor, y: torch.Tensor, delta: torch.Tensor, cfg: APGDConfig,
                norm: Norm, precision: str, target: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """One APGD run on a batch: (result, fooled) — the result as the module doc says, ``fooled`` per image."""
    loss_fn = LOSSES[cfg.loss]
    shape = (-1,) + (1,) * (x.ndim - 1)

    def evaluate(xa):
        xa = xa.clone().requires_grad_(True)
        with autocast(precision, x.device):
            z = model(xa).float()
        loss = loss_fn(z, y, target)
        (g,) = torch.autograd.grad(loss.sum(), xa)
        # a target equal to the label (possible when the clean prediction is wrong) never counts as fooling
        wrong = (z.argmax(1) == target) & (target != y) if target is not None else (z.argmax(1) != y)
        return loss.detach(), g.detach(), wrong.detach()

    def project(xa):
        return (x + norm.project(xa - x, cfg.eps)).clamp(0, 1)

    x_adv = (x + delta).clamp(0, 1)
    loss, grad, wrong = evaluate(x_adv)
    eta = torch.full((x.shape[0],), 2 * cfg.eps, device=x.device)
    x_best, g_best, best = x_adv.clone(), grad.clone(), loss.clone()
    x_out, fooled = x_adv.clone(), wrong.clone()
    x_prev = x_adv.clone()
    marks = set(checkpoints(cfg.steps))
    last_mark, incr = 0, torch.zeros_like(loss)
    best_at_mark, eta_at_mark = best.clone(), eta.clone()
    prev_loss = loss
    for k in range(cfg.steps):
        with torch.no_grad():
            z = project(norm.step(x_adv, grad, eta.view(shape)))
            if k > 0:
                a = cfg.momentum
                z = project(x_adv + a * (z - x_adv) + (1 - a) * (x_adv - x_prev))
            x_prev, x_adv = x_adv, z
        loss, grad, wrong = evaluate(x_adv)
        with torch.no_grad():
            x_out[wrong] = x_adv[wrong]
            fooled |= wrong
            incr += (loss > prev_loss).float()
            prev_loss = loss
            up = loss > best
            x_best[up], g_best[up], best[up] = x_adv[up], grad[up], loss[up]
            if k + 1 in marks:
                h = k + 1 - last_mark
                halve = (incr < cfg.rho * h) | ((eta == eta_at_mark) & (best == best_at_mark))
                eta_at_mark = eta.clone()
                eta[halve] /= 2
                x_adv[halve], grad[halve] = x_best[halve], g_best[halve]
                x_prev[halve] = x_best[halve]
                last_mark, incr = k + 1, torch.zeros_like(loss)
                best_at_mark = best.clone()
    x_out[~fooled] = x_best[~fooled]
    return x_out.detach(), fooled


def apgd(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, cfg: APGDConfig = APGDConfig(), *,
         batch_size: int = 1024, precision: str = "auto", delta_init: torch.Tensor | None = None,
         device: torch.device | str | None = None, desc: str = "apgd") -> torch.Tensor:
    """APGD-CE / APGD-DLR (untargeted) or APGD-T (``loss="dlr-targeted"``); returns adversarial examples (float32,
    in [0, 1]). Arguments as ``sat_lib.attacks.pgd``; the random start is drawn once for the whole input."""
    device, x_all, y_all = prepare_inputs(model, images, labels, device, "apgd")
    norm = NORMS[cfg.norm]
    delta_all = initial_delta(x_all, norm, cfg.eps, cfg.seed, cfg.random_start, delta_init, device, "apgd")

    def batch(m, x, y, d, prec):
        if cfg.loss != "dlr-targeted":
            return _apgd_batch(m, x, y, d, cfg, norm, prec, None)[0]
        with torch.no_grad(), autocast(prec, x.device):
            ranked = m(x).float().argsort(dim=1, descending=True)
        n_classes = ranked.shape[1]
        if n_classes < 4:
            raise ValueError(f"apgd: the targeted DLR loss needs at least 4 classes, the model has {n_classes}")
        out = None
        done = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
        for r in range(1, min(cfg.n_targets, n_classes - 1) + 1):
            res, fooled = _apgd_batch(m, x, y, d, cfg, norm, prec, ranked[:, r])
            if out is None:
                out = res.clone()
            take = fooled & ~done
            out[take] = res[take]
            done |= fooled
            if bool(done.all()):
                break
        return out

    return run_in_batches(model, x_all, y_all, delta_all, batch, batch_size=batch_size, precision=precision,
                       device=device, desc=desc)
