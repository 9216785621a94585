"""Decision-region similarity (Somepalli et al., CVPR 2022, "Can neural nets learn the same model twice?"), the
baseline of the SAT paper's Table 1: two models' predicted labels on a grid in the plane through three test
images, compared point by point. The grids come from ``sat_lib.boundary.label_maps``; this is the score."""
from __future__ import annotations

from typing import Any

from torch import Tensor

from . import _validation as V
from ._registry import MeasureRecord, register_measure


def _maps(x: Any, fn: str, arg: str) -> Tensor:
    t = V.integer(x, fn, arg, ndim=3, what="(n_triplets, R, R) predicted labels on the planes")
    V.check_min_samples(t, fn, arg, 1)
    return t


def decision_region_similarity(a: Any, b: Any, *, reduce: str = "mean") -> float | Tensor:
    """Share of the grid points of each plane where the two models predict the same class, averaged over the
    planes (``reduce="mean"``: a float in [0, 1], 1 = identical decision regions) or per plane (``"none"``:
    float64 (n_triplets,))."""
    fn = "decision_region_similarity"
    V.choice(reduce, fn, "reduce", ("mean", "none"))
    ta, tb = _maps(a, fn, "a"), _maps(b, fn, "b")
    V.same_shape(fn, ("a", ta), ("b", tb))
    per = (ta == tb).flatten(1).double().mean(1)
    return float(per.mean()) if reduce == "mean" else per


register_measure(
    MeasureRecord(
        name="decision_region_similarity",
        fn=decision_region_similarity,
        kind="functional",
        higher_is_similar=True,
        range=(0.0, 1.0),
        invariances=frozenset({"sample_order"}),
        symmetric=True,
        source="Somepalli et al. 2022; SAT paper Table 1 (baseline)",
        formula=r"\frac{1}{T}\sum_{t=1}^{T}\frac{1}{R^2}\sum_{g}\mathbf{1}[A(p_{t,g}) = B(p_{t,g})]",
        inputs="label_maps",
    )
)
