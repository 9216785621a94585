"""The chapter's Checks, from the stored result: did every member train (above twice chance, not collapsed beside
its peers), and did each diversity loss change its members' diversity against independent training? A claim
whose check failed reads *not tested* (``sat_lib.claims.verdict``).

**Changed diversity.** A loss meant to diversify (GNCL, Eq. 2; the attribution loss, Eq. 8) worked when its
members differ more than independently trained ones: Eq. 4 disagreement on the clean test images higher (95 %
interval over seeds × images above 0), or their layers' mean CKA lower (interval over seeds below 0), or — for
the attribution loss — Eq. 7 attribution diversity higher. The attribution loss is measured on its seeds without a
collapsed member (a member near chance disagrees with everything, which is not diversity).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import xarray as xr

from sat_lib.analysis.diversity_training.diversity import attribution_diversity, cka_means, seed_difference
from sat_lib.analysis.diversity_training.selection import (CLEAN, HETEROGENEOUS, ensemble_of, member_correct,
                                                           methods, nan_mean, role_method)
from sat_lib.claims.verdict import Gate, chance_gate, classes_seen
from sat_lib.stats import Estimate, seeds_images

BASELINE = "independent"
CHANGED = " changed member diversity"  # the suffix of a diversity loss's gate: "<method> changed member diversity"
COLLAPSE_SHARE = 0.5  # a member below this share of the independent members' median clean accuracy has collapsed

PREDICTION_KEYS = ("attribution_loss_costs_accuracy", "hetero_more_prediction_diversity",
                   "hetero_more_prediction_diversity_correct", "attribution_loss_less_inco_equitability",
                   "hetero_more_attribution_diversity", "attribution_loss_more_attribution_diversity",
                   "attribution_loss_less_layer_similarity")
ATTRIBUTION_KEYS = ("attribution_loss_costs_accuracy", "attribution_loss_less_inco_equitability",
                    "attribution_loss_more_attribution_diversity", "attribution_loss_less_layer_similarity",
                    "attribution_loss_less_layer_similarity_than_hetero")
HETERO_KEYS = ("hetero_more_prediction_diversity", "hetero_more_prediction_diversity_correct",
               "hetero_more_attribution_diversity", "attribution_loss_less_layer_similarity_than_hetero")
HEURISTIC_LM_KEYS = ("lm_training_methods_fail_together_less", "lm_model_predicts_coincident_failures")


def gncl_methods(ds: xr.Dataset) -> list[str]:
    return [m for m in methods(ds) if m.startswith("gncl")]


def keys_of(ds: xr.Dataset, method: str) -> tuple[str, ...]:
    """The claim keys that rest on ``method``'s ensembles (the LM rows on every trained heuristic's members)."""
    keys: list[str] = []
    if method == BASELINE or method.startswith("gncl"):
        keys.append("gncl_no_resilience_gain")
    if method.startswith(("gncl", "balanced")):
        keys.append("balanced_more_resilient")
    if method == role_method(ds, "prediction"):
        keys += PREDICTION_KEYS
    if method == role_method(ds, "attribution"):
        keys += ATTRIBUTION_KEYS
    if method == HETEROGENEOUS:
        keys += HETERO_KEYS
    else:
        keys += HEURISTIC_LM_KEYS
    return tuple(dict.fromkeys(keys))


def member_accuracy(ds: xr.Dataset, set: str = CLEAN) -> pd.DataFrame:
    """Every member's accuracy (%) on ``set``: one row per ensemble (method, seed), one column per member."""
    j = list(ds["set"].values).index(set)
    rows = []
    for m in [*methods(ds), HETEROGENEOUS]:
        e = ensemble_of(ds, m)
        acc = 100 * nan_mean(member_correct(ds, m)[:, :, j], axis=-1)
        for k, name in enumerate(e["ensemble"].values):
            rows.append({"ensemble": str(name), "method": m, **{f"member {i + 1}": float(a)
                                                                 for i, a in enumerate(acc[k])}})
    return pd.DataFrame(rows).set_index("ensemble")


def collapse_bar(ds: xr.Dataset) -> float:
    """COLLAPSE_SHARE × the median clean accuracy (%) of the independently trained members."""
    acc = member_accuracy(ds)
    base = acc[acc["method"] == BASELINE].drop(columns="method").to_numpy(float)
    return COLLAPSE_SHARE * float(np.nanmedian(base)) if base.size else math.nan


def members_table(ds: xr.Dataset) -> pd.DataFrame:
    """Every member's clean accuracy (%) with the ensemble's, and a note naming the members at or below twice
    chance or the collapse bar (``collapse_bar``) — shown in the chapter beside its Checks."""
    from sat_lib.analysis.diversity_training.selection import ensemble_correct

    acc = member_accuracy(ds)
    j = list(ds["set"].values).index(CLEAN)
    chance, bar = 200.0 / n_classes(ds), collapse_bar(ds)
    ens = {}
    for m in [*methods(ds), HETEROGENEOUS]:
        names = ensemble_of(ds, m)["ensemble"].values
        ens.update(dict(zip(map(str, names), 100 * nan_mean(ensemble_correct(ds, m)[:, j], axis=-1))))
    cols = [c for c in acc.columns if c.startswith("member")]
    out = acc.assign(ensemble_acc=[ens[n] for n in acc.index]).rename(columns={"ensemble_acc": "ensemble"})
    shown = out[cols + ["ensemble"]].round(1).astype(object)
    out[cols + ["ensemble"]] = shown.where(shown.notna(), "—")   # a diverged member or ensemble has no accuracy
    def why(v: float) -> str:
        return "diverged" if not math.isfinite(v) else "≤ twice chance" if v <= chance else "< collapse bar"

    out["collapsed"] = [", ".join(f"{c} ({why(r[c])})" for c in cols if not r[c] > chance or r[c] < bar) or "—"
                        for _, r in acc.iterrows()]
    return out


def n_classes(ds: xr.Dataset) -> int:
    return classes_seen(ds["label"])


def collapsed_members(ds: xr.Dataset, bar: float) -> dict[str, float]:
    """"ensemble#member" → clean accuracy (%) of every member at or below ``bar`` (%)."""
    acc = member_accuracy(ds)
    cols = [c for c in acc.columns if c.startswith("member")]
    return {f"{n}#{c.split()[-1]}": float(r[c]) for n, r in acc.iterrows() for c in cols if not r[c] > bar}


POOLED_KEYS = ("balanced_more_resilient", *HEURISTIC_LM_KEYS)  # rows that pool the heuristics' trained ensembles


def left_out(ds: xr.Dataset, method: str) -> bool:
    """Whether every ensemble of ``method`` diverged (a loss that is not finite): such a heuristic is left out of
    the rows that pool the heuristics (``POOLED_KEYS``) and blocks only its own."""
    return bool(ensemble_of(ds, method)["diverged"].values.astype(bool).all())


def _accuracy_text(v: float) -> str:
    return f"{v:.1f} %" if math.isfinite(v) else "diverged"


def member_gates(ds: xr.Dataset) -> list[Gate]:
    """"every member above twice chance accuracy" and "no member collapsed beside its peers" (below
    ``collapse_bar``): one passing gate each, or one failing gate per heuristic whose members they name
    ("<gate> (<method>)"), gating the claims that rest on that heuristic (``keys_of``; a heuristic whose every
    ensemble diverged is left out of the pooled rows, ``left_out``)."""
    acc = member_accuracy(ds)
    values = {f"{n}#{c.split()[-1]}": float(v) for n, r in acc.iterrows() for c, v in r.items() if c != "method"}
    bar = collapse_bar(ds)
    chance = chance_gate({k: v / 100 for k, v in values.items()}, n_classes(ds), "member")
    peers = Gate("no member collapsed beside its peers", None if not math.isfinite(bar) else True,
                 f"bar: {COLLAPSE_SHARE:g} × the independently trained members' median clean accuracy = {bar:.1f} %")
    gates = []
    for gate, limit in ((chance, 200.0 / n_classes(ds)), (peers, bar)):
        named = collapsed_members(ds, limit) if math.isfinite(limit) else {}
        if not named:
            claims = tuple(dict.fromkeys(k for m in [*methods(ds), HETEROGENEOUS] for k in keys_of(ds, m)))
            gates.append(Gate(gate.name, gate.passed, gate.detail, claims))
            continue
        for m in sorted({n.split("/")[0] for n in named}):
            mine = {n: v for n, v in named.items() if n.split("/")[0] == m}
            claims = tuple(k for k in keys_of(ds, m) if not (left_out(ds, m) and k in POOLED_KEYS))
            detail = (f"{len(mine)} of its members at or below {limit:.1f} %: "
                      + ", ".join(f"{n} {_accuracy_text(v)}" for n, v in mine.items())
                      + f" — not tested: the claims on {m} ({', '.join(claims)})"
                      + (f"; every {m} ensemble diverged, so the rows that pool the heuristics leave it out"
                         if left_out(ds, m) else ""))
            gates.append(Gate(f"{gate.name} ({m})", False, detail, claims))
    return gates


def pair_disagreement(ds: xr.Dataset, method: str, set: str = CLEAN) -> np.ndarray:
    """Eq. 4 disagreement per image, mean over the members' pairs: float (seeds, images); NaN where a member is
    absent."""
    j = list(ds["set"].values).index(set)
    return members_disagreement(member_correct(ds, method)[:, :, j])  # (seeds, members, images) → (seeds, images)


def members_disagreement(correct: np.ndarray) -> np.ndarray:
    """Eq. 4 per image, the mean over member pairs of |c_a − c_b|, from correctness (..., members, images) as float
    with NaN for an absent member: (..., images)."""
    k = correct.shape[-2]
    pairs = [np.abs(correct[..., a, :] - correct[..., b, :]) for a in range(k) for b in range(a + 1, k)]
    with np.errstate(all="ignore"):
        return np.nanmean(np.stack(pairs), axis=0) if pairs else np.full(correct[..., 0, :].shape, np.nan)


def intact_seeds(ds: xr.Dataset, method: str) -> np.ndarray:
    """Positions of ``method``'s ensembles without a collapsed member (``collapse_bar``)."""
    low = collapsed_members(ds, max(collapse_bar(ds), 200.0 / n_classes(ds)))
    names = [str(n) for n in ensemble_of(ds, method)["ensemble"].values]
    return np.array([k for k, n in enumerate(names) if not any(c.startswith(n + "#") for c in low)], dtype=int)


def diversity_change(ds: xr.Dataset, method: str, n_boot: int = 2000, seed: int = 0) -> dict[str, Estimate]:
    """``method``'s members against independently trained ones (on ``method``'s seeds without a collapsed member):
    Δ Eq. 4 disagreement (clean, seeds × images), Δ mean layer CKA (seeds) and Δ Eq. 7 on unit-norm maps (seeds ×
    attribution images)."""
    keep, base = intact_seeds(ds, method), intact_seeds(ds, BASELINE)
    if not len(keep) or not len(base):
        nan = Estimate(math.nan, math.nan, math.nan, "seeds", 0)
        return {"disagreement": nan, "cka": nan, "attribution": nan}

    def diff(a: np.ndarray, b: np.ndarray) -> Estimate:
        return seeds_images([a, b], lambda x: nan_mean(x[0]) - nan_mean(x[1]), n_boot, seed)

    return {"disagreement": diff(pair_disagreement(ds, method)[keep], pair_disagreement(ds, BASELINE)[base]),
            "cka": seed_difference(cka_means(ds, method)[keep], cka_means(ds, BASELINE)[base], n_boot, seed),
            "attribution": diff(attribution_diversity(ds, method)[keep], attribution_diversity(ds, BASELINE)[base])}


def changed(d: dict[str, Estimate], attribution: bool = False) -> bool | None:
    """Whether the members differ more than independent ones: disagreement up or CKA down (or Eq. 7 up for the
    attribution loss), each by its whole interval; None when nothing could be estimated."""
    ests = [d["disagreement"], d["cka"]] + ([d["attribution"]] if attribution else [])
    if not any(e.has_interval for e in ests):
        return None
    return bool(d["disagreement"].low > 0 or d["cka"].high < 0 or (attribution and d["attribution"].low > 0))


def epoch_losses(ds: xr.Dataset, method: str) -> str:
    """The training loss per epoch, mean over seeds ("—" for an epoch whose every ensemble diverged)."""
    loss = nan_mean(ensemble_of(ds, method)["epoch_loss"].values, axis=0)
    return "/".join(f"{v:.3f}" if math.isfinite(v) else "—" for v in loss)


def diversity_gates(ds: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> list[Gate]:
    """One gate per diversity loss (each GNCL variant, the attribution loss): "<method> changed member diversity"
    against independent training (``changed``), gating the claims that rest on that method."""
    if BASELINE not in methods(ds):
        return []
    att = role_method(ds, "attribution")
    gates = []
    for m in [*gncl_methods(ds), *([att] if att in methods(ds) else [])]:
        d = diversity_change(ds, m, n_boot, seed)
        keep = intact_seeds(ds, m)
        detail = (f"against independent training, on {len(keep)} of {ensemble_of(ds, m).sizes['ensemble']} seeds: "
                  f"Δ Eq. 4 disagreement {d['disagreement'].text('.3f')} (seeds × images), Δ mean CKA "
                  f"{d['cka'].text('.3f')} (seeds)")
        if m == att:
            detail += f", Δ Eq. 7 {d['attribution'].text('.3f')} (seeds × images)"
        detail += f"; training loss per epoch {epoch_losses(ds, m)} against {epoch_losses(ds, BASELINE)}"
        claims = tuple(k for k in keys_of(ds, m) if k not in HEURISTIC_LM_KEYS)
        gates.append(Gate(m + CHANGED, changed(d, attribution=m == att), detail, claims))
    return gates


ZOO_LM_KEYS = ("lm_diverse_designs_fail_together_less", "lm_negative_covariance",
               "lm_model_predicts_coincident_failures")


def zoo_gate(ds: xr.Dataset) -> Gate:
    """Every zoo model whose failures the LM rows on architecture families read, above twice chance."""
    j = list(ds["set"].values).index(CLEAN)
    acc = 100 * (ds["zoo_pred"].values[:, j] == ds["label"].values).mean(-1)
    return chance_gate(dict(zip(map(str, ds["model"].values), acc / 100)), n_classes(ds), "zoo model", ZOO_LM_KEYS)


def checks(ds: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> list[Gate]:
    """The chapter's Checks (module doc): the members' gates, one per diversity loss, and the zoo's models."""
    return [*member_gates(ds), *diversity_gates(ds, n_boot, seed), zoo_gate(ds)]


def method_of(gate: Gate) -> str | None:
    """The heuristic a gate of one heuristic is about ("<method> changed member diversity", "<gate> (<method>)")."""
    if gate.name.endswith(CHANGED):
        return gate.name.removesuffix(CHANGED)
    if gate.name.endswith(")") and " (" in gate.name:
        return gate.name.rsplit(" (", 1)[1][:-1]
    return None


def applies(gate: Gate, key: str, where: str) -> bool:
    """Whether ``gate`` gates the claims-table row of ``key`` qualified by ``where``: a gate of one GNCL variant
    (its diversity, its members) only that variant's row of ``gncl_no_resilience_gain``; a members' gate only the training-heuristic row of
    ``lm_model_predicts_coincident_failures`` (its other row is on the zoo)."""
    if gate.claims and key not in gate.claims:
        return False
    if key == "gncl_no_resilience_gain" and method_of(gate) is not None:
        return where == method_of(gate)
    if key == "lm_model_predicts_coincident_failures":
        return where.startswith("zoo" if gate.name.endswith("zoo model above twice chance accuracy") else "training heuristics")
    return True


def diversity_change_table(ds: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Each trained heuristic's members against independently trained ones: Δ Eq. 4 disagreement, Δ mean CKA,
    Δ Eq. 7 (95 % intervals), the training loss per epoch, and whether the members' diversity changed
    (``changed``; for the heuristics not meant to diversify, shown for comparison)."""
    rows = []
    att = role_method(ds, "attribution")
    for m in methods(ds):
        if m == BASELINE:
            continue
        d = diversity_change(ds, m, n_boot, seed)
        c = changed(d, attribution=m == att)
        rows.append({"method": m, "seeds used": f"{len(intact_seeds(ds, m))} of {ensemble_of(ds, m).sizes['ensemble']}",
                     "Δ disagreement (Eq. 4)": d["disagreement"].text(".3f"), "Δ mean CKA": d["cka"].text(".3f"),
                     "Δ attribution diversity (Eq. 7)": d["attribution"].text(".3f"),
                     "loss per epoch": epoch_losses(ds, m),
                     "diversity changed": {True: "yes", False: "no", None: "—"}[c]})
    return pd.DataFrame(rows).set_index("method")
