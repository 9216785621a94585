"""Figures of the diversity-ensembles chapter (design-diversity paper, Figs. 5, 6, 7 and 9)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.colors import Normalize

from sat_lib.analysis.diversity_ensembles import (AVERAGING, CLEAN, METRICS, VOTE, correlation, frame, normalized,
                                                  pair_frame, sets)
from sat_lib.plots import legend_outside

ACCURACY_CMAP = "viridis"
FIG5_METRICS = ("attribution_diversity", "disagreement")


def _bubble_sizes(params: np.ndarray, largest: float) -> np.ndarray:
    """Marker areas proportional to parameters (the paper's bubble size), the largest ensemble at 160 pt²."""
    return 12 + 160 * np.asarray(params, float) / largest


def _trend(ax, x: np.ndarray, y: np.ndarray, **kwargs) -> None:
    """The least-squares line of ``y`` on ``x`` over the finite points, drawn across their range."""
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or np.ptp(x[ok]) == 0:
        return
    slope, icpt = np.polyfit(x[ok], y[ok], 1)
    xs = np.array([x[ok].min(), x[ok].max()])
    ax.plot(xs, icpt + slope * xs, **{"color": "0.25", "lw": 1.2, **kwargs})


def _zero_line(ax) -> None:
    ax.axhline(0, color="0.3", ls="--", lw=0.9, zorder=0)


def fig5(ds: xr.Dataset, consensus: str = AVERAGING, set: str = CLEAN):
    """Fig. 5 (Fig. 6 with ``consensus="vote"``): each ensemble's improvement over its best member against its
    attribution diversity (left) and disagreement (right), both min-max normalised; colour = ensemble accuracy,
    bubble area = parameters; the dashed line is zero (above it the ensemble beats its best member)."""
    f = frame(ds, set, consensus)
    y = f["improvement (pp)"].to_numpy(float)
    acc = f["accuracy (%)"].to_numpy(float)
    sizes = _bubble_sizes(f["params (M)"], f["params (M)"].max())
    norm = Normalize(acc.min(), acc.max())
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), sharey=True, layout="constrained")
    for ax, metric in zip(axes, FIG5_METRICS):
        x = normalized(f[metric])
        sc = ax.scatter(x, y, c=acc, s=sizes, cmap=ACCURACY_CMAP, norm=norm, alpha=0.75, edgecolors="0.2",
                        linewidths=0.3)
        _trend(ax, x, y)
        _zero_line(ax)
        ax.set_xlabel(f"{METRICS[metric]}, normalised")
        ax.set_title(f"Pearson r = {correlation(f[metric], y):.2f}", fontsize=10)
    axes[0].set_ylabel("improvement A_ens − A_top (pp)")
    fig.colorbar(sc, ax=axes, label="ensemble accuracy (%)", shrink=0.9)
    largest = f["params (M)"].max()
    handles = [axes[1].scatter([], [], s=_bubble_sizes([p], largest), color="0.6", edgecolors="0.2", linewidths=0.3,
                               label=f"{p:.2g} M") for p in np.quantile(f["params (M)"], [0, 0.5, 1])]
    fig.legend(handles=handles, title="parameters", loc="outside lower center", ncol=3, fontsize=8, title_fontsize=8,
               frameon=False)
    rule = "averaging" if consensus == AVERAGING else "majority vote" if consensus == VOTE else consensus
    fig.suptitle(f"{len(f)} ensembles of {ds.sizes['member']} on {set}, consensus: {rule}", fontsize=11)
    return fig


def fig6(ds: xr.Dataset, set: str = CLEAN):
    """Fig. 6: Fig. 5 with majority vote as the consensus."""
    return fig5(ds, consensus=VOTE, set=set)


def fig7(ds: xr.Dataset, consensus: str = AVERAGING):
    """Fig. 7: trend lines of the improvement against each metric (rows: attribution diversity, disagreement,
    mean member accuracy; min-max normalised) on each set (columns), the ensembles in grey behind them."""
    names = sets(ds)
    fig, axes = plt.subplots(len(METRICS), len(names), figsize=(2.6 * len(names) + 1, 2.2 * len(METRICS) + 0.6),
                             sharex=True, sharey="col", squeeze=False, layout="constrained")
    for c, s in enumerate(names):
        f = frame(ds, s, consensus)
        y = f["improvement (pp)"].to_numpy(float)
        for r, metric in enumerate(METRICS):
            ax = axes[r, c]
            x = normalized(f[metric])
            ax.scatter(x, y, s=8, color="0.55", alpha=0.6, linewidths=0)
            _trend(ax, x, y, color=f"C{r}", lw=2)
            _zero_line(ax)
            ax.set_title(f"r = {correlation(f[metric], y):.2f}", fontsize=8, pad=2)
            ax.tick_params(labelsize=7)
            if r == 0:
                ax.annotate(s, (0.5, 1.22), xycoords="axes fraction", ha="center", fontsize=9, weight="bold")
            if c == 0:
                ax.set_ylabel(f"{METRICS[metric].split(' (')[0]}\nimprovement (pp)", fontsize=8)
            if r == len(METRICS) - 1:
                ax.set_xlabel("metric, normalised", fontsize=8)
    fig.suptitle(f"Improvement over the best member against three metrics ({consensus})", fontsize=11)
    return fig


def fig9(ds: xr.Dataset):
    """Fig. 9: every pair of pool models' attribution diversity (clean images) under Saliency and Integrated
    Gradients at each step count, each min-max normalised over the pairs; pairs ordered by Saliency's score."""
    p = pair_frame(ds).dropna()
    p = p.sort_values(p.columns[0])
    labelled = len(p) <= 30
    fig, ax = plt.subplots(figsize=(max(6.0, 0.14 * len(p) + 3) if labelled else 10.0, 4.2), layout="constrained")
    x = np.arange(len(p))
    for j, method in enumerate(p.columns):
        ax.plot(x, normalized(p[method]), marker="o" if j == 0 else ".", ms=4, lw=1.4 if j == 0 else 1.0,
                alpha=0.9, label=method)
    if labelled:
        ax.set_xticks(x, p.index, rotation=90, fontsize=6)
    else:
        ax.set_xticks([])
        ax.set_xlabel(f"{len(p)} pairs of models, by Saliency's score")
    ax.set_ylabel("Eq. 7 of the pair, normalised")
    legend_outside(ax, title="method")
    ax.set_title("Saliency against Integrated Gradients (paper Fig. 9)", fontsize=10)
    return fig
