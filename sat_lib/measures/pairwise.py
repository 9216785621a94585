"""All pairs of models at once: preprocess each model once, compute each unordered pair once."""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from ._registry import MEASURES, MeasureRecord, find_record


def _resolve(measure: str | Callable[..., Any] | MeasureRecord) -> tuple[MeasureRecord | None, Callable[..., Any], str]:
    if isinstance(measure, MeasureRecord):
        return measure, measure.fn, measure.name
    if isinstance(measure, str):
        record = MEASURES[measure]  # unknown names raise with close matches
        return record, record.fn, record.name
    if callable(measure):
        record = find_record(measure)
        name = record.name if record else getattr(measure, "__name__", repr(measure))
        return record, measure, name
    raise TypeError(f"pairwise: argument 'measure' must be a measure name or a function, got {type(measure).__name__}")


def pairwise(
    measure: str | Callable[..., Any] | MeasureRecord,
    items: Sequence[Any] | Mapping[str, Any],
    names: Sequence[str] | None = None,
    *,
    symmetric: bool | None = None,
    **kwargs: Any,
):
    """Matrix of ``measure(items[i], items[j], **kwargs)`` as an ``xarray.DataArray`` over dims ``model`` x ``model_b``.

    ``measure``: a registered name (see ``MEASURES``), a registered function or any function of two items.
    ``items``: a sequence (named ``names`` or "m0", "m1", ...) or a mapping name -> item. Registered measures with a
    ``prepare``/``from_prepared`` pair preprocess every item once (centring, norms, neighbour lists) and then only do
    the pair step. Symmetric measures (from the registry, or ``symmetric=True`` for plain functions) compute each
    unordered pair once, diagonal included, and mirror it; others compute every ordered pair. Values are float64;
    ``attrs`` name the measure (netCDF-safe: str / int only).
    """
    import xarray as xr

    record, fn, name = _resolve(measure)
    if record is not None and not record.is_pair:
        hint = " (use sat_matrix for SAT)" if record.inputs == "transfer" else ""
        raise ValueError(
            f"pairwise: measure {name!r} takes {record.inputs!r} inputs, not one item per model; expected a pair "
            f"measure such as {', '.join(n for n, r in MEASURES.items() if r.is_pair)}{hint}"
        )
    if isinstance(items, Mapping):
        if names is None:
            names = [str(k) for k in items]
        items = list(items.values())
    items = list(items)
    if len(items) < 1:
        raise ValueError("pairwise: argument 'items' is empty; expected at least one model's outputs")
    names = [f"m{i}" for i in range(len(items))] if names is None else [str(n) for n in names]
    if len(names) != len(items):
        raise ValueError(f"pairwise: got {len(names)} names for {len(items)} items; expected one name per item")
    if len(set(names)) != len(names):
        raise ValueError(f"pairwise: argument 'names' has duplicates: {names}")
    sym = record.symmetric if symmetric is None and record is not None else bool(symmetric)

    if record is not None and record.prepare is not None:
        prepared = [record.prepare(x, **kwargs) for x in items]

        def pair(i: int, j: int) -> Any:
            return record.from_prepared(prepared[i], prepared[j], **kwargs)
    else:

        def pair(i: int, j: int) -> Any:
            return fn(items[i], items[j], **kwargs)

    m = len(items)
    index = [(i, j) for i in range(m) for j in range(i if sym else 0, m)]
    values = [pair(i, j) for i, j in index]
    device = next((v.device for v in values if isinstance(v, torch.Tensor)), torch.device("cpu"))
    flat = torch.stack([torch.as_tensor(v, dtype=torch.float64, device=device).reshape(()) for v in values]).cpu()
    out = torch.full((m, m), float("nan"), dtype=torch.float64)
    rows = torch.tensor([i for i, _ in index])
    cols = torch.tensor([j for _, j in index])
    out[rows, cols] = flat
    if sym:
        out[cols, rows] = flat
    attrs = {
        "measure": name,
        "symmetric": int(sym),
        "kwargs_json": json.dumps(kwargs, sort_keys=True, default=str),
    }
    if record is not None:
        attrs.update(higher_is_similar=int(record.higher_is_similar), source=record.source)
    return xr.DataArray(
        out.numpy(),
        dims=("model", "model_b"),
        coords={"model": names, "model_b": names},
        name="similarity",
        attrs=attrs,
    )
