"""The atlas's checks and its claims table: the project's hypotheses (``sat_lib/claims/similarity-atlas.yaml``,
all ``source: project``) decided by ``sat_lib.claims.verdict.claim_row`` on estimates with intervals over models."""
from __future__ import annotations

import math

import pandas as pd
import xarray as xr

from sat_lib.analysis.similarity_atlas.core import UNIT, cluster_agreement, pair_spearman
from sat_lib.analysis.similarity_atlas.prediction import group_difference, measure_estimate
from sat_lib.claims import scored_claims
from sat_lib.claims.verdict import Gate, chance_gate, claim_row
from sat_lib.stats import Estimate

CHAPTER = "similarity-atlas"


SAME_MODEL = 0.99  # a model and its own copy in another layout disagree on well under 1 % of images


def checks(ds: xr.Dataset) -> list[Gate]:
    """Every zoo model above twice chance on the held-out test images (a collapsed model's similarity to others
    says nothing), and the atlas's models are the sat-matrix result's (its SAT is borrowed, not recomputed)."""
    acc = {str(m): float(a) for m, a in zip(ds["model"].values, ds["accuracy"].values)}
    return [chance_gate(acc, int(ds.attrs.get("n_classes", 10)), "zoo model"), same_models_gate(ds)]


def same_models_gate(ds: xr.Dataset) -> Gate:
    """The atlas's copy of each model predicts as the sat-matrix result's copy on at least ``SAME_MODEL`` of the
    atlas images: SAT (read from that result) and the other measures (from the atlas's copies) describe one zoo."""
    name = f"the atlas's models are the SAT chapter's (same prediction on ≥ {SAME_MODEL:.0%} of images)"
    if "same_predictions" not in ds:
        return Gate(name, None, "not stored by this result's version")
    same = ds["same_predictions"].to_series()
    worst = same.idxmin()
    return Gate(name, bool((same >= SAME_MODEL).all()),
                f"lowest {same[worst]:.2%} ({worst}); {int((same == 1).sum())} of {len(same)} models predict "
                f"identically (the copies differ where a float32 and a bf16 forward pass round apart); threshold "
                f"{SAME_MODEL:.0%}: a model and its own copy in another precision disagree on well under 1 % of "
                "images; two trainings of one recipe disagree far more often (the agreement measure shows how much)")


def claim_estimates(ds: xr.Dataset, n_boot: int, seed: int, n_clusters: int, n_folds: int) -> dict[str, Estimate]:
    return {
        "sat_gradient_rank_alike": pair_spearman(ds, "sat", "input_gradient", n_boot, seed),
        "functional_beat_representational_on_err": group_difference(ds, "err", "functional", "representational",
                                                                     n_folds, n_boot, seed),
        "sat_predicts_coincident_failures": measure_estimate(ds, "sat", "coincident_failure", n_folds, n_boot, seed),
        "sat_clusters_match_representational": cluster_agreement(ds, n_clusters, n_boot, seed,
                                                                  measures=["linear_cka"])["linear_cka"],
    }


def claims_table(ds: xr.Dataset, n_boot: int = 1000, seed: int = 0, n_clusters: int = 6, n_folds: int = 6,
                 gates: list[Gate] | None = None) -> pd.DataFrame:
    """Every hypothesis of the claims file, one row each, decided on the gates of ``checks``."""
    claims = scored_claims(CHAPTER)
    gates = checks(ds) if gates is None else gates
    found = claim_estimates(ds, n_boot, seed, n_clusters, n_folds)
    nan = Estimate(math.nan, math.nan, math.nan, UNIT, ds.sizes["model"])
    return pd.DataFrame([claim_row(c["what"], c, found.get(key, nan), key=key, gates=gates)
                         for key, c in claims.items()])
