"""sat_lib.stats: every resampling scheme draws what the code it replaced drew (bit for bit), the intervals and
correlations match scipy, and the Littlewood–Miller model gives the same numbers by both of its paths."""
import math
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats as sps

from sat_lib import stats as S
from sat_lib.measures.theory import LMStats, coincident_failure, difficulty_functions


# ------------------------------------------------------------------------- the schemes draw as before

def test_resample_draws_one_index_vector_per_replicate():
    x = np.random.default_rng(1).normal(size=30)
    rng = np.random.default_rng(7)
    expected = [x[rng.integers(0, 30, 30)].mean() for _ in range(200)]
    est = S.resample(lambda i: x[i].mean(), 30, unit="images", n_resamples=200, seed=7)
    assert est == S.interval(expected, x.mean(), "images", 30)
    assert S.replicates(lambda i: x[i].mean(), 30, 200, 7) == expected


def test_a_shared_generator_continues_its_stream():
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    first = S.replicates(lambda i: i.sum(), 10, 5, rng_a)
    second = S.replicates(lambda i: i.sum(), 10, 5, rng_a)
    assert first + second == [rng_b.integers(0, 10, 10).sum() for _ in range(10)]


def test_independent_resamples_draw_each_sample_in_turn_as_rng_choice():
    a, b = np.arange(7.0), np.arange(3.0) + 10
    rng = np.random.default_rng(5)
    for ra, rb in S.independent_resamples([a, b], 50, 5):
        assert (ra == rng.choice(a, len(a))).all() and (rb == rng.choice(b, len(b))).all()


def test_difference_estimate_matches_the_two_sample_bootstrap_it_replaced():
    a, b = np.random.default_rng(0).normal(1, 1, 12), np.random.default_rng(1).normal(0, 1, 9)
    rng = np.random.default_rng(4)
    boot = [rng.choice(a, len(a)).mean() - rng.choice(b, len(b)).mean() for _ in range(300)]
    old = S.interval(100 * np.array(boot), 100 * (a.mean() - b.mean()), "ensembles", 21)
    assert S.difference_estimate(a, b, np.mean, unit="ensembles", n_boot=300, seed=4, scale=100) == old
    few = S.difference_estimate(a[:2], b, np.mean, unit="ensembles", n_boot=300, seed=4, min_each=3)
    assert not few.has_interval


def test_seeds_images_draws_images_then_each_groups_seeds():
    rng0 = np.random.default_rng(2)
    a, b = rng0.random((3, 40)), rng0.random((4, 40))
    stat = lambda x: float(x[0].mean() - x[1].mean())  # noqa: E731
    rng = np.random.default_rng(9)
    samples = []
    for _ in range(100):
        img = rng.integers(0, 40, 40)
        sa, sb = rng.integers(0, 3, 3), rng.integers(0, 4, 4)
        samples.append(stat([a[sa][..., img], b[sb][..., img]]))
    est = S.seeds_images([a, b], stat, n_boot=100, seed=9)
    assert est == S.interval(samples, stat([a, b]), S.SEEDS_IMAGES, 7)
    with pytest.raises(ValueError, match="number of images"):
        S.seeds_images([a, b[:, :10]], stat)


def test_pair_resamples_keep_the_pairs_of_two_different_drawn_models():
    i, j = np.triu_indices(5, k=1)
    rng = np.random.default_rng(0)
    for rows in S.pair_resamples(i, j, 5, 20, 0):
        draw = rng.integers(0, 5, 5)
        want = [(min(p, q), max(p, q)) for x, p in enumerate(draw) for q in draw[x + 1:] if p != q]
        assert [(i[r], j[r]) for r in rows] == want
    pairs = pd.DataFrame({"i": i, "j": j, "v": np.arange(len(i), dtype=float)})
    boot = S.pairs_bootstrap(pairs, 5, lambda p: float(p["v"].mean()), n_boot=20, seed=0)
    assert boot.shape == (20,) and np.isfinite(boot).any()


def test_batched_spearman_estimate_recovers_a_negative_relation_and_draws_all_at_once():
    rng = np.random.default_rng(3)
    x = rng.random(40)
    y = -x + 0.1 * rng.standard_normal(40)
    est = S.batched_spearman_estimate(x, y, 500, "models")
    assert est.high < 0 and est.value < -0.8
    idx = np.random.default_rng(0).integers(0, 40, (500, 40))
    boot = [sps.spearmanr(x[k], y[k]).statistic for k in idx]
    assert np.allclose([est.low, est.high], np.percentile(boot, [2.5, 97.5]), atol=1e-12)


# ----------------------------------------------------------------------------- intervals, correlations

def test_bca_interval_matches_scipy():
    x = np.random.default_rng(0).exponential(size=40)
    res = sps.bootstrap((x,), np.var, n_resamples=2000, method="BCa", random_state=np.random.default_rng(1),
                        vectorized=False)
    rng = np.random.default_rng(1)
    boots = [np.var(x[rng.integers(0, 40, 40)]) for _ in range(2000)]
    jack = [np.var(np.delete(x, k)) for k in range(40)]
    ours = S.bca_interval(boots, float(np.var(x)), jack, "values", 40)
    assert ours.low == pytest.approx(res.confidence_interval.low, rel=0.05)
    assert ours.high == pytest.approx(res.confidence_interval.high, rel=0.05)


@pytest.mark.parametrize("kind", ["pearson", "spearman"])
def test_correlation_is_scipys(kind):
    rng = np.random.default_rng(4)
    x, y = rng.random(30), rng.random(30)
    ref = sps.pearsonr(x, y).statistic if kind == "pearson" else sps.spearmanr(x, y).statistic
    assert S.correlation(x, y, kind) == pytest.approx(ref, abs=1e-12)
    assert math.isnan(S.correlation(np.ones(5), y[:5], kind))
    assert S.correlation_p(x, y) == pytest.approx(sps.pearsonr(x, y).pvalue)


def test_partial_correlation_removes_a_shared_driver():
    rng = np.random.default_rng(0)
    z = rng.random(60)
    x, y = z + 0.05 * rng.normal(size=60), z + 0.05 * rng.normal(size=60)
    assert S.correlation(x, y) > 0.9 and abs(S.partial_correlation(x, y, z)) < 0.4
    est = S.partial_correlation_estimate(x, y, z, unit="rows", n_boot=200)
    assert est.has_interval and est.value == S.partial_correlation(x, y, z)
    r = S.correlation_estimate(x, y, unit="rows", n_boot=200)
    assert r.low > 0.8


def test_estimate_text_and_verdict_names_stay_importable():
    from sat_lib.claims import verdict

    assert verdict.Estimate is S.Estimate and verdict.resample is S.resample and verdict.bootstrap is S.bootstrap
    assert S.Estimate(0.5, 0.4, 0.6, "models", 8).text() == "0.50 [0.40, 0.60]"
    assert S.no_interval(0.5, "models", 2).text() == "0.50 (no interval: 2 models)"


# ------------------------------------------------------------------------- the Littlewood–Miller model

def _brute_force(fails: np.ndarray, groups: list[str]) -> dict[str, float]:
    """The LM quantities from the per-pair torch functions (``difficulty_functions``, ``coincident_failure``),
    every model its own block."""
    labels = list(dict.fromkeys(groups))
    g = np.array([labels.index(x) for x in groups])
    theta = {k: difficulty_functions(torch.from_numpy(fails[g == k])) for k in range(len(labels))}
    cov = [coincident_failure(theta[a], theta[b]).covariance for a, b in combinations(range(len(labels)), 2)]
    f = torch.from_numpy(fails.astype(float))
    lm_err, ind_err = [], []
    for i, j in combinations(range(len(g)), 2):
        obs = coincident_failure(f[i], f[j]).p_both
        if g[i] != g[j]:
            ta = difficulty_functions(torch.from_numpy(np.delete(fails, [i], 0)[np.delete(g, [i]) == g[i]]))
            tb = difficulty_functions(torch.from_numpy(np.delete(fails, [j], 0)[np.delete(g, [j]) == g[j]]))
            c = coincident_failure(ta, tb)
            lm, ind = c.p_both, c.independent
        else:
            rest = [k for k in np.flatnonzero(g == g[i]) if k not in (i, j)]
            if len(rest) < 2:
                continue
            lm = np.mean([coincident_failure(f[k], f[m]).p_both for k in rest for m in rest if k != m])
            ind = np.mean([coincident_failure(f[k], f[m]).independent for k in rest for m in rest if k != m])
        lm_err.append(obs - lm)
        ind_err.append(obs - ind)
    return {"cov_between": float(np.mean(cov)), "lm_bias": 100 * float(np.mean(lm_err)),
            "independence_bias": 100 * float(np.mean(ind_err))}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lm_statistics_agree_with_the_per_pair_theory(seed):
    rng = np.random.default_rng(seed)
    groups = ["a"] * 4 + ["b"] * 3 + ["c"] * 5
    hard = rng.random(200)  # images hard for everyone, so failures are correlated
    fails = rng.random((len(groups), 200)) < 0.2 + 0.6 * hard
    lm = LMStats(groups)
    fast = lm.stats(lm.vectors(fails))
    slow = _brute_force(fails, groups)
    for k, v in slow.items():
        assert fast[k] == pytest.approx(v, abs=1e-10), k
