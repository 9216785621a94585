"""The universality chapter's training-length figure: clean and adversarial accuracy of its standard models
against the epochs they were trained for, the attack's convergence shown beside the chapter's PGD."""
from __future__ import annotations

import json

import matplotlib.pyplot as plt
import seaborn as sns
import xarray as xr
from matplotlib.lines import Line2D

from sat_lib.analysis.universality.length import ATTACK_NAMES, strong

ATTACK_STYLES = {"pgd": "-", "apgd_ce": "--", "pgd_strong": ":"}


def training_length(ls: xr.Dataset, paper_clean: float | None = None, paper_adversarial: float | None = None):
    """Left: clean accuracy against epochs; right: adversarial accuracy at the section's ε on the strong subset
    under each attack (line style), one colour per architecture. ``paper_*``: the paper's standard models' mean
    (%), drawn as a dotted line where given."""
    names = [str(m) for m in ls["model"].values]
    colors = dict(zip(names, sns.color_palette("tab10", len(names))))
    s = strong(ls)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.0))
    for m in names:
        epochs = ls["epochs"].sel(model=m).values
        axes[0].plot(epochs, 100 * ls["accuracy"].sel(model=m).values, "o-", color=colors[m], label=m)
        for attack, style in ATTACK_STYLES.items():
            axes[1].plot(epochs, 100 * s.sel(model=m, attack=attack).mean("image").values, style, marker="o",
                         ms=3, color=colors[m])
    for ax, ref, label in ((axes[0], paper_clean, "clean test accuracy (%)"),
                           (axes[1], paper_adversarial, f"adversarial accuracy (%), L2 ε = {_eps(ls):g}")):
        if ref is not None:
            ax.axhline(ref, color="0.4", ls=(0, (1, 2)), lw=1)
            ax.annotate("paper's standard models (mean)", (1.0, ref), xycoords=("axes fraction", "data"),
                        ha="right", va="bottom", fontsize=7, color="0.3")
        ax.set_xscale("log")
        ax.set_xticks(sorted({int(e) for e in ls["epochs"].values.ravel() if e == e}))
        ax.get_xaxis().set_major_formatter(plt.ScalarFormatter())
        ax.minorticks_off()
        ax.set_xlabel("training epochs (each budget its own schedule)")
        ax.set_ylabel(label)
    axes[0].set_title("clean accuracy")
    axes[1].set_title(f"under attack, first {s.sizes['image']} evaluation images")
    handles = [Line2D([], [], color=colors[m], marker="o", label=m) for m in names]
    handles += [Line2D([], [], color="0.3", ls=style, label=ATTACK_NAMES[a]) for a, style in ATTACK_STYLES.items()]
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8, frameon=False, bbox_to_anchor=(0.5, -0.12))
    fig.tight_layout()
    return fig


def _eps(ls: xr.Dataset) -> float:
    return float(json.loads(ls.attrs.get("params_json", "{}")).get("eps", 0.25))


__all__ = ["ATTACK_STYLES", "training_length"]
