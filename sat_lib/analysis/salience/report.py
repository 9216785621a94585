"""The salience chapter's prose: the setting, what the computation cost and the discussion of the claims."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from sat_lib.analysis.salience.claims import claims_table, resolutions, verdicts
from sat_lib.analysis.salience.core import (Populations, batch_effect, label, main_populations,
                                           models_per_minute, params, saw_linearity, width_similarity)


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
            f"({models_per_minute(pops):.1f} models per minute) on {', '.join(devices)}; {cost_text(pops)}. "
            f"Data: {'; '.join(sources)}.")


def cost_text(pops: Populations) -> str:
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


def verdict_text(table: pd.DataFrame) -> str:
    """One verdict per statement (rows sharing a key grouped by ``sat_lib.claims.verdict.statements``), the
    paper's statements apart from this project's readings."""
    from sat_lib.claims.verdict import statements

    st = statements(table)
    parts = []
    for source, who in (("paper", "the paper's statements"), ("project", "this project's readings")):
        sub = st[st["source"] == source]
        if not len(sub):
            continue
        by = {v: list(g["key"]) for v, g in sub.groupby("verdict", sort=False)}
        parts.append(f"on {who}, ours " + "; ".join(f"{v}: {', '.join(keys)}" for v, keys in by.items()))
    return ("One verdict per statement (a statement tested by several rows agrees when every row agrees and "
            "disagrees when any row disagrees): " + " — ".join(parts) + ".")


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
             verdict_text(table)]
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
        sim = float(np.diag(width_similarity(ds, resolutions(pops)[-1]).values).max())
        others = [v for n, v in shares.items() if n != label(ds)]
        colour = shares[label(ds)] > 0.5
        lines.append(f"{label(ds)} reaches only {100 * float(ds['accuracy'].mean()):.0f} % accuracy, with p(k,k) up "
                     f"to {sim:.2f} at {resolutions(pops)[-1]}; {100 * shares[label(ds)]:.0f} % of its downsampled "
                     "salience is a constant per colour channel"
                     + (f" (other populations: median {100 * np.median(others):.0f} %)" if others else "")
                     + (", so its seeds agree mostly on how much of each colour raises the true class, and the "
                        "uniform baseline of the nominal dimension does not describe it" if colour else "")
                     + ". Agreement between models this weak is not evidence of convergence at capacity.")
    if p["seeds"] < 5:
        lines.append(f"With {p['seeds']} seeds per width, mean directions, $t$ and the ensembles rest on very few "
                     "models; the paper uses 5 to 100.")
    return "\n\n".join(lines)
