"""The universality chapter's cross-evaluation: every model of one (setting, ε) group on every member's inverted
images (``group_job``, one Dask job per group; ``universality.compute`` maps it).

The pair stage reads each member's weights and inverted images from this machine's cache. Where the cache lacks
them (a new machine, a cleared cache) while the member's per-model result is stored, the member is trained and
inverted again. The pair scores then stand on a model the stored result did not measure unless the retrained
model is that model: ``check_retrained`` compares its float16 test logits with the stored ones and refuses any
difference (``RetrainedModelDiffers``), since training on another processor or library build need not give the
same weights.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from sat_lib.config import project_config
from sat_lib.experiments import universality as U


class RetrainedModelDiffers(RuntimeError):
    """A model trained again for the pair stage is not the model its stored per-model result measured."""


def check_retrained(spec: dict, t) -> None:
    """Refuse a retrained model ``t`` whose float16 test logits differ from its stored per-model result's."""
    stored = U.stored_model_job(spec)["test_logits"].values
    got = U.evaluation_logits(spec, t, U.evaluation_split(spec)).numpy().astype(np.float16)
    if got.shape == stored.shape and np.array_equal(got, stored):
        return
    same = float((got.argmax(1) == stored.argmax(1)).mean()) if got.shape == stored.shape else float("nan")
    raise RetrainedModelDiffers(
        f"{spec['name']} at ε = {spec['eps']:g} ({spec['setting']}): this machine's cache lacks its weights, and "
        f"training it again gave another model (test predictions {same:.1%} the same as its stored per-model "
        f"result's, logits not identical), so the pair scores would not measure the models the chapter reports. "
        f"Restore the weights cache ({project_config().weights_dir}) from the machine that trained it, or "
        f"recompute the chapter's models here (--recompute).")


def inverted(spec: dict, t, images: str) -> tuple[torch.Tensor, float]:
    """``t``'s inverted images (float32 of the float16 the cache holds) and the seconds inverting again took."""
    path = U.inversion_path(spec, t.path, images)
    if path is not None and path.exists():
        return torch.load(path, weights_only=True)["images"].float(), 0.0
    test = U.evaluation_split(spec)
    inv = U.invert_images(spec, t, test if images == "test" else U.ood_split(spec, test), images)
    return inv["images"].half().float(), inv["seconds"]  # as the cache holds them: the same scores either way


def group_job(spec: dict) -> dict:
    """Every model of one (setting, ε) group on every member's inverted images: each pair's measures on each
    source's images (``source`` = whose inverted images; ``universality_pairs.source_scores``); its seconds apart
    from ``redone_seconds``, members trained (and checked) or inverted again where this machine's cache lacked
    them."""
    from sat_lib.activations import penultimate
    from sat_lib.experiments.universality_pairs import SOURCE_SCORES, source_scores

    start = time.perf_counter()
    members, images, ks = spec["members"], spec["images"], spec["ks"]
    models = [U.trained(m) for m in members]
    checking, retrained = time.perf_counter(), [(m, t) for m, t in zip(members, models) if not t.from_cache]
    for m, t in retrained:
        check_retrained(m, t)
    checking = time.perf_counter() - checking if retrained else 0.0
    sources, inverting = zip(*(inverted(m, t, images) for m, t in zip(members, models)))
    per_source = [source_scores(*zip(*(penultimate(t.model, src, precision="fp32") for t in models)), ks)
                  for src in sources]
    redone = sum(t.train_seconds for t in models if not t.from_cache) + checking + sum(inverting)
    return {**{name: np.stack([r[name] for r in per_source]) for name in SOURCE_SCORES}, "redone_seconds": redone,
            "pairs_seconds": time.perf_counter() - start - redone}
