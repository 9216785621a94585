"""Layout calibration: choices are measured, cached, keyed by what decides them, and leave the model alone."""
import json

import pytest
import torch
import torch.nn as nn

from sat_lib.precision import (LAYOUTS, Calibrations, Layout, calibration_key, candidates, choose_layout,
                               cpu_supports_bf16, pinned, resolve_precision, unmeasured)


def net(width=8):
    return nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.Dropout(0.5),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 10))


def test_candidates_on_cpu():
    assert candidates("fp32", torch.device("cpu")) == [Layout("fp32", False), Layout("fp32", True)]
    auto = candidates("auto", torch.device("cpu"))
    assert {c.precision for c in auto} == ({"fp32", "bf16"} if cpu_supports_bf16() else {"fp32"})
    assert str(Layout("bf16", True)) == "bf16+cl" and str(Layout("fp32", False)) == "fp32"


def test_unknown_precision_is_named():
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve_precision("fp16", torch.device("cpu"))
    with pytest.raises(ValueError, match="precision must be one of"):
        choose_layout(net(), (3, 8, 8), "half", "cpu")


def test_calibration_leaves_model_and_random_state_alone(tmp_path):
    torch.manual_seed(0)
    model = net()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    state = torch.get_rng_state()
    layout = choose_layout(model, (3, 8, 8), "auto", "cpu", store=Calibrations(tmp_path / "c.json"))
    assert layout in candidates("auto", torch.device("cpu"))
    assert torch.equal(state, torch.get_rng_state())  # dropout in the probe did not draw from the global RNG
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert model.training


def test_choice_is_cached_on_disk_and_reused(tmp_path):
    path = tmp_path / "c.json"
    model = net()
    first = choose_layout(model, (3, 8, 8), "fp32", "cpu", store=Calibrations(path))
    data = json.loads(path.read_text())
    (key, record), = data.items()
    assert key == calibration_key(model, (3, 8, 8), "fp32", torch.device("cpu"))
    assert set(record["seconds_per_step"]) == {"fp32", "fp32+cl"}
    # a forged record is what a fresh store returns: the file is the source of truth, nothing is re-timed
    record["channels_last"] = not first.channels_last
    path.write_text(json.dumps({key: record}))
    assert choose_layout(model, (1, 3, 8, 8), "fp32", "cpu", store=Calibrations(path)).channels_last \
        == (not first.channels_last)


def test_key_depends_on_structure_and_input():
    a = calibration_key(net(8), (3, 8, 8), "auto", torch.device("cpu"))
    assert a != calibration_key(net(16), (3, 8, 8), "auto", torch.device("cpu"))
    assert a != calibration_key(net(8), (3, 16, 16), "auto", torch.device("cpu"))
    assert a != calibration_key(net(8), (3, 8, 8), "fp32", torch.device("cpu"))


def test_unreadable_calibration_file_is_a_miss(tmp_path):
    path = tmp_path / "c.json"
    path.write_text("{not json")
    layout = choose_layout(net(), (3, 8, 8), "fp32", "cpu", store=Calibrations(path))
    assert layout.precision == "fp32" and json.loads(path.read_text())


def test_works_inside_inference_mode(tmp_path):
    with torch.inference_mode():
        layout = choose_layout(net(), (3, 8, 8), "fp32", "cpu", store=Calibrations(tmp_path / "c.json"))
    assert layout.precision == "fp32"


def test_unmeasured_times_nothing_stores_nothing_and_uses_a_stored_choice(tmp_path):
    """A dry run's layouts: the first candidate on a miss, never written; a stored choice where there is one."""
    path = tmp_path / "c.json"
    with unmeasured():
        assert choose_layout(net(), (3, 8, 8), "fp32", "cpu", store=Calibrations(path)) == Layout("fp32", False)
    assert not path.exists()
    stored = choose_layout(net(), (3, 8, 8), "fp32", "cpu", store=Calibrations(path))  # measured and stored
    with unmeasured():
        assert choose_layout(net(), (3, 8, 8), "fp32", "cpu", store=Calibrations(path)) == stored


def test_layout_names_read_back():
    assert [str(Layout.parse(name)) for name in LAYOUTS] == list(LAYOUTS)
    with pytest.raises(ValueError, match="a layout is one of fp32, fp32[+]cl, bf16, bf16[+]cl; got 'fp16'"):
        Layout.parse("fp16")


def test_a_pinned_layout_is_used_untimed_and_unstored(tmp_path):
    """Redoing stored work in the layout it recorded: the pin wins over a stored choice and measures nothing."""
    path = tmp_path / "c.json"
    stored = choose_layout(net(), (3, 8, 8), "fp32", "cpu", store=Calibrations(path))
    other = next(c for c in candidates("fp32", torch.device("cpu")) if c != stored)
    before = path.read_text()
    with pinned(other):
        assert choose_layout(net(), (3, 8, 8), "fp32", "cpu", store=Calibrations(path)) == other
        assert choose_layout(net(16), (3, 8, 8), "fp32", "cpu", store=Calibrations(path)) == other
    assert path.read_text() == before
    assert choose_layout(net(), (3, 8, 8), "fp32", "cpu", store=Calibrations(path)) == stored


def test_a_call_whose_precision_cannot_run_the_pinned_layout_chooses_as_usual(tmp_path):
    """An fp32 attack of a model pinned to bf16 (the strong attacks of the training-length section)."""
    path = tmp_path / "c.json"
    usual = choose_layout(net(), (3, 8, 8), "fp32", "cpu", store=Calibrations(path))
    with pinned(Layout("bf16", False)):
        assert choose_layout(net(), (3, 8, 8), "fp32", "cpu", store=Calibrations(path)) == usual
