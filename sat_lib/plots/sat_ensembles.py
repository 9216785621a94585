"""Figures of the ensembles chapter (SAT paper Figs. 5, 6, 7 and E.1)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import xarray as xr

from sat_lib.analysis.sat_ensembles import fig5_estimates, fig6_source, fig7_frame, pair_frame
from sat_lib.claims import paper_claims
from sat_lib.plots import legend_outside
from sat_lib.plots.sat_matrix import OTHER_COLOR
from sat_lib.plots.sat_training import GROUP_COLORS

SCORE_LABELS = {"err": "error reduction rate (ERR)", "error": "top-1 error of the ensemble (%)",
                "all_wrong": "samples all members get wrong (%)"}


def _scaled(frame, score):
    return frame.assign(value=frame[score] * (1 if score == "err" else 100))


def sat_vs_err(ds: xr.Dataset, ours=None):
    """Fig. 5: every pair's ERR against its SAT, the least-squares line with its 90 % band (as the paper draws
    it); pairs of one family in colour. The title prints our Pearson r with its 95 % interval over models —
    ``ours``, the ``Estimate`` the chapter's table prints (``fig5_estimates``), or computed so — beside the
    paper's."""
    p = pair_frame(ds)
    if ours is None:
        ours = fig5_estimates(ds)["Pearson r(SAT, ERR)"]
    paper = paper_claims("sat-ensembles")["claims"]["pearson_sat_err"]["value"]
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    ax.scatter(p.loc[~p["same_family"], "sat"], p.loc[~p["same_family"], "err"], s=12, color=OTHER_COLOR,
               label="different families")
    ax.scatter(p.loc[p["same_family"], "sat"], p.loc[p["same_family"], "err"], s=14, color="C0",
               label="same family")
    sns.regplot(seed=0, data=p, x="sat", y="err", ci=90, scatter=False, color="black", line_kws={"lw": 1.2}, ax=ax)
    ax.set_xlabel("SAT of the pair (log %)")
    ax.set_ylabel(SCORE_LABELS["err"])
    ax.legend(fontsize=8, frameon=False)
    ax.set_title(f"2-model ensembles of the zoo: Pearson r = {ours.text()} (95 % CI, {ours.unit})\n"
                 f"paper Fig. 5: {paper:.2f}", fontsize=10)
    fig.tight_layout()
    return fig


def by_clusters(f6: xr.Dataset):
    """Figs. 6 and E.1: mean ERR, ensemble error and all-wrong share of N-ensembles from k clusters, with 95 %
    intervals over the cell's ensembles (every distinct one, or the draws; none where a cell has one ensemble).
    ``f6``: the Fig. 6 scores (``sat_lib.analysis.sat_ensembles.fig6_source``)."""
    f6 = fig6_source(f6)
    scores = ("err", "error", "all_wrong")
    frame = (f6[[f"clusters_{s}" for s in scores]].to_dataframe().dropna(how="all")
             .rename(columns=lambda c: c.replace("clusters_", "")).reset_index())
    frame = frame[frame["k"] <= frame["size"]]
    palette = dict(zip(sorted(frame["k"].unique()), sns.color_palette("viridis", frame["k"].nunique())))
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.9))
    for ax, score in zip(axes, scores):
        sns.lineplot(data=_scaled(frame, score), x="size", y="value", hue="k", palette=palette, marker="o",
                     errorbar=("ci", 95), seed=0, ax=ax, legend=score == "all_wrong")
        ax.set_xlabel("models in the ensemble (N)")
        ax.set_ylabel(SCORE_LABELS[score])
        ax.set_xticks(sorted(frame["size"].unique()))
    legend_outside(axes[-1], title="k clusters")
    fig.suptitle("N-model ensembles from k clusters of the SAT graph (paper Fig. 6 a/b, E.1)")
    fig.tight_layout()
    return fig


def by_training(ds: xr.Dataset):
    """Fig. 7: ERR and all-wrong share of N-ensembles of one architecture's retrained copies (by kind of
    difference) against N-ensembles of different architectures from N clusters of the zoo."""
    frame = fig7_frame(ds)
    archs = list(ds["arch"].values)
    fig, axes = plt.subplots(len(archs), 2, figsize=(10.5, 3.5 * len(archs)), squeeze=False)
    labels = {"initialization": "initialization", "hyperparameter": "hyper-parameters", "regime": "training regime",
              "architecture": "architecture"}
    colors = {g: GROUP_COLORS.get(labels[g], "0.5") for g in labels}
    for row, arch in zip(axes, archs):
        sub = frame[frame["arch"] == arch]
        for ax, score in zip(row, ("err", "all_wrong")):
            sns.lineplot(data=_scaled(sub, score), x="size", y="value", hue="group", palette=colors, marker="o",
                         errorbar=("ci", 95), seed=0, ax=ax, legend=score == "all_wrong")
            ax.set_title(f"{arch}", fontsize=9)
            ax.set_xlabel("models in the ensemble (N)")
            ax.set_ylabel(SCORE_LABELS[score])
            ax.set_xticks(sorted(np.unique(sub["size"])))
        legend_outside(row[-1], title="diversity by")
    fig.suptitle("Ensembles of one architecture trained differently vs of different architectures (paper Fig. 7)")
    fig.tight_layout()
    return fig
