"""Figures of the universality chapter (robustness-and-universality paper, Figs. 1–7 and Table 4)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import xarray as xr

from sat_lib.analysis import universality as A

SETTING_LABELS = {"full": "CIFAR-10 (all classes)", "subset": "fewer classes", "ood": "OOD seeds and targets"}
IMAGES_COLORS = {"regular": "#4c72b0", "inverted": "#dd8452"}


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


def _boxes(ax, frame: pd.DataFrame, color: str, eps: list[float]) -> None:
    sns.boxplot(data=frame, x="eps", y="value", order=eps, color=color, width=0.5, fliersize=0,
                boxprops={"alpha": 0.55}, ax=ax)
    sns.stripplot(data=frame, x="eps", y="value", order=eps, color="0.2", size=3.5, jitter=0.12, ax=ax)
    ax.set_xticks(range(len(eps)), [_eps_label(e) for e in eps])
    ax.set_xlabel("")


def regular(ds: xr.Dataset):
    """Fig. 1: agreement (A) and JSDSim (B) of every pair on the regular test images, per ε; the red markers are
    each pair's Fort et al. upper bound on agreement, 1 − |acc_A − acc_B|, with its pairs' mean as a line."""
    eps = [float(e) for e in ds["eps"].values]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for ax, measure in zip(axes, ("agreement", "jsd")):
        _boxes(ax, A.pairs_long(ds, "full", "regular", measure), IMAGES_COLORS["regular"], eps)
        ax.set_ylabel(A.LABELS[measure])
    for x, e in enumerate(eps):
        _, hi = A.fort_bounds(ds, "full", e)
        vals = A.pair_values(hi)
        axes[0].scatter(np.full(len(vals), x + 0.32), vals, marker="_", color="C3", s=60,
                        label="Fort upper bound" if x == 0 else None)
    axes[0].legend(fontsize=8, frameon=False, loc="best")
    axes[0].set_title("A: agreement on regular images", fontsize=10)
    axes[1].set_title("B: JSDSim on regular images", fontsize=10)
    fig.suptitle("Predictions on regular test images, all pairs within one ε (paper Fig. 1)")
    fig.tight_layout()
    return fig


def inverted_predictions(ds: xr.Dataset):
    """Fig. 3: agreement and JSDSim of every pair on inverted images (each pair on both members' images)."""
    eps = [float(e) for e in ds["eps"].values]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for ax, measure, letter in zip(axes, ("agreement", "jsd"), "AB"):
        _boxes(ax, A.pairs_long(ds, "full", "inverted", measure), IMAGES_COLORS["inverted"], eps)
        ax.set_ylabel(A.LABELS[measure])
        ax.set_title(f"{letter}: {A.LABELS[measure]} on inverted images", fontsize=10)
    fig.suptitle("Predictions on inverted images, all pairs within one ε (paper Fig. 3)")
    fig.tight_layout()
    return fig


def representations(ds: xr.Dataset, settings: tuple[str, ...] = ("full",), title: str = "paper Fig. 4"):
    """Figs. 4–6: linear CKA, ProcrustesSim and k-NN Jaccard (the first k) of penultimate representations on
    inverted images, boxes per ε, one colour per setting (Fig. 5: fewer classes, Fig. 6: OOD images)."""
    eps = [float(e) for e in ds["eps"].values]
    k = int(ds["k"].values[0])
    settings = tuple(s for s in settings if s in set(ds["setting"].values))
    frames = []
    for s in settings:
        for m in ("cka", "procrustes", "jaccard"):
            f = A.pairs_long(ds, s, "inverted", m, k if m == "jaccard" else None)
            frames.append(f.assign(setting=SETTING_LABELS[s], measure=m))
    data = pd.concat(frames, ignore_index=True)
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.9))
    palette = dict(zip([SETTING_LABELS[s] for s in settings], sns.color_palette("Set2", len(settings))))
    for ax, m in zip(axes, ("cka", "procrustes", "jaccard")):
        sub = data[data["measure"] == m]
        sns.boxplot(data=sub, x="eps", y="value", hue="setting", order=eps, palette=palette, width=0.6,
                    fliersize=0, boxprops={"alpha": 0.7}, ax=ax)
        sns.stripplot(data=sub, x="eps", y="value", hue="setting", order=eps, palette=["0.25"] * len(settings),
                      dodge=True, size=3, jitter=0.08, ax=ax, legend=False)
        ax.set_xticks(range(len(eps)), [_eps_label(e) for e in eps])
        ax.set_xlabel("")
        ax.set_ylabel(A.LABELS[m] + (f" (k = {k})" if m == "jaccard" else ""))
        if len(settings) == 1:
            ax.get_legend().remove()
        else:
            ax.legend(fontsize=7, frameon=False)
    fig.suptitle(f"Representations on inverted images, all pairs within one ε ({title})")
    fig.tight_layout()
    return fig


def jaccard_k(ds: xr.Dataset):
    """Fig. 7: k-NN Jaccard on inverted images at every k, per ε; dotted: the chance level of unrelated
    neighbourhoods among the inverted images (it grows with k / n)."""
    eps = [float(e) for e in ds["eps"].values]
    ks = [int(k) for k in ds["k"].values]
    n = int(np.isfinite(ds["final_distance_per_image"].sel(setting="full")).any(("eps", "model")).sum())
    fig, axes = plt.subplots(1, len(ks), figsize=(4.2 * len(ks), 3.7), squeeze=False)
    for ax, k in zip(axes[0], ks):
        f = A.pairs_long(ds, "full", "inverted", "jaccard", k)
        if f.empty:
            ax.set_visible(False)
            continue
        _boxes(ax, f, IMAGES_COLORS["inverted"], eps)
        ax.axhline(A.chance_jaccard(n, k), color="0.3", ls=":", lw=1, label="chance")
        ax.set_title(f"k = {k} (of {n} images)", fontsize=10)
        ax.set_ylabel("k-NN Jaccard")
        ax.legend(fontsize=7, frameon=False)
    fig.suptitle("k-NN Jaccard on inverted images at several neighbourhood sizes (paper Fig. 7)")
    fig.tight_layout()
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
