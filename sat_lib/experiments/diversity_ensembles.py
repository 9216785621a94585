"""Chapter "Diversity of heterogeneous ensembles" (design-diversity paper, Sec. 4.2: Figs. 5, 6, 7 and 9).

Every ``size``-member combination of a ``pool`` of the SAT zoo's stored models (nothing is retrained when the
weights cache holds them) is scored as an ensemble on the clean test images and on the paper's corrupted copies
of them (``sat_lib.zoo.corrupted_set``): accuracy by logit averaging and by majority vote,
the improvement over the ensemble's best member (A_ens − A_top), the mean pairwise disagreement (Eq. 4), the
attribution diversity (Eq. 7), the mean member accuracy and the total parameter count.

Work is per model, never per ensemble: each model is one job (``Executor.map``) that computes its logits on every
set and its attribution maps — captum ``Saliency`` (signed) of the true-class logit on ``attribution_images``
images of every set (a seeded random subset of the draw, ``subset_positions``), and ``IntegratedGradients`` at
each of ``ig_steps`` on the clean ones — once, and keeps them in the cache (``attributions/``, never committed). The ensembles are then combined
from those stored outputs in this process; the result keeps only per-ensemble scores, per-model predictions, each
averaged ensemble's correctness per image (so that every interval can resample the images too) and the pairwise
scores of Fig. 9. The scoring is shared with the other design-diversity chapters
(``sat_lib.zoo.ensembles``).
"""
from __future__ import annotations
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import xarray as xr

from sat_lib.config import project_config
from sat_lib.executor import Executor
from sat_lib.experiments._chapter import Chapter, cached, register, resolve_params
from sat_lib.params import ChapterConfig
from sat_lib.zoo import check_zoo_and_dataset, image_sample, job_spec, subset_positions, train_or_load
from sat_lib.zoo.ensembles import (AVERAGING, CLEAN, CONSENSUS, all_ensembles, check_scoring, check_size,
                                   corrupted_paths, ensemble_scores, load_outputs, outputs_path,
                                   pair_scores, parse_set, result_dataset, save_outputs, set_label)

VERSION = 3   # 2: attribution maps on a seeded random subset of the draw (not its first images); 3: averaged
              #    ensembles' per-image correctness kept


@dataclass(frozen=True)
class Config(ChapterConfig):
    """Defaults are the quick profile; ``_config.yml`` holds smoke / quick / paper."""

    chapter: ClassVar[str] = "diversity-ensembles"
    matrix_profile: str = "quick"   # the sat-matrix profile whose zoo (and trained models) the pool is drawn from
    pool: tuple[str, ...] = ("vgg_c32", "resnet10_c32", "resnet18_c16", "densenet_c12", "resnext26_c16",
                             "regnetx_002_s1", "mobilenetv3_small_100_s1", "lcnet_050_s1", "convnext_p2_c32",
                             "convmixer_128_6_p4", "levit_128s_32", "xcit_nano_p8_d6", "mixer_p4_d96",
                             "vit_d64_p4")  # 14 models of CNN, NAS, Transformer, MLP and hybrid families
    size: int = 3                   # members per ensemble: every combination of the pool (C(14, 3) = 364)
    sets: tuple[str, ...] = ("clean", "plasma_noise@4", "checkerboard_cutout@4", "water_drop@7", "lines@1.6")
    consensus: tuple[str, ...] = CONSENSUS  # averaging (mean of logits) and majority vote (seeded tie-breaks)
    n_images: int = 1000            # test images, one seeded draw, clean and corrupted
    attribution_images: int = 200   # this many of them (a seeded random subset) get attribution maps
    ig_steps: tuple[int, ...] = (2, 10, 50)  # Integrated Gradients' step counts compared with Saliency (Fig. 9)
    seed: int = 0
    n_boot: int = 2000

    def __post_init__(self) -> None:
        check_scoring(self)
        self._check_pool()

    def _check_pool(self) -> None:
        """The pool: different models of the matrix profile's zoo (and of its ``models`` when it names some, so
        that their stored weights are used), and an ensemble size between 2 and the pool's size."""
        mc = resolve_params("sat-matrix", self.matrix_profile)
        check_zoo_and_dataset(mc.zoo, self.pool, mc.dataset)  # unknown model: KeyError with close matches
        outside = [m for m in self.pool if mc.models and m not in mc.models]
        if outside:
            raise ValueError(f"parameter 'pool': {outside} are not among the models of sat-matrix profile "
                             f"{self.matrix_profile!r} ({', '.join(mc.models)}), whose stored weights are used")
        if len(set(self.pool)) != len(self.pool):
            raise ValueError(f"parameter 'pool' names a model twice: {list(self.pool)}")
        check_size(self.size, len(self.pool))


def matrix_config(cfg: Config):
    return resolve_params("sat-matrix", cfg.matrix_profile)


# --------------------------------------------------------------------------------------------- one job per model

def model_job(spec: dict) -> dict:
    """One pool model: its outputs (``model_outputs``) from the cache, or computed once and cached. Returns the
    cache file, the parameter count and whether anything was computed."""
    t = train_or_load(spec["model"])
    path = outputs_path(spec, t.path)
    n_params = sum(p.numel() for p in t.model.parameters())
    if path.exists():
        return {"path": str(path), "n_params": n_params, "from_cache": t.from_cache, "computed": False}
    save_outputs(t.model, spec, path)
    return {"path": str(path), "n_params": n_params, "from_cache": t.from_cache, "computed": True}


# --------------------------------------------------------------------------------------------------- compute

def job_specs(cfg: Config, mc, idx: np.ndarray, labels: list[str], paths: list[str | None]) -> list[dict]:
    return [{"model": job_spec(mc, n), "idx": idx.tolist(), "labels": labels, "paths": paths,
             "attribution_positions": subset_positions(len(idx), cfg.attribution_images, cfg.seed).tolist(),
             "ig_steps": list(cfg.ig_steps)} for n in cfg.pool]


def compute(cfg: Config) -> xr.Dataset:
    from sat_lib.models import get_zoo

    mc = matrix_config(cfg)
    test = project_config().load_data(mc.dataset, "test")
    idx = image_sample(len(test), cfg.n_images, cfg.seed)
    labels = [set_label(parse_set(s)) for s in cfg.sets]
    t0 = time.perf_counter()
    paths = corrupted_paths(cfg, mc.dataset, idx)
    with Executor() as ex:
        done = ex.map(model_job, job_specs(cfg, mc, idx, labels, paths), desc="diversity-ensembles",
                      names=list(cfg.pool))
        scheduler = ex.last_scheduler
    out = load_outputs([r["path"] for r in done])
    y = test.labels[idx]
    members = all_ensembles(len(cfg.pool), cfg.size)
    n_params = np.array([r["n_params"] for r in done], dtype=np.int64)
    t1 = time.perf_counter()
    sc = ensemble_scores(out, y, members, n_params, cfg)
    ps = pair_scores(out, labels.index(CLEAN))
    combine_seconds = time.perf_counter() - t1
    zoo = get_zoo(mc.zoo)
    ds = result_dataset(cfg, list(cfg.pool), [zoo[n].family for n in cfg.pool], test, idx, labels, members, sc,
                        ps, out, done,
                        attrs={"matrix_profile": cfg.matrix_profile, "zoo": mc.zoo, "dataset": mc.dataset,
                               "executor": scheduler, "combine_seconds": combine_seconds,
                               "wall_seconds": time.perf_counter() - t0})
    attributed = np.zeros(len(idx), dtype=np.int8)
    attributed[subset_positions(len(idx), cfg.attribution_images, cfg.seed)] = 1
    ds["attributed"] = ("image", attributed, {"long_name": "1: the image has attribution maps (a seeded subset)"})
    if AVERAGING in cfg.consensus:  # what lets the averaged ensembles' intervals resample the images too
        ds["averaged_correct"] = (("ensemble", "set", "image"), sc["correct"][:, :, cfg.consensus.index(AVERAGING)],
                                  {"long_name": "the averaged ensemble right on the image"})
    return ds


def run(cfg: Config, mode: str = "auto") -> xr.Dataset:
    return cached(cfg, compute, version=VERSION, mode=mode)


def claims(cfg: Config, mode: str = "cache_only"):
    from sat_lib.analysis.diversity_ensembles import claims_table
    from sat_lib.experiments._chapter import provenance_line

    ds = run(cfg, mode)
    return claims_table(ds, n_boot=cfg.n_boot, seed=cfg.seed), provenance_line(ds)


def dry_jobs(cfg: Config) -> list:
    """For ``--dry-run``: every pool model's (sat-matrix's, stored there) logits and attributions on every set."""
    from sat_lib.zoo.dry import outputs_work, spec_job

    mc = matrix_config(cfg)
    return [spec_job(job_spec(mc, n), outputs_work(cfg), trains=False, note="weights of sat-matrix")
            for n in cfg.pool]


CHAPTER = register(Chapter(
    name=Config.chapter,
    title="Diversity of heterogeneous ensembles",
    part="Design diversity",
    config=Config,
    compute=run,
    summary="Every three-member ensemble of 14 zoo models on clean and corrupted images: improvement over the best "
            "member against attribution diversity (Eq. 7), disagreement (Eq. 4) and mean member accuracy, with "
            "averaging and majority vote; Saliency against Integrated Gradients (Figs. 5, 6, 7, 9).",
    claims=claims,
    version=VERSION,
    upstream=lambda cfg: (matrix_config(cfg),),
    dry_run=dry_jobs,
))
