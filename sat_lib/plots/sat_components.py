"""Figures of the components chapter (SAT paper Fig. 3, Fig. 4a / B.1)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import xarray as xr

from sat_lib.analysis.sat_components import LABELS, feature_distances, importance_table
from sat_lib.plots import family_bands


def _r2_text(ds: xr.Dataset, r2) -> str:
    """The held-out R², with its interval when ``r2`` (an ``Estimate``: ``held_out_r2_estimates(...)['refit']``)."""
    return f"{ds.attrs['held_out_r2']:.2f}" if r2 is None else f"{r2.text()}\n(95 % CI over {r2.unit})"


def importance(ds: xr.Dataset, r2=None):
    """Fig. 3: permutation importance per component, sorted, with 95 % intervals over models; components that
    take one value in the zoo are drawn hollow. ``r2``: the held-out R²'s ``Estimate`` for the title."""
    t = importance_table(ds)
    boot = ds["importance_boot"].values
    comps = [LABELS.get(c, c) for c in ds["component"].values]
    lo = {c: np.nanpercentile(boot[:, k], 2.5) for k, c in enumerate(comps)}
    hi = {c: np.nanpercentile(boot[:, k], 97.5) for k, c in enumerate(comps)}
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    y = np.arange(len(t))
    colors = ["C0" if n > 1 else "white" for n in t["values in the zoo"]]
    ax.barh(y, t["importance"], color=colors, edgecolor="C0")
    # the percentile interval need not contain the full-data fit: draw it as a segment, not as ± errors
    ax.hlines(y, [lo[c] for c in t.index], [hi[c] for c in t.index], color="black", lw=1.2)
    ax.set_yticks(y, t.index)
    ax.invert_yaxis()
    ax.axvline(0, color="0.5", lw=0.8)
    ax.set_xlabel("permutation importance (drop of R²) [95 % CI, models]")
    ax.set_title(f"components against SAT (paper Fig. 3); held-out R² {_r2_text(ds, r2)}", fontsize=10)
    fig.tight_layout()
    return fig


def spectral_distances(ds: xr.Dataset):
    """Fig. 4a / B.1: distances between the models' spectral features, rows and columns in cluster order."""
    order = np.lexsort((ds["model"].values, ds["cluster"].values))
    d = feature_distances(ds["spectral"].values)[np.ix_(order, order)]
    names = ds["model"].values[order]
    cl = ds["cluster"].values[order]
    fig, ax = plt.subplots(figsize=(9, 8))
    sns.heatmap(d, ax=ax, cmap="magma_r", square=True, xticklabels=names, yticklabels=names,
                cbar_kws={"label": "distance between spectral features", "shrink": 0.7, "pad": 0.08})
    for b in np.flatnonzero(cl[1:] != cl[:-1]) + 1:
        ax.axhline(b, color="white", lw=1.5)
        ax.axvline(b, color="white", lw=1.5)
    family_bands(ax, rows=ds["family"].values[order], cols=ds["family"].values[order])
    ax.set_title(f"{ds.sizes['eigen']} spectral features of the SAT graph, by cluster (paper Fig. 4a, B.1)",
                 pad=22)
    fig.tight_layout()
    return fig


def held_out(ds: xr.Dataset, r2=None):
    """SAT of every pair against the SAT predicted with its models held out; ``r2`` as for ``importance``."""
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    ax.scatter(ds["held_out_prediction"], ds["pair_sat"], s=10, alpha=0.6)
    lims = [float(np.nanmin(ds["pair_sat"])), float(np.nanmax(ds["pair_sat"]))]
    ax.plot(lims, lims, color="0.5", lw=0.8)
    ax.set_xlabel("predicted from component differences (models held out)")
    ax.set_ylabel("SAT of the pair")
    ax.set_title(f"held-out R² = {_r2_text(ds, r2)}", fontsize=9)
    fig.tight_layout()
    return fig
