"""Chapter "Diversity pays: SAT and ensembles" (SAT paper Sec. 5.1, Figs. 5, 6, 7 and E.1).

Nothing is trained here: every member's logits on the whole test split are stored by the chapters that trained
it (``sat-matrix``: the zoo; ``sat-training``: one architecture retrained with other seeds, hyper-parameters and
regimes), and thousands of ensembles are scored from them in seconds (``sat_lib.analysis.sat_ensembles``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import xarray as xr

from sat_lib.analysis.sat_ensembles import all_pairs, batch_scores, cluster_draws, fig6_scores, group_draws
from sat_lib.analysis.sat_matrix import spectral_clusters, symmetric
from sat_lib.config import project_config
from sat_lib.experiments._chapter import Chapter, cached, chapter_result, register, resolve_params
from sat_lib.params import ChapterConfig

VERSION = 1
SCORES = ("err", "error", "all_wrong")
ARCHITECTURE = "architecture"  # the Fig. 7 group of different architectures from different clusters


@dataclass(frozen=True)
class Config(ChapterConfig):
    """Defaults are the quick profile."""

    chapter: ClassVar[str] = "sat-ensembles"
    matrix_profile: str = "quick"        # the sat-matrix profile whose zoo, SAT and clusters are used
    training_profile: str = "quick"      # the sat-training profile whose retrained models make Fig. 7's groups
    n_clusters: int = 6                  # spectral clusters of the zoo (the paper: 10 for 69 models)
    sizes: tuple[int, ...] = (2, 3, 4, 5, 6)   # ensemble sizes N of Fig. 6
    n_draws: int = 300                   # random ensembles per (N, k) and per (group, N)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n_clusters < 2:
            raise ValueError(f"parameter 'n_clusters' must be >= 2, got {self.n_clusters}")
        if not self.sizes or min(self.sizes) < 2:
            raise ValueError(f"parameter 'sizes' must list ensemble sizes >= 2, got {list(self.sizes)}")
        if self.n_draws < 1:
            raise ValueError(f"parameter 'n_draws' must be >= 1, got {self.n_draws}")


def matrix_config(cfg: Config):
    return resolve_params("sat-matrix", cfg.matrix_profile)


def training_config(cfg: Config):
    return resolve_params("sat-training", cfg.training_profile)


def _labels(dataset: str) -> np.ndarray:
    return np.asarray(project_config().load_data(dataset, "test").labels)


def compute(cfg: Config, mode: str = "auto") -> xr.Dataset:
    mcfg, tcfg = matrix_config(cfg), training_config(cfg)
    zoo = chapter_result(mcfg, mode)
    var = chapter_result(tcfg, mode)
    if len(zoo["model"]) > 1 and cfg.n_clusters >= len(zoo["model"]):
        raise ValueError(f"n_clusters={cfg.n_clusters} must be below the zoo's {len(zoo['model'])} models")
    t0 = time.perf_counter()
    y = _labels(mcfg.dataset)
    logits = zoo["test_logits"].values.astype(np.float32)
    rng = np.random.default_rng(cfg.seed)

    # Fig. 5: every pair of the zoo
    pairs = all_pairs(zoo.sizes["model"])
    ps = batch_scores(logits, y, pairs)
    sat = symmetric(zoo["sat"])

    # Fig. 6 / E.1: N models from k clusters (every distinct ensemble once where a cell has few, else draws)
    clusters = spectral_clusters(zoo["sat"], n_clusters=cfg.n_clusters, seed=cfg.seed).to_numpy()
    sizes = list(cfg.sizes)
    fig6 = fig6_scores(logits, y, clusters, sizes, cfg.n_draws, cfg.seed)

    # Fig. 7: ensembles of one architecture's retrained copies (by kind) against different architectures
    vlogits = var["test_logits"].values.astype(np.float32)
    archs = list(dict.fromkeys(var["arch"].values))
    groups = [*dict.fromkeys(var["kind"].values), ARCHITECTURE]
    fig7 = {s: np.full((len(archs), len(groups), len(sizes), cfg.n_draws), np.nan) for s in SCORES}
    for a, arch in enumerate(archs):
        for g, group in enumerate(groups):
            for i, n in enumerate(sizes):
                if group == ARCHITECTURE:  # N = k: every member from another cluster of the zoo
                    draws, source = cluster_draws(clusters, n, n, cfg.n_draws, rng), logits
                else:
                    members = np.flatnonzero((var["arch"].values == arch) & (var["kind"].values == group))
                    draws, source = group_draws(members, n, cfg.n_draws, rng), vlogits
                if draws is None:
                    continue
                sc = batch_scores(source, y, draws)
                for s in SCORES:
                    fig7[s][a, g, i, :len(draws)] = sc[s]

    names = list(zoo["model"].values)
    ds = xr.Dataset(
        data_vars={
            "pair_sat": ("pair", sat[pairs[:, 0], pairs[:, 1]], {"long_name": "symmetric SAT of the pair"}),
            **{f"pair_{s}": ("pair", ps[s]) for s in (*SCORES, "member_error")},
            **{name: fig6[name].variable for name in fig6.data_vars},
            **{f"training_{s}": (("arch", "group", "size", "draw"), fig7[s]) for s in SCORES},
            "accuracy": ("model", zoo["accuracy"].values),
            "variant_accuracy": ("variant", var["accuracy"].values),
        },
        coords={
            "model": names, "family": ("model", zoo["family"].values), "cluster": ("model", clusters),
            "pair": np.arange(len(pairs)), "model_a": ("pair", np.array(names)[pairs[:, 0]]),
            "model_b": ("pair", np.array(names)[pairs[:, 1]]),
            "size": sizes, "k": fig6["k"].values, "draw": np.arange(cfg.n_draws), "arch": archs, "group": groups,
            "variant": var["model"].values, "variant_arch": ("variant", var["arch"].values),
            "variant_kind": ("variant", var["kind"].values),
        },
        attrs={"matrix_result": zoo.attrs.get("cache_key", ""), "matrix_commit": zoo.attrs.get("git_commit", ""),
               "matrix_device": zoo.attrs.get("device", ""),
               "training_result": var.attrs.get("cache_key", ""),
               "training_commit": var.attrs.get("git_commit", ""), "score_seconds": time.perf_counter() - t0},
    )
    return ds


def fig6(cfg: Config, ds: xr.Dataset, mode: str = "cache_only") -> xr.Dataset:
    """Fig. 6's scores (``sat_lib.analysis.sat_ensembles.fig6_scores``): those ``ds`` stores, or — for a result
    stored before small cells were enumerated, whose draws repeat the few ensembles such a cell has — rescored
    here from the sat-matrix result's stored test logits and the clusters ``ds`` stores (no model is loaded or
    run; seconds). ``attrs["source"]`` says which."""
    if "clusters_ensembles" in ds:
        out = ds[[f"clusters_{s}" for s in SCORES] + ["clusters_ensembles", "clusters_scored"]]
        return out.assign_attrs(source="stored in this chapter's result")
    mcfg = matrix_config(cfg)
    zoo = chapter_result(mcfg, mode)
    if ds.attrs.get("matrix_result") and ds.attrs["matrix_result"] != zoo.attrs.get("cache_key"):
        raise ValueError(f"the result was scored from sat-matrix result {ds.attrs['matrix_result']}, "
                         f"not {zoo.attrs.get('cache_key')}: recompute it")
    if list(zoo["model"].values) != list(ds["model"].values):
        raise ValueError("the sat-matrix result's models are not the ones this result scored")
    out = fig6_scores(zoo["test_logits"].values.astype(np.float32), _labels(mcfg.dataset), ds["cluster"].values,
                      ds["size"].values, cfg.n_draws, cfg.seed)
    return out.assign_attrs(source=f"rescored from the sat-matrix result {zoo.attrs.get('cache_key', '')}'s stored "
                                   "test logits (this result's stored draws predate the enumeration)")


def run(cfg: Config, mode: str = "auto") -> xr.Dataset:
    """Stored result for these parameters and these upstream results, or compute and store it."""
    return cached(cfg, lambda c: compute(c, mode), version=VERSION, mode=mode)


def claims(cfg: Config, mode: str = "cache_only"):
    from sat_lib.analysis.sat_ensembles import claims_table
    from sat_lib.experiments._chapter import provenance_line

    ds = run(cfg, mode)
    return claims_table(ds, fig6=fig6(cfg, ds, mode)), provenance_line(ds)


CHAPTER = register(Chapter(
    name=Config.chapter,
    title="Diversity pays: SAT and ensembles",
    part="Similarity by attack transferability",
    config=Config,
    compute=run,
    summary="Ensembles of the zoo's models from stored logits: error reduction against SAT (Fig. 5), ensembles "
            "drawn from more clusters (Fig. 6, E.1), retrained copies against different architectures (Fig. 7).",
    claims=claims,
    version=VERSION,
    upstream=lambda cfg: (matrix_config(cfg), training_config(cfg)),
))
