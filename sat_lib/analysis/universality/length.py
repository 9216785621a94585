"""The training-length section of the universality chapter (``sat_lib.experiments.universality_length``): its
table, the attack's convergence, and the effect of training length on the standard models' adversarial accuracy.

Adversarial accuracies are read on the first ``strong_images`` evaluation images, where all three attacks ran;
"worst case" counts an image as robust only when no attack fooled the model. Intervals resample architectures and
images together (two crossed units: ``sat_lib.stats.seeds_images``; the same images at every budget, so paired).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from sat_lib.stats import Estimate, seeds_images

UNIT = "architectures × images"
ATTACK_NAMES = {"pgd": "PGD (chapter)", "pgd_strong": "PGD, more steps, random start", "apgd_ce": "APGD-CE"}
# The attack counts as converged when the stronger attacks lower the adversarial accuracy by less than this (pp),
# at the upper end of the interval. The claims it gates are far larger: the standard models' adversarial accuracy
# against Table 4's (35.7 against 1.3 %: 34 pp) and the gain of adversarial training (about 20 pp), so an attack
# within 5 pp of its strongest version cannot change them; a gap this size would still be reported in the table.
CONVERGED_PP = 5.0


def strong(ls: xr.Dataset) -> xr.DataArray:
    """Per-image correctness (model, budget, attack, image) on the images every attack ran on, with the worst
    case over the attacks appended as attack ``worst``."""
    c = ls["correct"].isel(image=slice(0, int(ls.attrs["strong_images"])))
    worst = c.all("attack").expand_dims(attack=["worst"])
    return xr.concat([c, worst], dim="attack")


def length_table(ls: xr.Dataset) -> pd.DataFrame:
    """Per architecture and budget: epochs trained, clean accuracy (whole test split), the chapter attack's
    adversarial accuracy on every evaluation image, and each attack's and the worst case's on the strong subset
    (all in %)."""
    s = strong(ls)
    rows = []
    for m in ls["model"].values:
        for b in ls["budget"].values:
            if not np.isfinite(float(ls["accuracy"].sel(model=m, budget=b))):
                continue
            row = {"model": str(m), "epochs": int(ls["epochs"].sel(model=m, budget=b)),
                   "clean accuracy (%)": 100 * float(ls["accuracy"].sel(model=m, budget=b)),
                   f"PGD, {ls.sizes['image']} images (%)":
                       100 * float(ls["correct"].sel(model=m, budget=b, attack="pgd").mean())}
            for a in s["attack"].values:
                name = ATTACK_NAMES.get(str(a), "worst case")
                rows_a = s.sel(model=m, budget=b, attack=a)
                row[f"{name}, {s.sizes['image']} images (%)"] = 100 * float(rows_a.mean())
            row["training (s)"] = float(ls["train_seconds"].sel(model=m, budget=b))
            rows.append(row)
    return pd.DataFrame(rows).set_index(["model", "epochs"])


def attack_gap(ls: xr.Dataset, budget: int, n_boot: int = 2000, seed: int = 0) -> Estimate:
    """The chapter attack's adversarial accuracy minus the worst case of all three attacks (pp), mean over
    architectures at ``budget``: how much the stronger attacks add."""
    s = strong(ls).sel(budget=budget)
    gap = (s.sel(attack="pgd").astype(float) - s.sel(attack="worst").astype(float)).values  # (model, image)
    return seeds_images([gap], lambda a: 100 * float(a[0].mean()), n_boot, seed, unit=UNIT)


def training_effect(ls: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> Estimate:
    """Worst-case adversarial accuracy at the longest budget minus at the shortest (pp), mean over architectures,
    on the same images."""
    s = strong(ls).sel(attack="worst").astype(float)
    budgets = sorted(int(b) for b in ls["budget"].values)
    diff = (s.sel(budget=budgets[-1]) - s.sel(budget=budgets[0])).values
    return seeds_images([diff], lambda a: 100 * float(a[0].mean()), n_boot, seed, unit=UNIT)


def progress_text(ls: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> str:
    """How far the grid is computed, the attack's gap at each complete budget and, once every model is in, the
    effect of training length — each with its interval."""
    done = int(np.isfinite(ls["accuracy"].values).sum())
    planned = int(ls["accuracy"].size)
    parts = [f"**{done} of {planned} models computed**" + ("." if done == planned else
             " so far: the others are computed by the next `sat-companion run universality`, which resumes from "
             "the stored models.")]
    gaps = []
    for b in ls["budget"].values:
        if np.isfinite(ls["accuracy"].sel(budget=b).values).all():
            gaps.append(f"{int(b)} epochs {attack_gap(ls, int(b), n_boot, seed).text('.1f')}")
    if gaps:
        parts.append("The stronger attacks lower the adversarial accuracy (chapter's PGD minus worst case, pp, mean "
                     "over architectures, " + UNIT + " resampled): " + "; ".join(gaps) + ".")
    if complete(ls):
        budgets = sorted(int(b) for b in ls["budget"].values)
        parts.append(f"Worst-case adversarial accuracy, {budgets[-1]} epochs minus {budgets[0]}: "
                     f"{training_effect(ls, n_boot, seed).text('.1f')} pp.")
    return " ".join(parts)


def question_text(ds: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> str:
    """The question the section answers, in the chapter's own numbers: its standard models' clean and adversarial
    accuracy (mean over architectures, interval over them) and epochs, beside Table 4's standard models and the
    paper's training length."""
    from sat_lib.analysis.universality.claims import standard_adversarial_accuracy
    from sat_lib.analysis.universality.core import accuracy_estimate, members, paper_accuracy
    from sat_lib.claims import paper_claims

    paper = paper_claims("universality")
    eval_eps0 = float(paper["table4"]["eval_eps0"])
    if 0.0 not in [float(e) for e in ds["eps"].values]:
        return ("The chapter trained no standard (ε = 0) models at these parameters; the section below trains them "
                "for several budgets and attacks them as Table 4 does.")
    adv = standard_adversarial_accuracy(ds, n_boot, seed)
    clean = accuracy_estimate(ds, "accuracy", 0.0, "full", n_boot, seed)
    epochs = sorted({int(e) for e in ds["epochs"].sel(setting="full", eps=0.0, model=members(ds, "full")).values})
    span = f"{epochs[0]}" if len(epochs) == 1 else f"{epochs[0]}–{epochs[-1]}"
    kept = (f"keep {adv.text('.1f')} % accuracy under the L2 attack at ε = {eval_eps0:g}" if np.isfinite(adv.value)
            else "were not attacked at Table 4's radius for standard models")
    return (f"The chapter's standard models ({clean.text('.1f')} % clean accuracy, mean over architectures) {kept}, "
            f"where the paper's keep {paper_accuracy(0.0).mean():.1f} % (Table 4). Two explanations compete: "
            f"the attack is too weak, or the models, trained for {span} epochs where the paper trains about "
            f"{int(paper['training']['epochs'])}, are not the paper's kind of model.")


def complete(ls: xr.Dataset | None) -> bool:
    """Whether the section's result exists with every (architecture, budget) model in it."""
    return ls is not None and bool(np.isfinite(ls["accuracy"].values).all())


__all__ = ["ATTACK_NAMES", "CONVERGED_PP", "UNIT", "attack_gap", "complete", "length_table", "progress_text",
           "question_text", "strong", "training_effect"]
