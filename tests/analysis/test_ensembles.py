"""Ensembles scored in bulk from stored logits, checked against the one-ensemble measures (brute force)."""
import numpy as np
import pytest
import torch

from sat_lib.analysis.ensembles import all_pairs, batch_scores, cluster_draws, group_draws
from sat_lib.measures.ensemble import all_wrong_ratio, error_reduction_rate


@pytest.fixture
def logits():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 400)
    # members of different skill: the true class gets a boost of different sizes
    lg = rng.normal(size=(6, 400, 10)).astype(np.float32)
    for m in range(6):
        lg[m, np.arange(400), y] += 0.5 + 0.4 * m
    return lg, y


def test_batch_scores_equal_the_one_ensemble_measures(logits):
    lg, y = logits
    members = np.array([[0, 1], [2, 5], [1, 3, 4], [0, 2, 4, 5]], dtype=object)
    for m in members:
        m = np.asarray(m)
        got = batch_scores(lg, y, m[None])
        want_err = error_reduction_rate(torch.from_numpy(lg[m]), torch.from_numpy(y))
        want_aw = all_wrong_ratio(torch.from_numpy(lg[m].argmax(-1) == y))
        ens = (lg[m].mean(0).argmax(-1) != y).mean()
        assert got["err"][0] == pytest.approx(want_err, abs=1e-12)
        assert got["all_wrong"][0] == pytest.approx(want_aw, abs=1e-12)
        assert got["error"][0] == pytest.approx(ens, abs=1e-12)
        assert got["member_error"][0] == pytest.approx((lg[m].argmax(-1) != y).mean(), abs=1e-12)


def test_batch_scores_are_the_same_in_any_chunking(logits):
    lg, y = logits
    pairs = all_pairs(6)
    assert len(pairs) == 15 and (pairs[:, 0] < pairs[:, 1]).all()
    a, b = batch_scores(lg, y, pairs, chunk=4), batch_scores(lg, y, pairs, chunk=1000)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_cluster_draws_use_exactly_k_clusters_and_distinct_models():
    clusters = np.array([1, 1, 1, 2, 2, 3, 3, 3, 3, 4])
    rng = np.random.default_rng(0)
    for size in (2, 3, 4):
        for k in range(1, size + 1):
            draws = cluster_draws(clusters, size, k, 50, rng)
            assert draws is not None and draws.shape == (50, size)
            for d in draws:
                assert len(set(d)) == size and len(set(clusters[d])) == k
    assert cluster_draws(clusters, 5, 1, 10, rng) is None      # no cluster holds 5 models
    assert cluster_draws(clusters, 3, 5, 10, rng) is None      # more clusters than models
    assert cluster_draws(clusters, 6, 6, 10, rng) is None      # only 4 clusters


def test_group_draws_enumerate_small_groups_and_sample_large_ones():
    rng = np.random.default_rng(0)
    every = group_draws(np.arange(5), 3, 100, rng)
    assert len(every) == 10 and len({tuple(sorted(d)) for d in every}) == 10
    some = group_draws(np.arange(12), 4, 20, rng)
    assert some.shape == (20, 4) and len({tuple(sorted(d)) for d in some}) == 20
    assert group_draws(np.arange(3), 4, 5, rng) is None
