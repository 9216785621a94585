"""The one verdict rule: decided by the interval against the claim's kind, never by the point estimate and never by
"the paper's value lies inside our interval"."""
import math

import numpy as np
import pytest

from sat_lib.claims.verdict import (AGREES, DISAGREES, INCONCLUSIVE, NO_VERDICT, NOT_TESTED, ClaimError, Estimate,
                                    Gate, bootstrap, check_claim, checks_table, claim_row, decide, direction_verdict,
                                    equivalence_band, interval, paper_interval, statement_verdict, statements)


def est(value, low, high, unit="models", n=10):
    return Estimate(value, low, high, unit, n)


CLOSE_TO_46 = {"kind": "equivalence", "value": 4.6, "margin": 0.05, "reason": "'close to 4.6'"}


@pytest.mark.parametrize("ours, verdict", [
    (est(4.600, 4.597, 4.602), AGREES),        # tight and inside the margin: agrees (it used to "disagree")
    (est(4.60, 4.50, 4.70), INCONCLUSIVE),     # wide: straddles the band's edges, whatever its point
    (est(4.70, 4.66, 4.74), DISAGREES),        # wholly outside paper ± margin
    (est(4.64, 4.62, 4.66), INCONCLUSIVE),     # straddles one edge (4.65)
    (est(4.6, math.nan, math.nan), INCONCLUSIVE),
])
def test_an_equivalence_is_decided_by_our_interval_inside_paper_plus_minus_margin(ours, verdict):
    assert decide(CLOSE_TO_46, ours) == verdict


def test_a_wide_interval_never_agrees_with_a_value():
    # -0.32 "agreed" with +0.08 [-0.39, 0.44] under the old rule because the interval was wide
    claim = {"kind": "equivalence", "value": -0.32, "margin": 0.1, "reason": "a correlation"}
    assert decide(claim, est(0.08, -0.39, 0.44)) == INCONCLUSIVE


def test_the_papers_own_uncertainty_widens_the_band():
    two_of_two = {"kind": "equivalence", "value": 1.0, "margin": 0.05, "reason": "2 of 2",
                  "paper_uncertainty": {"proportion": [2, 2]}}
    low, high = paper_interval(two_of_two)
    assert low == pytest.approx(0.158, abs=0.001) and high == 1.0
    assert decide(two_of_two, est(0.71, 0.54, 0.86)) == AGREES  # inside [0.108, 1.05]
    assert decide({**two_of_two, "paper_uncertainty": None}, est(0.71, 0.54, 0.86)) == DISAGREES
    r = {"kind": "equivalence", "value": 0.82, "margin": 0.1, "reason": "r", "paper_uncertainty": {"correlation_n": 69}}
    lo, hi = equivalence_band(r)
    assert lo < 0.72 and 0.92 < hi < 1.1
    assert paper_interval({"value": 3, "paper_uncertainty": {"interval": [2, 4]}}) == (2.0, 4.0)


@pytest.mark.parametrize("sign, ours, verdict", [(+1, est(0.5, 0.1, 0.9), AGREES), (+1, est(-0.5, -0.9, -0.1), DISAGREES),
                                                 (-1, est(-0.5, -0.9, -0.1), AGREES), (-1, est(0.0, -0.1, 0.1), INCONCLUSIVE)])
def test_a_direction_needs_the_whole_interval(sign, ours, verdict):
    assert direction_verdict(sign, ours) == verdict
    assert decide({"kind": "direction", "sign": sign}, ours) == verdict


def test_the_point_estimate_does_not_decide():
    assert decide({"kind": "direction", "sign": 1}, est(0.4, -0.1, 0.9)) == INCONCLUSIVE
    assert decide({"kind": "band", "band": [-0.05, 0.05], "reason": "barely"}, est(0.0, -0.06, 0.04)) == INCONCLUSIVE


@pytest.mark.parametrize("ours, verdict", [(est(0.0, -0.04, 0.04), AGREES), (est(0.2, 0.1, 0.3), DISAGREES),
                                           (est(0.05, 0.0, 0.1), INCONCLUSIVE)])
def test_a_band_the_paper_says_a_quantity_stays_in(ours, verdict):
    assert decide({"kind": "band", "band": [-0.05, 0.05], "reason": "'barely changes'"}, ours) == verdict


def test_context_is_shown_never_judged():
    claim = {"kind": "context", "value": 4.23, "where": "Table 4"}
    row = claim_row("ResNet init", claim, est(4.32, 4.30, 4.34), key="resnet_levels")
    assert row["verdict"] == NO_VERDICT and row["kind"] == "context" and row["paper"] == "4.23"


def test_a_failed_gate_makes_the_claim_not_tested_and_an_uncomputed_one_does_not():
    claim = {"kind": "direction", "sign": 1}
    failed = Gate("every member above twice chance", False, "member 2: 11.6 %", claims=("gncl",))
    pending = Gate("attack converged", None, "needs 2x steps")
    assert decide(claim, est(0.5, 0.1, 0.9), [failed], key="gncl") == f"{NOT_TESTED} (gate: every member above twice chance)"
    assert decide(claim, est(0.5, 0.1, 0.9), [failed], key="other") == AGREES  # the gate names other claims
    assert decide(claim, est(0.5, 0.1, 0.9), [pending], key="gncl") == AGREES
    row = claim_row("x", claim, est(0.5, 0.1, 0.9), key="gncl", gates=[failed, pending])
    assert row["verdict"].startswith(NOT_TESTED) and "failed" in row["gate"] and "not computed" in row["gate"]
    table = checks_table([failed, pending])
    assert list(table["status"]) == ["failed", "not computed"] and table["gates"].iloc[1] == "every claim"


@pytest.mark.parametrize("verdicts, grouped", [
    ([AGREES, AGREES, AGREES], AGREES),
    ([AGREES, INCONCLUSIVE, AGREES], INCONCLUSIVE),
    ([AGREES, DISAGREES, AGREES], DISAGREES),
    ([f"{NOT_TESTED} (gate: g)", AGREES], AGREES),
    ([f"{NOT_TESTED} (gate: g)"], NOT_TESTED),
    ([NO_VERDICT], NO_VERDICT),
])
def test_rows_that_test_one_statement_give_one_verdict(verdicts, grouped):
    assert statement_verdict(verdicts) == grouped


def test_statements_count_statements_not_rows():
    claim = {"kind": "direction", "sign": 1}
    rows = [claim_row(f"N = {n}", claim, est(0.1, 0.05, 0.2), key="sizes") for n in range(2, 7)]
    rows.append(claim_row("other", {**claim, "source": "project"}, est(-0.1, -0.2, -0.05), key="lm"))
    import pandas as pd

    s = statements(pd.DataFrame(rows))
    assert list(s["key"]) == ["sizes", "lm"] and list(s["rows"]) == [5, 1]
    assert list(s["verdict"]) == [AGREES, DISAGREES] and list(s["source"]) == ["paper", "project"]


@pytest.mark.parametrize("claim, match", [
    ({"value": 1}, "kind"),
    ({"kind": "equivalence", "value": 1, "margin": 0.1}, "reason"),
    ({"kind": "equivalence", "value": 1, "margin": 0, "reason": "r"}, "margin"),
    ({"kind": "direction", "sign": 0}, "sign"),
    ({"kind": "band", "band": [1, 0], "reason": "r"}, "empty"),
    ({"kind": "context"}, "context"),
    ({"kind": "direction", "sign": 1, "source": "us"}, "source"),
])
def test_a_claim_that_does_not_say_what_it_needs_is_named(claim, match):
    with pytest.raises(ClaimError, match=match):
        check_claim(claim, "x.yaml: c")


def test_every_claims_file_entry_declares_a_valid_kind():
    from sat_lib.claims import HERE, scored_claims

    for path in sorted(HERE.glob("*.yaml")):
        if path.stem == "inventory":
            continue
        for key, claim in scored_claims(path.stem).items():
            check_claim(claim, f"{path.name}: {key}")


def test_bootstrap_interval_covers_the_mean_of_a_known_sample():
    v = np.random.default_rng(0).normal(3.0, 1.0, 200)
    e = bootstrap(v, np.mean, unit="seeds", n_resamples=500)
    assert e.low < v.mean() < e.high and e.low < 3.0 < e.high and e.high - e.low < 0.5
    assert e.n == 200 and e.unit == "seeds"


def test_bootstrap_of_too_few_units_gives_no_interval():
    e = bootstrap([1.0, 2.0], np.mean, unit="seeds")
    assert not e.has_interval and decide(CLOSE_TO_46, e) == INCONCLUSIVE
    assert "no interval" in e.text()


def test_interval_from_samples_and_the_row_it_makes():
    e = interval(np.linspace(0, 1, 1001), 0.5, "models", 24)
    assert e.low == pytest.approx(0.025) and e.high == pytest.approx(0.975)
    row = claim_row("x", {"kind": "equivalence", "value": 0.3, "margin": 0.1, "reason": "r", "where": "Table 4"},
                    e, key="k")
    assert row["ours [95 % CI]"] == "0.50 [0.03, 0.97]" and row["verdict"] == INCONCLUSIVE
    assert row["resampled"] == "24 models" and row["paper source"] == "Table 4" and row["key"] == "k"


def test_resample_covers_the_mean_of_paired_rows_and_needs_three_units():
    from sat_lib.claims.verdict import resample

    rng = np.random.default_rng(0)
    a, b = rng.normal(1.0, 1.0, 400), rng.normal(0.0, 1.0, 400)  # two arrays sharing one unit (images)
    e = resample(lambda i: float(a[i].mean() - b[i].mean()), 400, unit="images", n_resamples=500)
    assert e.unit == "images" and e.n == 400 and e.has_interval
    assert e.low < 1.0 < e.high and e.high - e.low < 0.5
    assert e.value == pytest.approx(a.mean() - b.mean())
    assert not resample(lambda i: float(a[i].mean()), 2, unit="images").has_interval


def test_a_chapter_shows_the_papers_statements_then_the_projects_hypotheses_apart():
    import pandas as pd

    from sat_lib.claims.verdict import display

    claim = {"kind": "direction", "sign": 1}
    rows = [claim_row("lm", {**claim, "source": "project"}, est(0.1, 0.05, 0.2), key="lm"),
            claim_row("paper says", claim, est(0.1, 0.05, 0.2), key="p")]
    shown = display(pd.DataFrame(rows))
    assert list(shown.index) == [("the paper", "paper says"), ("this project (hypothesis)", "lm")]
    assert "verdict" in shown.columns and "source" not in shown.columns
