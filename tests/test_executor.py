"""The executor: serial and Dask runs give the same results in the same order; bad settings are named."""
import numpy as np
import pytest
import torch

from sat_lib.executor import Executor, ExecutorConfig


def _square(x):
    return x * x


def _boom(x):
    if x == 2:
        raise ValueError("two is not allowed")
    return x


def _train_tiny(seed):
    """A tiny seeded training job: the weights are a function of the seed alone."""
    from sat_lib.train import TrainConfig, train

    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(64, 1, 8, 8, generator=g) * 255).to(torch.uint8)
    y = torch.randint(0, 2, (64,), generator=g)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.Flatten(), torch.nn.Linear(144, 2))
    train(model, x, y, TrainConfig(epochs=2, batch_size=16, seed=seed, precision="fp32"), device="cpu")
    return np.concatenate([p.detach().numpy().ravel() for p in model.parameters()])


def test_serial_map_keeps_order():
    assert Executor(ExecutorConfig(scheduler="serial")).map(_square, [3, 1, 2]) == [9, 1, 4]


def test_auto_runs_one_job_serially():
    ex = Executor(ExecutorConfig(scheduler="auto"))
    assert ex.map(_square, [5]) == [25] and ex.last_scheduler == "serial"


@pytest.mark.parametrize("bad", ["dask", "", "tcp:/nohost"])
def test_unknown_scheduler_is_named(bad):
    with pytest.raises(ValueError, match="scheduler"):
        ExecutorConfig(scheduler=bad)


def test_bad_worker_counts():
    with pytest.raises(ValueError, match="threads_per_worker"):
        ExecutorConfig(threads_per_worker=0)


def test_failing_job_names_itself():
    with pytest.raises(RuntimeError, match="job 'b' failed: two is not allowed"):
        Executor(ExecutorConfig(scheduler="serial")).map(_boom, [1, 2], names=["a", "b"])


def test_env_overrides(monkeypatch):
    monkeypatch.setenv("SAT_SCHEDULER", "serial")
    monkeypatch.setenv("SAT_WORKERS", "3")
    cfg = ExecutorConfig.from_env(ExecutorConfig())
    assert cfg.scheduler == "serial" and cfg.workers() == 3


def test_local_cluster_equals_serial():
    """A 2-worker LocalCluster trains the same weights as a serial run with the same thread count."""
    seeds = [0, 1, 2]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        serial = Executor(ExecutorConfig(scheduler="serial")).map(_train_tiny, seeds)
    finally:
        torch.set_num_threads(threads)
    ex = Executor(ExecutorConfig(scheduler="local", n_workers=2, threads_per_worker=1))
    dask = ex.map(_train_tiny, seeds, desc="tiny")
    assert ex.last_scheduler == "local"
    for a, b in zip(serial, dask):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(RuntimeError, match="two is not allowed"):
        ex.map(_boom, [1, 2])


def test_a_chapter_on_a_users_cluster_equals_the_serial_run(serial_and):
    """A small chapter (the SAT matrix of the smoke zoo) run through a Dask scheduler and two workers started as
    separate processes with Dask's own commands — reached by address, as ``--scheduler tcp://…`` reaches a user's
    cluster — gives the serial run's result, every model trained, attacked and evaluated on the workers."""
    from sat_lib.experiments import CHAPTERS, resolve_params

    cfg = resolve_params("sat-matrix", "smoke").replace(stability_pool=0, epochs=1, n_images=60, steps=2)
    runs = serial_and(lambda: CHAPTERS["sat-matrix"].compute(cfg, mode="recompute"), "processes")
    serial, remote = runs["serial"], runs["processes"]
    assert serial.attrs["executor"] == "serial" and remote.attrs["executor"].startswith("tcp://127.0.0.1:")
    assert not remote["weights_from_cache"].values.any()
    for name in ("accuracy", "correct", "fooled", "sat", "test_logits"):
        np.testing.assert_array_equal(serial[name].values, remote[name].values, err_msg=name)
