"""Figures of the similarity atlas: what each measure predicts held out (the headline), how the measures agree, and
where a placed model sits in each measure's map of the zoo."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr

GROUP_COLORS = {"transfer": "#c44e52", "functional": "#4c72b0", "representational": "#55a868",
                "gradient": "#8172b3", "attribution": "#937860"}
TARGET_TITLES = {"err": "ensemble error reduction", "coincident_failure": "coincident failures (corrupted)",
                 "accuracy_difference": "accuracy difference"}


def headline(table: pd.DataFrame):
    """Measures (rows, by group) × targets (panels): each measure's held-out score with its 95 % interval over
    models (``prediction_table``); the accuracy difference is partialled out of the first two targets."""
    targets = list(dict.fromkeys(table["target"]))
    measures = list(dict.fromkeys(table["measure"]))
    labels = table.drop_duplicates("measure").set_index("measure")["label"]
    groups = table.drop_duplicates("measure").set_index("measure")["group"]
    fig, axes = plt.subplots(1, len(targets), figsize=(3.2 * len(targets) + 1.6, 0.32 * len(measures) + 1.4),
                             sharey=True, squeeze=False)
    y = np.arange(len(measures))[::-1]
    for ax, target in zip(axes[0], targets):
        t = table[table["target"] == target].set_index("measure").loc[measures]
        for k, m in enumerate(measures):
            color = GROUP_COLORS[groups[m]]
            lo, hi = t.loc[m, "low"], t.loc[m, "high"]
            if np.isfinite(lo) and np.isfinite(hi):
                ax.plot([lo, hi], [y[k], y[k]], color=color, lw=1.6)
            ax.plot(t.loc[m, "score"], y[k], "o", color=color, ms=4.5)
        ax.axvline(0, color="0.5", lw=0.8, ls="--")
        ax.set_xlim(-1.05, 1.05)
        ax.set_title(TARGET_TITLES.get(target, target), fontsize=9)
        ax.set_xlabel("held-out (partial) correlation" if target != "accuracy_difference" else
                      "held-out correlation", fontsize=8)
    axes[0, 0].set_yticks(y)
    axes[0, 0].set_yticklabels([labels[m] for m in measures], fontsize=8)
    handles = [plt.Line2D([], [], color=c, marker="o", lw=1.6, label=g) for g, c in GROUP_COLORS.items()
               if g in set(groups)]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=7, frameon=False,
               bbox_to_anchor=(0.5, -0.02))
    fig.suptitle("What each measure predicts on models it was not fitted on", fontsize=10)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def agreement_heatmap(agreement: xr.Dataset, clusters: pd.DataFrame):
    """Spearman ρ between every two measures over the zoo's pairs, in the measures' cluster order; a cell's
    marker says its 95 % interval (models resampled) excludes 0."""
    import seaborn as sns

    order = list(clusters.index)
    rho = agreement["rho"].sel(measure=order, measure_b=order).to_pandas()
    low = agreement["low"].sel(measure=order, measure_b=order).values
    high = agreement["high"].sel(measure=order, measure_b=order).values
    names = list(clusters["measure"])
    rho.index, rho.columns = names, names
    fig, ax = plt.subplots(figsize=(0.45 * len(order) + 2.8, 0.42 * len(order) + 1.2))
    annot = np.where((low > 0) | (high < 0), np.vectorize(lambda v: f"{v:.2f}")(rho.values), "")
    sns.heatmap(rho, vmin=-1, vmax=1, cmap="RdBu_r", annot=annot, fmt="", annot_kws={"fontsize": 6}, ax=ax,
                cbar_kws={"label": "Spearman ρ over pairs"}, xticklabels=True, yticklabels=True)
    bounds = np.flatnonzero(np.diff(clusters["cluster"].to_numpy())) + 1
    for b in bounds:
        ax.axhline(b, color="k", lw=0.8)
        ax.axvline(b, color="k", lw=0.8)
    ax.tick_params(labelsize=7)
    ax.set_title("How the measures rank the zoo's pairs (numbers: interval excludes 0)", fontsize=9)
    fig.tight_layout()
    return fig


def placement_maps(ds: xr.Dataset, new: xr.DataArray, name: str, clusters: pd.Series):
    """One map per measure: the zoo's models and the placed model (a star), placed by classical MDS of the
    measure's dissimilarity (``embedding``), coloured by the models' SAT cluster."""
    from sat_lib.analysis.similarity_atlas import embedding, measures_of, oriented, similarity
    from sat_lib.plots import label_points

    ms = measures_of(ds)
    cols = 4
    rows = int(np.ceil(len(ms) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 2.8 * rows), squeeze=False)
    palette = plt.get_cmap("tab10")
    colors = [palette((int(c) - 1) % 10) for c in clusters.reindex(ds["model"].values).to_numpy()]
    for ax, m in zip(axes.flat, ms):
        zoo = similarity(ds, m).values
        row = oriented(new.sel(measure=m).values, m)
        full = np.full((len(zoo) + 1, len(zoo) + 1), np.nan)
        full[:-1, :-1], full[-1, :-1], full[:-1, -1] = zoo, row, row
        xy = embedding(full)
        ax.scatter(xy[:-1, 0], xy[:-1, 1], c=colors, s=18, edgecolor="white", linewidth=0.4)
        label_points(ax, xy[:-1, 0], xy[:-1, 1], [str(n) for n in ds["model"].values], fontsize=4.5)
        ax.scatter(xy[-1, 0], xy[-1, 1], marker="*", s=160, c="k")
        ax.annotate(name, xy[-1], fontsize=7, xytext=(4, 4), textcoords="offset points")
        ax.set_title(str(ds["label"].sel(measure=m).values), fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in list(axes.flat)[len(ms):]:
        ax.axis("off")
    fig.suptitle(f"{name} among the zoo, by each measure (colours: the zoo's SAT clusters)", fontsize=10)
    fig.tight_layout()
    return fig
