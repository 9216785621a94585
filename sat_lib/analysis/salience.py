"""Analyses of the salience chapter, all from stored population results (``{unit name: Dataset}``); CPU only.

Every function returns an xarray object or a DataFrame; the figures in ``sat_lib.plots.salience`` draw them.
"""
from __future__ import annotations

import itertools
import json

from pathlib import Path

import numpy as np
import pandas as pd
import torch
import xarray as xr
from scipy import optimize, special, stats

from sat_lib.claims import paper_claims

Populations = dict[str, xr.Dataset]


def params(pops: Populations) -> dict:
    return json.loads(next(iter(pops.values())).attrs["params_json"])


def main_populations(pops: Populations) -> Populations:
    """The populations of ``populations`` (the batch-size study's extra batch sizes left out)."""
    return {name: ds for name, ds in pops.items() if ds.attrs.get("role", "main") == "main"}


def datasets(pops: Populations) -> list[str]:
    return sorted({ds.attrs["dataset"] for ds in pops.values()})


def label(ds: xr.Dataset) -> str:
    return f"{ds.attrs['family_label']} · {ds.attrs['dataset']}"


# --- accuracy ---------------------------------------------------------------------------------------------------

def accuracy_table(pops: Populations) -> pd.DataFrame:
    """Per population and width: test accuracy and loss (mean ± std over seeds), size, and training speed."""
    rows = []
    for name, ds in pops.items():
        for k in ds["width"].values:
            sel = ds["k"].values == k
            acc, loss = 100 * ds["accuracy"].values[sel], ds["loss"].values[sel]
            secs = float(ds["train_seconds"].sel(width=k))
            rows.append({"population": label(ds), "batch size": ds.attrs["batch_size"], "k": int(k),
                         "seeds": int(sel.sum()), "params": int(ds["n_params"].sel(width=k)),
                         "accuracy (%)": f"{acc.mean():.1f} ± {acc.std(ddof=1) if sel.sum() > 1 else 0:.1f}",
                         "test loss": f"{loss.mean():.3f} ± {loss.std(ddof=1) if sel.sum() > 1 else 0:.3f}",
                         "train s": round(secs, 1), "models/min": round(60 * sel.sum() / max(secs, 1e-9), 1)})
    return pd.DataFrame(rows).set_index(["population", "batch size", "k"])


def model_table(pops: Populations) -> pd.DataFrame:
    """Every model: width, seed, test accuracy and loss, and its last epoch's training loss."""
    frames = []
    for ds in pops.values():
        frames.append(pd.DataFrame({
            "population": label(ds), "batch size": ds.attrs["batch_size"], "model": ds["model"].values,
            "k": ds["k"].values, "seed": ds["seed"].values,
            "accuracy (%)": np.round(100 * ds["accuracy"].values, 1), "test loss": np.round(ds["loss"].values, 3),
            "final train loss": np.round(ds["train_loss"].values[:, -1], 3)}))
    return pd.concat(frames).set_index(["population", "batch size", "model"])


def models_per_minute(pops: Populations) -> float:
    n = sum(ds.sizes["model"] for ds in pops.values())
    secs = sum(float(ds["train_seconds"].sum()) for ds in pops.values())
    return 60 * n / secs if secs else float("nan")


# --- 1. p(k1, k2) -------------------------------------------------------------------------------------------------

def width_similarity(ds: xr.Dataset, resolution: str = "full") -> xr.DataArray:
    """p(k1, k2): the mean of p_ind over pairs of *distinct* models with widths k1 and k2."""
    p = ds["p_ind"].sel(resolution=resolution).values
    k, widths = ds["k"].values, ds["width"].values
    distinct = ~np.eye(len(k), dtype=bool)
    out = np.full((len(widths), len(widths)), np.nan)
    for a, k1 in enumerate(widths):
        for b, k2 in enumerate(widths):
            mask = np.outer(k == k1, k == k2) & distinct
            if mask.any():
                out[a, b] = p[mask].mean()
    return xr.DataArray(out, dims=("k1", "k2"), coords={"k1": widths, "k2": widths},
                        name="p", attrs={"population": label(ds), "resolution": resolution})


def trend(values, widths) -> float:
    """Spearman correlation of a quantity with width (NaN with fewer than three widths)."""
    v = np.asarray(values, float)
    ok = np.isfinite(v)
    if ok.sum() < 3:
        return float("nan")
    return float(stats.spearmanr(np.asarray(widths)[ok], v[ok]).statistic)


def diagonal_trend_table(pops: Populations) -> pd.DataFrame:
    """p(k, k) per width for each population and resolution, and its Spearman trend with k."""
    rows = []
    for ds in pops.values():
        for res in ds["resolution"].values:
            p = width_similarity(ds, str(res))
            diag = np.diag(p.values)
            row = {"population": label(ds), "resolution": str(res)}
            row.update({f"k={int(k)}": round(float(v), 3) for k, v in zip(p["k1"].values, diag)})
            row["Spearman(k, p(k,k))"] = round(trend(diag, p["k1"].values), 2)
            rows.append(row)
    return pd.DataFrame(rows).set_index(["population", "resolution"])


# --- 2. cross-family mean directions -------------------------------------------------------------------------------

def _unit(v: np.ndarray) -> np.ndarray:
    v = v.reshape(v.shape[0], -1).astype(np.float64)
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-300)


def mean_direction(ds: xr.Dataset, k: int, seeds=None) -> np.ndarray:
    """(n, D) unit mean direction of the stored fingerprints of the models at width k (optionally some seeds)."""
    sel = ds["k"].values == k
    if seeds is not None:
        sel &= np.isin(ds["seed"].values, seeds)
    from sat_lib.measures import mean_direction as population_mean

    fp = torch.from_numpy(ds["fingerprint"].values[sel].astype(np.float64))
    return _unit(population_mean(fp).numpy())


def seed_splits(seeds, max_splits: int = 10) -> list[tuple[np.ndarray, np.ndarray]]:
    """Disjoint halves (h = S // 2 seeds each) of a population's seeds, up to ``max_splits`` of them, in a fixed
    order: every mean direction compared below is a mean of h seeds, so all comparisons share one noise level."""
    seeds = np.sort(np.asarray(seeds))
    h = len(seeds) // 2
    out = []
    for first in itertools.combinations(seeds, h):
        if seeds[0] not in first:
            continue  # (A, B) and (B, A) are the same split
        rest = np.setdiff1d(seeds, first)[:h]
        out.append((np.array(first), rest))
        if len(out) == max_splits:
            break
    return out


def split_cosine_per_image(ds_a: xr.Dataset, k_a: int, ds_b: xr.Dataset, k_b: int) -> np.ndarray:
    """Per test sample, E over seed splits of the cosine between the mean direction of one half of population a
    (at k_a) and of the *other* half of population b (at k_b): shape (n,). With a == b and k_a == k_b this is the
    split-half reliability; otherwise the same statistic across widths or families, like for like."""
    seeds = np.intersect1d(ds_a["seed"].values, ds_b["seed"].values)
    values = []
    for h1, h2 in seed_splits(seeds):
        for x, y in ((h1, h2), (h2, h1)):
            m1, m2 = mean_direction(ds_a, k_a, x), mean_direction(ds_b, k_b, y)
            values.append((m1 * m2).sum(1))
    return np.mean(values, axis=0) if values else np.full(ds_a.sizes["sample"], np.nan)


def _split_cosine(ds_a: xr.Dataset, k_a: int, ds_b: xr.Dataset, k_b: int) -> float:
    """:func:`split_cosine_per_image` averaged over test samples."""
    return float(split_cosine_per_image(ds_a, k_a, ds_b, k_b).mean())


def mean_direction_similarity(ds: xr.Dataset) -> xr.DataArray:
    """Fig. 21 (right): E_x cosine between the population's mean directions at widths k1 and k2 (fingerprints),
    each a mean of half the seeds, from disjoint halves (see :func:`_split_cosine`); the diagonal is split-half."""
    widths = ds["width"].values
    out = np.array([[_split_cosine(ds, a, ds, b) for b in widths] for a in widths])
    return xr.DataArray(out, dims=("k1", "k2"), coords={"k1": widths, "k2": widths}, name="cosine",
                        attrs={"population": label(ds)})


def cross_family(pops: Populations, dataset: str) -> xr.DataArray:
    """Per width k: E_x cosine between the mean directions of two families (NaN where a family lacks k), each a
    mean of half the seeds from disjoint halves; the diagonal is a family's split-half similarity. All entries are
    means of the same number of seeds, so off-diagonal and diagonal compare like with like."""
    fams = {ds.attrs["family_label"]: ds for ds in main_populations(pops).values() if ds.attrs["dataset"] == dataset}
    if not fams:
        raise ValueError(f"cross_family: no population on dataset {dataset!r}")
    widths = sorted(set.union(*(set(ds["width"].values.tolist()) for ds in fams.values())))
    names = list(fams)
    out = np.full((len(widths), len(names), len(names)), np.nan)
    for w, k in enumerate(widths):
        for a, b in itertools.product(range(len(names)), repeat=2):
            da, db = fams[names[a]], fams[names[b]]
            if k in da["width"].values and k in db["width"].values:
                out[w, a, b] = _split_cosine(da, k, db, k)
    return xr.DataArray(out, dims=("k", "family", "family_b"), coords={"k": widths, "family": names,
                                                                       "family_b": names}, name="cosine")


# --- 3. the marginal of t, the uniform baseline and the Saw fit -----------------------------------------------------

def uniform_logpdf(t, d: int) -> np.ndarray:
    """log density of the cosine between a fixed direction and a uniform random one on S^(d-1):
    p(t) ∝ (1 - t²)^((d-3)/2) on [-1, 1], i.e. (t + 1)/2 ~ Beta((d-1)/2, (d-1)/2)."""
    a = (d - 1) / 2
    return stats.beta(a, a, loc=-1, scale=2).logpdf(t)


def uniform_tail(p, d: int) -> np.ndarray:
    """P(Z > p) for Z the cosine between a fixed direction and a uniform random one in d dimensions (Fig. 22)."""
    a = (d - 1) / 2
    return stats.beta(a, a, loc=-1, scale=2).sf(p)


def dimension(ds: xr.Dataset, resolution: str) -> int:
    return int(ds.attrs["dimension_full"] if resolution == "full" else ds.attrs["dimension_small"])


def t_samples(ds: xr.Dataset, k: int, resolution: str = "full") -> np.ndarray:
    t = ds["t"].sel(resolution=resolution).values[ds["k"].values == k].ravel()
    return t[np.isfinite(t)]


def _saw_log_density(grid: np.ndarray, kappa: float, d: int) -> np.ndarray:
    """log of the exponential-Saw marginal p(t) ∝ exp(κ t)(1 - t²)^((d-3)/2), normalised on ``grid``."""
    logp = kappa * grid + (d - 3) / 2 * np.log1p(-grid ** 2)
    return logp - special.logsumexp(logp + np.log(np.gradient(grid)))


_GRID = np.linspace(-1 + 1e-6, 1 - 1e-6, 40001)


def fit_saw(t: np.ndarray, d: int) -> dict:
    """Maximum-likelihood κ of the exponential member ψ(t) = exp(κ t) of the Saw family for the marginal of t,
    with a Kolmogorov–Smirnov test of the fit (scipy.stats.kstest on the fitted CDF)."""
    t = np.clip(np.asarray(t, float), _GRID[0], _GRID[-1])

    def nll(log_kappa):
        logp = _saw_log_density(_GRID, np.exp(log_kappa), d)
        return -np.interp(t, _GRID, logp).sum()

    res = optimize.minimize_scalar(nll, bounds=(-5, np.log(1e6)), method="bounded")
    kappa = float(np.exp(res.x))
    logp = _saw_log_density(_GRID, kappa, d)
    cdf = np.cumsum(np.exp(logp) * np.gradient(_GRID))
    cdf /= cdf[-1]
    ks = stats.kstest(t, lambda v: np.interp(v, _GRID, cdf))
    w = np.exp(logp) * np.gradient(_GRID)
    mean = float((_GRID * w).sum())
    return {"kappa": kappa, "ks_statistic": float(ks.statistic), "ks_pvalue": float(ks.pvalue),
            "mean_t": float(t.mean()), "fitted_mean_t": mean, "sd_t": float(t.std()),
            "fitted_sd_t": float(np.sqrt(((_GRID - mean) ** 2 * w).sum()))}


def t_marginals(ds: xr.Dataset, resolution: str = "full", points: int = 400) -> xr.Dataset:
    """For each width: KDE of t (scipy gaussian_kde), the fitted Saw density, and the uniform baseline."""
    d = dimension(ds, resolution)
    widths = [int(k) for k in ds["width"].values if t_samples(ds, k, resolution).size > 1]
    grid = np.linspace(-0.2, 1.0, points)
    kde = np.full((len(widths), points), np.nan)
    saw = kde.copy()
    fits = []
    for i, k in enumerate(widths):
        t = t_samples(ds, k, resolution)
        kde[i] = stats.gaussian_kde(t)(grid)
        fit = fit_saw(t, d)
        fits.append(fit)
        saw[i] = np.exp(np.interp(grid, _GRID, _saw_log_density(_GRID, fit["kappa"], d)))
    data = {"kde": (("k", "t"), kde), "saw": (("k", "t"), saw),
            "uniform": ("t", np.exp(uniform_logpdf(grid, d)))}
    for key in ("kappa", "ks_statistic", "ks_pvalue", "mean_t", "fitted_mean_t", "sd_t", "fitted_sd_t"):
        data[key] = ("k", np.array([f[key] for f in fits]))
    return xr.Dataset(data, coords={"k": widths, "t": grid}, attrs={"dimension": d, "population": label(ds)})


def saw_linearity(ds: xr.Dataset, resolution: str = "full", mass: float = 0.98) -> pd.DataFrame:
    """Fig. 8 right: log p_k (KDE) against the fitted log density log ψ_k(t) + log p_origin(t) − log Z over the
    central ``mass`` of each width's t; slope 1 and R² near 1 mean the Saw model fits."""
    marg = t_marginals(ds, resolution)
    rows = []
    for k in marg["k"].values:
        t = t_samples(ds, k, resolution)
        lo, hi = np.quantile(t, [(1 - mass) / 2, 1 - (1 - mass) / 2])
        grid = marg["t"].values
        sel = (grid >= lo) & (grid <= hi)
        with np.errstate(divide="ignore"):  # a KDE can underflow to 0 far in a tail: such points are dropped
            y = np.log(marg["kde"].sel(k=k).values[sel])
        x = np.interp(grid[sel], _GRID, _saw_log_density(_GRID, float(marg["kappa"].sel(k=k)), marg.attrs["dimension"]))
        ok = np.isfinite(x) & np.isfinite(y)
        fit = stats.linregress(x[ok], y[ok]) if ok.sum() > 2 else None
        rows.append({"k": int(k), "kappa": round(float(marg["kappa"].sel(k=k)), 1),
                     "E[t]": round(float(marg["mean_t"].sel(k=k)), 3),
                     "sd(t)": round(float(marg["sd_t"].sel(k=k)), 3),
                     "fitted sd": round(float(marg["fitted_sd_t"].sel(k=k)), 3),
                     "slope": round(fit.slope, 3) if fit else np.nan,
                     "R²": round(fit.rvalue ** 2, 3) if fit else np.nan,
                     "KS statistic": round(float(marg["ks_statistic"].sel(k=k)), 3),
                     "KS p-value": float(marg["ks_pvalue"].sel(k=k))})
    return pd.DataFrame(rows).set_index("k")


# --- 4. Wasserstein distances (Table 1) -----------------------------------------------------------------------------

def wasserstein_table(pops: Populations) -> pd.DataFrame:
    """Table 1: E over pairs (f1, f2) of distinct models at the same width of WD(S(f1), S(f2)), "mean ± std" per
    family and width. S(f) is the distribution over test samples of the cosine between f's salience and the mean
    direction of the family's *other* models at that width (f1 and f2 both left out, so the pair's own
    similarity does not enter; it needs three seeds). Computed on the stored fingerprints (8×8 by default, the
    official code's resolution) with ``scipy.stats.wasserstein_distance``."""
    rows = {}
    for ds in main_populations(pops).values():
        row = {}
        for k in ds["width"].values:
            wd = wasserstein_pairs(ds, k)
            row[f"k={int(k)}"] = f"{np.mean(wd):.3f} ± {np.std(wd, ddof=1) if len(wd) > 1 else 0:.3f}" if len(wd) else ""
        rows[f"{ds.attrs['family_short']} · {ds.attrs['dataset']}"] = row
    return pd.DataFrame(rows).T.fillna("")


def wasserstein_pairs(ds: xr.Dataset, k: int) -> np.ndarray:
    """WD(S(f1), S(f2)) for every pair of distinct models at width k (see :func:`wasserstein_table`)."""
    idx = np.flatnonzero(ds["k"].values == k)
    u = np.stack([_unit(ds["fingerprint"].values[i].astype(np.float64)) for i in idx])
    wd = []
    for a, b in itertools.combinations(range(len(idx)), 2):
        rest = [i for i in range(len(idx)) if i not in (a, b)]
        if rest:
            mu = _unit(u[rest].mean(0))
            wd.append(stats.wasserstein_distance((u[a] * mu).sum(1), (u[b] * mu).sum(1)))
    return np.array(wd)


# --- 5. black-box transfer -------------------------------------------------------------------------------------------

def transfer_matrix(ds: xr.Dataset, score: str = "alpha") -> xr.DataArray:
    """Source width × target width: mean over distinct (source, target) models of α (or of the accuracy drop)."""
    k, widths = ds["k"].values, ds["width"].values
    if score == "alpha":
        vals = ds["alpha"].values
    elif score == "accuracy_drop":
        vals = ds["salience_accuracy"].values[None, :] - ds["adv_accuracy"].values
    else:
        raise ValueError(f"transfer_matrix: score must be 'alpha' or 'accuracy_drop', got {score!r}")
    distinct = ~np.eye(len(k), dtype=bool)
    out = np.full((len(widths), len(widths)), np.nan)
    for a, b in itertools.product(range(len(widths)), repeat=2):
        mask = np.outer(k == widths[a], k == widths[b]) & distinct
        if mask.any():
            out[a, b] = vals[mask].mean()
    return xr.DataArray(out, dims=("source_k", "target_k"), coords={"source_k": widths, "target_k": widths},
                        name=score)


def transfer_curves(ds: xr.Dataset) -> pd.DataFrame:
    """Fig. 11: per target width, α (and accuracy drop) of the attack from the largest model, from a model of the
    same width (another seed), and along the mean direction of the other seeds at the target's width."""
    k, widths = ds["k"].values, ds["width"].values
    largest = widths.max()
    alpha, acc_adv = ds["alpha"].values, ds["adv_accuracy"].values
    clean = ds["salience_accuracy"].values
    rows = []
    for j, kt in enumerate(k):
        sources = [("same width", np.flatnonzero(k == kt))]
        if kt != largest:  # at the largest width "largest model" is the same-width source
            sources.append(("largest model", np.flatnonzero(k == largest)))
        for source, pool in sources:
            pool = pool[pool != j]
            if len(pool):
                rows.append({"target k": int(kt), "source": source, "alpha": alpha[pool, j].mean(),
                             "accuracy drop": clean[j] - acc_adv[pool, j].mean()})
        am = float(ds["alpha_mean"].sel(source_width=kt).values[j])
        if np.isfinite(am):
            rows.append({"target k": int(kt), "source": "mean direction (same width)", "alpha": am,
                         "accuracy drop": clean[j] - float(ds["adv_accuracy_mean"].sel(source_width=kt).values[j])})
    return pd.DataFrame(rows).groupby(["target k", "source"]).mean().reset_index()


# --- 6. loss against E[t] -------------------------------------------------------------------------------------------

def loss_vs_t(pops: Populations) -> pd.DataFrame:
    """Fig. 9: E[t] of each ensemble (members = 1 are single models) against its test loss, per population.
    Ensembles holding every seed have no held-out reference direction and are left out."""
    rows = []
    for ds in main_populations(pops).values():
        for k in ds["width"].values:
            for m in ds["members"].values:
                t = ds["ensemble_t"].sel(width=k, members=m).values
                lo = ds["ensemble_loss"].sel(width=k, members=m).values
                acc = ds["ensemble_accuracy"].sel(width=k, members=m).values
                for tv, lv, av in zip(t, lo, acc):
                    if np.isfinite(tv):
                        rows.append({"population": label(ds), "dataset": ds.attrs["dataset"],
                                     "family": ds.attrs["family_label"], "family_key": ds.attrs["family"],
                                     "k": int(k), "members": int(m),
                                     "E[t]": tv, "test loss": lv, "accuracy": av})
    return pd.DataFrame(rows)


PAPER_GROUP = "CNN/ResNet (the paper's Fig. 9)"


def loss_t_correlation(df: pd.DataFrame) -> pd.DataFrame:
    """Spearman correlation of E[t] and test loss per dataset and ensemble size (like for like: the reference
    direction of an m-member ensemble is the mean of the other S − m seeds, so it shrinks as m grows), over the
    paper's CNN/ResNet families and over all families."""
    rows = []
    groups = ((PAPER_GROUP, df[df["family_key"].isin(PAPER_FAMILIES)]), ("all families", df))
    for name, part in groups:
        for (dataset, m), sub in part.groupby(["dataset", "members"]):
            if len(sub) >= 3:
                r = stats.spearmanr(sub["E[t]"], sub["test loss"])
                rows.append({"families": name, "dataset": dataset, "members": int(m), "n": len(sub),
                             "Spearman ρ": round(float(r.statistic), 3), "p-value": float(r.pvalue)})
    return pd.DataFrame(rows, columns=["families", "dataset", "members", "n", "Spearman ρ", "p-value"])


# --- 7. batch size --------------------------------------------------------------------------------------------------

def batch_effect(pops: Populations, resolution: str = "full") -> pd.DataFrame:
    """Fig. 18: p(k, k) (distinct seeds at the same width), accuracy and loss, per batch size and width, for the
    population that was trained at several batch sizes."""
    by_pop: dict[tuple[str, str], list[xr.Dataset]] = {}
    for ds in pops.values():
        by_pop.setdefault((ds.attrs["dataset"], ds.attrs["family"]), []).append(ds)
    rows = []
    for group in by_pop.values():
        if len(group) < 2:
            continue
        for ds in group:
            p = width_similarity(ds, resolution)
            for k in ds["width"].values:
                sel = ds["k"].values == k
                rows.append({"population": label(ds), "batch size": int(ds.attrs["batch_size"]), "k": int(k),
                             "p(k,k)": float(p.sel(k1=k, k2=k)), "accuracy": float(ds["accuracy"].values[sel].mean()),
                             "test loss": float(ds["loss"].values[sel].mean())})
    return pd.DataFrame(rows)


# --- the paper beside ours ------------------------------------------------------------------------------------------
# One rule (sat_lib.claims.verdict): each claim's statistic with a 95 % bootstrap interval over the unit that varies
# (test images for salience statistics, target models for attacks, models for correlations, fits for the Saw
# slope), and a verdict decided by the interval.

PAPER_FAMILIES = ("cnn_small", "cnn_large", "resnet_small", "resnet_large")  # the families of Figs. 2, 4, 9, 11, 12


def _resolutions(pops: Populations) -> list[str]:
    return [str(r) for r in next(iter(pops.values()))["resolution"].values]


def _fingerprint_units(ds: xr.Dataset, k: int) -> np.ndarray:
    fp = ds["fingerprint"].values[ds["k"].values == k].astype(np.float64)
    flat = fp.reshape(fp.shape[0], fp.shape[1], -1)
    return flat / np.maximum(np.linalg.norm(flat, axis=-1, keepdims=True), 1e-300)


def pair_similarity_per_image(ds: xr.Dataset, k: int) -> np.ndarray:
    """Per test sample, the mean cosine between the fingerprints of distinct models at width k: (n,)."""
    u = _fingerprint_units(ds, k)
    if len(u) < 2:
        return np.full(ds.sizes["sample"], np.nan)
    a, b = np.triu_indices(len(u), 1)
    return (u[a] * u[b]).sum(-1).mean(0)


def t_per_image(ds: xr.Dataset, k: int, resolution: str) -> np.ndarray:
    """Per test sample, the mean over the models at width k of t (cosine with the other seeds' mean direction)."""
    t = ds["t"].sel(resolution=resolution).values[ds["k"].values == k]
    return np.nanmean(t, axis=0) if np.isfinite(t).any() else np.full(t.shape[-1], np.nan)


def _image_estimate(rows: list[np.ndarray], n_boot: int, statistic=None):
    """Bootstrap over test images of the mean of per-image rows (one row per population)."""
    from sat_lib.claims.verdict import resample

    mat = np.stack(rows)
    statistic = statistic or (lambda i: float(np.nanmean(mat[:, i])))
    return resample(statistic, mat.shape[-1], unit="test images", n_resamples=n_boot)


def _span(ds: xr.Dataset) -> tuple[int, int]:
    widths = sorted(int(k) for k in ds["width"].values)
    return widths[0], widths[-1]


def _width_trend(pops, res, n_boot):
    main = [ds for ds in main_populations(pops).values() if ds.sizes["width"] > 1]
    if not main:
        return None
    rows = [pair_similarity_per_image(ds, _span(ds)[1]) - pair_similarity_per_image(ds, _span(ds)[0])
            for ds in main]
    return (f"p(k_max, k_max) − p(k_min, k_min), mean over {len(main)} populations ({res} fingerprints)",
            _image_estimate(rows, n_boot))


def _t_shift(pops, res, n_boot):
    main = [ds for ds in main_populations(pops).values() if ds.sizes["width"] > 1]
    if not main:
        return None
    rows = [t_per_image(ds, _span(ds)[1], res) - t_per_image(ds, _span(ds)[0], res) for ds in main]
    return (f"E[t] at k_max − E[t] at k_min, mean over {len(main)} populations ({res}; uniform baseline 0)",
            _image_estimate(rows, n_boot))


def _cross_family_groups(pops):
    """Per dataset: the paper's CNN/ResNet families present and the widths all of them were trained at."""
    out = []
    for d in datasets(main_populations(pops)):
        fams = [ds for ds in main_populations(pops).values()
                if ds.attrs["dataset"] == d and ds.attrs["family"] in PAPER_FAMILIES]
        if len(fams) < 2:
            continue
        widths = sorted(set.intersection(*(set(int(k) for k in ds["width"].values) for ds in fams)))
        if widths:
            out.append((d, fams, widths))
    return out


def _cross_per_image(fams, k):
    return np.mean([split_cosine_per_image(a, k, b, k) for a, b in itertools.combinations(fams, 2)], axis=0)


def _within_per_image(fams, k):
    return np.mean([split_cosine_per_image(ds, k, ds, k) for ds in fams], axis=0)


def _cross_family_rise(pops, n_boot):
    """Like for like: the cross-family cosine of mean directions as a fraction of the split-half within-family
    cosine (the same statistic the level row reads), at k_max minus at k_min — a raw cross-family cosine rises
    with k merely because every family's mean direction sharpens as it converges."""
    groups = [(d, f, w) for d, f, w in _cross_family_groups(pops) if len(w) > 1]
    if not groups:
        return None
    parts = [np.stack([_cross_per_image(f, k), _within_per_image(f, k)]) for _, f, w in groups for k in (w[0], w[-1])]
    mat = np.stack(parts)   # (groups × {k_min, k_max}, {cross, within}, images)

    def statistic(i):
        ratio = mat[:, 0, i].mean(-1) / mat[:, 1, i].mean(-1)
        return float(np.mean(ratio[1::2] - ratio[0::2]))

    where = "; ".join(f"{d}: {', '.join(ds.attrs['family_short'] for ds in f)}, k = {w[0]} → {w[-1]}"
                      for d, f, w in groups)
    from sat_lib.claims.verdict import resample

    return (f"cross-family ÷ split-half within-family cosine of mean directions, at k_max − at k_min ({where})",
            resample(statistic, mat.shape[-1], unit="test images", n_resamples=n_boot))


def _cross_family_level(pops, n_boot):
    groups = _cross_family_groups(pops)
    if not groups:
        return None
    cross = np.stack([_cross_per_image(f, w[-1]) for _, f, w in groups])
    within = np.stack([_within_per_image(f, w[-1]) for _, f, w in groups])
    where = "; ".join(f"{d}, k = {w[-1]}" for d, _, w in groups)
    return (f"cross-family ÷ split-half within-family cosine of mean directions, same families ({where})",
            _image_estimate([cross], n_boot, lambda i: float(cross[:, i].mean() / within[:, i].mean())))


def _saw_slope(pops, res, n_boot):
    from sat_lib.claims.verdict import bootstrap

    slopes = [float(v) for ds in main_populations(pops).values() for v in saw_linearity(ds, res)["slope"].values]
    return (f"slope of log KDE on the fitted log density, mean over population × width fits ({res})",
            bootstrap(slopes, np.mean, unit="fits (population × width)", n_resamples=n_boot))


def _wasserstein(pops, n_boot):
    from sat_lib.claims.verdict import interval

    main = main_populations(pops)
    groups = []
    for deep, shallow in (("cnn_large", "cnn_small"), ("resnet_large", "resnet_small")):
        for d in datasets(main):
            a = [ds for ds in main.values() if ds.attrs["family"] == deep and ds.attrs["dataset"] == d]
            b = [ds for ds in main.values() if ds.attrs["family"] == shallow and ds.attrs["dataset"] == d]
            if a and b:
                for k in sorted(set(a[0]["width"].values.tolist()) & set(b[0]["width"].values.tolist())):
                    wa, wb = wasserstein_pairs(a[0], k), wasserstein_pairs(b[0], k)
                    if len(wa) and len(wb):
                        groups.append((wa, wb))
    if not groups:
        return None
    rng = np.random.default_rng(0)
    point = float(np.mean([wa.mean() - wb.mean() for wa, wb in groups]))
    boot = [np.mean([rng.choice(wa, len(wa)).mean() - rng.choice(wb, len(wb)).mean() for wa, wb in groups])
            for _ in range(n_boot)]
    n = sum(len(wa) + len(wb) for wa, wb in groups)
    return (f"mean WD of the deeper family − the shallower (CL − CS, RL − RS), over {len(groups)} (pair, width) "
            "cells", interval(boot, point, "model pairs (resampled within each family and width)", n))


def _transfer(pops, n_boot):
    from sat_lib.claims.verdict import bootstrap

    same, largest = [], []
    for ds in main_populations(pops).values():
        k, alpha = ds["k"].values, ds["alpha"].values
        top = ds["width"].values.max()
        for j, kt in enumerate(k):
            am = float(ds["alpha_mean"].sel(source_width=kt).values[j])
            pool = np.flatnonzero((k == kt) & (np.arange(len(k)) != j))
            if np.isfinite(am) and len(pool):
                same.append(am - alpha[pool, j].mean())
            if np.isfinite(am) and kt != top:
                largest.append(am - alpha[k == top, j].mean())
    out = []
    if same:
        out.append(("α(mean direction) − α(a model of the same width), per target model",
                    bootstrap(same, np.mean, unit="target models", n_resamples=n_boot)))
    if largest:
        out.append(("α(mean direction) − α(the largest model), per target narrower than the largest",
                    bootstrap(largest, np.mean, unit="target models", n_resamples=n_boot)))
    return out


def _spearman_estimate(x: np.ndarray, y: np.ndarray, n_boot: int, unit: str, seed: int = 0):
    """Spearman ρ(x, y) with a percentile bootstrap over the (x, y) rows, all resamples ranked at once."""
    from sat_lib.claims.verdict import interval

    n = len(x)
    idx = np.random.default_rng(seed).integers(0, n, (n_boot, n))
    rx, ry = stats.rankdata(x[idx], axis=1), stats.rankdata(y[idx], axis=1)
    rx, ry = rx - rx.mean(1, keepdims=True), ry - ry.mean(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):  # a resample of one repeated row has no ranking
        boot = (rx * ry).sum(1) / np.sqrt((rx ** 2).sum(1) * (ry ** 2).sum(1))
    return interval(boot, float(stats.spearmanr(x, y).statistic), unit, n)


def _loss_vs_t(pops, n_boot):
    df = loss_vs_t(pops)
    if df.empty:
        return []
    out = []
    single = df[(df["members"] == 1) & df["family_key"].isin(PAPER_FAMILIES)]
    for d, sub in single.groupby("dataset"):
        if len(sub) < 5:
            continue
        est = _spearman_estimate(sub["E[t]"].values, sub["test loss"].values, n_boot, "models")
        out.append((f"Spearman ρ(E[t], test loss) over single CNN/ResNet models, {d}", est))
    return out


def _batch_size(pops, n_boot):
    by_pop: dict[tuple[str, str], list[xr.Dataset]] = {}
    for ds in pops.values():
        by_pop.setdefault((ds.attrs["dataset"], ds.attrs["family"]), []).append(ds)
    rows, where = [], []
    for (d, fam), group in by_pop.items():
        if len(group) < 2:
            continue
        group = sorted(group, key=lambda ds: ds.attrs["batch_size"])
        lo, hi = group[0], group[-1]
        shared = sorted(set(lo["width"].values.tolist()) & set(hi["width"].values.tolist()))
        if not shared:
            continue
        rows.append(np.mean([pair_similarity_per_image(hi, k) - pair_similarity_per_image(lo, k) for k in shared],
                            axis=0))
        where.append(f"{label(lo)}, batch {lo.attrs['batch_size']} → {hi.attrs['batch_size']}, "
                     f"k = {', '.join(map(str, shared))}")
    if not rows:
        return None
    return (f"p(k, k) at the largest batch − at the smallest ({'; '.join(where)}; {_resolutions(pops)[-1]})",
            _image_estimate(rows, n_boot))


def claims_table(pops: Populations, n_boot: int = 1000) -> pd.DataFrame:
    """Each of the paper's claims beside our statistic with its 95 % bootstrap interval, the unit resampled, and
    the verdict of ``sat_lib.claims.verdict``: a direction agrees when the whole interval has the paper's sign, a
    value when it lies inside the interval; otherwise disagrees, or inconclusive when the interval holds 0."""
    from sat_lib.claims.verdict import claim_row, direction_verdict, value_verdict

    claims = paper_claims("salience")["claims"]
    res_all, fp_res = _resolutions(pops), _resolutions(pops)[-1]
    found: list[tuple[str, str, object, str]] = []   # (claim key, what, estimate, kind)

    def add(key, result, kind="direction"):
        for what, est in ([result] if isinstance(result, tuple) else (result or [])):
            found.append((key, what, est, kind))

    add("width_trend", _width_trend(pops, fp_res, n_boot))
    add("cross_family", _cross_family_rise(pops, n_boot))
    add("cross_family", _cross_family_level(pops, n_boot), "value")
    for res in res_all:
        add("t_shift", _t_shift(pops, res, n_boot))
    for res in res_all:
        add("saw_fit", _saw_slope(pops, res, n_boot), "value")
    add("wasserstein", _wasserstein(pops, n_boot))
    add("transfer", _transfer(pops, n_boot))
    add("ensembles", _loss_vs_t(pops, n_boot))
    add("batch_size", _batch_size(pops, n_boot))

    rows = []
    for key, what, est, kind in found:
        c = claims[key]
        if kind == "value":
            paper, verdict = f"{c['value']:g}", value_verdict(float(c["value"]), est)
        else:
            paper, verdict = ("> 0" if c["sign"] > 0 else "< 0"), direction_verdict(int(c["sign"]), est)
        row = claim_row(what, f"{c['statement']}; ours should be {paper}", est, verdict, c["where"], fmt=".3f",
                        key=key)
        rows.append(row)
    return pd.DataFrame(rows).set_index("claim")


def verdicts(table: pd.DataFrame) -> dict[str, list[str]]:
    """Claim keys by verdict (a claim with several rows is listed under each of its rows' verdicts)."""
    out: dict[str, list[str]] = {}
    for key, v in zip(table["key"], table["verdict"]):
        if key not in out.setdefault(v, []):
            out[v].append(key)
    return out


def constant_share(ds: xr.Dataset) -> float:
    """Mean share of a fingerprint's energy in its per-channel constant (a uniform brightness change per colour):
    high values mean the salience is mostly "more/less of this colour", whatever the dimension says."""
    fp = ds["fingerprint"].values.astype(np.float64)            # (M, n, C, h, w), unit norm per sample
    hw = fp.shape[-1] * fp.shape[-2]
    share = (hw * fp.mean(axis=(-1, -2)) ** 2).sum(-1) / np.maximum((fp ** 2).sum(axis=(-1, -2, -3)), 1e-300)
    return float(share.mean())


def setting_markdown(pops: Populations) -> str:
    p = params(pops)
    n_models = sum(ds.sizes["model"] for ds in pops.values())
    devices = sorted({ds.attrs["device"] for ds in pops.values()})
    secs = sum(float(ds["train_seconds"].sum()) for ds in pops.values())
    # the file name only: the folder is this machine's (configured in _config.yml `data:` or SAT_DATA_<NAME>)
    sources = sorted({f"{ds.attrs['dataset']}: `{Path(ds.attrs['dataset_source']).name}`" for ds in pops.values()})
    return (f"{len(pops)} populations, {n_models} models, {p['seeds']} seeds per width, {p['epochs']} epochs on "
            f"{p['train_size'] or 'all'} training images; salience of the true-class {p['salience']} on "
            f"{p['n_salience']} fixed test images. Training took {secs:.0f} s in all "
            f"({models_per_minute(pops):.1f} models per minute) on {', '.join(devices)}; {compute_minutes(pops)}. "
            f"Data: {'; '.join(sources)}.")


def compute_minutes(pops: Populations) -> str:
    """The whole computation (training, salience, attacks), population by population as each was made, in
    minutes — split into the width populations and the batch-size study when the run says which is which."""
    minutes = {}
    for ds in pops.values():
        role = ds.attrs.get("role", "main")
        minutes[role] = minutes.get(role, 0.0) + float(ds.attrs["duration_s"]) / 60
    total = f"the whole computation took {sum(minutes.values()):.0f} minutes"
    if set(minutes) == {"main", "batch-study"}:
        total += (f" ({minutes['main']:.0f} for the width populations, {minutes['batch-study']:.0f} for the "
                  f"batch-size study)")
    return total


def discussion(pops: Populations, table: pd.DataFrame | None = None) -> str:
    """A short reading of the results against the paper; every number is computed from ``pops`` and the claims
    table (computed here when not given)."""
    table = claims_table(pops) if table is None else table
    by = verdicts(table)
    acc = np.concatenate([100 * ds["accuracy"].values for ds in pops.values()])
    p = params(pops)
    main = main_populations(pops)
    lines = [f"**Reading.** Our models reach {acc.min():.0f}–{acc.max():.0f} % test accuracy (median "
             f"{np.median(acc):.0f} %) after {p['epochs']} epochs on {p['train_size'] or 'all'} training images "
             f"(the paper trains 200), widths {', '.join(map(str, p['widths']))}.",
             f"By the interval rule, ours agrees with the paper on: {', '.join(by.get('agrees', [])) or 'none'}; "
             f"disagrees on: {', '.join(by.get('disagrees', [])) or 'none'}; is inconclusive on: "
             f"{', '.join(by.get('inconclusive', [])) or 'none'}. A claim with several rows can appear in more "
             "than one list; the table says which row."]
    if "saw_fit" in by.get("disagrees", []):
        fits = [saw_linearity(ds) for ds in main.values()]
        ratio = [float(r) for sl in fits for r in (sl["sd(t)"] / sl["fitted sd"]).values]
        lines.append(f"Saw fit: the exponential member fitted to all of a width's $t$ is {np.median(ratio):.1f}× "
                     "narrower (median ratio of standard deviations) than our $t$. Why is not tested here; a "
                     "mixture over test samples with different concentrations, and a reference direction from "
                     "few seeds, would both widen $t$. The KS p-values are descriptive only: the pooled $t$ values "
                     "share images and reference models, so they are not independent.")
    be = batch_effect(pops)
    if len(be) and "batch_size" not in by.get("agrees", []):
        shared = set.intersection(*(set(g["k"]) for _, g in be.groupby("batch size")))
        acc_by_bs = be[be["k"].isin(shared)].groupby("batch size")["accuracy"].mean()
        lines.append(f"Batch size: at a fixed number of epochs a smaller batch takes more SGD steps; at the "
                     f"widths trained at every batch size ({', '.join(map(str, sorted(shared)))}) mean accuracy is "
                     + ", ".join(f"{100 * a:.1f} % at batch {b}" for b, a in acc_by_bs.items())
                     + ", so with training this short batch size and training progress are confounded (the "
                       "paper trains 200 epochs).")
    shares = {label(ds): constant_share(ds) for ds in main.values()}
    for ds in main.values():
        if float(ds["accuracy"].mean()) >= 0.3:
            continue
        sim = float(np.diag(width_similarity(ds, _resolutions(pops)[-1]).values).max())
        others = [v for n, v in shares.items() if n != label(ds)]
        colour = shares[label(ds)] > 0.5
        lines.append(f"{label(ds)} reaches only {100 * float(ds['accuracy'].mean()):.0f} % accuracy, with p(k,k) up "
                     f"to {sim:.2f} at {_resolutions(pops)[-1]}; {100 * shares[label(ds)]:.0f} % of its downsampled "
                     "salience is a constant per colour channel"
                     + (f" (other populations: median {100 * np.median(others):.0f} %)" if others else "")
                     + (", so its seeds agree mostly on how much of each colour raises the true class, and the "
                        "uniform baseline of the nominal dimension does not describe it" if colour else "")
                     + ". Agreement between models this weak is not evidence of convergence at capacity.")
    if p["seeds"] < 5:
        lines.append(f"With {p['seeds']} seeds per width, mean directions, $t$ and the ensembles rest on very few "
                     "models; the paper uses 5 to 100.")
    return "\n\n".join(lines)
