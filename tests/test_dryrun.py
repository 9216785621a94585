"""Dry runs (``sat_lib.dryrun``, ``sat-companion run <chapter> --dry-run``): every model a chapter's profile builds is
built, trained and attacked for a few steps on synthetic images, an estimate is printed, nothing is written,
and bad input exits 2 as for ``run``."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from sat_lib import dryrun
from sat_lib.cli import main
from sat_lib.dryrun import GEOMETRY, DryJob, Work, split_size, synthetic
from sat_lib.experiments import CHAPTERS, resolve_params
from sat_lib.models import get_zoo
from sat_lib.train import TrainConfig
from sat_lib.zoo.dry import entry_job, named_jobs


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Results, cache, book and layout calibrations in folders of their own, to show the dry run leaves them empty."""
    dirs = {name: tmp_path / name for name in ("results", "cache", "book")}
    for name, path in dirs.items():
        monkeypatch.setenv(f"SAT_{name.upper()}_DIR", str(path))
    monkeypatch.setenv("SAT_CALIBRATION_FILE", str(tmp_path / "calibration" / "calibration.json"))
    monkeypatch.setenv("SAT_PROGRESS", "0")
    return tmp_path


def written(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def tiny_job(name: str = "tiny_cnn", **kwargs) -> DryJob:
    entry = get_zoo("tiny")[name]
    return entry_job(entry, "digits", TrainConfig(batch_size=64), Work(1000, 100, 1000), attack_batch_size=50, **kwargs)


def test_synthetic_images_have_the_datasets_shape_and_classes():
    data = synthetic("cifar10", 12)
    assert data.images.shape == (12, 32, 32, 3) and data.num_classes == 10 and set(data.labels) == set(range(10))
    assert synthetic("fashion_mnist", 4, classes=3).num_classes == 3
    assert synthetic("digits", 2).channels == 1
    assert split_size("cifar10", "train") == 50_000
    with pytest.raises(KeyError, match="no split 'val'"):
        split_size("cifar10", "val")


def test_geometry_matches_the_bundled_digits(tmp_path, monkeypatch):
    """The geometry table against a dataset that ships with the project (loaded into a temporary cache)."""
    from sat_lib.config import project_config

    monkeypatch.setenv("SAT_CACHE_DIR", str(tmp_path))
    for split in ("train", "test"):
        data = project_config().load_data("digits", split)
        assert (len(data), data.image_size, data.channels) == (split_size("digits", split),
                                                               GEOMETRY["digits"].image_size, GEOMETRY["digits"].channels)


def test_probe_times_one_training_step_one_attack_step_and_a_forward_pass():
    t = dryrun.probe(tiny_job(), torch.device("cpu"), batch_cap=8)
    assert (t.train_batch, t.attack_batch) == (8, 8)
    assert t.train_seconds > 0 and t.attack_seconds > 0 and t.forward_seconds > 0
    est = t.estimate(Work(train_images=80, gradient_images=16, forward_images=0))
    assert est.train_images == pytest.approx(10 * t.train_seconds) and est.forward_images == 0


def test_a_step_is_two_steps_less_one_bounded_by_half_the_two():
    assert dryrun.marginal(0.5, 0.7) == pytest.approx(0.2)   # 0.3 s a call costs once, left out
    assert dryrun.marginal(0.3, 0.6) == pytest.approx(0.3)   # no fixed cost: the step itself
    assert dryrun.marginal(0.8, 0.6) == pytest.approx(0.3)   # noise: the upper bound
    assert dryrun.marginal(0.1, 0.6) == pytest.approx(0.3)   # a step above half the two-step call is noise too


def test_what_a_training_call_costs_once_is_not_scaled_to_the_run():
    import time

    calls = []

    def slow_to_start(model, data, batch_size):  # 0.3 s per call (an optimiser, a cast), 0.02 s per step
        calls.append((len(data), batch_size))
        time.sleep(0.3 + 0.02 * (len(data) // batch_size))

    t = dryrun.probe(dataclasses.replace(tiny_job(), train=slow_to_start), torch.device("cpu"), batch_cap=8)
    assert calls == [(16, 8)] + [(8, 8)] * dryrun.REPEATS + [(16, 8)] * dryrun.REPEATS  # warm-up, one step, two
    assert 0.01 < t.train_seconds < 0.1         # the step, not the 0.32 s call


def test_a_busy_machine_is_named_in_the_report():
    rows = dryrun.run([tiny_job()], torch.device("cpu"), batch_cap=4)
    assert "Other work kept 1.5 of the machine's" in dryrun.report(rows, torch.device("cpu"), busy=1.5)
    assert "Other work" not in dryrun.report(rows, torch.device("cpu"), busy=0.2)


def test_busy_cores_counts_other_work_on_the_machine():
    import threading
    import time

    stop = time.perf_counter() + 1.5
    spin = threading.Thread(target=lambda: [None for _ in iter(lambda: time.perf_counter() < stop, False)])
    spin.start()
    try:
        assert dryrun.busy_cores(0.5) >= 0.5   # a spinning thread keeps a core busy
    finally:
        spin.join()


def test_a_job_without_training_is_attacked_only():
    t = dryrun.probe(dataclasses.replace(tiny_job(), train=None), torch.device("cpu"), batch_cap=4)
    assert t.train_seconds is None and t.attack_seconds > 0


def test_jobs_of_one_key_are_timed_once_with_their_work_summed():
    a, b = tiny_job(label="a"), tiny_job(label="b")
    other = tiny_job("tiny_vit")
    merged = dryrun.merged([a, b, other])
    assert [j.label for j in merged] == ["a (+1 alike)", "tiny_vit"]
    assert merged[0].models == 2 and merged[0].work == Work(2000, 200, 2000)


def test_a_failing_model_is_reported_and_the_others_still_run():
    def broken(data):
        raise RuntimeError("no such layer")

    rows = dryrun.run([dataclasses.replace(tiny_job(), build=broken, label="broken"), tiny_job("tiny_vit")],
                      torch.device("cpu"), batch_cap=4)
    assert [r.error for r in rows] == ["RuntimeError: no such layer", ""]
    text = dryrun.report(rows, torch.device("cpu"))
    assert "FAILED" in text and "broken: RuntimeError: no such layer" in text and "ESTIMATE" in text


def test_an_ensemble_objective_trains_jointly_and_one_member_is_attacked():
    from sat_lib.ensemble_training import EnsembleObjective

    job = tiny_job(objective=EnsembleObjective("gncl", 0.2, size=2), evaluated=lambda m: m.members[0])
    assert dryrun.probe(job, torch.device("cpu"), batch_cap=4).train_seconds > 0


def named_zoo(name):
    from sat_lib.models import get_zoo

    return list(get_zoo(name).names())


def test_duration_reads_at_a_glance():
    assert [dryrun.duration(s) for s in (0.123, 42, 720, 3 * 3600, 3 * 86_400)] == \
        ["0.12 s", "42 s", "12 min", "3.0 h", "3.0 d"]


def test_a_chapter_without_a_plan_gets_the_models_its_parameters_name():
    cfg = resolve_params("universality", "smoke")
    assert [j.label for j in named_jobs(cfg)] == ["tiny_cnn", "tiny_vit", "tiny_mixer"]
    assert named_jobs(resolve_params("sat-components", "smoke")) == []  # reads stored results only


def test_universality_plans_every_model_of_every_setting_and_the_length_section():
    cfg = resolve_params("universality", "smoke")
    jobs = CHAPTERS["universality"].dry_run(cfg)
    full = [j for j in jobs if j.label.startswith("full ")]
    subset = [j for j in jobs if j.label.startswith("subset ")]
    length = [j for j in jobs if j.label.startswith("length ")]
    assert len(full) == len(cfg.archs) * len(cfg.eps) and len(subset) == len(cfg.subset_names()) * len(cfg.eps)
    assert len(length) == len(cfg.archs) * len(cfg.length_epochs)
    assert {j.classes for j in subset} == {cfg.subset_classes} and all(j.train is not None for j in jobs)
    robust = [j for j in full if not j.label.endswith("ε=0")]
    assert robust and all(j.key[-2] is not None for j in robust)  # trained against an attack
    assert all(j.work.gradient_images > cfg.eval_images * cfg.eval_steps for j in full)  # and inverted


def test_the_atlas_plans_the_zoo_untrained():
    cfg = resolve_params("similarity-atlas", "smoke")
    jobs = CHAPTERS["similarity-atlas"].dry_run(cfg)
    assert len(jobs) == len(resolve_params("sat-matrix", "smoke").models or named_zoo("tiny"))
    assert all(j.train is None and j.work.forward_images > 0 for j in jobs)


@pytest.mark.parametrize("name", list(CHAPTERS))
def test_every_chapters_paper_plan_names_buildable_models_of_known_datasets(name):
    """Every registered chapter's paper profile yields a plan without reading data (the models are built by the
    slow test below and by the command itself)."""
    cfg = resolve_params(name, "paper")
    ch = CHAPTERS[name]
    jobs = ch.dry_run(cfg) if ch.dry_run is not None else named_jobs(cfg)
    for job in jobs:
        assert job.dataset in GEOMETRY
        assert job.work.train_images + job.work.gradient_images + job.work.forward_images > 0, job.label


def test_dry_run_at_the_paper_profile_writes_nothing_and_exits_0(isolated, capsys):
    code = main(["run", "sat-matrix", "--profile", "paper", "--dry-run", "-p", "models",
                 "resnet18,vit_tiny_patch4_32"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "resnet18" in out and "vit_tiny_patch4_32" in out and "ESTIMATE of the full run on this device" in out
    assert written(isolated) == []


def test_distillation_dry_run_trains_the_student_with_a_teacher_and_scores_every_teacher(isolated, capsys):
    code = main(["run", "sat-distillation", "--profile", "paper", "--dry-run", "-p", "teachers",
                 "resnet18,mixer_nano4_32,levit_128s_32"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "vit_tiny_patch4_32 (student of 3 teachers)" in out and "step timed with teacher resnet18" in out
    assert out.count("teacher: weights of sat-matrix") == 3 and "NOT stored" in out  # its upstream: sat-matrix
    assert written(isolated) == []


def test_a_chapter_that_reads_stored_results_builds_nothing(isolated, capsys):
    assert main(["run", "sat-ensembles", "--profile", "paper", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "reads stored results only" in out and "sat-matrix result: NOT stored" in out


@pytest.mark.parametrize("argv,message", [
    (["run", "sat-matrx", "--dry-run"], "unknown chapter 'sat-matrx'"),
    (["run", "sat-matrix", "--dry-run", "-p", "step", "3"], "unknown parameter 'step'"),
    (["run", "sat-matrix", "--dry-run", "-p", "models", "resnet99"], "resnet99"),
])
def test_bad_input_exits_2_as_for_run(isolated, capsys, argv, message):
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert written(isolated) == []


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CHAPTERS))
def test_every_chapter_dry_runs_at_the_paper_profile(isolated, capsys, name):
    """The whole paper profile of every chapter (minutes on a 2-core CPU for the zoo chapters)."""
    code = main(["run", name, "--profile", "paper", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert written(isolated) == []
