"""Figures of the diversity-training chapter (design-diversity paper, Figs. 10, 11 and 12, and the
Littlewood–Miller model)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import xarray as xr

from sat_lib.analysis.diversity_training import (CLEAN, HETEROGENEOUS, accuracy_frame, coincidence_frame, ensemble_of,
                                                 difficulty_frame, methods, role_method)
from sat_lib.plots import legend_outside

METHOD_CMAP = "tab10"
ROLES = ("prediction", "attribution", HETEROGENEOUS)


def method_colors(ds: xr.Dataset) -> dict[str, tuple]:
    """One colour per training heuristic (in the result's order), black for the heterogeneous ensemble."""
    names = methods(ds)
    colors = dict(zip(names, sns.color_palette(METHOD_CMAP, len(names))))
    colors[HETEROGENEOUS] = (0.0, 0.0, 0.0)  # black: tab10 has a grey of its own
    return colors


def fig10(ds: xr.Dataset, n_boot: int = 1000, seed: int = 0):
    """Fig. 10: (top) ensemble accuracy (each under its own consensus rule) of every heuristic on the clean set and
    each corruption; (bottom) resilience, corrupted over clean accuracy, on each corruption. Filled: the ensembles
    with 95 % intervals over seeds × images; hollow: their members' mean."""
    f = accuracy_frame(ds, n_boot, seed)
    names = list(dict.fromkeys(f["method"]))
    colors = method_colors(ds)
    fig, axes = plt.subplots(2, 1, figsize=(11, 8), layout="constrained")
    panels = ((axes[0], list(dict.fromkeys(f["set"])), ("accuracy", "low", "high", "members"), "accuracy (%)",
               "accuracy: ensembles (filled, 95 % CI) and their members' mean (hollow)"),
              (axes[1], [s for s in dict.fromkeys(f["set"]) if s != CLEAN],
               ("resilience", "resilience_low", "resilience_high", "members_resilience"),
               "corrupted / clean accuracy (%)", "resilience: ensembles (filled, 95 % CI) and their members (hollow)"))
    width = 0.8 / len(names)
    for ax, sets, (value, low, high, members), ylabel, title in panels:
        for k, m in enumerate(names):
            g = f[f["method"] == m].set_index("set").loc[sets]
            x = np.arange(len(sets)) - 0.4 + (k + 0.5) * width
            err = np.vstack([g[value] - g[low], g[high] - g[value]])
            ax.errorbar(x, g[value], yerr=np.where(np.isfinite(err), err, 0), fmt="o", ms=5, color=colors[m],
                        capsize=2, label=m)
            ax.scatter(x, g[members], marker="o", s=18, facecolors="none", edgecolors=colors[m], linewidths=0.8)
        ax.set_xticks(np.arange(len(sets)), [s.replace("@", "\n@") for s in sets])  # long names stay apart
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
    legend_outside(axes[0], title="training")
    return fig


def fig11(ds: xr.Dataset, pictures: np.ndarray | None = None, seed_index: int = 0):
    """Fig. 11: the members' Saliency maps (|gradient|, maximum over channels, each map scaled to its own
    maximum) of the prediction-diversity, attribution-diversity and heterogeneous ensembles on the first test
    images (top row: ``pictures``, uint8 (n, H, W, C), when given)."""
    shown = ds["shown"].values
    roles = [(r, role_method(ds, r)) for r in ROLES]
    stored = {m: ensemble_of(ds, m)["maps"].values for _, m in roles}  # (ensembles, members, …)
    rows = [(r, m, i) for r, m in roles for i in range(ds.sizes["member"])
            if np.isfinite(stored[m][min(seed_index, len(stored[m]) - 1), i]).any()]
    fig, axes = plt.subplots(len(rows) + 1, len(shown), figsize=(1.25 * len(shown), 1.3 * (len(rows) + 1)),
                             layout="constrained", squeeze=False)
    pics = [] if pictures is None else list(pictures)
    for c in range(len(shown)):
        ax = axes[0, c]
        if c < len(pics):
            pic = pics[c]
            ax.imshow(pic.squeeze(-1) if pic.shape[-1] == 1 else pic, cmap="gray")
        ax.set_axis_off()
    for r, (role, m, i) in enumerate(rows, start=1):
        e = ensemble_of(ds, m)
        k = min(seed_index, len(e["ensemble"]) - 1)
        maps = np.abs(e["maps"].values[k, i].astype(float)).max(axis=1)  # (shown, H, W)
        for c in range(len(shown)):
            ax = axes[r, c]
            peak = np.nanmax(maps[c]) or 1.0
            ax.imshow(maps[c] / peak, cmap="magma", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(f"{role}\n{str(e['member_name'].values[k, i])[:14]}", fontsize=7)
    return fig


def fig12(ds: xr.Dataset, seed_index: int = 0):
    """Fig. 12: layer-by-layer linear CKA between the first two members of the prediction-diversity,
    attribution-diversity, independent and heterogeneous ensembles (rows: member 1's layers; columns: member 2's)."""
    panels = [(r, role_method(ds, r)) for r in ROLES]
    if "independent" in methods(ds):
        panels.insert(0, ("independent", "independent"))
    fig, axes = plt.subplots(1, len(panels), figsize=(3.3 * len(panels), 3.3), layout="constrained", squeeze=False)
    for ax, (role, m) in zip(axes[0], panels):
        e = ensemble_of(ds, m)
        k = min(seed_index, len(e["ensemble"]) - 1)
        c = e["cka"].values[k]
        keep_r, keep_c = np.isfinite(c).any(1), np.isfinite(c).any(0)
        im = ax.imshow(c[keep_r][:, keep_c], vmin=0, vmax=1, cmap="viridis", origin="lower")
        names = e["member_name"].values[k]
        ax.set_title(f"{role}\nmean CKA {np.nanmean(c):.2f}", fontsize=9)
        ax.set_ylabel(f"{str(names[0])[:16]} layer", fontsize=8)
        ax.set_xlabel(f"{str(names[1])[:16]} layer", fontsize=8)
    fig.colorbar(im, ax=axes[0].tolist(), label="linear CKA", shrink=0.85)
    return fig


def coincidence(ds: xr.Dataset):
    """The Littlewood–Miller decomposition: for every pair of methodologies (left: the zoo's architecture
    families; right: the training heuristics) on every set, P(both fail) = E[θ_A θ_B] against what independent
    failures would give, E[θ_A] E[θ_B]; points above the diagonal fail together more than independence
    (Cov(θ_A, θ_B) > 0). Filled: A = B; hollow: A ≠ B."""
    f = coincidence_frame(ds)
    kinds = [k for k in ("family", "heuristic") if (f["kind"] == k).any()]
    fig, axes = plt.subplots(1, len(kinds), figsize=(5.2 * len(kinds), 4.4), layout="constrained", squeeze=False)
    sets = list(dict.fromkeys(f["set"]))
    colors = dict(zip(sets, sns.color_palette("colorblind", len(sets))))
    for ax, kind in zip(axes[0], kinds):
        g = f[f["kind"] == kind]
        for s in sets:
            h = g[g["set"] == s]
            for same, face in ((True, colors[s]), (False, "none")):
                p = h[h["same"] == same]
                ax.scatter(100 * p["independent"], 100 * p["p_both"], s=26, facecolors=face, edgecolors=colors[s],
                           label=s if same else None)
        lo = 100 * min(g["independent"].min(), g["p_both"].min())
        hi = 100 * max(g["independent"].max(), g["p_both"].max())
        ax.plot([lo, hi], [lo, hi], color="0.4", lw=0.8, ls="--")
        ax.set_xlabel("E[θ_A] E[θ_B]: independent failures (%)")
        ax.set_ylabel("E[θ_A θ_B]: both fail (%)")
        ax.set_title("architecture families (zoo)" if kind == "family" else "training heuristics", fontsize=10)
    legend_outside(axes[0, -1], title="set (filled: A = B)")
    return fig


def difficulty_correlation(ds: xr.Dataset, set_name: str = CLEAN):
    """Correlation of the difficulty functions θ(x) of every two methodologies on one set: the families' and
    heuristics' θ correlate positively where the same inputs are hard for every design."""
    th = difficulty_frame(ds, set_name)
    th = th.loc[:, th.std() > 0]
    fig, ax = plt.subplots(figsize=(0.55 * th.shape[1] + 3, 0.5 * th.shape[1] + 2), layout="constrained")
    sns.heatmap(th.corr(), vmin=-1, vmax=1, cmap="vlag", annot=th.shape[1] <= 14, fmt=".2f", ax=ax,
                annot_kws={"fontsize": 7}, cbar_kws={"label": "Pearson r of θ(x)"})
    ax.set_title(f"difficulty functions on {set_name}", fontsize=10)
    return fig
