"""Chapter "What makes two models similar" (SAT paper Sec. 4.1, Fig. 3, Tables 2 / A.2 / A.3, Fig. 4a / B.1):
the zoo's architecture cards, a gradient-boosting regression of SAT on component differences with permutation
importance, and the spectral features of the SAT graph. Nothing is trained: it reads the ``sat-matrix`` result.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import xarray as xr

from sat_lib.analysis import sat_components as C
from sat_lib.analysis.sat_matrix import spectral_clusters
from sat_lib.experiments._chapter import Chapter, cached, chapter_result, register, resolve_params
from sat_lib.params import ChapterConfig

VERSION = 1


@dataclass(frozen=True)
class Config(ChapterConfig):
    """Defaults are the quick profile; the regressor's settings are the paper's appendix."""

    chapter: ClassVar[str] = "sat-components"
    matrix_profile: str = "quick"    # the sat-matrix profile whose zoo is analysed
    n_estimators: int = 500
    max_depth: int = 12
    min_samples: int = 4
    learning_rate: float = 0.02
    n_repeats: int = 10              # permutation-importance repeats
    n_boot: int = 100                # bootstrap resamples of the models (each refits the regressor)
    n_spectral: int = 10             # spectral features (the paper: 10, one per cluster)
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("n_estimators", "max_depth", "min_samples", "n_repeats", "n_spectral"):
            if getattr(self, name) < 1:
                raise ValueError(f"parameter {name!r} must be >= 1, got {getattr(self, name)}")
        if self.min_samples < 2:
            raise ValueError(f"parameter 'min_samples' must be >= 2 (scikit-learn's min_samples_split), "
                             f"got {self.min_samples}")
        if not 0 < self.learning_rate <= 1:
            raise ValueError(f"parameter 'learning_rate' must be in (0, 1], got {self.learning_rate}")
        if self.n_boot < 0:
            raise ValueError(f"parameter 'n_boot' must be >= 0, got {self.n_boot}")

    @property
    def gbr(self) -> C.GBR:
        return C.GBR(self.n_estimators, self.max_depth, self.min_samples, self.learning_rate, self.n_repeats)


def matrix_config(cfg: Config):
    return resolve_params("sat-matrix", cfg.matrix_profile)


def compute(cfg: Config, mode: str = "auto") -> xr.Dataset:
    zoo = chapter_result(matrix_config(cfg), mode)
    n = zoo.sizes["model"]
    if cfg.n_spectral >= n:
        raise ValueError(f"n_spectral={cfg.n_spectral} must be below the zoo's {n} models")
    t0 = time.perf_counter()
    x, y, i, j = C.pair_features(zoo)
    comps = list(C.cards(zoo).columns)
    importance = C.fit_importance(x, y, cfg.gbr, cfg.seed)
    r2, pred = C.held_out_r2(x, y, i, j, n, cfg.gbr, cfg.seed)
    fit_r2 = float(cfg.gbr.model(cfg.seed).fit(x, y).score(x, y))
    boot = C.bootstrap_importance(x, y, i, j, n, cfg.gbr, cfg.n_boot, cfg.seed)
    feats = C.spectral_features(zoo["sat"], cfg.n_spectral, cfg.seed)
    clusters = spectral_clusters(zoo["sat"], n_clusters=min(10, n // 2), seed=cfg.seed).to_numpy()
    names = list(zoo["model"].values)
    card = C.cards(zoo)
    return xr.Dataset(
        data_vars={
            "importance": ("component", importance, {"long_name": "permutation importance (mean drop of R²)"}),
            "importance_boot": (("boot", "component"), boot,
                                {"long_name": "importance refitted on bootstrap resamples of the models"}),
            "difference": (("pair", "component"), x, {"long_name": "1 where the two cards differ"}),
            "pair_sat": ("pair", y),
            "held_out_prediction": ("pair", pred, {"long_name": "SAT predicted with the pair's models held out"}),
            "spectral": (("model", "eigen"), feats, {"long_name": "leading eigenvectors of the normalised Laplacian"}),
            "accuracy": ("model", zoo["accuracy"].values),
        },
        coords={
            "component": comps, "boot": np.arange(cfg.n_boot), "pair": np.arange(len(y)),
            "model_a": ("pair", np.array(names)[i]), "model_b": ("pair", np.array(names)[j]),
            "model": names, "eigen": np.arange(cfg.n_spectral), "cluster": ("model", clusters),
            "family": ("model", zoo["family"].values),
            "n_values": ("component", [card[c].nunique() for c in comps]),
            **{f"card_{c}": ("model", card[c].to_numpy()) for c in comps},
        },
        attrs={"held_out_r2": r2, "fit_r2": fit_r2, "matrix_result": zoo.attrs.get("cache_key", ""),
               "matrix_commit": zoo.attrs.get("git_commit", ""), "fit_seconds": time.perf_counter() - t0},
    )


def run(cfg: Config, mode: str = "auto") -> xr.Dataset:
    """Stored result for these parameters and this zoo result, or compute and store it."""
    return cached(cfg, lambda c: compute(c, mode), version=VERSION, mode=mode)


def claims(cfg: Config, mode: str = "cache_only"):
    from sat_lib.analysis.sat_components import claims_table
    from sat_lib.experiments._chapter import provenance_line

    ds = run(cfg, mode)
    return claims_table(ds), provenance_line(ds)


CHAPTER = register(Chapter(
    name=Config.chapter,
    title="What makes two models similar",
    part="Similarity by attack transferability",
    config=Config,
    compute=run,
    summary="Component differences against SAT by gradient boosting and permutation importance (Fig. 3); the "
            "spectral features of the SAT graph (Fig. 4a, B.1).",
    claims=claims,
    version=VERSION,
    upstream=lambda cfg: (matrix_config(cfg),),
))
