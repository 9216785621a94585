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


MISSING = "—"
"""How a table cell without a value (NaN: a correlation of a constant, a p-value a test does not give) prints."""
MAX_ROWS = 300


def frame_html(df: pd.DataFrame) -> str:
    """A DataFrame as the notebook shows it, but with missing values as ``MISSING`` instead of ``NaN``."""
    return df.to_html(na_rep=MISSING, notebook=True, max_rows=pd.get_option("display.max_rows"),
                      max_cols=pd.get_option("display.max_columns"), show_dimensions=False)


def use_display() -> None:
    """Tables in a chapter print whole: no cell cut at 50 characters, no rows or columns elided (up to
    ``MAX_ROWS`` rows), and a missing value prints as ``MISSING``. Call once per notebook, after the imports."""
    pd.set_option("display.max_colwidth", None)
    pd.set_option("display.max_rows", MAX_ROWS)
    pd.set_option("display.max_columns", None)
    pd.set_option("display.width", None)
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with the notebook stack
        return
    shell = get_ipython()
    if shell is not None:
        shell.display_formatter.formatters["text/html"].for_type(pd.DataFrame, frame_html)
