"""Shared fixtures: fixed seeds, a project-local temporary cache, a CPU-only torch."""
from __future__ import annotations

import os
import random
import tempfile

import numpy as np
import pytest
import torch


# Layout calibrations measured by tests go to a file of this session (Dask workers the tests start inherit it),
# never into the project's data/cache/calibration.json, which a background run may be using.
os.environ.setdefault("SAT_CALIBRATION_FILE", os.path.join(tempfile.mkdtemp(prefix="sat-tests-"), "calibration.json"))
# Models the tests train are never published into the project's data/weights.
os.environ.setdefault("SAT_WEIGHTS_STORE", tempfile.mkdtemp(prefix="sat-tests-weights-"))


def _dask_processes(folder, env: dict, n_workers: int = 2):
    """A Dask scheduler and ``n_workers`` one-thread workers started as separate processes with Dask's own
    commands (``dask scheduler``, ``dask worker``), as a user's cluster is reached; yields its address."""
    import contextlib
    import json
    import subprocess
    import sys
    import time
    from pathlib import Path

    @contextlib.contextmanager
    def cluster():
        dask = str(Path(sys.executable).with_name("dask"))
        file = Path(folder) / "scheduler.json"
        log = open(Path(folder) / "dask.log", "w")
        run = lambda *args: subprocess.Popen([dask, *args], env={**os.environ, **env}, stdout=log,
                                             stderr=subprocess.STDOUT)
        procs = [run("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                     "--scheduler-file", str(file))]
        try:
            deadline = time.monotonic() + 60
            while not file.exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            address = json.loads(file.read_text())["address"]
            procs += [run("worker", address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                          "--host", "127.0.0.1", "--name", f"w{i}") for i in range(n_workers)]
            from distributed import Client

            with Client(address, timeout=60) as client:
                client.wait_for_workers(n_workers, timeout=120)
            yield address
        finally:
            for proc in reversed(procs):
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
            log.close()

    return cluster()


@pytest.fixture
def serial_and(tmp_path, monkeypatch):
    """``serial_and(fn, "local")`` → ``{"serial": fn(), "local": fn()}``: ``fn`` run once serially and once on a
    2-worker Dask cluster — ``"local"``: a LocalCluster; ``"processes"``: a scheduler and two workers started as
    separate processes with Dask's own commands, reached by address as a user's cluster is. Each run has its own
    cache and results folders under ``tmp_path / <run>`` and one shared layout-calibration file (as a cluster shares
    its cache folder), each with one torch thread per job."""
    monkeypatch.setenv("SAT_CALIBRATION_FILE", str(tmp_path / "calibration.json"))

    def both(fn, other: str = "local"):
        runs = {}
        for run in ("serial", other):
            env = {"SAT_CACHE_DIR": str(tmp_path / run / "cache"), "SAT_RESULTS_DIR": str(tmp_path / run / "results"),
                   "SAT_WORKERS": "2", "SAT_PROGRESS": "0"}
            for k, v in env.items():
                monkeypatch.setenv(k, v)
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                if run == "processes":
                    (tmp_path / run).mkdir(parents=True, exist_ok=True)
                    with _dask_processes(tmp_path / run, {**env, "SAT_CALIBRATION_FILE": os.environ[
                            "SAT_CALIBRATION_FILE"], "OMP_NUM_THREADS": "1"}) as address:
                        monkeypatch.setenv("SAT_SCHEDULER", address)
                        runs[run] = fn()
                else:
                    monkeypatch.setenv("SAT_SCHEDULER", run)
                    runs[run] = fn()
            finally:
                torch.set_num_threads(threads)
        return runs

    return both


@pytest.fixture
def serial_and_local(serial_and):
    """``serial_and_local(fn)`` → ``{"serial": fn(), "local": fn()}`` (``serial_and`` with a LocalCluster)."""
    return lambda fn: serial_and(fn, "local")


@pytest.fixture(autouse=True)
def _fixed_seeds():
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    yield


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)
