"""Analyses of the diversity-training chapter (design-diversity paper, Sec. 4.3 and the Littlewood–Miller model).

**Which ensembles.** One per training heuristic and seed (the ``method`` and ``seed`` coordinates) plus the
heterogeneous ensemble of stored zoo models. An ensemble is scored under its own consensus rule (``own_rule``:
the rule its training used, averaging for the others), as the paper's Fig. 10 scores each heuristic.

**What an interval covers.** Accuracy and equitability differences resample the *seeds* of each method (its
independently trained ensembles) and the *test images* together — one image draw shared by both sides of a
difference (paired) — so an interval covers both training noise and the finite test set (``seeds_images``). Several
quantities of the same ensembles (equitability and correctness) are drawn together and count once. The
heterogeneous ensemble is one ensemble: only its images are resampled. CKA maps have no image axis: seeds only.
The Littlewood–Miller statistics hold the models fixed and resample images (``lm_estimates``, ``lm_deviation``),
since a difficulty function θ(x) is a function of the input.
"""
from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable, Hashable, Sequence
from itertools import combinations

import numpy as np
import pandas as pd
import xarray as xr

from sat_lib.claims import paper_claims
from sat_lib.claims.verdict import LEVEL, Estimate, claim_row, claim_verdict, interval

CHAPTER = "diversity-training"
CLEAN = "clean"
HETEROGENEOUS = "heterogeneous"
SEEDS_IMAGES = "seeds × images"


# ---------------------------------------------------------------------------------------------- selections

def methods(ds: xr.Dataset) -> list[str]:
    """The trained heuristics, in the result's order (the heterogeneous ensemble excluded)."""
    return list(dict.fromkeys(m for m in ds["method"].values.tolist() if m != HETEROGENEOUS))


def corrupted_sets(ds: xr.Dataset) -> list[str]:
    return [str(s) for s in ds["set"].values if s != CLEAN]


def own_rule(method: str) -> str:
    """The consensus rule an ensemble is scored with: its training rule ("gncl@median" → median), else average."""
    _, at, rule = method.partition("@")
    return rule if at else "average"


def role_method(ds: xr.Dataset, role: str) -> str:
    """"attribution" / "prediction" / "heterogeneous" → the method label that plays it (the chapter's config)."""
    if role == HETEROGENEOUS:
        return HETEROGENEOUS
    return str(params(ds)[f"{role}_method"])


def params(ds: xr.Dataset) -> dict:
    """The parameters the result was computed with."""
    return json.loads(ds.attrs["params_json"])


def _of(ds: xr.Dataset, method: str) -> xr.Dataset:
    ens = ds["ensemble"].values[ds["method"].values == method]
    if not len(ens):
        raise KeyError(f"no ensembles of method {method!r} in this result (methods: {', '.join(methods(ds))})")
    return ds.sel(ensemble=ens)


def ensemble_correct(ds: xr.Dataset, method: str, rule: str | None = None) -> np.ndarray:
    """float (seeds, sets, images): 1 where the method's ensemble (under ``rule``, default ``own_rule``) is right;
    NaN for a diverged ensemble."""
    e = _of(ds, method)
    pred = e["ens_pred"].sel(rule=rule or own_rule(method)).values
    out = (pred == ds["label"].values).astype(float)
    out[e["diverged"].values.astype(bool)] = np.nan
    return out


def member_correct(ds: xr.Dataset, method: str) -> np.ndarray:
    """float (seeds, members, sets, images); NaN for absent members (pred −1) and diverged ensembles."""
    pred = _of(ds, method)["pred"].values
    out = (pred == ds["label"].values).astype(float)
    out[pred < 0] = np.nan
    return out


# ---------------------------------------------------------------------------------------- the bootstrap

def seeds_images(arrays: Sequence[np.ndarray], stat: Callable[[list[np.ndarray]], float], n_boot: int = 2000,
                 seed: int = 0, groups: Sequence[Hashable] | None = None) -> Estimate:
    """``stat`` of per-seed arrays (seeds first, images last) with a 95 % percentile interval: each replicate
    draws the seeds of every *group* of arrays with replacement and one set of images (shared: paired) with
    replacement.

    ``groups`` names the ensembles each array belongs to (default: every array its own): arrays of one group — e.g.
    the equitability and the correctness of the same ensembles — share their seed draw, so a replicate keeps each
    ensemble's quantities together, and they count once in the number of units resampled (the ensembles)."""
    arrays = [np.asarray(a, dtype=float) for a in arrays]
    n = arrays[0].shape[-1]
    if any(a.shape[-1] != n for a in arrays):
        raise ValueError("seeds_images: the arrays differ in their number of images")
    groups = list(range(len(arrays))) if groups is None else list(groups)
    if len(groups) != len(arrays):
        raise ValueError(f"seeds_images: {len(groups)} groups for {len(arrays)} arrays")
    seeds: dict[Hashable, int] = {}
    for g, a in zip(groups, arrays):
        if seeds.setdefault(g, len(a)) != len(a):
            raise ValueError(f"seeds_images: the arrays of group {g!r} differ in their number of seeds")
    point = float(stat(arrays))
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(n_boot):
        img = rng.integers(0, n, n)
        draw = {g: rng.integers(0, k, k) for g, k in seeds.items()}
        samples.append(stat([a[draw[g]][..., img] for g, a in zip(groups, arrays)]))
    units = sum(seeds.values())  # ensembles, each once however many of its arrays the statistic reads
    return interval(samples, point, SEEDS_IMAGES, units) if n_boot >= 20 else Estimate(point, math.nan, math.nan,
                                                                                       SEEDS_IMAGES, units)


def _mean(a: np.ndarray) -> float:
    return float(np.nanmean(a)) if np.isfinite(a).any() else math.nan


def difference(a: np.ndarray, b: np.ndarray, n_boot: int = 2000, seed: int = 0, scale: float = 100.0) -> Estimate:
    """mean(a) − mean(b) × ``scale`` (pp for correctness arrays), seeds and images resampled."""
    return seeds_images([a, b], lambda x: scale * (_mean(x[0]) - _mean(x[1])), n_boot, seed)


# ------------------------------------------------------------------------------------------- Fig. 10

def _resilience(x: np.ndarray) -> float:
    """100 × corrupted / clean accuracy of (seeds, [clean, corrupted], images) correctness: ratio of the means."""
    clean = _mean(x[:, 0])
    return 100 * _mean(x[:, 1]) / clean if clean > 0 else math.nan


def accuracy_frame(ds: xr.Dataset, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Long form for Fig. 10: method, set, ensemble accuracy (%) with its interval over seeds × images (and how
    many units it resampled), mean member accuracy (%); on a corrupted set also the *resilience* — corrupted over
    clean accuracy (%, the corruptions chapter's relative resilience), of the ensembles (the ratio of their mean
    accuracies over seeds, with an interval over seeds × images: each seed's clean and corrupted images drawn
    together, the same images on both sets) and of their members (ratio of the members' means)."""
    rows = []
    j0 = list(ds["set"].values).index(CLEAN)
    for m in [*methods(ds), HETEROGENEOUS]:
        ens, mem = ensemble_correct(ds, m), member_correct(ds, m)
        for j, s in enumerate(ds["set"].values):
            est = seeds_images([ens[:, j]], lambda x: 100 * _mean(x[0]), n_boot, seed)
            row = {"method": m, "set": str(s), "accuracy": est.value, "low": est.low, "high": est.high,
                   "units": est.n, "members": 100 * _mean(mem[:, :, j]), "resilience": math.nan,
                   "resilience_low": math.nan, "resilience_high": math.nan, "members_resilience": math.nan}
            if j != j0:
                res = seeds_images([ens[:, [j0, j]]], lambda x: _resilience(x[0]), n_boot, seed)
                row.update(resilience=res.value, resilience_low=res.low, resilience_high=res.high,
                           members_resilience=100 * _mean(mem[:, :, j]) / _mean(mem[:, :, j0]))
            rows.append(row)
    return pd.DataFrame(rows)


def resilience_table(ds: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Resilience (corrupted / clean accuracy, %) of each method's ensembles (own consensus rule) on every
    corruption, 95 % intervals over seeds × images, and of their members (mean accuracies' ratio); the
    heterogeneous ensemble last."""
    f = accuracy_frame(ds, n_boot, seed)
    f = f[f["set"] != CLEAN]
    rows = []
    for m, g in f.groupby("method", sort=False):
        row = {"method": m}
        for r in g.itertuples():
            row[f"{r.set}: ensemble (%)"] = Estimate(r.resilience, r.resilience_low, r.resilience_high, SEEDS_IMAGES,
                                                     r.units).text(".1f")
            row[f"{r.set}: members (%)"] = round(r.members_resilience, 1)
        rows.append(row)
    return pd.DataFrame(rows).set_index("method")


def accuracy_table(ds: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Accuracy (%) of each method's ensembles (own consensus rule) and of their members, per set: mean over
    seeds with a 95 % interval over seeds × images (``accuracy_frame``, one row per method); the heterogeneous
    ensemble last."""
    f = accuracy_frame(ds, n_boot, seed)
    rows = []
    for m, g in f.groupby("method", sort=False):
        e = _of(ds, m)
        row = {"method": m, "consensus": own_rule(m), "seeds": e.sizes["ensemble"], "diverged": int(e["diverged"].sum())}
        for r in g.itertuples():
            row[f"{r.set}: ensemble (%)"] = Estimate(r.accuracy, r.low, r.high, SEEDS_IMAGES, r.units).text(".1f")
            row[f"{r.set}: members (%)"] = round(r.members, 1)
        rows.append(row)
    return pd.DataFrame(rows).set_index("method")


def versus_table(ds: xr.Dataset, baseline: str = "independent", n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Each method's ensemble accuracy minus ``baseline``'s (pp) per set and on the corruptions' mean, and its
    resilience (corrupted / clean accuracy, mean over the corruptions) minus the baseline's (pp), 95 % intervals
    over seeds × images — Fig. 10's comparison in numbers."""
    base = ensemble_correct(ds, baseline)
    j0 = list(ds["set"].values).index(CLEAN)
    corr = [j for j, s in enumerate(ds["set"].values) if s != CLEAN]

    def resilience(x: np.ndarray) -> float:
        return float(np.mean([_resilience(x[:, [j0, j]]) for j in corr]))

    rows = []
    for m in methods(ds):
        if m == baseline:
            continue
        e = ensemble_correct(ds, m)
        row = {"method": m}
        for j, s in enumerate(ds["set"].values):
            row[f"{s} (pp)"] = difference(e[:, j], base[:, j], n_boot, seed).text(".1f")
        row["corruptions' mean (pp)"] = difference(e[:, corr], base[:, corr], n_boot, seed).text(".1f")
        row["resilience, corruptions' mean (pp)"] = seeds_images(
            [e, base], lambda x: resilience(x[0]) - resilience(x[1]), n_boot, seed).text(".1f")
        rows.append(row)
    return pd.DataFrame(rows).set_index("method")


def training_table(ds: xr.Dataset) -> pd.DataFrame:
    """Per method: the training loss of each epoch (mean over seeds), seconds per ensemble (training,
    evaluation) and whether the weights came from the cache."""
    rows = []
    for m in [*methods(ds), HETEROGENEOUS]:
        e = _of(ds, m)
        row = {"method": m, "train s / ensemble": float(np.nanmean(e["train_seconds"].values)),
               "evaluate s / ensemble": float(np.nanmean(e["eval_seconds"].values)),
               "from cache": int(e["weights_from_cache"].sum()), "params (M)": float(e["n_params"].values[0]) / 1e6}
        for k, ep in enumerate(ds["epoch"].values):
            row[f"loss epoch {int(ep)}"] = float(np.nanmean(e["epoch_loss"].values[:, k])) if m != HETEROGENEOUS \
                else math.nan
        rows.append(row)
    return pd.DataFrame(rows).set_index("method")


def compute_minutes(ds: xr.Dataset) -> str:
    """The chapter's computation, one sentence: the trained ensembles' stored training times plus every
    ensemble's evaluation, in minutes, and how this result was written (weights from the cache or not)."""
    trained = ds["method"].values != HETEROGENEOUS
    train = float(np.nansum(ds["train_seconds"].values[trained])) / 60
    evaluate = float(np.nansum(ds["eval_seconds"].values)) / 60
    zoo = float(np.nansum(ds["train_seconds"].values[~trained])) / 60
    n, cached = int(trained.sum()), int(ds["weights_from_cache"].values[trained].sum())
    p = params(ds)
    text = (f"The computation took {train + evaluate:.0f} minutes on {ds.attrs.get('device', 'an unrecorded device')}: "
            f"{train:.0f} to train the {n} ensembles ({len(methods(ds))} heuristics × {len(p['seeds'])} seeds, "
            f"{p['epochs']} epochs each; the training time stored with each ensemble's weights) and {evaluate:.0f} to "
            f"evaluate all {ds.sizes['ensemble']} ensembles (predictions on every set, attribution maps, CKA). The "
            f"heterogeneous ensemble's three zoo models were trained by the SAT chapter ({zoo:.0f} minutes, not "
            "counted)")
    if cached:
        text += (f". {cached} of the {n} ensembles' weights were read from the weights cache when this result was "
                 f"written, which took {float(ds.attrs['wall_seconds']) / 60:.0f} minutes")
    return text


# ------------------------------------------------------------------------------------ Table 2, Figs. 11, 12

def equitability(ds: xr.Dataset, method: str) -> np.ndarray:
    """Shannon equitability (Eq. 5) of the members' predictions per image, float (seeds, sets, images)
    (``sat_lib.measures.shannon_equitability`` with S = min(M, classes))."""
    import torch

    from sat_lib.measures import shannon_equitability

    pred = _of(ds, method)["pred"].values
    k = int(ds["label"].max()) + 1
    out = np.full((pred.shape[0], pred.shape[2], pred.shape[3]), np.nan)
    for s in range(pred.shape[0]):
        members = [i for i in range(pred.shape[1]) if (pred[s, i] >= 0).all()]
        if len(members) < 2:
            continue
        for j in range(pred.shape[2]):
            out[s, j] = shannon_equitability(torch.from_numpy(pred[s, members, j].astype(np.int64)),
                                             num_classes=max(k, 10), reduce="none").numpy()
    return out


def _split_mean(h: np.ndarray, c: np.ndarray, correct: bool) -> float:
    w = c if correct else 1 - c
    ok = np.isfinite(h) & np.isfinite(w)
    return float((h[ok] * w[ok]).sum() / w[ok].sum()) if w[ok].sum() > 0 else math.nan


def equitability_table(ds: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Table 2: H_corr and H_inco (equitability on the images the ensemble gets right / wrong, averaging rule)
    of the attribution-diversity, prediction-diversity and heterogeneous ensembles per set, 95 % intervals over
    seeds × images, the paper's ImageNet value beside each."""
    t2 = paper_claims(CHAPTER)["table2"]
    by_set = {v: k for k, v in t2["sets"].items()}
    rows = []
    for role in ("attribution", "prediction", HETEROGENEOUS):
        m = role_method(ds, role)
        h, c = equitability(ds, m), ensemble_correct(ds, m, "average")
        for j, s in enumerate(ds["set"].values):
            row = {"ensemble": f"{role} ({m})" if role != HETEROGENEOUS else role, "set": str(s)}
            for name, correct in (("H_corr", True), ("H_inco", False)):
                est = seeds_images([h[:, j], c[:, j]], lambda x, cr=correct: _split_mean(x[0], x[1], cr), n_boot, seed,
                                   groups=[m, m])
                row[f"{name} [95 % CI]"] = est.text(".3f")
                col = by_set.get(str(s))
                row[f"{name} paper"] = (t2[name.lower()][role][t2["columns"].index(col)] if col else math.nan)
            rows.append(row)
    return pd.DataFrame(rows).set_index(["ensemble", "set"])


def attribution_diversity(ds: xr.Dataset, method: str, norm: str = "unit") -> np.ndarray:
    """Eq. 7 per clean image (Saliency, signed; ``norm`` "unit" or "raw"), float (seeds, attribution images)."""
    v = _of(ds, method)["attribution_variance"].sel(norm=norm).values.astype(float)
    return v


def attribution_table(ds: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Fig. 11 in numbers: attribution diversity (Eq. 7 on unit-norm and raw Saliency maps, clean images) of every
    method's ensembles and the heterogeneous one, 95 % intervals over seeds × images."""
    rows = []
    for m in [*methods(ds), HETEROGENEOUS]:
        row = {"method": m}
        for norm in ("unit", "raw"):
            est = seeds_images([attribution_diversity(ds, m, norm)], lambda x: _mean(x[0]), n_boot, seed)
            row[f"Eq. 7, {norm} maps [95 % CI]"] = est.text(".3g")
        rows.append(row)
    return pd.DataFrame(rows).set_index("method")


def cka_means(ds: xr.Dataset, method: str) -> np.ndarray:
    """Mean of each ensemble's layer-by-layer CKA map (its first two members), (seeds,)."""
    return np.array([float(np.nanmean(c)) if np.isfinite(c).any() else np.nan
                     for c in _of(ds, method)["cka"].values])


def _seed_difference(a: np.ndarray, b: np.ndarray, n_boot: int, seed: int) -> Estimate:
    """mean(a) − mean(b) over seeds, each side's seeds resampled (no image axis: CKA maps)."""
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    point = float(a.mean() - b.mean()) if len(a) and len(b) else math.nan
    if len(a) + len(b) < 3 or not len(a) or not len(b):
        return Estimate(point, math.nan, math.nan, "seeds", len(a) + len(b))
    rng = np.random.default_rng(seed)
    samples = [a[rng.integers(0, len(a), len(a))].mean() - b[rng.integers(0, len(b), len(b))].mean()
               for _ in range(n_boot)]
    return interval(samples, point, "seeds", len(a) + len(b))


def cka_table(ds: xr.Dataset) -> pd.DataFrame:
    """Fig. 12 in numbers: per method the mean CKA of its maps, the mean of their diagonal (same layer of both
    members; homogeneous ensembles only) and its last layer's CKA, mean over seeds."""
    rows = []
    for m in [*methods(ds), HETEROGENEOUS]:
        maps = _of(ds, m)["cka"].values
        diag = [np.nanmean(np.diagonal(c)) for c in maps] if m != HETEROGENEOUS else [np.nan]
        last = [c[np.isfinite(c).any(1)][-1][np.isfinite(c).any(0)][-1] if np.isfinite(c).any() else np.nan
                for c in maps]
        rows.append({"method": m, "mean CKA": float(np.nanmean(cka_means(ds, m))),
                     "same-layer CKA": float(np.nanmean(diag)) if np.isfinite(diag).any() else math.nan,
                     "last layers' CKA": float(np.nanmean(last))})
    return pd.DataFrame(rows).set_index("method")


# ------------------------------------------------------------------------------- the Littlewood–Miller model

def blocks_of(names: Sequence[str]) -> list[str]:
    """"method/seed#member" → "method/seed": the ensemble a member belongs to (zoo names are their own block)."""
    return [n.split("#")[0] for n in names]


def zoo_failures(ds: xr.Dataset) -> tuple[np.ndarray, list[str], list[str]]:
    """Failures of the corruptions chapter's zoo models on the same images: bool (models, sets, images), the
    model names and their architecture families (the design methodologies)."""
    fails = ds["zoo_pred"].values != ds["label"].values
    return fails, [str(m) for m in ds["model"].values], [str(f) for f in ds["family"].values]


def method_failures(ds: xr.Dataset) -> tuple[np.ndarray, list[str], list[str]]:
    """Failures of every member of every trained (not diverged) ensemble: bool (models, sets, images), names
    "method/seed#member", and the training heuristic of each (the design methodologies)."""
    rows, names, groups = [], [], []
    for m in methods(ds):
        e = _of(ds, m)
        for k, ens in enumerate(e["ensemble"].values):
            if e["diverged"].values[k]:
                continue
            for i in range(ds.sizes["member"]):
                pred = e["pred"].values[k, i]
                if (pred < 0).any():
                    continue
                rows.append(pred != ds["label"].values)
                names.append(f"{ens}#{i}")
                groups.append(m)
    return np.array(rows), names, groups


class LMStats:
    """The Littlewood–Miller quantities of one set of models in design groups on one image draw, all from the
    Gram matrix of their failure indicators and per-group and per-block failure counts (so a bootstrap replicate
    is one matrix product).

    ``excess_gap``: mean excess coincident failure P(both fail) − P_i P_j of model pairs from different groups
    minus that of pairs from one group (pp). ``cov_between``: mean Cov(θ_A, θ_B) over pairs of different groups
    (θ from all the group's models). For every pair of models (i, j) the coincident failure rate is predicted from
    the *other* models of their groups — the LM model, E[θ'_A θ'_B], and independence, E[θ'_A] E[θ'_B] — where
    for two models of one group A the expectation is taken over pairs of *other* models of A from different
    blocks (θ'_A² would count each model with itself and two members of one ensemble, which are no independent
    draws): ``lm_bias`` / ``independence_bias``: mean over pairs of observed − predicted (pp; the LM model is a
    statement about that expectation, so its signed error is its test); ``lm_error`` / ``independence_error``:
    mean |observed − predicted| (pp; a pair's own deviation from its methodologies' expectation and sampling noise
    both count, so it is biased upward and a percentile interval of it can miss its point estimate);
    ``prediction_gain``: ``independence_error − lm_error`` (pp; > 0: the LM model predicts each pair better).
    ``blocks``: pairs of models in one block are left out (members of one jointly trained ensemble are not two
    independent draws of their methodology); default: every model its own block.
    """

    def __init__(self, groups: Sequence[str], blocks: Sequence[str] | None = None) -> None:
        self.labels = list(dict.fromkeys(groups))
        g = np.array([self.labels.index(x) for x in groups])
        self.g, self.n_models = g, len(g)
        self.size = np.bincount(g, minlength=len(self.labels)).astype(float)
        blocks = [str(i) for i in range(len(g))] if blocks is None else list(blocks)
        if len(blocks) != len(g):
            raise ValueError(f"LMStats: {len(blocks)} blocks for {len(g)} models")
        self.block_labels = list(dict.fromkeys(blocks))
        b = np.array([self.block_labels.index(x) for x in blocks])
        block_group = np.zeros(len(self.block_labels), dtype=int)
        block_group[b] = g
        if (block_group[b] != g).any():
            raise ValueError("LMStats: a block holds models of different groups")
        self.b, self.block_group = b, block_group
        c = np.bincount(b, minlength=len(self.block_labels)).astype(float)
        pairs = [(i, j) for i, j in combinations(range(len(g)), 2) if b[i] != b[j]]
        self.i, self.j = (np.array(t, dtype=int) for t in zip(*pairs))
        self.same = g[self.i] == g[self.j]
        ga, gb = g[self.i], g[self.j]
        # held-out group sizes: both models out of a shared group, one out of each otherwise
        self.na = np.where(self.same, self.size[ga] - 2, self.size[ga] - 1)
        self.nb = np.where(self.same, self.size[gb] - 2, self.size[gb] - 1)
        # ordered pairs of held-out models of a shared group from different blocks: n'² − Σ_blocks (held-out size)²
        csq = np.bincount(block_group, weights=c ** 2, minlength=len(self.labels))
        held = csq[ga] - 2 * c[b[self.i]] + 1 - 2 * c[b[self.j]] + 1
        self.cross = np.where(self.same, self.na ** 2 - held, self.na * self.nb)
        self.predictable = (self.na > 0) & (self.nb > 0) & (self.cross > 0)
        pairs = [(a, b) for a, b in combinations(range(len(self.labels)), 2)]
        self.ga_pairs = np.array([a for a, _ in pairs], dtype=int)
        self.gb_pairs = np.array([b for _, b in pairs], dtype=int)

    def vectors(self, fails: np.ndarray) -> np.ndarray:
        """(models + groups + blocks + 1, images): failure indicators, per-group and per-block failure counts,
        ones."""
        f = fails.astype(float)
        groups = np.stack([f[self.g == k].sum(0) for k in range(len(self.labels))])
        blocks = np.stack([f[self.b == k].sum(0) for k in range(len(self.block_labels))])
        return np.concatenate([f, groups, blocks, np.ones((1, f.shape[1]))])

    def stats(self, v: np.ndarray) -> dict[str, float]:
        """The quantities on the images of ``v`` (``vectors``)."""
        return self.from_gram(v @ v.T / v.shape[1])

    def from_gram(self, gram: np.ndarray) -> dict[str, float]:
        """The quantities from the Gram matrix of ``vectors`` divided by the number of images."""
        m, k = self.n_models, len(self.labels)
        one = m + k + len(self.block_labels)
        fi, fj = self.i, self.j
        sa, sb = m + self.g[fi], m + self.g[fj]
        p = gram[:m, one]
        obs = gram[fi, fj]
        excess = obs - p[fi] * p[fj]
        out = {"excess_gap": 100 * (excess[~self.same].mean() - excess[self.same].mean())
               if self.same.any() and (~self.same).any() else math.nan}
        # Cov(θ_A, θ_B) between groups, θ_A = S_A / n_A
        if len(self.ga_pairs):
            a, b = m + self.ga_pairs, m + self.gb_pairs
            na, nb = self.size[self.ga_pairs], self.size[self.gb_pairs]
            cov = gram[a, b] / (na * nb) - gram[a, one] * gram[b, one] / (na * nb)
            out["cov_between"] = float(cov.mean())
        else:
            out["cov_between"] = math.nan
        keys = ("lm_bias", "independence_bias", "lm_error", "independence_error", "prediction_gain")
        q = self.predictable
        if not q.any():
            return {**out, **dict.fromkeys(keys, math.nan)}
        fi, fj, sa, sb, same, cross = fi[q], fj[q], sa[q], sb[q], self.same[q], self.cross[q]
        bi, bj = m + k + self.b[fi], m + k + self.b[fj]
        pi, pj = p[fi], p[fj]
        # another group: θ'_A = (S_A − f_i) / n'_A, θ'_B = (S_B − f_j) / n'_B, both from disjoint models
        apart = gram[sa, sb] - gram[sa, fj] - gram[fi, sb] + gram[fi, fj]  # <S_A − f_i, S_B − f_j>
        apart_ind = (gram[sa, one] - pi) * (gram[sb, one] - pj)
        # one group: Σ over ordered pairs of held-out models from different blocks = S'² − Σ_blocks B'²,
        # S' = S_A − f_i − f_j, B' the block counts less f_i (i's block) and f_j (j's block); f² = f
        shared = (gram[sa, sa] - 2 * gram[sa, fi] - 2 * gram[sa, fj] + gram[fi, fi] + gram[fj, fj]
                  + 2 * gram[fi, fj])  # <S', S'>
        blocks = m + k + np.arange(len(self.block_labels))
        bsq = np.bincount(self.block_group, weights=np.diagonal(gram)[blocks], minlength=k)
        b2 = bsq[self.g[fi]] - 2 * gram[bi, fi] + pi - 2 * gram[bj, fj] + pj  # Σ_blocks <B', B'>
        pb = gram[blocks, one]
        psq = np.bincount(self.block_group, weights=pb ** 2, minlength=k)
        p2 = psq[self.g[fi]] - gram[bi, one] ** 2 - gram[bj, one] ** 2 + (gram[bi, one] - pi) ** 2 \
            + (gram[bj, one] - pj) ** 2  # Σ_blocks (Σ of the block's held-out P)²
        s1 = gram[sa, one] - pi - pj
        lm = np.where(same, shared - b2, apart) / cross
        ind = np.where(same, s1 ** 2 - p2, apart_ind) / cross
        o = gram[fi, fj]
        out["lm_bias"] = 100 * float((o - lm).mean())
        out["independence_bias"] = 100 * float((o - ind).mean())
        out["lm_error"] = 100 * float(np.abs(o - lm).mean())
        out["independence_error"] = 100 * float(np.abs(o - ind).mean())
        out["prediction_gain"] = out["independence_error"] - out["lm_error"]
        return out

    def deviations(self, fails: np.ndarray) -> np.ndarray:
        """float32 (predictable pairs, images): per image, f_i f_j − the LM prediction θ'_A θ'_B (for two models of
        one group: the mean over pairs of its other models from different blocks) — the mean over images is
        observed − LM of ``from_gram``, and the prediction of each image is fixed whatever images are drawn, so a
        bootstrap replicate of every pair's error is one weighted mean."""
        f = fails.astype(np.float32)
        k = len(self.labels)
        s = np.stack([f[self.g == g].sum(0) for g in range(k)])
        b = np.stack([f[self.b == c].sum(0) for c in range(len(self.block_labels))])
        bb = np.stack([(b[self.block_group == g] ** 2).sum(0) for g in range(k)])
        q = self.predictable
        i, j, same, cross = self.i[q], self.j[q], self.same[q], self.cross[q].astype(np.float32)
        out = np.empty((len(i), f.shape[1]), np.float32)
        for lo in range(0, len(i), 256):
            sl = slice(lo, lo + 256)
            fi, fj, sa, sb = f[i[sl]], f[j[sl]], s[self.g[i[sl]]], s[self.g[j[sl]]]
            bi, bj = b[self.b[i[sl]]], b[self.b[j[sl]]]
            rest = sa - fi - fj
            b2 = bb[self.g[i[sl]]] - bi ** 2 - bj ** 2 + (bi - fi) ** 2 + (bj - fj) ** 2
            pred = np.where(same[sl, None], rest ** 2 - b2, (sa - fi) * (sb - fj)) / cross[sl, None]
            out[sl] = fi * fj - pred
        return out


BCA_KEYS = ("prediction_gain",)  # a difference of mean absolute errors: see ``lm_estimates``


def _one_blas_thread():
    """Small matrix products run fastest on one BLAS thread; several, on a busy machine, run up to 100× slower."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # a dependency of scikit-learn; without it, the BLAS's own default
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def bca_interval(samples: Sequence[float], value: float, jackknife: Sequence[float], unit: str, n: int,
                 level: float = LEVEL) -> Estimate:
    """Bias-corrected and accelerated (BCa) interval from bootstrap ``samples`` and the ``jackknife`` (leave one
    unit out) values of the statistic — the interval ``scipy.stats.bootstrap(method="BCa")`` computes, for a
    statistic whose jackknife is cheaper to get in closed form than by calling it once per unit."""
    from scipy.special import ndtr, ndtri

    s = np.asarray(samples, dtype=float)
    s = s[np.isfinite(s)]
    jack = np.asarray(jackknife, dtype=float)
    if len(s) < 20 or not np.isfinite(value) or not np.isfinite(jack).all():
        return Estimate(float(value), math.nan, math.nan, unit, n)
    below = ((s < value).sum() + (s <= value).sum()) / (2 * len(s))  # scipy's percentile of the estimate
    z0 = ndtri(np.clip(below, 0.5 / len(s), 1 - 0.5 / len(s)))
    d = jack.mean() - jack
    a = float((d ** 3).sum() / (6 * (d ** 2).sum() ** 1.5)) if (d ** 2).sum() > 0 else 0.0
    z = ndtri(np.array([(1 - level) / 2, (1 + level) / 2]))
    alpha = ndtr(z0 + (z0 + z) / (1 - a * (z0 + z)))
    lo, hi = np.percentile(s, 100 * alpha)
    return Estimate(float(value), float(lo), float(hi), unit, n)


def lm_estimates(fails: np.ndarray, groups: Sequence[str], n_boot: int = 2000, seed: int = 0,
                 sets: Sequence[int] | None = None, blocks: Sequence[str] | None = None,
                 bca: Sequence[str] = BCA_KEYS) -> dict[str, Estimate]:
    """The ``LMStats`` quantities averaged over ``sets`` (default: all) of ``fails`` (models, sets, images),
    each with a 95 % interval over images (one draw shared by every set's images: they are the same images):
    percentile intervals, except BCa (``bca_interval``, the jackknife from leave-one-image-out Gram matrices) for
    the quantities in ``bca`` — by default the claims' ``prediction_gain``, a difference of mean *absolute*
    errors: sampling noise inflates each, the LM's (near the noise level) most, and the bootstrap's replicates
    more than the estimate, so a percentile interval sits beside the estimate. The mean absolute errors
    themselves are reported nowhere: where the noise dominates (the LM's) even BCa degenerates (the estimate lies
    below almost every replicate); ``lm_deviation`` measures that error beyond the noise."""
    lm = LMStats(groups, blocks)
    sets = list(range(fails.shape[1])) if sets is None else list(sets)
    vs = [lm.vectors(fails[:, s]) for s in sets]
    n = vs[0].shape[1]

    def mean_of(per: list[dict[str, float]]) -> dict[str, float]:
        return {k: float(np.mean([p[k] for p in per])) for k in per[0]}

    def stat(idx: np.ndarray | None) -> dict[str, float]:
        return mean_of([lm.stats(v if idx is None else v[:, idx]) for v in vs])

    with _one_blas_thread():
        point = stat(None)
        rng = np.random.default_rng(seed)
        boots = [stat(rng.integers(0, n, n)) for _ in range(n_boot)]
        out = {k: interval([b[k] for b in boots], point[k], "images", n) for k in point}
        keys = [k for k in bca if k in point and np.isfinite(point[k])]
        if keys and n > 2:
            grams = [v @ v.T for v in vs]  # unnormalised: leaving image x out subtracts v_x v_xᵀ
            jack = [mean_of([lm.from_gram((g - np.outer(v[:, x], v[:, x])) / (n - 1)) for g, v in zip(grams, vs)])
                    for x in range(n)]
            for k in keys:
                out[k] = bca_interval([b[k] for b in boots], point[k], [j[k] for j in jack], "images", n)
    return out


def lm_deviation(fails: np.ndarray, groups: Sequence[str], n_boot: int = 1000, seed: int = 0,
                 sets: Sequence[int] | None = None, blocks: Sequence[str] | None = None,
                 level: float = LEVEL) -> tuple[Estimate, float]:
    """How far single pairs of models stray from the LM prediction beyond what the finite test set explains: the
    root of the mean over pairs (and ``sets``) of (observed − LM)² − s²/n, s² the variance of the pair's
    per-image error (``LMStats.deviations``) — an unbiased estimate of the mean squared *expected* deviation, in
    pp; and the test-set noise √(mean s²/n) (pp) beside it.

    The interval: images resampled; a replicate of the unbiased estimator is centred on the plug-in mean (obs −
    LM)² of the sample rather than on the estimate, so the interval adds the replicates' deviations from that
    plug-in to the estimate (of the mean square), then takes roots, clipped at 0. (The mean over pairs of the
    *signed* error is ≈ 0 by construction — every pair's prediction averages other pairs of the same models; 0
    exactly when every model is its own block or the blocks are alike — and the mean |obs − LM| is biased upward
    by the noise, the bootstrap's replicates more still.)"""
    lm = LMStats(groups, blocks)
    sets = list(range(fails.shape[1])) if sets is None else list(sets)
    devs = [lm.deviations(fails[:, s]) for s in sets]
    n = fails.shape[-1]
    if not len(devs[0]) or n < 3:
        return Estimate(math.nan, math.nan, math.nan, "images", n), math.nan

    def moments(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per column of weights w (images, draws; columns sum to 1): mean over sets and pairs of d² and of s²/n."""
        d2, noise = 0.0, 0.0
        for dev in devs:
            d = (dev @ w).astype(float)
            s2 = (((dev * dev) @ w).astype(float) - d ** 2) * n / (n - 1)
            d2, noise = d2 + (d ** 2).mean(0), noise + (s2 / n).mean(0)
        return d2 / len(devs), noise / len(devs)

    with _one_blas_thread():
        d2, noise = moments(np.full((n, 1), 1.0 / n, np.float32))
        point = float(d2[0] - noise[0])
        rng = np.random.default_rng(seed)
        reps = []
        for lo in range(0, n_boot, 100):
            w = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(min(100, n_boot - lo))], 1)
            bd2, bnoise = moments((w / n).astype(np.float32))
            reps.append(bd2 - bnoise)
    root = lambda x: 100 * math.sqrt(max(float(x), 0.0))  # noqa: E731
    noise_rms = 100 * math.sqrt(float(noise[0]))
    if n_boot < 20:
        return Estimate(root(point), math.nan, math.nan, "images", n), noise_rms
    err = np.concatenate(reps) - float(d2[0])
    lo, hi = np.percentile(point + err, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return Estimate(root(point), root(lo), root(hi), "images", n), noise_rms


def lm_table(ds: xr.Dataset, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """The Littlewood–Miller quantities per set for the zoo's architecture families and for the training
    heuristics, with 95 % intervals over images: how much more pairs of different methodologies fail together
    beyond independence than pairs of one, the covariance of different methodologies' θ, how much independence
    under-predicts each pair's coincident failures on average (observed − E[θ'_A] E[θ'_B], mean over held-out
    pairs), and how far single pairs stray from the LM prediction beyond test-set noise (``lm_deviation``, with
    the noise beside it). The LM prediction's mean signed error is ≈ 0 by construction and its mean absolute error
    is mostly noise (biased upward; a percentile interval of it can miss its own estimate), so neither is shown."""
    rows = []
    for label, (fails, names, groups) in (("architecture families (zoo)", zoo_failures(ds)),
                                          ("training heuristics (members)", method_failures(ds))):
        if len(set(groups)) < 2:
            continue
        for j, s in enumerate(ds["set"].values):
            est = lm_estimates(fails, groups, n_boot, seed, sets=[j], blocks=blocks_of(names), bca=())
            dev, noise = lm_deviation(fails, groups, n_boot, seed, sets=[j], blocks=blocks_of(names))
            rows.append({"methodologies": label, "set": str(s),
                         "excess, different − same (pp)": est["excess_gap"].text(".2f"),
                         "Cov(θ_A, θ_B) between": est["cov_between"].text(".3f"),
                         "obs − independence, mean over pairs (pp)": est["independence_bias"].text(".2f"),
                         "obs − LM beyond test-set noise, RMS over pairs (pp)": dev.text(".2f"),
                         "test-set noise, RMS (pp)": round(noise, 2)})
    return pd.DataFrame(rows).set_index(["methodologies", "set"])


def methodologies(ds: xr.Dataset) -> list[tuple[np.ndarray, list[str], str]]:
    """(failures (models, sets, images), design group of each model, kind) of the zoo's architecture families
    ("family") and of the training heuristics' members ("heuristic")."""
    (zf, _, zg), (mf, _, mg) = zoo_failures(ds), method_failures(ds)
    return [(zf, zg, "family"), (mf, mg, "heuristic")]


def _difficulties(groups_of: list[tuple[np.ndarray, list[str], str]], j: int) -> pd.DataFrame:
    from sat_lib.measures.theory import difficulty_functions

    cols = {}
    for fails, groups, _ in groups_of:
        for g in dict.fromkeys(groups):
            sel = np.array([x == g for x in groups])
            cols[g] = difficulty_functions(fails[sel, j]).numpy()
    return pd.DataFrame(cols)


def difficulty_frame(ds: xr.Dataset, set_name: str = CLEAN) -> pd.DataFrame:
    """θ(x) of every methodology on one set (columns: families, then heuristics), one row per image."""
    th = _difficulties(methodologies(ds), list(ds["set"].values).index(set_name))
    return th.set_index(pd.Index(ds["image"].values, name="image"))


def coincidence_frame(ds: xr.Dataset) -> pd.DataFrame:
    """Every pair of methodologies (A, B, A ≠ B and A = B) on every set: P(both fail) = E[θ_A θ_B], its
    independence part E[θ_A] E[θ_B] and Cov(θ_A, θ_B) (``sat_lib.measures.theory.coincident_failure``)."""
    import torch

    from sat_lib.measures.theory import coincident_failure

    groups_of = methodologies(ds)  # the failures once, for every set
    kinds = {g: kind for _, groups, kind in groups_of for g in groups}
    rows = []
    for j, s in enumerate(ds["set"].values):
        th = _difficulties(groups_of, j)
        for a, b in [(a, b) for a in th.columns for b in th.columns if a <= b and kinds[a] == kinds[b]]:
            c = coincident_failure(torch.tensor(th[a].to_numpy()), torch.tensor(th[b].to_numpy()))
            rows.append({"set": str(s), "kind": kinds[a], "A": a, "B": b, "same": a == b,
                         "p_both": c.p_both, "independent": c.independent, "covariance": c.covariance})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------------- claims

def _gncl_methods(ds: xr.Dataset) -> list[str]:
    return [m for m in methods(ds) if m.startswith("gncl")]


def claim_estimates(ds: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> list[tuple[str, str, Estimate]]:
    """(key, what is estimated, estimate) per claims-table row."""
    out: list[tuple[str, str, Estimate]] = []
    names = list(ds["set"].values)
    corr = [j for j, s in enumerate(names) if s != CLEAN]
    have = set(methods(ds))
    if "independent" in have:
        base = ensemble_correct(ds, "independent")
        for m in _gncl_methods(ds):
            out.append(("gncl_no_resilience_gain", m, difference(ensemble_correct(ds, m)[:, corr], base[:, corr],
                                                                 n_boot, seed)))
    gncl = _gncl_methods(ds)
    if gncl and any(m.startswith("balanced") for m in have):
        bal = ensemble_correct(ds, next(m for m in methods(ds) if m.startswith("balanced")))
        pooled = [ensemble_correct(ds, m) for m in gncl]
        for j in corr:
            est = seeds_images([bal[:, j], *[p[:, j] for p in pooled]],
                               lambda x: 100 * (_mean(x[0]) - np.mean([_mean(p) for p in x[1:]])), n_boot, seed)
            out.append(("balanced_more_resilient", str(names[j]), est))
    att, pred = role_method(ds, "attribution"), role_method(ds, "prediction")
    if {att, pred} <= have:
        j0 = names.index(CLEAN)
        out.append(("attribution_loss_costs_accuracy", "",
                    difference(ensemble_correct(ds, att)[:, j0], ensemble_correct(ds, pred)[:, j0], n_boot, seed)))
        hp, cp = equitability(ds, pred), ensemble_correct(ds, pred, "average")
        hh, ch = equitability(ds, HETEROGENEOUS), ensemble_correct(ds, HETEROGENEOUS, "average")
        ha, ca = equitability(ds, att), ensemble_correct(ds, att, "average")

        def gap(correct: bool, cols: list[int]):
            return lambda x: float(np.mean([_split_mean(x[0][:, j], x[1][:, j], correct)
                                            - _split_mean(x[2][:, j], x[3][:, j], correct) for j in cols]))

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
                    _seed_difference(cka_means(ds, att), cka_means(ds, pred), n_boot, seed)))
        out.append(("attribution_loss_less_layer_similarity_than_hetero", "",
                    _seed_difference(cka_means(ds, att), cka_means(ds, HETEROGENEOUS), n_boot, seed)))
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


def claims_table(ds: xr.Dataset, cfg=None, n_boot: int | None = None, seed: int = 0) -> pd.DataFrame:
    """The paper's Sec. 4.3 and Sec. 3.1 claims beside ours, one row per estimate, verdicts by the shared rule
    (``sat_lib.claims.verdict``); every key of the claims file appears, one this result cannot estimate as an
    inconclusive row."""
    n_boot = n_boot or (cfg.n_boot if cfg is not None else 2000)
    return _claims_table(ds, n_boot, seed)


def _claims_table(ds: xr.Dataset, n_boot: int, seed: int) -> pd.DataFrame:
    claims = paper_claims(CHAPTER)["claims"]
    found = claim_estimates(ds, n_boot, seed)
    rows = []
    for key, c in claims.items():
        mine = [(where, e) for k, where, e in found if k == key] or [("", _nan())]
        for where, e in mine:
            what = f"{c['what']} — {where}" if where else c["what"]
            rows.append(claim_row(what, c["statement"], e, claim_verdict(c, e), c["where"], c.get("fmt", ".2f"), key=key))
    return pd.DataFrame(rows)


def discussion(ds: xr.Dataset, table: pd.DataFrame) -> str:
    """A few sentences computed from the result and its claims table: how strong the models are beside the
    paper's, how the attribution loss trained seed by seed, and the verdict counts."""
    t2 = paper_claims(CHAPTER)["table2"]["accuracy"]
    j = list(ds["set"].values).index(CLEAN)
    clean = {m: 100 * ensemble_correct(ds, m)[:, j].mean(-1) for m in [*methods(ds), HETEROGENEOUS]}
    role = {r: role_method(ds, r) for r in ("prediction", "attribution")}
    trained = [m for m in methods(ds) if m != role["attribution"]]
    members = 100 * np.nanmean(np.concatenate([member_correct(ds, m)[:, :, j].ravel() for m in trained]))
    seeds = ", ".join(f"{v:.1f} %" for v in clean[role["attribution"]])
    counts = verdict_counts(table)
    return "\n\n".join([
        f"**Accuracy first.** The members of the {len(trained)} heuristics other than Eq. 8 reach {members:.1f} % "
        f"on the clean test images and their ensembles {np.mean([clean[m].mean() for m in trained]):.1f} %; the "
        f"heterogeneous ensemble {clean[HETEROGENEOUS].mean():.1f} %. The paper's ImageNet ensembles: "
        f"{t2['prediction']} % (prediction diversity), {t2['heterogeneous']} % (heterogeneous).",
        f"**The attribution loss (Eq. 8)** gave ensembles of {seeds} clean accuracy, seed by seed (the paper: "
        f"{t2['attribution']} %, with training instabilities); {int(ds['diverged'].sum())} training(s) stopped on a "
        "non-finite loss.",
        lm_discussion(ds, table),
        f"**Verdicts:** {counts['agrees']} rows agree, {counts['disagrees']} disagree, {counts['inconclusive']} are "
        f"inconclusive, of {len(table)}."])


def lm_point(ds: xr.Dataset, kind: str, j: int) -> dict[str, float]:
    """The ``LMStats`` quantities of one kind of methodology ("family": the zoo's; "heuristic": the trained
    members) on set ``j``, on every image (no interval)."""
    fails, names, groups = zoo_failures(ds) if kind == "family" else method_failures(ds)
    lm = LMStats(groups, None if kind == "family" else blocks_of(names))
    with _one_blas_thread():
        return lm.stats(lm.vectors(fails[:, j]))


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
    counts = verdict_counts(rows)
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
    return (f"**The Littlewood–Miller model.** Of the {len(rows)} LM rows of the claims table, {counts['agrees']} "
            f"agree with the paper, {counts['disagrees']} disagree and {counts['inconclusive']} are inconclusive. The "
            "paper's argument for design diversity needs methodologies whose difficulty functions are *negatively* "
            "correlated. " + " ".join(sentences) + " " + meaning)


def verdict_counts(table: pd.DataFrame) -> dict[str, int]:
    return {v: int((table["verdict"] == v).sum()) for v in ("agrees", "disagrees", "inconclusive")}


__all__ = ["accuracy_table", "accuracy_frame", "versus_table", "training_table", "equitability_table",
           "attribution_table", "cka_table", "lm_table", "coincidence_frame", "difficulty_frame", "claims_table",
           "claim_estimates", "seeds_images", "difference", "LMStats", "lm_estimates", "own_rule", "methods",
           "verdict_counts", "discussion", "lm_discussion", "lm_deviation", "bca_interval", "resilience_table",
           "compute_minutes"]
