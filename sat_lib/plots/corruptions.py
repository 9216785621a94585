"""Figures of the corruption chapters: every corruption at several severities on the same images."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from sat_lib.corruptions import CORRUPTIONS, corrupt


def gallery(images: np.ndarray, names: list[str] | None = None, levels: tuple[str, ...] = ("low", "mid", "high"),
            seed: int = 0):
    """Rows: corruptions; columns: the clean image, then each image at the lowest, middle and highest severity of
    the corruption's C-bar range (``record.severity_range``). ``images``: uint8 (n, H, W, 3), a few images."""
    names = names or list(CORRUPTIONS.names())
    n = len(images)
    fig, axes = plt.subplots(len(names), n * (1 + len(levels)), figsize=(0.9 * n * (1 + len(levels)), 0.95 * len(names)),
                             squeeze=False)
    for row, name in enumerate(names):
        lo, hi = CORRUPTIONS[name].severity_range
        severities = dict(zip(("low", "mid", "high"), (lo, (lo + hi) / 2, hi)))
        panels = [("clean", images)] + [(f"{severities[lv]:.2g}", corrupt(images, name, severities[lv], seed=seed))
                                        for lv in levels]
        for p, (label, batch) in enumerate(panels):
            for i in range(n):
                ax = axes[row, p * n + i]
                ax.imshow(batch[i])
                ax.set_xticks([])
                ax.set_yticks([])
                if i == 0:
                    ax.set_title(label if row == 0 or p else "", fontsize=6, pad=1)
        axes[row, 0].set_ylabel(name.replace("_", " "), fontsize=6, rotation=0, ha="right", va="center")
    fig.subplots_adjust(wspace=0.04, hspace=0.08)
    return fig


def accuracy_heatmap(ds):
    """Accuracy (%) of every model (rows, by clean accuracy) on the clean and every corrupted set (columns)."""
    import seaborn as sns

    from sat_lib.analysis.corruptions import accuracy, frame

    acc = accuracy(ds).loc[frame(ds).index]
    fig, ax = plt.subplots(figsize=(0.32 * acc.shape[1] + 3, 0.28 * acc.shape[0] + 1.5))
    sns.heatmap(acc, cmap="viridis", vmin=0, vmax=100, cbar_kws={"label": "accuracy (%)"}, ax=ax,
                xticklabels=True, yticklabels=True)
    ax.tick_params(labelsize=6)
    ax.set_xlabel("test set (corruption@severity)")
    ax.set_ylabel("")
    ax.set_title("Accuracy of the zoo on clean and corrupted test images", fontsize=10)
    fig.tight_layout()
    return fig


def fig4(ds):
    """Fig. 4: the baseline ResNet's accuracy on the clean set and the paper's four corruptions, beside the
    paper's ResNet50 where its text gives the number (clean and Lines 1.6, Table 1)."""
    from sat_lib.analysis.corruptions import accuracy, paper_sets, paper_table1

    b = ds.attrs["baseline"]
    sets = ["clean", *paper_sets(ds)]
    ours = accuracy(ds).loc[b, sets]
    p = paper_table1().loc["ResNet50"]
    paper = {"clean": float(p["ImageNet top-1 (%)"]), "lines@1.6": float(p["Lines 1.6 top-1 (%)"])}
    x = np.arange(len(sets))
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.bar(x - 0.2, ours.values, width=0.4, label=f"ours: {b} (CIFAR-10)")
    ax.bar(x + 0.2, [paper.get(s, np.nan) for s in sets], width=0.4, color="0.6",
           label="paper: ResNet50 (ImageNet; only the numbers its text gives)")
    ax.set_xticks(x, sets)
    ax.set_ylabel("top-1 accuracy (%)")
    ax.legend(fontsize=7, frameon=False)
    ax.set_title("The baseline on in-distribution and corrupted images (paper Fig. 4)", fontsize=10)
    fig.tight_layout()
    return fig


def resilience(ds):
    """Relative resilience (mean over the paper's four corruptions) against parameters and clean accuracy, one
    colour per family: is it size, accuracy or architecture?"""
    import seaborn as sns

    from sat_lib.analysis.corruptions import frame
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    from sat_lib.plots import family_colors, label_points

    f = frame(ds).reset_index()
    palette = family_colors(f["family"].unique())
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, x in zip(axes, ("params (M)", "clean (%)")):
        sns.scatterplot(data=f, x=x, y="relative resilience", hue="family", palette=palette, s=40, ax=ax)
        if x.startswith("params"):
            ax.set_xscale("log")   # ticks at 1, 2, 5 × 10^n, printed plainly (the default labels minor ticks too)
            ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(NullFormatter())
    axes[1].legend(fontsize=7, frameon=False)
    axes[0].get_legend().remove()
    axes[0].set_ylabel("corrupted / clean accuracy (mean of the paper's four)")
    fig.suptitle("Resilience against size and accuracy (paper Table 1, RQ1)")
    fig.tight_layout()
    for ax, x in zip(axes, ("params (M)", "clean (%)")):
        label_points(ax, f[x], f["relative resilience"], f["model"], fontsize=5.5, color="0.35")
    return fig
