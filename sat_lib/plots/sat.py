"""Figures of the SAT chapter (paper Figs. 1 and C.1, Table 1)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import xarray as xr

from sat_lib.analysis.sat import hierarchical_order, pair_frame, stability_table, tsne_embedding


def accuracy(ds: xr.Dataset):
    df = pd.DataFrame({"accuracy (%)": 100 * ds["accuracy"].values, "family": ds["family"].values},
                      index=ds["model"].values).sort_values("accuracy (%)")
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(df) + 1.2))
    sns.barplot(data=df.reset_index(), y="index", x="accuracy (%)", hue="family", dodge=False, ax=ax)
    ax.set_ylabel("")
    ax.set_title(f"clean test accuracy ({ds.attrs.get('dataset_source', '').split('/')[-1] or 'test split'})")
    fig.tight_layout()
    return fig


def sat_heatmap(ds: xr.Dataset, order: list[str] | None = None, clusters: pd.Series | None = None):
    """The SAT matrix, rows/columns in hierarchical (or the given) order (paper Fig. C.1)."""
    order = order or hierarchical_order(ds["sat"])
    mat = ds["sat"].sel(model=order, model_b=order).to_pandas()
    n = len(order)
    fig, ax = plt.subplots(figsize=(max(8.0, 0.35 * n + 4), max(6.5, 0.35 * n + 3)))
    sns.heatmap(mat, ax=ax, cmap="viridis", vmax=np.log(100), square=True, annot=n <= 12, fmt=".2f",
                cbar_kws={"label": "SAT = log(two-sided transfer %)", "shrink": 0.7},
                xticklabels=True, yticklabels=True)
    ax.set_xlabel("target model (evaluated on the source's adversarial examples)")
    ax.set_ylabel("source model")
    if clusters is not None:
        labels = clusters.loc[order].to_numpy()
        for i in np.flatnonzero(labels[1:] != labels[:-1]) + 1:
            ax.axhline(i, color="white", lw=1.5)
            ax.axvline(i, color="white", lw=1.5)
    ax.set_title("SAT similarity (log 100 = 4.6: every example transfers)")
    fig.tight_layout()
    return fig


def tsne(ds: xr.Dataset, clusters: pd.Series | None = None, seed: int = 0):
    """t-SNE of the models from their SAT distances, coloured by base architecture (paper Fig. 1)."""
    emb = tsne_embedding(ds["sat"], seed=seed)
    emb["family"] = ds["family"].values
    if clusters is not None:
        emb["cluster"] = clusters.loc[emb.index].astype(str)
    fig, ax = plt.subplots(figsize=(7, 5.5))
    sns.scatterplot(data=emb, x="tsne_1", y="tsne_2", hue="family", style="cluster" if clusters is not None else None,
                    s=90, ax=ax)
    for name, row in emb.iterrows():
        ax.annotate(name, (row.tsne_1, row.tsne_2), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.legend(bbox_to_anchor=(1.02, 1), loc="upper left", fontsize=8)
    ax.set_title("t-SNE of the zoo by SAT distance")
    fig.tight_layout()
    return fig


def stability(ds: xr.Dataset):
    """Std of the pair's percent score against the number of images, ours beside the paper's Table 1."""
    st = stability_table(ds)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(st.index, st["ours: std (pp)"], "o-", label=f"ours ({ds.attrs.get('stability_pair', '')})")
    paper = st["paper: std (pp)"].dropna()
    if len(paper):
        ax.plot(paper.index, paper.values, "s--", label="paper, Table 1 (ConvNeXt-T vs Swin-T, ImageNet)")
    ax.set_xscale("log")
    ax.set_xlabel("images per subset")
    ax.set_ylabel("std of the two-sided rate (pp)")
    ax.legend(fontsize=8)
    ax.set_title("stability of the score over 10 random image sets")
    fig.tight_layout()
    return fig


def sat_vs_accuracy(ds: xr.Dataset):
    """Every pair's SAT against the pair's mean clean accuracy, same-family pairs marked: does accuracy drive
    the score in this zoo?"""
    pairs = pair_frame(ds)
    pairs["pair"] = np.where(pairs["same_family"], "same family", "different families")
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    sns.regplot(data=pairs, x="mean_accuracy", y="sat", scatter=False, color="0.4", ax=ax)
    sns.scatterplot(data=pairs, x="mean_accuracy", y="sat", hue="pair", s=18, alpha=0.7, ax=ax)
    ax.set_xlabel("mean clean accuracy of the pair (%)")
    ax.set_ylabel("SAT (symmetrised)")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("SAT against accuracy, every pair of the zoo")
    fig.tight_layout()
    return fig
