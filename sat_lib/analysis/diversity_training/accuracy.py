"""Fig. 10 in numbers: accuracy and resilience of each heuristic's ensembles, what training cost."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import xarray as xr

from sat_lib.analysis.diversity_training.selection import (CLEAN, HETEROGENEOUS, ensemble_correct, ensemble_of,
                                                           member_correct, methods, nan_mean, own_rule, params)
from sat_lib.stats import SEEDS_IMAGES, Estimate, seeds_images


def difference(a: np.ndarray, b: np.ndarray, n_boot: int = 2000, seed: int = 0, scale: float = 100.0) -> Estimate:
    """mean(a) − mean(b) × ``scale`` (pp for correctness arrays), seeds and images resampled."""
    return seeds_images([a, b], lambda x: scale * (nan_mean(x[0]) - nan_mean(x[1])), n_boot, seed)


def resilience_ratio(x: np.ndarray) -> float:
    """100 × corrupted / clean accuracy of (seeds, [clean, corrupted], images) correctness: ratio of the means."""
    clean = nan_mean(x[:, 0])
    return 100 * nan_mean(x[:, 1]) / clean if clean > 0 else math.nan


def accuracy_frame(ds: xr.Dataset, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Long form for Fig. 10: method, set, ensemble accuracy (%) with its interval over seeds × images (and how
    many units it resampled), mean member accuracy (%); on a corrupted set also the *resilience* — corrupted over
    clean accuracy (%, the corruptions chapter's relative resilience), of the ensembles (the ratio of their mean
    accuracies over seeds, with an interval over seeds × images: each seed's clean and corrupted images drawn
    together, the same images on both sets) and of their members (ratio of the members' means)."""
    rows = []
    j0 = list(ds["set"].values).index(CLEAN)
    for m in [*methods(ds), HETEROGENEOUS]:
        ens, mem = ensemble_correct(ds, m), member_correct(ds, m)
        for j, s in enumerate(ds["set"].values):
            est = seeds_images([ens[:, j]], lambda x: 100 * nan_mean(x[0]), n_boot, seed)
            row = {"method": m, "set": str(s), "accuracy": est.value, "low": est.low, "high": est.high,
                   "units": est.n, "members": 100 * nan_mean(mem[:, :, j]), "resilience": math.nan,
                   "resilience_low": math.nan, "resilience_high": math.nan, "members_resilience": math.nan}
            if j != j0:
                res = seeds_images([ens[:, [j0, j]]], lambda x: resilience_ratio(x[0]), n_boot, seed)
                row.update(resilience=res.value, resilience_low=res.low, resilience_high=res.high,
                           members_resilience=100 * nan_mean(mem[:, :, j]) / nan_mean(mem[:, :, j0]))
            rows.append(row)
    return pd.DataFrame(rows)


def resilience_table(ds: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Resilience (corrupted / clean accuracy, %) of each method's ensembles (own consensus rule) on every
    corruption, 95 % intervals over seeds × images, and of their members (mean accuracies' ratio); the
    heterogeneous ensemble last."""
    f = accuracy_frame(ds, n_boot, seed)
    f = f[f["set"] != CLEAN]
    rows = []
    for m, g in f.groupby("method", sort=False):
        row = {"method": m}
        for r in g.itertuples():
            row[f"{r.set}: ensemble (%)"] = Estimate(r.resilience, r.resilience_low, r.resilience_high, SEEDS_IMAGES,
                                                     r.units).text(".1f")
            row[f"{r.set}: members (%)"] = round(r.members_resilience, 1)
        rows.append(row)
    return pd.DataFrame(rows).set_index("method")


def accuracy_table(ds: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Accuracy (%) of each method's ensembles (own consensus rule) and of their members, per set: mean over
    seeds with a 95 % interval over seeds × images (``accuracy_frame``, one row per method); the heterogeneous
    ensemble last."""
    f = accuracy_frame(ds, n_boot, seed)
    rows = []
    for m, g in f.groupby("method", sort=False):
        e = ensemble_of(ds, m)
        row = {"method": m, "consensus": own_rule(m), "seeds": e.sizes["ensemble"],
               "diverged": int(e["diverged"].sum())}
        for r in g.itertuples():
            row[f"{r.set}: ensemble (%)"] = Estimate(r.accuracy, r.low, r.high, SEEDS_IMAGES, r.units).text(".1f")
            row[f"{r.set}: members (%)"] = round(r.members, 1)
        rows.append(row)
    return pd.DataFrame(rows).set_index("method")


def versus_table(ds: xr.Dataset, baseline: str = "independent", n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Each method's ensemble accuracy minus ``baseline``'s (pp) per set and on the corruptions' mean, and its
    resilience (corrupted / clean accuracy, mean over the corruptions) minus the baseline's (pp), 95 % intervals
    over seeds × images — Fig. 10's comparison in numbers."""
    base = ensemble_correct(ds, baseline)
    j0 = list(ds["set"].values).index(CLEAN)
    corr = [j for j, s in enumerate(ds["set"].values) if s != CLEAN]

    def resilience(x: np.ndarray) -> float:
        return float(np.mean([resilience_ratio(x[:, [j0, j]]) for j in corr]))

    rows = []
    for m in methods(ds):
        if m == baseline:
            continue
        e = ensemble_correct(ds, m)
        row = {"method": m}
        for j, s in enumerate(ds["set"].values):
            row[f"{s} (pp)"] = difference(e[:, j], base[:, j], n_boot, seed).text(".1f")
        row["corruptions' mean (pp)"] = difference(e[:, corr], base[:, corr], n_boot, seed).text(".1f")
        row["resilience, corruptions' mean (pp)"] = seeds_images(
            [e, base], lambda x: resilience(x[0]) - resilience(x[1]), n_boot, seed).text(".1f")
        rows.append(row)
    return pd.DataFrame(rows).set_index("method")


def training_table(ds: xr.Dataset) -> pd.DataFrame:
    """Per method: the training loss of each epoch (mean over seeds), seconds per ensemble (training,
    evaluation) and whether the weights came from the cache."""
    rows = []
    for m in [*methods(ds), HETEROGENEOUS]:
        e = ensemble_of(ds, m)
        row = {"method": m, "train s / ensemble": nan_mean(e["train_seconds"].values),
               "evaluate s / ensemble": nan_mean(e["eval_seconds"].values),
               "from cache": int(e["weights_from_cache"].sum()), "params (M)": float(e["n_params"].values[0]) / 1e6}
        for k, ep in enumerate(ds["epoch"].values):
            row[f"loss epoch {int(ep)}"] = nan_mean(e["epoch_loss"].values[:, k]) if m != HETEROGENEOUS \
                else math.nan
        rows.append(row)
    return pd.DataFrame(rows).set_index("method")


def cost_minutes(ds: xr.Dataset) -> float:
    """The chapter's computation in minutes, as ``cost_text`` counts it: training the trained ensembles (the time
    stored with their weights) and evaluating every ensemble; the heterogeneous ensemble's zoo models count in the
    SAT chapter that trained them."""
    trained = ds["method"].values != HETEROGENEOUS
    return (float(np.nansum(ds["train_seconds"].values[trained])) + float(np.nansum(ds["eval_seconds"].values))) / 60


def cost_text(ds: xr.Dataset) -> str:
    """The chapter's computation, one sentence: the trained ensembles' stored training times plus every
    ensemble's evaluation, in minutes, and how this result was written (weights from the cache or not)."""
    trained = ds["method"].values != HETEROGENEOUS
    train = float(np.nansum(ds["train_seconds"].values[trained])) / 60
    evaluate = float(np.nansum(ds["eval_seconds"].values)) / 60
    zoo = float(np.nansum(ds["train_seconds"].values[~trained])) / 60
    n, cached = int(trained.sum()), int(ds["weights_from_cache"].values[trained].sum())
    p = params(ds)
    text = (f"The computation took {cost_minutes(ds):.0f} minutes on {ds.attrs.get('device', 'an unrecorded device')}: "
            f"{train:.0f} to train the {n} ensembles ({len(methods(ds))} heuristics × {len(p['seeds'])} seeds, "
            f"{p['epochs']} epochs each; the training time stored with each ensemble's weights) and {evaluate:.0f} to "
            f"evaluate all {ds.sizes['ensemble']} ensembles (predictions on every set, attribution maps, CKA). The "
            f"heterogeneous ensemble's three zoo models were trained by the SAT chapter ({zoo:.0f} minutes, not "
            "counted)")
    if cached:
        text += (f". {cached} of the {n} ensembles' weights were read from the weights cache when this result was "
                 f"written, which took {float(ds.attrs['wall_seconds']) / 60:.0f} minutes")
    return text
