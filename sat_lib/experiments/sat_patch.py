"""Patch-Fool against PGD (SAT paper, appendix G, Fig. G.1b): a section of the sat-attacks chapter, stored as its
own result under ``data/results/sat-patch/``.

The paper attacks ViT-S with Patch-Fool (``sat_lib.patch_fool``), measures how its examples transfer to the 68
other models, and correlates that with SAT by PGD (Pearson 0.91). Here, for one Vision Transformer of the zoo
(``source``) and a set of other zoo models (``targets``), all trained by the zoo's recipe (``ZooAttack``, the same
cache entries as ``sat-matrix``):

- every model is attacked by 50-step PGD on the zoo's attacked images and evaluated on every other's examples
  (two-sided SAT by PGD, Eq. 1, among these models);
- the source alone is attacked by Patch-Fool on the same images, and every model is evaluated on its examples
  (one-sided transfer: the attack the paper could only run on a Transformer);
- the control: the same patch of every image filled with uniform noise instead (``sat_lib.patch_fool.random_patch``,
  Patch-Fool's own start), every model evaluated on it — how much of Patch-Fool's transfer any occluding patch of
  that size and place would give;
- a few clean / Patch-Fool image pairs are kept for the chapter to show.

Everything is computed from weights this run trains or finds in the cache, so the section does not lean on the
stored ``sat-matrix`` result; the chapter compares the two afterwards (the same recipe, trained again).
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import xarray as xr

from sat_lib.config import project_config
from sat_lib.executor import Executor
from sat_lib.experiments._chapter import result_params
from sat_lib.measures import sat_matrix
from sat_lib.patch_fool import PatchFoolConfig, patch_grid, random_patch
from sat_lib.provenance import default_device
from sat_lib.zoo import (ZooAttack, attack_and_evaluate, attack_sample, cross_evaluate, job_spec, load_adversarial,
                         model_job, train_or_load)

VERSION = 2  # 2: the random-patch control


@dataclass(frozen=True)
class Config(ZooAttack):
    """The zoo's training and attack settings (``ZooAttack``), the Patch-Fool source and its targets."""

    chapter: ClassVar[str] = "sat-patch"
    source: str = "vit_d64_p4"            # a Vision Transformer of the zoo (the paper: ViT-S)
    targets: tuple[str, ...] = ()         # other zoo models (empty: all of them; the paper: the other 68)
    patch_steps: int = 250                # Adam iterations (the authors' 250)
    patch_lr: float = 0.05                # pixel units (the authors' 0.22 in normalised units)
    attn_weight: float = 0.002            # the authors' attention-loss weight
    n_patches: int = 1                    # the authors' vanilla Patch-Fool: one patch
    n_examples: int = 6                   # clean / attacked image pairs kept for the chapter

    def __post_init__(self) -> None:
        super().__post_init__()
        from sat_lib.models import get_zoo

        zoo = get_zoo(self.zoo)
        zoo[self.source]
        for t in self.targets:
            zoo[t]
        names = self.names()
        if self.source in names[1:] or len(set(names)) != len(names):
            raise ValueError(f"parameter 'targets' must name different models other than the source "
                             f"{self.source!r}, got {list(self.targets)}")
        if len(names) < 4:
            raise ValueError(f"Patch-Fool against PGD needs at least 3 targets to correlate, got {names[1:]}")
        if self.n_examples < 0:
            raise ValueError(f"parameter 'n_examples' must be >= 0, got {self.n_examples}")
        PatchFoolConfig(**self.patch)

    @property
    def patch(self) -> dict:
        return dataclasses.asdict(PatchFoolConfig(steps=self.patch_steps, lr=self.patch_lr,
                                                  attn_weight=self.attn_weight, n_patches=self.n_patches,
                                                  seed=self.seed))

    def names(self) -> list[str]:
        """The source, then the targets (default: every other model of the zoo)."""
        from sat_lib.models import get_zoo

        targets = list(self.targets) or [n for n in get_zoo(self.zoo).names() if n != self.source]
        return [self.source, *targets]


def _examples(cfg: Config, adv: torch.Tensor, x: np.ndarray, correct: np.ndarray, fooled: np.ndarray) -> dict:
    """The first ``n_examples`` images the source classifies correctly, clean and attacked (uint8, HWC), by their
    position in the attacked sample."""
    keep = np.flatnonzero(correct)[:cfg.n_examples]
    attacked = (adv[keep].permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
    dims = ("example", "row", "column", "channel")
    return {"vars": {"example_clean": (dims, x[keep]), "example_patch": (dims, attacked),
                     "example_fooled": ("example", fooled[keep])},
            "coords": {"example": keep, "row": np.arange(x.shape[1]), "column": np.arange(x.shape[2]),
                       "channel": np.arange(x.shape[3])}}


def _one_sided(fooled_pgd: torch.Tensor, fooled_source: np.ndarray, correct: torch.Tensor, eps_s: float):
    """One-sided SAT and transfer rate of the source's (first model's) examples whose ``fooled_source``
    (model, image) is given, on the images both the source and each model classify correctly."""
    f = torch.zeros_like(fooled_pgd)
    f[0] = torch.from_numpy(fooled_source)
    one, _, rate = sat_matrix(f, correct, eps_s=eps_s, one_sided=True)
    return one, rate


def compute(cfg: Config) -> xr.Dataset:
    test = project_config().load_data(cfg.dataset, "test")
    y_test = np.asarray(test.labels)
    sample = attack_sample(cfg, len(y_test))
    names = cfg.names()
    specs = [job_spec(cfg, n) for n in names]
    results, fooled_pgd, scheduler, pgd_eval_seconds = attack_and_evaluate(cfg, specs, sample, "Patch-Fool zoo")
    patch_spec = {**job_spec(cfg, cfg.source, attack=cfg.patch, attack_kind="patch-fool"), "sample": sample}
    t0 = time.perf_counter()
    with Executor() as ex:
        (rp,) = ex.map(model_job, [patch_spec], desc="patch-fool", names=[cfg.source])
        t1 = time.perf_counter()
        preds = cross_evaluate(ex, specs, results, [rp], "evaluate Patch-Fool")   # (model, 1, image)
        patch_eval_seconds = time.perf_counter() - t1
        adv = load_adversarial([rp])
        clean = torch.from_numpy(np.asarray(test.images)[sample]).permute(0, 3, 1, 2).float().div(255)
        _, patch, _ = patch_grid(train_or_load(job_spec(cfg, cfg.source)).model)
        control = random_patch(clean, adv, patch, seed=cfg.seed, max_cells=cfg.n_patches)
        t2 = time.perf_counter()
        preds_random = cross_evaluate(ex, specs, results, [{"adv": control, "adv_path": None}],
                                      "evaluate the random patch")                        # (model, 1, image)
    random_eval_seconds = time.perf_counter() - t2
    y = y_test[sample]
    correct = np.stack([r["test_logits"].argmax(-1) == y_test for r in results])
    fooled_patch = preds[:, 0, :] != y                                        # (model, image)
    fooled_random = preds_random[:, 0, :] != y
    c = torch.from_numpy(correct[:, sample])
    sat_pgd, n_both, rate_pgd = sat_matrix(fooled_pgd, c, eps_s=cfg.eps_s)
    one_pgd, _, one_rate_pgd = sat_matrix(fooled_pgd, c, eps_s=cfg.eps_s, one_sided=True)
    one_patch, one_rate_patch = _one_sided(fooled_pgd, fooled_patch, c, cfg.eps_s)
    one_random, one_rate_random = _one_sided(fooled_pgd, fooled_random, c, cfg.eps_s)
    ex = _examples(cfg, adv, np.asarray(test.images)[sample], correct[0, sample], fooled_patch[0])
    ds = xr.Dataset(
        data_vars={
            "accuracy": ("model", correct.mean(1)),
            "correct": (("model", "sample"), correct[:, sample]),
            "fooled_pgd": (("model", "model_b", "sample"), fooled_pgd.numpy(),
                           {"long_name": "model_b wrong on model's PGD example"}),
            "fooled_patch": (("model", "sample"), fooled_patch,
                             {"long_name": "model wrong on the source's Patch-Fool example"}),
            "sat_pgd": (("model", "model_b"), sat_pgd.numpy(), {"long_name": "two-sided SAT by PGD (Eq. 1)"}),
            "n_both": (("model", "model_b"), n_both.numpy()),
            "transfer_pgd": ("model", one_rate_pgd[0].numpy(),
                             {"long_name": "the source's PGD examples that fool the model", "units": "percent"}),
            "transfer_patch": ("model", one_rate_patch[0].numpy(),
                               {"long_name": "the source's Patch-Fool examples that fool the model",
                                "units": "percent"}),
            "sat_pgd_one_sided": ("model", one_pgd[0].numpy()),
            "sat_patch_one_sided": ("model", one_patch[0].numpy()),
            "fooled_random": (("model", "sample"), fooled_random,
                              {"long_name": "model wrong on the source's images with Patch-Fool's patch filled with "
                                            "uniform noise (the control)"}),
            "transfer_random": ("model", one_rate_random[0].numpy(),
                                {"long_name": "the random-patch control images that fool the model",
                                 "units": "percent"}),
            "sat_random_one_sided": ("model", one_random[0].numpy()),
            "train_seconds": ("model", np.array([r["train_seconds"] for r in results])),
            "train_epochs": ("model", np.array([len(r["epoch_loss"]) for r in results])),
            "weights_from_cache": ("model", np.array([r["from_cache"] for r in results])),
            "layout": ("model", np.array([r["layout"] for r in results])),
            "attack_seconds": ("model", np.array([r["attack_seconds"] for r in results]),
                               {"long_name": "PGD on the model"}),
            "n_params": ("model", np.array([r["n_params"] for r in results])),
            **ex["vars"],
        },
        coords={"model": names, "model_b": names, "sample": sample, **ex["coords"]},
        attrs={"source": cfg.source, "executor": scheduler, "patch_seconds": float(rp["attack_seconds"]),
               "patch_job_seconds": t1 - t0, "patch_evaluate_seconds": patch_eval_seconds,
               "pgd_evaluate_seconds": pgd_eval_seconds, "random_evaluate_seconds": random_eval_seconds,
               "dataset_source": str(test.source)},
    )
    return ds


def run(cfg: Config, mode: str = "auto") -> xr.Dataset:
    """The stored result for these parameters, or computed and stored."""
    from sat_lib.results import load_or_compute

    return load_or_compute(cfg.chapter, result_params(cfg), lambda: compute(cfg), mode=mode, version=VERSION,
                           results_dir=project_config().results_dir, device=default_device())
