"""Littlewood-Miller difficulty functions and coincident failure."""
from __future__ import annotations

import pytest
import torch

from sat_lib.measures import CoincidentFailure, coincident_failure, difficulty_functions


def test_difficulty_function_is_the_failing_share():
    failures = torch.tensor([[True, False, True], [True, False, False], [False, False, True], [True, False, False]])
    torch.testing.assert_close(difficulty_functions(failures), torch.tensor([0.75, 0.0, 0.5], dtype=torch.float64))
    with pytest.raises(ValueError, match="difficulty_functions: argument 'failures' has dtype torch.float32"):
        difficulty_functions(failures.float())


def test_decomposition_identity_is_exact():
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        ta = difficulty_functions(torch.rand(7, 101, generator=gen) < 0.3)
        tb = difficulty_functions(torch.rand(5, 101, generator=gen) < 0.4)
        r = coincident_failure(ta, tb)
        assert isinstance(r, CoincidentFailure)
        assert r.p_both == r.independent + r.covariance  # exact, not approximate
        assert r.p_both == pytest.approx(float((ta * tb).mean()), abs=1e-15)
        assert r.independent == pytest.approx(float(ta.mean() * tb.mean()), abs=1e-15)


def test_diverse_methodologies_fail_less_together_than_independent():
    theta_a = torch.tensor([1.0, 0.0, 0.5, 0.5])
    theta_b = torch.tensor([0.0, 1.0, 0.5, 0.5])
    r = coincident_failure(theta_a, theta_b)
    assert r.covariance == pytest.approx(-0.125) and r.independent == pytest.approx(0.25)
    assert r.p_both == pytest.approx(0.125) and r.p_both < r.independent


def test_theta_must_be_probabilities():
    with pytest.raises(ValueError, match="coincident_failure: argument 'theta_b' has values outside"):
        coincident_failure(torch.tensor([0.5, 0.5]), torch.tensor([0.5, 1.5]))
    msg = r"coincident_failure: expected equal n_samples, got theta_a=\(2,\) and theta_b=\(3,\)"
    with pytest.raises(ValueError, match=msg):
        coincident_failure(torch.tensor([0.5, 0.5]), torch.tensor([0.5, 0.5, 0.5]))
