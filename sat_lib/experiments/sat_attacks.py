"""Chapter "Does the attack matter? Attacks, new models and a decision-boundary baseline" (SAT paper Table 1 and
appendix G: Figs. G.1, G.2 and "an efficient approximation for a new model").

Three computations on the zoo of ``sat-matrix`` (whose stored PGD examples, predictions and SAT are reused):

1. **Attack choice (Fig. G.1a).** A subset of the zoo attacked again by AutoAttack's first two attacks (APGD-CE,
   then APGD-T on what APGD-CE leaves; ``sat_lib.apgd``) on the same images, every model of the subset evaluated
   on every other's examples: SAT by PGD against SAT by AutoAttack.
2. **A new model (Figs. G.2, appendix G).** The models ``sat-training`` retrained (other seeds, hyper-parameters,
   regimes of two zoo architectures) play new models: their stored examples are evaluated by every zoo model
   (one-sided SAT, the approximation: the new model is attacked, the zoo is not) and every zoo model's stored
   examples by them (two-sided SAT, the exact score), so both are known for every (new, zoo) pair.
3. **Decision regions (Table 1).** Somepalli et al.'s decision-region similarity of the zoo's stability pair on
   planes through triplets of test images (``sat_lib.boundary``; as theirs, each plane covers the triangle widened by
   10 % and its points are not clamped to the pixel range), its spread over random triplet sets beside
   SAT's spread over random image sets (the ``sat-matrix`` result), at the paper's equal-compute exchange rate.
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
from sat_lib.experiments._chapter import Chapter, cached, chapter_result, register, resolve_params
from sat_lib.measures import sat_matrix
from sat_lib.zoo import (ZooAttack, attack_and_evaluate, attack_sample, cross_evaluate, job_spec, model_job,
                         sat_with_new, train_or_load, variant_spec)

VERSION = 2  # 2: decision-region planes not clamped to the pixel range (Somepalli et al.'s definition)


@dataclass(frozen=True)
class Config(ZooAttack):
    """Defaults are the quick profile; the training and attack fields are ``sat-matrix``'s (``ZooAttack``), so
    every model and PGD example comes from the zoo's and the training chapter's stores."""

    chapter: ClassVar[str] = "sat-attacks"
    matrix_profile: str = "quick"         # the sat-matrix profile: the zoo, its PGD examples and SAT
    training_profile: str = "quick"       # the sat-training profile whose retrained models play new models
    # Fig. G.1: the paper's 8 (ViT-S, CoaT-Lite S, ResNet-101, LamHaloBotNet50, ReXNet-150, NFNet-L0, Swin-T,
    # Twins-PCPVT) by the closest models of the zoo
    attack_models: tuple[str, ...] = ("vit_d64_p4", "xcit_nano_p8_d6", "resnet18_c16", "skresnet10_c32",
                                      "regnetx_002_s1", "resnet10_gn", "swin_p2_w4_c32", "edgenext_xxs_s2")
    apgd_steps: int = 100                 # AutoAttack's standard APGD iterations
    n_targets: int = 9                    # APGD-T target classes (AutoAttack standard: 9)
    n_clusters: int = 6                   # spectral clusters a new model is assigned to
    triplet_pool: int = 80                # Table 1: triplets of test images (distinct classes) labelled once
    triplet_sizes: tuple[int, ...] = (5, 10, 20, 40)   # triplets per score (the paper: 10, 20, 50, 100)
    triplet_repeats: int = 10             # random triplet sets per size (the paper: 10)
    resolution: int = 50                  # grid points per plane axis (the paper: 2 500 points per plane)
    # Fig. G.1b, a section stored as its own result (``sat_lib.experiments.sat_patch``): Patch-Fool on one Vision
    # Transformer of the zoo against PGD, transferred to ``patch_targets`` (empty: the whole zoo); no source
    # (``patch_source: ""``) skips the section
    patch_source: str = "vit_d64_p4"
    patch_targets: tuple[str, ...] = ()
    patch_steps: int = 250
    section_params: ClassVar[tuple[str, ...]] = ("patch_source", "patch_targets", "patch_steps")

    def __post_init__(self) -> None:
        super().__post_init__()
        from sat_lib.models import get_zoo

        zoo = get_zoo(self.zoo)
        for m in self.attack_models:
            zoo[m]
        if len(set(self.attack_models)) < 3 or len(set(self.attack_models)) != len(self.attack_models):
            raise ValueError(f"parameter 'attack_models' must name at least 3 different models, got "
                             f"{list(self.attack_models)}")
        for name in ("apgd_steps", "n_targets", "triplet_repeats", "triplet_pool"):
            if getattr(self, name) < 1:
                raise ValueError(f"parameter {name!r} must be >= 1, got {getattr(self, name)}")
        if self.n_clusters < 2:
            raise ValueError(f"parameter 'n_clusters' must be >= 2, got {self.n_clusters}")
        if self.resolution < 2:
            raise ValueError(f"parameter 'resolution' must be >= 2, got {self.resolution}")
        if not self.triplet_sizes or min(self.triplet_sizes) < 1 or max(self.triplet_sizes) > self.triplet_pool:
            raise ValueError(f"parameter 'triplet_sizes' must lie in 1 … triplet_pool={self.triplet_pool}, got "
                             f"{list(self.triplet_sizes)}")
        if self.patch_source:
            patch_config(self)  # its own checks: a zoo model, at least 3 other targets, a valid attack

    @property
    def apgd(self) -> dict:
        from sat_lib.apgd import APGDConfig

        return dataclasses.asdict(APGDConfig(norm=self.norm, eps=self.eps, steps=self.apgd_steps,
                                             n_targets=self.n_targets, seed=self.seed))


def matrix_config(cfg: Config):
    """The ``sat-matrix`` configuration of the zoo: its profile with this chapter's training and attack settings."""
    return resolve_params("sat-matrix", cfg.matrix_profile, overrides=cfg.shared())


def patch_config(cfg: Config):
    """The Patch-Fool section's configuration (``sat_patch.Config``): this chapter's shared settings, its source,
    targets and steps; ``None`` when the section is switched off (``patch_source: ""``)."""
    from sat_lib.experiments import sat_patch

    if not cfg.patch_source:
        return None
    return sat_patch.Config(**cfg.shared(), source=cfg.patch_source, targets=cfg.patch_targets,
                            patch_steps=cfg.patch_steps)


def training_config(cfg: Config):
    """The ``sat-training`` configuration of the retrained models, with this chapter's shared settings."""
    return resolve_params("sat-training", cfg.training_profile, overrides=cfg.shared())


def new_models(cfg: Config):
    """The retrained models that are not the zoo's own (a variant trained with the zoo's settings *is* the zoo's
    model): seed, hyper-parameter and regime variants of the training chapter's architectures."""
    from sat_lib.models import get_zoo

    zoo = get_zoo(cfg.zoo)
    return [v for v in training_config(cfg).variants() if (v.train, v.recipe) != (cfg.train, zoo[v.arch].recipe)]


def _apgd_part(cfg: Config, zoo: xr.Dataset, sample: np.ndarray) -> dict:
    names = list(cfg.attack_models)
    specs = [job_spec(cfg, n, attack=cfg.apgd, attack_kind="autoattack") for n in names]
    results, fooled, scheduler, eval_seconds = attack_and_evaluate(cfg, specs, sample, "autoattack")
    correct = torch.from_numpy(zoo["correct"].sel(model=names).values)
    sat, _, _ = sat_matrix(fooled, correct, eps_s=cfg.eps_s)
    return {
        "vars": {
            "fooled_autoattack": (("attacked", "attacked_b", "sample"), fooled.numpy()),
            "sat_autoattack": (("attacked", "attacked_b"), sat.numpy(), {"long_name": "SAT by AutoAttack (APGD-CE, "
                                                                                      "then APGD-T)"}),
            "sat_pgd": (("attacked", "attacked_b"), zoo["sat"].sel(model=names, model_b=names).values,
                        {"long_name": "SAT by PGD (the sat-matrix result)"}),
            "autoattack_seconds": ("attacked", np.array([r["attack_seconds"] for r in results])),
            "pgd_seconds": ("attacked", zoo["attack_seconds"].sel(model=names).values),
        },
        "coords": {"attacked": names, "attacked_b": names},
        "attrs": {"autoattack_evaluate_seconds": eval_seconds, "executor": scheduler},
    }


def _new_model_part(cfg: Config, zoo: xr.Dataset, sample: np.ndarray) -> dict:
    vs = new_models(cfg)
    names = list(zoo["model"].values)
    zoo_specs = [job_spec(cfg, n) for n in names]
    new_specs = [variant_spec(cfg, v) for v in vs]
    t0 = time.perf_counter()
    with Executor() as ex:  # every model and attack is stored: these jobs load them
        rz = ex.map(model_job, [{**s, "sample": sample} for s in zoo_specs], desc="zoo examples", names=names)
        rn = ex.map(model_job, [{**s, "sample": sample} for s in new_specs], desc="new models",
                    names=[v.label for v in vs])
        zoo_on_new = cross_evaluate(ex, zoo_specs, rz, rn, "zoo on the new models' examples")   # (zoo, new, img)
        new_on_zoo = cross_evaluate(ex, new_specs, rn, rz, "new models on the zoo's examples")  # (new, zoo, img)
    y_test = np.asarray(project_config().load_data(cfg.dataset, "test").labels)
    new_correct = np.stack([r["test_logits"].argmax(-1) == y_test for r in rn])
    one, two, n_both = sat_with_new(zoo["fooled"].values, zoo["correct"].values, zoo_on_new, new_on_zoo,
                                    new_correct[:, sample], y_test[sample], cfg.eps_s)
    return {
        "vars": {
            "new_sat_one_sided": (("new", "model"), one,
                                  {"long_name": "one-sided SAT: the new model's examples on the zoo model"}),
            "new_sat_two_sided": (("new", "model"), two, {"long_name": "two-sided SAT (Eq. 1)"}),
            "new_n_both": (("new", "model"), n_both),
            "new_accuracy": ("new", new_correct.mean(1)),
        },
        "coords": {"new": [v.label for v in vs], "new_arch": ("new", [v.arch for v in vs]),
                   "new_kind": ("new", [v.kind for v in vs]), "model": names},
        "attrs": {"new_model_seconds": time.perf_counter() - t0},
    }


def _boundary_part(cfg: Config, zoo: xr.Dataset) -> dict:
    from sat_lib.boundary import draw_triplets, label_maps
    from sat_lib.measures import decision_region_similarity

    pair = [p for p in str(zoo.attrs.get("stability_pair", "")).split(",") if p]
    if len(pair) != 2:
        raise ValueError(f"sat-attacks: the sat-matrix result {zoo.attrs.get('cache_key', '')} has no stability "
                         "pair (its zoo names none, or the pair is not among its models)")
    test = project_config().load_data(cfg.dataset, "test")
    x = torch.from_numpy(np.ascontiguousarray(test.images)).permute(0, 3, 1, 2)
    triplets = draw_triplets(test.labels, cfg.triplet_pool, seed=cfg.seed)
    t0 = time.perf_counter()
    maps = []
    for name in pair:
        spec = job_spec(cfg, name)
        maps.append(label_maps(train_or_load(spec).model, x, triplets, resolution=cfg.resolution,
                               batch_size=cfg.attack_batch_size * 4, precision=spec["precision"], clamp=False))
    seconds = time.perf_counter() - t0
    per = 100 * decision_region_similarity(maps[0], maps[1], reduce="none").numpy()
    rng = np.random.default_rng(cfg.seed)
    sizes = list(cfg.triplet_sizes)
    rate = np.array([[per[rng.choice(len(per), size=s, replace=False)].mean() for _ in range(cfg.triplet_repeats)]
                     for s in sizes])
    return {
        "vars": {
            "triplet_similarity": ("triplet", per, {"long_name": "decision-region similarity of the pair on each "
                                                                 "triplet's plane", "units": "percent"}),
            "boundary_rate": (("tsize", "trepeat"), rate, {"long_name": "decision-region similarity on random "
                                                                        "triplet sets", "units": "percent"}),
            "triplets": (("triplet", "corner"), triplets),
        },
        "coords": {"triplet": np.arange(len(triplets)), "tsize": sizes, "trepeat": np.arange(cfg.triplet_repeats),
                   "corner": np.arange(3)},
        "attrs": {"boundary_pair": ",".join(pair), "boundary_seconds": seconds, "boundary_clamped": 0,
                  "forward_passes_per_triplet": 2 * cfg.resolution ** 2},
    }


def compute(cfg: Config, mode: str = "auto") -> xr.Dataset:
    zoo = chapter_result(matrix_config(cfg), mode)
    training = chapter_result(training_config(cfg), mode)  # its models and attacks are the new models'
    sample = attack_sample(cfg, len(project_config().load_data(cfg.dataset, "test")))
    if not np.array_equal(sample, zoo["sample"].values):
        raise RuntimeError("sat-attacks: the zoo result was attacked on other images than this configuration draws")
    missing = [m for m in cfg.attack_models if m not in zoo["model"].values]
    if missing:
        raise ValueError(f"sat-attacks: attack_models {missing} are not in the sat-matrix result's zoo")
    parts = [_apgd_part(cfg, zoo, sample), _new_model_part(cfg, zoo, sample), _boundary_part(cfg, zoo)]
    ds = xr.Dataset(
        data_vars={k: v for p in parts for k, v in p["vars"].items()},
        coords={"sample": sample, **{k: v for p in parts for k, v in p["coords"].items()}},
        attrs={**{k: v for p in parts for k, v in p["attrs"].items()},
               "matrix_result": zoo.attrs.get("cache_key", ""), "matrix_commit": zoo.attrs.get("git_commit", ""),
               "training_result": training.attrs.get("cache_key", "")},
    )
    return ds


def run(cfg: Config, mode: str = "auto") -> xr.Dataset:
    """Stored result for these parameters and these upstream results, or compute and store it; outside
    ``cache_only``, the Patch-Fool section's own result too (``patch_result``)."""
    ds = cached(cfg, lambda c: compute(c, mode), version=VERSION, mode=mode)
    if mode != "cache_only":
        patch_result(cfg, mode)
    return ds


def patch_result(cfg: Config, mode: str = "cache_only") -> xr.Dataset | None:
    """The Patch-Fool section's stored result (computed outside ``cache_only``); ``None`` when the section is
    switched off or, in ``cache_only``, not stored (``patch_skip_reason`` says which)."""
    from sat_lib.experiments import sat_patch
    from sat_lib.results import CacheMiss

    section = patch_config(cfg)
    if section is None:
        return None
    try:
        return sat_patch.run(section, mode)
    except CacheMiss:
        if mode == "cache_only":
            return None
        raise


def patch_skip_reason(cfg: Config) -> str:
    """Why the chapter shows no Patch-Fool section."""
    if not cfg.patch_source:
        return "`patch_source` is empty"
    return ("no Patch-Fool result is stored for these parameters; `sat-companion run sat-attacks` (with the same "
            "`-p`) computes it")


def dry_jobs(cfg: Config) -> list:
    """For ``--dry-run`` (every model is sat-matrix's or sat-training's, stored there): AutoAttack on
    ``attack_models`` and their cross-evaluation, the zoo's and the new models' predictions on each other's
    examples, the stability pair's decision regions, and the Patch-Fool section."""
    from sat_lib.dryrun import Work
    from sat_lib.models import get_zoo
    from sat_lib.zoo.dry import spec_job

    n, zoo = cfg.n_images, get_zoo(cfg.zoo)
    names = list(matrix_config(cfg).models) or zoo.names()
    new = [variant_spec(cfg, v) for v in new_models(cfg)]
    work = {m: Work(forward_images=len(new) * n) for m in names}
    for m in cfg.attack_models:
        work[m] = work.get(m, Work()) + Work(gradient_images=n * cfg.apgd_steps,
                                             forward_images=len(cfg.attack_models) * n)
    for m in zoo.stability_pair or ():
        work[m] = work.get(m, Work()) + Work(forward_images=cfg.triplet_pool * cfg.resolution ** 2)
    section = patch_config(cfg)
    for m in section.names() if section is not None else ():
        work[m] = work.get(m, Work()) + Work(gradient_images=n * cfg.patch_steps if m == cfg.patch_source else 0,
                                             forward_images=n)
    note = "weights of sat-matrix / sat-training"
    return ([spec_job(job_spec(cfg, m), w, trains=False, note=note) for m, w in work.items()]
            + [spec_job(s, Work(forward_images=len(names) * n), trains=False, note=note) for s in new])


def claims(cfg: Config, mode: str = "cache_only"):
    """The claims table (Table 1, Figs. G.1 / G.2, the new-model assignment) and where it was computed."""
    from sat_lib.analysis.sat_attacks import claims_table
    from sat_lib.experiments._chapter import provenance_line

    ds = run(cfg, mode)
    return (claims_table(ds, chapter_result(matrix_config(cfg), mode), cfg, patch=patch_result(cfg, mode)),
            provenance_line(ds))


CHAPTER = register(Chapter(
    name=Config.chapter,
    title="Does the attack matter? Attacks, new models and decision regions",
    part="Similarity by attack transferability",
    config=Config,
    compute=run,
    summary="SAT by PGD against SAT by AutoAttack (Fig. G.1), one-sided against two-sided SAT and the cluster of a "
            "new model (Fig. G.2, appendix G), SAT's stability against decision-region similarity (Table 1).",
    claims=claims,
    version=VERSION,
    upstream=lambda cfg: (matrix_config(cfg), training_config(cfg)),
    sections={"sat-patch": lambda cfg: patch_result(cfg, "cache_only")},
    dry_run=dry_jobs,
))
