"""One rule for every claims table: a paper's claim, our estimate with a 95 % interval, and a verdict decided
by the interval — never by the point estimate.

Three kinds of claim:

- a **value** the paper reports (e.g. SAT 2.73 between different architectures): *agrees* when the paper's
  value lies inside our interval, *disagrees* when it lies outside;
- a **direction** the paper reports (e.g. "within a family SAT is higher than between families", a sign
  ``+1`` or ``-1`` of a difference or a correlation): *agrees* when the whole interval has the paper's sign,
  *disagrees* when the whole interval has the other sign, *inconclusive* when it contains 0.

- a **band** the paper says a quantity stays inside (e.g. "barely changes": a difference within ±0.05):
  *agrees* when the whole interval lies inside the band, *disagrees* when it lies wholly outside, *inconclusive*
  when it straddles an edge.

An estimate without an interval (too few units to resample) is *inconclusive*. Each estimate names the unit
that was resampled (models, pairs, seeds, images, subsets), so a reader sees what the interval covers.
"""
from __future__ import annotations

import math

# the estimates a verdict is decided from, and the resampling that gives their intervals (sat_lib.stats)
from sat_lib.stats import LEVEL, Estimate, bootstrap, interval, resample  # noqa: F401

AGREES, DISAGREES, INCONCLUSIVE = "agrees", "disagrees", "inconclusive"


def value_verdict(paper: float, ours: Estimate) -> str:
    """*agrees* when the paper's value lies in our interval, *disagrees* when outside."""
    if not ours.has_interval or not math.isfinite(paper):
        return INCONCLUSIVE
    return AGREES if ours.low <= paper <= ours.high else DISAGREES


def direction_verdict(sign: int, ours: Estimate) -> str:
    """``sign`` is the paper's direction (+1: positive, -1: negative) of a difference or correlation."""
    if sign not in (1, -1):
        raise ValueError(f"direction_verdict: sign must be +1 or -1, got {sign!r}")
    if not ours.has_interval:
        return INCONCLUSIVE
    if ours.low > 0 or ours.high < 0:
        return AGREES if (ours.low > 0) == (sign > 0) else DISAGREES
    return INCONCLUSIVE


def band_verdict(low: float, high: float, ours: Estimate) -> str:
    """The paper says the quantity stays in [``low``, ``high``]: *agrees* when our whole interval is inside,
    *disagrees* when it is wholly outside, *inconclusive* otherwise."""
    if not low <= high:
        raise ValueError(f"band_verdict: the band [{low}, {high}] is empty")
    if not ours.has_interval:
        return INCONCLUSIVE
    if low <= ours.low and ours.high <= high:
        return AGREES
    if ours.high < low or ours.low > high:
        return DISAGREES
    return INCONCLUSIVE


def claim_verdict(claim: dict, ours: Estimate) -> str:
    """The verdict for one entry of a claims file (``sat_lib/claims/<chapter>.yaml``): a ``sign`` is a direction,
    a ``band`` (or ``within``) a band, a ``value`` a value."""
    if "sign" in claim:
        return direction_verdict(claim["sign"], ours)
    band = claim.get("band", claim.get("within"))
    if band is not None:
        return band_verdict(*band, ours)
    if "value" in claim:
        return value_verdict(claim["value"], ours)
    raise ValueError(f"claim_verdict: the claim has no 'sign', 'band' or 'value': {sorted(claim)}")


def decisive_format(paper: float, ours: Estimate, digits: int = 2, most: int = 4) -> str:
    """The fixed-point format with the fewest decimals (at least ``digits``, at most ``most``) at which neither end
    of ``ours``'s interval prints as the paper's value, so a reader sees on which side of each end the paper's
    value lies — the side a value verdict is decided by (``0.856 [0.823, 0.875]`` against 0.82, where two
    decimals would print ``0.86 [0.82, 0.87]`` and hide why it disagrees)."""
    if not ours.has_interval or not math.isfinite(paper):
        return f".{digits}f"
    for d in range(digits, most + 1):
        p = f"{paper:.{d}f}"
        if f"{ours.low:.{d}f}" != p and f"{ours.high:.{d}f}" != p:
            return f".{d}f"
    return f".{most}f"


def claim_row(claim: str, paper: str, ours: Estimate, verdict: str, source: str = "", fmt: str = ".2f", *,
              key: str = "") -> dict:
    """One row of a claims table: the claim, the paper's statement, ours with its interval and unit, verdict.
    ``key`` names the paper claim the row speaks for (``sat_lib/claims/<chapter>.yaml``; the status page and
    ``sat_lib/claims/inventory.yaml`` refer to it); several rows may share one key."""
    if verdict not in (AGREES, DISAGREES, INCONCLUSIVE):
        raise ValueError(f"claim_row: unknown verdict {verdict!r}")
    return {"claim": claim, "key": key, "paper": paper, "ours [95 % CI]": ours.text(fmt),
            "resampled": f"{ours.n} {ours.unit}", "verdict": verdict, "paper source": source}
