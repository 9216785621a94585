"""Resampling and intervals: the one home of every bootstrap the chapters use.

An interval names the *unit* that was resampled (models, pairs' models, seeds, images, subsets, teachers), so a
reader sees what it covers; ``Estimate`` holds the number, its ``LEVEL`` interval, the unit and how many units
there were. ``sat_lib.claims.verdict`` decides verdicts from Estimates.

The resampling schemes, each a fixed sequence of draws from ``np.random.default_rng(seed)`` (a seeded scheme gives
the same numbers wherever it is used; the schemes draw differently, so one is not a drop-in for another):

- ``index_draws`` — the primitive: per replicate, one index draw ``rng.integers(0, n, n)`` per unit, in the order
  the sizes are given. ``resample`` (one unit), ``replicates`` (the raw replicates of one unit),
  ``independent_resamples`` (several samples resampled independently, e.g. the two sides of a difference) and
  ``seeds_images`` (two crossed units) are built on it.
- ``pair_resamples`` / ``pairs_bootstrap`` — statistics of *pairs* of models: the models are drawn and the pairs
  of two different drawn models kept (pairs share models, so models are the unit).
- ``batched_spearman_estimate`` — all replicates' indices drawn at once (``rng.integers(0, n, (n_boot, n))``) and
  ranked together: fast for Spearman's ρ over many rows; its draws differ from ``resample``'s.
- ``bootstrap`` — a 1-D sample of independent units with scipy's BCa interval; ``bca_interval`` the same interval
  from replicates and a jackknife computed elsewhere (in closed form).

Correlations: ``correlation`` (Pearson, or Spearman as Pearson of ranks), ``correlation_p``,
``partial_correlation``; with intervals over resampled rows: ``correlation_estimate``,
``partial_correlation_estimate``.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

LEVEL = 0.95
SEEDS_IMAGES = "seeds × images"


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


def no_interval(value: float, unit: str, n: int) -> Estimate:
    """An estimate without an interval (too few units to resample)."""
    return Estimate(float(value), math.nan, math.nan, unit, n)


# ------------------------------------------------------------------------------------------------ intervals

def interval(samples: Sequence[float], value: float, unit: str, n: int, level: float = LEVEL) -> Estimate:
    """Percentile interval of bootstrap ``samples`` (NaNs dropped) around the point estimate ``value``; fewer than
    20 finite samples give no interval."""
    s = np.asarray(samples, dtype=float)
    s = s[np.isfinite(s)]
    if len(s) < 20:
        return Estimate(float(value), math.nan, math.nan, unit, n)
    lo, hi = np.percentile(s, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return Estimate(float(value), float(lo), float(hi), unit, n)


def bca_interval(samples: Sequence[float], value: float, jackknife: Sequence[float], unit: str, n: int,
                 level: float = LEVEL) -> Estimate:
    """Bias-corrected and accelerated (BCa) interval from bootstrap ``samples`` and the ``jackknife`` (leave one
    unit out) values of the statistic — the interval ``scipy.stats.bootstrap(method="BCa")`` computes, for a
    statistic whose jackknife is cheaper to get in closed form than by calling it once per unit."""
    from scipy.special import ndtr, ndtri

    s = np.asarray(samples, dtype=float)
    s = s[np.isfinite(s)]
    jack = np.asarray(jackknife, dtype=float)
    if len(s) < 20 or not np.isfinite(value) or not np.isfinite(jack).all():
        return Estimate(float(value), math.nan, math.nan, unit, n)
    below = ((s < value).sum() + (s <= value).sum()) / (2 * len(s))  # scipy's percentile of the estimate
    z0 = ndtri(np.clip(below, 0.5 / len(s), 1 - 0.5 / len(s)))
    d = jack.mean() - jack
    a = float((d ** 3).sum() / (6 * (d ** 2).sum() ** 1.5)) if (d ** 2).sum() > 0 else 0.0
    z = ndtri(np.array([(1 - level) / 2, (1 + level) / 2]))
    alpha = ndtr(z0 + (z0 + z) / (1 - a * (z0 + z)))
    lo, hi = np.percentile(s, 100 * alpha)
    return Estimate(float(value), float(lo), float(hi), unit, n)


# ------------------------------------------------------------------------------------- one or more units

def index_draws(sizes: Sequence[int], n_boot: int, seed: int | np.random.Generator = 0) -> Iterator[list[np.ndarray]]:
    """Per replicate, one resample with replacement of each unit: ``[rng.integers(0, n, n) for n in sizes]``.

    ``seed`` may be a ``Generator`` to continue one stream over several estimates (the draws then depend on what
    was drawn before); an int starts a fresh stream. Consume the replicates in order."""
    rng = np.random.default_rng(seed)
    for _ in range(n_boot):
        yield [rng.integers(0, n, n) for n in sizes]


def replicates(statistic: Callable[[np.ndarray], object], n: int, n_boot: int,
               seed: int | np.random.Generator = 0) -> list:
    """``statistic(indices)`` on ``n_boot`` resamples of ``n`` units (``index_draws``): the raw replicates, for
    statistics that return several numbers or intervals built elsewhere."""
    return [statistic(idx) for idx, in index_draws([n], n_boot, seed)]


def resample(statistic: Callable[[np.ndarray], float], n: int, *, unit: str, n_resamples: int = 1000,
             seed: int = 0, level: float = LEVEL) -> Estimate:
    """Percentile bootstrap of ``statistic(indices)`` over ``n`` units resampled with replacement: for statistics
    of several arrays that share one unit (images along one axis of every array, target models), which
    ``bootstrap`` of one 1-D sample cannot express. ``statistic(np.arange(n))`` is the point estimate; fewer than
    3 units give no interval."""
    rng = np.random.default_rng(seed)
    point = float(statistic(np.arange(n)))
    if n < 3:
        return Estimate(point, math.nan, math.nan, unit, n)
    samples = replicates(statistic, n, n_resamples, rng)
    return interval(samples, point, unit, n, level)


def independent_resamples(samples: Sequence[np.ndarray], n_boot: int,
                          seed: int | np.random.Generator = 0) -> Iterator[list[np.ndarray]]:
    """Per replicate, each of ``samples`` (1-D) resampled with replacement on its own, in the order given: the
    scheme for a difference of two (or more) independent groups — two sets of random subsets, two groups of
    ensembles, the seeds of two methods."""
    samples = [np.asarray(a) for a in samples]
    for draw in index_draws([len(a) for a in samples], n_boot, seed):
        yield [a[i] for a, i in zip(samples, draw)]


def difference_estimate(a: np.ndarray, b: np.ndarray, statistic: Callable[[np.ndarray], float] = np.mean, *,
                        unit: str, n_boot: int = 2000, seed: int = 0, scale: float = 1.0,
                        min_each: int = 1) -> Estimate:
    """``scale · (statistic(a) − statistic(b))`` with a percentile interval from independent resamples of ``a``
    and ``b`` (``independent_resamples``); no interval when either has fewer than ``min_each`` values."""
    a, b = np.asarray(a), np.asarray(b)
    boot = [statistic(ra) - statistic(rb) for ra, rb in independent_resamples([a, b], n_boot, seed)]
    if len(a) < min_each or len(b) < min_each:
        boot = []
    return interval(scale * np.array(boot), scale * (statistic(a) - statistic(b)), unit, len(a) + len(b))


def seeds_images(arrays: Sequence[np.ndarray], stat: Callable[[list[np.ndarray]], float], n_boot: int = 2000,
                 seed: int = 0, groups: Sequence[Hashable] | None = None, unit: str = SEEDS_IMAGES) -> Estimate:
    """Two crossed units: ``stat`` of per-seed arrays (seeds first, images last) with a 95 % percentile interval:
    each replicate draws one set of images (shared by every array: paired) and the seeds of every *group* of
    arrays, with replacement (``index_draws`` over [images, each group's seeds]).

    ``groups`` names the ensembles each array belongs to (default: every array its own): arrays of one group — e.g.
    the equitability and the correctness of the same ensembles — share their seed draw, so a replicate keeps each
    ensemble's quantities together, and they count once in the number of units resampled (the ensembles).
    ``unit`` names the two units in the interval (e.g. "architectures × images" where the arrays' first axis
    holds models rather than seeds)."""
    arrays = [np.asarray(a, dtype=float) for a in arrays]
    n = arrays[0].shape[-1]
    if any(a.shape[-1] != n for a in arrays):
        raise ValueError("seeds_images: the arrays differ in their number of images")
    groups = list(range(len(arrays))) if groups is None else list(groups)
    if len(groups) != len(arrays):
        raise ValueError(f"seeds_images: {len(groups)} groups for {len(arrays)} arrays")
    seeds: dict[Hashable, int] = {}
    for g, a in zip(groups, arrays):
        if seeds.setdefault(g, len(a)) != len(a):
            raise ValueError(f"seeds_images: the arrays of group {g!r} differ in their number of seeds")
    point = float(stat(arrays))
    samples = []
    for img, *draws in index_draws([n, *seeds.values()], n_boot, seed):
        draw = dict(zip(seeds, draws))
        samples.append(stat([a[draw[g]][..., img] for g, a in zip(groups, arrays)]))
    units = sum(seeds.values())  # ensembles, each once however many of its arrays the statistic reads
    return interval(samples, point, unit, units) if n_boot >= 20 else Estimate(point, math.nan, math.nan, unit, units)


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


# --------------------------------------------------------------------------------------- pairs of models

def pair_resamples(i, j, n_models: int, n_boot: int, seed: int, ordered: bool = False) -> Iterator[list[int]]:
    """Bootstrap resamples of the *models* (pairs share models, so models are the unit), as row indices of the
    pairs (``i`` < ``j``, the two models of each row; with ``ordered``, rows (i, j) and (j, i) are different
    pairs): each resample draws ``n_models`` models with replacement and keeps the pairs of two different drawn
    models, once per drawn couple (and order). Yields one list per resample."""
    lookup = {(a, b): k for k, (a, b) in enumerate(zip(i, j))}
    for draw, in index_draws([n_models], n_boot, seed):
        if ordered:
            yield [lookup[(p, q)] for x, p in enumerate(draw) for y, q in enumerate(draw) if x != y and p != q]
        else:
            yield [lookup[(min(p, q), max(p, q))] for x, p in enumerate(draw) for q in draw[x + 1:] if p != q]


def pairs_bootstrap(pairs, n_models: int, stat, n_boot: int = 2000, seed: int = 0,
                    ordered: bool = False) -> np.ndarray:
    """``stat(rows of pairs)`` on bootstrap resamples of the models (``pair_resamples``); ``pairs`` is a
    DataFrame with integer columns ``i`` and ``j`` naming the two models (``i`` < ``j`` unless ``ordered``);
    NaN for a resample that keeps fewer than 3 pairs."""
    out = np.full(n_boot, np.nan)
    for b, rows in enumerate(pair_resamples(pairs["i"], pairs["j"], n_models, n_boot, seed, ordered)):
        if len(rows) > 2:
            out[b] = stat(pairs.iloc[rows])
    return out


# ------------------------------------------------------------------------------------------- correlations

def correlation(x, y, kind: str = "pearson") -> float:
    """Pearson (or Spearman: Pearson of average ranks) r over the positions where both ``x`` and ``y`` are
    finite; NaN with fewer than 3 such positions or a constant side. Plain numpy, the numbers scipy's
    ``pearsonr`` / ``spearmanr`` give (tested): bootstrap intervals take hundreds of thousands of these, and
    scipy's per-call overhead dominated them."""
    from scipy.stats import rankdata

    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
        return np.nan
    x, y = x[ok], y[ok]
    if kind == "spearman":
        x, y = rankdata(x), rankdata(y)
    x, y = x - x.mean(), y - y.mean()
    return float(np.clip((x @ y) / np.sqrt((x @ x) * (y @ y)), -1.0, 1.0))


def correlation_p(x, y) -> float:
    """scipy's p-value of Pearson's r over the finite positions (rows as independent draws); NaN where
    ``correlation`` is."""
    from scipy.stats import pearsonr

    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    return float(pearsonr(x[ok], y[ok]).pvalue) if np.isfinite(correlation(x, y)) else np.nan


def partial_correlation(x, y, given) -> float:
    """Pearson r of ``x`` and ``y`` after a linear fit on ``given`` (with an intercept) is removed from both."""
    z = np.column_stack([np.ones(len(x)), np.asarray(given, float)])
    res = lambda v: v - z @ np.linalg.lstsq(z, v, rcond=None)[0]  # noqa: E731
    return correlation(res(np.asarray(x, float)), res(np.asarray(y, float)))


def correlation_estimate(x, y, kind: str = "pearson", *, unit: str, n_boot: int = 2000, seed: int = 0) -> Estimate:
    """``correlation(x, y, kind)`` with a percentile interval from resampling the rows (``resample``)."""
    a, b = np.asarray(x, float), np.asarray(y, float)
    return resample(lambda idx: correlation(a[idx], b[idx], kind), len(a), unit=unit, n_resamples=n_boot, seed=seed)


def partial_correlation_estimate(x, y, given, *, unit: str, n_boot: int = 2000, seed: int = 0) -> Estimate:
    """``partial_correlation(x, y, given)`` with a percentile interval from resampling the rows (``resample``)."""
    a, b, c = (np.asarray(v, float) for v in (x, y, given))
    return resample(lambda idx: partial_correlation(a[idx], b[idx], c[idx]), len(a), unit=unit,
                    n_resamples=n_boot, seed=seed)


def batched_spearman_estimate(x, y, n_boot: int, unit: str, seed: int = 0) -> Estimate:
    """Spearman ρ(x, y) with a percentile interval over the (x, y) rows, every replicate's indices drawn at once
    (``rng.integers(0, n, (n_boot, n))``) and ranked together — much faster than ``correlation_estimate`` for many
    replicates, with draws of its own (its numbers are not ``correlation_estimate``'s). A replicate of one repeated
    row has no ranking (NaN, dropped)."""
    from scipy import stats

    x, y = np.asarray(x), np.asarray(y)
    n = len(x)
    idx = np.random.default_rng(seed).integers(0, n, (n_boot, n))
    rx, ry = stats.rankdata(x[idx], axis=1), stats.rankdata(y[idx], axis=1)
    rx, ry = rx - rx.mean(1, keepdims=True), ry - ry.mean(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        boot = (rx * ry).sum(1) / np.sqrt((rx ** 2).sum(1) * (ry ** 2).sum(1))
    return interval(boot, float(stats.spearmanr(x, y).statistic), unit, n)


__all__ = ["LEVEL", "SEEDS_IMAGES", "Estimate", "no_interval", "interval", "bca_interval", "index_draws",
           "replicates", "resample", "independent_resamples", "difference_estimate", "seeds_images", "bootstrap",
           "pair_resamples", "pairs_bootstrap", "correlation", "correlation_p", "partial_correlation",
           "correlation_estimate", "partial_correlation_estimate", "batched_spearman_estimate"]
