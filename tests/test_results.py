import json

import numpy as np
import pytest
import xarray as xr

from sat_lib import results
from sat_lib.results import CacheMiss, InvalidResult, cache_key, load_or_compute, result_path


def make(n=3):
    return xr.Dataset({"sat": (("model", "model_b"), np.eye(n)), "ok": ("model", np.array([True, False, True]))},
                      coords={"model": ["a", "b", "c"], "model_b": ["a", "b", "c"]})


def test_miss_then_hit_with_provenance(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return make()

    params = {"steps": 10, "models": ["a", "b"]}
    ds = load_or_compute("demo", params, compute, results_dir=tmp_path)
    ds2 = load_or_compute("demo", params, compute, results_dir=tmp_path)
    assert len(calls) == 1
    xr.testing.assert_identical(ds.drop_attrs(), ds2.drop_attrs())
    assert ds2["ok"].dtype == bool
    for key in results.REQUIRED_ATTRS:
        assert key in ds2.attrs
    assert json.loads(ds2.attrs["params_json"]) == params
    assert "torch" in json.loads(ds2.attrs["versions_json"])
    assert ds2.attrs["device"].startswith(("cpu", "cuda"))
    # xarray.open_dataset shows the same named dims and provenance
    with xr.open_dataset(result_path("demo", params, results_dir=tmp_path)) as raw:
        assert set(raw.dims) == {"model", "model_b"} and raw.attrs["chapter"] == "demo"


def test_other_params_miss_and_recompute_mode(tmp_path):
    calls = []
    compute = lambda: calls.append(1) or make()
    load_or_compute("demo", {"steps": 1}, compute, results_dir=tmp_path)
    load_or_compute("demo", {"steps": 2}, compute, results_dir=tmp_path)
    load_or_compute("demo", {"steps": 2}, compute, results_dir=tmp_path, mode="recompute")
    assert len(calls) == 3


def test_cache_only_never_computes(tmp_path):
    with pytest.raises(CacheMiss, match="without --cache-only"):
        load_or_compute("demo", {"a": 1}, lambda: pytest.fail("computed"), results_dir=tmp_path, mode="cache_only")
    assert not any(tmp_path.rglob("*.nc"))


def test_corrupt_file_is_a_miss(tmp_path):
    path = result_path("demo", {"a": 1}, results_dir=tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not netcdf")
    ds = load_or_compute("demo", {"a": 1}, make, results_dir=tmp_path)
    assert ds.sizes["model"] == 3 and results.load(path).sizes["model"] == 3


def test_atomic_write_leaves_nothing_on_failure(tmp_path, monkeypatch):
    def broken(self, path, *a, **k):
        open(path, "wb").write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", broken)
    with pytest.raises(OSError):
        load_or_compute("demo", {"a": 1}, make, results_dir=tmp_path)
    assert list(tmp_path.rglob("*")) == [tmp_path / "demo"]


def test_failing_compute_writes_nothing(tmp_path):
    with pytest.raises(ZeroDivisionError):
        load_or_compute("demo", {"a": 1}, lambda: 1 / 0, results_dir=tmp_path)
    assert not any(tmp_path.rglob("*.nc"))


def test_schema_is_enforced(tmp_path):
    ds = xr.Dataset({"x": (("model",), [1.0, 2.0])})  # dim without a coordinate
    with pytest.raises(InvalidResult, match="without a coordinate"):
        load_or_compute("demo", {}, lambda: ds, results_dir=tmp_path)
    bad = make()
    bad.attrs["nested"] = {"a": 1}
    with pytest.raises(InvalidResult, match="JSON"):
        load_or_compute("demo", {}, lambda: bad, results_dir=tmp_path)


def test_key_is_stable_and_order_free():
    assert cache_key("c", {"a": 1, "b": [1, 2]}) == cache_key("c", {"b": [1, 2], "a": 1})
    assert cache_key("c", {"a": 1}) != cache_key("c", {"a": 2}) != cache_key("d", {"a": 2})
    assert cache_key("c", {"a": (1, 2)}) == cache_key("c", {"a": [1, 2]})


def test_bad_mode(tmp_path):
    with pytest.raises(ValueError, match="mode"):
        load_or_compute("demo", {}, make, results_dir=tmp_path, mode="sometimes")
