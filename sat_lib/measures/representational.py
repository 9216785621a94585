"""Representational similarity of activations of the same inputs, shape (n_samples, n_features).

Linear CKA (Kornblith et al. 2019; robustness paper, Eq. 4) with the biased or the debiased HSIC estimator and a
minibatch accumulator (Nguyen et al. 2021), orthogonal Procrustes similarity (robustness paper, Eq. 5) and k-NN
Jaccard similarity (robustness paper, Eq. 6).

Accuracy and devices: inputs of any float dtype are upcast to float64 *before* centring and every accumulation runs in
float64, on the input's device (no ``.cpu()``, no numpy). When n_samples < n_features, a representation is first
rotated into an n-dimensional basis of its row space (``X Q`` from a QR factorisation of ``X^T``); CKA, Procrustes
and k-NN are invariant to that orthogonal change of basis, so the result is unchanged and the cross terms become
(n x n) instead of (d_a x d_b) — the "Gram form" for small n.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from . import _validation as V
from ._registry import MeasureRecord, register_measure

_REPR_INVARIANCES = frozenset({"orthogonal", "isotropic_scaling", "translation", "permutation", "sample_order"})


def _two_activations(a: Any, b: Any, fn: str, min_samples: int = 2) -> tuple[Tensor, Tensor | None]:
    """Validated (n, d) tensors; ``None`` for b when ``b is a`` (the caller reuses a's preprocessing)."""
    ta = V.activations(a, fn, "a", min_samples=min_samples)
    if b is a:
        return ta, None
    tb = V.activations(b, fn, "b", min_samples=min_samples)
    V.same_samples(fn, ("a", ta), ("b", tb))
    return ta, tb


def _centred(x: Tensor, fn: str, arg: str) -> Tensor:
    """Column-centred float64 copy; ``ValueError`` if nothing is left (constant activations)."""
    x64 = x.to(torch.float64)
    xc = x64 - x64.mean(dim=0, keepdim=True)
    inf = float("inf")
    if not bool(torch.linalg.vector_norm(xc, inf) > 1e-12 * torch.linalg.vector_norm(x64, inf)):
        raise ValueError(
            f"{fn}: argument {arg!r} (shape {tuple(x.shape)}) has zero variance after centring; "
            "expected activations that vary across samples"
        )
    return xc


def _reduce_width(x: Tensor) -> Tensor:
    """An (n, min(n, d)) representation X Q with the same inner products between rows as X."""
    n, d = x.shape
    if d <= n:
        return x
    r = torch.linalg.qr(x.T, mode="r").R  # x^T = Q R  ->  x Q = R^T
    return r.T


def row_space(x: Any) -> Tensor:
    """Activations ``x`` (n, d) as an exact (n, min(n, d)) float64 rotation into the span of their rows, ``X Q``:
    the same inner products and distances between samples, before and after centring. Linear CKA (either
    estimator), ProcrustesSim and k-NN Jaccard give the same values on it as on ``x`` — a compact form in which to
    store the activations of a few hundred images of a wide layer."""
    return _reduce_width(V.activations(x, "row_space", "x").to(torch.float64))


def _ratio(num: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """num / sqrt(a b), using sqrt(a) sqrt(a) = a exactly when a == b so that self-similarity is exactly 1."""
    den = torch.where(a == b, a, torch.sqrt(a) * torch.sqrt(b))
    return num / den


# ----------------------------------------------------------------------------------------------------------- CKA


@dataclass(frozen=True)
class _CKAPrepared:
    x: Tensor  # centred, width-reduced, float64
    self_term: Tensor  # HSIC(x, x) of the chosen estimator
    row_sq: Tensor | None  # ||x_i||^2 (debiased only)
    n: int


def _hsic1(x: Tensor, y: Tensor, kx: Tensor, ky: Tensor) -> Tensor:
    """Unbiased HSIC_1 (Song et al. 2012) of linear kernels of *centred* x, y, in feature space.

    With K~ = K - diag(K): tr(K~ L~) = ||x^T y||^2 - k.l ; 1^T K~ 1 = -sum(k) ; K~ 1 = -k (x is centred).
    """
    n = x.shape[0]
    cross = (x.T @ y).square().sum()
    tr = cross - kx @ ky
    s_x, s_y = -kx.sum(), -ky.sum()
    ones_term = kx @ ky
    return (tr + s_x * s_y / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * ones_term) / (n * (n - 3))


def _cka_prepare(x: Any, debiased: bool = False, *, arg: str = "a", checked: bool = False) -> _CKAPrepared:
    fn = "linear_cka"
    t = x if checked else V.activations(x, fn, arg, min_samples=4 if debiased else 2)
    xc = _reduce_width(_centred(t, fn, arg))
    k = xc.square().sum(dim=1) if debiased else None
    self_term = _hsic1(xc, xc, k, k) if debiased else (xc.T @ xc).square().sum()
    if not bool(self_term > 0):
        raise ValueError(
            f"{fn}: argument {arg!r} (shape {tuple(t.shape)}) has HSIC(x, x) = {float(self_term):.3g} <= 0 with "
            f"{'the debiased' if debiased else 'the biased'} estimator; expected activations that vary across samples"
        )
    return _CKAPrepared(xc, self_term, k, xc.shape[0])


def _cka_pair(pa: _CKAPrepared, pb: _CKAPrepared, debiased: bool = False) -> Tensor:
    V.same_samples("linear_cka", ("a", pa.x), ("b", pb.x))
    if debiased:
        num = _hsic1(pa.x, pb.x, pa.row_sq, pb.row_sq)
        return _ratio(num, pa.self_term, pb.self_term).clamp(-1.0, 1.0)
    num = (pa.x.T @ pb.x).square().sum()
    return _ratio(num, pa.self_term, pb.self_term).clamp(0.0, 1.0)


def linear_cka(a: Any, b: Any, *, debiased: bool = False) -> float:
    """Linear CKA ||A^T B||_F^2 / (||A^T A||_F ||B^T B||_F) of column-centred activations (robustness paper, Eq. 4).

    ``debiased=True`` replaces the biased HSIC by the unbiased estimator HSIC_1 (Song et al. 2012; Kornblith et al.'s
    ``debiased`` option), which removes the positive bias of CKA between independent representations at small n;
    it needs n >= 4 and lies in [-1, 1]. Float64 accumulation on the input's device; returns a python float
    (identical inputs give exactly 1.0 when ``a is b``).
    """
    ta, tb = _two_activations(a, b, "linear_cka", min_samples=4 if debiased else 2)
    pa = _cka_prepare(ta, debiased, arg="a", checked=True)
    pb = pa if tb is None else _cka_prepare(tb, debiased, arg="b", checked=True)
    return float(_cka_pair(pa, pb, debiased))


class MinibatchCKA:
    """Minibatch linear CKA (Nguyen et al. 2021) for sample counts that do not fit in memory.

    Each ``update(a, b)`` adds the unbiased HSIC_1 of one minibatch (>= 4 samples, same samples in ``a`` and ``b``) to
    running float64 sums on the input's device; ``compute()`` returns
    ``sum HSIC_1(a, b) / sqrt(sum HSIC_1(a, a) * sum HSIC_1(b, b))`` as a python float. Because the self terms are
    accumulated by the same code as the cross term, the self-CKA ``update(x, x)`` is exactly 1. Every batch is
    centred first (HSIC_1 is translation invariant, so this only helps rounding).
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._xy: Tensor | None = None
        self._xx: Tensor | None = None
        self._yy: Tensor | None = None
        self._widths: tuple[int, int] | None = None
        self.n_batches = 0
        self.n_samples = 0

    def update(self, a: Any, b: Any) -> None:
        fn = "MinibatchCKA.update"
        ta = V.activations(a, fn, "a", min_samples=4)
        tb = ta if b is a else V.activations(b, fn, "b", min_samples=4)
        V.same_samples(fn, ("a", ta), ("b", tb))
        widths = (ta.shape[1], tb.shape[1])
        if self._widths is not None and widths != self._widths:
            raise ValueError(f"{fn}: feature widths changed from {self._widths} to {widths}; reset() between layers")
        xa = _centred(ta, fn, "a")
        ka = xa.square().sum(dim=1)
        hxx = _hsic1(xa, xa, ka, ka)
        if tb is ta:
            xb, kb, hyy, hxy = xa, ka, hxx, hxx
        else:
            xb = _centred(tb, fn, "b")
            kb = xb.square().sum(dim=1)
            hyy = _hsic1(xb, xb, kb, kb)
            hxy = _hsic1(xa, xb, ka, kb)
        if self._xy is None:
            self._xy, self._xx, self._yy = hxy, hxx, hyy
        else:
            V.same_device(fn, ("a", xa), ("running sums", self._xy))
            self._xy, self._xx, self._yy = self._xy + hxy, self._xx + hxx, self._yy + hyy
        self._widths = widths
        self.n_batches += 1
        self.n_samples += ta.shape[0]

    def compute(self) -> float:
        if self._xy is None:
            raise ValueError("MinibatchCKA.compute: no batch was added; call update(a, b) first")
        if not (bool(self._xx > 0) and bool(self._yy > 0)):
            raise ValueError(
                "MinibatchCKA.compute: the accumulated self-HSIC is not positive "
                f"(HSIC(a,a)={float(self._xx):.3g}, HSIC(b,b)={float(self._yy):.3g}); expected varying activations"
            )
        return float(_ratio(self._xy, self._xx, self._yy).clamp(-1.0, 1.0))


# ---------------------------------------------------------------------------------------------------- Procrustes


def _procrustes_prepare(x: Any, *, arg: str = "a", checked: bool = False) -> Tensor:
    fn = "procrustes_similarity"
    xc = _centred(x if checked else V.activations(x, fn, arg), fn, arg)
    return _reduce_width(xc / torch.linalg.matrix_norm(xc))


def _procrustes_pair(pa: Tensor, pb: Tensor) -> Tensor:
    V.same_samples("procrustes_similarity", ("a", pa), ("b", pb))
    nuclear = torch.linalg.svdvals(pa.T @ pb).sum()
    distance = torch.sqrt((2.0 - 2.0 * nuclear).clamp_min(0.0))
    return 1.0 - distance / 2.0


def procrustes_similarity(a: Any, b: Any) -> float:
    """ProcrustesSim = (2 - d) / 2 (robustness paper, Eq. 5) with d the orthogonal Procrustes *distance*.

    Both inputs are column-centred and scaled to unit Frobenius norm; then
    d = min_Q ||A Q - B||_F = (||A||^2 + ||B||^2 - 2 ||A^T B||_*)^{1/2} = (2 - 2 ||A^T B||_*)^{1/2}. Eq. 5 carries
    the exponent 1/2, so d is the distance, not its square (as in ReSi's implementation). Zero-padding the narrower
    input changes neither norm, so the nuclear norm of the (d_a x d_b) cross-covariance is used directly
    (``torch.linalg.svdvals``; (n x n) when n < d). Because ||A^T B||_* >= 0, d <= sqrt(2): the attainable range
    is [1 - sqrt(2)/2, 1] ~ [0.293, 1], not the [0, 1] stated in the paper. Returns a python float.
    """
    ta, tb = _two_activations(a, b, "procrustes_similarity")
    pa = _procrustes_prepare(ta, arg="a", checked=True)
    pb = pa if tb is None else _procrustes_prepare(tb, arg="b", checked=True)
    return float(_procrustes_pair(pa, pb))


# ----------------------------------------------------------------------------------------------- k-NN Jaccard


def _knn_prepare(
    x: Any, k: int = 10, *, arg: str = "a", chunk_elements: int = 1 << 24, checked: bool = False
) -> Tensor:
    """(n, k) indices of each sample's k nearest neighbours by cosine similarity of centred rows, self excluded."""
    fn = "knn_jaccard"
    t = x if checked else V.activations(x, fn, arg)
    n = t.shape[0]
    k = V.neighbours(k, n, fn)
    x64 = t.to(torch.float64)
    xn = torch.nn.functional.normalize(x64 - x64.mean(dim=0, keepdim=True), dim=1)  # zero rows stay zero
    rows = max(1, chunk_elements // n)
    out = torch.empty(n, k, dtype=torch.int64, device=t.device)
    for i0 in range(0, n, rows):
        i1 = min(n, i0 + rows)
        sim = xn[i0:i1] @ xn.T
        idx = torch.arange(i1 - i0, device=t.device)
        sim[idx, idx + i0] = -math.inf
        out[i0:i1] = torch.topk(sim, k, dim=1).indices
    return out


def _knn_pair(na: Tensor, nb: Tensor) -> Tensor:
    V.same_shape("knn_jaccard", ("a", na), ("b", nb))
    k = na.shape[1]
    inter = (na[:, :, None] == nb[:, None, :]).sum(dim=(1, 2)).double()
    return (inter / (2 * k - inter)).mean()


def knn_jaccard(a: Any, b: Any, *, k: int = 10) -> float:
    """Mean Jaccard index of the k-nearest-neighbour sets of each sample in A and in B (robustness paper, Eq. 6).

    Neighbours by cosine similarity of the column-centred representations (float64), k = 10 by default, the sample
    itself excluded (so 1 <= k < n). Samples equal to the column mean have no direction; they get cosine 0 to all.
    Exact ties are broken by ``torch.topk``. Returns a python float in [0, 1].
    """
    ta, tb = _two_activations(a, b, "knn_jaccard")
    na = _knn_prepare(ta, k, arg="a", checked=True)
    nb = na if tb is None else _knn_prepare(tb, k, arg="b", checked=True)
    return float(_knn_pair(na, nb))


register_measure(
    MeasureRecord(
        name="linear_cka",
        fn=linear_cka,
        kind="representational",
        higher_is_similar=True,
        range=(0.0, 1.0),
        invariances=_REPR_INVARIANCES,
        symmetric=True,
        source="Kornblith et al. 2019; Robustness and universality, Eq. 4",
        formula=r"\frac{\|R'^{\top}R\|_F^2}{\|R^{\top}R\|_F\,\|R'^{\top}R'\|_F}",
        inputs="activations",
        prepare=lambda x, debiased=False: _cka_prepare(x, debiased),
        from_prepared=_cka_pair,
    )
)


def _linear_cka_debiased(a: Any, b: Any) -> float:
    """``linear_cka(a, b, debiased=True)``."""
    return linear_cka(a, b, debiased=True)


register_measure(
    MeasureRecord(
        name="linear_cka_debiased",
        fn=_linear_cka_debiased,
        kind="representational",
        higher_is_similar=True,
        range=(-1.0, 1.0),
        invariances=_REPR_INVARIANCES,
        symmetric=True,
        source="Kornblith et al. 2019 (debiased HSIC of Song et al. 2012); Nguyen et al. 2021",
        formula=r"\frac{\mathrm{HSIC}_1(K, L)}{\sqrt{\mathrm{HSIC}_1(K, K)\,\mathrm{HSIC}_1(L, L)}}",
        inputs="activations",
        prepare=lambda x: _cka_prepare(x, True),
        from_prepared=lambda pa, pb: _cka_pair(pa, pb, True),
    )
)
register_measure(
    MeasureRecord(
        name="procrustes_similarity",
        fn=procrustes_similarity,
        kind="representational",
        higher_is_similar=True,
        range=(1.0 - math.sqrt(2.0) / 2.0, 1.0),
        invariances=_REPR_INVARIANCES,
        symmetric=True,
        source="Robustness and universality, Eq. 5 (Ding et al. 2021; Williams et al. 2021)",
        formula=r"\frac{2 - (\|R\|_F^2 + \|R'\|_F^2 - 2\|R^{\top}R'\|_*)^{1/2}}{2}",
        inputs="activations",
        prepare=_procrustes_prepare,
        from_prepared=_procrustes_pair,
    )
)
register_measure(
    MeasureRecord(
        name="knn_jaccard",
        fn=knn_jaccard,
        kind="representational",
        higher_is_similar=True,
        range=(0.0, 1.0),
        invariances=_REPR_INVARIANCES,
        symmetric=True,
        source="Robustness and universality, Eq. 6",
        formula=r"\frac{1}{N}\sum_{i=1}^{N}\frac{|\mathcal{N}_i^k(R)\cap\mathcal{N}_i^k(R')|}"
        r"{|\mathcal{N}_i^k(R)\cup\mathcal{N}_i^k(R')|}",
        inputs="activations",
        prepare=lambda x, k=10: _knn_prepare(x, k),
        from_prepared=lambda pa, pb, k=10: _knn_pair(pa, pb),
    )
)
