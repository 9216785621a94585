"""Figures of the attacks chapter (SAT paper Fig. G.1a, Fig. G.2 and Table 1)."""
from __future__ import annotations

import json

import matplotlib.pyplot as plt
from matplotlib.ticker import NullFormatter
import numpy as np
import seaborn as sns
import xarray as xr

from sat_lib.analysis.sat_attacks import (SIDED, attack_estimates, attack_pairs, decisive_format, sided_estimates,
                                     sided_new, sided_zoo)
from sat_lib.claims import paper_claims
from sat_lib.plots import label_points


def _identity(ax) -> None:
    lo = min(ax.get_xlim()[0], ax.get_ylim()[0])
    hi = max(ax.get_xlim()[1], ax.get_ylim()[1])
    ax.plot([lo, hi], [lo, hi], color="0.6", lw=0.8, ls=":", label="y = x")


def pgd_vs_autoattack(ds: xr.Dataset, ours=None):
    """Fig. G.1a: every pair's SAT by AutoAttack against its SAT by PGD, least-squares line with a 90 % band. The
    title prints our Pearson r with its 95 % interval over models — ``ours``, the ``Estimate`` the chapter's
    table prints (``attack_estimates(...)["pearson"]``), or computed so — beside the paper's."""
    p = attack_pairs(ds)
    paper = paper_claims("sat-attacks")["claims"]["pgd_vs_autoattack"]["value"]
    if ours is None:
        ours = attack_estimates(ds)["pearson"]
    fig, ax = plt.subplots(figsize=(5.6, 4.6))
    sns.regplot(seed=0, data=p, x="pgd", y="autoattack", ci=90, color="C0", scatter_kws={"s": 22}, ax=ax)
    _identity(ax)
    ax.set_xlabel("SAT by PGD (log %)")
    ax.set_ylabel("SAT by AutoAttack (log %)")
    ax.legend(fontsize=8, frameon=False)
    ax.set_title(f"{ds.sizes['attacked']} models, {len(p)} pairs: Pearson r = "
                 f"{ours.text(decisive_format(paper, ours))} (95 % CI, {ours.unit})\n"
                 f"paper Fig. G.1a: r = {paper:.2f}", fontsize=10)
    fig.tight_layout()
    return fig


def one_vs_two_sided(ds: xr.Dataset, zoo: xr.Dataset, ours=None):
    """Fig. G.2: one-sided against two-sided SAT, for the zoo's ordered pairs and for (new model, zoo) pairs
    (coloured by the new model's architecture). Each panel's title prints our Pearson r with its 95 % interval —
    ``ours``, what ``sided_estimates`` returns for the chapter's table, or computed so — the suptitle the
    paper's."""
    z, n = sided_zoo(zoo), sided_new(ds)
    paper = paper_claims("sat-attacks")["claims"]["one_vs_two_sided"]["value"]
    if ours is None:
        ours = sided_estimates(ds, zoo)
    r = {what: f"r = {e.text(decisive_format(paper, e))} (95 % CI, {e.unit})" for what, e in ours.items()}
    n = n.assign(sibling=ds["new_arch"].sel(new=n["new"].to_numpy()).values)
    fig, axes = plt.subplots(1, 2, figsize=(11.5, 4.6), sharex=True, sharey=True)
    sns.regplot(seed=0, data=z, x="two_sided", y="one_sided", ci=90, color="C0", scatter_kws={"s": 10, "alpha": 0.6},
                ax=axes[0])
    axes[0].set_title(f"the zoo's {len(z)} ordered pairs\n{r[SIDED[0]]}", fontsize=10)
    sns.scatterplot(data=n, x="two_sided", y="one_sided", hue="sibling", s=14, alpha=0.7, ax=axes[1])
    sns.regplot(seed=0, data=n, x="two_sided", y="one_sided", ci=90, scatter=False, color="black", line_kws={"lw": 1},
                ax=axes[1])
    axes[1].set_title(f"{ds.sizes['new']} new models × {ds.sizes['model']} zoo models\n{r[SIDED[1]]}", fontsize=10)
    for ax in axes:
        _identity(ax)
        ax.set_xlabel("two-sided SAT, Eq. 1 (log %)")
        ax.set_ylabel("one-sided SAT: only the first model attacked (log %)")
    axes[1].legend(fontsize=7, frameon=False, title="new model's architecture", title_fontsize=7)
    fig.suptitle(f"One-sided against two-sided SAT, Pearson r (paper Fig. G.2: r = {paper:.2f})")
    fig.tight_layout()
    return fig


def stability(ds: xr.Dataset, zoo: xr.Dataset):
    """Table 1 as a figure: std over random sets against the inferences one score costs (the paper's count),
    SAT (image sets) and decision-region similarity (triplet sets), ours and the paper's."""
    mp, own = json.loads(zoo.attrs["params_json"]), json.loads(ds.attrs["params_json"])
    claims = paper_claims("sat-attacks")["claims"]["boundary_std"]["by_size"]
    sat_paper = paper_claims("sat-matrix")["claims"]["stability_std"]["by_size"]
    pool = mp.get("stability_pool")
    sizes = [n for n in zoo["size"].values if pool is None or n < pool]
    fig, ax = plt.subplots(figsize=(6.6, 4.4))
    ax.plot([n * 2 * (mp["steps"] + 1) for n in sizes],
            [np.std(zoo["stability_rate"].sel(size=n).values, ddof=1) for n in sizes], "o-", color="C0",
            label="SAT, ours (image sets)")
    ax.plot([t * 2 * own["resolution"] ** 2 for t in ds["tsize"].values],
            [np.std(ds["boundary_rate"].sel(tsize=t).values, ddof=1) for t in ds["tsize"].values], "s-", color="C3",
            label="decision regions, ours (triplet sets)")
    ax.plot([n * 2 * 51 for n in sat_paper], list(sat_paper.values()), "o--", color="C0", alpha=0.5,
            label="SAT, paper")
    ax.plot([t * 2 * 2500 for t in claims], list(claims.values()), "s--", color="C3", alpha=0.5,
            label="decision regions, paper (Somepalli et al.)")
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("inferences per score (the paper's count)")
    ax.set_ylabel("std over 10 random sets (pp)")
    ax.legend(fontsize=8, frameon=False)
    ax.set_title(f"Stability of two similarity scores of {ds.attrs['boundary_pair'].replace(',', ' and ')} "
                 "(paper Table 1)", fontsize=9)
    fig.tight_layout()
    return fig


def pgd_vs_patchfool(pds: xr.Dataset, ours=None):
    """Fig. G.1b: for every target, one-sided SAT of the source's Patch-Fool examples against SAT by PGD (both
    ways), least-squares line with a 90 % band as the paper draws it, each point named. The title prints our
    Pearson r with its 95 % interval over targets — ``ours`` (``patch_estimates(...)["pearson"]``), or computed
    so — beside the paper's."""
    from sat_lib.analysis.sat_patch import patch_estimates, patch_frame

    f = patch_frame(pds).reset_index()
    paper = paper_claims("sat-attacks")["claims"]["pgd_vs_patchfool"]["value"]
    if ours is None:
        ours = patch_estimates(pds)["pearson"]
    fig, ax = plt.subplots(figsize=(6.2, 4.8))
    sns.regplot(seed=0, data=f, x="SAT by PGD", y="one-sided SAT by Patch-Fool", ci=90, color="C0", scatter_kws={"s": 22},
                ax=ax)
    ax.set_xlabel(f"SAT by PGD with {pds.attrs['source']} (log %)")
    ax.set_ylabel(f"one-sided SAT by Patch-Fool from {pds.attrs['source']} (log %)")
    ax.set_title(f"{pds.attrs['source']} to {len(f)} models: Pearson r = {ours.text(decisive_format(paper, ours))} "
                 f"(95 % CI, {ours.unit})\npaper Fig. G.1b (ViT-S to 68 models): r = {paper:.2f}", fontsize=10)
    fig.tight_layout()
    label_points(ax, f["SAT by PGD"], f["one-sided SAT by Patch-Fool"], f["model"])
    return fig


def patch_examples(pds: xr.Dataset):
    """The kept clean images of the source above their Patch-Fool examples (the attacked patch is the only
    change), each titled by whether the source still classifies it correctly."""
    n = pds.sizes["example"]
    fig, axes = plt.subplots(2, max(n, 1), figsize=(1.5 * max(n, 1), 3.3), squeeze=False)
    for i in range(n):
        axes[0, i].imshow(pds["example_clean"].values[i])
        axes[1, i].imshow(pds["example_patch"].values[i])
        axes[1, i].set_title("fooled" if bool(pds["example_fooled"].values[i]) else "not fooled", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].set_ylabel("clean", fontsize=8)
    axes[1, 0].set_ylabel("Patch-Fool", fontsize=8)
    fig.suptitle(f"Patch-Fool on {pds.attrs['source']}: one patch replaced", fontsize=10)
    fig.tight_layout()
    return fig
