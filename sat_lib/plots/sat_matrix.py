"""Figures of the SAT chapter (paper Figs. 1 and C.1, Table 1). Families are coloured by
:data:`sat_lib.plots.FAMILY_PALETTE` in every figure."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import xarray as xr
from matplotlib.ticker import NullFormatter, ScalarFormatter

from sat_lib.analysis.sat_matrix import hierarchical_order, pair_frame, stability_table, tsne_embedding
from sat_lib.plots import family_bands, family_colors, family_handles, family_order, label_points, legend_outside

OTHER_PAIRS = "different families"
OTHER_COLOR = "0.72"  # pairs of two families: grey, so that every colour in a figure is a family's
CLUSTER_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "p", "h", "<", ">", "*")  # filled, about equally large


def accuracy(ds: xr.Dataset):
    df = pd.DataFrame({"accuracy (%)": 100 * ds["accuracy"].values, "family": ds["family"].values},
                      index=pd.Index(ds["model"].values, name="model")).sort_values("accuracy (%)")
    fams = family_order(df["family"])
    fig, ax = plt.subplots(figsize=(8, 0.28 * len(df) + 1.2))
    sns.barplot(data=df.reset_index(), y="model", x="accuracy (%)", hue="family", hue_order=fams,
                palette=family_colors(fams), dodge=False, saturation=1, ax=ax)
    ax.set_ylabel("")
    ax.set_xlim(0, 100)
    legend_outside(ax, family_handles(fams), title="family")
    ax.set_title(f"clean test accuracy ({ds.attrs.get('dataset_source', '').split('/')[-1] or 'test split'})")
    fig.tight_layout()
    return fig


def sat_heatmap(ds: xr.Dataset, order: list[str] | None = None, clusters: pd.Series | None = None):
    """The SAT matrix, rows/columns in hierarchical (or the given) order (paper Fig. C.1), with a band of family
    colours along the rows (right) and the columns (top)."""
    order = order or hierarchical_order(ds["sat"])
    mat = ds["sat"].sel(model=order, model_b=order).to_pandas()
    fam = pd.Series(ds["family"].values, index=ds["model"].values).loc[order]
    n = len(order)
    fig, ax = plt.subplots(figsize=(max(8.5, 0.35 * n + 4.5), max(7.0, 0.35 * n + 3.5)))
    sns.heatmap(mat, ax=ax, cmap="viridis", vmax=np.log(100), square=True, annot=n <= 12, fmt=".2f",
                cbar_kws={"label": "SAT = log(two-sided transfer %)", "shrink": 0.7, "pad": 0.08},
                xticklabels=True, yticklabels=True)
    ax.set_xlabel("target model (evaluated on the source's adversarial examples)")
    ax.set_ylabel("source model")
    if clusters is not None:
        labels = clusters.loc[order].to_numpy()
        for i in np.flatnonzero(labels[1:] != labels[:-1]) + 1:
            ax.axhline(i, color="white", lw=1.5)
            ax.axvline(i, color="white", lw=1.5)
    bands = family_bands(ax, rows=fam, cols=fam)
    fams = family_order(fam)
    bands["top"].legend(handles=family_handles(fams), loc="lower center", bbox_to_anchor=(0.5, 1.15),
                        ncol=len(fams), fontsize=8, frameon=False, handlelength=1.2, columnspacing=1.2)
    fig.suptitle("SAT similarity (log 100 = 4.6: every example transfers)")
    fig.tight_layout()
    return fig


def tsne(ds: xr.Dataset, clusters: pd.Series | None = None, seed: int = 0):
    """t-SNE of the models from their SAT distances, coloured by base architecture (paper Fig. 1)."""
    emb = tsne_embedding(ds["sat"], seed=seed)
    emb["family"] = ds["family"].values
    style = style_order = markers = None
    if clusters is not None:
        emb["cluster"] = clusters.loc[emb.index].astype(str)
        style = "cluster"
        style_order = sorted(emb["cluster"].unique(), key=lambda c: (len(c), c))  # 1, 2, …, 10
        markers = [CLUSTER_MARKERS[i % len(CLUSTER_MARKERS)] for i in range(len(style_order))]
    fams = family_order(emb["family"])
    fig, ax = plt.subplots(figsize=(8, 5.8))
    sns.scatterplot(data=emb, x="tsne_1", y="tsne_2", hue="family", hue_order=fams, palette=family_colors(fams),
                    style=style, style_order=style_order, markers=markers, s=90, ax=ax)
    legend_outside(ax)
    ax.set_title("t-SNE of the zoo by SAT distance")
    ax.margins(0.12)  # room at the edges for the names of the outermost models
    fig.tight_layout()
    label_points(ax, emb["tsne_1"], emb["tsne_2"], emb.index, fontsize=7)
    return fig


def stability(ds: xr.Dataset):
    """Std of the pair's percent score against the number of images, ours beside the paper's Table 1."""
    st = stability_table(ds)
    fig, ax = plt.subplots(figsize=(6, 4.4))
    ax.plot(st.index, st["ours: std (pp)"], "o-", color="0.15", label=f"ours ({ds.attrs.get('stability_pair', '')})")
    paper = st["paper: std (pp)"].dropna()
    if len(paper):
        ax.plot(paper.index, paper.values, "s--", color="0.55",
                label="paper, Table 1 (ConvNeXt-T vs Swin-T, ImageNet)")
    ax.set_xscale("log")
    ax.set_xticks(st.index[st[["ours: std (pp)", "paper: std (pp)"]].notna().any(axis=1)])
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("images per subset")
    ax.set_ylabel("std of the two-sided rate (pp)")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=1, frameon=False)
    ax.set_title("stability of the score over 10 random image sets")
    fig.tight_layout()
    return fig


def sat_vs_accuracy(ds: xr.Dataset):
    """Every pair's SAT against the pair's mean clean accuracy, same-family pairs in their family's colour: does
    accuracy drive the score in this zoo?"""
    pairs = pair_frame(ds)
    fam = ds["family"].values
    pairs["pair"] = np.where(pairs["same_family"], fam[pairs["i"]], OTHER_PAIRS)
    pairs = pairs.sort_values("same_family", kind="stable")  # same-family pairs drawn on top
    fams = family_order(pairs.loc[pairs["same_family"], "pair"])
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    sns.regplot(seed=0, data=pairs, x="mean_accuracy", y="sat", scatter=False, color="0.3", ax=ax)
    sns.scatterplot(data=pairs, x="mean_accuracy", y="sat", hue="pair", hue_order=[*fams, OTHER_PAIRS],
                    palette={**family_colors(fams), OTHER_PAIRS: OTHER_COLOR}, s=18, alpha=0.8, linewidth=0,
                    ax=ax)
    ax.set_xlabel("mean clean accuracy of the pair (%)")
    ax.set_ylabel("SAT (symmetrised)")
    legend_outside(ax, title="pair (same family)", markerscale=1.5)
    ax.set_title("SAT against accuracy, every pair of the zoo")
    fig.tight_layout()
    return fig
