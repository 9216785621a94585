"""Which ensembles a result holds and their correctness: methods, roles, consensus rules."""
from __future__ import annotations

import json
import math
import warnings

import numpy as np
import xarray as xr

CHAPTER = "diversity-training"
CLEAN = "clean"
HETEROGENEOUS = "heterogeneous"


def methods(ds: xr.Dataset) -> list[str]:
    """The trained heuristics, in the result's order (the heterogeneous ensemble excluded)."""
    return list(dict.fromkeys(m for m in ds["method"].values.tolist() if m != HETEROGENEOUS))


def corrupted_sets(ds: xr.Dataset) -> list[str]:
    return [str(s) for s in ds["set"].values if s != CLEAN]


def own_rule(method: str) -> str:
    """The consensus rule an ensemble is scored with: its training rule ("gncl@median" → median), else average."""
    _, at, rule = method.partition("@")
    return rule if at else "average"


def role_method(ds: xr.Dataset, role: str) -> str:
    """"attribution" / "prediction" / "heterogeneous" → the method label that plays it (the chapter's config)."""
    if role == HETEROGENEOUS:
        return HETEROGENEOUS
    return str(params(ds)[f"{role}_method"])


def params(ds: xr.Dataset) -> dict:
    """The parameters the result was computed with."""
    return json.loads(ds.attrs["params_json"])


def ensemble_of(ds: xr.Dataset, method: str) -> xr.Dataset:
    """The ensembles of one method (its seeds), a selection of ``ds`` along ``ensemble``."""
    ens = ds["ensemble"].values[ds["method"].values == method]
    if not len(ens):
        raise KeyError(f"no ensembles of method {method!r} in this result (methods: {', '.join(methods(ds))})")
    return ds.sel(ensemble=ens)


def ensemble_correct(ds: xr.Dataset, method: str, rule: str | None = None) -> np.ndarray:
    """float (seeds, sets, images): 1 where the method's ensemble (under ``rule``, default ``own_rule``) is right;
    NaN for a diverged ensemble."""
    e = ensemble_of(ds, method)
    pred = e["ens_pred"].sel(rule=rule or own_rule(method)).values
    out = (pred == ds["label"].values).astype(float)
    out[e["diverged"].values.astype(bool)] = np.nan
    return out


def member_correct(ds: xr.Dataset, method: str) -> np.ndarray:
    """float (seeds, members, sets, images); NaN for absent members (pred −1) and diverged ensembles."""
    pred = ensemble_of(ds, method)["pred"].values
    out = (pred == ds["label"].values).astype(float)
    out[pred < 0] = np.nan
    return out


def nan_mean(a: np.ndarray, axis: int | None = None):
    """``np.nanmean`` without its warning: NaN where every value is NaN (a diverged ensemble, an absent member); a
    float without ``axis``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = np.nanmean(a, axis=axis)
    return float(out) if axis is None else out
