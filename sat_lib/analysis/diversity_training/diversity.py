"""Table 2, Figs. 11 and 12 in numbers: prediction diversity (equitability), attribution diversity and layer
similarity (CKA) of the ensembles."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import xarray as xr

from sat_lib.analysis.diversity_training.selection import (CHAPTER, HETEROGENEOUS, ensemble_correct, ensemble_of,
                                                           methods, nan_mean, role_method)
from sat_lib.claims import paper_claims
from sat_lib.stats import Estimate, difference_estimate, seeds_images


def equitability(ds: xr.Dataset, method: str) -> np.ndarray:
    """Shannon equitability (Eq. 5) of the members' predictions per image, float (seeds, sets, images)
    (``sat_lib.measures.shannon_equitability`` with S = min(M, classes))."""
    import torch

    from sat_lib.measures import shannon_equitability

    pred = ensemble_of(ds, method)["pred"].values
    k = int(ds["label"].max()) + 1
    out = np.full((pred.shape[0], pred.shape[2], pred.shape[3]), np.nan)
    for s in range(pred.shape[0]):
        members = [i for i in range(pred.shape[1]) if (pred[s, i] >= 0).all()]
        if len(members) < 2:
            continue
        for j in range(pred.shape[2]):
            out[s, j] = shannon_equitability(torch.from_numpy(pred[s, members, j].astype(np.int64)),
                                             num_classes=max(k, 10), reduce="none").numpy()
    return out


def split_mean(h: np.ndarray, c: np.ndarray, correct: bool) -> float:
    w = c if correct else 1 - c
    ok = np.isfinite(h) & np.isfinite(w)
    return float((h[ok] * w[ok]).sum() / w[ok].sum()) if w[ok].sum() > 0 else math.nan


def equitability_table(ds: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Table 2: H_corr and H_inco (equitability on the images the ensemble gets right / wrong, averaging rule)
    of the attribution-diversity, prediction-diversity and heterogeneous ensembles per set, 95 % intervals over
    seeds × images, the paper's ImageNet value beside each."""
    t2 = paper_claims(CHAPTER)["table2"]
    by_set = {v: k for k, v in t2["sets"].items()}
    rows = []
    for role in ("attribution", "prediction", HETEROGENEOUS):
        m = role_method(ds, role)
        h, c = equitability(ds, m), ensemble_correct(ds, m, "average")
        for j, s in enumerate(ds["set"].values):
            row = {"ensemble": f"{role} ({m})" if role != HETEROGENEOUS else role, "set": str(s)}
            for name, correct in (("H_corr", True), ("H_inco", False)):
                est = seeds_images([h[:, j], c[:, j]], lambda x, cr=correct: split_mean(x[0], x[1], cr), n_boot, seed,
                                   groups=[m, m])
                row[f"{name} [95 % CI]"] = est.text(".3f")
                col = by_set.get(str(s))
                row[f"{name} paper"] = (t2[name.lower()][role][t2["columns"].index(col)] if col else math.nan)
            rows.append(row)
    return pd.DataFrame(rows).set_index(["ensemble", "set"])


def attribution_diversity(ds: xr.Dataset, method: str, norm: str = "unit") -> np.ndarray:
    """Eq. 7 per clean image (Saliency, signed; ``norm`` "unit" or "raw"), float (seeds, attribution images)."""
    v = ensemble_of(ds, method)["attribution_variance"].sel(norm=norm).values.astype(float)
    return v


def attribution_table(ds: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Fig. 11 in numbers: attribution diversity (Eq. 7 on unit-norm and raw Saliency maps, clean images) of every
    method's ensembles and the heterogeneous one, 95 % intervals over seeds × images."""
    rows = []
    for m in [*methods(ds), HETEROGENEOUS]:
        row = {"method": m}
        for norm in ("unit", "raw"):
            est = seeds_images([attribution_diversity(ds, m, norm)], lambda x: nan_mean(x[0]), n_boot, seed)
            row[f"Eq. 7, {norm} maps [95 % CI]"] = est.text(".3g")
        rows.append(row)
    return pd.DataFrame(rows).set_index("method")


def cka_means(ds: xr.Dataset, method: str) -> np.ndarray:
    """Mean of each ensemble's layer-by-layer CKA map (its first two members), (seeds,)."""
    return np.array([float(np.nanmean(c)) if np.isfinite(c).any() else np.nan
                     for c in ensemble_of(ds, method)["cka"].values])


def seed_difference(a: np.ndarray, b: np.ndarray, n_boot: int, seed: int) -> Estimate:
    """mean(a) − mean(b) over seeds, each side's seeds resampled (no image axis: CKA maps)."""
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    point = float(a.mean() - b.mean()) if len(a) and len(b) else math.nan
    if len(a) + len(b) < 3 or not len(a) or not len(b):
        return Estimate(point, math.nan, math.nan, "seeds", len(a) + len(b))
    return difference_estimate(a, b, np.mean, unit="seeds", n_boot=n_boot, seed=seed)


def cka_table(ds: xr.Dataset) -> pd.DataFrame:
    """Fig. 12 in numbers: per method the mean CKA of its maps, the mean of their diagonal (same layer of both
    members; homogeneous ensembles only) and its last layer's CKA, mean over seeds."""
    rows = []
    for m in [*methods(ds), HETEROGENEOUS]:
        maps = ensemble_of(ds, m)["cka"].values
        diag = [nan_mean(np.diagonal(c)) for c in maps] if m != HETEROGENEOUS else [np.nan]
        last = [c[np.isfinite(c).any(1)][-1][np.isfinite(c).any(0)][-1] if np.isfinite(c).any() else np.nan
                for c in maps]
        rows.append({"method": m, "mean CKA": nan_mean(cka_means(ds, m)),
                     "same-layer CKA": nan_mean(np.asarray(diag, dtype=float)),
                     "last layers' CKA": nan_mean(last)})
    return pd.DataFrame(rows).set_index("method")
