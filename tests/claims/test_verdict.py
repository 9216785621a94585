"""The one verdict rule: decided by the interval, never by the point estimate."""
import math

import numpy as np
import pytest

from sat_lib.claims.verdict import (AGREES, DISAGREES, INCONCLUSIVE, Estimate, bootstrap, claim_row,
                                    direction_verdict, interval, value_verdict)


def est(value, low, high):
    return Estimate(value, low, high, "models", 10)


@pytest.mark.parametrize("ours, verdict", [(est(2.5, 2.4, 2.8), AGREES), (est(2.5, 2.4, 2.6), DISAGREES),
                                           (est(2.73, math.nan, math.nan), INCONCLUSIVE)])
def test_a_reported_value_agrees_only_inside_our_interval(ours, verdict):
    assert value_verdict(2.73, ours) == verdict


def test_the_point_estimate_does_not_decide():
    # the point equals the paper's value, but the interval (lopsided) excludes it: still a disagreement
    assert value_verdict(1.0, est(1.0, 1.1, 1.5)) == DISAGREES
    # the point has the paper's sign, but the interval straddles 0: inconclusive
    assert direction_verdict(+1, est(0.4, -0.1, 0.9)) == INCONCLUSIVE


@pytest.mark.parametrize("sign, ours, verdict", [(+1, est(0.5, 0.1, 0.9), AGREES), (+1, est(-0.5, -0.9, -0.1), DISAGREES),
                                                 (-1, est(-0.5, -0.9, -0.1), AGREES), (-1, est(0.0, -0.1, 0.1), INCONCLUSIVE)])
def test_a_reported_direction_needs_the_whole_interval(sign, ours, verdict):
    assert direction_verdict(sign, ours) == verdict


def test_direction_must_be_a_sign():
    with pytest.raises(ValueError, match="sign"):
        direction_verdict(0, est(1, 0.5, 2))


def test_bootstrap_interval_covers_the_mean_of_a_known_sample():
    v = np.random.default_rng(0).normal(3.0, 1.0, 200)
    e = bootstrap(v, np.mean, unit="seeds", n_resamples=500)
    assert e.low < v.mean() < e.high and e.low < 3.0 < e.high and e.high - e.low < 0.5
    assert e.n == 200 and e.unit == "seeds"


def test_bootstrap_of_too_few_units_gives_no_interval():
    e = bootstrap([1.0, 2.0], np.mean, unit="seeds")
    assert not e.has_interval and value_verdict(1.5, e) == INCONCLUSIVE
    assert "no interval" in e.text()


def test_interval_from_samples_and_the_row_it_makes():
    e = interval(np.linspace(0, 1, 1001), 0.5, "models", 24)
    assert e.low == pytest.approx(0.025) and e.high == pytest.approx(0.975)
    row = claim_row("x", "0.30", e, value_verdict(0.3, e), "Table 4")
    assert row["ours [95 % CI]"] == "0.50 [0.03, 0.97]" and row["verdict"] == AGREES and row["resampled"] == "24 models"
    with pytest.raises(ValueError, match="verdict"):
        claim_row("x", "1", e, "yes")


def test_resample_covers_the_mean_of_paired_rows_and_needs_three_units():
    from sat_lib.claims.verdict import resample

    rng = np.random.default_rng(0)
    a, b = rng.normal(1.0, 1.0, 400), rng.normal(0.0, 1.0, 400)  # two arrays sharing one unit (images)
    e = resample(lambda i: float(a[i].mean() - b[i].mean()), 400, unit="images", n_resamples=500)
    assert e.unit == "images" and e.n == 400 and e.has_interval
    assert e.low < 1.0 < e.high and e.high - e.low < 0.5
    assert e.value == pytest.approx(a.mean() - b.mean())
    assert not resample(lambda i: float(a[i].mean()), 2, unit="images").has_interval


def test_claim_rows_name_the_paper_claim_they_speak_for():
    row = claim_row("mean SAT", "2.73", est(2.5, 2.4, 2.8), AGREES, "Table 4", key="mean_off_diagonal")
    assert row["key"] == "mean_off_diagonal" and row["verdict"] == AGREES


def test_claim_verdict_reads_the_kind_of_claim_from_its_entry():
    from sat_lib.claims.verdict import claim_verdict

    est = Estimate(0.5, 0.2, 0.8, "seeds", 3)
    assert claim_verdict({"sign": 1}, est) == "agrees"
    assert claim_verdict({"sign": -1}, est) == "disagrees"
    assert claim_verdict({"band": [-1, 1]}, est) == "agrees"
    assert claim_verdict({"within": [0.6, 1]}, est) == "inconclusive"
    assert claim_verdict({"value": 0.9}, est) == "disagrees"
    with pytest.raises(ValueError, match="no 'sign', 'band' or 'value'"):
        claim_verdict({"statement": "x"}, est)
