"""The λ search of the chapter's GNCL (``sat_lib.experiments.diversity_lambda``): at each λ, did the members differ
more than independently trained ones, and did they still learn?

One ensemble per λ (the chapter's first seed), so the only noise an interval can cover is the test images': Δ Eq. 4
disagreement against the chapter's independent ensemble of the same seed, paired over images. A λ *diversified*
where that interval lies above 0 with every member above twice chance accuracy; the mean layer CKA of the first
two members is shown beside it (one map per ensemble: no interval).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import xarray as xr

from sat_lib.analysis.diversity_training.checks import members_disagreement
from sat_lib.claims.verdict import classes_seen
from sat_lib.stats import Estimate, resample


def _correct(pred: np.ndarray, labels: np.ndarray) -> np.ndarray:
    out = (pred == labels).astype(float)
    out[pred < 0] = np.nan
    return out


def member_accuracy(sec: xr.Dataset) -> np.ndarray:
    """(lam, member) clean accuracy (%)."""
    return 100 * np.nanmean(_correct(sec["pred"].values, sec["label"].values), axis=-1)


def disagreement_change(sec: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> list[Estimate]:
    """Per λ: mean Eq. 4 disagreement minus the independent ensemble's, a percentile interval over images (paired)."""
    y = sec["label"].values
    base = members_disagreement(_correct(sec["baseline_pred"].values, y))                  # (images,)
    out = []
    for pred in sec["pred"].values:
        d = members_disagreement(_correct(pred, y)) - base
        if not np.isfinite(d).any():
            out.append(Estimate(math.nan, math.nan, math.nan, "images", len(d)))
            continue
        out.append(resample(lambda i, d=d: float(np.nanmean(d[i])), len(d), unit="images", n_resamples=n_boot,
                            seed=seed))
    return out


def search_frame(sec: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """One row per λ, in increasing order: where the ensemble comes from, its members' clean accuracy, Δ disagreement [95 % CI over
    images], Δ mean CKA, the training loss per epoch, and whether the λ diversified."""
    acc = member_accuracy(sec)
    chance = 200.0 / classes_seen(sec["label"], sec["pred"])
    dis = disagreement_change(sec, n_boot, seed)
    base_cka = float(np.nanmean(sec["baseline_cka"].values))
    rows = []
    for j, lam in enumerate(sec["lam"].values):
        cka = sec["cka"].values[j]
        trained = bool(np.all(acc[j] > chance)) and not bool(sec["diverged"].values[j])
        rows.append({"λ": float(lam),
                     "ensemble": "the chapter's" if sec["from_chapter"].values[j] else "trained for the search",
                     "member accuracy (%)": "–".join(f"{v:.1f}" for v in (np.nanmin(acc[j]), np.nanmax(acc[j]))),
                     "Δ disagreement [95 % CI, images]": dis[j].text(".4f"),
                     "Δ mean CKA": float(np.nanmean(cka)) - base_cka if np.isfinite(cka).any() else math.nan,
                     "loss per epoch": "/".join(f"{v:.3f}" for v in sec["epoch_loss"].values[j]),
                     "diversified": "yes" if trained and dis[j].has_interval and dis[j].low > 0 else "no",
                     "_low": dis[j].low, "_trained": trained})
    return pd.DataFrame(rows).set_index("λ").sort_index()


def first_diversifying(frame: pd.DataFrame) -> float | None:
    """The smallest λ that diversified (``search_frame``), or None."""
    hit = frame.index[frame["diversified"] == "yes"]
    return float(min(hit)) if len(hit) else None


def search_text(sec: xr.Dataset, frame: pd.DataFrame) -> str:
    """A Markdown reading of the search, every number from its result."""
    lam = first_diversifying(frame)
    own = float(sec.attrs["chapter_lam"])
    base = "/".join(f"{v:.3f}" for v in sec["baseline_epoch_loss"].values)
    collapsed = [f"{k:g}" for k, ok in frame["_trained"].items() if not ok]
    others = ", ".join(f"{k:g}" for k in sorted(frame.index) if k != own)
    head = (f"GNCL ({sec.attrs['method']}, {sec.attrs['arch']}, seed {sec.attrs['seed']}) at the chapter's "
            f"λ = {own:g} and at {others}; the independent ensemble's loss per epoch {base}. ")
    if lam is None:
        text = (head + "**At no λ searched did the members disagree more than independently trained ones** (Δ Eq. 4 "
                "disagreement, interval over images, above 0, with every member above twice chance): the chapter's "
                "GNCL claims stay *not tested*; a larger λ or a longer schedule would be the next step.")
    else:
        found = (f"**The smallest λ at which the members disagree more than independently trained ones is {lam:g}** "
                 f"(Δ Eq. 4 disagreement {frame.loc[lam, 'Δ disagreement [95 % CI, images]']}, members at "
                 f"{frame.loc[lam, 'member accuracy (%)']} %). ")
        own_ok = frame.loc[own, "diversified"] == "yes"
        text = head + found + (
            f"The chapter trains GNCL at that λ, so its GNCL claims are scored where GNCL diversifies (its gate reads "
            f"all the chapter's seeds)." if lam == own else
            f"The chapter's λ = {own:g} diversified too; a smaller one already did." if own_ok else
            f"The chapter's GNCL claims are computed at λ = {own:g} and read *not tested* where its gate fails; "
            f"rerunning the chapter with `-p lam {lam:g}` tests them where GNCL does diversify.")
    if collapsed:
        text += f" Members at or below twice chance (or diverged) at λ = {', '.join(collapsed)}."
    if any(float(k) > 1 for k in frame.index):
        text += " Buschjäger et al. derive GNCL for λ in [0, 1]; the larger values are outside that derivation."
    return text


def shown_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``search_frame`` without its helper columns, for display."""
    return frame[[c for c in frame.columns if not c.startswith("_")]]
