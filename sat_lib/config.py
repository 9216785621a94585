"""The project configuration: the top-level ``_config.yml`` (chapter profiles, data locations, folders).

Paths in the file are relative to the project root. Environment variables override it for one run:
``SAT_CONFIG`` (another config file), ``SAT_RESULTS_DIR``, ``SAT_CACHE_DIR``, ``SAT_BOOK_DIR`` and
``SAT_DATA_<NAME>`` (a location tried first for dataset NAME, e.g. ``SAT_DATA_CIFAR10=~/data/cifar-10-python.tar.gz``)
and ``SAT_MODELS_<NAME>`` (a folder of outside checkpoints, e.g. ``SAT_MODELS_SALIENCE_OFFICIAL``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from sat_lib.provenance import PROJECT_ROOT
from sat_lib.weight_store import WeightStore

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
        import torch

        cores = os.cpu_count() or 1
        if n_jobs <= 1 or torch.cuda.is_available() or cores <= SERIAL_UP_TO_CORES:
            return replace(self, scheduler="serial")
        return replace(self, scheduler="local", threads_per_worker=AUTO_THREADS_PER_WORKER)


PROFILES = ("smoke", "quick", "paper")


class ConfigError(ValueError):
    """The configuration file is missing or malformed."""


@dataclass(frozen=True)
class ProjectConfig:
    path: Path
    root: Path
    results_dir: Path
    cache_dir: Path
    book_dir: Path
    default_profile: str
    download: bool
    data_roots: dict[str, tuple[Path, ...]] = field(default_factory=dict)
    chapters: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    executor: ExecutorConfig | None = None  # ``executor:`` in the file
    model_dirs: dict[str, Path] = field(default_factory=dict)  # outside checkpoints (``models:`` in the file)
    weight_store: WeightStore | None = None  # published weights (``data.weights_store`` in the file)

    @property
    def weights_dir(self) -> Path:
        return self.cache_dir / "weights"

    def store_for(self, zoo: str) -> WeightStore | None:
        """The weight store that publishes ``zoo``'s models, or None (``sat_lib.weight_store``)."""
        return self.weight_store if self.weight_store is not None and self.weight_store.publishes(zoo) else None

    def roots_for(self, dataset: str) -> tuple[Path, ...]:
        """``SAT_DATA_<NAME>`` first (it must exist: a typo is an error, not a silent fall-back), then the
        configured roots."""
        var = f"SAT_DATA_{dataset.upper()}"
        env = os.environ.get(var)
        if env and not Path(env).expanduser().exists():
            raise ConfigError(f"{var}={env} does not exist; point it at the dataset (see README, Data) or unset it "
                              f"to use the configured locations of {dataset!r} in {self.path}")
        extra = (Path(env).expanduser(),) if env else ()
        return extra + self.data_roots.get(dataset, ())

    def models_dir(self, name: str) -> Path | None:
        """The folder of outside checkpoints ``name`` (``SAT_MODELS_<NAME>``, else ``models:`` in the file), or
        None when neither names it. An environment variable that points nowhere is an error."""
        var = f"SAT_MODELS_{name.upper()}"
        env = os.environ.get(var)
        if env:
            path = Path(env).expanduser()
            if not path.is_dir():
                raise ConfigError(f"{var}={env} is not a folder; point it at the checkpoints or unset it to use "
                                  f"models.{name} in {self.path}")
            return path
        return self.model_dirs.get(name)

    def profile(self, chapter: str, profile: str) -> dict[str, Any]:
        """The parameter values a profile sets for a chapter (possibly empty: the defaults apply)."""
        if profile not in PROFILES:
            raise ConfigError(f"unknown profile {profile!r}; profiles are {', '.join(PROFILES)}")
        return dict(self.chapters.get(chapter, {}).get(profile) or {})

    def load_data(self, name: str, split: str, **options):
        """Load a dataset from the configured locations, decoding once into the cache folder."""
        from sat_lib.data import load_dataset

        return load_dataset(name, split, roots=self.roots_for(name), cache_dir=self.cache_dir / "datasets",
                            download=self.download, download_dir=self.root / "data" / "raw", **options)


def _resolve(root: Path, value: str | os.PathLike) -> Path:
    p = Path(os.path.expandvars(str(value))).expanduser()
    return Path(os.path.normpath(p if p.is_absolute() else (root / p)))


def load_config(path: str | Path | None = None) -> ProjectConfig:
    path = Path(path or os.environ.get("SAT_CONFIG") or PROJECT_ROOT / "_config.yml")
    if not path.exists():
        raise ConfigError(f"project configuration not found at {path}; run from a checkout of sat-companion "
                          "or point SAT_CONFIG at its _config.yml")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {err}") from err
    root = path.parent
    data = raw.get("data") or {}
    env_dir = lambda var, default: Path(os.environ[var]) if os.environ.get(var) else _resolve(root, default)
    default_profile = raw.get("default_profile", "quick")
    if default_profile not in PROFILES:
        raise ConfigError(f"{path}: default_profile must be one of {PROFILES}, got {default_profile!r}")
    chapters = raw.get("chapters") or {}
    for name, spec in chapters.items():
        bad = [p for p in (spec or {}) if p not in PROFILES]
        if bad:
            raise ConfigError(f"{path}: chapter {name!r} has unknown profile(s) {bad}; profiles are {PROFILES}")
    if os.environ.get("SAT_CONFIG_OVERLAY"):
        chapters = _overlaid(chapters, overlay_path(root), path)
    ex = raw.get("executor") or {}
    unknown = set(ex) - {"scheduler", "n_workers", "threads_per_worker"}
    if unknown:
        raise ConfigError(f"{path}: executor has unknown keys {sorted(unknown)}; "
                          "allowed: scheduler, n_workers, threads_per_worker")
    try:
        executor = ExecutorConfig(**ex)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{path}: executor: {err}") from err
    return ProjectConfig(
        executor=executor,
        path=path,
        root=root,
        results_dir=env_dir("SAT_RESULTS_DIR", raw.get("results_dir", "data/results")),
        cache_dir=env_dir("SAT_CACHE_DIR", data.get("cache_dir", "data/cache")),
        book_dir=env_dir("SAT_BOOK_DIR", raw.get("book_dir", "book")),
        default_profile=default_profile,
        download=bool(data.get("download", False)),
        data_roots={k: tuple(_resolve(root, p) for p in (v if isinstance(v, list) else [v]))
                    for k, v in (data.get("roots") or {}).items()},
        chapters={k: dict(v or {}) for k, v in chapters.items()},
        model_dirs={k: _resolve(root, v) for k, v in (raw.get("models") or {}).items()},
        weight_store=_weight_store(path, root, data.get("weights_store")),
    )


def overlay_path(root: Path = PROJECT_ROOT) -> Path | None:
    """The overlay file ``SAT_CONFIG_OVERLAY`` names (a relative path is relative to the folder of _config.yml, so
    the chapters' notebook kernels, which run there, read the same file), or None."""
    value = os.environ.get("SAT_CONFIG_OVERLAY")
    return None if not value else _resolve(root, os.path.expanduser(value))


def _overlaid(chapters: dict, overlay: Path, path: Path) -> dict:
    """``chapters`` with an overlay file's profile values laid over them (``SAT_CONFIG_OVERLAY``): a YAML file with
    only ``chapters: {<chapter>: {<profile>: {<parameter>: value}}}``, which sets those parameters and keeps the
    others. It changes several chapters at once, upstream results included (a chapter reads another's result at
    that chapter's profile): e.g. every SAT chapter on another zoo."""
    where = f"SAT_CONFIG_OVERLAY={overlay}"
    if not overlay.is_file():
        raise ConfigError(f"{where} is not a file; point it at a YAML overlay or unset it")
    try:
        raw = yaml.safe_load(overlay.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{where} is not valid YAML: {err}") from err
    if set(raw) - {"chapters"}:
        raise ConfigError(f"{where}: an overlay holds only `chapters:`; found {sorted(set(raw) - {'chapters'})}")
    out = {name: {p: dict(v or {}) for p, v in (spec or {}).items()} for name, spec in chapters.items()}
    for name, spec in (raw.get("chapters") or {}).items():
        if name not in out:
            raise ConfigError(f"{where}: chapter {name!r} is not configured in {path}; "
                              f"configured: {', '.join(sorted(out))}")
        for profile, values in (spec or {}).items():
            if profile not in PROFILES:
                raise ConfigError(f"{where}: chapter {name!r} has unknown profile {profile!r}; profiles are {PROFILES}")
            out[name].setdefault(profile, {}).update(values or {})
    return out


def _weight_store(path: Path, root: Path, spec) -> WeightStore | None:
    """``data.weights_store: {dir, zoos, dtype}``; SAT_WEIGHTS_STORE replaces its folder."""
    if not spec:
        return None
    unknown = set(spec) - {"dir", "zoos", "dtype"}
    if unknown or "dir" not in spec:
        raise ConfigError(f"{path}: data.weights_store needs `dir` and may have `zoos`, `dtype`; "
                          f"unknown keys {sorted(unknown)}" if unknown else f"{path}: data.weights_store needs `dir`")
    folder = Path(os.environ["SAT_WEIGHTS_STORE"]) if os.environ.get("SAT_WEIGHTS_STORE") else _resolve(root, spec["dir"])
    try:
        return WeightStore(folder, tuple(spec.get("zoos") or ()), spec.get("dtype", "float16"))
    except ValueError as err:
        raise ConfigError(f"{path}: data.{err}") from err


@lru_cache(maxsize=4)
def _cached(path: str | None, env_key: tuple) -> ProjectConfig:
    return load_config(path)


def project_config() -> ProjectConfig:
    """The configuration in force (re-read when the SAT_* environment changes)."""
    env_key = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("SAT_")))
    overlay = overlay_path()
    if overlay is not None and overlay.is_file():  # an edited overlay is read again
        env_key += (("overlay_mtime", str(overlay.stat().st_mtime_ns)),)
    return _cached(os.environ.get("SAT_CONFIG"), env_key)
