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
