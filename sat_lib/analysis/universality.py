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


def summary(ds: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Long table: setting, ε, images (regular / inverted), measure, k, the pairs' mean with its 95 % interval
    over architectures and the spread of the pairs (min, max): what every figure of the chapter plots."""
    rows = []
    for setting in ds["setting"].values:
        for e in ds["eps"].values:
            combos = [("inverted", m, None) for m in INVERTED if m != "jaccard"]
            combos += [("inverted", "jaccard", int(k)) for k in ds["k"].values]
            if setting != "ood":
                combos = [("regular", m, None) for m in REGULAR] + combos
            for images, measure, k in combos:
                mat, _ = pair_matrix(ds, str(setting), float(e), measure, images, k)
                vals = pair_values(mat)
                if not np.isfinite(vals).any():
                    continue
                est = mean_estimate(mat, n_boot, seed)
                rows.append({"setting": str(setting), "eps": float(e), "images": images, "measure": measure,
                             "k": k if k is not None else 0, "mean": est.value, "low": est.low, "high": est.high,
                             "min": float(np.nanmin(vals)), "max": float(np.nanmax(vals)), "pairs": len(vals)})
    return pd.DataFrame(rows)


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


def accuracy_by_eps(ds: xr.Dataset, setting: str = "full", n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Mean clean and adversarial accuracy per ε, ours with a 95 % interval over architectures, beside the mean
    of the paper's seven CNNs (and their range)."""
    from sat_lib.claims.verdict import bootstrap

    paper = paper_table4()
    rows = []
    for e in ds["eps"].values:
        row = {"eps": float(e)}
        for col, var in (("accuracy (%)", "accuracy"), ("adversarial accuracy (%)", "adv_accuracy")):
            v = 100 * ds[var].sel(setting=setting, eps=e, model=members(ds, setting)).values
            row[f"ours: {col}"] = bootstrap(v, np.mean, unit=UNIT, n_resamples=n_boot, seed=seed).text(".1f")
            p = paper.xs(float(e), level="eps")[col] if float(e) in paper.index.get_level_values("eps") else None
            row[f"paper: {col}"] = "—" if p is None else f"{p.mean():.1f} ({p.min():.1f}–{p.max():.1f})"
        rows.append(row)
    return pd.DataFrame(rows).set_index("eps")


def at_effect(ds: xr.Dataset, var: str, eps: float, n_boot: int = 2000, seed: int = 0) -> Estimate:
    """Per-architecture ``var`` at ``eps`` minus at ε = 0 (percentage points), mean with an interval over
    architectures."""
    from sat_lib.claims.verdict import bootstrap

    names = members(ds, "full")
    d = 100 * (ds[var].sel(setting="full", eps=eps, model=names).values
               - ds[var].sel(setting="full", eps=0.0, model=names).values)
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
        verdict = claim_verdict(c, e)
        fmt = ".1f" if key.startswith("at_") else ".3f"
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


def subset_text(ds: xr.Dataset) -> str:
    """Which classes the subset setting drew and which architectures it trained."""
    import json

    if "subset" not in set(ds["setting"].values):
        return "No subset setting in this result (`subset_classes = 0`)."
    names = json.loads(ds.attrs.get("subset_class_names", "[]"))
    acc = ds["accuracy"].sel(setting="subset", eps=0.0) if 0.0 in ds["eps"].values else None
    text = f"Classes drawn: {', '.join(names)}; architectures: {', '.join(members(ds, 'subset'))}."
    if acc is not None:
        text += " Their standard (ε = 0) test accuracy on those classes: " + ", ".join(
            f"{m} {100 * float(acc.sel(model=m)):.1f} %" for m in members(ds, "subset")) + "."
    return text


def discussion(ds: xr.Dataset, table: pd.DataFrame) -> str:
    """A few sentences computed from the result and its claims table: how strong the models are next to the
    paper's, the verdict counts, and which claims we do not reproduce."""
    paper = paper_table4()["accuracy (%)"].groupby(level="eps").mean()
    names = members(ds, "full")
    ours = {float(e): 100 * float(ds["accuracy"].sel(setting="full", eps=e, model=names).mean())
            for e in ds["eps"].values}
    acc = "; ".join(f"ε = {e:g}: ours {v:.1f} %" + (f", paper {paper[e]:.1f} %" if e in paper.index else "")
                    for e, v in ours.items())
    counts = table["verdict"].value_counts()
    lines = [f"**Accuracy first.** Mean clean accuracy of our {len(names)} architectures against the paper's seven "
             f"CNNs — {acc}. Our models are far weaker (a few CPU epochs against ~90), so a similarity that depends "
             "on how well models fit the data is measured here on models that fit it less.",
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
