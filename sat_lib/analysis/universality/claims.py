"""The universality chapter's claims table beside the paper's, one verdict rule."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import xarray as xr

from sat_lib.analysis.universality.core import (UNIT, accuracy_estimate, at_effect, fort_bounds, mean_estimate,
                                               members, ood_difference, pair_matrix, paper_accuracy,
                                               robustness_change)
from sat_lib.claims import paper_claims
from sat_lib.claims.verdict import claim_row, claim_verdict
from sat_lib.stats import Estimate


# ------------------------------------------------------------------------------------------ claims

def _nan() -> Estimate:
    return Estimate(math.nan, math.nan, math.nan, UNIT, 0)


def params(ds: xr.Dataset) -> dict:
    """The parameters the stored result was computed with."""
    import json

    return json.loads(ds.attrs["params_json"])


def with_table4_value(claim: dict) -> dict:
    """A claim whose paper value is the mean of a Table 4 column at one ε (``value_from_table4``): the claim with
    ``value`` set to that mean and its statement's numbers filled in from the table."""
    src = claim.get("value_from_table4")
    if src is None:
        return claim
    p = paper_accuracy(float(src["eps"]), src["column"])
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


def claims_table(ds: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Every claim of ``sat_lib/claims/universality.yaml`` beside ours; verdicts by the shared rule."""
    claims = paper_claims("universality")["claims"]
    settings = set(ds["setting"].values)
    eps = sorted(float(e) for e in ds["eps"].values)
    top = eps[-1]
    ks = [int(k) for k in ds["k"].values]
    k10 = ks[0]
    k_next = ks[1] if len(ks) > 1 else None
    change = lambda setting, m, images="inverted", k=None: robustness_change(  # noqa: E731
        ds, setting, m, images, k, n_boot, seed)
    est = {}
    est["at_raises_adversarial_accuracy"] = at_effect(ds, "adv_accuracy", min(e for e in eps if e > 0), n_boot, seed) \
        if len(eps) > 1 and 0.0 in eps else _nan()
    est["at_costs_clean_accuracy"] = at_effect(ds, "accuracy", top, n_boot, seed) if 0.0 in eps and top > 0 else _nan()
    est["standard_adversarial_accuracy"] = standard_adversarial_accuracy(ds, n_boot, seed)
    reg, names = pair_matrix(ds, "full", top, "agreement", "regular")
    _, upper = fort_bounds(ds, "full", top)
    est["regular_below_fort_bound"] = mean_estimate(upper - reg, n_boot, seed)
    est["regular_agreement_comparable"] = change("full", "agreement", "regular")
    est["regular_jsd_comparable"] = change("full", "jsd", "regular")
    est["inverted_agreement_rises"] = change("full", "agreement")
    est["inverted_jsd_rises"] = change("full", "jsd")
    est["cka_rises"] = change("full", "cka")
    est["procrustes_flat"] = change("full", "procrustes")
    est["jaccard_low"] = mean_estimate(pair_matrix(ds, "full", top, "jaccard", "inverted", k10)[0], n_boot, seed)
    est["jaccard_rises"] = change("full", "jaccard", k=k10)
    est["jaccard_larger_k_rises"] = change("full", "jaccard", k=k_next) if k_next else _nan()
    est["subset_cka_rises"] = change("subset", "cka") if "subset" in settings else _nan()
    est["subset_procrustes_flat"] = change("subset", "procrustes") if "subset" in settings else _nan()
    for key, m in (("ood_cka_higher", "cka"), ("ood_jaccard_higher", "jaccard"),
                   ("ood_procrustes_lower", "procrustes")):
        est[key] = ood_difference(ds, m, k10 if m == "jaccard" else None, n_boot, seed) if "ood" in settings \
            else _nan()
    rows = []
    for key, c in claims.items():
        e = est[key]
        c = with_table4_value(c)
        verdict = claim_verdict(c, e)
        fmt = ".1f" if key.startswith("at_") or key.endswith("_accuracy") else ".3f"
        rows.append(claim_row(c["what"], c["statement"], e, verdict, c["where"], fmt, key=key))
    out = pd.DataFrame(rows)
    out.attrs["note"] = (f"most robust ε = {top:g}; k-NN Jaccard with k = {k10}"
                         + (f" and {k_next}" if k_next else "") + "; intervals resample architectures")
    return out
