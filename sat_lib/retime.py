"""Re-time stored per-model work on a quiet machine, checked bit for bit.

A chapter records how long each model's training, attack and inversion took where that work first ran. On a
shared two-core machine another process can inflate such a time several times over, and the chapter's
"compute fits in N minutes" then describes the contention, not the code. Training, attacks and inversion are
deterministic on a given machine and thread count, so the work can be done again and *checked*:

1. the chapter's own per-model jobs run again for the chosen models, into a scratch cache, results and
   published-weights folder (``SAT_CACHE_DIR`` / ``SAT_RESULTS_DIR`` / ``SAT_WEIGHTS_STORE`` pointed there; the
   dataset cache and the per-machine precision calibration are shared, so the same layouts are chosen);
2. every file they write is compared with the stored file of the same name — every tensor, array, setting and
   attribute, bit for bit — except the timings and the provenance stamp (commit, versions, creation time);
3. only when every file matches are the new files (with their new timings and stamp) put in place, atomically;
   a mismatch changes nothing and names the file and the entry that differ.

Afterwards ``sat-companion run <chapter> --recompute`` rebuilds the chapter's result from the cache, reporting
the new timings (``Retimer.then`` of the chapter record's ``retime``: for salience, whose populations *are* the
result, a plain ``run``).
``sat-companion retime`` is the command line.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sat_lib._files import atomic_path
from sat_lib.config import project_config
from sat_lib.experiments import CHAPTERS, Retimer
from sat_lib.precision import Layout, pinned
from sat_lib.registry import Registry, UnknownNameError

# the provenance stamp a recomputed file legitimately changes (sat_lib.provenance.provenance_attrs)
STAMP = frozenset({"git_commit", "versions_json", "created_at", "duration_s",
                   "processor", "published"})  # the last two: a published model's (sat_lib.weight_store)
# what the scratch cache shares with the stored one instead of recomputing (read-only use)
SHARED = ("datasets",)


# whether a job read its weights from the cache: it says where the job's timings were measured, so it goes with them
CACHE_FLAGS = frozenset({"from_cache", "weights_from_cache"})


def is_timing(name: str) -> bool:
    """A timing entry: a name ending in ``seconds`` (``seconds``, ``train_seconds``, ``test_invert_seconds``…)
    or a cache flag that goes with one (``CACHE_FLAGS``)."""
    return str(name).endswith("seconds") or str(name) in CACHE_FLAGS


class RetimeMismatch(RuntimeError):
    """Work done again differs from what is stored (beyond timings): nothing was replaced."""


def retimer(chapter: str) -> Retimer:
    """How ``chapter`` redoes its per-model work (its ``Chapter.retime``); an unknown chapter, or one without
    re-timeable jobs, raises ``UnknownNameError`` naming those that have them."""
    able = Registry[Retimer]("re-timeable chapter")
    for name, ch in CHAPTERS.items():
        if ch.retime is not None:
            able.register(name, ch.retime)
    return able[chapter]


# ------------------------------------------------------------------------------------------ comparison

def _same_tensor(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal dtype, shape and values, NaN where the other has NaN."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.is_floating_point() or a.is_complex():
        return bool(((a == b) | (a.isnan() & b.isnan())).all())
    return torch.equal(a, b)


def _differences(new: Any, old: Any, where: str) -> list[str]:
    """Where ``new`` and ``old`` (nested dicts / lists / tensors / JSON strings) differ, timings and the
    provenance stamp (``STAMP``) ignored."""
    if isinstance(new, dict) and isinstance(old, dict):
        out = [f"{where}.{k}: only in one file" for k in sorted(set(new) ^ set(old), key=str)]
        for k in sorted(set(new) & set(old), key=str):
            if not is_timing(k) and k not in STAMP:
                out += _differences(new[k], old[k], f"{where}.{k}")
        return out
    if isinstance(new, np.ndarray) and isinstance(old, np.ndarray) and new.dtype.kind in "biufc":
        new, old = torch.from_numpy(np.array(new)), torch.from_numpy(np.array(old))
    if isinstance(new, torch.Tensor) and isinstance(old, torch.Tensor):
        return [] if _same_tensor(new, old) else [f"{where}: tensors differ"]
    if isinstance(new, (list, tuple)) and isinstance(old, (list, tuple)):
        if len(new) != len(old):
            return [f"{where}: lengths {len(new)} and {len(old)}"]
        return [d for i, (a, b) in enumerate(zip(new, old)) for d in _differences(a, b, f"{where}[{i}]")]
    if isinstance(new, str) and isinstance(old, str) and new.startswith("{") and old.startswith("{"):
        with contextlib.suppress(json.JSONDecodeError):
            return _differences(json.loads(new), json.loads(old), where)
    if isinstance(new, np.ndarray) or isinstance(old, np.ndarray):
        same = np.array_equal(np.asarray(new), np.asarray(old))
    else:
        same = bool(new == old) or (new != new and old != old)
    return [] if same else [f"{where}: {old!r} → {new!r}"]


def _timings(obj: Any, where: str = "", timing: bool = False) -> dict[str, float]:
    """The timing entries of a nested file content, by dotted path: the numbers under a key ending in ``seconds``
    (at any depth below it: ``attack_seconds`` by attack), JSON strings read as their objects; ``timing``: ``obj``
    is already such an entry."""
    if isinstance(obj, str) and obj.startswith("{"):
        with contextlib.suppress(json.JSONDecodeError):
            return _timings(json.loads(obj), where, timing)
    if timing and isinstance(obj, (int, float, np.number)):
        return {where: float(obj)}
    if not isinstance(obj, dict):
        return {}
    out: dict[str, float] = {}
    for k, v in obj.items():
        out.update(_timings(v, f"{where}.{k}" if where else str(k), timing or str(k).endswith("seconds")))
    return out


def _read_pt(path: Path):
    return torch.load(path, map_location="cpu", weights_only=True)


def _read_nc(path: Path) -> dict:
    import xarray as xr

    with xr.open_dataset(path) as ds:
        ds = ds.load()
    def values(v):
        return torch.from_numpy(np.array(v.values)) if v.dtype.kind in "biufc" else v.values.tolist()

    return {"attrs": {k: v for k, v in ds.attrs.items() if k not in STAMP},
            "coords": {k: values(v) for k, v in ds.coords.items()},
            "vars": {k: {"values": values(v), "dims": list(v.dims), "attrs": dict(v.attrs)}
                     for k, v in ds.data_vars.items()}}


READERS: dict[str, Callable[[Path], Any]] = {".pt": _read_pt, ".nc": _read_nc}


def compare_files(new: Path, old: Path) -> list[str]:
    """How the file ``new`` differs from ``old``, timings and provenance stamp ignored ([] when it does not)."""
    reader = READERS[new.suffix]
    return _differences(reader(new), reader(old), new.name)


def _nc_timings(path: Path) -> dict[str, float]:
    import xarray as xr

    with xr.open_dataset(path) as ds:
        out = {k: float(np.nansum(v.values)) for k, v in ds.data_vars.items() if is_timing(k) and k not in CACHE_FLAGS}
        out.update(_timings({k: v for k, v in ds.attrs.items() if str(k).endswith("seconds") or k == "duration_s"},
                            timing=True))
    return out


TIMING_READERS: dict[str, Callable[[Path], dict[str, float]]] = {
    ".pt": lambda path: _timings(_read_pt(path)), ".nc": _nc_timings}


def file_timings(path: Path) -> dict[str, float]:
    """A file's timings by entry (a result's per-model seconds summed; its ``duration_s``)."""
    return TIMING_READERS[path.suffix](path)


# ------------------------------------------------------------------------------------------ the procedure

@dataclasses.dataclass
class Outcome:
    """One file the redone work wrote: its stored counterpart, the differences, and the timings before / after."""

    scratch: Path
    stored: Path
    differences: list[str]
    before: dict[str, float]
    after: dict[str, float]

    @property
    def new(self) -> bool:
        return not self.stored.exists()


@contextlib.contextmanager
def _scratch_environment(scratch: Path) -> Iterator[tuple[Path, Path, Path]]:
    """Point the project's cache, results and published weights at ``scratch``, sharing the dataset cache and
    the precision calibration store (``sat_lib.precision``: the same layouts, hence the same weights keys) with
    the stored cache; restore the environment afterwards."""
    pc = project_config()
    cache, results, weights = scratch / "cache", scratch / "results", scratch / "weights"
    cache.mkdir(parents=True, exist_ok=True)
    results.mkdir(parents=True, exist_ok=True)
    for name in SHARED:
        src, dst = pc.cache_dir / name, cache / name
        if src.exists() and not dst.exists():
            dst.symlink_to(src.resolve(), target_is_directory=src.is_dir())
    calibration = os.environ.get("SAT_CALIBRATION_FILE") or str(pc.cache_dir / "calibration.json")
    saved = {k: os.environ.get(k) for k in ("SAT_CACHE_DIR", "SAT_RESULTS_DIR", "SAT_CALIBRATION_FILE",
                                            "SAT_WEIGHTS_STORE")}
    os.environ.update({"SAT_CACHE_DIR": str(cache), "SAT_RESULTS_DIR": str(results),
                       "SAT_CALIBRATION_FILE": calibration, "SAT_WEIGHTS_STORE": str(weights)})
    try:
        yield cache, results, weights
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _written(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()
                  and p.relative_to(root).parts[0] not in SHARED and not p.name.startswith(".")
                  and p.suffix in READERS)


def redo(chapter: str, cfg, models: list[str], scratch: Path, layout: Layout | None = None) -> list[Outcome]:
    """Run ``chapter``'s per-model jobs for ``models`` (labels) into ``scratch`` and compare what they wrote
    with the stored files. Jobs already done in ``scratch`` are loaded from it, so an interrupted re-timing
    resumes. ``layout``: every model runs in it (``sat_lib.precision.pinned``) instead of the layout this
    machine's calibration picks — for work stored in a layout the calibration no longer chooses. Replaces
    nothing."""
    jobs = retimer(chapter).jobs(cfg)
    unknown = [m for m in models if m not in jobs]
    if unknown:
        raise UnknownNameError(f"{chapter} has no model {unknown[0]!r} at these parameters "
                               f"(its models: {', '.join(jobs)})")
    if not models:
        raise ValueError(f"name the models of {chapter} to re-time (its models: {', '.join(jobs)})")
    pc = project_config()
    roots = {"cache": pc.cache_dir, "results": pc.results_dir,
             "weights": pc.weight_store.root if pc.weight_store is not None else None}
    with _scratch_environment(Path(scratch)) as (cache, results, weights):
        job = retimer(chapter).job
        with pinned(layout) if layout is not None else contextlib.nullcontext():
            for m in models:
                job(jobs[m])
        scratches = (("cache", cache), ("results", results), ("weights", weights))
        pairs = [(p, roots[kind] / p.relative_to(root)) for kind, root in scratches if roots[kind] is not None
                 and root.exists() for p in _written(root)]
    return [Outcome(new, old, compare_files(new, old) if old.exists() else [], file_timings(old) if old.exists()
                    else {}, file_timings(new)) for new, old in pairs]


def mismatches(outcomes: list[Outcome]) -> list[str]:
    """Every difference the redone work showed, file by file."""
    return [d for o in outcomes for d in o.differences]


_LAYOUT_CHANGE = re.compile(r"\.layout: '([^']+)' → '([^']+)'$")


def layout_hint(differences: list[str]) -> str | None:
    """When the redone work ran in another layout than the stored one (the machine's calibration now picks
    another), what to pass to redo it in the stored layout; else None."""
    changes = {m.groups() for d in differences if (m := _LAYOUT_CHANGE.search(d))}
    stored = {old for old, _ in changes}
    if len(stored) != 1:
        return None
    (old,), new = stored, sorted({n for _, n in changes})
    return (f"the stored work ran in layout {old}, this machine's calibration now picks {', '.join(new)}: "
            f"`--layout {old}` redoes it in the stored layout")


def nothing_stored(outcomes: list[Outcome]) -> str | None:
    """Why re-timing would replace nothing when every file the redone work wrote is new (work done under other
    keys than the stored one: files keyed by their layout or parameters); else None."""
    if not outcomes or not all(o.new for o in outcomes):
        return None
    names = ", ".join(o.stored.name for o in outcomes[:5]) + (" …" if len(outcomes) > 5 else "")
    return (f"the redone work wrote only files that are not stored ({names}): nothing stored was redone, so no "
            "timing would be replaced. Files keyed by their layout or parameters come out new when the work ran "
            "under other ones — pass the stored layout with `--layout` or the stored parameters with `-p`")


def apply(outcomes: list[Outcome]) -> None:
    """Put the redone files in place of the stored ones — all of them, or none when any differs or when none of
    them was stored before (work done under other keys re-times nothing)."""
    unmatched = nothing_stored(outcomes)
    if unmatched:
        raise RetimeMismatch(unmatched)
    bad = mismatches(outcomes)
    if bad:
        shown = "\n  ".join(bad[:20]) + (f"\n  … and {len(bad) - 20} more" if len(bad) > 20 else "")
        raise RetimeMismatch(f"the redone work differs from what is stored; nothing was replaced:\n  {shown}")
    for o in outcomes:
        with atomic_path(o.stored, suffix=o.stored.suffix) as tmp:
            shutil.copyfile(o.scratch, tmp)


def summary(outcomes: list[Outcome]) -> str:
    """One line per timing that changed: file, entry, stored → redone seconds."""
    lines = []
    for o in outcomes:
        for k, after in sorted(o.after.items()):
            before = o.before.get(k)
            if before is not None and abs(before - after) > 1e-9:
                lines.append(f"{o.stored.name}  {k}: {before:.1f} s → {after:.1f} s")
        if o.new:
            lines.append(f"{o.stored.name}: not stored before (new file)")
    return "\n".join(lines) or "no timings changed"
