"""Ensembles from stored test logits (SAT paper Sec. 5.1, Figs. 5–7, E.1): many ensembles scored at once.

Each model's logits on the whole test split are computed once by the chapter that trained it and stored; an
ensemble is a set of member indices, scored by logit averaging (as the paper) with the same definitions as
``sat_lib.measures.ensemble`` (ERR, top-1 error, the "all wrong" ratio), vectorised over thousands of ensembles.
"""
from __future__ import annotations

from itertools import combinations

import numpy as np


def batch_scores(logits: np.ndarray, labels: np.ndarray, members: np.ndarray, chunk: int = 256) -> dict[str, np.ndarray]:
    """Scores of every ensemble of ``members`` (E, N) indices into ``logits`` (M, n, C), on ``labels`` (n,).

    Returns arrays of length E: ``err`` (error reduction rate 1 − Err_ens / mean member error), ``error`` (top-1
    error of the logit average), ``member_error`` (mean member error), ``all_wrong`` (share of samples every member
    gets wrong) — fractions, as ``sat_lib.measures.ensemble``."""
    logits = np.asarray(logits, dtype=np.float32)
    labels = np.asarray(labels)
    members = np.atleast_2d(np.asarray(members, dtype=np.int64))
    wrong = logits.argmax(-1) != labels  # (M, n)
    member_err = wrong.mean(1)
    out = {k: np.empty(len(members)) for k in ("err", "error", "member_error", "all_wrong")}
    for s in range(0, len(members), chunk):
        idx = members[s:s + chunk]                                   # (e, N)
        avg = logits[idx].mean(1)                                    # (e, n, C)
        ens_err = (avg.argmax(-1) != labels).mean(1)
        mean_err = member_err[idx].mean(1)
        out["error"][s:s + chunk] = ens_err
        out["member_error"][s:s + chunk] = mean_err
        with np.errstate(divide="ignore", invalid="ignore"):
            out["err"][s:s + chunk] = np.where(mean_err > 0, 1 - ens_err / mean_err, np.nan)
        out["all_wrong"][s:s + chunk] = wrong[idx].all(1).mean(1)
    return out


def all_pairs(m: int) -> np.ndarray:
    """Every unordered pair of ``m`` models, (m(m−1)/2, 2)."""
    return np.array(list(combinations(range(m), 2)), dtype=np.int64).reshape(-1, 2)


def cluster_draws(clusters: np.ndarray, size: int, k: int, n_draws: int, rng: np.random.Generator) -> np.ndarray | None:
    """``n_draws`` ensembles of ``size`` distinct models drawn from exactly ``k`` clusters (paper Fig. 6: "the
    ensembled models are only sampled from the selected k clusters"): k clusters drawn uniformly among those
    sets whose models number at least ``size``, one model from each, the rest uniformly from the k clusters'
    remaining models. (n_draws, size) indices, or None when no k clusters hold ``size`` models."""
    clusters = np.asarray(clusters)
    labels = np.unique(clusters)
    if not 1 <= k <= min(size, len(labels)):
        return None
    members = {c: np.flatnonzero(clusters == c) for c in labels}
    feasible = [c for c in combinations(labels, k) if sum(len(members[x]) for x in c) >= size]
    if not feasible:
        return None
    out = np.empty((n_draws, size), dtype=np.int64)
    for d in range(n_draws):
        chosen = feasible[rng.integers(len(feasible))]
        first = [rng.choice(members[c]) for c in chosen]
        rest = np.setdiff1d(np.concatenate([members[c] for c in chosen]), first)
        out[d] = np.concatenate([first, rng.choice(rest, size - k, replace=False)])
    return out


def group_draws(group: np.ndarray, size: int, n_draws: int, rng: np.random.Generator) -> np.ndarray | None:
    """``n_draws`` ensembles of ``size`` distinct members of ``group`` (indices); every subset when there are
    no more than ``n_draws`` of them. None when the group is smaller than ``size``."""
    group = np.asarray(group)
    if size > len(group):
        return None
    subsets = list(combinations(group, size))
    if len(subsets) <= n_draws:
        return np.array(subsets, dtype=np.int64)
    return np.array([subsets[i] for i in rng.choice(len(subsets), n_draws, replace=False)], dtype=np.int64)


# ------------------------------------------------------------------------------ the chapter's tables and claims

def pair_frame(ds) -> "pd.DataFrame":
    """Fig. 5's points: one row per pair of the zoo with its SAT, ERR, errors, and model indices ``i`` < ``j``."""
    import pandas as pd

    names = list(ds["model"].values)
    acc = 100 * ds["accuracy"].values
    i = np.array([names.index(a) for a in ds["model_a"].values])
    j = np.array([names.index(b) for b in ds["model_b"].values])
    fam = ds["family"].values
    return pd.DataFrame({"model": ds["model_a"].values, "model_b": ds["model_b"].values, "i": i, "j": j,
                         "sat": ds["pair_sat"].values, "err": ds["pair_err"].values,
                         "error": ds["pair_error"].values, "member_error": ds["pair_member_error"].values,
                         "mean_accuracy": (acc[i] + acc[j]) / 2, "same_family": fam[i] == fam[j]})


def pearson(p) -> float:
    """Pearson r of the pairs' SAT and ERR (NaN when either is constant)."""
    from scipy.stats import pearsonr

    if np.ptp(p["sat"]) == 0 or np.ptp(p["err"]) == 0:
        return np.nan
    return float(pearsonr(p["sat"], p["err"]).statistic)


def partial_pearson(p) -> float:
    """Pearson of SAT and ERR after a linear fit on the pair's mean accuracy is removed from both (ERR and SAT
    both move with accuracy when the zoo's accuracies differ)."""
    from scipy.stats import pearsonr

    x = np.column_stack([np.ones(len(p)), p["mean_accuracy"].to_numpy()])
    res = lambda v: v - x @ np.linalg.lstsq(x, v, rcond=None)[0]  # noqa: E731
    a, b = res(p["sat"].to_numpy()), res(p["err"].to_numpy())
    if np.ptp(a) < 1e-12 or np.ptp(b) < 1e-12:
        return np.nan
    return float(pearsonr(a, b).statistic)


def fig5_table(ds, n_boot: int = 2000, seed: int = 0) -> "pd.DataFrame":
    """Pearson r (with p) of SAT and ERR over the zoo's pairs and the partial r given accuracy, each with a
    95 % interval over models (``pairs_bootstrap``)."""
    import pandas as pd
    from scipy.stats import pearsonr

    from sat_lib.analysis.sat import pairs_bootstrap
    from sat_lib.claims.verdict import interval

    p = pair_frame(ds)
    rows = []
    for name, stat in (("Pearson r(SAT, ERR)", pearson), ("partial r given mean accuracy", partial_pearson)):
        est = interval(pairs_bootstrap(p, ds.sizes["model"], stat, n_boot, seed), stat(p), "models",
                       ds.sizes["model"])
        rows.append({"statistic": name, "value [95 % CI, models]": est.text(),
                     "p (pairs as independent)": pearsonr(p["sat"], p["err"]).pvalue
                     if name.startswith("P") and np.isfinite(est.value) else np.nan,
                     "pairs": len(p)})
    return pd.DataFrame(rows).set_index("statistic")


def _mean_interval(values: np.ndarray, unit: str, n_boot: int, seed: int):
    from sat_lib.claims.verdict import bootstrap

    return bootstrap(values[np.isfinite(values)], np.mean, unit=unit, n_resamples=n_boot, seed=seed)


def fig6_table(ds, score: str = "err", n_boot: int = 1000, seed: int = 0) -> "pd.DataFrame":
    """Mean ``score`` (err | error | all_wrong, in percent for the last two) of random N-ensembles from k
    clusters, with its 95 % interval over the draws; N rows, k columns; blank where no k clusters hold N models."""
    import pandas as pd

    scale = 1 if score == "err" else 100
    v = ds[f"clusters_{score}"]
    out = pd.DataFrame(index=pd.Index(ds["size"].values, name="N"),
                       columns=pd.Index(ds["k"].values, name="k clusters"), dtype=object)
    for n in ds["size"].values:
        for k in ds["k"].values:
            vals = scale * v.sel(size=n, k=k).values
            if np.isfinite(vals).any() and k <= n:
                out.loc[n, k] = _mean_interval(vals, "draws", n_boot, seed).text(".3f" if score == "err" else ".1f")
    return out.fillna("")


def fig7_frame(ds) -> "pd.DataFrame":
    """Long frame of Fig. 7: arch, group, N, score, value (one row per drawn ensemble)."""
    return (ds[[f"training_{s}" for s in ("err", "error", "all_wrong")]].to_dataframe().dropna(how="all")
            .rename(columns=lambda c: c.replace("training_", "")).reset_index())


def _mean_difference(a: np.ndarray, b: np.ndarray, scale: float, unit: str, n_boot: int, seed: int,
                     min_each: int = 1):
    """``scale · (mean a − mean b)`` with a percentile interval from independent resamples of ``a`` and ``b``
    (no interval when either has fewer than ``min_each`` values)."""
    from sat_lib.claims.verdict import interval

    rng = np.random.default_rng(seed)
    boot = [rng.choice(a, len(a)).mean() - rng.choice(b, len(b)).mean() for _ in range(n_boot)]
    if len(a) < min_each or len(b) < min_each:
        boot = []
    return interval(scale * np.array(boot), scale * (a.mean() - b.mean()), unit, len(a) + len(b))


def _group_difference(ds, arch: str, a: str, b: str, n: int, score: str, n_boot: int, seed: int):
    """Mean ``score`` of group ``a`` minus group ``b`` (N-ensembles), interval from independent resamples of
    the two groups' ensembles."""
    from sat_lib.claims.verdict import interval

    va = ds[f"training_{score}"].sel(arch=arch, group=a, size=n).values
    vb = ds[f"training_{score}"].sel(arch=arch, group=b, size=n).values
    va, vb = va[np.isfinite(va)], vb[np.isfinite(vb)]
    if not len(va) or not len(vb):
        return interval([], np.nan, "ensembles", 0)
    return _mean_difference(va, vb, 1, "ensembles (both groups)", n_boot, seed, min_each=3)


def claims_table(ds, n_boot: int = 2000, seed: int = 0) -> "pd.DataFrame":
    """The paper's Sec. 5.1 claims beside ours, verdicts by the shared rule (``sat_lib.claims.verdict``)."""
    import pandas as pd

    from sat_lib.analysis.sat import pairs_bootstrap
    from sat_lib.claims import paper_claims
    from sat_lib.claims.verdict import claim_row, direction_verdict, interval, value_verdict

    claims = paper_claims("sat-ensembles")["claims"]
    p = pair_frame(ds)
    m = ds.sizes["model"]
    rows = []
    c = claims["pearson_sat_err"]
    est = interval(pairs_bootstrap(p, m, pearson, n_boot, seed), pearson(p), "models", m)
    rows.append(claim_row("Pearson r of SAT and ERR over the zoo's pairs", f"{c['value']:.2f}", est,
                          value_verdict(c["value"], est), c["where"], key="pearson_sat_err"))
    c = claims["diversity_helps"]
    rows.append(claim_row("the same r: less similar pairs ensemble better", c["statement"], est,
                          direction_verdict(c["sign"], est), c["where"], key="diversity_helps"))
    est = interval(pairs_bootstrap(p, m, partial_pearson, n_boot, seed), partial_pearson(p), "models", m)
    rows.append(claim_row("the same r with the pair's mean accuracy partialled out", c["statement"], est,
                          direction_verdict(c["sign"], est), c["where"], key="diversity_helps"))
    for score, key in (("err", "more_clusters_err"), ("all_wrong", "more_clusters_all_wrong")):
        c = claims[key]
        for n in ds["size"].values:
            hi = ds[f"clusters_{score}"].sel(size=n, k=n).values
            lo = ds[f"clusters_{score}"].sel(size=n, k=1).values
            hi, lo = hi[np.isfinite(hi)], lo[np.isfinite(lo)]
            if not len(hi) or not len(lo):
                continue
            est = _mean_difference(hi, lo, 1 if score == "err" else 100, "draws", n_boot, seed)
            what = "ERR" if score == "err" else "all-wrong share (pp)"
            rows.append(claim_row(f"{what}: N = {n} models from {n} clusters minus from 1 cluster", c["statement"],
                                  est, direction_verdict(c["sign"], est), c["where"],
                                  fmt=".3f" if score == "err" else ".2f", key=key))
    n7 = claims["architecture_vs_training"]["size"]
    for arch in ds["arch"].values:
        for a, b, key in (("architecture", "regime", "architecture_vs_training"),
                          ("regime", "initialization", "regime_vs_initialization")):
            if a not in ds["group"].values or b not in ds["group"].values:
                continue
            c = claims[key]
            est = _group_difference(ds, arch, a, b, n7, "err", n_boot, seed)
            rows.append(claim_row(f"{arch}: ERR of {n7}-ensembles, {a} minus {b}", c["statement"], est,
                                  direction_verdict(c["sign"], est), c["where"], fmt=".3f", key=key))
    return pd.DataFrame(rows).set_index("claim")


def discussion(ds, table) -> str:
    """A short Markdown reading of the claims table, every number from the result."""
    p = pair_frame(ds)
    acc = 100 * ds["accuracy"].values
    r = table[table["key"] == "pearson_sat_err"].iloc[0]
    d = table[table["key"] == "diversity_helps"]
    lines = [f"* **Fig. 5.** Over the zoo's {len(p)} pairs, Pearson r of SAT and ERR is **{r['ours [95 % CI]']}** "
             f"(models resampled) against the paper's −0.31 over 2 346 ImageNet pairs: the value "
             f"**{r['verdict']}**, the direction **{d.iloc[0]['verdict']}**. With the pair's mean accuracy partialled "
             f"out (our accuracies span {acc.min():.0f}–{acc.max():.0f} %, the paper's 79–83 %): "
             f"{d.iloc[1]['ours [95 % CI]']}, **{d.iloc[1]['verdict']}**."]
    for key, what in (("more_clusters_err", "ERR"), ("more_clusters_all_wrong", "the all-wrong share")):
        rows = table[table["key"] == key]
        if len(rows):
            counts = rows["verdict"].value_counts()
            lines.append(f"* **Fig. 6.** {what} of N models from N clusters against N models from one cluster: "
                         + ", ".join(f"{v} {counts[v]}" for v in ("agrees", "disagrees", "inconclusive") if v in counts)
                         + f" of {len(rows)} ensemble sizes.")
    for key, what in (("architecture_vs_training", "different architectures against training regimes"),
                      ("regime_vs_initialization", "training regimes against seeds")):
        rows = table[table["key"] == key]
        for claim, row in rows.iterrows():
            lines.append(f"* **Fig. 7.** {claim.split(':')[0]}, {what}: ERR difference {row['ours [95 % CI]']}, "
                         f"**{row['verdict']}**.")
    return "\n".join(lines)
