"""The atlas's tables for the reader: what it cost (from the stored timings) and where a placed model sits among
the zoo's models by each measure (``sat-companion place``)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from sat_lib.analysis.similarity_atlas.core import finite_mean, label, measures_of, similarity

PART_LABELS = {"outputs": "logits and penultimate features", "gradients": "Saliency (input gradients)",
               "integrated_gradients": "Integrated Gradients", "regions": "decision-region planes",
               "corrupted": "predictions on the corrupted sets"}


def cost_table(ds: xr.Dataset) -> pd.DataFrame:
    """Minutes of per-model time by part (summed over the zoo) and seconds per model, the pair step, and what the
    atlas reused from the SAT chapter (its training and attacks: computed there, not here)."""
    sec = ds["atlas_seconds"]
    n = ds.sizes["model"]
    rows = [{"work": PART_LABELS.get(str(p), str(p)), "computed here": "yes",
             "minutes (whole zoo)": float(sec.sel(part=p).sum()) / 60, "seconds per model": float(sec.sel(part=p).mean())}
            for p in sec["part"].values]
    rows.append({"work": "every measure of every pair (from the stored artifacts)", "computed here": "yes",
                 "minutes (whole zoo)": float(ds.attrs.get("pairs_seconds", np.nan)) / 60,
                 "seconds per model": np.nan})
    for var, what in (("train_seconds", "training the zoo (the SAT chapter's models)"),
                      ("attack_seconds", "PGD on the zoo (the SAT chapter's SAT)")):
        rows.append({"work": what, "computed here": "reused", "minutes (whole zoo)": float(ds[var].sum()) / 60,
                     "seconds per model": float(ds[var].sum()) / n})
    return pd.DataFrame(rows).set_index("work")


def own_minutes(ds: xr.Dataset) -> float:
    """The atlas's own work in minutes (every model's stored timings and the pair step), whatever was reused: the
    cost its page's rerun box states."""
    return (float(ds["atlas_seconds"].sum()) + float(ds.attrs.get("pairs_seconds", 0.0))) / 60


def costs_text(ds: xr.Dataset) -> str:
    """One paragraph: the atlas's own cost and what it reused."""
    own = float(ds["atlas_seconds"].sum()) / 60
    pairs = float(ds.attrs.get("pairs_seconds", 0.0)) / 60
    train, attack = float(ds["train_seconds"].sum()) / 60, float(ds["attack_seconds"].sum()) / 60
    cached = int(ds["weights_from_cache"].sum())
    return (f"The atlas's own work took **{own:.1f} minutes** of per-model time for the {ds.sizes['model']} models "
            f"and {pairs:.1f} for all pairs, on {ds.attrs.get('device', 'this device')}. SAT is the SAT chapter's: "
            f"its training ({train:.1f} minutes) and PGD ({attack:.1f}) are not redone here — {cached} of the "
            f"{ds.sizes['model']} models were read from the weights cache; a model that was not is trained again "
            "first, at the SAT chapter's cost.")


def placement_table(ds: xr.Dataset, new: xr.DataArray, name: str) -> pd.DataFrame:
    """Per measure: a placed model's mean similarity to the zoo (``new``: (measure, model), as stored), the mean
    similarity of the zoo's own models to the others, the share of zoo models less alike to the rest than the
    placed model is (its percentile), and the zoo model nearest to it. Oriented: higher is more alike."""
    from sat_lib.analysis.similarity_atlas.core import oriented

    rows = []
    for m in measures_of(ds):
        zoo = similarity(ds, m).values.copy()
        np.fill_diagonal(zoo, np.nan)
        per_model = np.array([finite_mean(r) for r in zoo])
        row = oriented(new.sel(measure=m).values, m)
        mean = finite_mean(row)
        nearest = int(np.nanargmax(row)) if np.isfinite(row).any() else None
        rows.append({"measure": label(m), "group": str(ds["group"].sel(measure=m).values),
                     f"{name}: mean with the zoo": mean, "zoo models: mean with the others": finite_mean(zoo),
                     "percentile among the zoo's models": 100 * float(np.mean(per_model[np.isfinite(per_model)] < mean))
                     if np.isfinite(mean) and np.isfinite(per_model).any() else np.nan,
                     "nearest zoo model": str(ds["model"].values[nearest]) if nearest is not None else "—",
                     "its similarity": float(row[nearest]) if nearest is not None else np.nan})
    return pd.DataFrame(rows).set_index("measure")


def measure_table(ds: xr.Dataset) -> pd.DataFrame:
    """The atlas's measures: group, what each reads per model, the registered measure and where it comes from."""
    from sat_lib.measures import MEASURES
    from sat_lib.zoo.atlas_pairs import ATLAS_MEASURES

    reads = {"": "the SAT chapter's attacks", "logits": "logits", "correct": "correctness", "regions": "plane labels",
             "features": "penultimate features", "gradient": "input gradients",
             "saliency": "saliency maps", "integrated_gradients": "IG maps"}
    rows = []
    for m in measures_of(ds):
        a = ATLAS_MEASURES[m]
        rows.append({"measure": a.label, "group": a.group, "reads": reads.get(a.artifact, a.artifact),
                     "registered as": a.measure, "higher is more alike": a.higher_is_similar,
                     "source": MEASURES[a.measure].source})
    return pd.DataFrame(rows).set_index("measure")


def cluster_table(ds: xr.Dataset, n_clusters: int, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Adjusted Rand index of the SAT clusters with each other measure's clusters (``cluster_agreement``)."""
    from sat_lib.analysis.similarity_atlas.core import cluster_agreement

    found = cluster_agreement(ds, n_clusters, n_boot=n_boot, seed=seed)
    return pd.DataFrame([{"measure": label(m), "group": str(ds["group"].sel(measure=m).values),
                          "ARI with SAT's clusters [95 % CI]": e.text(), "resampled": f"{e.n} {e.unit}"}
                         for m, e in found.items()]).set_index("measure")


def prediction_display(table: pd.DataFrame) -> pd.DataFrame:
    """``prediction_table`` as measures × targets, each cell "score [low, high]"."""
    from sat_lib.stats import Estimate

    cell = lambda r: Estimate(r["score"], r["low"], r["high"], "models", 0).text()  # noqa: E731
    shown = table.assign(cell=table.apply(cell, axis=1))
    out = shown.pivot(index="label", columns="target", values="cell")
    return out.loc[list(dict.fromkeys(table["label"])), list(dict.fromkeys(table["target"]))]
