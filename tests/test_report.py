"""``sat_lib.report``: the rerun box every chapter page opens with (its exact command, the cost per profile read
from stored results), the parameters table, and how tables display (rounded, readable names, scrolled)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from sat_lib import report
from sat_lib.experiments import CHAPTERS, resolve_params
from sat_lib.params import coerce


# ------------------------------------------------------------------------------------------------ rerun

@pytest.mark.parametrize("value, text", [(8 / 255, "8/255"), (0.2, "0.2"), (2 / 255, "2/255"), (1 / 3, "1/3"),
                                         (True, "true"), (None, "none"), (("a", "b"), "a,b"), ((), '""'),
                                         ([250, 500], "250,500"), ("cifar-cpu", "cifar-cpu"), (3, "3")])
def test_cli_value_is_what_dash_p_reads_back(value, text):
    assert report.cli_value(value) == text


@pytest.mark.parametrize("name", list(CHAPTERS))
def test_every_parameter_of_every_profile_round_trips_through_dash_p(name):
    """The command a page prints regenerates it: each value, written by ``cli_value``, is typed back to itself by
    ``-p``'s coercion."""
    cfg = resolve_params(name, "quick")
    types = cfg.field_types()
    for key, value in cfg.as_dict().items():
        text = report.cli_value(value)
        text = "" if text == '""' else text.strip("'")
        back = coerce(types[key], text, key)
        assert back == (tuple(value) if isinstance(value, list) else value), (key, value, text)


def test_command_names_the_profile_and_only_the_overrides():
    cfg = resolve_params("sat-matrix", "quick")
    assert report.command(cfg) == "sat-companion run sat-matrix --profile quick"
    assert report.profile_of(cfg) == ("quick", {})
    smoke = resolve_params("sat-matrix", "smoke")
    assert report.command(smoke) == "sat-companion run sat-matrix --profile smoke"
    changed = cfg.replace(n_images=1000, eps=4 / 255)
    assert report.command(changed).endswith(" -p n_images 1000 -p eps 4/255") or \
        report.command(changed).endswith(" -p eps 4/255 -p n_images 1000")


def _result(minutes: float, device: str = "cpu (test)") -> xr.Dataset:
    return xr.Dataset(attrs={"duration_s": minutes * 60, "device": device})


def test_rerun_reads_each_profiles_cost_from_its_stored_result(monkeypatch):
    here = _result(87)
    stored = {"paper": _result(12, "cuda (H100)")}
    monkeypatch.setattr(report, "stored", lambda name, profile: stored.get(profile))
    cfg = resolve_params("sat-components", "quick")
    text = report.rerun(cfg, here)
    assert "`sat-companion run sat-components --profile quick`" in text
    assert "-p seed 1" in text and "-p NAME VALUE" in text
    assert "- `smoke`: not run here" in text
    assert "- `quick` (this page): 87 min on cpu (test)" in text
    assert "- `paper`: 12 min on cuda (H100)" in text
    assert "`sat-matrix`" in text, "the upstream result it reads"
    assert text.startswith(":::{admonition} Rerun this page") and text.rstrip().endswith(":::")


def test_rerun_with_overrides_gives_the_page_its_own_line(monkeypatch):
    monkeypatch.setattr(report, "stored", lambda name, profile: None)
    cfg = resolve_params("sat-components", "quick").replace(n_boot=10)
    text = report.rerun(cfg, _result(0.5))
    assert "--profile quick -p n_boot 10" in text
    assert "- `quick`: not run here" in text and "these parameters (this page): 30 s" in text


def test_a_chapters_own_cost_function_and_a_cost_table_total(monkeypatch):
    monkeypatch.setattr(report, "stored", lambda name, profile: None)
    table = lambda ds: pd.DataFrame({"minutes": {"training": 60.0, "total": 90.0}})  # noqa: E731
    cfg = resolve_params("sat-matrix", "quick")
    assert "(this page): 90 min" in report.rerun(cfg, _result(5), cost=report.total_minutes(table))


def test_populations_add_up_and_a_page_that_reads_everything_costs_nothing():
    assert report.stored_minutes({"a": _result(10), "b": _result(20)}) == pytest.approx(30)
    assert report.stored_minutes(_result(10)) == pytest.approx(10)  # a Dataset is a Mapping too: not summed over
    text = report.rerun(resolve_params("status", "quick"), None)
    assert "computes nothing" in text and "`sat-companion run status --profile quick`" in text


@pytest.mark.parametrize("minutes, text", [(0.5, "30 s"), (87.2, "87 min"), (250, "4.2 h"), (np.nan, "not recorded")])
def test_duration_text(minutes, text):
    assert report.duration_text(minutes) == text


def test_rerun_on_a_stored_result():
    """The real thing: the stored quick result of a chapter that reads the zoo, its cost its recorded duration."""
    cfg = resolve_params("sat-components", "quick")
    ds = report.stored("sat-components", "quick")
    if ds is None:
        pytest.skip("no stored sat-components result at the quick profile")
    text = report.rerun(cfg, ds)
    assert f"(this page): {report.duration_text(float(ds.attrs['duration_s']) / 60)} on {ds.attrs['device']}" in text


def test_parameters_are_written_as_dash_p_takes_them():
    ds = xr.Dataset(attrs={"params_json": json.dumps({"eps": 8 / 255, "archs": ["a", "b"], "one_sided": False,
                                                      "zoo": "tiny", "upstream": {"sat-matrix": "abc"}})})
    values = report.parameters(ds)["value"].to_dict()
    assert values == {"eps": "8/255", "archs": "a,b", "one_sided": "false", "zoo": "tiny",
                      "upstream": "{'sat-matrix': 'abc'}"}


# ------------------------------------------------------------------------------------------ table display

@pytest.mark.parametrize("label, text", [("train_seconds", "train (s)"), ("student_accuracy", "student accuracy"),
                                         ("sat", "SAT"), ("vgg_c32", "vgg_c32"), ("water_drop@7 (%)",
                                                                                   "water_drop@7 (%)"),
                                         ("accuracy (%)", "accuracy (%)"), (3, 3)])
def test_column_labels(label, text):
    assert report.column_label(label) == text


def test_tables_round_to_what_they_support_and_keep_their_numbers():
    df = pd.DataFrame({
        "mean": [0.71936, 0.5], "low": [0.6827, 0.45], "high": [0.750914, 0.55],   # intervals ~0.07 wide: 3 decimals
        "train_seconds": [12.3456, 100.0],                                          # 3 significant digits: 1 decimal
        "models": [np.nan, 24.0],                                                   # whole numbers: none
        "p": [0.0312, 1e-7],                                                        # too small to round: 2 digits
        "accuracy": np.array([79.5, 57.971014], dtype="float32").astype(float),     # float32's noise dropped
        "ok": [True, False], "n": [1, 2], "name": ["a", "b"]})
    before = df.copy()
    shown = report.readable(df)
    pd.testing.assert_frame_equal(df, before)   # the numbers stored are untouched: only their display changes
    assert list(shown.columns) == ["mean", "low", "high", "train (s)", "models", "p", "accuracy", "ok", "n", "name"]
    assert shown["mean"].tolist() == ["0.719", "0.500"]
    assert shown["low"].tolist() == ["0.683", "0.450"] and shown["high"].tolist() == ["0.751", "0.550"]
    assert shown["train (s)"].tolist() == ["12.3", "100.0"]
    assert shown["models"].tolist() == [report.MISSING, "24"]
    assert shown["p"].tolist() == ["0.0312", "1.0e-07"]
    assert shown["accuracy"].tolist() == ["79.5", "58.0"]
    assert shown["ok"].tolist() == [True, False] and shown["n"].tolist() == [1, 2]


def test_a_rounded_column_keeps_no_more_decimals_than_it_carries():
    shown = report.readable(pd.DataFrame({"x": [0.5, 0.25, 1.0]}))
    assert shown["x"].tolist() == ["0.50", "0.25", "1.00"]


def test_pivoted_coordinate_values_keep_their_names():
    df = pd.DataFrame([[0.5, 0.5]], columns=pd.Index(["none", "isotropic_scaling"], name="transform"))
    assert list(report.readable(df).columns) == ["none", "isotropic_scaling"]


def test_object_columns_of_numbers_round_too():
    df = pd.DataFrame({"minutes": pd.Series([68.8765, None, 4.25], dtype=object)})
    assert report.readable(df)["minutes"].tolist() == ["68.9", report.MISSING, "4.2"]


def test_html_scrolls_sideways_and_prints_no_nan():
    wide = pd.DataFrame(np.arange(60.0).reshape(2, 30) + 0.123456, columns=[f"column_{i}" for i in range(30)])
    wide.iloc[0, 0] = np.nan
    html = report.frame_html(wide)
    assert html.startswith('<div class="table-scroll" style="overflow-x: auto;')
    assert "NaN" not in html and f"<td>{report.MISSING}</td>" in html
    assert "<td>1.1</td>" in html and "<td>31.1</td>" in html   # column_1: 1.123456 and 31.123456


def test_under_an_overlay_the_command_names_it(tmp_path, monkeypatch):
    from sat_lib.config import project_config

    overlay = project_config().root / "data" / "overlays" / "cifar-cpu-long.yml"
    monkeypatch.setenv("SAT_CONFIG_OVERLAY", "data/overlays/cifar-cpu-long.yml")  # relative to _config.yml's folder
    monkeypatch.chdir(tmp_path)
    cfg = resolve_params("sat-matrix", "quick")
    assert cfg.zoo == "cifar-cpu-long" and overlay.is_file()
    assert report.command(cfg) == ("SAT_CONFIG_OVERLAY=data/overlays/cifar-cpu-long.yml "
                                   "sat-companion run sat-matrix --profile quick")
