"""Figures of the salience chapter (Wang et al. Figs. 2/12, 8, 9, 11, 18, 21, 25): one function per figure."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import xarray as xr
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from sat_lib.analysis import salience as A
from sat_lib.plots import (BATCH_CMAP, family_bands, family_color, family_colors, family_handles, family_order,
                           legend_outside, width_colors)

# the attack sources of Fig. 11 are no families: black and greys (with one accent), never a family's colour
SOURCE_STYLES = {"largest model": {"color": "0.1", "marker": "s", "dashes": (4, 2)},
                 "same width": {"color": "0.6", "marker": "o", "dashes": ""},
                 "mean direction (same width)": {"color": "#b8002e", "marker": "D", "dashes": ""}}
DATASET_LINESTYLES = ("-", "--", ":", "-.")


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
        mat = mat.loc[family_order(mat.index), family_order(mat.columns)]  # the palette's order in every panel
        sns.heatmap(mat, ax=ax, annot=True, fmt=".2f", cmap="magma", vmin=0, vmax=1, cbar=False, square=True,
                    annot_kws={"size": 8})
        ax.set_xlabel("")
        ax.set_ylabel("")
        bands = family_bands(ax, rows=mat.index, cols=mat.columns, size="5%")
        bands["top"].set_title(f"{dataset}, k = {k}", fontsize=9)
    fig.suptitle("cosine between mean salience directions (diagonal: split-half within a family)", fontsize=10)
    fig.tight_layout()
    return fig


def t_marginals(ds: xr.Dataset, resolution: str = "full", widths=None):
    """Fig. 8: KDE of t per width (solid), fitted exponential Saw (dashed), uniform-on-the-sphere baseline (grey);
    right: log KDE against the fitted log density (the identity line means the fit holds). ``widths``: every
    width of the chapter, so that a width has one colour in every population's figure (default: this one's)."""
    m = A.t_marginals(ds, resolution)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4.4))
    ks = [int(k) for k in m["k"].values]
    colors = width_colors(ks, widths)
    t = m["t"].values
    kde, saw, uniform = m["kde"].values, m["saw"].values, m["uniform"].values
    ax.fill_between(t, uniform, color="0.6", alpha=0.5, lw=0)
    for i, k in enumerate(ks):
        ax.plot(t, kde[i], color=colors[k])
        ax.plot(t, saw[i], color=colors[k], ls="--", lw=1)
    # the axes hold what is above the floor of the log scale: the t where some curve has mass, its peak
    curves = np.vstack([kde, saw, uniform[None]])
    peak = float(np.nanmax(curves))
    floor = min(1e-2, 1e-3 * peak)
    mass = np.flatnonzero((np.nan_to_num(curves) >= floor).any(axis=0))
    if mass.size:
        lo, hi = t[mass[0]], t[mass[-1]]
        pad = 0.05 * max(hi - lo, 0.05)
        ax.set_xlim(max(t[0], lo - pad), min(t[-1], hi + pad))
    ax.set_yscale("log")
    ax.set_ylim(floor, peak * 2)
    ax.set_xlabel("t (cosine with the mean direction)")
    ax.set_ylabel("density")
    ax.set_title(f"{A.label(ds)}, {resolution}: density of t", fontsize=9)
    handles = [Line2D([], [], color=colors[k], label=f"k = {k}") for k in ks]
    handles += [Line2D([], [], color="0.3", label="KDE"), Line2D([], [], color="0.3", ls="--", lw=1,
                                                                   label="fitted Saw"),
                Patch(facecolor="0.6", alpha=0.5, label=f"uniform, d = {m.attrs['dimension']}")]
    ax.legend(handles=handles, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, frameon=False)

    sl = A.saw_linearity(ds, resolution)
    xs, ys = [], []
    for i, k in enumerate(ks):
        samples = A.t_samples(ds, k, resolution)
        lo, hi = np.quantile(samples, [0.01, 0.99])
        sel = (t >= lo) & (t <= hi)
        with np.errstate(divide="ignore"):
            x, y = np.log(saw[i][sel]), np.log(kde[i][sel])
        ok = np.isfinite(x) & np.isfinite(y)
        xs.append(x[ok])
        ys.append(y[ok])
        ax2.plot(x[ok], y[ok], ".", ms=3, color=colors[k],
                 label=f"k = {k}: slope {sl.loc[k, 'slope']:.2f}, R² {sl.loc[k, 'R²']:.2f}")
    ax2.axline((0, 0), slope=1, color="k", lw=0.8, ls=":", label="identity (the fit holds)")
    x, y = np.concatenate(xs or [[]]), np.concatenate(ys or [[]])
    if x.size:  # the finite range of the points: the identity line is clipped, never stretches the axes
        for lim, v in ((ax2.set_xlim, x), (ax2.set_ylim, y)):
            pad = 0.05 * max(float(v.max() - v.min()), 0.5)
            lim(float(v.min()) - pad, float(v.max()) + pad)
    ax2.set_xlabel("log fitted Saw density")
    ax2.set_ylabel("log p_k (KDE)")
    ax2.set_title("log KDE against the fitted log density (central 98 % of t)", fontsize=9)
    ax2.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False)
    fig.tight_layout()
    return fig


def tail_probability(pops: A.Populations):
    """Fig. 22: P(Z > p) for random directions of each dimension we use (black), beside the empirical P(t > p) of
    every population at its largest width (both resolutions): how far from chance the observed alignment is.
    Colour: the family; line style: the dataset (the same for its uniform baseline)."""
    main = list(A.main_populations(pops).values())
    resolutions = [str(r) for r in main[0]["resolution"].values]
    dsets = sorted({ds.attrs["dataset"] for ds in main})
    dash = {d: DATASET_LINESTYLES[i % len(DATASET_LINESTYLES)] for i, d in enumerate(dsets)}
    fig, axes = plt.subplots(1, len(resolutions), figsize=(4.4 * len(resolutions) + 2.6, 3.8), squeeze=False)
    p = np.linspace(0, 1, 201)
    for ax, res in zip(axes[0], resolutions):
        dims = {}
        for ds in main:
            dims.setdefault(ds.attrs["dataset"], A.dimension(ds, res))
        for d, dim in dims.items():
            ax.plot(p, A.uniform_tail(p, dim), color="k", ls=dash[d], lw=1)
        for ds in main:
            k = int(ds["width"].values.max())
            t = np.sort(A.t_samples(ds, k, res))
            ax.plot(t, 1 - np.arange(1, t.size + 1) / t.size, color=family_color(ds.attrs["family"]),
                    ls=dash[ds.attrs["dataset"]], lw=1.6)
        ax.set_yscale("log")
        ax.set_ylim(1e-4, 1.5)
        ax.set_xlabel("p")
        ax.set_ylabel("P(t > p)")
        ax.set_title(f"{res} (uniform: " + ", ".join(f"d = {dim} for {d}" for d, dim in dims.items()) + ")",
                     fontsize=9)
    fams = family_order(ds.attrs["family_label"] for ds in main)
    handles = family_handles(fams)
    handles += [Line2D([], [], color="0.3", ls=dash[d], label=d) for d in dsets]
    handles.append(Line2D([], [], color="k", lw=1, label="uniform direction"))
    ks = ", ".join(f"{ds.attrs['family_short']} · {ds.attrs['dataset']}: {int(ds['width'].values.max())}"
                   for ds in main)
    legend_outside(axes[0][-1], handles, title="family, dataset", fontsize=7)
    fig.text(0.01, 0.01, f"each population at its largest width k: {ks}", fontsize=7, color="0.3", va="bottom")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
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
    order = list(SOURCE_STYLES)
    for ax, ds in zip(axes, main):
        df = A.transfer_curves(ds)
        sns.lineplot(data=df, x="target k", y="alpha", hue="source", style="source", ax=ax, legend=False,
                     hue_order=order, style_order=order, palette={s: v["color"] for s, v in SOURCE_STYLES.items()},
                     markers={s: v["marker"] for s, v in SOURCE_STYLES.items()},
                     dashes={s: v["dashes"] for s, v in SOURCE_STYLES.items()}, markersize=6)
        ax.set_xscale("log", base=2)
        ax.set_xticks(ds["width"].values, [str(int(k)) for k in ds["width"].values])
        ax.minorticks_off()
        ax.set_title(A.label(ds), fontsize=9)
        ax.set_ylabel("α (lower: stronger)")
    if main:
        handles = [Line2D([], [], color=v["color"], marker=v["marker"], ls="--" if v["dashes"] else "-", label=s)
                   for s, v in SOURCE_STYLES.items()]
        fig.legend(handles=handles, title="attack source", loc="lower center", ncol=3, fontsize=8,
                   title_fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def loss_vs_t(df: pd.DataFrame):
    """Fig. 9: test loss against E[t]; marker size = ensemble members, colour = family."""
    datasets = sorted(df["dataset"].unique())
    fig, axes = _grid(len(datasets), 2, (5.6, 3.6))
    for ax, d in zip(axes, datasets):
        sub = df[df["dataset"] == d]
        fams = family_order(sub["family"])
        sns.scatterplot(data=sub, x="E[t]", y="test loss", hue="family", hue_order=fams, palette=family_colors(fams),
                        size="members", sizes=(15, 90), ax=ax, alpha=0.8)
        ax.set_title(d, fontsize=9)
        legend_outside(ax, fontsize=7)
    fig.tight_layout()
    return fig


def batch_effect(df: pd.DataFrame):
    """Fig. 18: p(k, k) and accuracy against k for each batch size."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for i, (ax, y) in enumerate(zip(axes, ("p(k,k)", "accuracy"))):
        sns.lineplot(data=df, x="k", y=y, hue="batch size", marker="o", ax=ax, palette=BATCH_CMAP, legend=i == 1)
        ax.set_xscale("log", base=2)
        ks = sorted(df["k"].unique())
        ax.set_xticks(ks, [str(int(k)) for k in ks])
        ax.minorticks_off()
    if len(df):
        legend_outside(axes[1], title="batch size")
    fig.suptitle(df["population"].iloc[0] if len(df) else "", fontsize=9)
    fig.tight_layout()
    return fig


def official_maps(ods: xr.Dataset):
    """The authors' models: ρ(k1, k2) as their saliency_similarity.py draws it (8×8, upper triangle), at full
    resolution beside, and the one-step attack's α(k_source, k_target)."""
    from sat_lib.analysis import salience_official as O

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
