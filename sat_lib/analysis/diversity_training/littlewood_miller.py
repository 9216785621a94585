"""The Littlewood–Miller model on the stored failures: the zoo's architecture families and the training
heuristics as design methodologies, intervals over images (the model itself: ``sat_lib.measures.theory``)."""
from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from sat_lib.analysis.diversity_training.selection import CLEAN, ensemble_of, methods
from sat_lib.measures.theory import LMStats
from sat_lib.stats import LEVEL, Estimate, bca_interval, index_draws, interval, replicates


def blocks_of(names: Sequence[str]) -> list[str]:
    """"method/seed#member" → "method/seed": the ensemble a member belongs to (zoo names are their own block)."""
    return [n.split("#")[0] for n in names]


def zoo_failures(ds: xr.Dataset) -> tuple[np.ndarray, list[str], list[str]]:
    """Failures of the corruptions chapter's zoo models on the same images: bool (models, sets, images), the
    model names and their architecture families (the design methodologies)."""
    fails = ds["zoo_pred"].values != ds["label"].values
    return fails, [str(m) for m in ds["model"].values], [str(f) for f in ds["family"].values]


def method_failures(ds: xr.Dataset) -> tuple[np.ndarray, list[str], list[str]]:
    """Failures of every member of every trained (not diverged) ensemble: bool (models, sets, images), names
    "method/seed#member", and the training heuristic of each (the design methodologies)."""
    rows, names, groups = [], [], []
    for m in methods(ds):
        e = ensemble_of(ds, m)
        for k, ens in enumerate(e["ensemble"].values):
            if e["diverged"].values[k]:
                continue
            for i in range(ds.sizes["member"]):
                pred = e["pred"].values[k, i]
                if (pred < 0).any():
                    continue
                rows.append(pred != ds["label"].values)
                names.append(f"{ens}#{i}")
                groups.append(m)
    return np.array(rows), names, groups


BCA_KEYS = ("prediction_gain",)  # a difference of mean absolute errors: see ``lm_estimates``


def one_blas_thread():
    """Small matrix products run fastest on one BLAS thread; several, on a busy machine, run up to 100× slower."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # a dependency of scikit-learn; without it, the BLAS's own default
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def lm_estimates(fails: np.ndarray, groups: Sequence[str], n_boot: int = 2000, seed: int = 0,
                 sets: Sequence[int] | None = None, blocks: Sequence[str] | None = None,
                 bca: Sequence[str] = BCA_KEYS) -> dict[str, Estimate]:
    """The ``LMStats`` quantities averaged over ``sets`` (default: all) of ``fails`` (models, sets, images),
    each with a 95 % interval over images (one draw shared by every set's images: they are the same images):
    percentile intervals, except BCa (``bca_interval``, the jackknife from leave-one-image-out Gram matrices) for
    the quantities in ``bca`` — by default the claims' ``prediction_gain``, a difference of mean *absolute*
    errors: sampling noise inflates each, the LM's (near the noise level) most, and the bootstrap's replicates
    more than the estimate, so a percentile interval sits beside the estimate. The mean absolute errors
    themselves are reported nowhere: where the noise dominates (the LM's) even BCa degenerates (the estimate lies
    below almost every replicate); ``lm_deviation`` measures that error beyond the noise."""
    lm = LMStats(groups, blocks)
    sets = list(range(fails.shape[1])) if sets is None else list(sets)
    vs = [lm.vectors(fails[:, s]) for s in sets]
    n = vs[0].shape[1]

    def mean_of(per: list[dict[str, float]]) -> dict[str, float]:
        return {k: float(np.mean([p[k] for p in per])) for k in per[0]}

    def stat(idx: np.ndarray | None) -> dict[str, float]:
        return mean_of([lm.stats(v if idx is None else v[:, idx]) for v in vs])

    with one_blas_thread():
        point = stat(None)
        boots = replicates(stat, n, n_boot, seed)
        out = {k: interval([b[k] for b in boots], point[k], "images", n) for k in point}
        keys = [k for k in bca if k in point and np.isfinite(point[k])]
        if keys and n > 2:
            grams = [v @ v.T for v in vs]  # unnormalised: leaving image x out subtracts v_x v_xᵀ
            jack = [mean_of([lm.from_gram((g - np.outer(v[:, x], v[:, x])) / (n - 1)) for g, v in zip(grams, vs)])
                    for x in range(n)]
            for k in keys:
                out[k] = bca_interval([b[k] for b in boots], point[k], [j[k] for j in jack], "images", n)
    return out


def lm_deviation(fails: np.ndarray, groups: Sequence[str], n_boot: int = 1000, seed: int = 0,
                 sets: Sequence[int] | None = None, blocks: Sequence[str] | None = None,
                 level: float = LEVEL) -> tuple[Estimate, float]:
    """How far single pairs of models stray from the LM prediction beyond what the finite test set explains: the
    root of the mean over pairs (and ``sets``) of (observed − LM)² − s²/n, s² the variance of the pair's
    per-image error (``LMStats.deviations``) — an unbiased estimate of the mean squared *expected* deviation, in
    pp; and the test-set noise √(mean s²/n) (pp) beside it.

    The interval: images resampled; a replicate of the unbiased estimator is centred on the plug-in mean (obs −
    LM)² of the sample rather than on the estimate, so the interval adds the replicates' deviations from that
    plug-in to the estimate (of the mean square), then takes roots, clipped at 0. (The mean over pairs of the
    *signed* error is ≈ 0 by construction — every pair's prediction averages other pairs of the same models; 0
    exactly when every model is its own block or the blocks are alike — and the mean |obs − LM| is biased upward
    by the noise, the bootstrap's replicates more still.)"""
    lm = LMStats(groups, blocks)
    sets = list(range(fails.shape[1])) if sets is None else list(sets)
    devs = [lm.deviations(fails[:, s]) for s in sets]
    n = fails.shape[-1]
    if not len(devs[0]) or n < 3:
        return Estimate(math.nan, math.nan, math.nan, "images", n), math.nan

    def moments(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per column of weights w (images, draws; columns sum to 1): mean over sets and pairs of d² and of s²/n."""
        d2, noise = 0.0, 0.0
        for dev in devs:
            d = (dev @ w).astype(float)
            s2 = (((dev * dev) @ w).astype(float) - d ** 2) * n / (n - 1)
            d2, noise = d2 + (d ** 2).mean(0), noise + (s2 / n).mean(0)
        return d2 / len(devs), noise / len(devs)

    with one_blas_thread():
        d2, noise = moments(np.full((n, 1), 1.0 / n, np.float32))
        point = float(d2[0] - noise[0])
        draws = index_draws([n], n_boot, seed)
        reps = []
        for lo in range(0, n_boot, 100):  # 100 replicates' image weights per product
            w = np.stack([np.bincount(next(draws)[0], minlength=n) for _ in range(min(100, n_boot - lo))], 1)
            bd2, bnoise = moments((w / n).astype(np.float32))
            reps.append(bd2 - bnoise)
    root = lambda x: 100 * math.sqrt(max(float(x), 0.0))  # noqa: E731
    noise_rms = 100 * math.sqrt(float(noise[0]))
    if n_boot < 20:
        return Estimate(root(point), math.nan, math.nan, "images", n), noise_rms
    err = np.concatenate(reps) - float(d2[0])
    lo, hi = np.percentile(point + err, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return Estimate(root(point), root(lo), root(hi), "images", n), noise_rms


def lm_table(ds: xr.Dataset, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """The Littlewood–Miller quantities per set for the zoo's architecture families and for the training
    heuristics, with 95 % intervals over images: how much more pairs of different methodologies fail together
    beyond independence than pairs of one, the covariance of different methodologies' θ, how much independence
    under-predicts each pair's coincident failures on average (observed − E[θ'_A] E[θ'_B], mean over held-out
    pairs), and how far single pairs stray from the LM prediction beyond test-set noise (``lm_deviation``, with
    the noise beside it). The LM prediction's mean signed error is ≈ 0 by construction and its mean absolute error
    is mostly noise (biased upward; a percentile interval of it can miss its own estimate), so neither is shown."""
    rows = []
    for label, (fails, names, groups) in (("architecture families (zoo)", zoo_failures(ds)),
                                          ("training heuristics (members)", method_failures(ds))):
        if len(set(groups)) < 2:
            continue
        for j, s in enumerate(ds["set"].values):
            est = lm_estimates(fails, groups, n_boot, seed, sets=[j], blocks=blocks_of(names), bca=())
            dev, noise = lm_deviation(fails, groups, n_boot, seed, sets=[j], blocks=blocks_of(names))
            rows.append({"methodologies": label, "set": str(s),
                         "excess, different − same (pp)": est["excess_gap"].text(".2f"),
                         "Cov(θ_A, θ_B) between": est["cov_between"].text(".3f"),
                         "obs − independence, mean over pairs (pp)": est["independence_bias"].text(".2f"),
                         "obs − LM beyond test-set noise, RMS over pairs (pp)": dev.text(".2f"),
                         "test-set noise, RMS (pp)": round(noise, 2)})
    return pd.DataFrame(rows).set_index(["methodologies", "set"])


def methodologies(ds: xr.Dataset) -> list[tuple[np.ndarray, list[str], str]]:
    """(failures (models, sets, images), design group of each model, kind) of the zoo's architecture families
    ("family") and of the training heuristics' members ("heuristic")."""
    (zf, _, zg), (mf, _, mg) = zoo_failures(ds), method_failures(ds)
    return [(zf, zg, "family"), (mf, mg, "heuristic")]


def _difficulties(groups_of: list[tuple[np.ndarray, list[str], str]], j: int) -> pd.DataFrame:
    from sat_lib.measures.theory import difficulty_functions

    cols = {}
    for fails, groups, _ in groups_of:
        for g in dict.fromkeys(groups):
            sel = np.array([x == g for x in groups])
            cols[g] = difficulty_functions(fails[sel, j]).numpy()
    return pd.DataFrame(cols)


def difficulty_frame(ds: xr.Dataset, set_name: str = CLEAN) -> pd.DataFrame:
    """θ(x) of every methodology on one set (columns: families, then heuristics), one row per image."""
    th = _difficulties(methodologies(ds), list(ds["set"].values).index(set_name))
    return th.set_index(pd.Index(ds["image"].values, name="image"))


def coincidence_frame(ds: xr.Dataset) -> pd.DataFrame:
    """Every pair of methodologies (A, B, A ≠ B and A = B) on every set: P(both fail) = E[θ_A θ_B], its
    independence part E[θ_A] E[θ_B] and Cov(θ_A, θ_B) (``sat_lib.measures.theory.coincident_failure``)."""
    import torch

    from sat_lib.measures.theory import coincident_failure

    groups_of = methodologies(ds)  # the failures once, for every set
    kinds = {g: kind for _, groups, kind in groups_of for g in groups}
    rows = []
    for j, s in enumerate(ds["set"].values):
        th = _difficulties(groups_of, j)
        for a, b in [(a, b) for a in th.columns for b in th.columns if a <= b and kinds[a] == kinds[b]]:
            c = coincident_failure(torch.tensor(th[a].to_numpy()), torch.tensor(th[b].to_numpy()))
            rows.append({"set": str(s), "kind": kinds[a], "A": a, "B": b, "same": a == b,
                         "p_both": c.p_both, "independent": c.independent, "covariance": c.covariance})
    return pd.DataFrame(rows)


def lm_point(ds: xr.Dataset, kind: str, j: int) -> dict[str, float]:
    """The ``LMStats`` quantities of one kind of methodology ("family": the zoo's; "heuristic": the trained
    members) on set ``j``, on every image (no interval)."""
    fails, names, groups = zoo_failures(ds) if kind == "family" else method_failures(ds)
    lm = LMStats(groups, None if kind == "family" else blocks_of(names))
    with one_blas_thread():
        return lm.stats(lm.vectors(fails[:, j]))
