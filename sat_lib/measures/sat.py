"""SAT: similarity by attack transferability (Hwang et al., Eq. 1; one-sided approximation of appendix G).

With A(x_B) != y meaning "model A misclassifies the adversarial example crafted on B" and X_AB the images both models
classify correctly,

    SAT(A, B) = log max{eps_s, 100 / (2 |X_AB|) * sum_{x in X_AB} [I(A(x_B) != y) + I(B(x_A) != y)]}

(natural log, so identical models under a perfect adversary score log 100 ~ 4.61 and no transfer scores log eps_s).
The one-sided variant of appendix G evaluates only the novel model A's adversarial examples on the existing model B:
rate = 100 * mean_{X_AB} I(B(x_A) != y).
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from . import _validation as V
from ._registry import MeasureRecord, register_measure


def sat_score(
    a_wrong_on_b_adv: Any,
    b_wrong_on_a_adv: Any,
    a_correct: Any,
    b_correct: Any,
    *,
    eps_s: float = 0.01,
    one_sided: bool = False,
    empty: str = "raise",
) -> float:
    """SAT score of Eq. 1 as a python float.

    Arguments are bool (n,) vectors over the same images: A(x_B) != y, B(x_A) != y, A(x) = y, B(x) = y.
    ``one_sided=True`` (appendix G) uses ``b_wrong_on_a_adv`` only; ``a_wrong_on_b_adv`` may then be None.
    ``empty``: what to do when no image is classified correctly by both models — "raise" (``ValueError``) or "nan".
    """
    fn = "sat_score"
    V.choice(empty, fn, "empty", ("raise", "nan"))
    eps_s = V.positive_float(eps_s, fn, "eps_s")
    named = [
        ("b_wrong_on_a_adv", V.boolean(b_wrong_on_a_adv, fn, "b_wrong_on_a_adv")),
        ("a_correct", V.boolean(a_correct, fn, "a_correct")),
        ("b_correct", V.boolean(b_correct, fn, "b_correct")),
    ]
    if not one_sided or a_wrong_on_b_adv is not None:
        named.insert(0, ("a_wrong_on_b_adv", V.boolean(a_wrong_on_b_adv, fn, "a_wrong_on_b_adv")))
    V.same_samples(fn, *named)
    t = dict(named)
    both = t["a_correct"] & t["b_correct"]
    n_both = int(both.sum())
    if n_both == 0:
        if empty == "nan":
            return float("nan")
        raise ValueError(
            f"{fn}: no image is classified correctly by both models (|X_AB| = 0 of n = {both.shape[0]}); "
            "SAT is undefined. Pass empty='nan' to get NaN instead."
        )
    if one_sided:
        hits = int((t["b_wrong_on_a_adv"] & both).sum())
        rate = 100.0 * hits / n_both
    else:
        hits = int((t["a_wrong_on_b_adv"] & both).sum()) + int((t["b_wrong_on_a_adv"] & both).sum())
        rate = 100.0 * hits / (2 * n_both)
    return math.log(max(eps_s, rate))


def sat_matrix(
    fooled: Any, correct: Any, *, eps_s: float = 0.01, one_sided: bool = False
) -> tuple[Tensor, Tensor, Tensor]:
    """All pairwise SAT scores at once (vectorised over pairs).

    ``fooled``: bool (S, S, n), ``fooled[s, t, i]`` = model t misclassifies the adversarial example of image i crafted
    on model s. ``correct``: bool (S, n). Returns ``(sat, n_both, rate)``: float64 (S, S) SAT, int64 (S, S) |X_st|
    and float64 (S, S) transfer rate in percent. Pairs with empty X_st are NaN in ``sat`` and ``rate``.
    Two-sided entries are symmetric and equal ``sat_score(fooled[t, s], fooled[s, t], correct[s], correct[t])``;
    with ``one_sided=True`` entry [s, t] uses ``fooled[s, t]`` only (s plays the novel model A of appendix G).
    """
    fn = "sat_matrix"
    eps_s = V.positive_float(eps_s, fn, "eps_s")
    f = V.boolean(fooled, fn, "fooled", ndim=3, what="(S, S, n_samples)")
    c = V.boolean(correct, fn, "correct", ndim=2, what="(S, n_samples)")
    if f.shape[0] != f.shape[1] or f.shape[0] != c.shape[0] or f.shape[2] != c.shape[1]:
        raise ValueError(
            f"{fn}: expected fooled of shape (S, S, n) and correct of shape (S, n), got fooled={tuple(f.shape)} "
            f"and correct={tuple(c.shape)}"
        )
    V.same_device(fn, ("fooled", f), ("correct", c))
    both = c[:, None, :] & c[None, :, :]
    n_both = both.sum(dim=-1)
    hits = (f & both).sum(dim=-1)
    if one_sided:
        rate = 100.0 * hits.double() / n_both.double()
    else:
        rate = 100.0 * (hits + hits.T).double() / (2 * n_both).double()
    rate = torch.where(n_both > 0, rate, torch.full_like(rate, float("nan")))
    sat = torch.log(torch.maximum(rate, torch.full_like(rate, eps_s)))  # maximum propagates NaN
    return sat, n_both.to(torch.int64), rate


_SAT_FORMULA = (
    r"\log\max\Big\{\varepsilon_s,\ \frac{100}{2|X_{AB}|}\sum_{x\in X_{AB}}\big[\mathbb{I}(A(x_B)\neq y)"
    r" + \mathbb{I}(B(x_A)\neq y)\big]\Big\}"
)


def _sat_one_sided(a_wrong_on_b_adv: Any, b_wrong_on_a_adv: Any, a_correct: Any, b_correct: Any, **kw: Any) -> float:
    """``sat_score(..., one_sided=True)`` (appendix G)."""
    return sat_score(a_wrong_on_b_adv, b_wrong_on_a_adv, a_correct, b_correct, one_sided=True, **kw)


register_measure(
    MeasureRecord(
        name="sat_score",
        fn=sat_score,
        kind="functional",
        higher_is_similar=True,
        range=(math.log(0.01), math.log(100.0)),
        invariances=frozenset({"sample_order"}),
        symmetric=True,
        source="SAT (Hwang et al.), Eq. 1",
        formula=_SAT_FORMULA,
        inputs="transfer",
    )
)
register_measure(
    MeasureRecord(
        name="sat_score_one_sided",
        fn=_sat_one_sided,
        kind="functional",
        higher_is_similar=True,
        range=(math.log(0.01), math.log(100.0)),
        invariances=frozenset({"sample_order"}),
        symmetric=False,
        source="SAT (Hwang et al.), appendix G",
        formula=r"\log\max\Big\{\varepsilon_s,\ \frac{100}{|X_{AB}|}\sum_{x\in X_{AB}}\mathbb{I}(B(x_A)\neq y)\Big\}",
        inputs="transfer",
    )
)
