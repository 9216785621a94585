"""Which architectural components make two models similar (SAT paper Sec. 4.1, Fig. 3, appendix B/C), and the
spectral features of the SAT graph (Fig. 4a / B.1).

Every pair of the zoo becomes one sample: its 13 component differences (Hamming: 1 where the two architecture
cards differ) and its symmetric SAT. A scikit-learn ``GradientBoostingRegressor`` with the appendix's settings is
fitted on them and ``permutation_importance`` says how much each component's difference moves the prediction.
Because a fit that explains nothing has meaningless importances, a held-out R² is computed with the zoo's
*models* held out (pairs that touch a held-out model are never trained on), and the importances get bootstrap
intervals over models.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.inspection import permutation_importance
from sklearn.manifold import spectral_embedding
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold
from scipy.spatial.distance import cdist

from sat_lib.analysis.sat_matrix import symmetric
from sat_lib.claims.verdict import Gate
from sat_lib.stats import pair_resamples
from sat_lib.models.components import COMPONENTS


@dataclass(frozen=True)
class GBR:
    """Appendix: "500 boosting stages, maximum depth 12, minimum number of samples 4, learning rate 0.02";
    permutation importance with 10 repeats. ``min_samples`` is ``min_samples_split``, scikit-learn's name."""

    n_estimators: int = 500
    max_depth: int = 12
    min_samples: int = 4
    learning_rate: float = 0.02
    n_repeats: int = 10

    def model(self, seed: int) -> GradientBoostingRegressor:
        return GradientBoostingRegressor(n_estimators=self.n_estimators, max_depth=self.max_depth,
                                         min_samples_split=self.min_samples, learning_rate=self.learning_rate,
                                         random_state=seed)


def cards(ds: xr.Dataset) -> pd.DataFrame:
    """The zoo's architecture cards (models × the 13 components), as stored with the SAT result."""
    return pd.DataFrame({c: ds[f"card_{c}"].values for c in COMPONENTS if f"card_{c}" in ds.coords},
                        index=pd.Index(ds["model"].values, name="model"))


def pair_features(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X, y, i, j): Hamming differences of the components (pairs × components, 0/1), symmetric SAT, and the
    two models' indices of every unordered pair."""
    c = cards(ds).to_numpy()
    i, j = np.triu_indices(len(c), k=1)
    x = (c[i] != c[j]).astype(float)
    return x, symmetric(ds["sat"])[i, j], i, j


def fit_importance(x: np.ndarray, y: np.ndarray, gbr: GBR, seed: int) -> np.ndarray:
    """Permutation importance of every feature — the mean drop of the fitted GBR's R² when the feature's column
    is shuffled (scikit-learn's default score) — computed, as the paper does, on the data it was fitted on."""
    model = gbr.model(seed).fit(x, y)
    return permutation_importance(model, x, y, n_repeats=gbr.n_repeats, random_state=seed).importances_mean


def held_out_r2(x: np.ndarray, y: np.ndarray, i: np.ndarray, j: np.ndarray, n_models: int, gbr: GBR,
                seed: int, folds: int = 5) -> tuple[float, np.ndarray]:
    """R² of SAT predicted for pairs that touch held-out models, from fits on the pairs among the others
    (``folds``-fold over models), pooled over folds; and the predictions. Pairs sharing a model are not
    independent, so holding out pairs at random would leak."""
    pred = np.full(len(y), np.nan)
    for train_models, test_models in KFold(folds, shuffle=True, random_state=seed).split(np.arange(n_models)):
        test = np.isin(i, test_models) | np.isin(j, test_models)
        train = ~test
        if train.sum() < 4 or not test.any():
            continue
        model = gbr.model(seed).fit(x[train], y[train])
        # a pair with two held-out models may have been predicted in an earlier fold: keep the first prediction
        todo = test & np.isnan(pred)
        if todo.any():
            pred[todo] = model.predict(x[todo])
    ok = np.isfinite(pred)
    return (float(r2_score(y[ok], pred[ok])) if ok.sum() > 1 else np.nan), pred


R2_RESAMPLES = 30    # refits of the 5-fold held-out R² on resampled models: ~2 s each on a 2-core CPU (~1 minute)


def _pair_models(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    names = list(ds["model"].values)
    return (np.array([names.index(a) for a in ds["model_a"].values]),
            np.array([names.index(b) for b in ds["model_b"].values]))


def held_out_r2_estimates(ds: xr.Dataset, gbr: GBR, n_refit: int = R2_RESAMPLES, n_boot: int = 2000,
                          seed: int = 0, folds: int = 5) -> dict:
    """The stored held-out R² (``held_out_r2``) with two 95 % percentile intervals over bootstrap resamples of
    the *models* (``sat_lib.stats.pair_resamples``: the pairs of two different drawn models), from the stored
    pair features:

    * ``"refit"``: the whole procedure redone on each of ``n_refit`` resamples — ``folds``-fold over the
      resample's distinct models (a model drawn twice stays in one fold, so its copies never leak into the fit),
      ``gbr`` refitted in every fold. It covers the fit's variability too, but a resample holds only ~63 % of
      the models, so its fits see fewer architectures and its R² runs low: the interval need not contain the
      full-zoo value. ``n_refit`` is small because each refit costs ``folds`` fits of the appendix's regressor;
    * ``"fixed"``: the stored held-out predictions kept, R² recomputed over the pairs of ``n_boot`` resamples:
      how precisely these predictions' R² is measured on this zoo's models (seconds; no refit).
    """
    from sat_lib.stats import interval

    x, y = ds["difference"].values, ds["pair_sat"].values
    pred = ds["held_out_prediction"].values
    i, j = _pair_models(ds)
    m = ds.sizes["model"]
    point = float(ds.attrs["held_out_r2"])

    refits = []
    for b, rows in enumerate(pair_resamples(i, j, m, n_refit, seed)):
        rows = np.asarray(rows)
        models = np.unique(np.concatenate([i[rows], j[rows]]))
        if len(models) < folds:
            continue
        r2, _ = held_out_r2(x[rows], y[rows], np.searchsorted(models, i[rows]), np.searchsorted(models, j[rows]),
                            len(models), gbr, seed + 1 + b, folds)
        refits.append(r2)
    fixed = []
    for rows in pair_resamples(i, j, m, n_boot, seed):
        rows = np.asarray(rows)
        ok = np.isfinite(pred[rows])
        fixed.append(r2_score(y[rows][ok], pred[rows][ok]) if ok.sum() > 1 else np.nan)
    # ``interval`` needs 20 resamples; fewer refits than that give no interval rather than a spurious one
    return {"refit": interval(refits, point, f"models: {n_refit} resamples, refitted", m),
            "fixed": interval(fixed, point, f"models: {n_boot} resamples, predictions kept", m)}


def held_out_table(estimates: dict) -> pd.DataFrame:
    """``held_out_r2_estimates`` as a table: the held-out R² with each interval and what it resamples."""
    what = {"refit": "models resampled, the 5-fold fit redone on each resample",
            "fixed": "models resampled, the stored held-out predictions kept"}
    return pd.DataFrame([{"interval": what[k], "held-out R² [95 % CI]": e.text(), "resamples": e.unit}
                         for k, e in estimates.items()]).set_index("interval")


def bootstrap_importance(x: np.ndarray, y: np.ndarray, i: np.ndarray, j: np.ndarray, n_models: int, gbr: GBR,
                         n_boot: int, seed: int) -> np.ndarray:
    """Permutation importances refitted on bootstrap resamples of the *models* (the pairs of two different
    drawn models, once per drawn couple): (n_boot, components)."""
    out = np.full((n_boot, x.shape[1]), np.nan)
    for b, rows in enumerate(pair_resamples(i, j, n_models, n_boot, seed)):
        if len(rows) > 10:
            out[b] = fit_importance(x[rows], y[rows], gbr, seed + b)
    return out


def spectral_features(sat: xr.DataArray, k: int, seed: int = 0) -> np.ndarray:
    """The leading ``k`` eigenvectors of the normalised Laplacian of the SAT graph (edge weights max(SAT, 0), as
    the clustering of ``sat_lib.analysis.sat_matrix.spectral_clusters``): (models, k)."""
    affinity = np.clip(symmetric(sat), 0, None)
    return spectral_embedding(affinity, n_components=k, norm_laplacian=True, drop_first=False, random_state=seed)


def feature_distances(features: np.ndarray) -> np.ndarray:
    """Euclidean distances between the models' spectral features (Fig. 4a / B.1)."""
    return cdist(features, features)


# ------------------------------------------------------------------------------ the chapter's tables and claims

LABELS = {"base_architecture": "base architecture", "stem_layer": "stem layer", "input_resolution": "input resolution",
          "normalization": "normalization", "hierarchical": "hierarchical", "activation": "activation",
          "stem_pooling": "pooling at stem", "self_attention_2d": "2D self-attention",
          "channel_attention": "channel-wise attention", "depthwise_conv": "depth-wise conv",
          "group_conv": "group conv", "final_pooling": "final pooling",
          "channel_attention_location": "channel-attention location"}
BASICS = ("normalization", "activation")
EFFICIENT = ("depthwise_conv", "group_conv")


def importance_table(ds: xr.Dataset) -> pd.DataFrame:
    """Every component: permutation importance with its 95 % interval over models, its rank, how many distinct
    values it takes in the zoo (1: it cannot matter here) and the share of pairs that differ in it."""
    from sat_lib.stats import interval

    boot = ds["importance_boot"].values
    rows = []
    for k, comp in enumerate(ds["component"].values):
        est = interval(boot[:, k], float(ds["importance"].values[k]), "models", ds.sizes["model"])
        rows.append({"component": LABELS.get(comp, comp), "importance [95 % CI, models]": est.text(".3f"),
                     "importance": est.value, "values in the zoo": int(ds["n_values"].values[k]),
                     "pairs that differ (%)": 100 * float(ds["difference"].values[:, k].mean())})
    out = pd.DataFrame(rows).sort_values("importance", ascending=False)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out.set_index("component")


def _stat(imp: np.ndarray, comps: list[str], which: str) -> float:
    v = dict(zip(comps, imp))
    if which == "base_architecture_first":
        return v["base_architecture"] - max(x for c, x in v.items() if c != "base_architecture")
    if which == "stem_as_much_as_basics":  # a ratio: "as much as" within a factor of two (the claims file)
        basics = np.mean([v[c] for c in BASICS])
        return v["stem_layer"] / basics if basics > 0 else np.nan
    if which in EFFICIENT:  # one efficiency-aware convolution against the stem and the basic components
        return v[which] - np.mean([v[c] for c in ("stem_layer", *BASICS)])
    raise KeyError(which)


CLAIM_TEXTS = {  # (claims-file key, statistic) → the row's text
    ("base_architecture_first", "base_architecture_first"):
        "importance of the base architecture minus the largest other importance",
    ("stem_as_much_as_basics", "stem_as_much_as_basics"):
        "importance of the stem layer over the mean of normalization and activation (ratio)",
    ("efficient_convs_least", "depthwise_conv"):
        "importance of depth-wise conv minus the mean of stem, normalization and activation",
    ("efficient_convs_least", "group_conv"):
        "importance of group conv minus the mean of stem, normalization and activation",
}


def gbr_of(ds: xr.Dataset) -> GBR:
    """The regressor the stored result was fitted with (its parameters)."""
    import json

    p = json.loads(ds.attrs.get("params_json", "{}"))
    return GBR(**{k: p[k] for k in ("n_estimators", "max_depth", "min_samples", "learning_rate", "n_repeats") if k in p})


def r2_gate(r2: dict) -> Gate:
    """Fig. 3's importances describe a regressor; they are read only when it predicts SAT for models it never
    saw: every computed held-out R² interval lies above 0."""
    computed = {k: e for k, e in r2.items() if e.has_interval}
    passed = bool(computed) and all(e.low > 0 for e in computed.values())
    detail = "; ".join(f"{e.text()} over {e.unit}" for e in computed.values()) or "no interval"
    if "refit" in r2 and not r2["refit"].has_interval:
        detail += " (the refitted interval is computed only when this one lies above 0: the gate needs both)"
    return Gate("the regressor predicts SAT for unseen models (held-out R² interval above 0)", passed,
                f"held-out R² {detail}", tuple(paper_claims_keys()))


def paper_claims_keys() -> list[str]:
    from sat_lib.claims import scored_claims

    return list(scored_claims("sat-components"))


def checks(ds: xr.Dataset, r2: dict | None = None, seed: int = 0) -> list[Gate]:
    """The chapter's Checks: the held-out R² gate (``r2``: ``held_out_r2_estimates``; when not given, the
    interval that keeps the stored predictions is computed — seconds —, and the refitted one only when that
    lies above 0, since the gate needs both) and whether the zoo lets each component vary."""
    if r2 is None:
        r2 = held_out_r2_estimates(ds, gbr_of(ds), n_refit=0, seed=seed)
        if r2["fixed"].has_interval and r2["fixed"].low > 0:
            r2 = held_out_r2_estimates(ds, gbr_of(ds), seed=seed)
    constant = [LABELS.get(c, c) for c, n in zip(ds["component"].values, ds["n_values"].values) if n < 2]
    return [r2_gate(r2),
            Gate("the components a claim compares vary in the zoo", all(
                     c not in ("base_architecture", "stem_layer", *BASICS, *EFFICIENT)
                     for c, n in zip(ds["component"].values, ds["n_values"].values) if n < 2),
                 "constant in this zoo: " + (", ".join(constant) or "none"))]


def claims_table(ds: xr.Dataset, r2: dict | None = None, gates: list[Gate] | None = None,
                 seed: int = 0) -> pd.DataFrame:
    """Fig. 3's stated orderings beside ours, each decided by its kind (``claim_row``); each statistic's
    interval comes from the regressions refitted on bootstrap resamples of the models. Depth-wise and group
    convolution are compared one by one (two rows of one statement). ``gates``: ``checks(ds, r2)`` when not
    given: no verdict unless the regressor predicts unseen models."""
    from sat_lib.claims import scored_claims
    from sat_lib.claims.verdict import claim_row
    from sat_lib.stats import interval

    claims = scored_claims("sat-components")
    gates = checks(ds, r2, seed) if gates is None else gates
    comps = list(ds["component"].values)
    boot = ds["importance_boot"].values
    rows = []
    for (key, which), text in CLAIM_TEXTS.items():
        point = _stat(ds["importance"].values, comps, which)
        samples = [_stat(b, comps, which) for b in boot if np.isfinite(b).all()]
        est = interval(samples, point, "models", ds.sizes["model"])
        rows.append(claim_row(text, claims[key], est, key=key, gates=gates, fmt=".3f"))
    return pd.DataFrame(rows)


def discussion(ds: xr.Dataset, table: pd.DataFrame, r2: dict | None = None) -> str:
    """A short Markdown reading; ``r2``: ``held_out_r2_estimates`` (their intervals are printed when given)."""
    table = table.set_index("claim") if "claim" in table.columns else table
    imp = importance_table(ds)
    constant = [c for c, r in imp.iterrows() if r["values in the zoo"] < 2]
    held = f"**{ds.attrs['held_out_r2']:.2f}**"
    if r2 is not None:
        refit, fixed = r2["refit"], r2["fixed"]
        held = f"**{refit.text()}** (95 % interval over {refit.unit}; {fixed.text()} over {fixed.unit})"
        if refit.has_interval and fixed.has_interval:
            if all(e.low <= 0 <= e.high for e in (refit, fixed)):
                held += ". Both intervals contain 0: the regression's skill on unseen models is not distinguishable " \
                        "from none"
            elif all(e.low > 0 for e in (refit, fixed)):
                held += ". Both intervals lie above 0: the regression predicts SAT for unseen models"
    lines = [f"* **Does the regression mean anything?** Fitted R² {ds.attrs['fit_r2']:.2f} on the pairs it was "
             f"fitted on; on pairs whose models were held out (5 folds of models) {held}. The importances "
             "describe the fitted regressor; read them with the held-out R² beside them.",
             f"* **Order.** Ours, first to third: {', '.join(imp.index[:3])}."
             + (f" Constant in this zoo (cannot matter): {', '.join(constant)}." if constant else "")]
    comps = list(ds["component"].values)
    diff = ds["difference"].values
    base = diff[:, comps.index("base_architecture")]
    partners = []
    for c in ("normalization", "hierarchical", "activation"):
        other = diff[:, comps.index(c)]
        if np.ptp(base) and np.ptp(other):
            partners.append(f"{LABELS[c]} {np.corrcoef(base, other)[0, 1]:.2f}")
    if partners:
        lines.append("* **Correlated components share the credit.** Over the pairs, a difference in base architecture "
                     "goes with differences in " + ", ".join(partners) + " (Pearson φ of the 0/1 differences); "
                     "permutation importance splits the effect of such components among them, so a low rank for one "
                     "of them does not mean the effect they carry together is small.")
    for claim, row in table.iterrows():
        lines.append(f"* {claim[0].upper() + claim[1:]}: {row['ours [95 % CI]']} — **{row['verdict']}** "
                     f"(paper: {row['paper']}).")
    if len(table) and table["verdict"].str.startswith("not tested").all():
        lines.append("* **No ordering is scored.** The importances above describe a regressor whose held-out R² "
                     "interval is not above 0 (Checks): it does not predict SAT for models it never saw, so which "
                     "component it leans on says little about the zoo. The rows show the numbers, unscored. The "
                     "sat-matrix chapter's family direction (models of one base architecture are more alike) is a "
                     "weaker statement, tested there; it does not rank the base architecture first.")
    return "\n".join(lines)


def cards_table(ds: xr.Dataset) -> pd.DataFrame:
    """The zoo's cards with the paper's component names (Tables 2 / A.2 / A.3 for this zoo)."""
    c = pd.DataFrame({LABELS.get(k, k): ds[f"card_{k}"].values for k in ds["component"].values},
                     index=pd.Index(ds["model"].values, name="model"))
    c.insert(0, "family", ds["family"].values)
    return c
