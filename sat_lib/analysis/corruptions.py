"""Analyses of the corruptions chapter (design-diversity paper, Table 1 and Fig. 4).

Models are the unit of every interval over the zoo (percentile bootstrap, ``sat_lib.stats.resample``);
the baseline's accuracy ratio and drops resample images. Relative resilience = accuracy on a corrupted set / clean
accuracy. The claims table is built by ``sat_lib.claims.verdict.claim_row`` from the claims file's kinds, on the
gates of ``checks`` (every model above twice chance accuracy: ``sat_lib.claims.verdict.chance_gate``, as in the other
design-diversity chapters).
"""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import xarray as xr
from sklearn.linear_model import LinearRegression
from sklearn.preprocessing import OneHotEncoder

from sat_lib.claims import paper_claims, scored_claims
from sat_lib.claims.verdict import Gate, chance_gate, claim_row, classes_seen
from sat_lib.stats import Estimate, correlation_estimate, resample

ATTENTION = ("Transformer", "Hybrid")
LINES = "lines@1.6"


def accuracy(ds: xr.Dataset) -> pd.DataFrame:
    """(model × set) accuracy in %, the clean set first."""
    correct = ds["pred"].values == ds["label"].values[None, None, :]
    return pd.DataFrame(100 * correct.mean(-1), index=pd.Index(ds["model"].values, name="model"),
                        columns=ds["set"].values)


def paper_sets(ds: xr.Dataset) -> list[str]:
    return [str(s) for s, k in zip(ds["set"].values, ds["kind"].values) if k == "paper"]


def frame(ds: xr.Dataset) -> pd.DataFrame:
    """Table 1, ours: family, parameters, clean accuracy, accuracy on each of the paper's corruptions, the mean
    relative resilience over them and the mean accuracy over the C-bar sets."""
    acc = accuracy(ds)
    f = pd.DataFrame({"family": ds["family"].values, "params (M)": ds["n_params"].values / 1e6,
                      "clean (%)": acc["clean"]}, index=acc.index)
    sets = paper_sets(ds)
    for s in sets:
        f[f"{s} (%)"] = acc[s]
    if sets:
        f["relative resilience"] = (acc[sets].div(acc["clean"], axis=0)).mean(axis=1)
    cbar = [str(s) for s, k in zip(ds["set"].values, ds["kind"].values) if str(k).startswith("C-bar")]
    if cbar:
        f["C-bar mean (%)"] = acc[cbar].mean(axis=1)
    return f.sort_values("clean (%)", ascending=False)


def paper_table1() -> pd.DataFrame:
    t = paper_claims("corruptions")["table1"]
    return pd.DataFrame(t).T.rename(columns={"clean": "ImageNet top-1 (%)", "lines": "Lines 1.6 top-1 (%)"})


def by_corruption(ds: xr.Dataset) -> pd.DataFrame:
    """Mean accuracy of the zoo per corrupted set (corruption, severity, kind)."""
    acc = accuracy(ds)
    return pd.DataFrame({"corruption": ds["corruption"].values, "severity": ds["severity"].values,
                         "kind": ds["kind"].values, "zoo mean (%)": acc.mean().values,
                         "zoo min (%)": acc.min().values, "zoo max (%)": acc.max().values},
                        index=pd.Index(ds["set"].values, name="set"))


def spearman_estimate(f: pd.DataFrame, x: str, y: str, n_boot: int = 2000, seed: int = 0) -> Estimate:
    """Spearman ρ of columns ``x`` and ``y`` with a 95 % interval over models (``sat_lib.stats``)."""
    return correlation_estimate(f[x], f[y], "spearman", unit="models", n_boot=n_boot, seed=seed)


def correlation_table(ds: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Spearman ρ of size and of clean accuracy with accuracy and relative resilience on each of the paper's
    corruptions, 95 % intervals over models."""
    f = frame(ds)
    acc = accuracy(ds)
    rows = []
    for s in paper_sets(ds):
        g = f.assign(corrupted=acc[s], relative=acc[s] / acc["clean"])
        for x, xl in (("params (M)", "parameters"), ("clean (%)", "clean accuracy")):
            for y, yl in (("corrupted", "accuracy"), ("relative", "relative resilience")):
                rows.append({"set": s, "x": xl, "y": yl,
                             "Spearman ρ [95 % CI, models]": spearman_estimate(g, x, y, n_boot, seed).text()})
    return pd.DataFrame(rows).set_index(["set", "x", "y"])


def adjusted_r2(X: np.ndarray, y: np.ndarray) -> float:
    n, p = X.shape
    if n - p - 1 <= 0 or np.ptp(y) == 0:
        return math.nan
    r2 = LinearRegression().fit(X, y).score(X, y)
    return 1 - (1 - r2) * (n - 1) / (n - p - 1)


def explained(f: pd.DataFrame, idx: np.ndarray, by: str) -> float:
    """Adjusted R² of relative resilience explained by architecture family, log parameters or clean accuracy."""
    g = f.iloc[idx]
    y = g["relative resilience"].to_numpy(float)
    if by == "family":
        X = OneHotEncoder(drop="first", sparse_output=False).fit_transform(g[["family"]])
        if X.shape[1] == 0:
            return math.nan
    elif by == "size":
        X = np.log(g[["params (M)"]].to_numpy(float))
    else:
        X = g[["clean (%)"]].to_numpy(float)
    return adjusted_r2(X, y)


def explained_table(ds: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """RQ1: adjusted R² of the relative resilience (mean over the paper's four corruptions) explained by the
    family, by log parameters and by clean accuracy, each with a 95 % interval over models."""
    f = frame(ds)
    rows = []
    for by, label in (("family", "architecture family"), ("size", "log parameters"), ("accuracy", "clean accuracy")):
        est = resample(lambda idx, b=by: explained(f, idx, b), len(f), unit="models", n_resamples=n_boot, seed=seed)
        rows.append({"relative resilience explained by": label, "adjusted R² [95 % CI, models]": est.text()})
    return pd.DataFrame(rows).set_index("relative resilience explained by")


def attention_gap(f: pd.DataFrame, column: str, n_boot: int = 2000, seed: int = 0) -> Estimate:
    """Mean ``column`` of attention-based models minus that of CNNs, resampling models."""
    att = f["family"].isin(ATTENTION).to_numpy()
    cnn = (f["family"] == "CNN").to_numpy()
    v = f[column].to_numpy(float)

    def gap(idx):
        a, c = att[idx], cnn[idx]
        return float(v[idx][a].mean() - v[idx][c].mean()) if a.any() and c.any() else math.nan

    return resample(gap, len(f), unit="models", n_resamples=n_boot, seed=seed)


def baseline_ratio(ds: xr.Dataset, s: str = LINES, n_boot: int = 2000, seed: int = 0) -> Estimate:
    """The baseline model's accuracy on set ``s`` over its clean accuracy, resampling images."""
    b = ds.attrs["baseline"]
    y = ds["label"].values
    clean = ds["pred"].sel(model=b, set="clean").values == y
    corr = ds["pred"].sel(model=b, set=s).values == y
    return resample(lambda idx: corr[idx].mean() / max(clean[idx].mean(), 1e-12), len(y), unit="images",
                    n_resamples=n_boot, seed=seed)


def n_classes(ds: xr.Dataset) -> int:
    return classes_seen(ds["label"], ds["pred"])


def checks(ds: xr.Dataset) -> list[Gate]:
    """What the chapter's claims rest on, from the stored result: every zoo model above twice chance on the clean
    test images (the corrupted sets are computed, not trained, so nothing else is gated)."""
    acc = accuracy(ds)["clean"]
    return [chance_gate({k: v / 100 for k, v in acc.items()}, n_classes(ds), "zoo model")]


def baseline_drop(ds: xr.Dataset, s: str, n_boot: int = 2000, seed: int = 0) -> Estimate:
    """The baseline model's clean minus corrupted accuracy on set ``s`` (pp), resampling images (paired)."""
    b = ds.attrs["baseline"]
    y = ds["label"].values
    clean = ds["pred"].sel(model=b, set="clean").values == y
    corr = ds["pred"].sel(model=b, set=s).values == y
    return resample(lambda idx: 100 * (clean[idx].mean() - corr[idx].mean()), len(y), unit="images",
                    n_resamples=n_boot, seed=seed)


def claim_estimates(ds: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> list[tuple[str, str, Estimate]]:
    """(key, qualifier, estimate) per claims-table row; a claim the result cannot estimate is left out."""
    f = frame(ds)
    acc = accuracy(ds)
    out: list[tuple[str, str, Estimate]] = []
    if LINES in set(ds["set"].values):
        out.append(("size_correlates_with_resilience", "",
                    spearman_estimate(f.assign(lines=acc[LINES]), "params (M)", "lines", n_boot, seed)))
    if "relative resilience" in f:
        for key, by in (("architecture_beats_size", "size"), ("architecture_beats_accuracy", "accuracy")):
            out.append((key, "", resample(lambda idx, b=by: explained(f, idx, "family") - explained(f, idx, b),
                                          len(f), unit="models", n_resamples=n_boot, seed=seed)))
    if LINES in set(ds["set"].values):
        out.append(("attention_more_resilient", "",
                    attention_gap(f.assign(lines=100 * acc[LINES] / acc["clean"]), "lines", n_boot, seed)))
    for s in paper_sets(ds):
        out.append(("baseline_drops_under_corruption", s, baseline_drop(ds, s, n_boot, seed)))
    if LINES in set(ds["set"].values):
        out.append(("baseline_lines_ratio", "", baseline_ratio(ds, LINES, n_boot, seed)))
    return out


def claims_table(ds: xr.Dataset, n_boot: int = 2000, seed: int = 0, gates: list[Gate] | None = None
                 ) -> pd.DataFrame:
    """The paper's Sec. 4.1 claims beside ours, one row per estimate (the baseline's drop one row per corrupted
    set, one statement), decided by ``claim_row`` on the gates of ``checks``; every key of the claims file
    appears, one this result cannot estimate as an inconclusive row."""
    claims = scored_claims("corruptions")
    gates = checks(ds) if gates is None else gates
    found = claim_estimates(ds, n_boot, seed)
    nan = Estimate(math.nan, math.nan, math.nan, "models", ds.sizes["model"])
    rows = []
    for key, c in claims.items():
        for where, e in [(w, e) for k, w, e in found if k == key] or [("", nan)]:
            text = f"{c['what']} — {where}" if where else c["what"]
            rows.append(claim_row(text, c, e, key=key, gates=gates, fmt=c.get("fmt", ".2f")))
    return pd.DataFrame(rows)


def sets_of(ds: xr.Dataset) -> list[list]:
    return json.loads(ds.attrs["sets_json"])
