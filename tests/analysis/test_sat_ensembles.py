"""Ensembles scored in bulk from stored logits, checked against the one-ensemble measures (brute force)."""
import numpy as np
import pytest
import torch

from sat_lib.analysis.sat_ensembles import all_pairs, batch_scores, cluster_draws, group_draws
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


# ---------------------------------------------------------------- Fig. 6: distinct ensembles, enumerated or drawn

from itertools import combinations  # noqa: E402

from sat_lib.analysis.sat_ensembles import (cluster_ensembles, fig6_cell, fig6_counts, fig6_scores,  # noqa: E402
                                        fig6_source, fig6_table, n_cluster_ensembles, single_ensemble_cells)

CLUSTERS = np.array([1, 1, 1, 2, 2, 3, 3, 3, 3, 4])  # sizes 3, 2, 4, 1


def brute_force(clusters, size, k):
    """Every N-subset of the models whose members come from exactly k clusters."""
    return {c for c in combinations(range(len(clusters)), size) if len(set(clusters[list(c)])) == k}


@pytest.mark.parametrize("size", [2, 3, 4, 5])
def test_distinct_ensembles_are_counted_as_brute_force_counts_them(size):
    for k in range(1, size + 2):
        assert n_cluster_ensembles(CLUSTERS, size, k) == len(brute_force(CLUSTERS, size, k)), (size, k)


def test_a_cell_with_few_ensembles_is_enumerated_each_once():
    rng = np.random.default_rng(0)
    for size, k in ((4, 1), (3, 1), (2, 2), (4, 2)):
        want = brute_force(CLUSTERS, size, k)
        ens, total = cluster_ensembles(CLUSTERS, size, k, len(want), rng)
        assert total == len(want) and len(ens) == len(want)
        assert {tuple(e) for e in ens} == want  # every distinct ensemble, none twice
    # only cluster 3 holds four models: one ensemble, scored once however many draws are asked
    ens, total = cluster_ensembles(CLUSTERS, 4, 1, 300, rng)
    assert total == 1 and ens.tolist() == [[5, 6, 7, 8]]
    assert cluster_ensembles(CLUSTERS, 5, 1, 300, rng) == (None, 0)


def test_a_large_cell_is_drawn_uniformly_over_its_distinct_ensembles():
    size, k = 3, 2
    population = sorted(brute_force(CLUSTERS, size, k))
    rng = np.random.default_rng(1)
    counts = dict.fromkeys(population, 0)
    for _ in range(400):
        ens, total = cluster_ensembles(CLUSTERS, size, k, len(population) - 1, rng)  # one fewer: drawn
        assert total == len(population) and len(ens) == len(population) - 1
        for e in ens:
            assert len(set(e)) == size and len(set(CLUSTERS[e])) == k and list(e) == sorted(e)
            counts[tuple(e)] += 1
    expected = 400 * (len(population) - 1) / len(population)
    # the earlier sampler weighted cluster pairs equally: {1, 4} (3 ensembles) ~3x more often than {1, 3} (18)
    assert max(abs(c / expected - 1) for c in counts.values()) < 0.2


def test_fig6_scores_a_single_ensemble_cell_once_and_gives_it_no_interval(logits):
    lg, y = logits
    clusters = np.array([1, 1, 1, 2, 2, 3])  # N = 3 from 1 cluster: only {0, 1, 2}
    f6 = fig6_scores(lg, y, clusters, [2, 3], n_draws=50, seed=0)
    assert int(f6["clusters_ensembles"].sel(size=3, k=1)) == 1 == int(f6["clusters_scored"].sel(size=3, k=1))
    v = f6["clusters_err"].sel(size=3, k=1).values
    assert np.isfinite(v).sum() == 1
    want = batch_scores(lg, y, np.array([[0, 1, 2]]))["err"][0]
    assert v[0] == pytest.approx(want)
    assert not fig6_cell(f6, "err", 3, 1).has_interval
    assert "1 ensemble: no interval" in fig6_table(f6, "err").loc[3, 1]
    assert fig6_counts(f6).loc[3, 1] == "all 1" and fig6_counts(f6).loc[2, 1] == "all 4"
    assert single_ensemble_cells(f6) == [(3, 1)]
    # every cell here has at most 50 distinct ensembles: each scored once
    np.testing.assert_array_equal(f6["clusters_scored"].values, f6["clusters_ensembles"].values)
    again = fig6_scores(lg, y, clusters, [2, 3], n_draws=50, seed=0)
    np.testing.assert_array_equal(again["clusters_err"].values, f6["clusters_err"].values)


def test_a_result_with_the_old_fig6_draws_is_refused():
    import xarray as xr

    old = xr.Dataset({"clusters_err": (("size", "k", "draw"), np.zeros((1, 1, 3)))})
    with pytest.raises(ValueError, match="predate"):
        fig6_source(old)


def test_cluster_members_lists_every_model_once():
    import xarray as xr

    from sat_lib.analysis.sat_ensembles import cluster_members

    ds = xr.Dataset(coords={"model": ["a", "b", "c"], "family": ("model", ["CNN", "ViT", "CNN"]),
                            "cluster": ("model", [1, 0, 1])})
    table = cluster_members(ds)
    assert table.loc[1, "members"] == "a, c" and table.loc[0, "families"] == "ViT"
    assert table["size"].sum() == 3


def test_a_single_ensemble_cell_gates_only_its_size(logits):
    from sat_lib.analysis.sat_ensembles import few_cells_gate

    lg, y = logits
    f6 = fig6_scores(lg, y, np.array([1, 1, 1, 2, 2, 3]), [2, 3], n_draws=50, seed=0)
    gate = few_cells_gate(None, f6)
    assert gate.passed is False and "N = 3, k = 1" in gate.detail
    assert few_cells_gate(None, fig6_scores(lg, y, np.array([1, 1, 2, 2, 3, 3]), [2], n_draws=50, seed=0)).passed


def test_an_attention_stand_in_that_sees_too_few_tokens_leaves_only_its_own_rows_not_tested():
    """On the stored quick result (read, nothing computed): levit_128s_32 sees 2 x 2 tokens, so its Fig. 7 rows read
    not tested, while resnet10_c32's rows are decided."""
    from sat_lib.experiments import CHAPTERS, resolve_params
    from sat_lib.results import CacheMiss

    try:
        table, _ = CHAPTERS["sat-ensembles"].claims(resolve_params("sat-ensembles", "quick"), "cache_only")
    except CacheMiss:
        pytest.skip("no stored sat-ensembles quick result")
    table = table.set_index("claim")
    levit = table[table.index.str.startswith("levit_128s_32:")]
    other = table[table.index.str.startswith("resnet10_c32:")]
    assert len(levit) == 2 and levit["verdict"].str.startswith("not tested (gate: stand-in").all()
    assert len(other) == 2 and not other["verdict"].str.startswith("not tested").any()
