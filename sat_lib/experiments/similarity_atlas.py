"""Chapter "A similarity atlas: one zoo, every measure" (beyond the four papers).

The SAT chapter's zoo (its stored models: nothing is retrained when the weights cache holds them) is scored on
one set of test images by every pairwise measure of the book — SAT (read from the ``sat-matrix`` result, never
recomputed), agreement, error consistency, JSDSim, disagreement, decision-region similarity, linear CKA (biased and
debiased), ProcrustesSim, k-NN Jaccard, input-gradient cosine and the cosine of Saliency and Integrated Gradients
maps — and each pair gets three targets: the ensemble error reduction of the pair on held-out test images, the
coincident failures of the pair on the corruptions chapter's corrupted sets, and the accuracy difference.

Each model's work (``sat_lib.zoo.atlas``: logits, features, attribution fingerprints, decision-region labels,
corrupted predictions) is a stored result of its own (``similarity-atlas-model``), run through the executor, so the
atlas is resumable model by model; the pair measures are then computed from the stored artifacts
(``sat_lib.zoo.atlas_pairs``). ``sat-companion place`` scores a reader's model against the zoo with the same two
functions and this chapter's per-model results.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import xarray as xr

from sat_lib.config import project_config
from sat_lib.executor import Executor
from sat_lib.experiments._chapter import Chapter, Retimer, cached, chapter_result, register, resolve_params
from sat_lib.params import ChapterConfig
from sat_lib.progress import note
from sat_lib.provenance import default_device
from sat_lib.zoo import image_sample, stored_corrupted_set, train_or_load, zoo_specs
from sat_lib.zoo.atlas import ATLAS_VERSION, artifact_dataset, atlas_images, model_artifacts
from sat_lib.zoo.atlas_pairs import ATLAS_MEASURES, TARGETS, pair_matrices, pair_targets

VERSION = 2  # 2: the atlas models' predictions against the sat-matrix result's (same_predictions)
MODEL_RESULTS = "similarity-atlas-model"   # the per-model stored results (results_dir/similarity-atlas-model/)


@dataclass(frozen=True)
class Config(ChapterConfig):
    """Defaults are the quick profile; ``_config.yml`` holds smoke / quick / paper."""

    chapter: ClassVar[str] = "similarity-atlas"
    matrix_profile: str = "quick"         # the sat-matrix profile: the zoo, its models and its SAT
    corruptions_profile: str = "quick"    # the corruptions profile: the image draw and its corrupted sets
    n_images: int = 1000                  # the atlas images (a seeded subset of the corruptions chapter's draw)
    feature_images: int = 256             # of those, the images whose penultimate features are compared
    gradient_images: int = 128            # of those, the images whose attribution maps are compared
    fingerprint_size: int = 8             # attribution maps are area-downsampled to this (the salience chapter's)
    ig_steps: int = 16                    # Integrated Gradients steps
    n_triplets: int = 50                  # planes of the decision-region similarity (triplets of distinct classes)
    resolution: int = 25                  # grid points per plane axis
    margin: float = 0.1                   # the plane's grid beyond the triangle, per side, as a share of its span
    knn_k: int = 10                       # k of k-NN Jaccard
    n_clusters: int = 6                   # spectral clusters of the models (the SAT chapters' clustering)
    n_folds: int = 6                      # folds of models for the held-out predictions
    n_boot: int = 1000                    # bootstrap resamples of the models
    seed: int = 0
    batch_size: int = 1000                # images per forward pass

    def __post_init__(self) -> None:
        for name in ("n_images", "feature_images", "gradient_images", "fingerprint_size", "ig_steps", "n_triplets",
                     "n_boot", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"parameter {name!r} must be >= 1, got {getattr(self, name)}")
        for name in ("feature_images", "gradient_images"):
            if getattr(self, name) > self.n_images:
                raise ValueError(f"parameter {name!r} = {getattr(self, name)} is more than n_images = "
                                 f"{self.n_images} (its images are a subset of the atlas images)")
        if not 1 <= self.knn_k < self.feature_images:
            raise ValueError(f"parameter 'knn_k' = {self.knn_k} must be between 1 and feature_images - 1 = "
                             f"{self.feature_images - 1}")
        if self.resolution < 2 or self.margin < 0:
            raise ValueError(f"parameters 'resolution' (>= 2) and 'margin' (>= 0): got {self.resolution}, "
                             f"{self.margin}")
        if self.n_clusters < 2 or self.n_folds < 2:
            raise ValueError(f"parameters 'n_clusters' and 'n_folds' must be >= 2, got {self.n_clusters}, "
                             f"{self.n_folds}")
        cc = corruptions_config(self)
        if cc.matrix_profile != self.matrix_profile:
            raise ValueError(f"the corruptions profile {self.corruptions_profile!r} scores the sat-matrix profile "
                             f"{cc.matrix_profile!r}, not matrix_profile = {self.matrix_profile!r}; name profiles "
                             "of one zoo")
        if self.n_images > cc.n_images:
            raise ValueError(f"parameter 'n_images' = {self.n_images} is more than the {cc.n_images} images the "
                             f"corruptions profile {self.corruptions_profile!r} draws and corrupts")


def matrix_config(cfg: Config):
    return resolve_params("sat-matrix", cfg.matrix_profile)


def corruptions_config(cfg: Config):
    return resolve_params("corruptions", cfg.corruptions_profile)


def atlas_spec(cfg: Config) -> dict:
    """What every model's artifacts are computed on (``sat_lib.zoo.atlas``): the same for the zoo and a placed
    model."""
    cc, mc = corruptions_config(cfg), matrix_config(cfg)
    return {"dataset": mc.dataset, "draw": cc.n_images, "draw_seed": cc.seed, "n_images": cfg.n_images,
            "feature_images": cfg.feature_images, "gradient_images": cfg.gradient_images,
            "fingerprint_size": cfg.fingerprint_size, "ig_steps": cfg.ig_steps, "n_triplets": cfg.n_triplets,
            "resolution": cfg.resolution, "margin": cfg.margin,
            "corrupted": [[name, float(sev)] for name, sev, _ in cc.sets()], "seed": cfg.seed,
            "batch_size": cfg.batch_size}


def model_specs(cfg: Config) -> dict[str, dict]:
    """Every zoo model's job spec, by name: its zoo job (training) and the atlas spec."""
    spec = atlas_spec(cfg)
    return {s["label"]: {"model": s, "atlas": spec} for s in zoo_specs(matrix_config(cfg))}


def model_job(spec: dict) -> xr.Dataset:
    """One zoo model: load (or train) it, compute its atlas artifacts."""
    t = train_or_load(spec["model"])
    data = atlas_images(spec["atlas"])
    arts = model_artifacts(t.model, spec["atlas"], data, precision=spec["model"]["precision"])
    note(f"{spec['model']['label']}: atlas artifacts in {arts['seconds'].sum():.0f} s")
    return artifact_dataset(arts, spec["atlas"], data, attrs={
        "model": spec["model"]["label"], "weights": Path(t.path).name if t.path else "", "layout": t.layout,
        "from_cache": int(t.from_cache), "train_seconds": t.train_seconds,
        "n_params": int(sum(p.numel() for p in t.model.parameters()))})


def stored_model_job(spec: dict) -> xr.Dataset:
    """The per-model stored result for ``spec``, or compute and store it (resumable model by model)."""
    from sat_lib.results import load_or_compute

    return load_or_compute(MODEL_RESULTS, spec, lambda: model_job(spec), version=ATLAS_VERSION,
                           results_dir=project_config().results_dir, device=default_device())


def model_artifacts_of(cfg: Config, names: list[str]) -> dict[str, xr.Dataset]:
    """The named zoo models' per-model results (stored, or computed and stored), by name."""
    specs = model_specs(cfg)
    unknown = [n for n in names if n not in specs]
    if unknown:
        raise ValueError(f"similarity-atlas: {unknown} are not models of the sat-matrix profile "
                         f"{cfg.matrix_profile!r}")
    spec = atlas_spec(cfg)
    test = project_config().load_data(spec["dataset"], "test")
    draw = image_sample(len(test), spec["draw"], spec["draw_seed"])
    for name, sev in spec["corrupted"]:  # made once, before the model jobs read them
        stored_corrupted_set(spec["dataset"], name, sev, spec["draw_seed"], draw)
    with Executor() as ex:
        done = ex.map(stored_model_job, [specs[n] for n in names], desc="atlas models", names=names)
    return dict(zip(names, done))


def heldout_images(n_test: int, arts: xr.Dataset) -> np.ndarray:
    """The test images the targets are scored on: every test image that is not an atlas image."""
    return np.setdiff1d(np.arange(n_test), arts["image"].values)


def same_predictions(zoo: xr.Dataset, arts: dict[str, xr.Dataset]) -> np.ndarray:
    """Per model: the share of the atlas images on which the atlas's copy (its stored artifacts' logits, float32)
    predicts what the sat-matrix result's copy predicted (its stored test logits, in the model's layout) — near 1
    when both are one model (weights reloaded, or retrained to the same weights), lower when a retraining on
    another machine or layout made another model whose SAT the atlas would then borrow."""
    logits = zoo["test_logits"]
    return np.array([float((a["logits"].values.argmax(-1)
                            == logits.sel(model=m, test_sample=a["image"].values).values.argmax(-1)).mean())
                     for m, a in arts.items()])


def compute(cfg: Config, mode: str = "auto") -> xr.Dataset:
    zoo = chapter_result(matrix_config(cfg), mode)
    names = [str(n) for n in zoo["model"].values]
    t0 = time.perf_counter()
    arts = model_artifacts_of(cfg, names)
    t1 = time.perf_counter()
    sim = pair_matrices(arts, cfg.knn_k)
    first = next(iter(arts.values()))
    held = heldout_images(zoo.sizes["test_sample"], first)
    y = project_config().load_data(matrix_config(cfg).dataset, "test").labels[held]
    wrong = np.stack([a["corrupted"].values != a["label"].values for a in arts.values()])
    targets = pair_targets(zoo["test_logits"].values[:, held], y, wrong, names)
    measures = list(ATLAS_MEASURES)
    similarity = np.concatenate([zoo["sat"].values.astype(float)[None], sim.sel(measure=measures[1:]).values])
    accuracy = (zoo["test_logits"].values[:, held].astype(np.float32).argmax(-1) == y).mean(1)
    same = same_predictions(zoo, arts)
    return xr.Dataset(
        data_vars={
            "similarity": (("measure", "model", "model_b"), similarity,
                           {"long_name": "each measure of every pair (as the measure is defined: disagreement is "
                                         "higher for less alike models); self-similarity on the diagonal"}),
            "pair_target": (("target", "model", "model_b"), targets.values),
            "accuracy": ("model", accuracy, {"long_name": "accuracy on the held-out test images"}),
            "atlas_seconds": (("model", "part"), np.stack([a["seconds"].values for a in arts.values()]),
                              {"long_name": "per-model atlas work, by part"}),
            "train_seconds": ("model", zoo["train_seconds"].values),
            "attack_seconds": ("model", zoo["attack_seconds"].values, {"long_name": "the SAT chapter's PGD"}),
            "n_params": ("model", zoo["n_params"].values),
            "weights_from_cache": ("model", np.array([bool(a.attrs["from_cache"]) for a in arts.values()])),
            "same_predictions": ("model", same,
                                 {"long_name": "share of the atlas images on which the atlas's copy of the model "
                                               "predicts the class the sat-matrix result's copy predicts"}),
        },
        coords={"measure": measures, "label": ("measure", [ATLAS_MEASURES[m].label for m in measures]),
                "group": ("measure", [ATLAS_MEASURES[m].group for m in measures]),
                "target": list(TARGETS), "model": names, "model_b": names,
                "family": ("model", [str(f) for f in zoo["family"].values]), "part": first["part"].values},
        attrs={"matrix_result": zoo.attrs.get("cache_key", ""), "n_heldout": len(held),
               "n_sets": first.sizes["set"], "feature_dims_json": str([a.sizes["feature"] for a in arts.values()]),
               "models_seconds": t1 - t0, "pairs_seconds": time.perf_counter() - t1,
               "sat_evaluate_seconds": float(zoo.attrs.get("evaluate_seconds", np.nan)),
               "n_classes": int(zoo.sizes["class"])},
    )


def run(cfg: Config, mode: str = "auto") -> xr.Dataset:
    """Stored result for these parameters and these upstream results, or compute and store it."""
    return cached(cfg, lambda c: compute(c, mode), version=VERSION, mode=mode)


def dry_jobs(cfg: Config) -> list:
    """For ``--dry-run``: every zoo model (sat-matrix's, trained there) through the atlas's work: its outputs on the
    atlas images, Saliency and Integrated Gradients on the gradient images, the decision-region planes and the
    corrupted sets."""
    from sat_lib.dryrun import Work
    from sat_lib.zoo.dry import spec_job

    spec = atlas_spec(cfg)
    work = Work(gradient_images=cfg.gradient_images * (1 + cfg.ig_steps),
                forward_images=cfg.n_images * (1 + len(spec["corrupted"])) + cfg.n_triplets * cfg.resolution ** 2)
    return [spec_job(s["model"], work, trains=False, note="weights of sat-matrix") for s in model_specs(cfg).values()]


def claims(cfg: Config, mode: str = "cache_only"):
    """The chapter's own hypotheses (``source: project``) decided on the stored result, and where it came from."""
    from sat_lib.analysis.similarity_atlas import claims_table
    from sat_lib.experiments._chapter import provenance_line

    ds = run(cfg, mode)
    return claims_table(ds, n_boot=cfg.n_boot, seed=cfg.seed, n_clusters=cfg.n_clusters,
                        n_folds=cfg.n_folds), provenance_line(ds)


CHAPTER = register(Chapter(
    name=Config.chapter,
    title="A similarity atlas: one zoo, every measure",
    part="Beyond the four papers",
    config=Config,
    compute=run,
    summary="Every pairwise measure of the book on the SAT zoo: how the measures agree, and what each predicts "
            "held out (ensemble gain, coincident failures under corruption).",
    claims=claims,
    version=VERSION,
    upstream=lambda cfg: (matrix_config(cfg), corruptions_config(cfg)),
    retime=Retimer(model_specs, stored_model_job),
    dry_run=dry_jobs,
))
