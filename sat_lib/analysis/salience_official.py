"""The authors' CNNSmall models measured by our pipeline (``sat_lib.experiments.salience_official``): their
ρ(k1, k2) and α maps, the paper's two width trends read from them with intervals over images, and our trained
populations beside theirs at equal widths."""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import spearmanr

from sat_lib.claims.verdict import Gate, chance_gate, claim_row
from sat_lib.stats import interval, replicates, resample

Populations = dict[str, xr.Dataset]


def accuracy_table(ods: xr.Dataset) -> pd.DataFrame:
    return pd.DataFrame({"accuracy (%)": 100 * ods["accuracy"].values, "test loss": ods["loss"].values},
                        index=pd.Index(ods["k"].values, name="k"))


def rho_map(ods: xr.Dataset, resolution: str) -> xr.DataArray:
    """ρ(k1, k2) = E_x cos(∇f_k1(x), ∇f_k2(x)) over the class-balanced subset (the diagonal is 1)."""
    return ods["cosine"].sel(resolution=resolution).mean("image")


def alpha_map(ods: xr.Dataset) -> xr.DataArray:
    """α(k_source, k_target): mean true-class probability ratio after the one-step attack (lower: stronger)."""
    return ods["alpha"].mean("image")


def _off_diagonal_trend(per_image: np.ndarray, widths: np.ndarray, rows: np.ndarray) -> float:
    """Spearman ρ between the image-mean of each off-diagonal entry and the pair's mean width."""
    i, j = np.nonzero(~np.eye(len(widths), dtype=bool))
    values = per_image[:, :, rows].mean(-1)[i, j]
    return float(spearmanr(values, (widths[i] + widths[j]) / 2).statistic)


def trend_estimate(per_image: np.ndarray, widths, n_boot: int = 1000, seed: int = 0):
    """The width trend of a (k, k_b, image) map with a 95 % interval from resampling images."""
    widths = np.asarray(widths, dtype=float)
    return resample(lambda rows: _off_diagonal_trend(per_image, widths, rows), per_image.shape[-1], unit="images",
                    n_resamples=n_boot, seed=seed)


OFFICIAL_CLAIMS = ("official_width_trend", "official_transfer")


def checks(ods: xr.Dataset, n_classes: int = 10) -> list[Gate]:
    """The authors' checkpoints above twice chance accuracy on our CIFAR-10 copy (the section's one gate)."""
    acc = {f"k = {int(k)}": float(a) for k, a in zip(ods["k"].values, ods["accuracy"].values)}
    return [chance_gate(acc, n_classes, "authors' checkpoint", OFFICIAL_CLAIMS)]


def claims_table(ods: xr.Dataset, n_boot: int = 1000, gates: list[Gate] | None = None) -> pd.DataFrame:
    """The paper's two width trends, read from the authors' own models: ρ(k1, k2) rises with the widths
    (Fig. 2 / 12) and α falls with them (transfer rises with capacity, Fig. 25); decided by ``claim_row``."""
    from sat_lib.claims import scored_claims

    claims = scored_claims("salience")
    gates = checks(ods) if gates is None else gates
    widths = ods["k"].values
    rows = []
    for res in ods["resolution"].values:
        est = trend_estimate(ods["cosine"].sel(resolution=res).values, widths, n_boot)
        rows.append(claim_row(f"ρ(k1, k2) rises with the widths ({res}); Spearman over the map",
                              claims["official_width_trend"], est, key="official_width_trend", gates=gates,
                              paper="rises (> 0)", fmt=".3f"))
    est = trend_estimate(ods["alpha"].values, widths, n_boot)
    rows.append(claim_row("α(k1, k2) falls as the widths grow (stronger transfer); Spearman over the map",
                          claims["official_transfer"], est, key="official_transfer", gates=gates,
                          paper="falls (< 0)", fmt=".3f"))
    return pd.DataFrame(rows)


def _pixel_units(ds: xr.Dataset, std) -> np.ndarray:
    """A population's stored fingerprints (normalised-input units) → unit rows in pixel units, (M, n, D)."""
    fp = ds["fingerprint"].values.astype(np.float64) / np.asarray(std, dtype=np.float64).reshape(1, 1, -1, 1, 1)
    flat = fp.reshape(fp.shape[0], fp.shape[1], -1)
    return flat / np.maximum(np.linalg.norm(flat, axis=-1, keepdims=True), 1e-300)


def _their_fingerprints(ods: xr.Dataset) -> np.ndarray:
    theirs = ods["pixel_fingerprint"].values.astype(np.float64)
    return theirs.reshape(theirs.shape[0], theirs.shape[1], -1)


def _comparable(ods: xr.Dataset, pops: Populations, std):
    """Our CIFAR-10 CNNSmall populations fingerprinted on the same images as theirs, with unit pixel-unit rows."""
    for ds in pops.values():
        if ds.attrs.get("family") != "cnn_small" or ds.attrs.get("dataset") != "cifar10":
            continue
        if np.array_equal(ds["sample"].values, ods["sample"].values):
            yield ds, _pixel_units(ds, std)


def _common_widths(ds: xr.Dataset, ods: xr.Dataset) -> list[int]:
    return [int(k) for k in sorted(set(ds["k"].values.tolist()) & set(ods["k"].values.tolist()))]


def cross_width(ods: xr.Dataset, pops: Populations, std, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """ρ(k1, k2) of our population beside theirs, for every pair of widths both have, on the same images: ours is
    E_x cos between one of our seeds at k1 and one at k2 (all seed pairs), theirs between their k1 and k2 models;
    95 % intervals over images, and of the difference (paired by image)."""
    theirs = _their_fingerprints(ods)
    widths = list(ods["k"].values)
    rng = np.random.default_rng(seed)
    rows = []
    for ds, ours in _comparable(ods, pops, std):
        common = _common_widths(ds, ods)
        for x, k1 in enumerate(common):
            for k2 in common[x + 1:]:
                a, b = np.flatnonzero(ds["k"].values == k1), np.flatnonzero(ds["k"].values == k2)
                oo = np.stack([(ours[i] * ours[j]).sum(-1) for i in a for j in b])          # (pairs, n)
                tt = (theirs[widths.index(k1)] * theirs[widths.index(k2)]).sum(-1)         # (n,)
                n = tt.shape[0]

                def stat(r, oo=oo, tt=tt):
                    return oo[:, r].mean(), tt[r].mean()

                boot = np.array(replicates(stat, n, n_boot, rng))  # one stream over every row
                point = stat(np.arange(n))
                rows.append({"population": ds.attrs.get("unit", ""), "k1": k1, "k2": k2,
                             "our seed pairs": len(oo),
                             "ρ(k1, k2) ours": interval(boot[:, 0], point[0], "images", n).text(),
                             "ρ(k1, k2) theirs": interval(boot[:, 1], point[1], "images", n).text(),
                             "ours − theirs": interval(boot[:, 0] - boot[:, 1], point[0] - point[1], "images",
                                                       n).text()})
    return pd.DataFrame(rows)


def ours_vs_theirs(ods: xr.Dataset, pops: Populations, std, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """At every width both have, on the salience chapter's image subset: E_x cos between two of *our* seeds
    (ours–ours) and between one of our seeds and *their* model (ours–theirs), each with a 95 % interval over
    images — does a model trained by our engine think like theirs as much as like its siblings? ``std``: our
    data's normalisation std (puts our fingerprints in pixel units, as theirs are stored)."""
    theirs = _their_fingerprints(ods)
    rng = np.random.default_rng(seed)
    rows = []
    for ds, ours in _comparable(ods, pops, std):
        for k in _common_widths(ds, ods):
            members = np.flatnonzero(ds["k"].values == k)
            t = theirs[list(ods["k"].values).index(k)]
            ot = np.stack([(ours[m] * t).sum(-1) for m in members])               # (seeds, n)
            oo = np.stack([(ours[a] * ours[b]).sum(-1) for x, a in enumerate(members) for b in members[x + 1:]])
            n = ot.shape[1]

            def stat(rows_, ot=ot, oo=oo):
                return ot[:, rows_].mean(), oo[:, rows_].mean()

            boot = np.array(replicates(stat, n, n_boot, rng))  # one stream over every row
            point = stat(np.arange(n))
            e_ot = interval(boot[:, 0], point[0], "images", n)
            e_oo = interval(boot[:, 1], point[1], "images", n)
            e_d = interval(boot[:, 0] - boot[:, 1], point[0] - point[1], "images", n)
            rows.append({"population": ds.attrs.get("unit", ""), "k": int(k), "our seeds": len(members),
                         "our accuracy (%)": round(100 * float(ds["accuracy"].values[members].mean()), 1),
                         "their accuracy (%)": round(100 * float(ods["accuracy"].sel(k=k)), 1),
                         "ours–ours": e_oo.text(), "ours–theirs": e_ot.text(),
                         "ours–theirs − ours–ours": e_d.text()})
    return pd.DataFrame(rows)


def summary(ods: xr.Dataset, versus: pd.DataFrame, cross: pd.DataFrame | None = None) -> str:
    """Markdown reading of the section, every number computed from ``ods`` and the tables of ``ours_vs_theirs``
    and ``cross_width``."""
    acc = 100 * ods["accuracy"].values
    k = ods["k"].values
    lines = [f"* **Their models on our copy:** {acc.min():.1f} % (k = {k[acc.argmin()]}) to {acc.max():.1f} % "
             f"(k = {k[acc.argmax()]}) test accuracy."]
    for res in ods["resolution"].values:
        m = rho_map(ods, str(res)).values
        off = m[~np.eye(len(m), dtype=bool)]
        lines.append(f"* **ρ(k1, k2) between their models, {res}:** {off.min():.2f} to {off.max():.2f} "
                     f"(mean {off.mean():.2f}) over the {len(off) // 2} pairs of different widths.")
    for _, row in versus.iterrows():
        diff = row["ours–theirs − ours–ours"]
        lo, hi = _bounds(diff)
        reading = ("resemble theirs more than each other" if lo > 0 else
                   "resemble each other more than theirs" if hi < 0 else "resemble theirs as much as each other")
        lines.append(f"* **k = {row['k']}:** our {row['our seeds']} seeds ({row['our accuracy (%)']:.1f} %, theirs "
                     f"{row['their accuracy (%)']:.1f} %) have ours–ours {row['ours–ours']} and ours–theirs "
                     f"{row['ours–theirs']}: our models {reading} (difference {diff}, images resampled).")
    for _, row in (cross if cross is not None else pd.DataFrame()).iterrows():
        lo, hi = _bounds(row["ours − theirs"])
        reading = ("higher for ours" if lo > 0 else "lower for ours" if hi < 0 else
                   "indistinguishable between ours and theirs")
        lines.append(f"* **ρ({row['k1']}, {row['k2']}) across widths:** ours {row['ρ(k1, k2) ours']} (over "
                     f"{row['our seed pairs']} seed pairs), theirs {row['ρ(k1, k2) theirs']}: {reading} "
                     f"(difference {row['ours − theirs']}, images resampled).")
    return "\n".join(lines)


def _bounds(text: str) -> tuple[float, float]:
    """The interval of an ``Estimate.text()`` string, ``"0.12 [0.10, 0.14]"`` → (0.10, 0.14)."""
    lo, hi = (float(v) for v in text.split("[")[1].rstrip("]").split(","))
    return lo, hi
