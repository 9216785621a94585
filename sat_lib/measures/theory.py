"""Design-diversity theory: the Littlewood-Miller model (design-diversity paper, Sec. 3.1).

A methodology M is a distribution over programs (here: trained models); its difficulty function theta_M(x) is the
probability that a randomly drawn program fails on input x. For one program drawn from each of two methodologies A and
B, independently, the probability that both fail on a random input is

    P(both fail) = E[theta_A theta_B] = E[theta_A] E[theta_B] + Cov(theta_A, theta_B),

so diverse methodologies whose difficulty functions are negatively correlated fail together *less* often than
independent failures would.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from . import _validation as V


def difficulty_functions(failures: Any) -> Tensor:
    """theta(x): share of a methodology's models that fail on each sample, bool (n_models, n_samples) -> float64 (n,).

    Call once per methodology; the models are samples from that methodology's distribution (e.g. seeds).
    """
    fn = "difficulty_functions"
    f = V.boolean(V.stack(failures, fn, "failures"), fn, "failures", ndim=2, what="(n_models, n_samples)")
    if f.shape[0] < 1 or f.shape[1] < 1:
        raise ValueError(f"{fn}: argument 'failures' has shape {tuple(f.shape)}; expected at least 1 model and sample")
    return f.to(torch.float64).mean(dim=0)


@dataclass(frozen=True)
class CoincidentFailure:
    """Littlewood-Miller decomposition; ``p_both == independent + covariance`` holds exactly (floats)."""

    p_both: float  # E[theta_A theta_B]: both drawn models fail on a random input
    independent: float  # E[theta_A] E[theta_B]: what independent failures would give
    covariance: float  # Cov(theta_A, theta_B) over inputs; < 0 = diversity pays off
    p_a: float  # E[theta_A]
    p_b: float  # E[theta_B]


def coincident_failure(theta_a: Any, theta_b: Any) -> CoincidentFailure:
    """Probability that one model of methodology A and one of B both fail, split into independence + covariance.

    ``theta_a``, ``theta_b``: difficulty functions (n,) in [0, 1] over the same samples (population moments, 1/n).
    The covariance is computed from centred values (accurate), ``independent`` as E[theta_A] E[theta_B], and
    ``p_both`` as their sum, so the identity is exact in floating point; ``p_both`` equals mean(theta_A theta_B) up
    to rounding.
    """
    fn = "coincident_failure"
    a = V.floating(theta_a, fn, "theta_a", ndim=1, what="an (n_samples,) difficulty function")
    b = V.floating(theta_b, fn, "theta_b", ndim=1, what="an (n_samples,) difficulty function")
    V.same_samples(fn, ("theta_a", a), ("theta_b", b))
    V.check_min_samples(a, fn, "theta_a", 1)
    for name, t in (("theta_a", a), ("theta_b", b)):
        if bool(((t < 0) | (t > 1)).any()):
            raise ValueError(f"{fn}: argument {name!r} has values outside [0, 1]; expected failure probabilities")
    a, b = a.to(torch.float64), b.to(torch.float64)
    p_a, p_b = a.mean(), b.mean()
    covariance = float(((a - p_a) * (b - p_b)).mean())
    independent = float(p_a) * float(p_b)
    return CoincidentFailure(
        p_both=independent + covariance,
        independent=independent,
        covariance=covariance,
        p_a=float(p_a),
        p_b=float(p_b),
    )
