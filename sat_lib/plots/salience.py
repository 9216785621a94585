"""Figures of the salience chapter (Wang et al. Figs. 2/12, 8, 9, 11, 18, 21, 25): one function per figure."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import xarray as xr

from sat_lib.analysis import salience as A


def _grid(n: int, ncols: int, size: tuple[float, float] = (3.4, 3.0)):
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes.flat


def width_heatmaps(pops: A.Populations):
    """p(k1, k2) for every population, full resolution and downsampled side by side (paper Fig. 2 / 12)."""
    main = list(A.main_populations(pops).values())
    resolutions = [str(r) for r in main[0]["resolution"].values]
    panels = [(ds, r) for ds in main for r in resolutions]
    vmax = max(float(np.nanmax(A.width_similarity(ds, r).values)) for ds, r in panels)
    fig, axes = _grid(len(panels), 2 * min(2, len(main)))
    for ax, (ds, r) in zip(axes, panels):
        p = A.width_similarity(ds, r).to_pandas()
        sns.heatmap(p, ax=ax, annot=True, fmt=".2f", cmap="viridis", vmin=0, vmax=vmax, cbar=False, square=True)
        ax.invert_yaxis()
        ax.set_title(f"{A.label(ds)}\n{r}", fontsize=9)
        ax.set_xlabel("k2")
        ax.set_ylabel("k1")
    fig.tight_layout()
    return fig


def mean_direction_heatmaps(pops: A.Populations):
    """Fig. 21 (right): cosine between a population's mean directions at two widths, for every population."""
    main = list(A.main_populations(pops).values())
    fig, axes = _grid(len(main), 4)
    for ax, ds in zip(axes, main):
        sns.heatmap(A.mean_direction_similarity(ds).to_pandas(), ax=ax, annot=True, fmt=".2f", cmap="magma", vmin=0,
                    vmax=1, cbar=False, square=True)
        ax.invert_yaxis()
        ax.set_title(A.label(ds), fontsize=9)
    fig.suptitle("cosine between mean directions at widths k1, k2 (diagonal: split-half)", fontsize=10)
    fig.tight_layout()
    return fig


def cross_family(cf: xr.DataArray, dataset: str):
    fig, axes = _grid(cf.sizes["k"], 3, (4.6, 4.2))
    for ax, k in zip(axes, cf["k"].values):
        mat = cf.sel(k=k).to_pandas().dropna(how="all").dropna(axis=1, how="all")
        sns.heatmap(mat, ax=ax, annot=True, fmt=".2f", cmap="magma", vmin=0, vmax=1, cbar=False, square=True,
                    annot_kws={"size": 8})
        ax.set_title(f"{dataset}, k = {k}", fontsize=9)
        ax.set_xlabel("")
        ax.set_ylabel("")
    fig.suptitle("cosine between mean salience directions (diagonal: split-half within a family)", fontsize=10)
    fig.tight_layout()
    return fig


def t_marginals(ds: xr.Dataset, resolution: str = "full"):
    """Fig. 8: KDE of t per width (solid), fitted exponential Saw (dashed), uniform-on-the-sphere baseline (grey);
    right: log KDE against the fitted log density (the identity line means the fit holds)."""
    m = A.t_marginals(ds, resolution)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    colors = sns.color_palette("viridis", m.sizes["k"])
    t = m["t"].values
    ax.fill_between(t, m["uniform"].values, color="0.6", alpha=0.5, label=f"uniform, d = {m.attrs['dimension']}")
    for c, k in zip(colors, m["k"].values):
        ax.plot(t, m["kde"].sel(k=k), color=c, label=f"k = {k}")
        ax.plot(t, m["saw"].sel(k=k), color=c, ls="--", lw=1)
    ax.set_yscale("log")
    ax.set_ylim(1e-2, max(float(m["kde"].max()), 1) * 3)
    ax.set_xlabel("t (cosine with the mean direction)")
    ax.set_ylabel("density")
    ax.set_title(f"{A.label(ds)}, {resolution}", fontsize=9)
    ax.legend(fontsize=7)
    sl = A.saw_linearity(ds, resolution)
    for c, k in zip(colors, m["k"].values):
        samples = A.t_samples(ds, k, resolution)
        lo, hi = np.quantile(samples, [0.01, 0.99])
        sel = (t >= lo) & (t <= hi)
        with np.errstate(divide="ignore"):
            logs = np.log(m["saw"].sel(k=k).values[sel]), np.log(m["kde"].sel(k=k).values[sel])
        ax2.plot(*logs, ".", ms=2,
                 color=c, label=f"k = {k}: slope {sl.loc[k, 'slope']:.2f}, R² {sl.loc[k, 'R²']:.2f}")
    lims = np.array(ax2.get_xlim())
    ax2.plot(lims, lims, color="k", lw=0.8, ls=":")
    ax2.set_xlabel("log fitted Saw density")
    ax2.set_ylabel("log p_k (KDE)")
    ax2.legend(fontsize=7)
    fig.tight_layout()
    return fig


def tail_probability(pops: A.Populations):
    """Fig. 22: P(Z > p) for random directions of each dimension we use, beside the empirical P(t > p) of every
    population at its largest width (both resolutions): how far from chance the observed alignment is."""
    main = list(A.main_populations(pops).values())
    resolutions = [str(r) for r in main[0]["resolution"].values]
    fig, axes = plt.subplots(1, len(resolutions), figsize=(5 * len(resolutions), 3.6), squeeze=False)
    p = np.linspace(0, 1, 201)
    for ax, res in zip(axes[0], resolutions):
        for d in sorted({A.dimension(ds, res) for ds in main}):
            ax.plot(p, A.uniform_tail(p, d), color="k", ls="--", lw=1, label=f"uniform, d = {d}")
        for ds in main:
            k = int(ds["width"].values.max())
            t = np.sort(A.t_samples(ds, k, res))
            ax.plot(t, 1 - np.arange(1, t.size + 1) / t.size, label=f"{A.label(ds)}, k = {k}")
        ax.set_yscale("log")
        ax.set_ylim(1e-4, 1.5)
        ax.set_xlabel("p")
        ax.set_ylabel("P(t > p)")
        ax.set_title(res, fontsize=9)
        ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


def transfer_heatmaps(ds: xr.Dataset):
    """Fig. 25: α(k_source, k_target) (lower: stronger transfer) and the accuracy drop."""
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.4))
    for ax, score, cmap, title in ((axes[0], "alpha", "rocket", "α = E p_true(adv)/p_true(clean)"),
                                   (axes[1], "accuracy_drop", "mako_r", "accuracy drop")):
        sns.heatmap(A.transfer_matrix(ds, score).to_pandas(), ax=ax, annot=True, fmt=".2f", cmap=cmap, cbar=False,
                    square=True)
        ax.invert_yaxis()
        ax.set_title(f"{A.label(ds)}: {title}", fontsize=9)
    fig.tight_layout()
    return fig


def transfer_curves(pops: A.Populations):
    """Fig. 11: α against the target's width for the three attack sources, one panel per population."""
    main = list(A.main_populations(pops).values())
    fig, axes = _grid(len(main), 3)
    for i, (ax, ds) in enumerate(zip(axes, main)):
        df = A.transfer_curves(ds)
        sns.lineplot(data=df, x="target k", y="alpha", hue="source", marker="o", ax=ax, legend=i == 0,
                     hue_order=["largest model", "same width", "mean direction (same width)"],
                     palette=["tab:red", "tab:green", "tab:blue"])
        ax.set_xscale("log", base=2)
        ax.set_title(A.label(ds), fontsize=9)
        ax.set_ylabel("α (lower: stronger)")
    if main:
        axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def loss_vs_t(df: pd.DataFrame):
    """Fig. 9: test loss against E[t]; marker size = ensemble members, colour = family."""
    datasets = sorted(df["dataset"].unique())
    fig, axes = _grid(len(datasets), 2, (4.6, 3.6))
    for ax, d in zip(axes, datasets):
        sub = df[df["dataset"] == d]
        sns.scatterplot(data=sub, x="E[t]", y="test loss", hue="family", size="members", sizes=(15, 90), ax=ax,
                        alpha=0.8)
        ax.set_title(d, fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def batch_effect(df: pd.DataFrame):
    """Fig. 18: p(k, k) and accuracy against k for each batch size."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, y in zip(axes, ("p(k,k)", "accuracy")):
        sns.lineplot(data=df, x="k", y=y, hue="batch size", marker="o", ax=ax, palette="crest")
        ax.set_xscale("log", base=2)
    axes[0].set_title(df["population"].iloc[0] if len(df) else "", fontsize=9)
    fig.tight_layout()
    return fig


def official_maps(ods: xr.Dataset):
    """The authors' models: ρ(k1, k2) as their saliency_similarity.py draws it (8×8, upper triangle), at full
    resolution beside, and the one-step attack's α(k_source, k_target)."""
    from sat_lib.analysis import official as O

    res = [str(r) for r in ods["resolution"].values]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    for ax, r in zip(axes, [res[1], res[0]]):
        m = O.rho_map(ods, r).to_pandas()
        sns.heatmap(m, ax=ax, annot=True, fmt=".2f", cmap="viridis", vmin=0, vmax=1, cbar=False, square=True,
                    mask=np.tril(np.ones(m.shape, dtype=bool), -1) if r != "full" else None, annot_kws={"size": 7})
        ax.set_title(f"ρ(k1, k2), {r}", fontsize=9)
        ax.set_xlabel("k2")
        ax.set_ylabel("k1")
    sns.heatmap(O.alpha_map(ods).to_pandas(), ax=axes[2], annot=True, fmt=".2f", cmap="rocket", cbar=False,
                square=True, annot_kws={"size": 7})
    axes[2].set_title("α(source k, target k): lower = stronger transfer", fontsize=9)
    fig.tight_layout()
    return fig
