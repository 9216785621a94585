"""GNCL's λ, searched (a section of the diversity-training chapter, stored as its own result under
``data/results/diversity-lambda/``).

The chapter trains its prediction-diversity method (``prediction_method``, GNCL with the average as consensus) at
its ``lam`` (the quick profile: λ = 1, the first value this search found to diversify; the paper's is 0.2), and its
Checks show whether its members then disagree more than independently trained ones.
This section trains the same method at each λ of ``lams`` — one ensemble per λ, the chapter's first seed,
architecture, recipe and images — and stores, beside the chapter's own ensembles of that seed at its λ and
trained independently (read from the chapter's stored result, not retrained), what the chapter's diversity gate
reads: every member's prediction on the clean images, the layer-by-layer CKA map of the first two members and the
training loss per epoch. Each ensemble is the chapter's own job (``diversity_training.ensemble_job``) on the clean
set only; its weights join the chapter's cache (``<arch>-ens<M>-gncl-average-<key>.pt``), so a rerun only
evaluates.

Buschjäger et al. derive GNCL for λ in [0, 1] (λ = 1: the members trained on the ensemble's own loss, to second
order); larger values are searched too and say so.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import xarray as xr

from sat_lib.config import project_config
from sat_lib.executor import Executor
from sat_lib.experiments._chapter import chapter_result, section_result
from sat_lib.params import ChapterConfig
from sat_lib.provenance import default_device

VERSION = 1
CLEAN = "clean"
BASELINE = "independent"


@dataclass(frozen=True)
class Config(ChapterConfig):
    """The λ values searched and the diversity-training chapter's parameters (its recipe, images and stored
    result; ``from_chapter``)."""

    chapter: ClassVar[str] = "diversity-lambda"
    lams: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)
    training_params: dict = dataclasses.field(default_factory=dict)   # the chapter's, less its section parameters

    def __post_init__(self) -> None:
        if not self.lams or min(self.lams) <= 0 or len(set(self.lams)) != len(self.lams):
            raise ValueError(f"parameter 'lambda_search' must list different λ > 0, got {list(self.lams)}")
        tc = self.training()
        if tc.lam in self.lams:
            raise ValueError(f"parameter 'lambda_search' holds the chapter's own λ = {tc.lam}, which the chapter's "
                             "stored result already gives; leave it out")
        if not str(tc.prediction_method).startswith("gncl"):
            raise ValueError(f"the λ search varies GNCL's λ; the chapter's prediction_method is "
                             f"{tc.prediction_method!r}")

    def training(self):
        """The chapter's configuration (without a λ search of its own)."""
        from sat_lib.experiments.diversity_training import Config as Training

        return Training.from_mapping(self.training_params, strict=True)


def from_chapter(chapter) -> Config | None:
    """The section's parameters from the diversity-training chapter's (None: its ``lambda_search`` is empty)."""
    if not chapter.lambda_search:
        return None
    params = {k: v for k, v in chapter.as_dict().items() if k not in chapter.section_params}
    return Config(lams=tuple(chapter.lambda_search), training_params=params)


def _specs(cfg: Config, tc, idx: np.ndarray, labels: np.ndarray) -> list[dict]:
    """One ensemble job per λ: the chapter's prediction-diversity method at that λ, its first seed, clean set."""
    from sat_lib.experiments.diversity_training import job_specs

    method, seed = tc.prediction_method, tc.seeds[0]
    out = []
    for lam in cfg.lams:
        one = tc.replace(lam=lam, methods=(method,), seeds=(seed,), attribution_method=method)
        spec = next(s for s in job_specs(one, idx, [None], [CLEAN], labels) if s["name"] == f"{method}/seed{seed}")
        out.append({**spec, "name": f"{method}/lam{lam:g}"})
    return out


def _chapter_ensemble(ds: xr.Dataset, method: str, seed: int) -> dict:
    """The chapter's stored ensemble of ``method`` and ``seed``: clean predictions, CKA map, losses, seconds."""
    e = ds.sel(ensemble=f"{method}/seed{seed}")
    return {"pred": e["pred"].sel(set=CLEAN).values, "cka": e["cka"].values, "epoch_loss": e["epoch_loss"].values,
            "train_seconds": float(e["train_seconds"]), "diverged": bool(e["diverged"])}


def compute(cfg: Config, chapter: xr.Dataset | None = None) -> xr.Dataset:
    """The section's result; ``chapter``: the chapter's stored result (its own λ and its independent ensembles),
    read here when not given."""
    tc = cfg.training()
    if chapter is None:
        chapter = chapter_result(tc, mode="cache_only")
    idx = np.asarray(chapter["image"].values, dtype=np.int64)
    labels = np.asarray(chapter["label"].values)
    method, seed = tc.prediction_method, tc.seeds[0]
    specs = _specs(cfg, tc, idx, labels)
    from sat_lib.experiments.diversity_training import ensemble_job

    with Executor() as ex:
        done = ex.map(ensemble_job, specs, desc="GNCL λ search", names=[s["name"] for s in specs])
    trained = [{"pred": r["pred"][:, 0], "cka": r["cka"], "train_seconds": r["train_seconds"],
                "diverged": r["diverged"],
                "epoch_loss": np.array((list(r["epoch_loss"]) + [np.nan] * tc.epochs)[:tc.epochs], dtype=float)}
               for r in done]
    rows = [_chapter_ensemble(chapter, method, seed), *trained]
    base = _chapter_ensemble(chapter, BASELINE, seed)
    lams = [tc.lam, *cfg.lams]
    stack = lambda key: np.stack([r[key] for r in rows])  # noqa: E731
    return xr.Dataset(
        data_vars={
            "pred": (("lam", "member", "image"), stack("pred"),
                     {"long_name": "member's predicted class on the clean images (-1: diverged)"}),
            "baseline_pred": (("member", "image"), base["pred"],
                              {"long_name": "independently trained member's predicted class (the chapter's)"}),
            "label": ("image", labels),
            "cka": (("lam", "layer_a", "layer_b"), stack("cka")),
            "baseline_cka": (("layer_a", "layer_b"), base["cka"]),
            "epoch_loss": (("lam", "epoch"), stack("epoch_loss")),
            "baseline_epoch_loss": ("epoch", base["epoch_loss"]),
            "train_seconds": ("lam", stack("train_seconds")),
            "diverged": ("lam", stack("diverged").astype(np.int8)),
            "from_chapter": ("lam", np.array([1] + [0] * len(cfg.lams), dtype=np.int8),
                             {"long_name": "1: the chapter's own ensemble, read from its stored result"}),
        },
        coords={"lam": lams, "member": np.arange(tc.size), "image": idx, "epoch": np.arange(1, tc.epochs + 1),
                "layer_a": chapter["layer_a"].values, "layer_b": chapter["layer_b"].values},
        attrs={"method": method, "seed": seed, "chapter_lam": tc.lam, "arch": tc.arch,
               "chapter_result": chapter.attrs.get("cache_key", ""),
               "weights_from_cache": int(sum(r["from_cache"] for r in done))},
    )


def run(cfg: Config, mode: str = "auto") -> xr.Dataset:
    """Stored result for these parameters and this chapter result, or compute and store it."""
    from sat_lib.results import load_or_compute

    chapter = chapter_result(cfg.training(), mode="cache_only")
    key = chapter.attrs.get("cache_key", "")
    return load_or_compute(cfg.chapter, {**cfg.as_dict(), "chapter_result": key}, lambda: compute(cfg, chapter),
                           mode=mode, version=VERSION, results_dir=project_config().results_dir,
                           device=default_device())


def shown(chapter, mode: str = "cache_only") -> xr.Dataset | None:
    """The section of the diversity-training configuration ``chapter``: stored (``cache_only``: None where it is
    not), or computed and stored; None without a section (``lambda_search`` empty)."""
    return section_result(from_chapter(chapter), run, mode)
