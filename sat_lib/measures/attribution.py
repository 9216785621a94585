"""Attribution-based ensemble diversity (design-diversity paper, Eq. 7).

A = sum_c sum_p Var(a_{c,p}): for each sample, the variance across the ensemble members of the attribution score at
every colour channel c and pixel p, summed over channels and pixels; averaged over samples.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from . import _validation as V
from ._registry import MeasureRecord, register_measure
from .gradient import eval_mode, target_indices, unit_rows


def attribution_variance(attributions: Any, *, normalize: bool = False, reduce: str = "mean") -> float | Tensor:
    """Eq. 7 on stacked attributions (M, n, C, H, W) (any trailing shape): per sample sum over features of the
    *population* variance across the M members (the members are the whole ensemble, so divide by M).

    ``normalize=True`` first scales every member's attribution map of a sample to unit L2 norm, so the score no
    longer depends on how large one architecture's gradients are, and becomes A_norm = 1 - ||mean_m u_m||^2 in
    [0, 1] (0 = all members point the same way; this is 1 minus the squared mean resultant length, the quantity
    behind :func:`~sat_lib.measures.gradient.mean_direction`). The paper plots a "normalized" metric without
    defining it; this is our choice. ``reduce="mean"``: python float over samples; ``"none"``: float64 (n,) tensor.
    """
    fn = "attribution_variance"
    V.choice(reduce, fn, "reduce", ("mean", "none"))
    t = V.floating(V.stack(attributions, fn, "attributions"), fn, "attributions", ndim=tuple(range(3, 10)),
                   what="(n_members, n_samples, ...) attributions")
    m, n = t.shape[:2]
    if m < 2:
        raise ValueError(f"{fn}: argument 'attributions' has shape {tuple(t.shape)}; expected at least 2 members")
    if n < 1:
        raise ValueError(f"{fn}: argument 'attributions' has shape {tuple(t.shape)}; expected at least 1 sample")
    a = t.reshape(m, n, -1).to(torch.float64)
    if normalize:
        a = unit_rows(a.reshape(m * n, -1), fn, "attributions", "raise").reshape(m, n, -1)
    per_sample = a.var(dim=0, correction=0).sum(dim=1)
    return float(per_sample.mean()) if reduce == "mean" else per_sample


def attribution_diversity(
    models: Sequence[nn.Module],
    x: Any,
    target: Any,
    *,
    method: str = "saliency",
    normalize: bool = False,
    absolute: bool | None = None,
    n_steps: int = 50,
    internal_batch_size: int | None = None,
    baselines: Any = None,
    reduce: str = "mean",
) -> float | Tensor:
    """Attribution diversity of an ensemble on a batch (Eq. 7) with captum ``Saliency`` or ``IntegratedGradients``.

    ``target``: int or (n,) class indices (usually the true labels). ``absolute``: Saliency's ``abs`` — by default
    True for "saliency" (captum's default, Simonyan et al.'s |gradient| maps as shown in the paper's Fig. 2) and False
    for "integrated_gradients" (signed). ``n_steps`` and ``internal_batch_size`` (bounds memory) go to IG;
    ``baselines`` defaults to zeros. Each model runs in eval mode; its modes are restored. See
    :func:`attribution_variance` for ``normalize`` and ``reduce``.
    """
    fn = "attribution_diversity"
    V.choice(method, fn, "method", ("saliency", "integrated_gradients"))
    if len(models) < 2:
        raise ValueError(f"{fn}: argument 'models' has {len(models)} model(s); expected at least 2")
    xt = V.floating(x, fn, "x", ndim=tuple(range(2, 9)), what="a batch (n_samples, ...)")
    y = target_indices(target, xt.shape[0], xt.device, fn)
    n_steps = V.positive_int(n_steps, fn, "n_steps")
    from captum.attr import IntegratedGradients, Saliency

    maps = []
    for model in models:
        with eval_mode(model):
            xi = xt.detach().clone().requires_grad_(True)
            if method == "saliency":
                use_abs = True if absolute is None else bool(absolute)
                a = Saliency(model).attribute(xi, target=y, abs=use_abs)
            else:
                a = IntegratedGradients(model).attribute(
                    xi, baselines=baselines, target=y, n_steps=n_steps, internal_batch_size=internal_batch_size
                )
                if absolute:
                    a = a.abs()
        maps.append(a.detach())
    return attribution_variance(torch.stack(maps), normalize=normalize, reduce=reduce)


register_measure(
    MeasureRecord(
        name="attribution_variance",
        fn=attribution_variance,
        kind="gradient",
        higher_is_similar=False,
        range=(0.0, float("inf")),
        invariances=frozenset({"sample_order", "member_order"}),
        symmetric=True,
        source="Design diversity, Eq. 7",
        formula=r"\sum_{c=1}^{C}\sum_{p=1}^{P}\mathrm{Var}(a_{c,p})",
        inputs="attributions",
    )
)
