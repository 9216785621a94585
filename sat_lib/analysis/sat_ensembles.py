"""Ensembles from stored test logits (SAT paper Sec. 5.1, Figs. 5–7, E.1): many ensembles scored at once.

Each model's logits on the whole test split are computed once by the chapter that trained it and stored; an
ensemble is a set of member indices, scored by logit averaging (as the paper) with the same definitions as
``sat_lib.measures.ensemble`` (ERR, top-1 error, the "all wrong" ratio), vectorised over thousands of ensembles.
"""
from __future__ import annotations

from itertools import combinations, product
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pandas and xarray are imported where used: the scoring kernels need numpy alone
    import pandas as pd
    import xarray as xr


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


def _cluster_compositions(clusters: np.ndarray, size: int, k: int) -> list[tuple[tuple, tuple[int, ...], int]]:
    """Every way to make an ensemble of ``size`` distinct models from exactly ``k`` clusters: (the k cluster
    labels, how many models from each — at least one —, how many distinct ensembles that gives)."""
    from math import comb, prod

    labels = np.unique(clusters)
    count = {c: int((clusters == c).sum()) for c in labels}
    out = []
    for chosen in combinations(labels, k):
        caps = [count[c] for c in chosen]
        for split in product(*(range(1, cap + 1) for cap in caps)):
            if sum(split) == size:
                out.append((chosen, split, prod(comb(cap, n) for cap, n in zip(caps, split))))
    return out


def n_cluster_ensembles(clusters: np.ndarray, size: int, k: int) -> int:
    """How many distinct ensembles of ``size`` distinct models have members from exactly ``k`` clusters (Fig. 6's
    cell (N, k)); 0 when none."""
    clusters = np.asarray(clusters)
    if not 1 <= k <= min(size, len(np.unique(clusters))):
        return 0
    return sum(n for *_, n in _cluster_compositions(clusters, size, k))


def cluster_ensembles(clusters: np.ndarray, size: int, k: int, n_draws: int,
                      rng: np.random.Generator) -> tuple[np.ndarray | None, int]:
    """Fig. 6's ensembles for the cell (N = ``size``, ``k``): N distinct models whose members come from exactly
    k clusters (paper: "the ensembled models are only sampled from the selected k clusters"), each ensemble's
    members in increasing order. Returns (ensembles, how many distinct ensembles the cell has):

    * when the cell has at most ``n_draws`` distinct ensembles, every one of them, once (no copies: a cell with
      one possible ensemble scores it once);
    * otherwise ``n_draws`` draws, each uniform over the cell's distinct ensembles (a cluster set and a split of
      N among its clusters with probability ∝ the ensembles they make, then the members uniformly), so an
      enumerated cell and a drawn one estimate the same thing: the mean over the cell's distinct ensembles.

    (None, 0) when no k clusters hold N models."""
    clusters = np.asarray(clusters)
    if not 1 <= k <= min(size, len(np.unique(clusters))):
        return None, 0
    ways = _cluster_compositions(clusters, size, k)
    total = sum(n for *_, n in ways)
    if total == 0:
        return None, 0
    members = {c: np.flatnonzero(clusters == c) for c in np.unique(clusters)}
    if total <= n_draws:
        out = [sorted(np.concatenate(parts)) for chosen, split, _ in ways
               for parts in product(*(combinations(members[c], n) for c, n in zip(chosen, split)))]
        return np.array(out, dtype=np.int64).reshape(-1, size), total
    weights = np.array([n for *_, n in ways], dtype=float)
    picks = rng.choice(len(ways), n_draws, p=weights / weights.sum())
    out = np.empty((n_draws, size), dtype=np.int64)
    for d, w in enumerate(picks):
        chosen, split, _ = ways[w]
        out[d] = np.sort(np.concatenate([rng.choice(members[c], n, replace=False) for c, n in zip(chosen, split)]))
    return out, total


def fig6_scores(logits: np.ndarray, labels: np.ndarray, clusters: np.ndarray, sizes, n_draws: int,
                seed: int) -> "xr.Dataset":
    """Fig. 6 / E.1 from stored test logits: for every cell (N in ``sizes``, k = 1 … max N) the scores of its
    ensembles (``cluster_ensembles``: all distinct ones when there are at most ``n_draws``, else ``n_draws``
    uniform draws), NaN-padded along ``draw``; ``clusters_ensembles`` (how many distinct ensembles the cell has)
    and ``clusters_scored`` (how many were scored). Deterministic in ``seed``."""
    import xarray as xr

    sizes = [int(n) for n in sizes]
    ks = list(range(1, max(sizes) + 1))
    rng = np.random.default_rng([seed, 6])  # Fig. 6's own stream: the same draws wherever this is computed
    scores = {s: np.full((len(sizes), len(ks), n_draws), np.nan) for s in ("err", "error", "all_wrong")}
    distinct = np.zeros((len(sizes), len(ks)), dtype=np.int64)
    scored = np.zeros((len(sizes), len(ks)), dtype=np.int64)
    for i, n in enumerate(sizes):
        for j, k in enumerate(ks):
            ens, distinct[i, j] = cluster_ensembles(clusters, n, k, n_draws, rng)
            if ens is None:
                continue
            sc = batch_scores(logits, labels, ens)
            scored[i, j] = len(ens)
            for s in scores:
                scores[s][i, j, :len(ens)] = sc[s]
    return xr.Dataset(
        data_vars={**{f"clusters_{s}": (("size", "k", "draw"), v) for s, v in scores.items()},
                   "clusters_ensembles": (("size", "k"), distinct,
                                          {"long_name": "distinct ensembles of N models from exactly k clusters"}),
                   "clusters_scored": (("size", "k"), scored,
                                       {"long_name": "ensembles scored: all distinct ones, or n_draws drawn"})},
        coords={"size": sizes, "k": ks, "draw": np.arange(n_draws)})


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


FIG5 = (("Pearson r(SAT, ERR)", pearson), ("partial r given mean accuracy", partial_pearson))


def fig5_estimates(ds, n_boot: int = 2000, seed: int = 0) -> dict:
    """Fig. 5's two statistics (``FIG5``: Pearson r of SAT and ERR, and the partial r given the pair's mean
    accuracy), each an ``Estimate`` with its 95 % interval over models (``pairs_bootstrap``). The table, the
    figure's title and the claims table all print these."""
    from sat_lib.stats import interval, pairs_bootstrap

    p = pair_frame(ds)
    m = ds.sizes["model"]
    return {name: interval(pairs_bootstrap(p, m, stat, n_boot, seed), stat(p), "models", m) for name, stat in FIG5}


def fig5_table(ds, n_boot: int = 2000, seed: int = 0, estimates: dict | None = None) -> "pd.DataFrame":
    """Pearson r (with p) of SAT and ERR over the zoo's pairs and the partial r given accuracy, each with a
    95 % interval over models (``fig5_estimates``, or the ``estimates`` it returned)."""
    import pandas as pd
    from scipy.stats import pearsonr

    p = pair_frame(ds)
    estimates = estimates or fig5_estimates(ds, n_boot, seed)
    rows = []
    for name, est in estimates.items():
        rows.append({"statistic": name, "value [95 % CI, models]": est.text(),
                     "p (pairs as independent)": pearsonr(p["sat"], p["err"]).pvalue
                     if name.startswith("P") and np.isfinite(est.value) else np.nan,
                     "pairs": len(p)})
    return pd.DataFrame(rows).set_index("statistic")


def fig6_source(ds, fig6=None):
    """The Dataset that holds Fig. 6's scores: ``fig6`` when given (``sat_lib.experiments.sat_ensembles.fig6``),
    else ``ds`` when it stores them with their counts of distinct ensembles. A result stored before small cells
    were enumerated (its draws repeat the few ensembles such a cell has) is refused: rescore it."""
    if fig6 is not None:
        return fig6
    if "clusters_ensembles" in ds:
        return ds
    raise ValueError("this result's Fig. 6 draws predate the enumeration of small cells (they repeat the few "
                     "ensembles such a cell has as if they were separate draws): rescore them from the stored logits "
                     "with sat_lib.experiments.sat_ensembles.fig6(cfg, ds) and pass fig6=")


def _scored(f6, n: int, k: int) -> str:
    """"all 8" (every distinct ensemble scored once) or "300 drawn of 2 400"."""
    total, scored = int(f6["clusters_ensembles"].sel(size=n, k=k)), int(f6["clusters_scored"].sel(size=n, k=k))
    return f"all {total:,}".replace(",", " ") if scored >= total else \
        f"{scored:,} drawn of {total:,}".replace(",", " ")


def fig6_cell(f6, score: str, n: int, k: int, n_boot: int = 1000, seed: int = 0):
    """Mean ``score`` (err | error | all_wrong, the last two in percent) over the cell's scored ensembles with a
    95 % interval that resamples them (the unit: ensembles, all distinct ones or the draws); no interval with
    fewer than 3 (a cell whose clusters allow one ensemble has nothing to resample). None for an empty cell."""
    from sat_lib.stats import bootstrap

    vals = (1 if score == "err" else 100) * f6[f"clusters_{score}"].sel(size=n, k=k).values
    vals = vals[np.isfinite(vals)]
    if not len(vals) or k > n:
        return None
    enumerated = int(f6["clusters_scored"].sel(size=n, k=k)) >= int(f6["clusters_ensembles"].sel(size=n, k=k))
    return bootstrap(vals, np.mean, unit="ensembles (all)" if enumerated else "drawn ensembles",
                     n_resamples=n_boot, seed=seed)


def fig6_table(f6, score: str = "err", n_boot: int = 1000, seed: int = 0) -> "pd.DataFrame":
    """Mean ``score`` (err | error | all_wrong, in percent for the last two) of the N-ensembles from k clusters,
    with its 95 % interval over the cell's ensembles (``fig6_cell``); N rows, k columns; blank where no k clusters
    hold N models. ``f6``: the Fig. 6 scores (``fig6_source``)."""
    import pandas as pd

    f6 = fig6_source(f6)
    fmt = ".3f" if score == "err" else ".1f"
    out = pd.DataFrame(index=pd.Index(f6["size"].values, name="N"),
                       columns=pd.Index(f6["k"].values, name="k clusters"), dtype=object)
    for n in f6["size"].values:
        for k in f6["k"].values:
            est = fig6_cell(f6, score, n, k, n_boot, seed)
            if est is None:
                continue
            out.loc[n, k] = est.text(fmt) if est.has_interval else \
                f"{est.value:{fmt}} ({est.n} ensemble{'s' if est.n > 1 else ''}: no interval)"
    return out.fillna("")


def fig6_counts(f6) -> "pd.DataFrame":
    """How many distinct ensembles each cell (N, k) has and how many were scored: "all 43" (each once) or
    "300 drawn of 2 400" (uniform draws); blank where no k clusters hold N models."""
    import pandas as pd

    f6 = fig6_source(f6)
    out = pd.DataFrame(index=pd.Index(f6["size"].values, name="N"),
                       columns=pd.Index(f6["k"].values, name="k clusters"), dtype=object)
    for n in f6["size"].values:
        for k in f6["k"].values:
            if k <= n and int(f6["clusters_ensembles"].sel(size=n, k=k)):
                out.loc[n, k] = _scored(f6, n, k)
    return out.fillna("")


def single_ensemble_cells(f6) -> list[tuple[int, int]]:
    """The cells (N, k) whose clusters allow exactly one ensemble."""
    f6 = fig6_source(f6)
    c = f6["clusters_ensembles"]
    return [(int(n), int(k)) for n in f6["size"].values for k in f6["k"].values
            if k <= n and int(c.sel(size=n, k=k)) == 1]


def fig7_frame(ds) -> "pd.DataFrame":
    """Long frame of Fig. 7: arch, group, N, score, value (one row per drawn ensemble)."""
    return (ds[[f"training_{s}" for s in ("err", "error", "all_wrong")]].to_dataframe().dropna(how="all")
            .rename(columns=lambda c: c.replace("training_", "")).reset_index())


def _mean_difference(a: np.ndarray, b: np.ndarray, scale: float, unit: str, n_boot: int, seed: int,
                     min_each: int = 1):
    """``scale · (mean a − mean b)`` with a percentile interval from independent resamples of ``a`` and ``b``
    (no interval when either has fewer than ``min_each`` values; ``sat_lib.stats.difference_estimate``)."""
    from sat_lib.stats import difference_estimate

    return difference_estimate(a, b, np.mean, unit=unit, n_boot=n_boot, seed=seed, scale=scale, min_each=min_each)


def _group_difference(ds, arch: str, a: str, b: str, n: int, score: str, n_boot: int, seed: int):
    """Mean ``score`` of group ``a`` minus group ``b`` (N-ensembles), interval from independent resamples of
    the two groups' ensembles."""
    from sat_lib.stats import interval

    va = ds[f"training_{score}"].sel(arch=arch, group=a, size=n).values
    vb = ds[f"training_{score}"].sel(arch=arch, group=b, size=n).values
    va, vb = va[np.isfinite(va)], vb[np.isfinite(vb)]
    if not len(va) or not len(vb):
        return interval([], np.nan, "ensembles", 0)
    return _mean_difference(va, vb, 1, "ensembles (both groups)", n_boot, seed, min_each=3)


FIG6 = ("more_clusters_err", "more_clusters_all_wrong")


def few_cells_gate(ds, fig6=None):
    """Fig. 6 compares the cell (N, k = N) with (N, k = 1); a cell the clusters allow one ensemble in gives no
    interval, so its size is not a test (the gate is passed only to that size's rows)."""
    from sat_lib.claims.verdict import Gate

    single = [(n, k) for n, k in single_ensemble_cells(fig6_source(ds, fig6)) if k in (1, n)]
    return Gate("each compared Fig. 6 cell holds more than one ensemble", not single,
                "one ensemble only: " + (", ".join(f"N = {n}, k = {k}" for n, k in single) or "none")
                + (" (only those sizes' rows are gated)" if single else ""), FIG6)


def checks(ds, fig6=None) -> list:
    """The chapter's Checks, from the stored result: every zoo model and every retrained model above twice
    chance accuracy (an ensemble with a collapsed member gains for the wrong reason); Fig. 6's cells; each attention
    stand-in of Fig. 7 sees enough tokens (as in sat-training, whose retrained models these ensembles are)."""
    from sat_lib.analysis.sat_matrix import token_gate, tokens_seen
    from sat_lib.claims.verdict import chance_gate

    fig7 = ("architecture_vs_training", "regime_vs_initialization")
    return [chance_gate(dict(zip(map(str, ds["model"].values), ds["accuracy"].values)), 10),
            chance_gate(dict(zip(map(str, ds["variant"].values), ds["variant_accuracy"].values)), 10, what="retrained model",
                          claims=fig7),
            few_cells_gate(ds, fig6),
            *[token_gate(str(a), claims=fig7) for a in ds["arch"].values if tokens_seen(str(a)) is not None]]


def claims_table(ds, n_boot: int = 2000, seed: int = 0, fig6=None, gates=None) -> "pd.DataFrame":
    """The paper's Sec. 5.1 claims beside ours, each decided by its kind (``sat_lib.claims.verdict.claim_row``);
    the rows of one statement at several ensemble sizes share its key (one verdict per statement on the status
    page). ``fig6``: the Fig. 6 scores when ``ds`` does not store them in their current form (``fig6_source``);
    ``gates``: ``checks(ds)`` when not given."""
    import pandas as pd

    from sat_lib.analysis.sat_matrix import gates_for
    from sat_lib.claims import scored_claims
    from sat_lib.claims.verdict import claim_row

    claims = scored_claims("sat-ensembles")
    gates = checks(ds, fig6) if gates is None else gates
    one_cell = [g for g in gates if g.name.startswith("each compared Fig. 6 cell")]
    gates = [g for g in gates if g not in one_cell]
    f6 = fig6_source(ds, fig6)
    fig5 = fig5_estimates(ds, n_boot, seed)
    rows = []
    c = claims["pearson_sat_err"]
    est = fig5["Pearson r(SAT, ERR)"]
    rows.append(claim_row("Pearson r of SAT and ERR over the zoo's pairs", c, est, key="pearson_sat_err",
                          gates=gates, paper=f"{c['value']:.2f} (2 346 ImageNet pairs)"))
    c = claims["diversity_helps"]
    rows.append(claim_row("the same r: less similar pairs ensemble better", c, est, key="diversity_helps",
                          gates=gates))
    est = fig5["partial r given mean accuracy"]
    rows.append(claim_row("the same r with the pair's mean accuracy partialled out", c, est, key="diversity_helps",
                          gates=gates))
    for score, key in (("err", "more_clusters_err"), ("all_wrong", "more_clusters_all_wrong")):
        c = claims[key]
        for n in f6["size"].values:
            hi = f6[f"clusters_{score}"].sel(size=n, k=n).values
            lo = f6[f"clusters_{score}"].sel(size=n, k=1).values
            hi, lo = hi[np.isfinite(hi)], lo[np.isfinite(lo)]
            if not len(hi) or not len(lo):
                continue
            # each cell's ensembles once (or its uniform draws), resampled independently; a cell with fewer
            # than 3 ensembles (one, where the clusters allow no other) gives no interval: inconclusive
            unit = f"ensembles (k = {n}: {_scored(f6, n, n)}; k = 1: {_scored(f6, n, 1)})"
            est = _mean_difference(hi, lo, 1 if score == "err" else 100, unit, n_boot, seed, min_each=3)
            what = "ERR" if score == "err" else "all-wrong share (pp)"
            fmt = ".3f" if score == "err" else ".2f"
            row = claim_row(f"{what}: N = {n} models from {n} clusters minus from 1 cluster", c, est, key=key,
                            gates=gates if est.has_interval else gates + one_cell, fmt=fmt)
            if not est.has_interval:  # name the cell that has too few ensembles, not the pooled count
                few = [f"k = {kk} has {len(v)} ensemble{'s' if len(v) > 1 else ''}"
                       for kk, v in ((n, hi), (1, lo)) if len(v) < 3]
                row["ours [95 % CI]"] = f"{est.value:{fmt}} (no interval: {'; '.join(few)})"
            rows.append(row)
    n7 = claims["architecture_vs_training"]["size"]
    for arch in ds["arch"].values:
        for a, b, key in (("architecture", "regime", "architecture_vs_training"),
                          ("regime", "initialization", "regime_vs_initialization")):
            if a not in ds["group"].values or b not in ds["group"].values:
                continue
            c = claims[key]
            est = _group_difference(ds, arch, a, b, n7, "err", n_boot, seed)
            rows.append(claim_row(f"{arch}: ERR of {n7}-ensembles, {a} minus {b}", c, est, key=key,
                                  gates=gates_for(gates, str(arch)), fmt=".3f"))
    return pd.DataFrame(rows)


def discussion(ds, table, fig6=None) -> str:
    """A short Markdown reading of the claims table, every number from the result."""
    table = table.set_index("claim") if "claim" in table.columns else table
    p = pair_frame(ds)
    acc = 100 * ds["accuracy"].values
    r = table[table["key"] == "pearson_sat_err"].iloc[0]
    d = table[table["key"] == "diversity_helps"]
    lines = [f"* **Fig. 5.** Over the zoo's {len(p)} pairs, Pearson r of SAT and ERR is **{r['ours [95 % CI]']}** "
             f"(models resampled) beside the paper's −0.31 over 2 346 ImageNet pairs (its size shown, not judged: "
             f"it depends on the zoo's spread); the direction **{d.iloc[0]['verdict']}**. With the pair's mean accuracy partialled "
             f"out (our accuracies span {acc.min():.0f}–{acc.max():.0f} %, the paper's 79–83 %): "
             f"{d.iloc[1]['ours [95 % CI]']}, **{d.iloc[1]['verdict']}**."]
    for key, what in (("more_clusters_err", "ERR"), ("more_clusters_all_wrong", "the all-wrong share")):
        rows = table[table["key"] == key]
        if len(rows):
            from sat_lib.claims.verdict import statement_verdict, tally_text

            lines.append(f"* **Fig. 6.** {what} of N models from N clusters against N models from one cluster: "
                         + tally_text(rows["verdict"]) + f" of {len(rows)} ensemble sizes — one statement: **{statement_verdict(rows['verdict'])}** "
                         "(any size that disagrees → disagrees; every size agrees → agrees; else inconclusive).")
    single = single_ensemble_cells(fig6_source(ds, fig6))
    if single:
        lines.append("* **Fig. 6, cells of one ensemble.** The zoo's cluster sizes allow a single ensemble for "
                     + ", ".join(f"N = {n} from {k} cluster{'s' if k > 1 else ''}" for n, k in single)
                     + ": it is scored once and has no interval, so a comparison that needs it is not tested (Checks).")
    for key, what in (("architecture_vs_training", "different architectures against training regimes"),
                      ("regime_vs_initialization", "training regimes against seeds")):
        rows = table[table["key"] == key]
        for claim, row in rows.iterrows():
            lines.append(f"* **Fig. 7.** {claim.split(':')[0]}, {what}: ERR difference {row['ours [95 % CI]']}, "
                         f"**{row['verdict']}**.")
    return "\n".join(lines)



def cluster_members(ds) -> "pd.DataFrame":
    """The spectral clusters the ensembles are drawn from: each cluster's size, models and their families."""
    import pandas as pd

    frame = pd.DataFrame({"cluster": ds["cluster"].values, "model": ds["model"].values,
                          "family": ds["family"].values})
    return frame.groupby("cluster").agg(size=("model", "size"), members=("model", ", ".join),
                                        families=("family", lambda f: ", ".join(sorted(set(f)))))
