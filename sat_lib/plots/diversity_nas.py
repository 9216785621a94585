"""Figures of the diversity-nas chapter (design-diversity paper, Fig. 8); Figs. 5, 7 and 9's layouts come from
``sat_lib.plots.diversity_ensembles``, which draws this chapter's result unchanged."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from sat_lib.analysis.diversity_ensembles import AVERAGING, CLEAN
from sat_lib.claims import paper_claims

POOLS = (("subnetworks of one super-network", "#1b9e77"), ("heterogeneous pool", "#7570b3"))


def improvement_against_heterogeneous(ds: xr.Dataset, het: xr.Dataset | None, consensus: str = AVERAGING):
    """Every ensemble's improvement over its best member (clean set), the subnetwork pool beside the heterogeneous
    pool of the diversity-ensembles chapter on one axis, with the paper's Fig. 8 bound (0.04 pp) drawn."""
    bound = paper_claims("diversity-nas")["claims"]["nas_improvement_tiny"]["value"]
    pools = [(ds, *POOLS[0])] + ([(het, *POOLS[1])] if het is not None else [])
    fig, ax = plt.subplots(figsize=(8, 3.6), layout="constrained")
    rng = np.random.default_rng(0)
    for k, (d, label, color) in enumerate(pools):
        y = d["improvement"].sel(set=CLEAN, consensus=consensus).values
        ax.scatter(k + rng.uniform(-0.25, 0.25, len(y)), y, s=9, alpha=0.5, color=color, edgecolors="none")
        ax.hlines(y.mean(), k - 0.32, k + 0.32, color="0.1", lw=2)
    ax.axhline(0, color="0.3", ls="--", lw=0.9, zorder=0)
    ax.axhline(bound, color="#d95f02", lw=1.2, zorder=0, label=f"paper, Fig. 8: every NAS ensemble below {bound:g} pp")
    ax.set_xticks(range(len(pools)), [f"{label}\n({d.sizes['ensemble']} ensembles of {d.sizes['member']}, "
                                      f"{d.sizes['model']} models)" for d, label, _ in pools])
    ax.set_ylabel("improvement A_ens − A_top (pp)")
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    ax.set_title(f"Clean test images, consensus: {consensus}; bars: means", fontsize=10)
    return fig
