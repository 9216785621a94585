"""Figures of the distillation chapter (SAT paper Fig. 8 a/b/c and F.1)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import xarray as xr

from sat_lib.analysis.sat_distillation import GROUPS, frame, group
from sat_lib.claims import paper_claims
from sat_lib.plots import label_points, legend_outside

PAPER_KEYS = {GROUPS[0]: "pearson_all", GROUPS[1]: "pearson_same_kind", GROUPS[2]: "pearson_other_kind"}


def _reference(ax, ds: xr.Dataset, seed_accuracies: np.ndarray | None) -> None:
    """The student trained without a teacher (dashed line) and its seed copies' range (grey band)."""
    if seed_accuracies is not None and len(seed_accuracies) >= 2:
        acc = 100 * np.asarray(seed_accuracies, float)
        ax.axhspan(acc.min(), acc.max(), color="0.85", zorder=0, label="no teacher, other seeds (range)")
    ax.axhline(100 * float(ds.attrs["student_alone_accuracy"]), color="0.4", ls="--", lw=1,
               label="no teacher (the zoo's student)")


def fig8(ds: xr.Dataset, seed_accuracies: np.ndarray | None = None):
    """Fig. 8: student accuracy against teacher–student SAT, for all teachers, those of the student's kind and
    the rest; least-squares line with its 90 % band as the paper draws it, the paper's r in each title."""
    f = frame(ds)
    claims = paper_claims("sat-distillation")["claims"]
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 4.2), sharey=True)
    for ax, name in zip(axes, GROUPS):
        g = group(f, name)
        _reference(ax, ds, seed_accuracies)
        if len(g) >= 3:
            sns.regplot(seed=0, data=g, x="sat", y="student_accuracy", ci=90, color="C0", scatter_kws={"s": 22}, ax=ax)
        else:
            ax.scatter(g["sat"], g["student_accuracy"], s=22, color="C0")
        ax.set_title(f"{name} (n = {len(g)}; paper r = {claims[PAPER_KEYS[name]]['value']:.2f})", fontsize=9)
        ax.set_xlabel(f"SAT of the teacher and {ds.attrs['student']} (log %)")
        ax.set_ylabel("student test accuracy (%)")
    handles, labels = axes[0].get_legend_handles_labels()   # below the panels: it covers no point or name
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    fig.suptitle(f"{ds.attrs['student']} distilled from each teacher: accuracy against similarity (paper Fig. 8)")
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    for ax, name in zip(axes, GROUPS):
        g = group(f, name)
        label_points(ax, g["sat"], g["student_accuracy"], g.index)
    return fig


def f1(ds: xr.Dataset, seed_accuracies: np.ndarray | None = None):
    """Fig. F.1: student accuracy against teacher accuracy (teachers of the student's kind in colour)."""
    f = frame(ds)
    fig, ax = plt.subplots(figsize=(6.2, 4.4))
    _reference(ax, ds, seed_accuracies)
    sns.regplot(seed=0, data=f, x="teacher_accuracy", y="student_accuracy", ci=90, scatter=False, color="black",
                line_kws={"lw": 1.2}, ax=ax)
    for kind, color, label in ((True, "C1", GROUPS[1]), (False, "C0", GROUPS[2])):
        sub = f[f["student_kind"] == kind]
        ax.scatter(sub["teacher_accuracy"], sub["student_accuracy"], s=22, color=color, label=label, zorder=3)
    ax.set_xlabel("teacher test accuracy (%)")
    ax.set_ylabel("student test accuracy (%)")
    legend_outside(ax, fontsize=7)
    ax.set_title(f"Teacher accuracy and distillation (paper Fig. F.1: r = "
                 f"{paper_claims('sat-distillation')['claims']['teacher_accuracy']['value']:.3f})", fontsize=10)
    fig.tight_layout()
    return fig
