"""Analyses of the diversity-training chapter: the Littlewood–Miller statistics against brute force, the
seeds × images bootstrap, the consensus rule of each method."""
import math

import numpy as np
import pytest

from sat_lib.analysis import diversity_training as A


def brute_force(fails, groups, blocks=None):
    f = fails.astype(float)
    m = len(groups)
    blocks = blocks or [str(i) for i in range(m)]
    same, diff, obs, lm, ind = [], [], [], [], []
    for i in range(m):
        for j in range(i + 1, m):
            if blocks[i] == blocks[j]:
                continue
            e = (f[i] * f[j]).mean() - f[i].mean() * f[j].mean()
            (same if groups[i] == groups[j] else diff).append(e)
            a = [k for k in range(m) if groups[k] == groups[i] and k not in (i, j)]
            b = [k for k in range(m) if groups[k] == groups[j] and k not in (i, j)]
            if a and b:
                ta, tb = f[a].mean(0), f[b].mean(0)
                obs.append((f[i] * f[j]).mean())
                lm.append((ta * tb).mean())
                ind.append(ta.mean() * tb.mean())
    obs, lm, ind = map(np.array, (obs, lm, ind))
    labels = list(dict.fromkeys(groups))
    theta = {g: f[[k for k in range(m) if groups[k] == g]].mean(0) for g in labels}
    covs = [np.mean((theta[a] - theta[a].mean()) * (theta[b] - theta[b].mean()))
            for ia, a in enumerate(labels) for b in labels[ia + 1:]]
    return {"excess_gap": 100 * (np.mean(diff) - np.mean(same)), "cov_between": np.mean(covs),
            "prediction_gain": 100 * (np.abs(obs - ind).mean() - np.abs(obs - lm).mean()),
            "lm_error": 100 * np.abs(obs - lm).mean()}


@pytest.mark.parametrize("blocks", [None, ["a0", "a0", "a1", "b0", "b0", "b1", "c0", "c1"]])
def test_littlewood_miller_statistics_match_brute_force(blocks):
    rng = np.random.default_rng(0)
    hard = rng.random(400) < 0.3  # shared difficulty: failures correlate across models
    fails = (rng.random((8, 400)) < np.where(hard, 0.6, 0.15))
    groups = ["a", "a", "a", "b", "b", "b", "c", "c"]
    lm = A.LMStats(groups, blocks)
    got = lm.stats(lm.vectors(fails))
    want = brute_force(fails, groups, blocks)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=1e-9), key


def test_shared_difficulty_shows_as_positive_covariance_and_lm_beats_independence():
    rng = np.random.default_rng(1)
    hard = rng.random(3000) < 0.3
    fails = rng.random((9, 3000)) < np.where(hard, 0.7, 0.1)
    est = A.lm_estimates(fails[:, None], ["x"] * 3 + ["y"] * 3 + ["z"] * 3, n_boot=100)
    assert est["cov_between"].low > 0  # the same inputs are hard for every design
    assert est["prediction_gain"].low > 0  # and the covariance term, not independence, predicts coincident failures
    assert est["excess_gap"].low < 0 < est["excess_gap"].high  # no design is more diverse than another here


def test_seeds_images_resamples_both_and_pairs_the_images():
    rng = np.random.default_rng(0)
    a = (rng.random((3, 500)) < 0.8).astype(float)
    est = A.seeds_images([a, a], lambda x: 100 * (x[0].mean() - x[1].mean()), n_boot=200)
    assert est.value == 0 and est.unit == A.SEEDS_IMAGES and est.n == 6
    same = A.difference(a, a.copy(), n_boot=200)
    assert same.value == 0
    b = (rng.random((3, 500)) < 0.6).astype(float)
    d = A.difference(a, b, n_boot=200)
    assert d.value == pytest.approx(100 * (a.mean() - b.mean())) and d.low > 0
    with pytest.raises(ValueError, match="number of images"):
        A.seeds_images([a, b[:, :10]], lambda x: 0.0)


def test_each_method_is_scored_with_its_training_consensus():
    assert A.own_rule("gncl@median") == "median"
    assert A.own_rule("balanced@average") == "average"
    assert A.own_rule("independent") == A.own_rule("attribution") == A.own_rule(A.HETEROGENEOUS) == "average"


def test_split_mean_is_nan_for_an_empty_group():
    h = np.array([0.2, 0.4])
    assert A._split_mean(h, np.array([1.0, 1.0]), True) == pytest.approx(0.3)
    assert math.isnan(A._split_mean(h, np.array([1.0, 1.0]), False))
