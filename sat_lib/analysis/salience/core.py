"""The salience chapter's measures on stored population results (``{unit name: Dataset}``): similarity of
salience maps by width, mean directions, the SAW fit of t, Wasserstein distances, transfer, loss against t."""
from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import torch
import xarray as xr
from scipy import optimize, special, stats


Populations = dict[str, xr.Dataset]
PAPER_FAMILIES = ("cnn_small", "cnn_large", "resnet_small", "resnet_large")  # the families of Figs. 2, 4, 9, 11, 12


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
