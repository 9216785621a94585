"""The chapter's claims table beside the paper's Sec. 4.3 and Sec. 3.1, and the discussion computed from it."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import xarray as xr

from sat_lib.analysis.diversity_training.accuracy import difference
from sat_lib.analysis.diversity_training.checks import applies, checks, collapse_bar, collapsed_members, \
    diversity_change, gncl_methods, intact_seeds, left_out, n_classes
from sat_lib.analysis.diversity_training.diversity import (attribution_diversity, cka_means, equitability,
                                                           seed_difference, split_mean)
from sat_lib.analysis.diversity_training.littlewood_miller import (blocks_of, lm_estimates, lm_point,
                                                                   method_failures, zoo_failures)
from sat_lib.analysis.diversity_training.selection import (CHAPTER, CLEAN, HETEROGENEOUS, ensemble_correct,
                                                           ensemble_of, member_correct, methods, nan_mean,
                                                           role_method)
from sat_lib.claims import paper_claims, scored_claims
from sat_lib.claims.verdict import Gate, claim_row, statements, tally, tally_text
from sat_lib.stats import SEEDS_IMAGES, Estimate, seeds_images


def claim_estimates(ds: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> list[tuple[str, str, Estimate]]:
    """(key, what is estimated, estimate) per claims-table row."""
    out: list[tuple[str, str, Estimate]] = []
    names = list(ds["set"].values)
    corr = [j for j, s in enumerate(names) if s != CLEAN]
    have = set(methods(ds))
    if "independent" in have:
        base = ensemble_correct(ds, "independent")
        for m in gncl_methods(ds):
            out.append(("gncl_no_resilience_gain", m, difference(ensemble_correct(ds, m)[:, corr], base[:, corr],
                                                                 n_boot, seed)))
    gncl = [m for m in gncl_methods(ds) if not left_out(ds, m)]   # a variant whose every ensemble diverged: out
    if gncl and any(m.startswith("balanced") for m in have):
        bal = ensemble_correct(ds, next(m for m in methods(ds) if m.startswith("balanced")))
        pooled = [ensemble_correct(ds, m) for m in gncl]
        est = seeds_images([bal[:, corr], *[p[:, corr] for p in pooled]],
                           lambda x: 100 * (nan_mean(x[0]) - np.mean([nan_mean(p) for p in x[1:]])), n_boot, seed)
        out.append(("balanced_more_resilient", "", est))
    att, pred = role_method(ds, "attribution"), role_method(ds, "prediction")
    if {att, pred} <= have:
        j0 = names.index(CLEAN)
        out.append(("attribution_loss_costs_accuracy", "",
                    difference(ensemble_correct(ds, att)[:, j0], ensemble_correct(ds, pred)[:, j0], n_boot, seed)))
        hp, cp = equitability(ds, pred), ensemble_correct(ds, pred, "average")
        hh, ch = equitability(ds, HETEROGENEOUS), ensemble_correct(ds, HETEROGENEOUS, "average")
        ha, ca = equitability(ds, att), ensemble_correct(ds, att, "average")

        def gap(correct: bool, cols: list[int]):
            return lambda x: float(np.mean([split_mean(x[0][:, j], x[1][:, j], correct)
                                            - split_mean(x[2][:, j], x[3][:, j], correct) for j in cols]))

        every = list(range(len(names)))
        out.append(("hetero_more_prediction_diversity", "all sets",
                    seeds_images([hh, ch, hp, cp], gap(False, every), n_boot, seed,
                                 groups=[HETEROGENEOUS, HETEROGENEOUS, pred, pred])))
        out.append(("hetero_more_prediction_diversity_correct", "all sets",
                    seeds_images([hh, ch, hp, cp], gap(True, every), n_boot, seed,
                                 groups=[HETEROGENEOUS, HETEROGENEOUS, pred, pred])))
        out.append(("attribution_loss_less_inco_equitability", "corruptions",
                    seeds_images([ha, ca, hp, cp], gap(False, corr), n_boot, seed,
                                 groups=[att, att, pred, pred])))
        ap = attribution_diversity(ds, pred)
        out.append(("hetero_more_attribution_diversity", "", difference(attribution_diversity(ds, HETEROGENEOUS), ap,
                                                                        n_boot, seed, scale=1.0)))
        out.append(("attribution_loss_more_attribution_diversity", "",
                    difference(attribution_diversity(ds, att), ap, n_boot, seed, scale=1.0)))
        out.append(("attribution_loss_less_layer_similarity", "",
                    seed_difference(cka_means(ds, att), cka_means(ds, pred), n_boot, seed)))
        out.append(("attribution_loss_less_layer_similarity_than_hetero", "",
                    seed_difference(cka_means(ds, att), cka_means(ds, HETEROGENEOUS), n_boot, seed)))
    fz, _, gz = zoo_failures(ds)
    if len(set(gz)) >= 2:
        z = lm_estimates(fz, gz, n_boot, seed)
        out += [("lm_diverse_designs_fail_together_less", "zoo families, all sets", z["excess_gap"]),
                ("lm_negative_covariance", "zoo families, all sets", z["cov_between"]),
                ("lm_model_predicts_coincident_failures", "zoo families, all sets", z["prediction_gain"])]
    fm, nm, gm = method_failures(ds)
    if len(set(gm)) >= 2:
        t = lm_estimates(fm, gm, n_boot, seed, blocks=blocks_of(nm))
        out += [("lm_training_methods_fail_together_less", "training heuristics, all sets", t["excess_gap"]),
                ("lm_model_predicts_coincident_failures", "training heuristics, all sets", t["prediction_gain"])]
    return out


def _nan() -> Estimate:
    return Estimate(math.nan, math.nan, math.nan, SEEDS_IMAGES, 0)


def claims_table(ds: xr.Dataset, cfg=None, n_boot: int | None = None, seed: int = 0,
                 gates: list[Gate] | None = None) -> pd.DataFrame:
    """The paper's Sec. 4.3 claims and the project's Littlewood–Miller hypotheses beside ours, one row per
    estimate, each decided by ``claim_row`` on the gates of ``checks`` that apply to it (``checks.applies``); every
    key of the claims file appears, one this result cannot estimate as an inconclusive row."""
    n_boot = n_boot or (cfg.n_boot if cfg is not None else 2000)
    return _claims_table(ds, n_boot, seed, checks(ds, n_boot, seed) if gates is None else gates)


def _claims_table(ds: xr.Dataset, n_boot: int, seed: int, gates: list[Gate]) -> pd.DataFrame:
    found = claim_estimates(ds, n_boot, seed)
    rows = []
    for key, c in scored_claims(CHAPTER).items():
        mine = [(where, e) for k, where, e in found if k == key] or [("", _nan())]
        for where, e in mine:
            what = f"{c['what']} — {where}" if where else c["what"]
            rows.append(claim_row(what, c, e, key=key, gates=[g for g in gates if applies(g, key, where)],
                                  paper=c["statement"], fmt=c.get("fmt", ".2f")))
    return pd.DataFrame(rows)


def discussion(ds: xr.Dataset, table: pd.DataFrame, gates: list[Gate] | None = None) -> str:
    """A few sentences computed from the result, its Checks (``gates``) and its claims table: how strong the models
    are beside the paper's, whether each diversity loss changed diversity, how the attribution loss trained seed by
    seed, and the verdicts counted per statement (the paper's apart from the project's)."""
    gates = checks(ds) if gates is None else gates
    t2 = paper_claims(CHAPTER)["table2"]["accuracy"]
    j = list(ds["set"].values).index(CLEAN)
    clean = {m: 100 * ensemble_correct(ds, m)[:, j].mean(-1) for m in [*methods(ds), HETEROGENEOUS]}
    role = {r: role_method(ds, r) for r in ("prediction", "attribution")}
    trained = [m for m in methods(ds) if m != role["attribution"]]
    members = 100 * np.nanmean(np.concatenate([member_correct(ds, m)[:, :, j].ravel() for m in trained]))
    seeds = ", ".join(f"{v:.1f} %" for v in clean.get(role["attribution"], []))
    parts = [
        f"**Accuracy first.** The members of the {len(trained)} heuristics other than Eq. 8 reach {members:.1f} % "
        f"on the clean test images and their ensembles {np.mean([clean[m].mean() for m in trained]):.1f} %; the "
        f"heterogeneous ensemble {clean[HETEROGENEOUS].mean():.1f} %. The paper's ImageNet ensembles: "
        f"{t2['prediction']} % (prediction diversity), {t2['heterogeneous']} % (heterogeneous).",
        intervention_text(ds, gates)]
    if role["attribution"] in clean:
        low = collapsed_members(ds, max(collapse_bar(ds), 200.0 / n_classes(ds)))
        low = {k: v for k, v in low.items() if k.startswith(role["attribution"] + "/")}
        text = (f"**The attribution loss (Eq. 8)** gave ensembles of {seeds} clean accuracy, seed by seed (the paper: "
                f"{t2['attribution']} %, with training instabilities); {int(ds['diverged'].sum())} training(s) stopped "
                "on a non-finite loss")
        if low:
            named = ", ".join(f"{k} at {v:.1f} %" for k, v in low.items())
            text += (f", but {len(low)} member(s) collapsed — {named}"
                     + f" (chance {100 / n_classes(ds):.0f} %) — so the claims on its ensembles read *not tested*")
        parts.append(text + ".")
    parts.append(lm_discussion(ds, table))
    st = statements(table)
    for source, label in (("paper", "The paper's statements"), ("project", "The project's hypotheses")):
        mine = st[st["source"] == source]
        parts.append(f"**{label}:** {tally_text(mine['verdict'])}, of {len(mine)} (rows that test one statement "
                     "count once).")
    return "\n\n".join(parts)


def table2_note(ds: xr.Dataset, gates: list[Gate]) -> str:
    """One sentence for Table 2 and Figs. 11–12: what their prediction-diversity ensemble is, given its check."""
    pred = role_method(ds, "prediction")
    gate = next((g for g in gates if g.name == pred + " changed member diversity"), None)
    if gate is None or gate.passed is None:
        return f"The prediction-diversity ensemble is {pred}'s; whether its loss diversified was not checked."
    if gate.passed:
        return f"The prediction-diversity ensemble ({pred}) is measurably more diverse than independent training."
    d = diversity_change(ds, pred)
    return (f"**Read the prediction-diversity ensemble ({pred}) as an independently trained one:** its members "
            "disagree no more than independently trained members (Δ Eq. 4 disagreement "
            f"{d['disagreement'].text('.3f')}, "
            f"Δ mean CKA {d['cka'].text('.3f')}; the Checks), so the comparisons below are with a homogeneous "
            "ensemble trained independently, and the paper's claims on them read *not tested*.")


def intervention_text(ds: xr.Dataset, gates: list[Gate]) -> str:
    """Whether each diversity loss changed its members' diversity against independent training (the Checks), and
    what that makes of the prediction-diversity ensemble of Table 2."""
    div = [g for g in gates if g.name.endswith(" changed member diversity")]
    if not div:
        return "**Did the diversity losses diversify?** This result has no independently trained ensembles to compare."
    worked = [g.name.split(" changed")[0] for g in div if g.passed]
    failed = [g.name.split(" changed")[0] for g in div if g.passed is False]
    pred = role_method(ds, "prediction")
    text = "**Did the diversity losses diversify?** "
    if failed:
        text += (f"{', '.join(failed)}: members no more diverse than independently trained ones (neither Eq. 4 "
                 "disagreement higher nor layer CKA lower, by their 95 % intervals; the Checks table gives the "
                 "numbers), so the claims on them read *not tested*. ")
    if worked:
        text += ", ".join(f"{m} (on {len(intact_seeds(ds, m))} of {ensemble_of(ds, m).sizes['ensemble']} seeds: those "
                          "without a collapsed member)" for m in worked)
        text += ": members measurably more diverse than independently trained ones. "
    if pred in failed:
        d = diversity_change(ds, pred)["disagreement"]
        text += (f"Table 2's and Figs. 11–12's *prediction-diversity* ensemble ({pred}) is therefore, in effect, an "
                 f"independently trained homogeneous ensemble (Δ disagreement {d.text('.3f')}).")
    return text.strip()


def _leading_number(text: str) -> float:
    """The estimate of an ``Estimate.text`` ("0.20 [0.17, 0.23]"); NaN for "—"."""
    try:
        return float(text.split()[0])
    except (ValueError, IndexError):
        return math.nan


def lm_discussion(ds: xr.Dataset, table: pd.DataFrame) -> str:
    """A paragraph on the Littlewood–Miller rows of the claims ``table``: their verdicts, the sign of the
    difficulty functions' covariance set by set, and what it means for design diversity (every word that
    depends on a sign is chosen from the numbers)."""
    rows = table[table["key"].str.startswith("lm_")]
    if rows.empty:
        return "**The Littlewood–Miller model:** this result has no LM rows."
    counts = tally(rows["verdict"])
    names = [str(s) for s in ds["set"].values]
    found = {(r["key"], r["claim"].rsplit(" — ", 1)[-1]): r for _, r in rows.iterrows()}
    sentences, covs = [], []
    for kind, label, where in (("family", "architecture families", "zoo families, all sets"),
                               ("heuristic", "training heuristics", "training heuristics, all sets")):
        if len(set((zoo_failures(ds) if kind == "family" else method_failures(ds))[2])) < 2:
            continue
        per = [lm_point(ds, kind, j) for j in range(len(names))]
        cov = [p["cov_between"] for p in per]
        ind = [p["independence_bias"] for p in per]
        covs += cov
        text = (f"For the {label}, Cov(θ_A, θ_B) of two different ones is positive on {sum(c > 0 for c in cov)} of "
                f"{len(cov)} sets ({min(cov):.3f} to {max(cov):.3f}); two of their models fail together "
                f"{min(ind):+.1f} to {max(ind):+.1f} pp more often than independence predicts (mean over the pairs, "
                "per set)")
        gap = found.get(("lm_diverse_designs_fail_together_less" if kind == "family"
                         else "lm_training_methods_fail_together_less", where))
        if gap is not None and math.isfinite(_leading_number(gap["ours [95 % CI]"])):
            more = "more" if _leading_number(gap["ours [95 % CI]"]) > 0 else "less"
            text += (f"; beyond independence, two models of different {label} fail together {more} than two of "
                     f"one ({gap['ours [95 % CI]']} pp, {gap['verdict']})")
        gain = found.get(("lm_model_predicts_coincident_failures", where))
        if gain is not None:
            text += (f"; the LM prediction misses single pairs by {gain['ours [95 % CI]']} pp less (mean absolute "
                     f"error) than independence ({gain['verdict']})")
        sentences.append(text + ".")
    positive = sum(c > 0 for c in covs)
    if covs and positive == len(covs):
        meaning = ("Every covariance is positive: the same test images are hard for every architecture and every "
                   "loss, so design diversity here does not make failures less likely to coincide than "
                   "independence would — the LM decomposition predicts coincident failures better than "
                   "independence *because* failures are shared.")
    elif covs and positive == 0:
        meaning = ("Every covariance is negative: diverse designs fail together less than independent ones, as the "
                   "paper's argument needs.")
    else:
        meaning = (f"{positive} of {len(covs)} covariances are positive: the sign depends on the set and the kind "
                   "of methodology.")
    return (f"**The Littlewood–Miller model** (the project's hypotheses, derived from the paper's Sec. 3.1 and "
            f"counted apart from its statements). Of the {len(rows)} LM rows of the claims table: "
            f"{tally_text(rows['verdict'])}. The "
            "paper's argument for design diversity needs methodologies whose difficulty functions are *negatively* "
            "correlated. " + " ".join(sentences) + " " + meaning)


