"""Figures of the universality chapter (robustness-and-universality paper, Figs. 1–7 and Table 4)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import xarray as xr
from matplotlib.colors import to_rgba
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from sat_lib.analysis import universality as A

SETTING_LABELS = {"full": "CIFAR-10 (all classes)", "subset": "fewer classes", "ood": "OOD seeds and targets"}
IMAGES_COLORS = {"regular": "#4c72b0", "inverted": "#dd8452"}
CI_COLOR = "0.1"
CI_LABEL = "mean of the pairs, 95 % bootstrap interval (architectures resampled)"


def arch_colors(ds: xr.Dataset) -> dict[str, tuple]:
    """One colour per architecture of the chapter (several share a family here, so not the family palette)."""
    names = [str(m) for m in ds["model"].values]
    return dict(zip(names, sns.color_palette("tab10", len(names))))


def _eps_label(e: float) -> str:
    return f"ε = {e:g}"


def accuracy(ds: xr.Dataset, setting: str = "full"):
    """Table 4 as a figure: clean and adversarial accuracy per ε and architecture (lines), beside the paper's
    seven CNNs (grey band: their range, dashed: their mean). ε = 0 models are attacked at ε = 0.25, as the paper."""
    paper = A.paper_table4()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.0), sharey=True)
    eps = [float(e) for e in ds["eps"].values]
    for ax, (var, col, title) in zip(axes, (("accuracy", "accuracy (%)", "clean test accuracy"),
                                            ("adv_accuracy", "adversarial accuracy (%)",
                                             "L2 PGD accuracy at the model's ε (ε = 0: at 0.25)"))):
        p = paper[col].groupby(level="eps")
        ax.fill_between(p.min().index, p.min().values, p.max().values, color="0.88", label="paper: 7 CNNs (range)")
        ax.plot(p.mean().index, p.mean().values, color="0.45", ls="--", label="paper: mean")
        colors = arch_colors(ds)
        for m in A.members(ds, setting):
            ax.plot(eps, 100 * ds[var].sel(setting=setting, model=m).values, marker="o", color=colors[m],
                    label=m)
        ax.set_xticks(eps)
        ax.set_xlabel("adversarial-training ε (L2)")
        ax.set_title(title, fontsize=10)
    axes[0].set_ylabel("%")
    axes[1].legend(fontsize=7, frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle(f"Accuracy of the models ({SETTING_LABELS[setting]}) beside the paper's Table 4")
    fig.tight_layout()
    return fig


def _position(eps: list[float], e: float) -> int:
    return int(np.flatnonzero(np.isclose(eps, float(e)))[0])


def _boxes(ax, groups: list[tuple[str, pd.DataFrame, pd.DataFrame | None]], eps: list[float], width: float = 0.5,
           seed: int = 0) -> None:
    """Box plots of pair values per ε, one box per group (a colour, its pairs ``A.pairs_long`` and their
    estimates ``A.pair_estimates``) side by side: a dot per pair, and beside each box the pairs' mean with its
    95 % bootstrap interval over architectures — the numbers of the summary table."""
    n = len(groups)
    bw = width / n
    rng = np.random.default_rng(seed)
    for i, (color, frame, est) in enumerate(groups):
        offset = (i - (n - 1) / 2) * bw
        data, pos = [], []
        for x, e in enumerate(eps):
            v = frame.loc[np.isclose(frame["eps"], e), "value"].to_numpy(float) if len(frame) else np.array([])
            if len(v):
                data.append(v)
                pos.append(x + offset)
        if data:
            ax.boxplot(data, positions=pos, widths=0.9 * bw, patch_artist=True, showfliers=False, manage_ticks=False,
                       boxprops={"facecolor": to_rgba(color, 0.55), "edgecolor": "0.35"},
                       medianprops={"color": "0.25"}, whiskerprops={"color": "0.35"}, capprops={"color": "0.35"})
            for x, v in zip(pos, data):
                ax.scatter(x + rng.uniform(-0.2, 0.2, len(v)) * bw, v, s=9, color="0.25", linewidths=0, zorder=3)
        if est is not None and len(est):
            x = np.array([_position(eps, e) for e in est["eps"]]) + offset + 0.4 * bw
            y = est["mean"].to_numpy(float)
            err = np.nan_to_num(np.vstack([y - est["low"].to_numpy(float), est["high"].to_numpy(float) - y]))
            ax.errorbar(x, y, yerr=err, fmt="D", color=CI_COLOR, ms=4.5, mec="white", mew=0.6, capsize=2.5,
                        lw=1.3, zorder=5)
    ax.set_xticks(range(len(eps)), [_eps_label(e) for e in eps])
    ax.set_xlim(-0.5, len(eps) - 0.5)
    ax.set_xlabel("")


def _ci_handle() -> Line2D:
    return Line2D([], [], color=CI_COLOR, marker="D", ms=4.5, mec="white", lw=1.3, label=CI_LABEL)


def _legend_below(fig, handles: list) -> None:
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 3), fontsize=8, frameon=False)


def regular(ds: xr.Dataset, n_boot: int = 2000, seed: int = 0):
    """Fig. 1: agreement (A) and JSDSim (B) of every pair on the regular test images, per ε, with the pairs' mean
    and its 95 % interval; the red markers left of each box are each pair's Fort et al. upper bound on agreement,
    1 − |acc_A − acc_B|, with the pairs' mean bound as a red line."""
    eps = [float(e) for e in ds["eps"].values]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.3), layout="constrained")
    for ax, measure in zip(axes, ("agreement", "jsd")):
        _boxes(ax, [(IMAGES_COLORS["regular"], A.pairs_long(ds, "full", "regular", measure),
                     A.pair_estimates(ds, "full", "regular", measure, None, n_boot, seed))], eps)
        ax.set_ylabel(A.LABELS[measure])
    for x, e in enumerate(eps):
        _, hi = A.fort_bounds(ds, "full", e)
        vals = A.pair_values(hi)
        vals = vals[np.isfinite(vals)]
        axes[0].scatter(np.full(len(vals), x - 0.34), vals, marker="_", color="C3", s=60, zorder=4)
        if len(vals):
            axes[0].hlines(vals.mean(), x - 0.46, x - 0.22, color="C3", lw=1.6, zorder=4)
    axes[0].set_title("A: agreement on regular images", fontsize=10)
    axes[1].set_title("B: JSDSim on regular images", fontsize=10)
    fort = [Line2D([], [], color="C3", marker="_", ls="none", ms=9, label="Fort upper bound of a pair"),
            Line2D([], [], color="C3", lw=1.6, label="Fort upper bound, mean of the pairs")]
    _legend_below(fig, [_ci_handle(), *fort])
    fig.suptitle("Predictions on regular test images, all pairs within one ε (paper Fig. 1)")
    return fig


def inverted_predictions(ds: xr.Dataset, n_boot: int = 2000, seed: int = 0):
    """Fig. 3: agreement and JSDSim of every pair on inverted images (each pair on both members' images), with the
    pairs' mean and its 95 % interval."""
    eps = [float(e) for e in ds["eps"].values]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.1), layout="constrained")
    for ax, measure, letter in zip(axes, ("agreement", "jsd"), "AB"):
        _boxes(ax, [(IMAGES_COLORS["inverted"], A.pairs_long(ds, "full", "inverted", measure),
                     A.pair_estimates(ds, "full", "inverted", measure, None, n_boot, seed))], eps)
        ax.set_ylabel(A.LABELS[measure])
        ax.set_title(f"{letter}: {A.LABELS[measure]} on inverted images", fontsize=10)
    _legend_below(fig, [_ci_handle()])
    fig.suptitle("Predictions on inverted images, all pairs within one ε (paper Fig. 3)")
    return fig


def representations(ds: xr.Dataset, settings: tuple[str, ...] = ("full",), title: str = "paper Fig. 4",
                    n_boot: int = 2000, seed: int = 0):
    """Figs. 4–6: linear CKA, ProcrustesSim and k-NN Jaccard (the first k) of penultimate representations on
    inverted images, boxes per ε, one colour per setting (Fig. 5: fewer classes, Fig. 6: OOD images), each with
    the pairs' mean and its 95 % interval."""
    eps = [float(e) for e in ds["eps"].values]
    k = int(ds["k"].values[0])
    settings = tuple(s for s in settings if s in set(ds["setting"].values))
    palette = dict(zip(settings, sns.color_palette("Set2", len(settings))))
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.3), layout="constrained")
    for ax, m in zip(axes, ("cka", "procrustes", "jaccard")):
        kk = k if m == "jaccard" else None
        _boxes(ax, [(palette[s], A.pairs_long(ds, s, "inverted", m, kk),
                     A.pair_estimates(ds, s, "inverted", m, kk, n_boot, seed)) for s in settings], eps, width=0.6)
        ax.set_ylabel(A.LABELS[m] + (f" (k = {k})" if m == "jaccard" else ""))
    handles = [_ci_handle()]
    if len(settings) > 1:
        handles += [Patch(facecolor=to_rgba(palette[s], 0.55), edgecolor="0.35",
                          label=f"{SETTING_LABELS[s]} ({len(A.members(ds, s))} architectures)") for s in settings]
    _legend_below(fig, handles)
    fig.suptitle(f"Representations on inverted images, all pairs within one ε ({title})")
    return fig


def jaccard_k(ds: xr.Dataset, n_boot: int = 2000, seed: int = 0):
    """Fig. 7: k-NN Jaccard on inverted images at every k, per ε, with the pairs' mean and its 95 % interval;
    dotted: the chance level of unrelated neighbourhoods among the inverted images (it grows with k / n)."""
    eps = [float(e) for e in ds["eps"].values]
    ks = [int(k) for k in ds["k"].values]
    n = int(np.isfinite(ds["final_distance_per_image"].sel(setting="full")).any(("eps", "model")).sum())
    fig, axes = plt.subplots(1, len(ks), figsize=(4.2 * len(ks), 4.1), squeeze=False, layout="constrained")
    for ax, k in zip(axes[0], ks):
        f = A.pairs_long(ds, "full", "inverted", "jaccard", k)
        if f.empty:
            ax.set_visible(False)
            continue
        _boxes(ax, [(IMAGES_COLORS["inverted"], f, A.pair_estimates(ds, "full", "inverted", "jaccard", k, n_boot,
                                                                    seed))], eps)
        ax.axhline(A.chance_jaccard(n, k), color="0.3", ls=":", lw=1)
        ax.set_title(f"k = {k} (of {n} images)", fontsize=10)
        ax.set_ylabel("k-NN Jaccard")
    chance = Line2D([], [], color="0.3", ls=":", lw=1, label="chance overlap of unrelated neighbourhoods")
    _legend_below(fig, [_ci_handle(), chance])
    fig.suptitle("k-NN Jaccard on inverted images at several neighbourhood sizes (paper Fig. 7)")
    return fig


def examples(ds: xr.Dataset, archs: tuple[str, ...] | None = None, setting: str = "full", example: int = 0):
    """Fig. 2: seed, target and inverted image of a standard (ε = 0) and the most robust model of two
    architectures (rows), the same seed and target for every model."""
    eps = [float(e) for e in ds["eps"].values]
    archs = archs or tuple(A.members(ds, "full")[:2])
    picks = [(a, e) for a in archs for e in (eps[0], eps[-1])]
    fig, axes = plt.subplots(len(picks), 3, figsize=(5.4, 1.9 * len(picks)))
    for row, (a, e) in enumerate(picks):
        sel = dict(example_setting=setting, eps=e, model=a, example=example)
        for col, part in enumerate(("seed", "target", "inverted")):
            img = ds[f"example_{part}"].sel(**sel).values.transpose(1, 2, 0)
            ax = axes[row, col]
            ax.imshow(img.squeeze(), cmap="gray" if img.shape[-1] == 1 else None, vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(part, fontsize=10)
            if col == 0:
                ax.set_ylabel(f"{a}\n{_eps_label(e)}", fontsize=8)
    fig.suptitle(f"Image inversion, {SETTING_LABELS[setting]} (paper Fig. 2)", fontsize=10)
    fig.tight_layout()
    return fig


def inversion_distance(ds: xr.Dataset):
    """Eq. 7's objective after inversion, per image: the relative representation distance each model reached,
    by ε (boxes over the images of all models), per setting."""
    rows = []
    for s in ds["setting"].values:
        d = ds["final_distance_per_image"].sel(setting=s)
        for e in ds["eps"].values:
            v = d.sel(eps=e).values.ravel()
            v = v[np.isfinite(v)]
            rows.append(pd.DataFrame({"eps": float(e), "value": v, "setting": SETTING_LABELS[str(s)]}))
    data = pd.concat(rows, ignore_index=True)
    eps = [float(e) for e in ds["eps"].values]
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    sns.boxplot(data=data, x="eps", y="value", hue="setting", order=eps, fliersize=1, width=0.6, ax=ax,
                palette="Set2")
    ax.set_xticks(range(len(eps)), [_eps_label(e) for e in eps])
    ax.set_xlabel("")
    ax.set_ylabel("‖f(s̃) − f(x)‖ / ‖f(x)‖ after inversion")
    ax.legend(fontsize=7, frameon=False)
    ax.set_title("How close the inverted images came to their targets' representations (Eq. 7)", fontsize=10)
    fig.tight_layout()
    return fig
