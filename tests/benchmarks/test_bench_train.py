"""``benchmarks/bench_train.py --resume``: which stored trainings a resumed search replays."""
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import bench_train  # noqa: E402


def _record(**over):
    base = {key: f"value of {key}" for key in bench_train.RESUME_KEYS}
    base["setups"] = {"ours": {"batch_size": 256}, "peer": {"batch": 256, "lr": 0.1}}
    return {**base, **over}


def _write(tmp_path, record):
    trials = [{"trainer": t, "seed": 0, "epochs": e, "seconds": 1.0, "accuracy": 0.5}
              for t in ("ours", "peer") for e in (3, 4)]
    path = tmp_path / "train-cpu.json"
    path.write_text(json.dumps({**record, "trials": trials, "created_at": "then"}))
    return path


def test_a_resumed_search_replays_the_trainings_of_an_unchanged_setup(tmp_path):
    path = _write(tmp_path, _record())
    assert set(bench_train.resumable_trials(path, _record())) == {(0, t, e) for t in ("ours", "peer") for e in (3, 4)}


def test_a_trainer_whose_setup_changed_trains_again(tmp_path):
    path = _write(tmp_path, _record())
    now = _record(setups={"ours": {"batch_size": 128}, "peer": {"batch": 256, "lr": 0.1}})
    assert set(bench_train.resumable_trials(path, now)) == {(0, "peer", 3), (0, "peer", 4)}


def test_a_record_without_setups_replays_nothing(tmp_path):
    old = _record()
    del old["setups"]
    assert bench_train.resumable_trials(_write(tmp_path, old), _record()) == {}


def test_another_device_or_target_refuses_to_resume(tmp_path, capsys):
    path = _write(tmp_path, _record())
    with pytest.raises(SystemExit) as stop:
        bench_train.resumable_trials(path, _record(target_accuracy=0.9))
    assert stop.value.code == 2
    assert "target_accuracy" in capsys.readouterr().err
