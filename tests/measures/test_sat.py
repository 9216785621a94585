"""SAT score (Eq. 1), its one-sided variant (appendix G) and the batched matrix."""
from __future__ import annotations

import math

import pytest
import torch

from sat_lib.measures import sat_matrix, sat_score

T, F = True, False


def _b(*values: bool) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.bool)


def test_identical_models_under_a_perfect_adversary_give_log_100():
    ones = torch.ones(20, dtype=torch.bool)
    assert sat_score(ones, ones, ones, ones) == pytest.approx(math.log(100))
    assert isinstance(sat_score(ones, ones, ones, ones), float)


def test_no_transfer_gives_log_eps():
    ones, zeros = torch.ones(20, dtype=torch.bool), torch.zeros(20, dtype=torch.bool)
    assert sat_score(zeros, zeros, ones, ones) == pytest.approx(math.log(0.01))
    assert sat_score(zeros, zeros, ones, ones, eps_s=0.5) == pytest.approx(math.log(0.5))


def test_hand_example_counts_only_images_both_classify_correctly():
    # X_AB = images 0..3; image 4 (B wrong) and 5 (A wrong) are ignored even though they "transfer".
    a_wrong = _b(T, T, F, F, T, T)
    b_wrong = _b(F, F, T, F, T, T)
    a_ok = _b(T, T, T, T, T, F)
    b_ok = _b(T, T, T, T, F, T)
    assert sat_score(a_wrong, b_wrong, a_ok, b_ok) == pytest.approx(math.log(100 * 3 / 8))
    # one-sided: only B(x_A) != y over X_AB -> 1 / 4
    assert sat_score(a_wrong, b_wrong, a_ok, b_ok, one_sided=True) == pytest.approx(math.log(25.0))
    assert sat_score(None, b_wrong, a_ok, b_ok, one_sided=True) == pytest.approx(math.log(25.0))


def test_empty_intersection_raises_or_gives_nan():
    a_ok, b_ok = _b(T, F, F), _b(F, T, F)
    any3 = _b(T, T, T)
    with pytest.raises(ValueError, match="sat_score: no image is classified correctly by both"):
        sat_score(any3, any3, a_ok, b_ok)
    assert math.isnan(sat_score(any3, any3, a_ok, b_ok, empty="nan"))
    with pytest.raises(ValueError, match="sat_score: argument 'empty' is 'zero'"):
        sat_score(any3, any3, a_ok, b_ok, empty="zero")


def test_bad_inputs():
    ok = torch.ones(4, dtype=torch.bool)
    with pytest.raises(ValueError, match="sat_score: argument 'a_wrong_on_b_adv' has dtype torch.float32"):
        sat_score(ok.float(), ok, ok, ok)
    with pytest.raises(ValueError, match=r"sat_score: expected equal n_samples, got .*\(4,\).*\(3,\)"):
        sat_score(ok, ok, ok, ok[:3])
    with pytest.raises(ValueError, match="sat_score: argument 'eps_s'"):
        sat_score(ok, ok, ok, ok, eps_s=0)


def _random_transfer(s: int, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    fooled = torch.rand(s, s, n, generator=gen) < 0.6
    correct = torch.rand(s, n, generator=gen) < 0.7
    correct[-1] = False  # one model that gets nothing right: its row/column must be NaN, not a crash
    return fooled, correct


@pytest.mark.parametrize("one_sided", [False, True])
def test_matrix_equals_pairwise_scores(one_sided: bool):
    fooled, correct = _random_transfer(5, 60, seed=0)
    sat, n_both, rate = sat_matrix(fooled, correct, one_sided=one_sided)
    assert sat.dtype == rate.dtype == torch.float64 and n_both.dtype == torch.int64
    for s in range(5):
        for t in range(5):
            expected = sat_score(fooled[t, s], fooled[s, t], correct[s], correct[t], one_sided=one_sided, empty="nan")
            assert int(n_both[s, t]) == int((correct[s] & correct[t]).sum())
            if math.isnan(expected):
                assert math.isnan(float(sat[s, t])) and math.isnan(float(rate[s, t]))
            else:
                assert float(sat[s, t]) == pytest.approx(expected, abs=1e-12)
                assert math.log(max(0.01, float(rate[s, t]))) == pytest.approx(expected, abs=1e-12)


def test_matrix_symmetry():
    fooled, correct = _random_transfer(4, 50, seed=1)
    two, _, _ = sat_matrix(fooled, correct)
    one, _, _ = sat_matrix(fooled, correct, one_sided=True)
    finite = ~two.isnan()
    assert torch.equal(two[finite], two.T[finite])
    assert not torch.allclose(one[finite], one.T[finite])


def test_matrix_shape_errors():
    with pytest.raises(ValueError, match=r"sat_matrix: expected fooled of shape \(S, S, n\)"):
        sat_matrix(torch.ones(3, 3, 5, dtype=torch.bool), torch.ones(2, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match="sat_matrix: argument 'fooled' has shape"):
        sat_matrix(torch.ones(3, 5, dtype=torch.bool), torch.ones(3, 5, dtype=torch.bool))
