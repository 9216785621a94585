"""The measures appendix's figure: every measure between its two trained models, and how each representational
measure moved under each transformation of one model's activations (a declared invariance should not move it)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.patches import Patch

from sat_lib.analysis.measures import functional_table, invariance_table

MOVED_FLOOR = 1e-12  # a change below this (float round-off) is drawn as this, so a log scale can show it


def measures(ds: xr.Dataset):
    """Left: each measure between the two models (representational ones on their penultimate activations,
    prediction-based ones on their test predictions). Right: |m(A, T(B)) − m(A, B)| for every representational
    measure and transformation T, on a log scale, with a declared invariance marked by a dot."""
    table = invariance_table(ds)
    values = pd.concat([table["none"].rename("value").to_frame().assign(kind="representational"),
                        functional_table(ds).iloc[:, :1].set_axis(["value"], axis=1).assign(kind="prediction-based")])
    moved = (table.drop(columns=["none", "self"], errors="ignore").sub(table["none"], axis=0)).abs()
    declared = ds["declared_invariant"].to_pandas().reindex(index=moved.index, columns=moved.columns).astype(bool)

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 0.32 * len(values) + 2.6),
                                      gridspec_kw={"width_ratios": [1, 1.15]})
    colors = {"representational": "#0173b2", "prediction-based": "#de8f05"}
    y = np.arange(len(values))[::-1]
    left.barh(y, values["value"], color=[colors[k] for k in values["kind"]], height=0.6)
    left.set_yticks(y, values.index)
    left.set_xlabel("value between the two models")
    left.legend(handles=[Patch(color=c, label=k) for k, c in colors.items()], fontsize=8, ncol=2, frameon=False,
                loc="lower center", bbox_to_anchor=(0.5, 1.0))

    shown = np.log10(np.maximum(moved.to_numpy(dtype=float), MOVED_FLOOR))
    im = right.imshow(shown, cmap="magma_r", vmin=np.log10(MOVED_FLOOR), vmax=0, aspect="auto")
    right.set_xticks(range(moved.shape[1]), moved.columns, rotation=30, ha="right")
    right.set_yticks(range(moved.shape[0]), moved.index)
    right.grid(False)
    for i, j in zip(*np.nonzero(declared.to_numpy())):
        right.plot(j, i, "o", ms=5, mfc="white", mec="0.2")
    right.set_title("change under a transformation T of B\n(dot: declared invariant)", fontsize=9)
    fig.colorbar(im, ax=right, label="log10 |m(A, T(B)) − m(A, B)|", shrink=0.9)
    if "model" in ds.coords:
        fig.suptitle(" and ".join(map(str, ds["model"].values)), fontsize=10)
    fig.tight_layout()
    return fig
