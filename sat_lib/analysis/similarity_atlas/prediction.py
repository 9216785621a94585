"""What each measure predicts, held out by *models*: the zoo's models are split into folds; for each fold a linear
fit of a pair target on the measure and the pair's accuracy difference is made on the pairs of the other folds'
models only, and predicts every pair that touches a held-out model (a pair touching two held-out folds is
predicted twice, and the two predictions averaged). The score is the partial correlation of the held-out
predictions with the target, the accuracy difference partialled out (``sat_lib.stats.partial_correlation``); for
the accuracy difference itself, the plain correlation. Positive: the measure predicts the target, beyond what the
accuracy difference does, on models it was never fitted on. Intervals resample the models (pairs share models;
``sat_lib.stats.pairs_bootstrap``) with the held-out predictions fixed: they cover which models the zoo holds,
not the refits.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from sat_lib.analysis.similarity_atlas.core import UNIT, finite_mean, label, measures_of, pair_frame
from sat_lib.stats import Estimate, correlation, interval, pairs_bootstrap, partial_correlation

CONFOUND = "accuracy_difference"


def model_folds(n_models: int, n_folds: int, seed: int = 0) -> np.ndarray:
    """Each model's fold (0 … n_folds − 1): a seeded permutation of the models cut into near-equal folds."""
    k = min(n_folds, n_models)
    folds = np.empty(n_models, dtype=int)
    for f, members in enumerate(np.array_split(np.random.default_rng(seed).permutation(n_models), k)):
        folds[members] = f
    return folds


def _fit_predict(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    design = lambda x: np.column_stack([np.ones(len(x)), x])  # noqa: E731
    ok = np.isfinite(x_train).all(1) & np.isfinite(y_train)
    if ok.sum() <= x_train.shape[1] + 1:
        return np.full(len(x_test), np.nan)
    coef = np.linalg.lstsq(design(x_train[ok]), y_train[ok], rcond=None)[0]
    return design(x_test) @ coef


def heldout_predictions(pairs: pd.DataFrame, columns: list[str], target: str, folds: np.ndarray) -> np.ndarray:
    """The target of every pair predicted from ``columns`` by fits on other folds' models only (module doc)."""
    i, j = pairs["i"].to_numpy(), pairs["j"].to_numpy()
    x, y = pairs[columns].to_numpy(float), pairs[target].to_numpy(float)
    total, count = np.zeros(len(pairs)), np.zeros(len(pairs))
    for f in np.unique(folds):
        held = folds == f
        test = held[i] | held[j]
        train = ~test
        pred = _fit_predict(x[train], y[train], x[test])
        ok = np.isfinite(pred)
        total[np.flatnonzero(test)[ok]] += pred[ok]
        count[np.flatnonzero(test)[ok]] += 1
    with np.errstate(invalid="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def score(pred, y, confound=None) -> float:
    """Partial correlation of predictions and target given the confound (plain correlation without one), over
    the pairs where all are finite."""
    pred, y = np.asarray(pred, float), np.asarray(y, float)
    if confound is None:
        return correlation(pred, y)
    c = np.asarray(confound, float)
    ok = np.isfinite(pred) & np.isfinite(y) & np.isfinite(c)
    return partial_correlation(pred[ok], y[ok], c[ok]) if ok.sum() >= 4 else np.nan


def heldout_frame(ds: xr.Dataset, target: str, n_folds: int, seed: int = 0) -> pd.DataFrame:
    """The pairs with the target, the confound and each measure's held-out prediction (``pred:<measure>``)."""
    pairs = pair_frame(ds)
    folds = model_folds(ds.sizes["model"], n_folds, seed)
    covariates = [] if target == CONFOUND else [CONFOUND]
    preds = {f"pred:{m}": heldout_predictions(pairs, [m, *covariates], target, folds) for m in measures_of(ds)}
    return pairs.assign(**preds)


def _score_of(frame: pd.DataFrame, measure: str, target: str) -> float:
    return score(frame[f"pred:{measure}"], frame[target], None if target == CONFOUND else frame[CONFOUND])


def heldout_estimate(ds: xr.Dataset, frame: pd.DataFrame, target: str, stat, n_boot: int, seed: int) -> Estimate:
    """``stat(frame rows)`` with its interval from resampling the models (module doc)."""
    boot = pairs_bootstrap(frame, ds.sizes["model"], stat, n_boot=n_boot, seed=seed)
    return interval(boot, stat(frame), UNIT, ds.sizes["model"])


def prediction_table(ds: xr.Dataset, n_folds: int, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """One row per (target, measure): the held-out score with its interval, the measure's group and label."""
    rows = []
    for target in [str(t) for t in ds["target"].values]:
        frame = heldout_frame(ds, target, n_folds, seed)
        for m in measures_of(ds):
            e = heldout_estimate(ds, frame, target, lambda f, m=m: _score_of(f, m, target), n_boot, seed)
            rows.append({"target": target, "measure": m, "label": label(m),
                         "group": str(ds["group"].sel(measure=m).values), "score": e.value, "low": e.low,
                         "high": e.high, "partialled out": "—" if target == CONFOUND else "accuracy difference"})
    return pd.DataFrame(rows)


def group_difference(ds: xr.Dataset, target: str, better: str, worse: str, n_folds: int, n_boot: int = 1000,
                     seed: int = 0) -> Estimate:
    """Mean held-out score of the ``better`` group's measures minus the ``worse`` group's, on the same resamples."""
    frame = heldout_frame(ds, target, n_folds, seed)
    a, b = measures_of(ds, better), measures_of(ds, worse)

    def stat(f: pd.DataFrame) -> float:
        return finite_mean([_score_of(f, m, target) for m in a]) - finite_mean([_score_of(f, m, target) for m in b])

    return heldout_estimate(ds, frame, target, stat, n_boot, seed)


def measure_estimate(ds: xr.Dataset, measure: str, target: str, n_folds: int, n_boot: int = 1000,
                     seed: int = 0) -> Estimate:
    """One measure's held-out score for one target, with its interval."""
    frame = heldout_frame(ds, target, n_folds, seed)
    return heldout_estimate(ds, frame, target, lambda f: _score_of(f, measure, target), n_boot, seed)
