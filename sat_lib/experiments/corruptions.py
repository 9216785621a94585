"""Chapter "Resilience to natural corruptions" (design-diversity paper, Table 1 and Fig. 4).

The SAT chapter's zoo (its stored models: nothing is retrained when the weights cache holds them) is evaluated on
corrupted copies of the same test images: the paper's four corruptions at its strengths (``sat_lib.corruptions.
DESIGN_DIVERSITY``) and the CIFAR-10-C-bar set at chosen levels of its five severities. Corrupted test sets are
made once per (corruption, severity, seed, images) and kept in the cache (``sat_lib.zoo.corrupted_set``), never
committed; each model is one job that reads them all.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import xarray as xr

from sat_lib.config import project_config
from sat_lib.executor import Executor
from sat_lib.experiments._chapter import Chapter, cached, register, resolve_params
from sat_lib.params import ChapterConfig
from sat_lib.progress import note
from sat_lib.zoo import image_sample, job_spec, stored_corrupted_set, train_or_load

VERSION = 1


@dataclass(frozen=True)
class Config(ChapterConfig):
    """Defaults are the quick profile; ``_config.yml`` holds smoke / quick / paper."""

    chapter: ClassVar[str] = "corruptions"
    matrix_profile: str = "quick"         # the sat-matrix profile whose zoo (and trained models) is evaluated
    models: tuple[str, ...] = ()          # empty: every model of that zoo
    paper_set: bool = True                # the paper's four corruptions at its strengths
    cbar: tuple[str, ...] = ("blue_noise_sample", "brownish_noise", "checkerboard_cutout", "circular_motion_blur",
                             "inverse_sparkles", "lines", "pinch_and_twirl", "ripple", "sparkles",
                             "transverse_chromatic_abberation")  # CIFAR-10-C-bar corruptions
    levels: tuple[int, ...] = (1, 3, 5)   # which of the C-bar set's five severities (1 = mildest)
    n_images: int = 2000                  # test images, one seeded draw, corrupted and evaluated
    seed: int = 0
    baseline: str = "resnet10_c32"        # the paper's ResNet50 of Fig. 4
    n_boot: int = 2000

    def __post_init__(self) -> None:
        from sat_lib.corruptions import CIFAR10_C_BAR, CORRUPTIONS

        if self.n_images < 2 or self.n_boot < 1:
            raise ValueError(f"parameters 'n_images' (>= 2) and 'n_boot' (>= 1): got {self.n_images}, {self.n_boot}")
        for name in self.cbar:
            CORRUPTIONS[name]  # unknown name: KeyError with close matches
            if name not in CIFAR10_C_BAR:
                raise ValueError(f"parameter 'cbar': {name!r} is not in CIFAR-10-C-bar "
                                 f"({', '.join(CIFAR10_C_BAR)}); the paper's set is switched by 'paper_set'")
        bad = [lv for lv in self.levels if not 1 <= lv <= 5]
        if bad:
            raise ValueError(f"parameter 'levels': {bad} outside the C-bar set's severity levels 1–5")
        if not self.paper_set and not self.cbar:
            raise ValueError("nothing to evaluate: set 'paper_set' or name corruptions in 'cbar'")
        if self.models and self.baseline not in self.models:
            raise ValueError(f"parameter 'baseline' {self.baseline!r} is not one of 'models'")

    def sets(self) -> list[tuple[str, float, str]]:
        """(corruption, severity, kind) of every corrupted test set: the paper's four, then C-bar's levels."""
        from sat_lib.corruptions import CIFAR10_C_BAR, DESIGN_DIVERSITY

        out = [(n, s, "paper") for n, s in DESIGN_DIVERSITY.items()] if self.paper_set else []
        out += [(n, CIFAR10_C_BAR[n][lv - 1], f"C-bar level {lv}") for n in self.cbar for lv in self.levels]
        return out


def matrix_config(cfg: Config):
    return resolve_params("sat-matrix", cfg.matrix_profile)


def model_names(cfg: Config) -> list[str]:
    from sat_lib.models import get_zoo

    mc = matrix_config(cfg)
    zoo = get_zoo(mc.zoo)
    names = list(cfg.models) or list(mc.models) or zoo.names()
    for n in names:
        zoo[n]
    if cfg.baseline not in names:
        raise ValueError(f"parameter 'baseline' {cfg.baseline!r} is not a model of zoo {mc.zoo!r} here")
    return names


def model_job(spec: dict) -> dict:
    """One zoo model on the clean and every corrupted set: predicted classes per set (int8)."""
    from sat_lib.train import predict

    t = train_or_load(spec["model"])
    idx = np.asarray(spec["idx"], dtype=np.int64)
    test = project_config().load_data(spec["model"]["dataset"], "test")
    sets = [test.images[idx]] + [np.load(p) for p in spec["paths"]]
    preds = np.stack([predict(t.model, torch.from_numpy(s).permute(0, 3, 1, 2).contiguous(),
                              precision=spec["model"]["precision"]).numpy().astype(np.int8) for s in sets])
    y = test.labels[idx]
    note(f"{spec['model']['name']}: clean {100 * (preds[0] == y).mean():.1f} %, corrupted mean "
         f"{100 * (preds[1:] == y).mean():.1f} %")
    return {"pred": preds, "n_params": sum(p.numel() for p in t.model.parameters()), "from_cache": t.from_cache}


def compute(cfg: Config) -> xr.Dataset:
    from sat_lib.models import get_zoo

    mc = matrix_config(cfg)
    names = model_names(cfg)
    test = project_config().load_data(mc.dataset, "test")
    idx = image_sample(len(test), cfg.n_images, cfg.seed)
    sets = cfg.sets()
    t0 = time.perf_counter()
    # made once, before the model jobs read them
    paths = [stored_corrupted_set(mc.dataset, name, sev, cfg.seed, idx) for name, sev, _ in sets]
    corrupt_seconds = time.perf_counter() - t0
    with Executor() as ex:
        done = ex.map(model_job, [{"model": job_spec(mc, n), "idx": idx.tolist(), "paths": paths} for n in names],
                      desc="corruptions", names=names)
        scheduler = ex.last_scheduler
    zoo = get_zoo(mc.zoo)
    labels = [f"{n}@{s:g}" for n, s, _ in sets]
    return xr.Dataset(
        data_vars={
            "pred": (("model", "set", "image"), np.stack([r["pred"] for r in done]),
                     {"long_name": "predicted class (set 'clean' first)"}),
            "label": ("image", test.labels[idx].astype(np.int8)),
            "n_params": ("model", np.array([r["n_params"] for r in done])),
            "weights_from_cache": ("model", np.array([r["from_cache"] for r in done])),
        },
        coords={"model": names, "family": ("model", [zoo[n].family for n in names]),
                "set": ["clean", *labels], "corruption": ("set", ["none", *[n for n, _, _ in sets]]),
                "severity": ("set", [0.0, *[s for _, s, _ in sets]]),
                "kind": ("set", ["clean", *[k for _, _, k in sets]]), "image": idx},
        attrs={"matrix_profile": cfg.matrix_profile, "zoo": mc.zoo, "dataset_source": test.source,
               "corrupt_seconds": corrupt_seconds, "executor": scheduler, "baseline": cfg.baseline,
               "wall_seconds": time.perf_counter() - t0,
               "sets_json": json.dumps([[n, s, k] for n, s, k in sets])},
    )


def run(cfg: Config, mode: str = "auto") -> xr.Dataset:
    return cached(cfg, compute, version=VERSION, mode=mode)


def dry_jobs(cfg: Config) -> list:
    """For ``--dry-run``: every zoo model (sat-matrix's, stored there) on the clean and every corrupted set."""
    from sat_lib.dryrun import Work
    from sat_lib.zoo.dry import spec_job

    mc, sets = matrix_config(cfg), 1 + len(cfg.sets())
    return [spec_job(job_spec(mc, n), Work(forward_images=sets * cfg.n_images), trains=False,
                     note="weights of sat-matrix") for n in model_names(cfg)]


def claims(cfg: Config, mode: str = "cache_only"):
    from sat_lib.analysis.corruptions import claims_table
    from sat_lib.experiments._chapter import provenance_line

    ds = run(cfg, mode)
    return claims_table(ds), provenance_line(ds)


CHAPTER = register(Chapter(
    name=Config.chapter,
    title="Resilience to natural corruptions",
    part="Design diversity",
    config=Config,
    compute=run,
    summary="The SAT zoo on the design-diversity paper's four corruptions and the CIFAR-10-C-bar set: accuracy, "
            "size and architecture against resilience (Table 1, Fig. 4).",
    claims=claims,
    version=VERSION,
    upstream=lambda cfg: (matrix_config(cfg),),
    dry_run=dry_jobs,
))
