"""Figures of the training-procedure chapter (SAT paper Fig. 4b, Table 4)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import seaborn as sns
import xarray as xr

from sat_lib.analysis.sat_training import KIND_LABELS, group_estimate, pairs, paper_arch, zoo_estimate
from sat_lib.claims import paper_claims
from sat_lib.plots import legend_outside, seeded_jitter

GROUP_ORDER = [*KIND_LABELS.values(), "architecture"]
GROUP_COLORS = dict(zip(GROUP_ORDER, sns.color_palette("colorblind", len(GROUP_ORDER))))


def by_kind(ds: xr.Dataset, zoo: xr.Dataset, n_boot: int = 2000, seed: int = 0):
    """Fig. 4b: SAT of every pair within each group (dots), the group mean with its 95 % interval over models
    (bar), and the paper's Table 4 value for the architecture it stands in for (black diamond); the last panel
    is the zoo's pairs of different architectures."""
    df = pairs(ds, zoo)
    archs = list(dict.fromkeys(df["arch"]))
    values = paper_claims("sat-training")["claims"]["same_architecture"]["values"]
    fig, axes = plt.subplots(1, len(archs), figsize=(3.2 * len(archs) + 1.6, 4.2), sharey=True,
                             gridspec_kw={"width_ratios": [df[df["arch"] == a]["group"].nunique() for a in archs]})
    for ax, arch in zip(axes, archs):
        sub = df[df["arch"] == arch]
        groups = [g for g in GROUP_ORDER if g in set(sub["group"])]
        with seeded_jitter():
            sns.stripplot(data=sub, x="group", y="sat", order=groups, hue="group", palette=GROUP_COLORS, size=4,
                          alpha=0.6, jitter=0.2, legend=False, ax=ax)
        kinds = {v: k for k, v in KIND_LABELS.items()}
        for x, g in enumerate(groups):
            if arch == "the zoo":
                est, _ = zoo_estimate(zoo, n_boot, seed)
                paper = paper_claims("sat-training")["claims"]["all"]["value"]
            else:
                est, _ = group_estimate(ds, arch, kinds[g], n_boot, seed)
                paper = values[f"{paper_arch(ds, zoo, arch)}, {kinds[g]}"]
            if est.has_interval:  # a percentile interval need not contain the estimate: a segment, not ± errors
                ax.vlines(x + 0.32, est.low, est.high, color="black", lw=1.2, zorder=4)
            ax.scatter(x + 0.32, est.value, color=GROUP_COLORS[g], edgecolor="black", s=36, zorder=5)
            ax.scatter(x + 0.32, paper, marker="D", color="black", s=28, zorder=6)
        ax.set_title(arch if arch == "the zoo" else f"{arch}\n(paper: {paper_arch(ds, zoo, arch)})", fontsize=9)
        ax.set_xlabel("")
        ax.tick_params(axis="x", labelrotation=30)
        ax.set_ylabel("SAT of a pair (log %)")
    legend_outside(axes[-1], [plt.Line2D([], [], marker="o", ls="", color="0.5", mec="black"),
                              plt.Line2D([], [], marker="D", ls="", color="black")],
                   ["our mean [95 % CI, models]", "paper (Table 4)"])
    fig.suptitle("SAT within groups of one architecture and between architectures (paper Fig. 4b)")
    fig.tight_layout()
    return fig


def accuracy(ds: xr.Dataset):
    """Test accuracy of every variant, by architecture and kind."""
    df = ds[["accuracy"]].to_dataframe().reset_index()
    df["accuracy (%)"] = 100 * df["accuracy"]
    df["group"] = [KIND_LABELS.get(k, k) for k in df["kind"]]
    fig, ax = plt.subplots(figsize=(7, 0.8 + 0.8 * df["arch"].nunique()))
    with seeded_jitter():
        sns.stripplot(data=df, y="arch", x="accuracy (%)", hue="group", hue_order=list(KIND_LABELS.values()),
                      palette=GROUP_COLORS, dodge=True, size=6, ax=ax)
    ax.set_ylabel("")
    legend_outside(ax, title="diversity by")
    ax.set_title("clean test accuracy of every retrained model")
    fig.tight_layout()
    return fig
