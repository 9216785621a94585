"""Analyses of the attacks chapter (SAT paper Table 1 and appendix G): SAT by PGD against SAT by AutoAttack,
one-sided against two-sided SAT, assigning a new model to a cluster, and SAT's stability against Somepalli et
al.'s decision-region similarity at equal compute.

Units of the intervals: models for relations between pairs of the zoo (pairs share models: models are drawn with
replacement and the pairs among them kept), new models for relations of (new, zoo) pairs and for the assignment
rate, random image or triplet sets for the stds of Table 1.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import xarray as xr

from sat_lib.analysis.sat_matrix import (gates_for, nearest_cluster, spectral_clusters, symmetric, token_gate,
                                       tokens_seen)
from sat_lib.claims import scored_claims
from sat_lib.claims.verdict import Gate, chance_gate, claim_row, decisive_format
from sat_lib.stats import (Estimate, bootstrap, correlation, correlation_p, difference_estimate, interval,
                           pairs_bootstrap, resample)


# ------------------------------------------------------------------------------------ Fig. G.1: the attack

def attack_pairs(ds: xr.Dataset) -> pd.DataFrame:
    """One row per unordered pair of the re-attacked models: symmetric SAT by PGD and by AutoAttack."""
    names = list(ds["attacked"].values)
    pgd, aa = symmetric(ds["sat_pgd"]), symmetric(ds["sat_autoattack"])
    i, j = np.triu_indices(len(names), k=1)
    return pd.DataFrame({"model": np.array(names)[i], "model_b": np.array(names)[j], "i": i, "j": j,
                         "pgd": pgd[i, j], "autoattack": aa[i, j]})


ATTACK_STATS = {"pearson": "Pearson r (PGD, AutoAttack)", "spearman": "Spearman r (PGD, AutoAttack)",
                "difference": "mean SAT(AutoAttack) − SAT(PGD)"}


def attack_estimates(ds: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> dict[str, Estimate]:
    """Fig. G.1a's statistics over the pairs of the re-attacked models (``ATTACK_STATS``), each with a 95 %
    interval over models (pairs share models). The table, the figure's title and the claims table print these."""
    p = attack_pairs(ds)
    m = ds.sizes["attacked"]
    stats = {"pearson": lambda q: correlation(q["pgd"], q["autoattack"]),
             "spearman": lambda q: correlation(q["pgd"], q["autoattack"], "spearman"),
             "difference": lambda q: float((q["autoattack"] - q["pgd"]).mean())}
    return {k: interval(pairs_bootstrap(p, m, f, n_boot, seed), f(p), "models", m) for k, f in stats.items()}


def attack_table(ds: xr.Dataset, n_boot: int = 2000, seed: int = 0,
                 estimates: dict[str, Estimate] | None = None) -> pd.DataFrame:
    """Pearson and Spearman correlation of SAT by PGD and by AutoAttack over the pairs and their mean difference,
    95 % intervals over models (``attack_estimates``), scipy's p (pairs as independent, as the paper's). The
    Pearson r prints with enough decimals to show on which side of its interval the paper's 0.98 lies."""
    p = attack_pairs(ds)
    estimates = estimates or attack_estimates(ds, n_boot, seed)
    paper = scored_claims("sat-attacks")["pgd_vs_autoattack"]["value"]
    rows = []
    for kind, name in ATTACK_STATS.items():
        est = estimates[kind]
        rows.append({"statistic": name,
                     "value [95 % CI, models]": est.text(decisive_format(paper, est) if kind == "pearson" else ".2f"),
                     "p": correlation_p(p["pgd"], p["autoattack"]) if kind == "pearson" else math.nan,
                     "pairs": len(p)})
    return pd.DataFrame(rows).set_index("statistic")


def white_box(ds: xr.Dataset, zoo: xr.Dataset) -> pd.DataFrame:
    """Each re-attacked model against its own examples: the share of its correctly classified images PGD and
    AutoAttack fool (%), and the seconds each attack took."""
    rows = []
    for m in ds["attacked"].values:
        c = zoo["correct"].sel(model=m).values
        rows.append({"model": m, "correct images": int(c.sum()),
                     "PGD fools (%)": 100 * zoo["fooled"].sel(model=m, model_b=m).values[c].mean(),
                     "AutoAttack fools (%)": 100 * ds["fooled_autoattack"].sel(attacked=m, attacked_b=m).values[c].mean(),
                     "PGD (s)": float(ds["pgd_seconds"].sel(attacked=m)),
                     "AutoAttack (s)": float(ds["autoattack_seconds"].sel(attacked=m))})
    return pd.DataFrame(rows).set_index("model")


def cost_table(ds: xr.Dataset) -> pd.DataFrame:
    """Minutes of computation behind the result on the machine in its provenance: AutoAttack on each re-attacked
    model and the evaluation of its examples, the new models' one-sided scoring, the decision-region planes, and
    the total (PGD and the models themselves count in the chapters that made them)."""
    rows = {"AutoAttack": float(ds["autoattack_seconds"].sum()),
            "AutoAttack evaluation": float(ds.attrs.get("autoattack_evaluate_seconds", np.nan)),
            "new models (one-sided SAT)": float(ds.attrs.get("new_model_seconds", np.nan)),
            "decision regions": float(ds.attrs.get("boundary_seconds", np.nan))}
    rows["total"] = float(np.nansum(list(rows.values())))
    return pd.DataFrame({"minutes": {k: v / 60 for k, v in rows.items()}})


# ------------------------------------------------------------------------- Fig. G.2: one- and two-sided SAT

def sided_zoo(zoo: xr.Dataset) -> pd.DataFrame:
    """Every ordered pair (a, b) of different zoo models: one-sided SAT (a's examples on b) and two-sided SAT,
    from the sat-matrix result's stored transfers."""
    import torch

    from sat_lib.measures import sat_matrix

    f = torch.from_numpy(zoo["fooled"].values)
    c = torch.from_numpy(zoo["correct"].values)
    eps = json.loads(zoo.attrs.get("params_json", "{}")).get("eps_s", 0.01)
    one = sat_matrix(f, c, eps_s=eps, one_sided=True)[0].numpy()
    two = sat_matrix(f, c, eps_s=eps)[0].numpy()
    i, j = np.nonzero(~np.eye(len(one), dtype=bool))
    return pd.DataFrame({"source": zoo["model"].values[i], "target": zoo["model"].values[j], "i": i, "j": j,
                         "one_sided": one[i, j], "two_sided": two[i, j]})


def sided_new(ds: xr.Dataset) -> pd.DataFrame:
    """Every (new model, zoo model) pair: one-sided SAT (only the new model attacked) and two-sided SAT."""
    return (ds[["new_sat_one_sided", "new_sat_two_sided"]].to_dataframe()
            .rename(columns={"new_sat_one_sided": "one_sided", "new_sat_two_sided": "two_sided"}).reset_index())


SIDED = ("the zoo's ordered pairs", "new model × zoo pairs")
SIDED_STATS = {"pearson": "Pearson r", "spearman": "Spearman r", "difference": "mean one-sided − two-sided"}


def _sided_stat(kind: str):
    if kind == "pearson":
        return lambda a, b: correlation(a, b)
    if kind == "spearman":
        return lambda a, b: correlation(a, b, "spearman")
    if kind == "difference":
        return lambda a, b: float(np.nanmean(np.asarray(a, float) - np.asarray(b, float)))
    raise KeyError(f"unknown statistic {kind!r}; known: {list(SIDED_STATS)}")


def sided_estimates(ds: xr.Dataset, zoo: xr.Dataset, n_boot: int = 2000, seed: int = 0,
                    kind: str = "pearson") -> dict[str, Estimate]:
    """One statistic of one- against two-sided SAT (``SIDED_STATS``: Pearson r, Spearman r — Pearson of ranks —
    or the mean one-sided − two-sided difference, log %) over the zoo's ordered pairs (models resampled) and over
    the (new, zoo) pairs (new models resampled), with 95 % intervals."""
    f = _sided_stat(kind)
    z = sided_zoo(zoo)
    stat = lambda q: f(q["one_sided"], q["two_sided"])  # noqa: E731
    zoo_est = interval(pairs_bootstrap(z, zoo.sizes["model"], stat, n_boot, seed, ordered=True), stat(z), "models",
                       zoo.sizes["model"])
    one, two = ds["new_sat_one_sided"].values, ds["new_sat_two_sided"].values
    new_est = resample(lambda idx: f(one[idx].ravel(), two[idx].ravel()), ds.sizes["new"],
                       unit="new models", n_resamples=n_boot, seed=seed)
    return dict(zip(SIDED, (zoo_est, new_est)))


def sided_table(ds: xr.Dataset, zoo: xr.Dataset, n_boot: int = 2000, seed: int = 0,
                estimates: dict[str, dict[str, Estimate]] | None = None) -> pd.DataFrame:
    """Fig. G.2 in numbers: for both sets of pairs, Pearson and Spearman r of one- and two-sided SAT and their
    mean difference, each with its 95 % interval (``sided_estimates``; ``estimates``: {kind: its answer}).
    Pearson prints with enough decimals to show on which side of its interval the paper's 0.82 lies."""
    estimates = estimates or {k: sided_estimates(ds, zoo, n_boot, seed, k) for k in SIDED_STATS}
    paper = scored_claims("sat-attacks")["one_vs_two_sided"]["value"]
    frames = dict(zip(SIDED, (sided_zoo(zoo), sided_new(ds))))
    rows = []
    for what, q in frames.items():
        pe = estimates["pearson"][what]
        rows.append({"pairs": what, "n": len(q), "Pearson r [95 % CI]": pe.text(decisive_format(paper, pe)),
                     "p (Pearson)": correlation_p(q["one_sided"], q["two_sided"]),
                     "Spearman r [95 % CI]": estimates["spearman"][what].text(),
                     "mean one-sided − two-sided [95 % CI]": estimates["difference"][what].text(".3f"),
                     "resampled": "models" if what == SIDED[0] else "new models"})
    return pd.DataFrame(rows).set_index("pairs")


# --------------------------------------------------------------------------- appendix G: a new model's cluster

def assignment(ds: xr.Dataset, zoo: xr.Dataset, n_clusters: int, seed: int = 0) -> pd.DataFrame:
    """Each new model assigned to the zoo cluster whose members it is most similar to on average (mean SAT),
    by one-sided SAT (the approximation) and by two-sided SAT; its sibling is the zoo model of its
    architecture. Also the zoo model nearest to it by one-sided SAT."""
    clusters = spectral_clusters(zoo["sat"], n_clusters=n_clusters, seed=seed)
    names = list(zoo["model"].values)
    cl = clusters.reindex(names).to_numpy()
    rows = []
    for k, new in enumerate(ds["new"].values):
        arch = str(ds["new_arch"].values[k])
        row = {"new model": new, "kind": str(ds["new_kind"].values[k]), "sibling": arch,
               "sibling's cluster": int(clusters[arch]),
               "accuracy (%)": 100 * float(ds["new_accuracy"].values[k])}
        for side in ("one_sided", "two_sided"):
            row[f"cluster ({side.replace('_', '-')})"] = nearest_cluster(ds[f"new_sat_{side}"].values[k], cl)
        s = ds["new_sat_one_sided"].values[k]
        row["nearest zoo model (one-sided)"] = names[int(np.nanargmax(s))]
        row["SAT with sibling (two-sided)"] = float(ds["new_sat_two_sided"].values[k][names.index(arch)])
        rows.append(row)
    out = pd.DataFrame(rows).set_index("new model")
    out["sibling's cluster (one-sided)"] = out["cluster (one-sided)"] == out["sibling's cluster"]
    out["sibling's cluster (two-sided)"] = out["cluster (two-sided)"] == out["sibling's cluster"]
    out["nearest is sibling"] = out["nearest zoo model (one-sided)"] == out["sibling"]
    out["one- and two-sided agree"] = out["cluster (one-sided)"] == out["cluster (two-sided)"]
    return out


RATES = ("sibling's cluster (one-sided)", "sibling's cluster (two-sided)", "nearest is sibling",
         "one- and two-sided agree")


def assignment_table(a: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Rates of ``assignment`` (percent of new models) by sibling architecture, with 95 % intervals over new
    models."""
    rows = []
    for arch, sub in [("all", a), *a.groupby("sibling")]:
        row = {"sibling": arch, "new models": len(sub)}
        for col in RATES:
            est = bootstrap(100 * sub[col].to_numpy(float), np.mean, unit="new models", n_resamples=n_boot, seed=seed)
            row[f"{col} (%)"] = est.text(".0f")
        rows.append(row)
    return pd.DataFrame(rows).set_index("sibling")


# ------------------------------------------------------------------------------ Table 1: decision regions

def equal_compute(ds: xr.Dataset, zoo: xr.Dataset) -> pd.DataFrame:
    """Table 1 at equal compute, by the paper's count: SAT on n images costs n · (PGD steps + 1) · 2 inferences,
    a decision-region score on t triplets t · R² · 2. Each SAT image-set size of the sat-matrix stability study
    (sets smaller than its pool) against the triplet-set size of closest cost; stds in pp over the random sets."""
    mp = json.loads(zoo.attrs["params_json"])
    own = json.loads(ds.attrs["params_json"])
    per_image = 2 * (mp["steps"] + 1)
    per_triplet = 2 * own["resolution"] ** 2
    pool = mp.get("stability_pool")
    tsizes = np.asarray(ds["tsize"].values)
    rows = []
    for n in zoo["size"].values:
        if pool is not None and n >= pool:
            continue
        t = int(tsizes[np.argmin(np.abs(tsizes * per_triplet - n * per_image))])
        sat = zoo["stability_rate"].sel(size=n).values
        dr = ds["boundary_rate"].sel(tsize=t).values
        rows.append({"images": int(n), "SAT inferences": int(n * per_image), "SAT std (pp)": np.std(sat, ddof=1),
                     "SAT mean (%)": np.mean(sat), "triplets": t, "decision-region inferences": int(t * per_triplet),
                     "decision-region std (pp)": np.std(dr, ddof=1), "decision-region mean (%)": np.mean(dr)})
    return pd.DataFrame(rows).set_index("images")


def _std_difference(a: np.ndarray, b: np.ndarray, n_boot: int, seed: int) -> Estimate:
    """std(a) − std(b) (ddof 1) with a percentile interval from independent resamples of a and b."""
    return difference_estimate(a, b, lambda v: np.std(v, ddof=1), unit="random sets (both)", n_boot=n_boot,
                               seed=seed, min_each=3)


def boundary_table(ds: xr.Dataset) -> pd.DataFrame:
    """Std and mean (percent) of the pair's decision-region similarity over random triplet sets, beside the
    paper's Table 1 column."""
    paper = scored_claims("sat-attacks")["boundary_std"]["by_size"]
    rows = []
    for t in ds["tsize"].values:
        v = ds["boundary_rate"].sel(tsize=t).values
        rows.append({"triplets": int(t), "ours: std (pp)": np.std(v, ddof=1), "ours: mean (%)": np.mean(v),
                     "paper: std (pp)": paper.get(int(t), np.nan)})
    return pd.DataFrame(rows).set_index("triplets")


# ---------------------------------------------------------------------------------------------- the claims

CONVERGED_PP = 1.0  # PGD's white-box success within this many points of APGD's: the attack converged


def convergence_gate(ds: xr.Dataset, zoo: xr.Dataset) -> Gate:
    """PGD converged: on each re-attacked model, PGD's white-box success (share of its correct images fooled)
    within ``CONVERGED_PP`` points of AutoAttack's (APGD-CE then APGD-T), from the stored examples."""
    w = white_box(ds, zoo)
    gap = (w["AutoAttack fools (%)"] - w["PGD fools (%)"])
    worst = gap.abs().idxmax()
    return Gate(f"attack converged (PGD's white-box success within {CONVERGED_PP:g} pp of APGD's)",
                bool((gap.abs() <= CONVERGED_PP).all()),
                f"{len(w)} zoo models: PGD {w['PGD fools (%)'].min():.1f}–{w['PGD fools (%)'].max():.1f} %, APGD "
                f"{w['AutoAttack fools (%)'].min():.1f}–{w['AutoAttack fools (%)'].max():.1f} %; largest gap "
                f"{gap[worst]:+.2f} pp ({worst}); the other models' attacks are not checked here (twice the steps and "
                "fp32: the sat-matrix chapter's attack checks)")


def checks(ds: xr.Dataset, zoo: xr.Dataset, patch: xr.Dataset | None = None) -> list[Gate]:
    """The chapter's Checks, from the stored results: the attack converged where AutoAttack is stored; every
    zoo and new model above twice chance; the attention stand-in's tokens (its new models' cluster row);
    Patch-Fool's random-patch control and the decision-region planes' definition."""
    classes = zoo.sizes.get("class", 10)
    gates = [convergence_gate(ds, zoo),
             chance_gate(dict(zip(map(str, zoo["model"].values), zoo["accuracy"].values)), classes),
             chance_gate(dict(zip(map(str, ds["new"].values), ds["new_accuracy"].values)), classes, what="new model",
                           claims=("one_vs_two_sided", "new_model_cluster"))]
    gates += [token_gate(a, claims=("new_model_cluster",), stands_for="DeiT-S")
              for a in dict.fromkeys(ds["new_arch"].values) if tokens_seen(str(a)) is not None]
    if patch is not None:
        from sat_lib.analysis.sat_patch import control_gate

        gates.append(control_gate(patch))
    clamped = ds.attrs.get("boundary_clamped", True)
    gates.append(Gate("decision-region planes as Somepalli et al. define them (not clamped to [0, 1])",
                      not bool(clamped),
                      "the stored planes clamp every grid point to the image range; Somepalli et al.'s extend 10 % "
                      "beyond the triangle, unclamped (clamping changes labels there and makes the pair look more "
                      "variable): recompute the planes to test" if clamped else "planes unclamped",
                      ("sat_more_stable",)))
    return gates


def claims_table(ds: xr.Dataset, zoo: xr.Dataset, cfg=None, n_boot: int = 2000, seed: int = 0,
                 patch: xr.Dataset | None = None, gates: list[Gate] | None = None) -> pd.DataFrame:
    """The paper's Table 1 / appendix G claims beside ours, each decided by its kind (``claim_row``); Fig. G.1b's
    rows from the Patch-Fool section's result ``patch`` when given. ``gates``: ``checks`` when not given."""
    claims = scored_claims("sat-attacks")
    gates = checks(ds, zoo, patch) if gates is None else gates
    common = gates_for(gates, None)
    n_clusters = cfg.n_clusters if cfg is not None else json.loads(ds.attrs["params_json"])["n_clusters"]
    rows = []
    # value rows print with enough decimals to show on which side of each interval end the paper's value lies
    c = claims["pgd_vs_autoattack"]
    p = attack_pairs(ds)
    est = attack_estimates(ds, n_boot, seed)["pearson"]
    rows.append(claim_row(f"r(SAT by PGD, SAT by AutoAttack), {len(p)} pairs of {ds.sizes['attacked']} models", c,
                          est, key="pgd_vs_autoattack", gates=common, fmt=decisive_format(c["value"], est)))
    if patch is not None:
        from sat_lib.analysis.sat_patch import claim_rows

        rows.extend(claim_rows(patch, n_boot=n_boot, seed=seed, gates=common))
    c = claims["one_vs_two_sided"]
    for what, est in sided_estimates(ds, zoo, n_boot, seed).items():
        rows.append(claim_row(f"r(one-sided SAT, two-sided SAT), {what}", c, est, key="one_vs_two_sided",
                              gates=common, fmt=decisive_format(c["value"], est)))
    c = claims["new_model_cluster"]
    a = assignment(ds, zoo, n_clusters, seed)
    for arch, g in a.groupby("sibling", sort=False):
        est = bootstrap(g["sibling's cluster (one-sided)"].to_numpy(float), np.mean, unit=f"new {arch} models",
                        n_resamples=n_boot, seed=seed)
        rows.append(claim_row(f"share of {len(g)} new {arch} models in their sibling's cluster (one-sided SAT, "
                              f"{n_clusters} clusters)", c, est, key="new_model_cluster",
                              gates=gates_for(gates, arch), paper="1.00 (2 of 2)"))
    c = claims["boundary_std"]
    for t in ds["tsize"].values:
        paper = c["by_size"].get(int(t))
        if paper is None:
            continue
        v = ds["boundary_rate"].sel(tsize=t).values
        est = bootstrap(v, lambda x: np.std(x, ddof=1), unit="triplet sets", n_resamples=n_boot, seed=seed)
        rows.append(claim_row(f"std of the pair's decision-region similarity at {int(t)} triplets (pp)", c, est,
                              key="boundary_std", gates=common, value=paper,
                              paper=f"{paper:.2f} (ConvNeXt-T vs Swin-T, ImageNet)"))
    c = claims["sat_more_stable"]
    eq = equal_compute(ds, zoo)
    for n, row in eq.iterrows():
        est = _std_difference(ds["boundary_rate"].sel(tsize=row["triplets"]).values,
                              zoo["stability_rate"].sel(size=n).values, n_boot, seed)
        rows.append(claim_row(f"std, {int(row['triplets'])} triplets minus {n} images (equal compute; pp)", c, est,
                              key="sat_more_stable", gates=common))
    return pd.DataFrame(rows)


def discussion(ds: xr.Dataset, zoo: xr.Dataset, table: pd.DataFrame,
               sided: dict[str, dict[str, Estimate]] | None = None) -> str:
    """A short Markdown reading of the claims table, every number from the results; ``sided``: the Fig. G.2
    estimates the chapter's table printed (``{kind: sided_estimates(..., kind=kind)}``), read when given."""
    table = table.set_index("claim") if "claim" in table.columns else table
    rows = lambda key: table[table["key"] == key]  # noqa: E731
    g1 = rows("pgd_vs_autoattack").iloc[0]
    lines = [f"* **Fig. G.1a.** SAT by PGD and by AutoAttack: r = **{g1['ours [95 % CI]']}** (models resampled) "
             f"against the paper's 0.98: **{g1['verdict']}**."]
    pf = rows("pgd_vs_patchfool")
    if len(pf):
        read = "; ".join(f"{claim}: **{r['ours [95 % CI]']}**, **{r['verdict']}**" for claim, r in pf.iterrows())
        lines.append(f"* **Fig. G.1b** (the paper: r = 0.91; target models resampled). {read}. Patch-Fool's transfer "
                     "follows the targets' accuracy, so the claim is read with accuracy partialled out, and with the "
                     "random-patch control's transfer partialled out too where it is stored; the Checks table says "
                     "whether Patch-Fool transfers beyond that control at all (where it does not, the rows read not "
                     "tested: its transfer would measure fragility to any patch at that place).")
    for claim, r in rows("one_vs_two_sided").iterrows():
        lines.append(f"* **Fig. G.2.** {claim}: {r['ours [95 % CI]']} against the paper's 0.82: **{r['verdict']}**.")
    if sided is not None:
        def bias(e: Estimate) -> str:
            if not e.has_interval or e.low <= 0 <= e.high:
                return "no detectable bias"
            return "one-sided runs lower" if e.high < 0 else "one-sided runs higher"
        lines.append("* **Fig. G.2, ranks and bias.** Spearman r of one- and two-sided SAT: "
                     + "; ".join(f"{what} {sided['spearman'][what].text()}" for what in SIDED)
                     + ". Mean one-sided − two-sided (log %): "
                     + "; ".join(f"{what} {sided['difference'][what].text('.3f')} ({bias(sided['difference'][what])})"
                                 for what in SIDED) + ".")
    for claim, r in rows("new_model_cluster").iterrows():
        lines.append(f"* **A new model.** {claim[0].upper() + claim[1:]}: {r['ours [95 % CI]']} (the paper: 2 of 2, "
                     "an exact 95 % interval of [0.16, 1], which holds chance: shown beside ours, not judged).")
    st = rows("sat_more_stable")
    if len(st):
        from sat_lib.claims.verdict import statement_verdict

        lines.append("* **Table 1.** At equal compute, decision-region similarity varies more than SAT: "
                     + "; ".join(f"{c.split(' (')[0]} {r['ours [95 % CI]']}" for c, r in st.iterrows())
                     + f" — one statement over {len(st)} compute levels: **{statement_verdict(st['verdict'])}**.")
    return "\n".join(lines)


