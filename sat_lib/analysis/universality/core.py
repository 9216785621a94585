"""The universality chapter's measures: pair matrices, their estimates over architectures, Table 4's models.

The unit of every interval is the *architecture*: pairs share architectures, so a bootstrap resample draws
architectures with replacement and keeps the pairs of two different drawn ones (``pair_mean``); a difference
between two ε levels is paired — the same drawn architectures at both levels. On inverted images a pair (A, B) is
scored on A's and on B's inverted images, as the paper does; a pair's value is the mean of the two.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import xarray as xr

from sat_lib.claims import paper_claims
from sat_lib.stats import Estimate, resample

# the measures of the chapter: result variable → label
REGULAR = {"agreement": "regular_agreement", "jsd": "regular_jsd"}
INVERTED = {"agreement": "inverted_agreement", "jsd": "inverted_jsd", "cka": "inverted_cka",
            "procrustes": "inverted_procrustes", "jaccard": "inverted_jaccard"}
LABELS = {"agreement": "agreement", "jsd": "JSDSim", "cka": "linear CKA", "procrustes": "ProcrustesSim",
          "jaccard": "k-NN Jaccard"}
MATCHED = {"jsd_matched": "inverted_jsd_matched"}   # JSDSim at one output entropy (stored since it is computed)
UNIT = "architectures"


def members(ds: xr.Dataset, setting: str) -> list[str]:
    """The architectures a setting holds (the subset setting may hold fewer)."""
    acc = ds["accuracy"].sel(setting=setting)
    return [m for m in ds["model"].values if np.isfinite(acc.sel(model=m).values).all()]


def pair_matrix(ds: xr.Dataset, setting: str, eps: float, measure: str, images: str = "inverted",
                k: int | None = None) -> tuple[np.ndarray, list[str]]:
    """(m, m) matrix of one measure between the setting's architectures at one ε: on regular test images, or the
    mean over the pair's two sets of inverted images."""
    names = members(ds, setting)
    if images == "regular":
        m = ds[REGULAR[measure]].sel(setting=setting, eps=eps, model=names, model_b=names).values
        return m, names
    da = ds[{**INVERTED, **MATCHED}[measure]].sel(setting=setting, eps=eps, model=names, model_b=names, source=names)
    if measure == "jaccard":
        da = da.sel(k=k if k is not None else int(ds["k"].values[0]))
    v = da.values  # (source, model, model_b)
    n = len(names)
    out = np.full((n, n), np.nan)
    for a in range(n):
        for b in range(n):
            if a != b:
                out[a, b] = (v[a, a, b] + v[b, a, b]) / 2
    return out, names


def pair_mean(matrix: np.ndarray, idx: np.ndarray) -> float:
    """Mean of ``matrix`` over the pairs of two different architectures among the drawn indices ``idx``."""
    a, b = np.triu_indices(len(idx), 1)
    i, j = idx[a], idx[b]
    keep = i != j
    return float(np.nanmean(matrix[i[keep], j[keep]])) if keep.any() else math.nan


def pair_values(matrix: np.ndarray) -> np.ndarray:
    """The values of the unordered pairs (upper triangle) — one box of a box plot."""
    return matrix[np.triu_indices(len(matrix), 1)]


def fort_bounds(ds: xr.Dataset, setting: str, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) Fort et al. bounds on the agreement of each pair, from the two test accuracies."""
    from sat_lib.measures import agreement_bounds

    names = members(ds, setting)
    acc = ds["accuracy"].sel(setting=setting, eps=eps, model=names).values
    n = len(names)
    lo, hi = np.full((n, n), np.nan), np.full((n, n), np.nan)
    for a in range(n):
        for b in range(n):
            if a != b:
                lo[a, b], hi[a, b] = agreement_bounds(float(acc[a]), float(acc[b]))
    return lo, hi


def mean_estimate(matrix: np.ndarray, n_boot: int = 2000, seed: int = 0) -> Estimate:
    n = len(matrix)
    return resample(lambda idx: pair_mean(matrix, idx), n, unit=UNIT, n_resamples=n_boot, seed=seed)


def difference_estimate(hi: np.ndarray, lo: np.ndarray, n_boot: int = 2000, seed: int = 0) -> Estimate:
    """Mean over pairs of ``hi`` minus that of ``lo`` (same architectures), resampling architectures."""
    n = len(hi)
    return resample(lambda idx: pair_mean(hi, idx) - pair_mean(lo, idx), n, unit=UNIT, n_resamples=n_boot,
                    seed=seed)


def robustness_change(ds: xr.Dataset, setting: str, measure: str, images: str = "inverted",
                      k: int | None = None, n_boot: int = 2000, seed: int = 0) -> Estimate:
    """The measure at the largest ε minus at the smallest (ε = 0), paired over architectures."""
    eps = sorted(float(e) for e in ds["eps"].values)
    top, _ = pair_matrix(ds, setting, eps[-1], measure, images, k)
    base, _ = pair_matrix(ds, setting, eps[0], measure, images, k)
    return difference_estimate(top, base, n_boot, seed)


def pair_estimates(ds: xr.Dataset, setting: str, images: str, measure: str, k: int | None = None,
                   n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """One row per ε: the pairs' mean with its 95 % interval over architectures (``mean_estimate``), the spread of
    the pairs (min, max) and their number — the statistic every similarity figure overlays on its boxes and the
    summary table lists. ε levels without a finite pair are left out."""
    rows = []
    for e in ds["eps"].values:
        mat, _ = pair_matrix(ds, setting, float(e), measure, images, k)
        vals = pair_values(mat)
        vals = vals[np.isfinite(vals)]
        if not len(vals):
            continue
        est = mean_estimate(mat, n_boot, seed)
        rows.append({"eps": float(e), "mean": est.value, "low": est.low, "high": est.high,
                     "min": float(vals.min()), "max": float(vals.max()), "pairs": len(vals)})
    return pd.DataFrame(rows, columns=["eps", "mean", "low", "high", "min", "max", "pairs"])


def summary(ds: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Long table: setting, ε, images (regular / inverted), measure, k, the pairs' mean with its 95 % interval
    over architectures and the spread of the pairs (min, max): what every figure of the chapter plots."""
    frames = []
    for setting in ds["setting"].values:
        combos = [("inverted", m, None) for m in INVERTED if m != "jaccard"]
        combos += [("inverted", "jaccard", int(k)) for k in ds["k"].values]
        if setting != "ood":
            combos = [("regular", m, None) for m in REGULAR] + combos
        for images, measure, k in combos:
            f = pair_estimates(ds, str(setting), images, measure, k, n_boot, seed)
            frames.append(f.assign(setting=str(setting), images=images, measure=measure,
                                   k=k if k is not None else 0))
    cols = ["setting", "eps", "images", "measure", "k", "mean", "low", "high", "min", "max", "pairs"]
    out = pd.concat(frames, ignore_index=True)[cols]
    order = {s: i for i, s in enumerate(ds["setting"].values)}
    return out.sort_values(["setting", "eps"], key=lambda c: c.map(order) if c.name == "setting" else c,
                           kind="stable").reset_index(drop=True)


def pairs_long(ds: xr.Dataset, setting: str, images: str, measure: str, k: int | None = None) -> pd.DataFrame:
    """One row per (ε, pair): the values a box plot draws."""
    rows = []
    for e in ds["eps"].values:
        mat, names = pair_matrix(ds, setting, float(e), measure, images, k)
        i, j = np.triu_indices(len(names), 1)
        for a, b in zip(i, j):
            if np.isfinite(mat[a, b]):
                rows.append({"eps": float(e), "pair": f"{names[a]} · {names[b]}", "value": float(mat[a, b])})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------ models (Table 4)

def model_table(ds: xr.Dataset, setting: str = "full") -> pd.DataFrame:
    """Table 4, ours: per architecture and ε, parameters, clean and adversarial accuracy (%), epochs and seconds
    of training, the layout, and the inversion's median relative representation distance (start → final)."""
    rows = []
    for m in members(ds, setting):
        for e in ds["eps"].values:
            d = ds.sel(setting=setting, eps=e, model=m)
            rows.append({"architecture": m, "eps": float(e), "params (M)": float(d["n_params"]) / 1e6,
                         "accuracy (%)": 100 * float(d["accuracy"]),
                         "adversarial accuracy (%)": 100 * float(d["adv_accuracy"]),
                         "attacked at ε": float(d["adversarial_eval_eps"]),
                         "epochs": int(d["epochs"]), "train s": float(d["train_seconds"]),
                         "inversion distance": f"{float(d['start_distance']):.2f} → {float(d['final_distance']):.2f}",
                         "layout": str(d["layout"].values)})
    return pd.DataFrame(rows).set_index(["architecture", "eps"])


def paper_table4() -> pd.DataFrame:
    """The paper's Table 4 as printed: accuracy and adversarial accuracy (%) per architecture and ε."""
    t = paper_claims("universality")["table4"]
    rows = []
    for name, r in t["rows"].items():
        for e, acc, adv in zip(t["eps"], r["acc"], r["adv"]):
            rows.append({"architecture": name, "eps": float(e), "params": r["params"], "accuracy (%)": acc,
                         "adversarial accuracy (%)": adv})
    return pd.DataFrame(rows).set_index(["architecture", "eps"])


def accuracy_estimate(ds: xr.Dataset, var: str, eps: float, setting: str = "full", n_boot: int = 2000,
                      seed: int = 0) -> Estimate:
    """Mean ``var`` (``accuracy`` or ``adv_accuracy``, in %) over the setting's architectures at ``eps``, with a
    95 % interval over architectures."""
    from sat_lib.stats import bootstrap

    v = 100 * ds[var].sel(setting=setting, eps=eps, model=members(ds, setting)).values
    return bootstrap(v, np.mean, unit=UNIT, n_resamples=n_boot, seed=seed)


def paper_accuracy(eps: float, column: str = "adversarial accuracy (%)") -> pd.Series:
    """The paper's seven CNNs' ``column`` of Table 4 at ``eps`` (empty when the paper has no such ε)."""
    t = paper_table4()
    return t.xs(float(eps), level="eps")[column] if float(eps) in t.index.get_level_values("eps") \
        else pd.Series(dtype=float)


def accuracy_by_eps(ds: xr.Dataset, setting: str = "full", n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Mean clean and adversarial accuracy per ε, ours with a 95 % interval over architectures, beside the mean
    of the paper's seven CNNs (and their range)."""
    paper = paper_table4()
    rows = []
    for e in ds["eps"].values:
        row = {"eps": float(e)}
        for col, var in (("accuracy (%)", "accuracy"), ("adversarial accuracy (%)", "adv_accuracy")):
            row[f"ours: {col}"] = accuracy_estimate(ds, var, float(e), setting, n_boot, seed).text(".1f")
            p = paper.xs(float(e), level="eps")[col] if float(e) in paper.index.get_level_values("eps") else None
            row[f"paper: {col}"] = "—" if p is None else f"{p.mean():.1f} ({p.min():.1f}–{p.max():.1f})"
        rows.append(row)
    return pd.DataFrame(rows).set_index("eps")


def at_effect(ds: xr.Dataset, var: str, eps: float, n_boot: int = 2000, seed: int = 0,
              base: float = 0.0) -> Estimate:
    """Per-architecture ``var`` at ``eps`` minus at ``base`` (ε = 0 unless given; percentage points), mean with an
    interval over architectures."""
    from sat_lib.stats import bootstrap

    names = members(ds, "full")
    d = 100 * (ds[var].sel(setting="full", eps=eps, model=names).values
               - ds[var].sel(setting="full", eps=base, model=names).values)
    return bootstrap(d, np.mean, unit=UNIT, n_resamples=n_boot, seed=seed)


def inverted_images(ds: xr.Dataset, setting: str) -> int:
    """How many inverted images each model of ``setting`` has (the k-NN graphs' n)."""
    import json

    params = json.loads(ds.attrs["params_json"])
    return int(params["ood_images"] if setting == "ood" else params["n_images"])


def ood_difference(ds: xr.Dataset, measure: str, k: int | None = None, n_boot: int = 2000,
                   seed: int = 0) -> Estimate:
    """OOD minus in-distribution inverted-image similarity of the same pairs, averaged over ε, resampling
    architectures. For k-NN Jaccard each side is taken above its chance level (``chance_jaccard``): the OOD set
    may hold fewer images than the in-distribution one, and two unrelated neighbourhoods of k among fewer
    candidates overlap more."""
    mats_ood, mats_id = [], []
    for e in ds["eps"].values:
        mats_ood.append(pair_matrix(ds, "ood", float(e), measure, "inverted", k)[0])
        mats_id.append(pair_matrix(ds, "full", float(e), measure, "inverted", k)[0])
    with warnings.catch_warnings():  # the diagonal (no pair) is NaN at every ε
        warnings.simplefilter("ignore", RuntimeWarning)
        diff = np.nanmean(np.stack(mats_ood), 0) - np.nanmean(np.stack(mats_id), 0)
    if measure == "jaccard":
        diff = diff - (chance_jaccard(inverted_images(ds, "ood"), k) - chance_jaccard(inverted_images(ds, "full"), k))
    return mean_estimate(diff, n_boot, seed)


def chance_jaccard(n: int, k: int) -> float:
    """Expected k-NN Jaccard of two unrelated neighbourhoods among n − 1 candidates (approximately: the mean
    hypergeometric overlap k²/(n − 1) put into the Jaccard ratio):
    the floor a reader compares Fig. 7 against (it grows with k / n)."""
    overlap = k * k / (n - 1)
    return overlap / (2 * k - overlap)
