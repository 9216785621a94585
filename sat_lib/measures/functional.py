"""Functional similarity: compare what two models output on the same inputs.

Output-based measures (robustness paper, Eqs. 2-3) take logits; correctness-based diversity measures (Kuncheva &
Whitaker 2003; design-diversity paper, Eq. 4; Geirhos et al. 2020) take bool correctness vectors. Scalar scores are
returned as python floats.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from . import _validation as V
from ._registry import MeasureRecord, register_measure

_LN2 = math.log(2.0)


def _predicted(x: Any, fn: str, arg: str) -> Tensor:
    """Class indices from (n, C) float logits (argmax) or from (n,) integer predictions."""
    t = V.to_tensor(x, fn, arg)
    if t.is_floating_point():
        t = V.floating(t, fn, arg, ndim=2, what="(n_samples, n_classes) logits or (n_samples,) integer predictions")
        return t.argmax(dim=1)
    return V.integer(t, fn, arg, ndim=1, what="(n_samples, n_classes) logits or (n_samples,) integer predictions")


def _agreement_prepare(x: Any) -> Tensor:
    t = _predicted(x, "agreement", "a")
    V.check_min_samples(t, "agreement", "a", 1)
    return t


def _agreement_pair(pa: Tensor, pb: Tensor) -> Tensor:
    V.same_samples("agreement", ("a", pa), ("b", pb))
    return (pa == pb).double().mean()


def agreement(a: Any, b: Any) -> float:
    """Share of samples whose predicted classes are identical (robustness paper, Eq. 3).

    ``a``, ``b``: (n, C) logits or (n,) integer predictions. Returns a float in [0, 1]; 1 = identical predictions.
    """
    return float(_agreement_pair(_agreement_prepare(a), _predicted(b, "agreement", "b")))


def agreement_bounds(acc_a: float, acc_b: float) -> tuple[float, float]:
    """The agreement two classifiers with these accuracies can reach at most and must reach at least (Fort et
    al. 2019, as the robustness paper reads Fig. 1): they disagree wherever exactly one is right, at least
    |acc_a − acc_b| of the samples, so agreement ≤ 1 − |acc_a − acc_b|; both are right on at least
    acc_a + acc_b − 1 of them, so agreement ≥ max(0, acc_a + acc_b − 1)."""
    for name, v in (("acc_a", acc_a), ("acc_b", acc_b)):
        if not 0 <= v <= 1:
            raise ValueError(f"agreement_bounds: {name} must be an accuracy in [0, 1], got {v}")
    return max(0.0, acc_a + acc_b - 1), 1 - abs(acc_a - acc_b)


def _jsd_prepare(x: Any, arg: str = "a") -> Tensor:
    t = V.floating(x, "jsd_similarity", arg, ndim=2, what="(n_samples, n_classes) logits")
    V.check_min_samples(t, "jsd_similarity", arg, 1)
    if t.shape[1] < 2:
        raise ValueError(f"jsd_similarity: argument {arg!r} has shape {tuple(t.shape)}; expected at least 2 classes")
    return torch.log_softmax(t.to(torch.float64), dim=1)


def _jsd_pair(log_p: Tensor, log_q: Tensor) -> Tensor:
    V.same_shape("jsd_similarity", ("a", log_p), ("b", log_q))
    log_m = torch.logaddexp(log_p, log_q) - _LN2
    kl_pm = (log_p.exp() * (log_p - log_m)).sum(dim=1)
    kl_qm = (log_q.exp() * (log_q - log_m)).sum(dim=1)
    jsd = (0.5 * (kl_pm + kl_qm) / _LN2).clamp(0.0, 1.0)  # base 2: JSD in [0, 1]
    return 1.0 - jsd.mean()


def jsd_similarity(a: Any, b: Any) -> float:
    """JSDSim = 1 - mean_i JSD(softmax(a_i), softmax(b_i)) with the Jensen-Shannon *divergence* in base 2.

    Robustness paper, Eq. 2. The extracted Eq. 2 lacks the mixture M = (P + Q)/2 (as printed it is the symmetrised KL,
    which is unbounded and could not be scaled to [0, 1]); we use the JS divergence
    ``0.5 KL(P||M) + 0.5 KL(Q||M)``, not its square root (the JS distance that ``scipy.spatial.distance.jensenshannon``
    returns), because Eq. 2 is written without a root. In base 2 it lies in [0, 1], so the scaling to [0, 1] with
    1 = identical is ``1 - JSD``. Computed in float64 from ``log_softmax``. Returns a float.
    """
    return float(_jsd_pair(_jsd_prepare(a, "a"), _jsd_prepare(b, "b")))


def _oracle_counts(a: Any, b: Any, fn: str) -> tuple[int, int, int, int]:
    """(N11, N10, N01, N00): both correct, only a correct, only b correct, both wrong."""
    ta = V.boolean(a, fn, "a_correct")
    tb = V.boolean(b, fn, "b_correct")
    V.same_samples(fn, ("a_correct", ta), ("b_correct", tb))
    V.check_min_samples(ta, fn, "a_correct", 1)
    counts = torch.stack([(ta & tb).sum(), (ta & ~tb).sum(), (~ta & tb).sum(), (~ta & ~tb).sum()]).tolist()
    return counts[0], counts[1], counts[2], counts[3]


def disagreement(a_correct: Any, b_correct: Any) -> float:
    """Kuncheva's disagreement D = (N01 + N10) / N on correctness (design-diversity paper, Eq. 4).

    ``a_correct``, ``b_correct``: bool (n,). Returns a float in [0, 1]; 0 = the same samples are right and wrong.
    """
    n11, n10, n01, n00 = _oracle_counts(a_correct, b_correct, "disagreement")
    return (n01 + n10) / (n11 + n10 + n01 + n00)


def q_statistic(a_correct: Any, b_correct: Any) -> float:
    """Yule's Q = (N11 N00 - N01 N10) / (N11 N00 + N01 N10) (Kuncheva & Whitaker 2003). Float in [-1, 1].

    Raises ``ValueError`` when the denominator is 0 (e.g. both models always right), where Q is undefined.
    """
    n11, n10, n01, n00 = _oracle_counts(a_correct, b_correct, "q_statistic")
    den = n11 * n00 + n01 * n10
    if den == 0:
        raise ValueError(
            f"q_statistic: undefined because N11*N00 + N01*N10 = 0 (counts N11={n11}, N10={n10}, N01={n01}, "
            f"N00={n00}); expected samples where both models are right and where both are wrong, or disagreements"
        )
    return (n11 * n00 - n01 * n10) / den


def correlation_coefficient(a_correct: Any, b_correct: Any) -> float:
    """Correlation of the correctness vectors, rho (Kuncheva & Whitaker 2003). Float in [-1, 1].

    rho = (N11 N00 - N01 N10) / sqrt((N11+N10)(N01+N00)(N11+N01)(N10+N00)); ``ValueError`` if a model is always right
    or always wrong (zero variance).
    """
    n11, n10, n01, n00 = _oracle_counts(a_correct, b_correct, "correlation_coefficient")
    den = (n11 + n10) * (n01 + n00) * (n11 + n01) * (n10 + n00)
    if den == 0:
        raise ValueError(
            "correlation_coefficient: undefined because a model is always right or always wrong "
            f"(counts N11={n11}, N10={n10}, N01={n01}, N00={n00}); expected both outcomes for each model"
        )
    return (n11 * n00 - n01 * n10) / math.sqrt(den)


def error_consistency(a_correct: Any, b_correct: Any) -> float:
    """Error consistency (Geirhos et al. 2020): Cohen's kappa of correctness, agreement beyond chance.

    kappa = (c_obs - c_exp) / (1 - c_exp), c_obs = (N11 + N00)/N, c_exp = p_a p_b + (1 - p_a)(1 - p_b) with p the
    accuracies. Float in [-1, 1]; ``ValueError`` when c_exp = 1 (both models always right, or both always wrong).
    """
    n11, n10, n01, n00 = _oracle_counts(a_correct, b_correct, "error_consistency")
    n = n11 + n10 + n01 + n00
    c_obs = (n11 + n00) / n
    p_a, p_b = (n11 + n10) / n, (n11 + n01) / n
    c_exp = p_a * p_b + (1 - p_a) * (1 - p_b)
    if c_exp >= 1.0:
        raise ValueError(
            f"error_consistency: undefined because the expected agreement is 1 (accuracies {p_a:.3f} and "
            f"{p_b:.3f}); expected at least one model that is sometimes right and sometimes wrong"
        )
    return (c_obs - c_exp) / (1 - c_exp)


_CORRECTNESS = dict(kind="functional", inputs="correctness", invariances=frozenset({"sample_order"}), symmetric=True)

register_measure(
    MeasureRecord(
        name="agreement",
        fn=agreement,
        kind="functional",
        higher_is_similar=True,
        range=(0.0, 1.0),
        invariances=frozenset({"isotropic_scaling", "logit_shift", "sample_order"}),
        symmetric=True,
        source="Robustness and universality, Eq. 3",
        formula=r"\frac{1}{N}\sum_{i=1}^{N}\mathbf{1}[\arg\max_j L_{ij} = \arg\max_j L'_{ij}]",
        inputs="logits",
        prepare=_agreement_prepare,
        from_prepared=_agreement_pair,
    )
)
register_measure(
    MeasureRecord(
        name="jsd_similarity",
        fn=jsd_similarity,
        kind="functional",
        higher_is_similar=True,
        range=(0.0, 1.0),
        invariances=frozenset({"logit_shift", "sample_order"}),
        symmetric=True,
        source="Robustness and universality, Eq. 2",
        formula=r"1 - \frac{1}{N}\sum_{i=1}^{N}\Big[\tfrac12 \mathrm{KL}_2(P_i\,\|\,M_i)"
        r" + \tfrac12 \mathrm{KL}_2(Q_i\,\|\,M_i)\Big],\; M_i = \tfrac12(P_i + Q_i)",
        inputs="logits",
        prepare=_jsd_prepare,
        from_prepared=_jsd_pair,
    )
)
register_measure(
    MeasureRecord(
        name="disagreement",
        fn=disagreement,
        higher_is_similar=False,
        range=(0.0, 1.0),
        source="Design diversity, Eq. 4",
        formula=r"\frac{N^{01} + N^{10}}{N^{11} + N^{10} + N^{01} + N^{00}}",
        **_CORRECTNESS,
    )
)
register_measure(
    MeasureRecord(
        name="q_statistic",
        fn=q_statistic,
        higher_is_similar=True,
        range=(-1.0, 1.0),
        source="Kuncheva & Whitaker 2003, Q statistic (cited by design diversity, Sec. 2.2)",
        formula=r"\frac{N^{11}N^{00} - N^{01}N^{10}}{N^{11}N^{00} + N^{01}N^{10}}",
        **_CORRECTNESS,
    )
)
register_measure(
    MeasureRecord(
        name="correlation_coefficient",
        fn=correlation_coefficient,
        higher_is_similar=True,
        range=(-1.0, 1.0),
        source="Kuncheva & Whitaker 2003, correlation coefficient (cited by design diversity, Sec. 2.2)",
        formula=r"\frac{N^{11}N^{00} - N^{01}N^{10}}"
        r"{\sqrt{(N^{11}+N^{10})(N^{01}+N^{00})(N^{11}+N^{01})(N^{10}+N^{00})}}",
        **_CORRECTNESS,
    )
)
register_measure(
    MeasureRecord(
        name="error_consistency",
        fn=error_consistency,
        higher_is_similar=True,
        range=(-1.0, 1.0),
        source="Geirhos et al. 2020, error consistency (Cohen's kappa)",
        formula=r"\frac{c_{obs} - c_{exp}}{1 - c_{exp}},\; c_{exp} = p_a p_b + (1-p_a)(1-p_b)",
        **_CORRECTNESS,
    )
)
