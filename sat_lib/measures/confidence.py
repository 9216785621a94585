"""How confident a model's outputs are, and the same outputs at a common confidence.

Output measures such as JSDSim (``functional.jsd_similarity``) rise towards 1 when both models' softmax outputs
flatten towards uniform, whatever the models do; reading such a measure beside the outputs' confidence — or on
outputs rescaled to one entropy — tells the two apart. Not similarity measures, so not registered in ``MEASURES``.
"""
from __future__ import annotations

import math
from typing import Any

import torch

from . import _validation as V


def _logits(logits: Any, fn: str) -> torch.Tensor:
    t = V.floating(logits, fn, "logits", ndim=2, what="(n_samples, n_classes)")
    V.check_min_samples(t, fn, "logits", 1)
    return t.double()


def mean_entropy(logits: Any) -> float:
    """Mean Shannon entropy (nats) of the softmax of ``logits`` (n, C); ln C for uniform outputs."""
    logp = torch.log_softmax(_logits(logits, "mean_entropy"), dim=1)
    return float(-(logp.exp() * logp).sum(1).mean())


def mean_max_softmax(logits: Any) -> float:
    """Mean of the largest softmax probability of ``logits`` (n, C); 1/C for uniform outputs."""
    return float(torch.softmax(_logits(logits, "mean_max_softmax"), dim=1).max(1).values.mean())


def entropy_matched(logits: Any, target: float, *, tol: float = 1e-6, max_iter: int = 200) -> torch.Tensor:
    """``logits`` divided by the one temperature T > 0 at which their softmax has mean entropy ``target`` (nats,
    in (0, ln C)): bisection on log T, the mean entropy rising monotonically with T. Logits that are constant over
    the classes (entropy ln C at every T) cannot be matched and raise."""
    fn = "entropy_matched"
    z = _logits(logits, fn)
    top = math.log(z.shape[1])
    if not 0 < target < top:
        raise ValueError(f"{fn}: target entropy must lie in (0, ln C = {top:.4f}), got {target}")
    if float((z.max(1).values - z.min(1).values).max()) == 0:
        raise ValueError(f"{fn}: the logits are constant over the classes; no temperature changes their entropy")
    lo, hi = -20.0, 20.0   # log T
    for _ in range(max_iter):
        mid = (lo + hi) / 2
        h = mean_entropy(z / math.exp(mid))
        if abs(h - target) < tol:
            break
        lo, hi = (mid, hi) if h < target else (lo, mid)
    return (z / math.exp(mid)).float()
