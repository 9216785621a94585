"""Ensembling and ensemble scores."""
from __future__ import annotations

import math

import pytest
import torch

from sat_lib.measures import (
    EquitabilitySplit,
    all_wrong_ratio,
    ensemble_gain,
    ensemble_logits,
    equitability_split,
    error_reduction_rate,
    majority_vote,
    shannon_equitability,
)


def _logits(preds: list[list[int]], c: int = 3) -> torch.Tensor:
    """(M, n, C) logits whose argmax are ``preds``."""
    return torch.nn.functional.one_hot(torch.tensor(preds), c).double()


def test_ensemble_logits_is_the_mean():
    a, b = torch.randn(4, 3), torch.randn(4, 3)
    torch.testing.assert_close(ensemble_logits([a, b]), (a + b) / 2)
    torch.testing.assert_close(ensemble_logits(torch.stack([a, b])), (a + b) / 2)


def test_majority_vote_by_hand():
    preds = torch.tensor([[0, 1, 2], [0, 1, 1], [1, 1, 1]])
    assert majority_vote(preds).tolist() == [0, 1, 1]
    assert majority_vote(_logits(preds.tolist())).tolist() == [0, 1, 1]


def test_majority_vote_ties_are_random_but_seeded():
    preds = torch.tensor([[0] * 200, [3] * 200])  # every sample ties between classes 0 and 3
    first = majority_vote(preds, seed=1)
    assert torch.equal(first, majority_vote(preds, seed=1))
    assert set(first.tolist()) == {0, 3}  # both win sometimes, never a class nobody voted for
    assert 60 < int((first == 0).sum()) < 140
    gen = torch.Generator().manual_seed(5)
    again = torch.Generator().manual_seed(5)
    assert torch.equal(majority_vote(preds, generator=gen), majority_vote(preds, generator=again))


def test_majority_vote_errors():
    with pytest.raises(ValueError, match="majority_vote: argument 'predictions' holds class 4 but num_classes is 3"):
        majority_vote(torch.tensor([[4, 0]]), num_classes=3)
    with pytest.raises(ValueError, match="majority_vote: argument 'predictions' has negative entries"):
        majority_vote(torch.tensor([[-1, 0]]))


def test_error_reduction_rate_and_gain_by_hand():
    labels = torch.tensor([0, 0, 0, 0])
    # member 1 right on samples 0,1; member 2 right on 0,2 -> errors 0.5 each; the averaged logits pick up 3 of 4
    m1 = torch.tensor([[2.0, 0, 0], [2.0, 0, 0], [0, 1.0, 0], [0, 3.0, 0]])
    m2 = torch.tensor([[2.0, 0, 0], [0, 1.0, 0], [2.0, 0, 0], [0, 0, 3.0]])
    assert error_reduction_rate([m1, m2], labels) == pytest.approx(1 - 0.25 / 0.5)
    assert ensemble_gain([m1, m2], labels) == pytest.approx(0.75 - 0.5)
    with pytest.raises(ValueError, match="error_reduction_rate: argument 'combine' is 'median'"):
        error_reduction_rate([m1, m2], labels, combine="median")


def test_error_reduction_rate_undefined_for_perfect_members():
    labels = torch.tensor([0, 1])
    perfect = _logits([[0, 1], [0, 1]])
    with pytest.raises(ValueError, match="error_reduction_rate: undefined because every member is always right"):
        error_reduction_rate(perfect, labels)


def test_labels_are_checked():
    with pytest.raises(ValueError, match=r"ensemble_gain: expected equal n_samples, got labels=\(3,\)"):
        ensemble_gain(torch.randn(2, 4, 3), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="ensemble_gain: argument 'labels' has dtype torch.float32"):
        ensemble_gain(torch.randn(2, 4, 3), torch.zeros(4))


def test_all_wrong_ratio():
    c = torch.tensor([[True, False, False, False], [False, True, False, False]])
    assert all_wrong_ratio(c) == 0.5
    with pytest.raises(ValueError, match="all_wrong_ratio: argument 'member_correct' has dtype torch.int64"):
        all_wrong_ratio(c.long())


def test_shannon_equitability_by_hand():
    # rows = samples here, transposed to (M, n): unanimous | (2, 1) split | all different
    preds = torch.tensor([[0, 0, 0], [0, 1, 1], [1, 2, 0]]).T
    split = -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3)) / math.log(3)
    per = shannon_equitability(preds, reduce="none")
    torch.testing.assert_close(per, torch.tensor([0.0, split, 1.0], dtype=torch.float64))
    assert shannon_equitability(preds) == pytest.approx((0 + split + 1) / 3)
    # two classes only: S = min(M, C) = 2
    two = torch.tensor([[0], [1], [1]])
    assert shannon_equitability(two, num_classes=2) == pytest.approx(split * math.log(3) / math.log(2))


def test_equitability_split():
    preds = torch.tensor([[0, 0, 0], [0, 1, 1], [1, 2, 0]]).T
    result = equitability_split(preds, torch.tensor([True, True, False]))
    assert isinstance(result, EquitabilitySplit)
    assert (result.n_corr, result.n_inco) == (2, 1)
    assert result.h_inco == pytest.approx(1.0)
    empty = equitability_split(preds, torch.ones(3, dtype=torch.bool))
    assert empty.n_inco == 0 and math.isnan(empty.h_inco)


def test_shannon_equitability_needs_two_members():
    with pytest.raises(ValueError, match="shannon_equitability: needs at least 2 members"):
        shannon_equitability(torch.tensor([[0, 1, 2]]))


def test_majority_vote_never_breaks_a_clear_plurality():
    preds = torch.tensor([[0, 5], [0, 5], [1, 6], [2, 7]])  # sample 0: class 0 has 2 of 4 votes; sample 1: class 5
    for seed in range(10):
        assert majority_vote(preds, seed=seed).tolist() == [0, 5]


def test_shannon_equitability_matches_scipy_entropy():
    from scipy.stats import entropy

    gen = torch.Generator().manual_seed(0)
    preds = torch.randint(0, 4, (5, 50), generator=gen)
    ref = [entropy(torch.bincount(preds[:, i], minlength=4).numpy()) / torch.log(torch.tensor(4.0)).item()
           for i in range(50)]
    got = shannon_equitability(preds, num_classes=4, reduce="none")
    torch.testing.assert_close(got, torch.tensor(ref, dtype=torch.float64))
