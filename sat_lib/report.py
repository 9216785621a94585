"""Small tables that every chapter shows: the parameters and provenance of the result it renders."""
from __future__ import annotations

import json

import pandas as pd
import xarray as xr


def provenance(ds: xr.Dataset) -> pd.DataFrame:
    """Where the result came from: commit, device, time, package versions."""
    versions = json.loads(ds.attrs.get("versions_json", "{}"))
    rows = {
        "git commit": ds.attrs.get("git_commit"),
        "device": ds.attrs.get("device"),
        "computed at": ds.attrs.get("created_at"),
        "compute time (s)": ds.attrs.get("duration_s"),
        "cache key": ds.attrs.get("cache_key"),
        **{f"version: {k}": v for k, v in versions.items()},
    }
    return pd.DataFrame({"value": list(map(str, rows.values()))}, index=pd.Index(list(rows), name="provenance"))


def parameters(ds: xr.Dataset) -> pd.DataFrame:
    params = json.loads(ds.attrs.get("params_json", "{}"))
    return pd.DataFrame({"value": [json.dumps(v) if isinstance(v, list) else str(v) for v in params.values()]},
                        index=pd.Index(list(params), name="parameter"))
