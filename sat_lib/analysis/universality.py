"""Analyses of the universality chapter (robustness-and-universality paper, CIFAR-10 part).

The unit of every interval is the *architecture*: pairs share architectures, so a bootstrap resample draws
architectures with replacement and keeps the pairs of two different drawn ones (``pair_mean``); a difference
between two ε levels is paired — the same drawn architectures at both levels. On inverted images a pair (A, B) is
scored on A's and on B's inverted images, as the paper does; a pair's value is the mean of the two.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import xarray as xr

from sat_lib.claims import paper_claims
from sat_lib.claims.verdict import Estimate, claim_row, claim_verdict, resample

# the measures of the chapter: result variable → label
REGULAR = {"agreement": "regular_agreement", "jsd": "regular_jsd"}
INVERTED = {"agreement": "inverted_agreement", "jsd": "inverted_jsd", "cka": "inverted_cka",
            "procrustes": "inverted_procrustes", "jaccard": "inverted_jaccard"}
LABELS = {"agreement": "agreement", "jsd": "JSDSim", "cka": "linear CKA", "procrustes": "ProcrustesSim",
          "jaccard": "k-NN Jaccard"}
UNIT = "architectures"


def members(ds: xr.Dataset, setting: str) -> list[str]:
    """The architectures a setting holds (the subset setting may hold fewer)."""
    acc = ds["accuracy"].sel(setting=setting)
    return [m for m in ds["model"].values if np.isfinite(acc.sel(model=m).values).all()]


def pair_matrix(ds: xr.Dataset, setting: str, eps: float, measure: str, images: str = "inverted",
                k: int | None = None) -> tuple[np.ndarray, list[str]]:
    """(m, m) matrix of one measure between the setting's architectures at one ε: on regular test images, or the
    mean over the pair's two sets of inverted images."""
    names = members(ds, setting)
    if images == "regular":
        m = ds[REGULAR[measure]].sel(setting=setting, eps=eps, model=names, model_b=names).values
        return m, names
    da = ds[INVERTED[measure]].sel(setting=setting, eps=eps, model=names, model_b=names, source=names)
    if measure == "jaccard":
        da = da.sel(k=k if k is not None else int(ds["k"].values[0]))
    v = da.values  # (source, model, model_b)
    n = len(names)
    out = np.full((n, n), np.nan)
    for a in range(n):
        for b in range(n):
            if a != b:
                out[a, b] = (v[a, a, b] + v[b, a, b]) / 2
    return out, names


def pair_mean(matrix: np.ndarray, idx: np.ndarray) -> float:
    """Mean of ``matrix`` over the pairs of two different architectures among the drawn indices ``idx``."""
    a, b = np.triu_indices(len(idx), 1)
    i, j = idx[a], idx[b]
    keep = i != j
    return float(np.nanmean(matrix[i[keep], j[keep]])) if keep.any() else math.nan


def pair_values(matrix: np.ndarray) -> np.ndarray:
    """The values of the unordered pairs (upper triangle) — one box of a box plot."""
    return matrix[np.triu_indices(len(matrix), 1)]


def fort_bounds(ds: xr.Dataset, setting: str, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) Fort et al. bounds on the agreement of each pair, from the two test accuracies."""
    from sat_lib.measures import agreement_bounds

    names = members(ds, setting)
    acc = ds["accuracy"].sel(setting=setting, eps=eps, model=names).values
    n = len(names)
    lo, hi = np.full((n, n), np.nan), np.full((n, n), np.nan)
    for a in range(n):
        for b in range(n):
            if a != b:
                lo[a, b], hi[a, b] = agreement_bounds(float(acc[a]), float(acc[b]))
    return lo, hi


def mean_estimate(matrix: np.ndarray, n_boot: int = 2000, seed: int = 0) -> Estimate:
    n = len(matrix)
    return resample(lambda idx: pair_mean(matrix, idx), n, unit=UNIT, n_resamples=n_boot, seed=seed)


def difference_estimate(hi: np.ndarray, lo: np.ndarray, n_boot: int = 2000, seed: int = 0) -> Estimate:
    """Mean over pairs of ``hi`` minus that of ``lo`` (same architectures), resampling architectures."""
    n = len(hi)
    return resample(lambda idx: pair_mean(hi, idx) - pair_mean(lo, idx), n, unit=UNIT, n_resamples=n_boot,
                    seed=seed)


def robustness_change(ds: xr.Dataset, setting: str, measure: str, images: str = "inverted",
                      k: int | None = None, n_boot: int = 2000, seed: int = 0) -> Estimate:
    """The measure at the largest ε minus at the smallest (ε = 0), paired over architectures."""
    eps = sorted(float(e) for e in ds["eps"].values)
    top, _ = pair_matrix(ds, setting, eps[-1], measure, images, k)
    base, _ = pair_matrix(ds, setting, eps[0], measure, images, k)
    return difference_estimate(top, base, n_boot, seed)


def pair_estimates(ds: xr.Dataset, setting: str, images: str, measure: str, k: int | None = None,
                   n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """One row per ε: the pairs' mean with its 95 % interval over architectures (``mean_estimate``), the spread of
    the pairs (min, max) and their number — the statistic every similarity figure overlays on its boxes and the
    summary table lists. ε levels without a finite pair are left out."""
    rows = []
    for e in ds["eps"].values:
        mat, _ = pair_matrix(ds, setting, float(e), measure, images, k)
        vals = pair_values(mat)
        vals = vals[np.isfinite(vals)]
        if not len(vals):
            continue
        est = mean_estimate(mat, n_boot, seed)
        rows.append({"eps": float(e), "mean": est.value, "low": est.low, "high": est.high,
                     "min": float(vals.min()), "max": float(vals.max()), "pairs": len(vals)})
    return pd.DataFrame(rows, columns=["eps", "mean", "low", "high", "min", "max", "pairs"])


def summary(ds: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Long table: setting, ε, images (regular / inverted), measure, k, the pairs' mean with its 95 % interval
    over architectures and the spread of the pairs (min, max): what every figure of the chapter plots."""
    frames = []
    for setting in ds["setting"].values:
        combos = [("inverted", m, None) for m in INVERTED if m != "jaccard"]
        combos += [("inverted", "jaccard", int(k)) for k in ds["k"].values]
        if setting != "ood":
            combos = [("regular", m, None) for m in REGULAR] + combos
        for images, measure, k in combos:
            f = pair_estimates(ds, str(setting), images, measure, k, n_boot, seed)
            frames.append(f.assign(setting=str(setting), images=images, measure=measure,
                                   k=k if k is not None else 0))
    cols = ["setting", "eps", "images", "measure", "k", "mean", "low", "high", "min", "max", "pairs"]
    out = pd.concat(frames, ignore_index=True)[cols]
    order = {s: i for i, s in enumerate(ds["setting"].values)}
    return out.sort_values(["setting", "eps"], key=lambda c: c.map(order) if c.name == "setting" else c,
                           kind="stable").reset_index(drop=True)


def pairs_long(ds: xr.Dataset, setting: str, images: str, measure: str, k: int | None = None) -> pd.DataFrame:
    """One row per (ε, pair): the values a box plot draws."""
    rows = []
    for e in ds["eps"].values:
        mat, names = pair_matrix(ds, setting, float(e), measure, images, k)
        i, j = np.triu_indices(len(names), 1)
        for a, b in zip(i, j):
            if np.isfinite(mat[a, b]):
                rows.append({"eps": float(e), "pair": f"{names[a]} · {names[b]}", "value": float(mat[a, b])})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------ models (Table 4)

def model_table(ds: xr.Dataset, setting: str = "full") -> pd.DataFrame:
    """Table 4, ours: per architecture and ε, parameters, clean and adversarial accuracy (%), epochs and seconds
    of training, the layout, and the inversion's median relative representation distance (start → final)."""
    rows = []
    for m in members(ds, setting):
        for e in ds["eps"].values:
            d = ds.sel(setting=setting, eps=e, model=m)
            rows.append({"architecture": m, "eps": float(e), "params (M)": float(d["n_params"]) / 1e6,
                         "accuracy (%)": 100 * float(d["accuracy"]),
                         "adversarial accuracy (%)": 100 * float(d["adv_accuracy"]),
                         "attacked at ε": float(d["adversarial_eval_eps"]),
                         "epochs": int(d["epochs"]), "train s": float(d["train_seconds"]),
                         "inversion distance": f"{float(d['start_distance']):.2f} → {float(d['final_distance']):.2f}",
                         "layout": str(d["layout"].values)})
    return pd.DataFrame(rows).set_index(["architecture", "eps"])


def paper_table4() -> pd.DataFrame:
    """The paper's Table 4 as printed: accuracy and adversarial accuracy (%) per architecture and ε."""
    t = paper_claims("universality")["table4"]
    rows = []
    for name, r in t["rows"].items():
        for e, acc, adv in zip(t["eps"], r["acc"], r["adv"]):
            rows.append({"architecture": name, "eps": float(e), "params": r["params"], "accuracy (%)": acc,
                         "adversarial accuracy (%)": adv})
    return pd.DataFrame(rows).set_index(["architecture", "eps"])


def accuracy_estimate(ds: xr.Dataset, var: str, eps: float, setting: str = "full", n_boot: int = 2000,
                      seed: int = 0) -> Estimate:
    """Mean ``var`` (``accuracy`` or ``adv_accuracy``, in %) over the setting's architectures at ``eps``, with a
    95 % interval over architectures."""
    from sat_lib.claims.verdict import bootstrap

    v = 100 * ds[var].sel(setting=setting, eps=eps, model=members(ds, setting)).values
    return bootstrap(v, np.mean, unit=UNIT, n_resamples=n_boot, seed=seed)


def paper_accuracy(eps: float, column: str = "adversarial accuracy (%)") -> pd.Series:
    """The paper's seven CNNs' ``column`` of Table 4 at ``eps`` (empty when the paper has no such ε)."""
    t = paper_table4()
    return t.xs(float(eps), level="eps")[column] if float(eps) in t.index.get_level_values("eps") \
        else pd.Series(dtype=float)


def accuracy_by_eps(ds: xr.Dataset, setting: str = "full", n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Mean clean and adversarial accuracy per ε, ours with a 95 % interval over architectures, beside the mean
    of the paper's seven CNNs (and their range)."""
    paper = paper_table4()
    rows = []
    for e in ds["eps"].values:
        row = {"eps": float(e)}
        for col, var in (("accuracy (%)", "accuracy"), ("adversarial accuracy (%)", "adv_accuracy")):
            row[f"ours: {col}"] = accuracy_estimate(ds, var, float(e), setting, n_boot, seed).text(".1f")
            p = paper.xs(float(e), level="eps")[col] if float(e) in paper.index.get_level_values("eps") else None
            row[f"paper: {col}"] = "—" if p is None else f"{p.mean():.1f} ({p.min():.1f}–{p.max():.1f})"
        rows.append(row)
    return pd.DataFrame(rows).set_index("eps")


def at_effect(ds: xr.Dataset, var: str, eps: float, n_boot: int = 2000, seed: int = 0,
              base: float = 0.0) -> Estimate:
    """Per-architecture ``var`` at ``eps`` minus at ``base`` (ε = 0 unless given; percentage points), mean with an
    interval over architectures."""
    from sat_lib.claims.verdict import bootstrap

    names = members(ds, "full")
    d = 100 * (ds[var].sel(setting="full", eps=eps, model=names).values
               - ds[var].sel(setting="full", eps=base, model=names).values)
    return bootstrap(d, np.mean, unit=UNIT, n_resamples=n_boot, seed=seed)


def inverted_images(ds: xr.Dataset, setting: str) -> int:
    """How many inverted images each model of ``setting`` has (the k-NN graphs' n)."""
    import json

    params = json.loads(ds.attrs["params_json"])
    return int(params["ood_images"] if setting == "ood" else params["n_images"])


def ood_difference(ds: xr.Dataset, measure: str, k: int | None = None, n_boot: int = 2000,
                   seed: int = 0) -> Estimate:
    """OOD minus in-distribution inverted-image similarity of the same pairs, averaged over ε, resampling
    architectures. For k-NN Jaccard each side is taken above its chance level (``chance_jaccard``): the OOD set
    may hold fewer images than the in-distribution one, and two unrelated neighbourhoods of k among fewer
    candidates overlap more."""
    mats_ood, mats_id = [], []
    for e in ds["eps"].values:
        mats_ood.append(pair_matrix(ds, "ood", float(e), measure, "inverted", k)[0])
        mats_id.append(pair_matrix(ds, "full", float(e), measure, "inverted", k)[0])
    with warnings.catch_warnings():  # the diagonal (no pair) is NaN at every ε
        warnings.simplefilter("ignore", RuntimeWarning)
        diff = np.nanmean(np.stack(mats_ood), 0) - np.nanmean(np.stack(mats_id), 0)
    if measure == "jaccard":
        diff = diff - (chance_jaccard(inverted_images(ds, "ood"), k) - chance_jaccard(inverted_images(ds, "full"), k))
    return mean_estimate(diff, n_boot, seed)


# ------------------------------------------------------------------------------------------ claims

def _nan() -> Estimate:
    return Estimate(math.nan, math.nan, math.nan, UNIT, 0)


def _params(ds: xr.Dataset) -> dict:
    """The parameters the stored result was computed with."""
    import json

    return json.loads(ds.attrs["params_json"])


def _config(ds: xr.Dataset):
    """The chapter's ``Config`` of the stored result (its attacks and training settings, rebuilt from the stored
    parameters)."""
    from sat_lib.experiments.universality import Config

    return Config.from_mapping(_params(ds))


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


def chance_jaccard(n: int, k: int) -> float:
    """Expected k-NN Jaccard of two unrelated neighbourhoods among n − 1 candidates (approximately: the mean
    hypergeometric overlap k²/(n − 1) put into the Jaccard ratio):
    the floor a reader compares Fig. 7 against (it grows with k / n)."""
    overlap = k * k / (n - 1)
    return overlap / (2 * k - overlap)


def subset_text(ds: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> str:
    """Which classes the subset setting drew, which architectures it trained, and how many pairs its intervals
    and verdicts rest on — with few architectures the bootstrap interval is little more than the pairs' range."""
    import json

    if "subset" not in set(ds["setting"].values):
        return "No subset setting in this result (`subset_classes = 0`)."
    names = json.loads(ds.attrs.get("subset_class_names", "[]"))
    archs = members(ds, "subset")
    n_pairs = len(archs) * (len(archs) - 1) // 2
    text = (f"Classes drawn: {', '.join(names)} (chance accuracy {100 / len(names):.0f} %); architectures: "
            f"{', '.join(archs)}. Their accuracies at every ε, beside the same architectures on all classes, follow "
            "the figure.")
    k = int(ds["k"].values[0])
    rows = pd.concat([pair_estimates(ds, "subset", "inverted", m, k if m == "jaccard" else None, n_boot, seed)
                      for m in ("cka", "procrustes", "jaccard")], ignore_index=True)
    same = int((np.isclose(rows["low"], rows["min"]) & np.isclose(rows["high"], rows["max"])).sum())
    keys = [key for key in paper_claims("universality")["claims"] if key.startswith("subset_")]
    text += (f"\n\n**{len(archs)} architectures, {n_pairs} pairs.** Every box of this setting holds {n_pairs} pairs, "
             f"and its 95 % interval resamples {len(archs)} architectures: so few that a resample can only give "
             f"back a single pair's value or the mean of all pairs, and the interval is then the pairs' range — "
             f"it equals their min–max in {same} of the {len(rows)} (measure, ε) cells of the figure. Read these "
             f"intervals as the spread of {n_pairs} pairs, not as an estimate of a population; the verdicts "
             f"{', '.join(f'*{key}*' for key in keys)} rest on these {n_pairs} pairs.")
    return text


def subset_accuracy(ds: xr.Dataset) -> pd.DataFrame:
    """Clean and adversarial accuracy (%) at every ε of the subset setting's architectures, on the drawn classes
    and, for comparison, the same architectures trained on all classes (rows: architecture, training data)."""
    import json

    n = len(json.loads(ds.attrs.get("subset_class_names", "[]")))
    rows = {}
    for m in members(ds, "subset"):
        for setting, label in (("subset", f"{n} classes"), ("full", "all classes")):
            d = ds.sel(setting=setting, model=m)
            row = {}
            for var, col in (("accuracy", "accuracy (%)"), ("adv_accuracy", "adversarial accuracy (%)")):
                for e in ds["eps"].values:
                    row[(col, f"ε = {float(e):g}")] = 100 * float(d[var].sel(eps=e))
            rows[(m, label)] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.names = ["architecture", "trained on"]
    out.columns = pd.MultiIndex.from_tuples(out.columns)
    return out


def inversion_text(ds: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> str:
    """What the inversion achieved, read off the stored distances: each model's median relative distance at the
    seed and after the last step (their ranges per setting), and whether robust models ended farther from their
    targets than standard ones (most robust ε minus ε = 0, paired over architectures)."""
    from sat_lib.claims.verdict import bootstrap

    steps = int(_params(ds)["invert_steps"])
    parts = []
    for s in ds["setting"].values:
        start = ds["start_distance"].sel(setting=s).values.ravel()
        final = ds["final_distance"].sel(setting=s).values.ravel()
        ok = np.isfinite(start) & np.isfinite(final)
        start, final = start[ok], final[ok]
        if not len(start):
            continue
        share = final / start
        parts.append(f"{str(s)} ({len(start)} models): {start.min():.2f}–{start.max():.2f} at the seed, "
                     f"{final.min():.2f}–{final.max():.2f} after {steps} steps "
                     f"({100 * share.min():.0f}–{100 * share.max():.0f} % of the start; "
                     f"{int((final < start).sum())} of {len(start)} models moved closer)")
    text = ("Each model's median relative distance over its images, by setting — " + "; ".join(parts) + ".")
    eps = sorted(float(e) for e in ds["eps"].values)
    if len(eps) > 1:
        names = members(ds, "full")
        d = (ds["final_distance"].sel(setting="full", eps=eps[-1], model=names).values
             - ds["final_distance"].sel(setting="full", eps=eps[0], model=names).values)
        est = bootstrap(d, np.mean, unit=UNIT, n_resamples=n_boot, seed=seed)
        where = _direction(est, "farther from their targets than", "closer to their targets than",
                           "at no clearly different distance from their targets than")
        text += (f" After inversion, the most robust models (ε = {eps[-1]:g}) end {where} the standard ones: final "
                 f"median distance, ε = {eps[-1]:g} minus ε = {eps[0]:g}, {est.text('+.3f')} (paired over "
                 f"{est.n} {est.unit}, setting full).")
    return text


def training_recipes(ds: xr.Dataset) -> pd.DataFrame:
    """Each architecture's training recipe as it trained here — optimiser and weight decay of its zoo entry's
    recipe (``sat_lib.train.RECIPES``, unless the chapter's training config overrides the weight decay), batch
    size, label smoothing and the epochs it trained for — with the paper's recipe (Appendix A.4) as the last row."""
    from sat_lib.models import get_zoo
    from sat_lib.train import RECIPES

    cfg = _config(ds)
    tc = cfg.train
    zoo = get_zoo(cfg.zoo)
    rows = []
    for m in dict.fromkeys([*cfg.archs, *cfg.subset_names()]):
        entry = zoo[m]
        rec = RECIPES[entry.recipe]
        wd = tc.weight_decay if tc.weight_decay is not None else rec.weight_decay
        ep = ds["epochs"].sel(model=m).values
        ep = sorted({int(v) for v in ep[np.isfinite(ep)]})
        rows.append({"architecture": m, "optimiser": rec.optimizer, "weight decay": f"{wd:g} (every ε)",
                     "batch size": str(tc.batch_size), "label smoothing": f"{tc.label_smoothing:g}",
                     "epochs": "/".join(map(str, ep))})
    p = paper_claims("universality")["training"]
    rows.append({"architecture": "paper (A.4)", "optimiser": p["optimizer"],
                 "weight decay": f"{p['weight_decay_standard']:g} (ε = 0), {p['weight_decay_robust']:g} (ε > 0)",
                 "batch size": str(p["batch_size"]), "label smoothing": p["label_smoothing"],
                 "epochs": str(p["epochs"])})
    return pd.DataFrame(rows).set_index("architecture")


def recipe_text(ds: xr.Dataset) -> str:
    """The optimiser and weight decay of our recipes next to the paper's, in a sentence."""
    from sat_lib.models import get_zoo
    from sat_lib.train import RECIPES

    cfg = _config(ds)
    tc = cfg.train
    zoo = get_zoo(cfg.zoo)
    p = paper_claims("universality")["training"]
    groups: dict[tuple[str, str, float], list[str]] = {}
    for m in dict.fromkeys([*cfg.archs, *cfg.subset_names()]):
        rec_name = zoo[m].recipe
        rec = RECIPES[rec_name]
        wd = tc.weight_decay if tc.weight_decay is not None else rec.weight_decay
        groups.setdefault((rec_name, rec.optimizer, float(wd)), []).append(m)
    ours = []
    for (rec_name, opt, wd), names in groups.items():
        t = f"{', '.join(names)}: {opt}, weight decay {wd:g} at every ε"
        if "adamw" in opt.lower():
            t += " (AdamW's decay is decoupled from the gradient step, so it does not compare with SGD's)"
        else:
            std, rob = float(p["weight_decay_standard"]), float(p["weight_decay_robust"])
            vs_std = "the paper's value" if math.isclose(wd, std) else f"{wd / std:g}× the paper's"
            t += f" ({vs_std} for standard models, {wd / rob:g}× the paper's {rob:g} for robust ones)"
        ours.append(t)
    return (f"**Training recipe.** The paper (Appendix A.4) trains with {p['optimizer']}, weight decay "
            f"{p['weight_decay_standard']:g} for standard and {p['weight_decay_robust']:g} for robust models, batch "
            f"{p['batch_size']}, {p['epochs']} epochs. Ours (`sat_lib.train.RECIPES`, the zoo entry's recipe): "
            + "; ".join(ours) + f"; batch {tc.batch_size}, label smoothing {tc.label_smoothing:g}.")


def _epochs_text(ds: xr.Dataset, setting: str = "full") -> str:
    """The epochs our models trained for, e.g. "2" or "2–3"."""
    e = ds["epochs"].sel(setting=setting, model=members(ds, setting)).values
    e = e[np.isfinite(e)].astype(int)
    return f"{e.min()}" if e.min() == e.max() else f"{e.min()}–{e.max()}"


def _direction(est: Estimate, up: str = "rises", down: str = "falls", flat: str = "does not change clearly") -> str:
    """A direction read off an interval (the verdict rule's: the whole interval on one side of 0)."""
    if est.has_interval and est.low > 0:
        return up
    if est.has_interval and est.high < 0:
        return down
    return flat


def adversarial_gap_text(ds: xr.Dataset, table: pd.DataFrame | None = None, n_boot: int = 2000,
                         seed: int = 0) -> str:
    """Where our adversarial accuracies fall short of Table 4 and the likely reasons, as hypotheses: the
    evaluation attack, the models' size and training, label smoothing, the attack's precision — every number
    read from the stored result, its parameters and the paper's table."""
    cfg = _config(ds)
    eps = sorted(float(e) for e in ds["eps"].values)
    robust = [e for e in eps if e > 0]
    names = members(ds, "full")
    parts = ["**Adversarial accuracy: where we fall short of the paper.**"]
    if robust:
        ours = {e: accuracy_estimate(ds, "adv_accuracy", e, "full", n_boot, seed) for e in robust}
        paper = {e: paper_accuracy(e) for e in robust}
        seq = " → ".join(f"{ours[e].value:.1f}" for e in robust)
        pseq = " → ".join(f"{paper[e].mean():.1f}" if len(paper[e]) else "—" for e in robust)
        text = (f"Mean L2 PGD accuracy of our robust models at their own ε (ε = "
                f"{' → '.join(f'{e:g}' for e in robust)}): ours {seq} %, the paper's seven CNNs {pseq} %.")
        if len(robust) > 1:
            change = at_effect(ds, "adv_accuracy", robust[-1], n_boot, seed, base=robust[0])
            lo, hi = paper[robust[0]], paper[robust[-1]]
            text += (f" From ε = {robust[0]:g} to ε = {robust[-1]:g} ours {_direction(change)} "
                     f"({change.text('+.1f')} pp, paired over {change.n} {change.unit})")
            if len(lo) and len(hi):
                d = hi.mean() - lo.mean()
                text += f", the paper's mean {'rises' if d > 0 else 'falls'} ({d:+.1f} pp)"
            text += "."
        parts.append(text)
    std = standard_adversarial_accuracy(ds, n_boot, seed)
    if math.isfinite(std.value):
        claim = with_table4_value(paper_claims("universality")["claims"]["standard_adversarial_accuracy"])
        clean = accuracy_estimate(ds, "accuracy", 0.0, "full", n_boot, seed)
        verdict = ""
        if table is not None and "standard_adversarial_accuracy" in set(table["key"]):
            row = table.set_index("key").loc["standard_adversarial_accuracy"]
            verdict = f" (claims row *standard_adversarial_accuracy*: {row['verdict']})"
        parts.append(f"Our standard models keep {std.text('.1f')} % under attack at ε = "
                     f"{float(cfg.eval_eps0):g} — {100 * std.value / clean.value:.0f} % of their clean "
                     f"{clean.value:.1f} % — against the paper's {claim['value']:.1f} %{verdict}. Our adversarial "
                     "accuracies therefore do not match Table 4's; read them as upper bounds on the models' "
                     "robustness.")
    atk = cfg.evaluation_attack(0.0)
    start = "a random start" if atk.random_start else "no random start"
    n_params = ds["n_params"].sel(setting="full", eps=eps[0], model=names).values / 1e6
    paper_epochs = paper_claims("universality")["training"]["epochs"]
    layouts = sorted({str(v) for v in ds["layout"].sel(setting="full", model=names).values.ravel() if str(v)})
    reasons = [f"a weak evaluation attack: {atk.steps}-step L2 PGD of step {atk.step_size / atk.eps:g} ε, with "
               f"{start} and no restarts, on {int(cfg.eval_images)} test images — a standard model that keeps "
               f"much of its accuracy at ε = {float(cfg.eval_eps0):g} is what an attack that has not converged "
               "would show",
               f"small models trained briefly ({n_params.min():.2f}–{n_params.max():.1f} M parameters, "
               f"{_epochs_text(ds)} epochs against the paper's {paper_epochs}), which may sit in another regime "
               "than the paper's converged networks"]
    if cfg.label_smoothing > 0:
        reasons.append(f"label smoothing ({cfg.label_smoothing:g}) in the training recipe, which is known to "
                       "inflate PGD accuracy (its flat logits mask the gradient)")
    else:
        reasons.append("label smoothing, known to inflate PGD accuracy, is *not* a reason here: this result "
                       f"trained with label_smoothing = {cfg.label_smoothing:g} (plain cross-entropy)")
    if cfg.precision != "fp32" and any("bf16" in lay for lay in layouts):
        reasons.append(f"the attack's precision: with precision = {cfg.precision!r} it runs in the layout measured "
                       f"fastest per model (these models trained in {', '.join(layouts)}), and bf16 gradients "
                       "can blunt a few-step attack")
    parts.append("Likely reasons, none tested here (hypotheses): "
                 + "; ".join(f"({i}) {r}" for i, r in enumerate(reasons, 1)) + ".")
    return " ".join(parts)


def discussion(ds: xr.Dataset, table: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> str:
    """A few sentences computed from the result and its claims table: how strong the models are next to the
    paper's, where our adversarial accuracies fall short of Table 4 and why we think so, the verdict counts, and
    which claims we do not reproduce."""
    paper = paper_table4()["accuracy (%)"].groupby(level="eps").mean()
    names = members(ds, "full")
    ours = {float(e): 100 * float(ds["accuracy"].sel(setting="full", eps=e, model=names).mean())
            for e in ds["eps"].values}
    acc = "; ".join(f"ε = {e:g}: ours {v:.1f} %" + (f", paper {paper[e]:.1f} %" if e in paper.index else "")
                    for e, v in ours.items())
    counts = table["verdict"].value_counts()
    lines = [f"**Accuracy first.** Mean clean accuracy of our {len(names)} architectures against the paper's seven "
             f"CNNs — {acc}. Our models are far weaker ({_epochs_text(ds)} epochs on a CPU against the paper's "
             f"{paper_claims('universality')['training']['epochs']}), so a similarity that depends on how well "
             "models fit the data is measured here on models that fit it less.",
             adversarial_gap_text(ds, table, n_boot, seed),
             f"**Verdicts:** {counts.get('agrees', 0)} agree, {counts.get('disagrees', 0)} disagree, "
             f"{counts.get('inconclusive', 0)} inconclusive, of {len(table)} claims."]
    off = table[table["verdict"] != "agrees"]
    if len(off):
        lines.append("**Not reproduced here (disagrees or inconclusive):** " + "; ".join(
            f"{r['claim']} — ours {r['ours [95 % CI]']} ({r['verdict']})" for _, r in off.iterrows()) + ".")
    return "\n\n".join(lines)


def cost_table(ds: xr.Dataset, n_images: dict[str, int] | None = None) -> pd.DataFrame:
    """What the grid cost on the machine it ran on, per setting and ε: training seconds per model (and models
    per hour at that rate), the adversarial-accuracy attack, and inversion throughput (images/s, each image
    taking the configured number of steps). ``n_images``: inverted images per model by setting (default: read
    from the result's per-image distances)."""
    rows = []
    for s in ds["setting"].values:
        for e in ds["eps"].values:
            d = ds.sel(setting=s, eps=e)
            names = [m for m in ds["model"].values if np.isfinite(float(d["accuracy"].sel(model=m)))]
            if not names:
                continue
            d = d.sel(model=names)
            n = (n_images or {}).get(str(s)) or int(np.isfinite(d["final_distance_per_image"].values[0]).sum())
            train = d["train_seconds"].values
            rows.append({"setting": str(s), "eps": float(e), "models": len(names),
                         "train s / model": float(train.mean()),
                         "models / hour": 3600 / float(train.mean()) if str(s) != "ood" else math.nan,
                         "attack s / model": float(d["attack_seconds"].mean()),
                         "inversion images / s": n / float(d["invert_seconds"].mean()),
                         "from cache": int(d["from_cache"].sum())})
    return pd.DataFrame(rows).set_index(["setting", "eps"])


def compute_minutes(ds: xr.Dataset) -> pd.DataFrame:
    """Minutes of computation behind the result on the machine in its provenance: every trained model's training,
    adversarial-accuracy attack and inversion (the OOD setting reuses the full setting's models, so only its
    inversions count), the pair measures of the run that assembled the result, and the total."""
    trained = [s for s in ds["setting"].values if str(s) != "ood"]

    def total(var, settings):
        return float(np.nansum(ds[var].sel(setting=settings).values))

    rows = {"training": total("train_seconds", trained), "attacks (adversarial accuracy)": total("attack_seconds", trained),
            "inversion": total("invert_seconds", list(ds["setting"].values)),
            "pair measures": float(ds.attrs.get("pairs_seconds", np.nan))}
    rows["total"] = float(np.nansum(list(rows.values())))
    models = int(np.isfinite(ds["accuracy"].sel(setting=trained).values).sum())
    out = pd.DataFrame({"minutes": {k: v / 60 for k, v in rows.items()}})
    out["models"] = [models if k in ("training", "total") else np.nan for k in rows]
    return out
