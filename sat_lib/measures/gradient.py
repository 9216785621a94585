"""Input gradients (salience) and their similarity (Wang et al., "Great Minds Think Alike", NeurIPS 2024).

The official code (yipei-wang/GradientConvergenceTrend, ``saliency_similarity.py``) takes the gradient of the
true-class logit w.r.t. the input, area-downsamples it to 8x8 and compares models by per-sample cosine similarity;
the individual similarity p_ind(f1, f2) = E_x[CosSim(grad f1(x), grad f2(x))] (Fig. 2). The population mean direction
and the t statistic (cosine of each model's gradient with that mean) follow the paper's semi-parametric model.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import _validation as V
from ._registry import MeasureRecord, register_measure


GRADIENT_TARGETS = ("logit", "loss", "prob")


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode and restore every submodule's own train/eval flag afterwards."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, training in modes:
            m.training = training


def target_indices(target: Any, n: int, device: torch.device, fn: str) -> Tensor:
    if isinstance(target, int) and not isinstance(target, bool):
        return torch.full((n,), target, dtype=torch.int64, device=device)
    t = V.integer(target, fn, "target", ndim=1, what="an int or (n_samples,) class indices")
    if t.shape[0] != n:
        raise ValueError(f"{fn}: expected equal n_samples, got target={tuple(t.shape)} and n_samples={n}")
    return t.to(device)


def input_gradients(model: nn.Module, x: Any, target: Any, *, of: str = "logit") -> Tensor:
    """Per-sample input gradients of a batch, same shape as ``x``, detached.

    ``of="logit"``: gradient of the ``target`` logit (the salience paper's choice), via captum ``Saliency`` with
    ``abs=False`` (signed). ``of="prob"``: gradient of the ``target`` softmax probability (what the official
    black-box attack follows), the same way on the softmax of the model. ``of="loss"``: gradient of the summed cross-entropy, so each sample gets the gradient of
    its own loss independent of the batch size (plain autograd; captum adds nothing here). The model runs in eval
    mode and every submodule's mode is restored; only input gradients are computed (``torch.autograd.grad``), so
    no parameter ``.grad`` is touched.
    """
    fn = "input_gradients"
    V.choice(of, fn, "of", GRADIENT_TARGETS)
    xt = V.floating(x, fn, "x", ndim=tuple(range(2, 9)), what="a batch (n_samples, ...)")
    y = target_indices(target, xt.shape[0], xt.device, fn)
    xi = xt.detach().clone().requires_grad_(True)  # a leaf of our own; the caller's x is untouched
    with eval_mode(model):
        if of in ("logit", "prob"):
            from captum.attr import Saliency

            forward = model if of == "logit" else (lambda inp: model(inp).softmax(dim=1))
            grads = Saliency(forward).attribute(xi, target=y, abs=False)
        else:
            with torch.enable_grad():
                loss = F.cross_entropy(model(xi), y, reduction="sum")
                (grads,) = torch.autograd.grad(loss, xi)
    return grads.detach()


def downsample_gradients(g: Any, size: int = 8) -> Tensor:
    """Area-downsample (..., C, H, W) gradients to (..., C, size, size), as the official code does before comparing."""
    fn = "downsample_gradients"
    t = V.floating(g, fn, "g", ndim=tuple(range(3, 9)), what="(..., C, H, W) gradients")
    size = V.positive_int(size, fn, "size")
    lead = t.shape[:-3]
    out = F.interpolate(t.reshape(-1, *t.shape[-3:]), size=(size, size), mode="area")
    return out.reshape(*lead, *out.shape[-3:])


def unit_rows(x: Tensor, fn: str, arg: str, zero: str) -> Tensor:
    """Rows of a (N, D) float64 tensor scaled to unit norm; zero rows raise or stay zero (``zero="zero"``)."""
    norms = torch.linalg.vector_norm(x, dim=1, keepdim=True)
    is_zero = norms == 0
    if zero == "raise" and bool(is_zero.any()):
        raise ValueError(
            f"{fn}: argument {arg!r} has {int(is_zero.sum())} sample(s) with an all-zero gradient, where the cosine is "
            "undefined; pass zero='zero' to score them 0 (loss gradients underflow to 0 for confident samples; "
            "logit gradients rarely do)"
        )
    return x / torch.where(is_zero, torch.ones_like(norms), norms)


def _cosine_prepare(g: Any, downsample: int | None = None, zero: str = "raise", *, arg: str = "g1") -> Tensor:
    fn = "gradient_cosine"
    V.choice(zero, fn, "zero", ("raise", "zero"))
    t = V.floating(g, fn, arg, ndim=tuple(range(2, 9)), what="(n_samples, ...) gradients")
    V.check_min_samples(t, fn, arg, 1)
    if downsample is not None:
        t = downsample_gradients(t, downsample)
    return unit_rows(t.reshape(t.shape[0], -1).to(torch.float64), fn, arg, zero)


def _cosine_pair(ua: Tensor, ub: Tensor, reduce: str = "mean") -> Tensor:
    V.same_shape("gradient_cosine", ("g1", ua), ("g2", ub))
    cos = (ua * ub).sum(dim=1).clamp(-1.0, 1.0)
    return cos.mean() if reduce == "mean" else cos


def gradient_cosine(
    g1: Any, g2: Any, *, reduce: str = "mean", downsample: int | None = None, zero: str = "raise"
) -> float | Tensor:
    """Per-sample cosine similarity of two models' input gradients, flattened per sample (float64).

    ``reduce="mean"`` returns the salience paper's individual similarity p_ind as a python float; ``"none"`` returns
    the (n,) float64 tensor. ``downsample=8`` first area-downsamples (n, C, H, W) gradients to 8x8 like the official
    code. ``zero``: a sample whose gradient is all zero raises (default) or scores 0 (``"zero"``).
    """
    V.choice(reduce, "gradient_cosine", "reduce", ("mean", "none"))
    ua = _cosine_prepare(g1, downsample, zero, arg="g1")
    ub = _cosine_prepare(g2, downsample, zero, arg="g2")
    out = _cosine_pair(ua, ub, reduce)
    return float(out) if reduce == "mean" else out


def _stacked(grads: Any, fn: str) -> Tensor:
    t = V.floating(V.stack(grads, fn, "grads"), fn, "grads", ndim=tuple(range(3, 10)), what="(M, n_samples, ...)")
    return t.to(torch.float64)


def mean_direction(grads: Any) -> Tensor:
    """Population mean direction: mean over models of unit-normalised per-sample gradients, (M, n, ...) -> (n, ...).

    Not re-normalised: its norm per sample (the mean resultant length, in [0, 1]) says how concentrated the models'
    directions are. float64. A model with an all-zero gradient on a sample raises ``ValueError``.
    """
    fn = "mean_direction"
    t = _stacked(grads, fn)
    m, n = t.shape[:2]
    u = unit_rows(t.reshape(m * n, -1), fn, "grads", "raise").reshape(t.shape)
    return u.mean(dim=0)


def t_statistic(grads: Any, mean: Any = None) -> Tensor:
    """Cosine of each model's gradient with the population mean direction, float64 (M, n).

    ``mean``: (n, ...) mean direction; by default :func:`mean_direction` of ``grads`` itself (each model is then part
    of the mean it is compared with; pass a mean from held-out models to avoid that).
    """
    fn = "t_statistic"
    t = _stacked(grads, fn)
    mu = mean_direction(t) if mean is None else V.floating(mean, fn, "mean").to(torch.float64)
    if tuple(mu.shape) != tuple(t.shape[1:]):
        raise ValueError(f"{fn}: expected mean of shape {tuple(t.shape[1:])}, got mean={tuple(mu.shape)}")
    V.same_device(fn, ("grads", t), ("mean", mu))
    m, n = t.shape[:2]
    u = unit_rows(t.reshape(m * n, -1), fn, "grads", "raise").reshape(m, n, -1)
    mu_u = unit_rows(mu.reshape(n, -1), fn, "mean", "raise")
    return (u * mu_u[None]).sum(dim=2).clamp(-1.0, 1.0)


register_measure(
    MeasureRecord(
        name="gradient_cosine",
        fn=gradient_cosine,
        kind="gradient",
        higher_is_similar=True,
        range=(-1.0, 1.0),
        invariances=frozenset({"isotropic_scaling", "sample_order"}),
        symmetric=True,
        source="Salience convergence (Wang et al.), p_ind of Fig. 2",
        formula=r"\mathbb{E}_{x}\big[\mathrm{CosSim}(\nabla_x f^{(1)}(x), \nabla_x f^{(2)}(x))\big]",
        inputs="gradients",
        prepare=lambda g, downsample=None, zero="raise": _cosine_prepare(g, downsample, zero),
        from_prepared=lambda ua, ub, downsample=None, zero="raise": _cosine_pair(ua, ub),
    )
)

