"""Published weights: the trained models of the zoos named in ``_config.yml`` (``data.weights_store``), committed
with the project, so that a chapter recomputed in a later working stretch or on another machine reuses them
instead of retraining (the local weights cache, ``data/cache/weights``, does not survive a new machine).

A published model is trained once, its floating-point tensors rounded to the store's precision (fp16 by default;
a tensor the precision cannot hold — a value that overflows or turns non-finite, a nonzero value flushed to zero, a
tensor wholly below the normal range — stays fp32: ``_keeps``), and **the rounded weights are the model** from then
on: the run that trained it continues with them, so on one machine a chapter gives the same numbers whether its
models were trained in this run or read from the store (another machine may attack them in another measured
layout). Files are ``<store>/<dataset>/<stem>-<key>.pt`` where the key is the weights key
(``sat_lib.weights.weights_key``) without the measured precision / memory layout: the layout a machine measures
for training may differ between machines (and between calibrations), but published weights are the same
weights wherever they are read. Each file records how it was trained (the layout, the seconds, the epochs'
losses), on what processor and at which git commit. Writes are atomic.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from sat_lib._files import atomic_path

log = logging.getLogger(__name__)

DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}


def _keeps(t: torch.Tensor, low: torch.Tensor) -> bool:
    """Whether ``low`` (``t`` cast down) holds ``t`` up to rounding: no value overflows or turns non-finite, no
    nonzero value flushes to zero, and the tensor is not all below the cast's normal range (a layer scale of 1e-6
    would keep only a few bits)."""
    tiny = torch.finfo(low.dtype).tiny
    return bool((torch.isfinite(low) == torch.isfinite(t)).all() and not ((low == 0) & (t != 0)).any()
                and (t.numel() == 0 or not torch.isfinite(t).all() or t.abs().max() >= tiny or not t.any()))


@dataclass(frozen=True)
class WeightStore:
    """Where published weights live, which zoos publish there, and at what precision they are kept."""

    root: Path
    zoos: tuple[str, ...] = ()
    dtype: str = "float16"

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"weights_store.dtype must be one of {sorted(DTYPES)}, got {self.dtype!r}")

    def publishes(self, zoo: str) -> bool:
        return zoo in self.zoos

    def path(self, dataset: str, stem: str, key: str) -> Path:
        return Path(self.root) / dataset / f"{stem}-{key}.pt"

    def rounded(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The state as stored: floating tensors cast to the store's dtype, except where the cast would lose more
        than rounding (``_keeps``: kept as they are); integer buffers as they are. Loading it into a model gives
        the published model."""
        out = {}
        for name, t in state_dict.items():
            t = t.detach().cpu()
            low = t.to(DTYPES[self.dtype]) if t.is_floating_point() else t
            out[name] = low if t.is_floating_point() and _keeps(t, low) else t
        return out

    def read(self, path: Path) -> tuple[dict[str, torch.Tensor], dict] | None:
        """(state, info) of a published file, or None when it is absent; an unreadable file is reported and
        treated as absent (the model is retrained and the file rewritten)."""
        if not path.exists():
            return None
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
            return blob["state_dict"], json.loads(blob["info"])
        except Exception as err:
            log.warning("ignoring unreadable published weights %s (%s); retraining", path, err)
            return None

    def write(self, path: Path, state: dict[str, torch.Tensor], info: dict) -> Path:
        """Publish ``state`` (already ``rounded``) with ``info`` and where and when it was made."""
        from sat_lib.provenance import git_commit, now_iso, processor_name

        info = {**info, "stored_as": self.dtype, "processor": processor_name(), "git_commit": git_commit(),
                "published": now_iso()}
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            torch.save({"state_dict": state, "info": json.dumps(info)}, tmp)
        return path
