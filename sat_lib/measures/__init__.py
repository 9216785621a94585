"""Similarity and diversity measures for the four papers, as pure functions on tensors.

Every measure takes torch tensors (numpy arrays are converted explicitly with ``torch.as_tensor``), works on the
input's device and returns a python float for a scalar score (tensors for per-sample or matrix results). Each one is
registered in :data:`MEASURES` with its metadata (kind, higher-is-similar, range, invariances, source equation,
LaTeX formula); :func:`measure_table` lists them for the book. Bad input raises ``ValueError`` naming the function
and the argument (see ``_validation``).

Modules: ``functional`` (agreement, JSD, correctness diversity), ``sat`` (SAT score and matrix), ``ensemble``,
``representational`` (CKA, Procrustes, k-NN Jaccard), ``gradient`` (input gradients and their similarity),
``attribution`` (attribution diversity), ``boundary`` (decision-region similarity), ``theory`` (Littlewood-Miller),
``pairwise``.
"""
from __future__ import annotations

from ._registry import INPUTS, INVARIANCES, KINDS, MEASURES, MeasureRecord, measure_table
from .attribution import attribution_diversity, attribution_variance
from .ensemble import (
    EquitabilitySplit,
    all_wrong_ratio,
    ensemble_gain,
    ensemble_logits,
    equitability_split,
    error_reduction_rate,
    majority_vote,
    shannon_equitability,
)
from .functional import (
    agreement,
    agreement_bounds,
    correlation_coefficient,
    disagreement,
    error_consistency,
    jsd_similarity,
    q_statistic,
)
from .boundary import decision_region_similarity  # noqa: E402  (after .functional: the table's order)
from .gradient import downsample_gradients, gradient_cosine, input_gradients, mean_direction, t_statistic
from .pairwise import pairwise
from .representational import MinibatchCKA, knn_jaccard, linear_cka, procrustes_similarity, row_space
from .sat import sat_matrix, sat_score
from .theory import CoincidentFailure, coincident_failure, difficulty_functions

__all__ = [
    "INPUTS",
    "INVARIANCES",
    "KINDS",
    "MEASURES",
    "CoincidentFailure",
    "EquitabilitySplit",
    "MeasureRecord",
    "MinibatchCKA",
    "agreement",
    "agreement_bounds",
    "all_wrong_ratio",
    "attribution_diversity",
    "attribution_variance",
    "coincident_failure",
    "decision_region_similarity",
    "correlation_coefficient",
    "difficulty_functions",
    "disagreement",
    "downsample_gradients",
    "ensemble_gain",
    "ensemble_logits",
    "equitability_split",
    "error_consistency",
    "error_reduction_rate",
    "gradient_cosine",
    "input_gradients",
    "jsd_similarity",
    "knn_jaccard",
    "linear_cka",
    "majority_vote",
    "mean_direction",
    "measure_table",
    "pairwise",
    "procrustes_similarity",
    "q_statistic",
    "row_space",
    "sat_matrix",
    "sat_score",
    "shannon_equitability",
    "t_statistic",
]
