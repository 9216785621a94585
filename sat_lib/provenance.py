"""Where a result came from: git commit, package versions, device, time."""
from __future__ import annotations

import datetime as _dt
import importlib.metadata
import json
import platform
import subprocess
from functools import lru_cache
from pathlib import Path

import torch

PACKAGES = ("sat-companion", "torch", "torchvision", "timm", "captum", "numpy", "scipy", "scikit-learn", "xarray")
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@lru_cache(maxsize=1)
def git_commit(root: str | Path = PROJECT_ROOT) -> str:
    """The checked-out commit, with ``-dirty`` when tracked files differ; ``unknown`` outside a git checkout."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def package_versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in packages:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def processor_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), e.g. ``AMD EPYC 9R14`` or ``Intel(R) Xeon(R) Processor``; the
    architecture (``x86_64``) where the model is not readable. Two CPUs of one architecture can differ several-fold
    in speed and in which precision is fastest, so timings and layouts are reported against it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device: torch.device | str | None = None) -> str:
    """A human-readable name of the device that computed a result, e.g. ``cuda:0 (NVIDIA H100 80GB HBM3)`` or
    ``cpu (AMD EPYC 9R14, x86_64, 2 threads)``."""
    device = torch.device(device) if device is not None else default_device()
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    model, arch = processor_name(), platform.machine()
    cpu = model if model == arch or not arch else f"{model}, {arch}"
    return f"cpu ({cpu}, {torch.get_num_threads()} threads)"


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def provenance_attrs(params: dict, *, device: torch.device | str | None, duration_s: float) -> dict[str, str | float]:
    """The attrs every result file carries (netCDF takes str/number attrs: dicts are JSON strings)."""
    return {
        "params_json": json.dumps(params, sort_keys=True, default=str),
        "git_commit": git_commit(),
        "versions_json": json.dumps(package_versions(), sort_keys=True),
        "device": device_name(device),
        "duration_s": round(float(duration_s), 3),
        "created_at": now_iso(),
    }
