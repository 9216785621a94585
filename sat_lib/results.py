"""Results: one xarray Dataset per computation, saved as netCDF, keyed by a hash of its parameters.

``load_or_compute(chapter, params, compute)`` is the one entry point chapters use. Files live under
``<results_dir>/<chapter>/<key>.nc``; they are written atomically (temp file + rename) after ``validate``; an
unreadable file is a cache miss, never a crash. ``mode`` is ``auto`` (load, else compute), ``recompute`` or
``cache_only`` (the book build: never trains; a miss is an error that says how to compute it).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from sat_lib._files import atomic_path
from sat_lib.provenance import PROJECT_ROOT, git_commit, provenance_attrs

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
REQUIRED_ATTRS = ("chapter", "params_json", "git_commit", "versions_json", "device", "duration_s", "created_at",
                  "cache_key", "schema_version")
MODES = ("auto", "recompute", "cache_only")
DEFAULT_RESULTS_DIR = PROJECT_ROOT / "data" / "results"


class CacheMiss(LookupError):
    """``cache_only`` asked for a result that is not stored."""


class InvalidResult(ValueError):
    """A Dataset that breaks the result schema."""


def params_dict(params: Any) -> dict[str, Any]:
    """A plain, JSON-able dict from a dataclass or mapping (tuples become lists)."""
    if dataclasses.is_dataclass(params):
        params = dataclasses.asdict(params)
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a dataclass or a mapping, got {type(params).__name__}")
    return json.loads(json.dumps(dict(params), sort_keys=True, default=str))


def cache_key(chapter: str, params: Any, version: int = 1) -> str:
    """A stable 16-hex-digit key from the chapter name, its computation version and its parameters."""
    payload = json.dumps({"chapter": chapter, "version": version, "params": params_dict(params)}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def result_path(chapter: str, params: Any, *, version: int = 1, results_dir: str | Path | None = None) -> Path:
    root = Path(results_dir) if results_dir is not None else DEFAULT_RESULTS_DIR
    return root / chapter / f"{cache_key(chapter, params, version)}.nc"


def validate(ds: xr.Dataset) -> None:
    """Every dim has a coordinate; provenance attrs are present; attrs are netCDF-storable."""
    if not isinstance(ds, xr.Dataset):
        raise InvalidResult(f"a result must be an xarray.Dataset, got {type(ds).__name__}")
    missing_coords = [d for d in ds.dims if d not in ds.coords]
    if missing_coords:
        raise InvalidResult(f"result dims without a coordinate: {missing_coords}; add coords= for each dim")
    missing = [a for a in REQUIRED_ATTRS if a not in ds.attrs]
    if missing:
        raise InvalidResult(f"result is missing provenance attrs {missing}")
    for holder in [ds, *ds.data_vars.values(), *ds.coords.values()]:
        for k, v in holder.attrs.items():
            if not isinstance(v, (str, int, float, np.integer, np.floating, np.ndarray, list, tuple)):
                raise InvalidResult(f"attr {k!r} of {getattr(holder, 'name', 'dataset')!r} is a {type(v).__name__};"
                                    " store dicts as JSON strings")


def _encode_bools(ds: xr.Dataset) -> xr.Dataset:
    """netCDF has no bool: store as int8 with a flag so loading restores bool."""
    out = ds.copy()
    for name, var in list(out.variables.items()):
        if var.dtype == bool:
            out[name] = var.astype("int8")
            out[name].attrs["sat_dtype"] = "bool"
    return out


def _decode_bools(ds: xr.Dataset) -> xr.Dataset:
    for name, var in list(ds.variables.items()):
        if var.attrs.get("sat_dtype") == "bool":
            attrs = {k: v for k, v in var.attrs.items() if k != "sat_dtype"}
            ds[name] = var.astype(bool)
            ds[name].attrs = attrs
    return ds


def save(ds: xr.Dataset, path: str | Path) -> Path:
    """Validate, then write atomically: a temp file in the same folder, renamed into place."""
    validate(ds)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    encoding = {name: {"zlib": True, "complevel": 4} for name, v in ds.data_vars.items() if v.ndim > 0}
    with atomic_path(path, suffix=".nc.tmp") as tmp:
        _encode_bools(ds).to_netcdf(tmp, engine="h5netcdf", encoding=encoding)
    return path


def load(path: str | Path) -> xr.Dataset:
    """Open a result fully into memory (the file is closed afterwards)."""
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        return _decode_bools(ds.load())


def try_load(path: Path) -> xr.Dataset | None:
    if not path.exists():
        return None
    try:
        ds = load(path)
        validate(ds)
        return ds
    except Exception as err:  # an unreadable entry is a miss, not a crash
        log.warning("ignoring unreadable result %s (%s); it will be recomputed", path, err)
        return None


def load_or_compute(chapter: str, params: Any, compute: Callable[[], xr.Dataset], *, mode: str = "auto",
                    version: int = 1, results_dir: str | Path | None = None,
                    device: Any = None) -> xr.Dataset:
    """Return the stored result for (chapter, params), computing and storing it when needed.

    ``compute`` returns a Dataset without provenance; this function adds it (params, git commit, versions,
    device, duration, created-at, cache key) and saves atomically.
    """
    if mode not in MODES:
        raise ValueError(f"load_or_compute: mode must be one of {MODES}, got {mode!r}")
    path = result_path(chapter, params, version=version, results_dir=results_dir)
    if mode != "recompute":
        ds = try_load(path)
        if ds is not None:
            log.info("loaded %s", path)
            return ds
        if mode == "cache_only":
            raise CacheMiss(
                f"no stored result for chapter {chapter!r} with these parameters (looked for {path}); run "
                f"`sat-companion run {chapter} ...` without --cache-only to compute it")
    git_commit()  # recorded as the computation starts: the code that computes is the code checked out now
    start = time.perf_counter()
    ds = compute()
    pdict = params_dict(params)
    ds.attrs.update(provenance_attrs(pdict, device=device, duration_s=time.perf_counter() - start))
    ds.attrs.update(chapter=chapter, cache_key=path.stem, schema_version=SCHEMA_VERSION)
    save(ds, path)
    log.info("saved %s", path)
    return ds


def params_of(ds: xr.Dataset) -> dict[str, Any]:
    return json.loads(ds.attrs["params_json"])
