"""One seam for running many independent jobs (train a model, attack it, evaluate it): serially in this
process, on a Dask ``LocalCluster`` sized to the machine, or on a user's Dask scheduler (dask-jobqueue on
SLURM/PBS, several GPU machines) — chosen by configuration, never by the chapter.

Jobs are module-level functions of small, picklable specs; they write what they make (weights, adversarial
examples) to the cache keyed by hash, so a cluster needs the cache on shared storage (``SAT_CACHE_DIR``), and a
job that finds its output there only reads it. Results come back in the order of the specs, and a job computes
the same thing wherever it runs: with the same seeds and thread count, a cluster run equals a serial run.

``auto`` follows ``benchmarks/bench_executor.py``: on this project's 2-core CPU two single-thread Dask workers
train zoo models no faster than one process with both threads (0.98× once the cluster runs; 0.74× counting its
start), so on machines of up to ``SERIAL_UP_TO_CORES`` cores ``auto`` runs serially, and on one GPU too; on
bigger CPUs it starts a ``LocalCluster`` of 4-thread workers (not measured: no such machine was available).

Settings, strongest first: ``Executor(...)`` arguments ← ``SAT_SCHEDULER`` / ``SAT_WORKERS`` /
``SAT_THREADS_PER_WORKER`` ← ``executor:`` in ``_config.yml``.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import torch

from sat_lib.config import (AUTO_THREADS_PER_WORKER, SCHEDULERS, SERIAL_UP_TO_CORES,  # noqa: F401
                            ExecutorConfig, project_config)
from sat_lib.progress import progress

log = logging.getLogger(__name__)
T = TypeVar("T")



def _with_threads(fn: Callable[[Any], T], threads: int, spec: Any) -> T:
    """Run one job in a worker with ``threads`` torch threads (module level so that it pickles)."""
    torch.set_num_threads(threads)
    return fn(spec)


class Executor:
    """``Executor(cfg).map(fn, specs)`` runs ``fn(spec)`` for every spec and returns the results in order.

    ``with Executor(cfg) as ex:`` keeps one Dask cluster (or client) for several ``map`` calls; without it each
    call starts and stops its own."""

    def __init__(self, cfg: ExecutorConfig | None = None) -> None:
        self.cfg = cfg or default_executor_config()
        self.last_scheduler = ""
        self._client = None
        self._cluster = None
        self._entered = False

    def __enter__(self) -> Executor:
        self._entered = True
        return self

    def __exit__(self, *exc) -> None:
        self._entered = False
        self.close()

    def close(self) -> None:
        """Stop the cluster this executor started (a user's scheduler is only disconnected from)."""
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        self._client = self._cluster = None

    def map(self, fn: Callable[[Any], T], specs: Sequence[Any], *, desc: str = "jobs",
            names: Iterable[str] | None = None) -> list[T]:
        specs = list(specs)
        names = list(names) if names is not None else [f"{desc}-{i}" for i in range(len(specs))]
        cfg = self.cfg.resolved(len(specs))
        self.last_scheduler = cfg.scheduler
        if cfg.scheduler == "serial":
            return [_run_named(fn, spec, name) for spec, name in zip(specs, progress(names, desc=desc))]
        try:
            return self._map_dask(fn, specs, names, cfg, desc)
        finally:
            if not self._entered:
                self.close()

    def _connect(self, cfg: ExecutorConfig):
        from distributed import Client, LocalCluster

        if self._client is None:
            if cfg.scheduler == "local":
                self._cluster = LocalCluster(n_workers=cfg.workers(), threads_per_worker=cfg.threads_per_worker,
                                             processes=True, dashboard_address=":0", silence_logs=logging.WARNING)
                self._client = Client(self._cluster)
            else:
                self._client = Client(cfg.scheduler)
        return self._client

    def _map_dask(self, fn, specs, names, cfg: ExecutorConfig, desc):
        from distributed import as_completed

        client = self._connect(cfg)
        futures = [client.submit(_with_threads, fn, cfg.threads_per_worker, spec, key=f"{desc}-{i}-{name}",
                                 pure=False)
                   for i, (spec, name) in enumerate(zip(specs, names))]
        index = {f.key: i for i, f in enumerate(futures)}
        out: list[Any] = [None] * len(futures)
        bar = progress(total=len(futures), desc=f"{desc} ({cfg.scheduler})", unit="job")
        for fut in as_completed(futures):
            i = index[fut.key]
            try:
                out[i] = fut.result()
            except Exception as err:
                raise RuntimeError(f"{desc}: job {names[i]!r} failed on the Dask cluster: {err}") from err
            bar.update()
        bar.close()
        return out


def _run_named(fn, spec, name):
    try:
        return fn(spec)
    except Exception as err:
        raise RuntimeError(f"job {name!r} failed: {err}") from err


def default_executor_config() -> ExecutorConfig:
    """``executor:`` of ``_config.yml``, then the ``SAT_*`` environment variables."""
    return ExecutorConfig.from_env(project_config().executor)


def run_map(fn: Callable[[Any], T], specs: Sequence[Any], *, desc: str = "jobs",
            names: Iterable[str] | None = None, cfg: ExecutorConfig | None = None) -> list[T]:
    """``Executor(cfg).map(...)`` in one call."""
    return Executor(cfg).map(fn, specs, desc=desc, names=names)
