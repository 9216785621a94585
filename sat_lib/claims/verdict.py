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
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

AGREES, DISAGREES, INCONCLUSIVE = "agrees", "disagrees", "inconclusive"
LEVEL = 0.95


@dataclass(frozen=True)
class Estimate:
    """Our number with its ``LEVEL`` interval, the unit resampled and how many units there were."""

    value: float
    low: float
    high: float
    unit: str
    n: int

    @property
    def has_interval(self) -> bool:
        return math.isfinite(self.low) and math.isfinite(self.high)

    def text(self, fmt: str = ".2f") -> str:
        if not math.isfinite(self.value):
            return "—"
        if not self.has_interval:
            return f"{self.value:{fmt}} (no interval: {self.n} {self.unit})"
        return f"{self.value:{fmt}} [{self.low:{fmt}}, {self.high:{fmt}}]"


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


def interval(samples: Sequence[float], value: float, unit: str, n: int, level: float = LEVEL) -> Estimate:
    """Percentile interval of bootstrap ``samples`` (NaNs dropped) around the point estimate ``value``."""
    s = np.asarray(samples, dtype=float)
    s = s[np.isfinite(s)]
    if len(s) < 20:
        return Estimate(float(value), math.nan, math.nan, unit, n)
    lo, hi = np.percentile(s, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return Estimate(float(value), float(lo), float(hi), unit, n)


def bootstrap(values: Sequence[float], statistic: Callable[[np.ndarray], float] = np.mean, *, unit: str,
              n_resamples: int = 2000, seed: int = 0, level: float = LEVEL) -> Estimate:
    """``statistic`` of independent units (seeds, subsets, images) with a BCa bootstrap interval
    (``scipy.stats.bootstrap``); fewer than 3 finite units give no interval."""
    from scipy import stats

    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    point = float(statistic(v)) if len(v) else math.nan
    if len(v) < 3 or np.ptp(v) == 0:
        lo = hi = point if len(v) >= 3 else math.nan
        return Estimate(point, lo, hi, unit, len(v))
    res = stats.bootstrap((v,), statistic, n_resamples=n_resamples, confidence_level=level,
                          random_state=np.random.default_rng(seed), method="BCa", vectorized=False)
    lo, hi = res.confidence_interval
    if not (math.isfinite(lo) and math.isfinite(hi)):  # BCa degenerates on tiny samples: fall back to percentile
        res = stats.bootstrap((v,), statistic, n_resamples=n_resamples, confidence_level=level,
                              random_state=np.random.default_rng(seed), method="percentile", vectorized=False)
        lo, hi = res.confidence_interval
    return Estimate(point, float(lo), float(hi), unit, len(v))


def resample(statistic: Callable[[np.ndarray], float], n: int, *, unit: str, n_resamples: int = 1000,
             seed: int = 0, level: float = LEVEL) -> Estimate:
    """Percentile bootstrap of ``statistic(indices)`` over ``n`` units resampled with replacement: for statistics
    of several arrays that share one unit (images along one axis of every array, target models), which
    ``bootstrap`` of one 1-D sample cannot express. ``statistic(np.arange(n))`` is the point estimate."""
    rng = np.random.default_rng(seed)
    point = float(statistic(np.arange(n)))
    if n < 3:
        return Estimate(point, math.nan, math.nan, unit, n)
    samples = [statistic(rng.integers(0, n, n)) for _ in range(n_resamples)]
    return interval(samples, point, unit, n, level)


def claim_row(claim: str, paper: str, ours: Estimate, verdict: str, source: str = "", fmt: str = ".2f", *,
              key: str = "") -> dict:
    """One row of a claims table: the claim, the paper's statement, ours with its interval and unit, verdict.
    ``key`` names the paper claim the row speaks for (``sat_lib/claims/<chapter>.yaml``; the status page and
    ``sat_lib/claims/inventory.yaml`` refer to it); several rows may share one key."""
    if verdict not in (AGREES, DISAGREES, INCONCLUSIVE):
        raise ValueError(f"claim_row: unknown verdict {verdict!r}")
    return {"claim": claim, "key": key, "paper": paper, "ours [95 % CI]": ours.text(fmt),
            "resampled": f"{ours.n} {ours.unit}", "verdict": verdict, "paper source": source}
