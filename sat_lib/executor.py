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

from sat_lib.progress import progress

log = logging.getLogger(__name__)
T = TypeVar("T")

SCHEDULERS = ("auto", "serial", "local")
SERIAL_UP_TO_CORES = 4
AUTO_THREADS_PER_WORKER = 4
"""Named schedulers; anything else is a Dask scheduler address such as ``tcp://10.0.0.5:8786``."""


@dataclass(frozen=True)
class ExecutorConfig:
    """``scheduler``: ``auto`` | ``serial`` | ``local`` | a Dask scheduler address.
    ``n_workers`` (0: one per core / ``threads_per_worker``) and ``threads_per_worker`` size a LocalCluster;
    each job runs with ``torch.set_num_threads(threads_per_worker)`` on a cluster."""

    scheduler: str = "auto"
    n_workers: int = 0
    threads_per_worker: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.scheduler, str) or not self.scheduler:
            raise ValueError(f"executor: scheduler must be one of {SCHEDULERS} or a Dask scheduler address "
                             f"(tcp://host:port), got {self.scheduler!r}")
        if self.scheduler not in SCHEDULERS and "://" not in self.scheduler:
            raise ValueError(f"executor: unknown scheduler {self.scheduler!r}; use one of {SCHEDULERS} or a Dask "
                             "scheduler address such as tcp://10.0.0.5:8786")
        if self.n_workers < 0 or self.threads_per_worker < 1:
            raise ValueError(f"executor: n_workers must be >= 0 and threads_per_worker >= 1, got "
                             f"{self.n_workers} and {self.threads_per_worker}")

    @classmethod
    def from_env(cls, base: ExecutorConfig | None = None) -> ExecutorConfig:
        base = base or cls()
        env = os.environ
        return replace(base,
                       scheduler=env.get("SAT_SCHEDULER", base.scheduler),
                       n_workers=int(env.get("SAT_WORKERS", base.n_workers)),
                       threads_per_worker=int(env.get("SAT_THREADS_PER_WORKER", base.threads_per_worker)))

    def workers(self) -> int:
        return self.n_workers or max(1, (os.cpu_count() or 1) // self.threads_per_worker)

    def resolved(self, n_jobs: int) -> ExecutorConfig:
        """What ``auto`` means here (see the module doc): serial for one job, on a GPU or on a small CPU;
        a LocalCluster of ``AUTO_THREADS_PER_WORKER``-thread workers on a bigger CPU."""
        if self.scheduler != "auto":
            return self
        cores = os.cpu_count() or 1
        if n_jobs <= 1 or torch.cuda.is_available() or cores <= SERIAL_UP_TO_CORES:
            return replace(self, scheduler="serial")
        return replace(self, scheduler="local", threads_per_worker=AUTO_THREADS_PER_WORKER)


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
    from sat_lib.config import project_config

    return ExecutorConfig.from_env(project_config().executor)


def run_map(fn: Callable[[Any], T], specs: Sequence[Any], *, desc: str = "jobs",
            names: Iterable[str] | None = None, cfg: ExecutorConfig | None = None) -> list[T]:
    """``Executor(cfg).map(...)`` in one call."""
    return Executor(cfg).map(fn, specs, desc=desc, names=names)
