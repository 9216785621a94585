"""The similarity atlas's pairs: every measure oriented so that higher means more alike, how the measures rank
the pairs alike (Spearman ρ over pairs, intervals by resampling *models* — pairs share models), the measures
clustered, and how the models' clusters by SAT and by each other measure agree (adjusted Rand index)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from scipy.cluster.hierarchy import fcluster, leaves_list, linkage
from scipy.spatial.distance import squareform
from sklearn.metrics import adjusted_rand_score

from sat_lib.analysis.sat_matrix import spectral_clusters
from sat_lib.measures import MEASURES
from sat_lib.stats import Estimate, correlation, interval, pair_resamples, resample
from sat_lib.zoo.atlas_pairs import ATLAS_MEASURES, TARGETS

UNIT = "models"
MEASURE_CLUSTER_RHO = 0.5   # measures whose average-linkage ρ exceeds this fall in one cluster


def finite_mean(values) -> float:
    """The mean of the finite values (NaN when there are none: a collapsed model's undefined measures)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return float(v.mean()) if len(v) else np.nan


def label(measure: str) -> str:
    return ATLAS_MEASURES[measure].label


def oriented(values: np.ndarray, measure: str) -> np.ndarray:
    """A measure's values turned so that higher means more alike: a measure of difference (disagreement) is
    subtracted from the top of its range."""
    m = ATLAS_MEASURES[measure]
    return np.asarray(values, dtype=float) if m.higher_is_similar else MEASURES[m.measure].range[1] - values


def similarity(ds: xr.Dataset, measure: str) -> xr.DataArray:
    """One measure's (model, model_b) matrix, oriented (``oriented``), diagonal as stored (self-similarity)."""
    da = ds["similarity"].sel(measure=measure)
    return da.copy(data=oriented(da.values, measure))


def measures_of(ds: xr.Dataset, group: str | None = None) -> list[str]:
    return [str(m) for m, g in zip(ds["measure"].values, ds["group"].values) if group is None or g == group]


def pair_frame(ds: xr.Dataset) -> pd.DataFrame:
    """One row per unordered pair of different models: ``i``, ``j`` (model positions), the names, every measure
    (oriented) and every target."""
    names = [str(n) for n in ds["model"].values]
    i, j = np.triu_indices(len(names), k=1)
    cols = {m: similarity(ds, m).values[i, j] for m in measures_of(ds)}
    cols.update({t: ds["pair_target"].sel(target=t).values[i, j] for t in ds["target"].values})
    return pd.DataFrame({"i": i, "j": j, "model": np.array(names)[i], "model_b": np.array(names)[j], **cols})


def _rho_matrix(pairs: pd.DataFrame, measures: list[str]) -> np.ndarray:
    k = len(measures)
    out = np.eye(k)
    for a in range(k):
        for b in range(a + 1, k):
            out[a, b] = out[b, a] = correlation(pairs[measures[a]], pairs[measures[b]], "spearman")
    return out


def measure_agreement(ds: xr.Dataset, n_boot: int = 1000, seed: int = 0) -> xr.Dataset:
    """Spearman ρ between every two measures over the pairs, with a 95 % percentile interval from resampling the
    models (``sat_lib.stats.pair_resamples``): (measure, measure_b) ``rho``, ``low``, ``high``."""
    pairs = pair_frame(ds)
    ms = measures_of(ds)
    point = _rho_matrix(pairs, ms)
    n = ds.sizes["model"]
    boot = np.stack([_rho_matrix(pairs.iloc[rows], ms)
                     for rows in pair_resamples(pairs["i"], pairs["j"], n, n_boot, seed) if len(rows) > 2])
    low, high = np.full_like(point, np.nan), np.full_like(point, np.nan)
    for a in range(len(ms)):
        for b in range(len(ms)):
            e = interval(boot[:, a, b] if len(boot) else [], point[a, b], UNIT, n)
            low[a, b], high[a, b] = e.low, e.high
    dims = ("measure", "measure_b")
    return xr.Dataset({"rho": (dims, point), "low": (dims, low), "high": (dims, high)},
                      coords={"measure": ms, "measure_b": ms})


def measure_clusters(agreement: xr.Dataset, rho: float = MEASURE_CLUSTER_RHO) -> pd.DataFrame:
    """The measures clustered by average linkage on 1 − ρ, cut where the linkage's ρ falls below ``rho``: each
    measure's cluster (numbered in the tree's leaf order) and group, rows in leaf order."""
    ms = [str(m) for m in agreement["measure"].values]
    d = 1 - np.nan_to_num(agreement["rho"].values, nan=0.0)
    d = np.clip((d + d.T) / 2, 0, 2)
    np.fill_diagonal(d, 0)
    z = linkage(squareform(d, checks=False), method="average")
    order = leaves_list(z)
    raw = fcluster(z, t=1 - rho, criterion="distance")
    remap: dict[int, int] = {}
    for k in order:
        remap.setdefault(int(raw[k]), len(remap) + 1)
    return pd.DataFrame({"measure": [label(ms[k]) for k in order],
                         "group": [ATLAS_MEASURES[ms[k]].group for k in order],
                         "cluster": [remap[int(raw[k])] for k in order]},
                        index=pd.Index([ms[k] for k in order], name="key"))


def model_clusters(ds: xr.Dataset, measure: str, n_clusters: int, seed: int = 0) -> pd.Series:
    """The models' spectral clusters by one measure (the SAT chapters' clustering, ``spectral_clusters``, on the
    oriented matrix: for SAT exactly the chapters' clusters)."""
    return spectral_clusters(similarity(ds, measure), n_clusters=n_clusters, seed=seed)


def cluster_agreement(ds: xr.Dataset, n_clusters: int, n_boot: int = 1000, seed: int = 0, reference: str = "sat",
                      measures: list[str] | None = None) -> dict[str, Estimate]:
    """Adjusted Rand index of the models' clusters by ``reference`` (SAT) and by each other measure (or those
    named), with a 95 % interval from resampling the models with both clusterings fixed (it covers which models
    the zoo holds, not a re-clustering); 0 = chance, 1 = the same partition."""
    ref = model_clusters(ds, reference, n_clusters, seed).to_numpy()
    out = {}
    for m in measures or measures_of(ds):
        if m == reference:
            continue
        other = model_clusters(ds, m, n_clusters, seed).to_numpy()
        out[m] = resample(lambda idx, o=other: adjusted_rand_score(ref[idx], o[idx]), len(ref), unit=UNIT,
                          n_resamples=n_boot, seed=seed)
    return out


def pair_spearman(ds: xr.Dataset, a: str, b: str, n_boot: int = 1000, seed: int = 0) -> Estimate:
    """Spearman ρ of two measures (or targets) over the pairs, interval by resampling the models."""
    from sat_lib.stats import pairs_bootstrap

    pairs = pair_frame(ds)
    stat = lambda p: correlation(p[a], p[b], "spearman")  # noqa: E731
    boot = pairs_bootstrap(pairs, ds.sizes["model"], stat, n_boot=n_boot, seed=seed)
    return interval(boot, stat(pairs), UNIT, ds.sizes["model"])


def embedding(matrix: np.ndarray) -> np.ndarray:
    """A 2-D map of the models from one oriented similarity matrix: classical (Torgerson) MDS of the dissimilarity
    max − similarity, symmetrised (an unknown pair: the largest dissimilarity) — deterministic, no seed."""
    s = np.asarray(matrix, dtype=float)
    s = (s + s.T) / 2
    off = s[~np.eye(len(s), dtype=bool)]
    top = np.nanmax(off) if np.isfinite(off).any() else 1.0
    d = np.where(np.isfinite(s), top - s, np.nan)
    d = np.clip(np.where(np.isfinite(d), d, np.nanmax(d) if np.isfinite(d).any() else 1.0), 0, None)
    np.fill_diagonal(d, 0)
    n = len(d)
    centre = np.eye(n) - 1.0 / n
    b = -0.5 * centre @ (d ** 2) @ centre
    vals, vecs = np.linalg.eigh(b)
    top2 = np.argsort(vals)[::-1][:2]
    xy = vecs[:, top2] * np.sqrt(np.clip(vals[top2], 0, None))
    return xy * np.where(xy[np.abs(xy).argmax(0), [0, 1]] < 0, -1, 1)  # a sign convention: stable maps


def targets_of(ds: xr.Dataset) -> list[str]:
    return [str(t) for t in ds["target"].values if t in TARGETS]
