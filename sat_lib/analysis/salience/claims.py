"""The salience chapter's claims table: per-image and per-model quantities of the populations, their intervals
(``sat_lib.stats``) and the verdicts beside the paper's claims."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import xarray as xr

from sat_lib.analysis.salience.core import (PAPER_FAMILIES, Populations, datasets, label, loss_vs_t,
                                           main_populations, saw_linearity, split_cosine_per_image,
                                           wasserstein_pairs)
from sat_lib.claims import scored_claims
from sat_lib.claims.verdict import Gate, chance_gate, claim_row, statements
from sat_lib.data import num_classes
from sat_lib.stats import batched_spearman_estimate, bootstrap, independent_resamples, interval, resample


def resolutions(pops: Populations) -> list[str]:
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
    slopes = [float(v) for ds in main_populations(pops).values() for v in saw_linearity(ds, res)["slope"].values]
    return (f"slope of log KDE on the fitted log density, mean over population × width fits ({res})",
            bootstrap(slopes, np.mean, unit="fits (population × width)", n_resamples=n_boot))


def _wasserstein(pops, n_boot):
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
    point = float(np.mean([wa.mean() - wb.mean() for wa, wb in groups]))
    boot = [np.mean([r[0::2][g].mean() - r[1::2][g].mean() for g in range(len(groups))])
            for r in independent_resamples([w for pair in groups for w in pair], n_boot, 0)]
    n = sum(len(wa) + len(wb) for wa, wb in groups)
    return (f"mean WD of the deeper family − the shallower (CL − CS, RL − RS), over {len(groups)} (pair, width) "
            "cells", interval(boot, point, "model pairs (resampled within each family and width)", n))


def _transfer(pops, n_boot):
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


def _loss_vs_t(pops, n_boot):
    df = loss_vs_t(pops)
    if df.empty:
        return []
    out = []
    single = df[(df["members"] == 1) & df["family_key"].isin(PAPER_FAMILIES)]
    for d, sub in single.groupby("dataset"):
        if len(sub) < 5:
            continue
        est = batched_spearman_estimate(sub["E[t]"].values, sub["test loss"].values, n_boot, "models")
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
    return (f"p(k, k) at the largest batch − at the smallest ({'; '.join(where)}; {resolutions(pops)[-1]})",
            _image_estimate(rows, n_boot))




def accuracy_gate(pops: Populations, claims: tuple[str, ...] = ()) -> Gate:
    """Every model of every population (the batch-size study's included) above twice chance test accuracy
    (``chance_gate``; each population's dataset gives its number of classes)."""
    values, classes = {}, {}
    for ds in pops.values():
        for m, a in zip(ds["model"].values, ds["accuracy"].values):
            values[f"{label(ds)}, {m}"] = float(a)
            classes[f"{label(ds)}, {m}"] = num_classes(str(ds.attrs.get("dataset", "")))
    return chance_gate(values, classes, "population model", claims)


def checks(pops: Populations) -> list[Gate]:
    """The Checks table's gates, from the stored populations only."""
    keys = tuple(k for k in scored_claims("salience") if not k.startswith("official_"))
    return [accuracy_gate(pops, keys)]


def claims_table(pops: Populations, n_boot: int = 1000, gates: list[Gate] | None = None) -> pd.DataFrame:
    """Each of the paper's claims beside our statistic with its 95 % bootstrap interval and the unit resampled,
    decided by ``sat_lib.claims.verdict.claim_row`` from the claims file's kind under the chapter's gates
    (``checks``). Rows sharing a key test one statement (``sat_lib.claims.verdict.statements`` groups them)."""
    claims = scored_claims("salience")
    gates = checks(pops) if gates is None else gates
    res_all, fp_res = resolutions(pops), resolutions(pops)[-1]
    found: list[tuple[str, str, object]] = []   # (claim key, what, estimate)

    def add(key, result):
        for what, est in ([result] if isinstance(result, tuple) else (result or [])):
            found.append((key, what, est))

    add("width_trend", _width_trend(pops, fp_res, n_boot))
    add("cross_family_rises", _cross_family_rise(pops, n_boot))
    add("cross_family_level", _cross_family_level(pops, n_boot))
    for res in res_all:
        add("t_shift", _t_shift(pops, res, n_boot))
    for res in res_all:
        add("saw_fit", _saw_slope(pops, res, n_boot))
    add("wasserstein", _wasserstein(pops, n_boot))
    add("transfer", _transfer(pops, n_boot))
    add("ensembles", _loss_vs_t(pops, n_boot))
    add("batch_size", _batch_size(pops, n_boot))
    rows = [claim_row(what, claims[key], est, key=key, gates=gates, paper=_paper_text(claims[key]), fmt=".3f")
            for key, what, est in found]
    return pd.DataFrame(rows)


def _paper_text(claim: dict) -> str:
    """The paper's statement and what ours is held to ("> 0", "1 ± 0.1")."""
    if claim["kind"] == "direction":
        return f"{claim['statement']}; ours should be {'> 0' if claim['sign'] > 0 else '< 0'}"
    return f"{claim['statement']}; ours read against {claim['value']:g}"


def verdicts(table: pd.DataFrame) -> dict[str, list[str]]:
    """Statement keys by their grouped verdict (``sat_lib.claims.verdict.statements``: a key's rows → one
    verdict)."""
    out: dict[str, list[str]] = {}
    for key, v in zip(*(statements(table)[c] for c in ("key", "verdict"))):
        out.setdefault(v, []).append(key)
    return out
