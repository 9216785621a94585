"""What a model costs: parameter count, measured forward+backward time, and the cheapest-per-family pick.

``python -m sat_lib.models.measure [zoo] --out CSV`` re-measures a zoo on this machine (the ``cifar-quick``
members were chosen from ``zoos/cifar_cpu_cost.csv``, written this way on a 2-core CPU).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping

import torch
from torch import nn

_log = logging.getLogger(__name__)


def count_params(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of parameters (shared tensors counted once)."""
    seen: dict[int, int] = {}
    for p in model.parameters():
        if not trainable_only or p.requires_grad:
            seen[id(p)] = p.numel()
    return sum(seen.values())


def fwd_bwd_ms(model: nn.Module, *, batch_size: int = 128, img_size: int = 32, in_chans: int = 3,
               repeats: int = 5, device: str | torch.device = "cpu") -> float:
    """Fastest of ``repeats`` timed forward+backward passes (train mode, after one warm-up), in milliseconds.

    The minimum, not the mean: on a shared machine the noise only ever adds time.
    """
    if repeats < 1:
        raise ValueError(f"fwd_bwd_ms: repeats must be >= 1, got {repeats}")
    model = model.to(device).train()
    x = torch.rand(batch_size, in_chans, img_size, img_size, device=device)
    times = []
    for i in range(repeats + 1):
        model.zero_grad(set_to_none=True)
        if torch.device(device).type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        model(x).float().logsumexp(dim=1).mean().backward()
        if torch.device(device).type == "cuda":
            torch.cuda.synchronize()
        if i > 0:
            times.append(time.perf_counter() - start)
    return 1000 * min(times)


def cheapest_per_family(costs: Mapping[str, float], families: Mapping[str, str], k: int, *,
                        must_include: Iterable[str] = ()) -> list[str]:
    """Pick ``k`` names: the cheapest of every family, then ``must_include``, then the cheapest of the rest.

    Returned in order of cost. Raises if ``k`` is too small to hold one per family plus ``must_include``.
    """
    missing = sorted(set(families) - set(costs))
    if missing:
        raise ValueError(f"cheapest_per_family: no cost for {missing}")
    by_cost = sorted(families, key=lambda n: costs[n])
    picked: list[str] = []
    for family in dict.fromkeys(families.values()):
        picked.append(next(n for n in by_cost if families[n] == family))
    picked += [n for n in must_include if n not in picked]
    if len(picked) > k:
        raise ValueError(f"cheapest_per_family: k={k} is too small for one model per family plus {list(must_include)}"
                         f" ({len(picked)} needed)")
    picked += [n for n in by_cost if n not in picked][: k - len(picked)]
    return sorted(picked, key=lambda n: costs[n])


def measure_zoo(zoo_name: str, *, batch_size: int = 128, img_size: int = 32, num_classes: int = 10,
                repeats: int = 3, passes: int = 2) -> list[dict[str, object]]:
    """Parameter count and ``fwd_bwd_ms`` of every member of a zoo on the CPU.

    The zoo is swept ``passes`` times and each model keeps its fastest time, so that a burst of load from
    other processes does not decide the ranking.
    """
    from sat_lib.models.zoos import get_zoo

    rows: dict[str, dict[str, object]] = {}
    for _ in range(passes):
        for entry in get_zoo(zoo_name):
            torch.manual_seed(0)
            model = entry.build(num_classes=num_classes, img_size=img_size)
            ms = fwd_bwd_ms(model, batch_size=batch_size, img_size=img_size, repeats=repeats)
            row = rows.setdefault(entry.name, {"name": entry.name, "family": entry.family,
                                               "params": count_params(model), "fwd_bwd_ms": float("inf")})
            row["fwd_bwd_ms"] = round(min(float(row["fwd_bwd_ms"]), ms), 1)
            _log.info("%s", row)
    return list(rows.values())
