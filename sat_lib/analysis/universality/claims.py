"""The universality chapter's claims table beside the paper's, and the Checks its claims rest on.

Every row is decided by ``sat_lib.claims.verdict.claim_row`` from the claims file's entry (its kind, margin and
reason); ``checks`` returns the gates, computed from the stored result only. Intervals resample architectures:
the stored result keeps each pair's score, not its per-image values, so images cannot be resampled from it.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import xarray as xr

from sat_lib.analysis.universality import length as L
from sat_lib.analysis.universality.core import (UNIT, accuracy_estimate, at_effect, fort_bounds, mean_estimate,
                                               members, ood_difference, pair_matrix, paper_accuracy,
                                               robustness_change)
from sat_lib.claims import paper_claims, scored_claims
from sat_lib.claims.verdict import Gate, chance_gate, claim_row
from sat_lib.data import num_classes
from sat_lib.stats import Estimate, resample

# claims read on regular test images (Fig. 1) and on the models' adversarial accuracy (Table 4)
REGULAR_CLAIMS = ("regular_agreement_drops", "regular_jsd_spread_grows", "regular_agreement_comparable",
                  "regular_jsd_comparable")
ATTACK_CLAIMS = ("at_raises_adversarial_accuracy", "standard_adversarial_accuracy",
                 "standard_adversarial_falls_with_training")
CONFIDENCE_CLAIMS = ("inverted_jsd_rises",)   # agreement (the argmax) does not depend on output confidence


# ------------------------------------------------------------------------------------------ helpers

def _nan() -> Estimate:
    return Estimate(math.nan, math.nan, math.nan, UNIT, 0)


def params(ds: xr.Dataset) -> dict:
    """The parameters the stored result was computed with."""
    return json.loads(ds.attrs["params_json"])


def with_table4_value(claim: dict) -> dict:
    """A claim whose paper value is the mean of a Table 4 column at one ε (``value_from_table4``): the claim with
    its statement's numbers filled in from the table, after checking that the entry's ``value`` and
    ``paper_uncertainty`` are that column's mean and range (a ``ValueError`` names the mismatch)."""
    src = claim.get("value_from_table4")
    if src is None:
        return claim
    p = paper_accuracy(float(src["eps"]), src["column"])
    if "value" in claim and abs(float(claim["value"]) - p.mean()) > 5e-4:
        raise ValueError(f"claims file: value {claim['value']} is not Table 4's mean {p.mean():.4f}")
    rng = (claim.get("paper_uncertainty") or {}).get("interval")
    if rng is not None and not np.allclose(rng, [p.min(), p.max()]):
        raise ValueError(f"claims file: paper_uncertainty {rng} is not Table 4's range [{p.min()}, {p.max()}]")
    eval_eps0 = paper_claims("universality")["table4"]["eval_eps0"]
    return {**claim, "value": float(p.mean()),
            "statement": claim["statement"].format(mean=p.mean(), min=p.min(), max=p.max(), eval_eps0=eval_eps0)}


def standard_adversarial_accuracy(ds: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> Estimate:
    """Our standard (ε = 0) models' mean adversarial accuracy (%) with its interval over architectures — only when
    they were attacked at Table 4's radius for standard models (otherwise no comparable number: NaN)."""
    eval_eps0 = float(paper_claims("universality")["table4"]["eval_eps0"])
    if 0.0 not in [float(e) for e in ds["eps"].values]:
        return _nan()
    attacked = ds["adversarial_eval_eps"].sel(setting="full", eps=0.0, model=members(ds, "full")).values
    if not np.allclose(attacked, eval_eps0):
        return _nan()
    return accuracy_estimate(ds, "adv_accuracy", 0.0, "full", n_boot, seed)


def pair_spread(matrix: np.ndarray, idx: np.ndarray) -> float:
    """Standard deviation of ``matrix`` over the pairs of two different architectures among the drawn indices
    ``idx`` (a pair drawn twice counts twice); NaN with fewer than two such pairs."""
    a, b = np.triu_indices(len(idx), 1)
    i, j = idx[a], idx[b]
    keep = i != j
    v = matrix[i[keep], j[keep]]
    v = v[np.isfinite(v)]
    return float(np.std(v, ddof=1)) if len(v) > 1 else math.nan


def spread_change(ds: xr.Dataset, setting: str, measure: str, images: str = "regular", n_boot: int = 2000,
                  seed: int = 0) -> Estimate:
    """The pairs' spread (``pair_spread``) at the largest ε minus at ε = 0, the same drawn architectures at both
    (Fig. 1B's "increasing variance", read as a standard deviation on the measure's own scale)."""
    eps = sorted(float(e) for e in ds["eps"].values)
    top, _ = pair_matrix(ds, setting, eps[-1], measure, images)
    base, _ = pair_matrix(ds, setting, eps[0], measure, images)
    return resample(lambda idx: pair_spread(top, idx) - pair_spread(base, idx), len(top), unit=UNIT,
                    n_resamples=n_boot, seed=seed)


# ------------------------------------------------------------------------------------------ checks

def n_classes(ds: xr.Dataset, setting: str) -> int | None:
    """The classes a setting's models were trained on (the ``ood`` setting reuses the full models)."""
    if setting == "subset":
        return len(json.loads(ds.attrs.get("subset_class_names", "[]"))) or None
    return num_classes(str(params(ds).get("dataset", "")))


def accuracy_gate(ds: xr.Dataset, setting: str, claims: tuple[str, ...]) -> Gate:
    """Every model of ``setting`` at every ε above twice chance clean accuracy (``chance_gate``)."""
    names = members(ds, setting)
    acc = ds["accuracy"].sel(setting=setting, model=names)
    values = {f"{m} at ε = {float(e):g}": float(acc.sel(model=m, eps=e)) for m in names for e in acc["eps"].values}
    return chance_gate(values, n_classes(ds, setting) or 0, f"{setting} model", claims)


def fort_gate(ds: xr.Dataset, tol: float = 1e-3) -> Gate:
    """The stored regular-image agreements lie within Fort et al.'s bounds from the two accuracies — an identity
    (agreement ≤ 1 − |acc_A − acc_B|), so a failure means the stored scores are inconsistent, not a finding; the
    detail gives the gap below the upper bound the paper calls 'much lower than the theoretical maximum'."""
    eps = sorted(float(e) for e in ds["eps"].values)
    n_in = n_all = 0
    for e in eps:
        agree, _ = pair_matrix(ds, "full", e, "agreement", "regular")
        lo, hi = fort_bounds(ds, "full", e)
        ok = np.isfinite(agree)
        n_all += int(ok.sum())
        n_in += int(((agree[ok] >= lo[ok] - tol) & (agree[ok] <= hi[ok] + tol)).sum())
    agree, _ = pair_matrix(ds, "full", eps[-1], "agreement", "regular")
    gap = mean_estimate(fort_bounds(ds, "full", eps[-1])[1] - agree)
    detail = (f"{n_in // 2} of {n_all // 2} (pair, ε) agreements within their bounds (an identity: a check of the "
              f"stored scores); at ε = {eps[-1]:g} agreement lies {gap.text('.3f')} below the upper bound, mean "
              f"over pairs (the paper: 'much lower than the theoretical maximum')")
    return Gate("regular-image agreement within Fort et al.'s bounds", n_in == n_all, detail, REGULAR_CLAIMS)


def attack_gate(ds: xr.Dataset, length: xr.Dataset | None) -> Gate:
    """Whether the evaluation attack converged: on the chapter's own standard models (the training-length
    section's models at the chapter's budget, the same weights), the chapter's PGD against 100-step PGD with a
    random start and APGD-CE (the worst case of the three) — passes when the gap's interval lies below
    ``length.CONVERGED_PP``."""
    name = "evaluation attack converged (the chapter's PGD against more steps and APGD-CE, ε = 0.25)"
    budget = int(params(ds).get("epochs", -1))
    if length is None or budget not in [int(b) for b in length["budget"].values] \
            or not np.isfinite(length["accuracy"].sel(budget=budget).values).all():
        return Gate(name, None, f"not computed yet: the training-length section has no complete {budget}-epoch "
                                "budget (sat-companion run universality computes it)", ATTACK_CLAIMS)
    gap = L.attack_gap(length, budget)
    detail = (f"the stronger attacks lower the standard models' adversarial accuracy by {gap.text('.1f')} pp "
              f"(mean over architectures, first {int(length.attrs['strong_images'])} evaluation images; converged "
              f"when the interval lies below {L.CONVERGED_PP:g} pp)")
    return Gate(name, bool(gap.high < L.CONVERGED_PP), detail, ATTACK_CLAIMS)


def inversion_gate(ds: xr.Dataset) -> Gate:
    """Every model's inversion moved its images towards their targets (median final distance below start)."""
    start, final = ds["start_distance"].values.ravel(), ds["final_distance"].values.ravel()
    ok = np.isfinite(start) & np.isfinite(final)
    start, final = start[ok], final[ok]
    closer = int((final < start).sum())
    share = final / start
    keys = tuple(k for k in paper_claims("universality")["claims"]
                 if k not in REGULAR_CLAIMS + ATTACK_CLAIMS + ("at_costs_clean_accuracy",))
    detail = (f"{closer} of {len(start)} models ended closer to their targets than their seeds (median relative "
              f"distance {100 * share.min():.0f}–{100 * share.max():.0f} % of the start)")
    return Gate("inversion moved every model's images towards their targets", closer == len(start), detail, keys)


def confidence_gate(ds: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> Gate:
    """JSDSim's rise with robustness on inverted images read on outputs at one confidence: near-uniform outputs
    give JSDSim near 1 whatever the models do, so the rise must survive rescaling every model's outputs to one mean
    entropy (``inverted_jsd_matched``; its interval above 0). Agreement is the argmax, which no rescaling changes,
    so only the JSDSim claim rests on it. Not computed for a result stored before the chapter kept it."""
    name = "JSDSim's rise on inverted images survives outputs rescaled to one entropy"
    if "inverted_jsd_matched" not in ds:
        return Gate(name, None, "not computed: the stored result was computed before the chapter's pair job kept "
                                "each model's output confidence on inverted images and JSDSim at one output "
                                "entropy; the chapter's next computation stores both", CONFIDENCE_CLAIMS)
    eps = sorted(float(e) for e in ds["eps"].values)
    est = robustness_change(ds, "full", "jsd_matched", "inverted", None, n_boot, seed)
    conf = ds["inverted_confidence"].sel(setting="full")
    c0, ct = (float(np.nanmean(conf.sel(eps=e).values)) for e in (eps[0], eps[-1]))
    detail = (f"JSDSim with every model's outputs rescaled to mean entropy {float(ds.attrs['matched_entropy']):g} ln C, "
              f"ε = {eps[-1]:g} minus ε = {eps[0]:g}: {est.text('.3f')} ({UNIT} resampled); the models' mean "
              f"max-softmax on the inverted images {c0:.2f} at ε = {eps[0]:g}, {ct:.2f} at ε = {eps[-1]:g}")
    return Gate(name, bool(est.low > 0), detail, CONFIDENCE_CLAIMS)


def checks(ds: xr.Dataset, length: xr.Dataset | None = None) -> list[Gate]:
    """The Checks table's gates, from the stored result only (``Gate(passed=None)``: not computed here)."""
    keys = tuple(paper_claims("universality")["claims"])
    gates = [accuracy_gate(ds, "full", tuple(k for k in keys if not k.startswith("subset_")))]
    if "subset" in set(ds["setting"].values):
        gates.append(accuracy_gate(ds, "subset", tuple(k for k in keys if k.startswith("subset_"))))
    gates += [fort_gate(ds), attack_gate(ds, length), inversion_gate(ds), confidence_gate(ds)]
    return gates


# ------------------------------------------------------------------------------------------ claims

def estimates(ds: xr.Dataset, n_boot: int = 2000, seed: int = 0,
              length: xr.Dataset | None = None) -> dict[str, Estimate]:
    """Our estimate of every claim key (NaN where the result has no such setting or ε)."""
    settings = set(ds["setting"].values)
    eps = sorted(float(e) for e in ds["eps"].values)
    top = eps[-1]
    ks = [int(k) for k in ds["k"].values]
    k10, k_next = ks[0], (ks[1] if len(ks) > 1 else None)
    change = lambda setting, m, images="inverted", k=None: robustness_change(  # noqa: E731
        ds, setting, m, images, k, n_boot, seed)
    has_base = len(eps) > 1 and 0.0 in eps
    est = {"at_raises_adversarial_accuracy": at_effect(ds, "adv_accuracy", min(e for e in eps if e > 0), n_boot,
                                                       seed) if has_base else _nan(),
           "standard_adversarial_accuracy": standard_adversarial_accuracy(ds, n_boot, seed),
           "standard_adversarial_falls_with_training": (L.training_effect(length, n_boot, seed)
                                                        if L.complete(length) else _nan()),
           "at_costs_clean_accuracy": at_effect(ds, "accuracy", top, n_boot, seed) if has_base else _nan(),
           "regular_agreement_drops": change("full", "agreement", "regular"),
           "regular_jsd_spread_grows": spread_change(ds, "full", "jsd", "regular", n_boot, seed),
           "regular_agreement_comparable": change("full", "agreement", "regular"),
           "regular_jsd_comparable": change("full", "jsd", "regular"),
           "inverted_agreement_rises": change("full", "agreement"),
           "inverted_jsd_rises": change("full", "jsd"),
           "cka_rises": change("full", "cka"),
           "procrustes_flat": change("full", "procrustes"),
           "jaccard_low": mean_estimate(pair_matrix(ds, "full", top, "jaccard", "inverted", k10)[0], n_boot, seed),
           "jaccard_rises": change("full", "jaccard", k=k10),
           "jaccard_larger_k_rises": change("full", "jaccard", k=k_next) if k_next else _nan(),
           "subset_cka_rises": change("subset", "cka") if "subset" in settings else _nan(),
           "subset_procrustes_flat": change("subset", "procrustes") if "subset" in settings else _nan()}
    for key, m in (("ood_cka_higher", "cka"), ("ood_jaccard_higher", "jaccard"),
                   ("ood_procrustes_lower", "procrustes")):
        est[key] = ood_difference(ds, m, k10 if m == "jaccard" else None, n_boot, seed) if "ood" in settings \
            else _nan()
    return est


def claims_table(ds: xr.Dataset, n_boot: int = 2000, seed: int = 0,
                 gates: list[Gate] | None = None, length: xr.Dataset | None = None) -> pd.DataFrame:
    """Every claim of ``sat_lib/claims/universality.yaml`` beside ours, decided by ``claim_row`` under the
    chapter's gates (``checks``)."""
    claims = scored_claims("universality")
    gates = checks(ds, length) if gates is None else gates
    est = estimates(ds, n_boot, seed, length)
    eps = sorted(float(e) for e in ds["eps"].values)
    rows = []
    for key, c in claims.items():
        c = with_table4_value(c)
        fmt = ".1f" if key.startswith(("at_", "standard_")) or key.endswith("_accuracy") else ".3f"
        rows.append(claim_row(c["what"], c, est[key], key=key, gates=gates, paper=c["statement"], fmt=fmt))
    out = pd.DataFrame(rows)
    ks = [int(k) for k in ds["k"].values]
    out.attrs["note"] = (f"most robust ε = {eps[-1]:g}; k-NN Jaccard with k = {ks[0]}"
                         + (f" and {ks[1]}" if len(ks) > 1 else "")
                         + "; intervals resample architectures (pairs share them; the stored result keeps each "
                           "pair's score, not its per-image values, so images are not resampled)")
    return out


__all__ = ["ATTACK_CLAIMS", "CONFIDENCE_CLAIMS", "REGULAR_CLAIMS", "accuracy_gate",
           "attack_gate", "checks", "claims_table", "confidence_gate", "estimates", "fort_gate", "inversion_gate",
           "n_classes", "pair_spread", "params", "spread_change", "standard_adversarial_accuracy",
           "with_table4_value"]
