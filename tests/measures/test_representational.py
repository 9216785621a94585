"""CKA, Procrustes and k-NN Jaccard against independent float64 references."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.linalg import orthogonal_procrustes
from sklearn.neighbors import NearestNeighbors

from sat_lib.measures import MinibatchCKA, knn_jaccard, linear_cka, procrustes_similarity

# ------------------------------------------------------------------------------------- numpy float64 references


def ref_cka(x: np.ndarray, y: np.ndarray) -> float:
    x = x - x.mean(0)
    y = y - y.mean(0)
    return np.linalg.norm(x.T @ y) ** 2 / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y))


def _unbiased_centre(gram: np.ndarray) -> np.ndarray:
    """Kornblith et al.'s unbiased centring of a Gram matrix (U-centring, diagonal zeroed)."""
    n = gram.shape[0]
    g = gram.copy()
    np.fill_diagonal(g, 0)
    means = g.sum(0) / (n - 2)
    means -= means.sum() / (2 * (n - 1))
    g -= means[:, None]
    g -= means[None, :]
    np.fill_diagonal(g, 0)
    return g


def ref_cka_debiased(x: np.ndarray, y: np.ndarray) -> float:
    k, l_ = _unbiased_centre(x @ x.T), _unbiased_centre(y @ y.T)
    return (k * l_).sum() / np.sqrt((k * k).sum() * (l_ * l_).sum())


def ref_procrustes(x: np.ndarray, y: np.ndarray) -> float:
    x = x - x.mean(0)
    y = y - y.mean(0)
    x, y = x / np.linalg.norm(x), y / np.linalg.norm(y)
    d = max(x.shape[1], y.shape[1])
    x = np.pad(x, ((0, 0), (0, d - x.shape[1])))
    y = np.pad(y, ((0, 0), (0, d - y.shape[1])))
    r, _ = orthogonal_procrustes(x, y)
    return (2 - np.linalg.norm(x @ r - y)) / 2


def ref_jaccard(x: np.ndarray, y: np.ndarray, k: int) -> float:
    def neighbours(z: np.ndarray) -> list[set[int]]:
        z = z - z.mean(0)
        idx = NearestNeighbors(n_neighbors=k + 1, metric="cosine").fit(z).kneighbors(z, return_distance=False)
        return [set(row) - {i} if i in row else set(row[:k]) for i, row in enumerate(idx)]

    na, nb = neighbours(x), neighbours(y)
    return float(np.mean([len(a & b) / len(a | b) for a, b in zip(na, nb)]))


def _pair(n: int, da: int, db: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, da))
    y = np.tanh(x @ rng.normal(size=(da, db))) + 0.5 * rng.normal(size=(n, db))
    return x, y


SHAPES = [(50, 8, 12), (20, 30, 45), (12, 40, 5)]  # n > d, n < d (Gram / reduced form), mixed


# ----------------------------------------------------------------------------------------------------------- CKA


@pytest.mark.parametrize(("n", "da", "db"), SHAPES)
def test_cka_matches_numpy_reference(n: int, da: int, db: int):
    x, y = _pair(n, da, db)
    assert linear_cka(torch.as_tensor(x), torch.as_tensor(y)) == pytest.approx(ref_cka(x, y), abs=1e-12)
    got = linear_cka(torch.as_tensor(x), torch.as_tensor(y), debiased=True)
    assert got == pytest.approx(ref_cka_debiased(x, y), abs=1e-12)


def test_cka_of_float32_is_accumulated_in_float64():
    x, y = _pair(200, 16, 16)
    x32, y32 = torch.as_tensor(x + 1e3).float(), torch.as_tensor(y - 1e3).float()  # large offsets
    ref = ref_cka(x32.double().numpy(), y32.double().numpy())
    assert linear_cka(x32, y32) == pytest.approx(ref, abs=1e-12)


def test_cka_self_similarity_is_exactly_one():
    x = torch.randn(30, 7)
    assert linear_cka(x, x) == 1.0
    assert linear_cka(x, x, debiased=True) == 1.0


def test_debiased_cka_removes_the_small_n_bias():
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(20, 50, generator=gen), torch.randn(20, 50, generator=gen)
    assert linear_cka(x, y) > 0.5  # biased HSIC: independent data look similar at small n
    assert abs(linear_cka(x, y, debiased=True)) < 0.2


def test_conv_maps_are_flattened():
    x = torch.randn(10, 2, 3, 3, dtype=torch.float64)
    assert linear_cka(x, x * 2) == pytest.approx(1.0)
    assert linear_cka(x, torch.randn(10, 5)) == pytest.approx(linear_cka(x.reshape(10, -1), torch.randn(10, 5)), abs=1)


def test_minibatch_cka_self_similarity_is_exactly_one():
    acc = MinibatchCKA()
    for _ in range(3):
        x = torch.randn(16, 10)
        acc.update(x, x)
    assert acc.compute() == 1.0
    assert acc.n_batches == 3 and acc.n_samples == 48


def test_minibatch_cka_one_batch_equals_debiased_cka():
    x, y = _pair(40, 6, 9)
    acc = MinibatchCKA()
    acc.update(x, y)
    assert acc.compute() == pytest.approx(ref_cka_debiased(x, y), abs=1e-12)


def test_minibatch_cka_aggregates_hsic_not_cka():
    x, y = _pair(60, 6, 9)

    def hsic1(a: np.ndarray, b: np.ndarray) -> float:
        n = a.shape[0]
        return (_unbiased_centre(a @ a.T) * _unbiased_centre(b @ b.T)).sum() / (n * (n - 3))

    batches = [slice(0, 20), slice(20, 40), slice(40, 60)]
    num = sum(hsic1(x[s], y[s]) for s in batches)
    den = math.sqrt(sum(hsic1(x[s], x[s]) for s in batches) * sum(hsic1(y[s], y[s]) for s in batches))
    acc = MinibatchCKA()
    for s in batches:
        acc.update(torch.as_tensor(x[s]).float(), torch.as_tensor(y[s]).float())
    assert acc.compute() == pytest.approx(num / den, abs=1e-6)  # float32 input, float64 sums


def test_minibatch_cka_errors():
    acc = MinibatchCKA()
    with pytest.raises(ValueError, match="MinibatchCKA.compute: no batch"):
        acc.compute()
    with pytest.raises(ValueError, match="MinibatchCKA.update: argument 'a' has 3 sample"):
        acc.update(torch.randn(3, 4), torch.randn(3, 4))
    acc.update(torch.randn(8, 4), torch.randn(8, 5))
    with pytest.raises(ValueError, match="feature widths changed"):
        acc.update(torch.randn(8, 4), torch.randn(8, 6))


# ---------------------------------------------------------------------------------------------------- Procrustes


@pytest.mark.parametrize(("n", "da", "db"), SHAPES)
def test_procrustes_matches_scipy(n: int, da: int, db: int):
    x, y = _pair(n, da, db)
    got = procrustes_similarity(torch.as_tensor(x), torch.as_tensor(y))
    assert got == pytest.approx(ref_procrustes(x, y), abs=1e-10)


def test_procrustes_distance_is_not_squared():
    """Two orthogonal unit-norm representations: ||A^T B||_* = 0, d = sqrt(2), similarity = 1 - sqrt(2)/2."""
    x = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 0.0], [0.0, 0.0]], dtype=torch.float64)
    y = torch.tensor([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [-1.0, 0.0]], dtype=torch.float64)
    assert procrustes_similarity(x, y) == pytest.approx(1 - math.sqrt(2) / 2, abs=1e-12)


# ----------------------------------------------------------------------------------------------------- k-NN Jaccard


@pytest.mark.parametrize("k", [1, 3, 10])
def test_knn_jaccard_matches_sklearn(k: int):
    x, y = _pair(60, 8, 12, seed=3)
    assert knn_jaccard(torch.as_tensor(x), torch.as_tensor(y), k=k) == pytest.approx(ref_jaccard(x, y, k), abs=1e-12)


def test_knn_jaccard_chunking_does_not_change_neighbours():
    from sat_lib.measures.representational import _knn_prepare

    x = torch.randn(50, 6, dtype=torch.float64)
    assert torch.equal(_knn_prepare(x, 5), _knn_prepare(x, 5, chunk_elements=7 * 50))


def test_knn_jaccard_hand_example():
    # 1-D points on a line: neighbours are the adjacent points; the mirrored copy keeps every neighbour set.
    x = torch.tensor([[0.0], [1.0], [3.0], [6.0], [10.0]], dtype=torch.float64)
    x2 = torch.cat([x, x.square()], dim=1)
    assert knn_jaccard(x2, x2 * -1.0 + 4.0, k=1) == 1.0


# ----------------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("fn", [linear_cka, procrustes_similarity, knn_jaccard], ids=lambda f: f.__name__)
def test_bad_activations(fn):
    name = fn.__name__
    x = torch.randn(12, 4)
    with pytest.raises(ValueError, match=rf"{name}: expected equal n_samples, got a=\(12, 4\) and b=\(10, 4\)"):
        fn(x, torch.randn(10, 4))
    bad = x.clone()
    bad[0, 0] = float("inf")
    with pytest.raises(ValueError, match=rf"{name}: argument 'b' contains 1 NaN or Inf"):
        fn(x, bad)
    with pytest.raises(ValueError, match=rf"{name}: argument 'a' has 1 sample\(s\).*expected at least 2"):
        fn(torch.randn(1, 4), torch.randn(1, 4))
    with pytest.raises(ValueError, match=rf"{name}: argument 'a' has dtype torch.int64; expected a floating-point"):
        fn(torch.ones(12, 4, dtype=torch.int64), x)
    with pytest.raises(ValueError, match=rf"{name}: argument 'b' has shape \(12,\)"):
        fn(x, torch.randn(12))


def test_k_must_be_smaller_than_n():
    x = torch.randn(10, 3)
    with pytest.raises(ValueError, match="knn_jaccard: argument 'k' is 10 but there are only 10 samples"):
        knn_jaccard(x, x, k=10)
    with pytest.raises(ValueError, match="knn_jaccard: argument 'k' is 0"):
        knn_jaccard(x, x, k=0)


def test_constant_activations_raise_instead_of_nan():
    with pytest.raises(ValueError, match="linear_cka: argument 'b' .* zero variance"):
        linear_cka(torch.randn(8, 3), torch.full((8, 3), 0.1))
    with pytest.raises(ValueError, match="procrustes_similarity: argument 'a' .* zero variance"):
        procrustes_similarity(torch.zeros(8, 3), torch.randn(8, 3))


def test_debiased_needs_four_samples():
    with pytest.raises(ValueError, match="linear_cka: argument 'a' has 3 sample"):
        linear_cka(torch.randn(3, 2), torch.randn(3, 2), debiased=True)


def test_numpy_input_is_converted():
    x, y = _pair(30, 5, 6)
    assert linear_cka(x, y) == linear_cka(torch.as_tensor(x), torch.as_tensor(y))
    assert isinstance(procrustes_similarity(x, y), float)


def test_row_space_keeps_every_representational_measure():
    """The atlas stores features as their row-space rotation: (n, min(n, d)) with the same measures."""
    from sat_lib.measures import row_space

    g = torch.Generator().manual_seed(3)
    a = torch.randn(40, 90, generator=g, dtype=torch.float64)
    b = a[:, :30] @ torch.randn(30, 12, generator=g, dtype=torch.float64) + torch.randn(40, 12, generator=g,
                                                                                         dtype=torch.float64)
    r = row_space(a)
    assert r.shape == (40, 40) and r.dtype == torch.float64
    for fn in (linear_cka, procrustes_similarity, knn_jaccard, lambda x, y: linear_cka(x, y, debiased=True)):
        assert fn(r, b) == pytest.approx(fn(a, b), abs=1e-9)
    assert row_space(b).shape == (40, 12)  # already narrower than n: kept as wide as it is
