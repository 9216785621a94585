"""Output- and correctness-based measures: hand examples and independent references."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import jensenshannon
from scipy.special import softmax
from sklearn.metrics import cohen_kappa_score

from sat_lib.measures import (
    agreement,
    correlation_coefficient,
    disagreement,
    error_consistency,
    jsd_similarity,
    q_statistic,
)


def _one_hot_logits(labels: list[int], c: int = 3) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.tensor(labels), c).double() * 5


def test_agreement_by_hand():
    a = _one_hot_logits([0, 1, 2, 1])
    b = _one_hot_logits([0, 2, 2, 1])
    assert agreement(a, b) == 0.75
    assert agreement(torch.tensor([0, 1, 2, 1]), torch.tensor([0, 2, 2, 1])) == 0.75  # integer predictions
    assert isinstance(agreement(a, b), float)


def test_jsd_similarity_matches_scipy_divergence():
    """scipy returns the JS *distance* (square root); Eq. 2 is the divergence, so square it."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(30, 7)) * 2, rng.normal(size=(30, 7)) * 2
    p, q = softmax(a, axis=1), softmax(b, axis=1)
    ref = 1 - np.mean([jensenshannon(pi, qi, base=2) ** 2 for pi, qi in zip(p, q)])
    assert jsd_similarity(torch.as_tensor(a), torch.as_tensor(b)) == pytest.approx(ref, abs=1e-12)
    assert jsd_similarity(a, b) == pytest.approx(ref, abs=1e-12)  # numpy accepted


def test_jsd_similarity_extremes():
    a = torch.tensor([[100.0, 0.0], [0.0, 100.0]])
    assert jsd_similarity(a, a) == pytest.approx(1.0)
    assert jsd_similarity(a, a.flip(1)) == pytest.approx(0.0, abs=1e-12)  # disjoint supports: JSD = 1 bit
    assert jsd_similarity(a.float(), a.float() * 1000) >= 0.0  # saturated float32 logits stay finite


def test_jsd_needs_two_classes():
    with pytest.raises(ValueError, match="jsd_similarity.*at least 2 classes"):
        jsd_similarity(torch.zeros(4, 1), torch.zeros(4, 1))


# N11 = 3, N10 = 1, N01 = 2, N00 = 4
A_OK = torch.tensor([1, 1, 1, 1, 0, 0, 0, 0, 0, 0], dtype=torch.bool)
B_OK = torch.tensor([1, 1, 1, 0, 1, 1, 0, 0, 0, 0], dtype=torch.bool)


def test_correctness_measures_by_hand():
    assert disagreement(A_OK, B_OK) == pytest.approx(0.3)
    assert q_statistic(A_OK, B_OK) == pytest.approx((12 - 2) / (12 + 2))
    assert correlation_coefficient(A_OK, B_OK) == pytest.approx(10 / math.sqrt(4 * 6 * 5 * 5))
    assert error_consistency(A_OK, B_OK) == pytest.approx((0.7 - 0.5) / (1 - 0.5))


def test_correctness_measures_match_references():
    rng = np.random.default_rng(1)
    a = rng.random(200) < 0.7
    b = np.where(rng.random(200) < 0.8, a, ~a)
    assert correlation_coefficient(a, b) == pytest.approx(np.corrcoef(a, b)[0, 1], abs=1e-12)
    assert error_consistency(a, b) == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)
    assert disagreement(a, b) == pytest.approx(np.mean(a != b))


def test_undefined_statistics_raise():
    always = torch.ones(5, dtype=torch.bool)
    with pytest.raises(ValueError, match="q_statistic: undefined"):
        q_statistic(always, always)
    with pytest.raises(ValueError, match="correlation_coefficient: undefined"):
        correlation_coefficient(always, A_OK[:5])
    with pytest.raises(ValueError, match="error_consistency: undefined"):
        error_consistency(always, always)


def test_correctness_must_be_bool():
    with pytest.raises(ValueError, match=r"disagreement: argument 'a_correct' has dtype torch.float32.*torch.bool"):
        disagreement(A_OK.float(), B_OK)
    with pytest.raises(ValueError, match="disagreement: argument 'b_correct' has dtype torch.int64"):
        disagreement(A_OK, B_OK.long())


def test_unequal_lengths_show_both_shapes():
    msg = r"q_statistic: expected equal n_samples, got a_correct=\(10,\) and b_correct=\(9,\)"
    with pytest.raises(ValueError, match=msg):
        q_statistic(A_OK, B_OK[:9])
    with pytest.raises(ValueError, match=r"agreement: expected equal n_samples, got a=\(4,\) and b=\(3,\)"):
        agreement(torch.randn(4, 3), torch.randn(3, 3))


def test_logits_must_be_finite_floats():
    bad = torch.randn(4, 3)
    bad[1, 2] = float("nan")
    with pytest.raises(ValueError, match="jsd_similarity: argument 'a' contains 1 NaN or Inf"):
        jsd_similarity(bad, torch.randn(4, 3))
    with pytest.raises(ValueError, match="agreement: argument 'b' has dtype torch.bool"):
        agreement(torch.randn(4, 3), torch.ones(4, dtype=torch.bool))
    with pytest.raises(TypeError, match="agreement: argument 'a' must be a torch.Tensor or numpy.ndarray, got list"):
        agreement([[0.0, 1.0]], torch.randn(1, 2))


def test_agreement_bounds_match_a_brute_force_search():
    """Every pair of prediction vectors on 4 samples of 3 classes: the agreement reached at given accuracies
    spans exactly [max(0, a + b − 1), 1 − |a − b|]."""
    import itertools

    from sat_lib.measures import agreement_bounds

    y = [0, 1, 2, 0]
    preds = list(itertools.product(range(3), repeat=4))
    acc = {p: sum(a == b for a, b in zip(p, y)) / 4 for p in preds}
    seen: dict = {}
    for p in preds:
        for q in preds:
            key = (acc[p], acc[q])
            agr = sum(a == b for a, b in zip(p, q)) / 4
            lo, hi = seen.get(key, (1.0, 0.0))
            seen[key] = (min(lo, agr), max(hi, agr))
    for (a, b), (lo, hi) in seen.items():
        assert (lo, hi) == pytest.approx(agreement_bounds(a, b)), (a, b)
    with pytest.raises(ValueError, match="acc_a"):
        agreement_bounds(1.2, 0.5)
