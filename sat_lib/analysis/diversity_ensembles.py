"""Analyses of the diversity-ensembles chapter (design-diversity paper, Sec. 4.2: Figs. 5, 6, 7 and 9).

Improvement = A_ens − A_top in percentage points: the ensemble's accuracy minus that of its most accurate member.
The paper's x axes are "normalized" diversity metrics; the trend slopes here are over the metric min-max scaled to
[0, 1] across the ensembles (``normalized``), so slopes of different metrics share a unit (pp per range).

**What an interval covers.** Every interval resamples the pool's *models*, not the ensembles: C(14, 3) ensembles
are built from 14 models and share them, so they are far from independent draws, and what the paper's claims
generalise over is the choice of models. A resample draws the M models with replacement and keeps every ensemble
all of whose members were drawn, as many times as it can be formed from the draw with distinct copies (the
product of its members' multiplicities; ``ensemble_rows``) — the ensembles a pool made of the drawn models would
give. The statistic is then computed over the ensembles kept (``sat_lib.stats.resample`` with unit
"models"). Fig. 9's model pairs are resampled the same way.

**Models and images.** Where the stored result holds what a statistic needs per image, a replicate also draws
the test images (``models_images_estimate``): each ensemble's majority vote is recomputed from its members'
stored predictions (the same seeded tie-breaks, ``vote_correct``), an averaged ensemble's correctness per image is
read from the result (``averaged_correct``, stored since the chapter's result version 3), and the ensembles'
accuracy, improvement, member accuracy and Eq. 4 disagreement are re-measured on the drawn images. A result
without the averaged ensembles' per-image correctness (an older one, or another design-diversity chapter's)
resamples models only for the claims on averaged ensembles; ``checks`` says which.
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable
from itertools import combinations

import numpy as np
import pandas as pd
import xarray as xr

from sat_lib.claims import scored_claims
from sat_lib.claims.verdict import Gate, chance_gate, claim_row, classes_seen
from sat_lib.stats import Estimate, correlation, index_draws, interval, resample

CHAPTER = "diversity-ensembles"
CLEAN = "clean"
AVERAGING, VOTE = "averaging", "vote"
SALIENCY = "saliency"
METRICS = {"attribution_diversity": "attribution diversity (Eq. 7)",
           "disagreement": "disagreement (Eq. 4)",
           "member_accuracy": "mean member accuracy (%)"}
"""Fig. 7's rows: the metrics improvement is set against, as the result names them → their label."""


def sets(ds: xr.Dataset) -> list[str]:
    return [str(s) for s in ds["set"].values]


def corrupted_sets(ds: xr.Dataset) -> list[str]:
    return [s for s in sets(ds) if s != CLEAN]


def has(ds: xr.Dataset, consensus: str) -> bool:
    return consensus in set(ds["consensus"].values)


def frame(ds: xr.Dataset, set: str = CLEAN, consensus: str = AVERAGING) -> pd.DataFrame:
    """One row per ensemble on one set under one consensus rule (Figs. 5 and 6): its members, accuracy and
    improvement (%, pp), the three metrics, Eq. 7 on raw maps, the top member's accuracy and the parameters (M)."""
    e = ds.sel(set=set)
    f = pd.DataFrame({
        "members": [", ".join(map(str, m)) for m in ds["members"].values],
        "accuracy (%)": e["accuracy"].sel(consensus=consensus).values,
        "improvement (pp)": e["improvement"].sel(consensus=consensus).values,
        **{k: e[k].values for k in METRICS},
        "attribution_variance": e["attribution_variance"].values,
        "top member (%)": e["top_accuracy"].values,
        "params (M)": ds["n_params"].values / 1e6,
    }, index=pd.Index(ds["ensemble"].values, name="ensemble"))
    return f


def models_frame(ds: xr.Dataset) -> pd.DataFrame:
    """The pool: family, parameters (M), accuracy (%) on every set, and the share of its Saliency maps that are
    all zero (%, over every set's attribution images: a model whose output ignores its input has only those)."""
    f = pd.DataFrame(ds["model_accuracy"].values, index=pd.Index(ds["model"].values, name="model"),
                     columns=[f"{s} (%)" for s in sets(ds)])
    f.insert(0, "params (M)", ds["model_params"].values / 1e6)
    f.insert(0, "family", ds["family"].values)
    f["all-zero maps (%)"] = ds["zero_maps"].mean("set").values
    return f.sort_values(f"{CLEAN} (%)", ascending=False)


def normalized(values) -> np.ndarray:
    """Min-max scaling to [0, 1] over the finite values (the paper's "normalized" axes); NaN stays NaN, and a
    constant input gives NaN everywhere."""
    v = np.asarray(values, dtype=float)
    finite = v[np.isfinite(v)]
    span = np.ptp(finite) if len(finite) else 0.0
    return (v - finite.min()) / span if span > 0 else np.full(v.shape, np.nan)


# ------------------------------------------------------------------------------------ resampling models

def ensemble_rows(members: np.ndarray, draw: np.ndarray) -> np.ndarray:
    """Rows of ``members`` (E, N) model indices kept by a bootstrap ``draw`` of models (indices with repeats):
    each ensemble whose members were all drawn, repeated by the product of its members' multiplicities. The
    identity draw (every model once) keeps every ensemble once, in order."""
    members = np.asarray(members, dtype=np.int64)
    counts = np.bincount(np.asarray(draw, dtype=np.int64), minlength=int(members.max()) + 1)
    weights = counts[members].prod(axis=1)
    return np.repeat(np.arange(len(members)), weights)


def model_estimate(members: np.ndarray, n_models: int, stat: Callable[[np.ndarray], float], n_boot: int = 2000,
                   seed: int = 0) -> Estimate:
    """``stat(rows)`` with a 95 % percentile interval from resampling the ``n_models`` models (``ensemble_rows``;
    a resample keeping fewer than 3 ensembles gives NaN, which the interval drops)."""
    def on_models(draw: np.ndarray) -> float:
        rows = ensemble_rows(members, draw)
        return stat(rows) if len(rows) >= 3 else math.nan

    return resample(on_models, n_models, unit="models", n_resamples=n_boot, seed=seed)


def resampled(ds: xr.Dataset, stat, n_boot: int, seed: int) -> Estimate:
    return model_estimate(ds["member_index"].values, ds.sizes["model"], stat, n_boot, seed)


def columns(ds: xr.Dataset, set: str, consensus: str) -> dict[str, np.ndarray]:
    """Arrays per ensemble for the statistics: improvement, accuracy and each metric."""
    e = ds.sel(set=set, consensus=consensus)
    return {"improvement": e["improvement"].values, "accuracy": e["accuracy"].values,
            **{k: e[k].values for k in (*METRICS, "attribution_variance")}}


# ----------------------------------------------------------------------------------- Figs. 5, 6 and 7

def correlation_table(ds: xr.Dataset, n_boot: int = 2000, seed: int = 0, set_names: list[str] | None = None,
                      rules: list[str] | None = None) -> pd.DataFrame:
    """Pearson and Spearman correlation of the improvement with attribution diversity, disagreement and mean
    member accuracy (and with Eq. 7 on raw maps), per set and consensus rule, 95 % intervals over models."""
    rows = []
    for s in set_names or sets(ds):
        for r in rules or list(ds["consensus"].values):
            c = columns(ds, s, r)
            for metric, label in {**METRICS, "attribution_variance": "Eq. 7 on raw maps"}.items():
                row = {"set": s, "consensus": r, "improvement against": label}
                for kind in ("pearson", "spearman"):
                    est = resampled(ds, lambda i, k=kind, m=metric: correlation(c[m][i], c["improvement"][i], k),
                                     n_boot, seed)
                    row[f"{kind.capitalize()} [95 % CI, models]"] = est.text()
                rows.append(row)
    return pd.DataFrame(rows).set_index(["set", "consensus", "improvement against"])


def trend_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of ``y`` on ``x`` min-max scaled to [0, 1] (pp per the metric's range); NaN when
    ``x`` is constant."""
    xn = normalized(x)
    ok = np.isfinite(xn) & np.isfinite(y)
    if ok.sum() < 3:
        return math.nan
    return float(np.polyfit(xn[ok], np.asarray(y, float)[ok], 1)[0])


def trend_table(ds: xr.Dataset, consensus: str = AVERAGING, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Fig. 7: per set and metric, the slope of the improvement's trend line over the normalised metric and the
    Pearson r, each with a 95 % interval over models."""
    rows = []
    for s in sets(ds):
        c = columns(ds, s, consensus)
        for metric, label in METRICS.items():
            slope = resampled(ds, lambda i, m=metric: trend_slope(c[m][i], c["improvement"][i]), n_boot, seed)
            r = resampled(ds, lambda i, m=metric: correlation(c[m][i], c["improvement"][i]), n_boot, seed)
            rows.append({"set": s, "metric": label, "slope (pp per range) [95 % CI]": slope.text(),
                         "Pearson r [95 % CI]": r.text(), "slope": slope.value})
    return pd.DataFrame(rows).set_index(["set", "metric"])


def summary_table(ds: xr.Dataset) -> pd.DataFrame:
    """Per set and consensus rule: mean ensemble accuracy, mean improvement and the share of ensembles above
    zero (better than their best member) — Fig. 6's 'most ensembles below the zero line'."""
    rows = []
    for s in sets(ds):
        for r in ds["consensus"].values:
            imp = ds["improvement"].sel(set=s, consensus=r).values
            rows.append({"set": s, "consensus": str(r),
                         "mean accuracy (%)": float(ds["accuracy"].sel(set=s, consensus=r).mean()),
                         "mean improvement (pp)": float(imp.mean()),
                         "ensembles above zero (%)": 100 * float((imp > 0).mean()),
                         "best improvement (pp)": float(imp.max())})
    return pd.DataFrame(rows).set_index(["set", "consensus"])


def correlation_gap(c: dict[str, np.ndarray], a: str, b: str, y: str = "improvement") -> Callable:
    """stat(rows) = r(y, a) − r(y, b) (Pearson) over the ensembles ``rows``."""
    return lambda i: correlation(c[a][i], c[y][i]) - correlation(c[b][i], c[y][i])


# --------------------------------------------------------------------------------------------------- Fig. 9

def pair_frame(ds: xr.Dataset) -> pd.DataFrame:
    """One row per pair of pool models: Eq. 7 (unit-normalised maps, clean images) under each method."""
    return pd.DataFrame(ds["pair_diversity"].values, index=pd.Index(ds["pair"].values, name="pair"),
                        columns=[str(m) for m in ds["method"].values])


def pair_estimate(ds: xr.Dataset, stat, n_boot: int, seed: int) -> Estimate:
    return model_estimate(ds["pair_index"].values, ds.sizes["model"], stat, n_boot, seed)


def mean_method_correlation(d: np.ndarray, rows: np.ndarray) -> float:
    """The paper's Fig. 9 number: the mean Pearson r of the pairs' diversity scores over every two methods
    (columns of ``d`` (P, methods)); NaN with fewer than two methods."""
    rs = [correlation(d[rows, a], d[rows, b]) for a, b in combinations(range(d.shape[1]), 2)]
    return float(np.mean(rs)) if rs else math.nan


def method_table(ds: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Fig. 9: does Integrated Gradients rank the model pairs' attribution diversity as Saliency does? Per IG
    step count, Spearman ρ and Pearson r of the pair scores with Saliency's (95 % intervals over models), and the
    mean seconds per set of maps (the paper: the cost grows with the number of backward passes)."""
    d = ds["pair_diversity"].values
    methods = [str(m) for m in ds["method"].values]
    seconds = ds["attribution_seconds"].mean("model").values
    rows = [{"method": SALIENCY, "backward passes": 1, "seconds per set": float(seconds[0])}]
    for j, m in enumerate(methods[1:], start=1):
        row = {"method": m, "backward passes": int(ds["steps"].values[j]), "seconds per set": float(seconds[j])}
        for kind in ("spearman", "pearson"):
            est = pair_estimate(ds, lambda i, k=kind: correlation(d[i, 0], d[i, j], k), n_boot, seed)
            row[f"{kind.capitalize()} with Saliency [95 % CI, models]"] = est.text(".3f")
        rows.append(row)
    return pd.DataFrame(rows).set_index("method")


# ------------------------------------------------------------------------------------ resampling images too

def has_images(ds: xr.Dataset) -> bool:
    """Whether the result holds each model's prediction per image (what ``models_images_estimate`` needs)."""
    return "pred" in ds and "label" in ds


def n_classes(ds: xr.Dataset) -> int:
    return classes_seen(ds["label"], ds["pred"]) if has_images(ds) else 10


def correct_of(ds: xr.Dataset, set: str = CLEAN) -> np.ndarray:
    """bool (models, images): each pool model right on each image of ``set``."""
    return ds["pred"].sel(set=set).values == ds["label"].values


def vote_correct(ds: xr.Dataset, set: str = CLEAN) -> np.ndarray:
    """bool (ensembles, images): each ensemble's majority vote right, recomputed from its members' stored
    predictions with the chapter's seeded tie-breaks (``measures.majority_vote``, the seed the result was
    computed with) — the per-image outputs behind the stored vote accuracies."""
    import torch

    from sat_lib.measures import majority_vote

    seed = int(json.loads(ds.attrs.get("params_json", "{}")).get("seed", 0))
    pred = torch.from_numpy(ds["pred"].sel(set=set).values.astype(np.int64))
    y = ds["label"].values
    return np.stack([majority_vote(pred[m], seed=seed).numpy() == y for m in ds["member_index"].values])


def has_averaged_images(ds: xr.Dataset) -> bool:
    """Whether the result holds each averaged ensemble's correctness per image (``averaged_correct``)."""
    return "averaged_correct" in ds and has_images(ds)


def image_columns(ds: xr.Dataset, set: str = CLEAN) -> dict:
    """What ``image_stats`` re-measures on a draw of images: model correctness and each consensus rule's ensemble
    correctness (float; the vote always, averaging where stored), and the Eq. 4 disagreement of every two models
    per image (M·M, images)."""
    c = correct_of(ds, set).astype(float)
    m = len(c)
    ensemble = {VOTE: vote_correct(ds, set).astype(float)}
    if has_averaged_images(ds):
        ensemble[AVERAGING] = ds["averaged_correct"].sel(set=set).values.astype(float)
    return {"correct": c, "ensemble": ensemble,
            "disagree": (c[:, None, :] != c[None, :, :]).reshape(m * m, -1).astype(float),
            "members": ds["member_index"].values,
            "attribution_diversity": ds["attribution_diversity"].sel(set=set).values}


def image_stats(cols: dict, w: np.ndarray, consensus: str = VOTE) -> dict[str, np.ndarray]:
    """Per ensemble under ``consensus``, on images weighted by ``w`` (counts of a draw, or ones): accuracy (%),
    improvement (pp), Eq. 4 disagreement (mean over member pairs), mean member accuracy (%) and attribution
    diversity (not re-measured: its maps are of a fixed subset of the images)."""
    w = np.asarray(w, float) / np.sum(w)
    acc = 100 * cols["correct"] @ w
    ens = 100 * cols["ensemble"][consensus] @ w
    members = cols["members"]
    m = len(acc)
    dis = (cols["disagree"] @ w).reshape(m, m)
    pairs = list(combinations(range(members.shape[1]), 2))
    return {"accuracy": ens, "improvement": ens - acc[members].max(1),
            "disagreement": np.mean([dis[members[:, a], members[:, b]] for a, b in pairs], axis=0),
            "member_accuracy": acc[members].mean(1), "attribution_diversity": cols["attribution_diversity"]}


def models_images_estimate(ds: xr.Dataset, stat: Callable[[dict, np.ndarray], float], set: str = CLEAN,
                           n_boot: int = 2000, seed: int = 0, consensus: str | tuple[str, ...] = VOTE) -> Estimate:
    """``stat(columns, rows)`` over the ensembles' columns under ``consensus`` (``image_stats``; a tuple of rules:
    ``stat`` gets ``{rule: columns}``), with a 95 % percentile interval from drawing the pool's models
    (``ensemble_rows``) and the test images together in every replicate."""
    cols = image_columns(ds, set)
    if isinstance(consensus, str):
        measure = lambda w: image_stats(cols, w, consensus)  # noqa: E731
    else:
        measure = lambda w: {k: image_stats(cols, w, k) for k in consensus}  # noqa: E731
    n_images = cols["correct"].shape[1]
    members = cols["members"]
    point = stat(measure(np.ones(n_images)), np.arange(len(members)))
    samples = []
    for models, images in index_draws([ds.sizes["model"], n_images], n_boot, seed):
        rows = ensemble_rows(members, models)
        w = np.bincount(images, minlength=n_images)
        samples.append(stat(measure(w), rows) if len(rows) >= 3 else math.nan)
    unit = f"models × {n_images:,} images"
    return interval(samples, point, unit, ds.sizes["model"]) if n_boot >= 20 \
        else Estimate(point, math.nan, math.nan, unit, ds.sizes["model"])


# -------------------------------------------------------------------------------------------------- checks

ATTRIBUTION_KEYS = ("attribution_correlates_positively", "attribution_tradeoff_better",
                    "attribution_tradeoff_better_accuracy", "same_trends_with_voting", "trend_holds_under_corruption",
                    "member_accuracy_stronger_under_corruption", "saliency_agrees_with_ig")
"""Claims that read Eq. 7: they rest on Saliency maps that are not all zero."""
AVERAGING_KEYS = ("attribution_correlates_positively", "disagreement_correlates_negatively",
                  "attribution_tradeoff_better", "attribution_tradeoff_better_accuracy", "voting_worse_than_averaging",
                  "trend_holds_under_corruption", "member_accuracy_stronger_under_corruption")
"""Claims on averaged ensembles: their intervals resample images too only where the result keeps each averaged
ensemble's per-image correctness."""


def checks(ds: xr.Dataset, what: str = "pool model", attribution_keys: tuple[str, ...] = ATTRIBUTION_KEYS,
           averaging_keys: tuple[str, ...] = AVERAGING_KEYS) -> list[Gate]:
    """What the claims rest on, from the stored result: every pool model above twice chance on the clean images;
    every model's Saliency maps nonzero (Eq. 7 is undefined on an all-zero map); and which intervals cover the
    test images' noise (not computed for averaging: shown, never blocking)."""
    acc = dict(zip(map(str, ds["model"].values), ds["model_accuracy"].sel(set=CLEAN).values))
    k = n_classes(ds)
    zero = ds["zero_maps"].mean("set").values
    names = [str(m) for m in ds["model"].values]
    empty = [f"{n} {z:.0f} %" for n, z in zip(names, zero) if z > 0]
    maps = Gate("every model's Saliency maps nonzero", not empty,
                (f"all-zero maps: {', '.join(empty)}" if empty else
                 f"no all-zero map among the {len(names)} models' attribution images"), attribution_keys)
    if has_averaged_images(ds):
        noise = Gate("intervals cover the test images' noise", True,
                     f"every row built from the ensembles' outputs resamples the {ds.sizes['model']} models × the "
                     f"{ds.sizes.get('image', 0):,} test images: averaged ensembles from their stored per-image "
                     "correctness, votes recomputed from the stored predictions (attribution diversity is measured "
                     "on a fixed subset of the images and is not re-drawn)", averaging_keys)
    else:
        noise = Gate("intervals cover the test images' noise", None,
                     f"not computed for averaging: the result keeps each model's predicted class per image but not "
                     f"each averaged ensemble's per-image correctness, so these rows resample the "
                     f"{ds.sizes['model']} models only, on {ds.sizes.get('image', 0):,} fixed images; the rows built "
                     "from per-image predictions (majority vote, disagreement) resample models × images (votes "
                     "recomputed from the stored predictions)", averaging_keys)
    return [chance_gate({n: a / 100 for n, a in acc.items()}, k, what), maps, noise]


# -------------------------------------------------------------------------------------------------- claims

def no_estimate(ds: xr.Dataset) -> Estimate:
    return Estimate(math.nan, math.nan, math.nan, "models", ds.sizes["model"])


def claim_estimates(ds: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> list[tuple[str, str, Estimate]]:
    """(key, what is estimated, estimate) per claims-table row; claims needing a consensus rule or sets the
    result lacks get NaN (inconclusive)."""
    est = lambda stat: resampled(ds, stat, n_boot, seed)  # noqa: E731

    def both(stat: Callable[[dict, np.ndarray], float], set: str = CLEAN, consensus=VOTE) -> Estimate:
        """Models × images where the result holds the per-image outputs ``consensus`` needs, else models only."""
        rules = (consensus,) if isinstance(consensus, str) else consensus
        if has_images(ds) and (AVERAGING not in rules or has_averaged_images(ds)):
            return models_images_estimate(ds, stat, set, n_boot, seed, consensus)
        cols = {r: columns(ds, set, r) for r in rules}
        return est(lambda i: stat(cols[consensus] if isinstance(consensus, str) else cols, i))

    gap = lambda a, b, y="improvement": lambda c, i: correlation_gap(c, a, b, y)(i)  # noqa: E731
    out = []
    if has(ds, AVERAGING):
        avg = lambda stat, set=CLEAN: both(stat, set, AVERAGING)  # noqa: E731
        out += [("attribution_correlates_positively", "",
                 avg(lambda c, i: correlation(c["attribution_diversity"][i], c["improvement"][i]))),
                ("disagreement_correlates_negatively", "",
                 avg(lambda c, i: correlation(c["disagreement"][i], c["improvement"][i]))),
                ("attribution_tradeoff_better", "", avg(gap("attribution_diversity", "disagreement"))),
                ("attribution_tradeoff_better_accuracy", "",
                 avg(gap("attribution_diversity", "disagreement", "accuracy")))]
    if has(ds, VOTE):
        below = lambda c, i: 100 * float((c["improvement"][i] < 0).mean()) - 50  # noqa: E731
        out += [("same_trends_with_voting", "", both(gap("attribution_diversity", "disagreement"))),
                ("voting_mostly_below_zero", "", both(below))]
    if has(ds, VOTE) and has(ds, AVERAGING):
        out.append(("voting_worse_than_averaging", "",
                    both(lambda c, i: float((c[VOTE]["improvement"][i] - c[AVERAGING]["improvement"][i]).mean()),
                         CLEAN, (VOTE, AVERAGING))))
    if has(ds, AVERAGING):
        for s in corrupted_sets(ds):
            out += [("trend_holds_under_corruption", s, avg(gap("attribution_diversity", "disagreement"), s)),
                    ("member_accuracy_stronger_under_corruption", s,
                     avg(gap("member_accuracy", "attribution_diversity"), s))]
    d = ds["pair_diversity"].values
    out.append(("saliency_agrees_with_ig", "", pair_estimate(ds, lambda i: mean_method_correlation(d, i),
                                                              n_boot, seed)))
    return out


def claims_table(ds: xr.Dataset, n_boot: int = 2000, seed: int = 0, gates: list[Gate] | None = None
                 ) -> pd.DataFrame:
    """The paper's Sec. 4.2 claims beside ours, one row per estimate (the corrupted-set claims one row per set, one
    statement), decided by ``claim_row`` on the gates of ``checks``; every key of the claims file appears, a claim
    this result cannot estimate as an inconclusive row."""
    return estimates_table(CHAPTER, claim_estimates(ds, n_boot, seed), no_estimate(ds),
                           checks(ds) if gates is None else gates)


def estimates_table(chapter: str, found: list[tuple[str, str, Estimate]], missing: Estimate,
                    gates: list[Gate] = ()) -> pd.DataFrame:
    """A claims table from ``chapter``'s claims file and the estimates ``found`` ((key, qualifier, estimate)),
    each row decided by ``claim_row`` on ``gates``; every key of the file appears, one without an estimate as
    ``missing`` (inconclusive)."""
    rows = []
    for key, c in scored_claims(chapter).items():
        mine = [(where, e) for k, where, e in found if k == key] or [("", missing)]
        for where, e in mine:
            what = f"{c['what']} — {where}" if where else c["what"]
            rows.append(claim_row(what, c, e, key=key, gates=gates, paper=c.get("statement"),
                                  fmt=c.get("fmt", ".2f")))
    return pd.DataFrame(rows)
