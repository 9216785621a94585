"""The chapter registry's result keys: a key covers the whole chain of stored results a chapter reads."""
import json
from pathlib import Path

import xarray as xr

from sat_lib.experiments._chapter import CHAPTERS, resolve_params, result_key_params, upstream_keys
from sat_lib.results import cache_key


def key_of(cfg):
    return cache_key(cfg.chapter, result_key_params(cfg), version=CHAPTERS[cfg.chapter].version)


def test_a_key_two_steps_down_follows_a_change_two_steps_up():
    """diversity-training reads corruptions, which reads sat-matrix: another sat-matrix result must give
    diversity-training another key (it once recorded corruptions' key without corruptions' own upstream)."""
    dt = resolve_params("diversity-training", "smoke")
    corr = dt.corruptions_config()
    assert result_key_params(dt)["upstream"] == {"corruptions": key_of(corr)}
    assert "sat-matrix" in result_key_params(corr)["upstream"]
    changed = corr.replace(matrix_profile="quick")
    assert key_of(changed) != key_of(corr)
    assert upstream_keys(changed) != upstream_keys(corr)


def test_every_committed_result_names_upstream_results_that_are_committed():
    """A committed result's recorded upstream keys are the keys of committed results (the file names): a key
    computed any other way than the upstream chapter stores by would point at nothing."""
    root = Path(__file__).resolve().parents[2] / "data" / "results"
    checked = 0
    for path in sorted(root.glob("*/*.nc")):
        with xr.open_dataset(path) as ds:
            upstream = json.loads(ds.attrs["params_json"]).get("upstream", {})
        for chapter, key in upstream.items():
            assert (root / chapter / f"{key}.nc").exists(), f"{path.relative_to(root)} names {chapter}/{key}.nc"
            checked += 1
    assert checked >= 7  # corruptions, diversity-ensembles/-training, sat-attacks/-components/-distillation/-ensembles


def test_a_chapter_without_upstream_is_keyed_by_its_parameters_alone():
    cfg = resolve_params("sat-matrix", "smoke")
    assert "upstream" not in result_key_params(cfg)
