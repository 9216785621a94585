"""Ensembles: combining members and scoring how much the combination gains.

Combination by logit averaging (SAT paper Sec. 5.1; design-diversity Fig. 5) or by majority vote (random,
seeded tie-breaking). Scores: error reduction rate (SAT paper Sec. 5.1), ensemble gain A_ens - A_top (design
diversity Sec. 4.2), the "all wrong" ratio (SAT paper Fig. 6b) and the Shannon equitability of member predictions
(design diversity Eq. 5, Table 2). Accuracies and errors are fractions in [0, 1], not percent.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from . import _validation as V
from ._registry import MeasureRecord, register_measure


def _member_logits(x: Any, fn: str, arg: str = "member_logits") -> Tensor:
    t = V.stack(x, fn, arg)
    return V.floating(t, fn, arg, ndim=3, what="(n_members, n_samples, n_classes) logits")


def _labels(labels: Any, n: int, fn: str, device: torch.device) -> Tensor:
    y = V.integer(labels, fn, "labels", ndim=1, what="(n_samples,) class indices")
    if y.shape[0] != n:
        raise ValueError(f"{fn}: expected equal n_samples, got labels={tuple(y.shape)} and n_samples={n}")
    if y.device != device:
        raise ValueError(f"{fn}: expected every input on one device, got labels on {y.device} and logits on {device}")
    return y


def ensemble_logits(member_logits: Any) -> Tensor:
    """Unweighted average of the members' logits, (M, n, C) or a list of (n, C) -> (n, C) tensor."""
    return _member_logits(member_logits, "ensemble_logits").mean(dim=0)


def _agreement_counts(t: Tensor) -> Tensor:
    """(M, n) predictions -> (M, n) number of members that predict the same class as member m on sample i.

    O(M^2 n) memory instead of a dense (n, n_classes) histogram, which would not fit for ImageNet-sized runs.
    """
    return (t[:, None, :] == t[None, :, :]).sum(dim=1)


def majority_vote(
    predictions: Any,
    *,
    num_classes: int | None = None,
    seed: int = 0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Plurality vote of the members -> (n,) int64 class indices.

    ``predictions``: int (M, n) predicted classes, or float (M, n, C) logits (argmax per member). Ties between the
    most-voted classes are broken uniformly at random with ``generator`` (on the predictions' device) or, if None, a
    new generator seeded with ``seed`` — so the result is reproducible. ``num_classes`` only validates the predictions.
    """
    fn = "majority_vote"
    t = V.stack(predictions, fn, "predictions")
    if t.is_floating_point():
        t = V.floating(t, fn, "predictions", ndim=3, what="(M, n, C) logits or (M, n) predictions").argmax(dim=2)
    else:
        t = V.integer(t, fn, "predictions", ndim=2, what="(M, n) predictions or (M, n, C) logits")
    if num_classes is not None and t.numel() and int(t.max()) >= V.positive_int(num_classes, fn, "num_classes"):
        raise ValueError(f"{fn}: argument 'predictions' holds class {int(t.max())} but num_classes is {num_classes}")
    counts = _agreement_counts(t).to(torch.float64)  # (M, n)
    if generator is None:
        generator = torch.Generator(device=t.device).manual_seed(int(seed))
    noise = torch.rand(counts.shape, generator=generator, device=t.device, dtype=torch.float64)
    # Every tied class has the same number of members, so a uniformly random member among those with the top count
    # picks a uniformly random class among the tied ones.
    tied = counts == counts.max(dim=0, keepdim=True).values
    winner = torch.where(tied, counts + noise, counts).argmax(dim=0)  # (n,) member index
    return t.gather(0, winner[None]).squeeze(0).to(torch.int64)


def _combined_predictions(logits: Tensor, combine: str, fn: str, seed: int) -> Tensor:
    V.choice(combine, fn, "combine", ("logits", "vote"))
    if combine == "logits":
        return logits.mean(dim=0).argmax(dim=1)
    return majority_vote(logits.argmax(dim=2), num_classes=logits.shape[2], seed=seed)


def _accuracies(member_logits: Any, labels: Any, combine: str, seed: int, fn: str) -> tuple[Tensor, float]:
    logits = _member_logits(member_logits, fn)
    y = _labels(labels, logits.shape[1], fn, logits.device)
    V.check_min_samples(y, fn, "labels", 1)
    members = (logits.argmax(dim=2) == y).double().mean(dim=1)  # (M,)
    ens = float((_combined_predictions(logits, combine, fn, seed) == y).double().mean())
    return members, ens


def error_reduction_rate(member_logits: Any, labels: Any, *, combine: str = "logits", seed: int = 0) -> float:
    """ERR = 1 - Err_ens / mean_m Err(m) (SAT paper, Sec. 5.1), with top-1 errors as fractions.

    ``combine``: "logits" (unweighted logit averaging, as in the paper) or "vote". ``ValueError`` if every member is
    always right (mean member error 0). Float in (-inf, 1]; higher = the ensemble removes more errors.
    """
    fn = "error_reduction_rate"
    members, ens = _accuracies(member_logits, labels, combine, seed, fn)
    mean_err = float((1.0 - members).mean())
    if mean_err == 0.0:
        raise ValueError(f"{fn}: undefined because every member is always right (mean member error 0)")
    return 1.0 - (1.0 - ens) / mean_err


def ensemble_gain(member_logits: Any, labels: Any, *, combine: str = "logits", seed: int = 0) -> float:
    """A_ens - A_top: ensemble accuracy minus that of its most accurate member (design diversity, Sec. 4.2).

    Fractions, so the result is in [-1, 1]; > 0 means the ensemble beats its best member.
    """
    members, ens = _accuracies(member_logits, labels, combine, seed, "ensemble_gain")
    return ens - float(members.max())


def all_wrong_ratio(member_correct: Any) -> float:
    """Share of samples on which every member is wrong (SAT paper, Fig. 6b). ``member_correct``: bool (M, n)."""
    fn = "all_wrong_ratio"
    c = V.boolean(V.stack(member_correct, fn, "member_correct"), fn, "member_correct", ndim=2, what="(M, n)")
    if c.shape[1] < 1:
        raise ValueError(f"{fn}: argument 'member_correct' has shape {tuple(c.shape)}; expected at least 1 sample")
    return float((~c).all(dim=0).double().mean())


def shannon_equitability(
    predictions: Any, *, num_classes: int | None = None, reduce: str = "mean"
) -> float | Tensor:
    """Shannon equitability E = -sum_i p_i ln p_i / ln S of the members' predicted classes, per sample (Eq. 5).

    ``predictions``: int (M, n). p_i is the share of the M members that predict class i on the sample. S, the number of
    "species", is the largest number of distinct predictions possible: min(M, num_classes) (M when ``num_classes``
    is None). With ln(#classes) for ImageNet a 3-member ensemble could not exceed 0.16, yet the paper's Table 2
    reports up to 0.77, so S counts what M members can express. E in [0, 1]: 0 = unanimous, 1 = all different.
    ``reduce="mean"`` -> python float; ``"none"`` -> float64 (n,) tensor.
    """
    fn = "shannon_equitability"
    V.choice(reduce, fn, "reduce", ("mean", "none"))
    t = V.integer(V.stack(predictions, fn, "predictions"), fn, "predictions", ndim=2, what="(M, n) predictions")
    m = t.shape[0]
    s = m if num_classes is None else min(m, V.positive_int(num_classes, fn, "num_classes"))
    if s < 2:
        raise ValueError(f"{fn}: needs at least 2 members and 2 classes, got M={m} and num_classes={num_classes}")
    if t.shape[1] < 1:
        raise ValueError(f"{fn}: argument 'predictions' has shape {tuple(t.shape)}; expected at least 1 sample")
    # sum_classes p ln p = mean over members of ln(share of members agreeing with that member)
    share = _agreement_counts(t).to(torch.float64) / m
    h = -(share.log().mean(dim=0)) / math.log(s)
    return float(h.mean()) if reduce == "mean" else h


@dataclass(frozen=True)
class EquitabilitySplit:
    """Table 2 of the design-diversity paper: mean equitability on samples the ensemble gets right / wrong."""

    h_corr: float
    h_inco: float
    n_corr: int
    n_inco: int


def equitability_split(
    predictions: Any, ensemble_correct: Any, *, num_classes: int | None = None
) -> EquitabilitySplit:
    """H_corr and H_inco: :func:`shannon_equitability` averaged over samples the ensemble classifies correctly and
    incorrectly. An empty group gives NaN with its count 0 in the result (so it is never silent)."""
    fn = "equitability_split"
    h = shannon_equitability(predictions, num_classes=num_classes, reduce="none")
    ok = V.boolean(ensemble_correct, fn, "ensemble_correct")
    if ok.shape[0] != h.shape[0]:
        raise ValueError(
            f"{fn}: expected equal n_samples, got predictions with {h.shape[0]} samples and "
            f"ensemble_correct={tuple(ok.shape)}"
        )
    V.same_device(fn, ("predictions", h), ("ensemble_correct", ok))
    n_corr = int(ok.sum())
    n_inco = ok.shape[0] - n_corr
    h_corr = float(h[ok].mean()) if n_corr else float("nan")
    h_inco = float(h[~ok].mean()) if n_inco else float("nan")
    return EquitabilitySplit(h_corr, h_inco, n_corr, n_inco)


_ENSEMBLE = dict(kind="ensemble", invariances=frozenset({"sample_order", "member_order"}), symmetric=True)

register_measure(
    MeasureRecord(
        name="error_reduction_rate",
        fn=error_reduction_rate,
        higher_is_similar=False,
        range=(-math.inf, 1.0),
        source="SAT (Hwang et al.), Sec. 5.1",
        formula=r"1 - \frac{\mathrm{Err}_{ens}(M)}{\frac{1}{|M|}\sum_{m\in M}\mathrm{Err}(m)}",
        inputs="member_logits",
        **_ENSEMBLE,
    )
)
register_measure(
    MeasureRecord(
        name="ensemble_gain",
        fn=ensemble_gain,
        higher_is_similar=False,
        range=(-1.0, 1.0),
        source="Design diversity, Sec. 4.2 (Fig. 5 y-axis)",
        formula=r"A_{\mathrm{ens}} - A_{\mathrm{top}}",
        inputs="member_logits",
        **_ENSEMBLE,
    )
)
register_measure(
    MeasureRecord(
        name="all_wrong_ratio",
        fn=all_wrong_ratio,
        higher_is_similar=True,
        range=(0.0, 1.0),
        source="SAT (Hwang et al.), Fig. 6b",
        formula=r"\frac{1}{N}\sum_{i=1}^{N}\prod_{m\in M}\mathbb{I}(m(x_i)\neq y_i)",
        inputs="member_correct",
        **_ENSEMBLE,
    )
)
register_measure(
    MeasureRecord(
        name="shannon_equitability",
        fn=shannon_equitability,
        higher_is_similar=False,
        range=(0.0, 1.0),
        source="Design diversity, Eq. 5 (Table 2)",
        formula=r"-\sum_{i=1}^{S} p_i \ln p_i / \ln S",
        inputs="member_predictions",
        **_ENSEMBLE,
    )
)
