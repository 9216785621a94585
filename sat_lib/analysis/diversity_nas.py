"""Analyses of the diversity-nas chapter (design-diversity paper, Sec. 4.2: Figs. 8 and 9 on subnetworks).

The chapter's result has the diversity-ensembles layout, so Figs. 5–7 and 9's tables and figures come from
``sat_lib.analysis.diversity_ensembles`` unchanged; this module adds what is particular to a pool of subnetworks
of one super-network — their configurations and sizes, the effect of BatchNorm recalibration — and the claims of
Fig. 8, one of which compares this pool with the heterogeneous pool of the diversity-ensembles chapter.

Intervals resample the pool's subnetworks (``diversity_ensembles.model_estimate``); the comparison of the two
pools resamples each pool's models independently in every bootstrap round.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import xarray as xr

from sat_lib.analysis import diversity_ensembles as de
from sat_lib.analysis.sat import correlation
from sat_lib.claims.verdict import LEVEL, Estimate, interval

CHAPTER = "diversity-nas"


def subnets_frame(ds: xr.Dataset) -> pd.DataFrame:
    """The pool: each subnetwork's configuration (blocks per stage, bottleneck expansion indices, width indices of
    stem and stages), parameters (M), clean accuracy before and after BatchNorm recalibration, and its accuracy on
    every set (%)."""
    configs = [json.loads(c) for c in ds["subnet_config"].values]
    f = de.models_frame(ds).drop(columns=["family"])
    extra = pd.DataFrame({
        "blocks per stage": [" ".join(str(1 + d) for d in c["depth"]) for c in configs],
        "expansion": ["".join(map(str, c["expansion"])) for c in configs],
        "width": ["".join(map(str, c["width"])) for c in configs],
        "clean, before recalibration (%)": ds["unadapted_accuracy"].values,
    }, index=pd.Index(ds["model"].values, name="model"))
    return extra.join(f)[["blocks per stage", "expansion", "width", "params (M)", "clean, before recalibration (%)",
                          *[c for c in f.columns if c != "params (M)"]]]


def size_spread(ds: xr.Dataset) -> str:
    """One sentence: how close in size the pool is, and its clean accuracy band."""
    p = ds["model_params"].values / 1e6
    acc = ds["model_accuracy"].sel(set=de.CLEAN).values
    return (f"The {len(p)} subnetworks have {1e3 * p.min():,.0f}–{1e3 * p.max():,.0f} thousand parameters (spread "
            f"{100 * (p.max() - p.min()) / np.median(p):.1f} % of the median) and reach {acc.min():.1f}–{acc.max():.1f} % "
            f"clean test accuracy (median {np.median(acc):.1f} %).")


def supernet_summary(ds: xr.Dataset) -> pd.DataFrame:
    """The super-network: parameters, training time and layout, and its per-epoch training loss (the sum of the
    largest, smallest and random subnetworks' losses)."""
    loss = json.loads(ds.attrs["supernet_epoch_loss_json"])
    return pd.DataFrame({
        "parameters (M)": [ds.attrs["supernet_params"] / 1e6],
        "training (min)": [ds.attrs["supernet_train_seconds"] / 60],
        "layout": [ds.attrs["supernet_layout"]],
        "loss, first → last epoch": [f"{loss[0]:.3f} → {loss[-1]:.3f}"],
    }, index=pd.Index(["super-network"]))


def compute_minutes(ds: xr.Dataset) -> str:
    """The chapter's computation, one sentence: super-network training plus the subnetworks' jobs, in minutes."""
    train = ds.attrs["supernet_train_seconds"] / 60
    jobs = float(ds["job_seconds"].sum()) / 60
    return (f"The computation took {train + jobs:.0f} minutes: {train:.0f} to train the super-network, {jobs:.0f} for "
            f"the {ds.sizes['model']} subnetworks (extraction, BatchNorm recalibration, logits on every set and "
            "attribution maps)")


def comparison_table(ds: xr.Dataset, het: xr.Dataset | None) -> pd.DataFrame:
    """Subnetwork ensembles beside the heterogeneous ones (clean set): models, accuracy band, and per consensus
    rule the mean and best improvement and the share above zero."""
    rows = []
    for name, d in (("subnetworks (this chapter)", ds), ("heterogeneous (diversity-ensembles)", het)):
        if d is None:
            continue
        acc = d["model_accuracy"].sel(set=de.CLEAN).values
        s = de.summary_table(d).xs(de.CLEAN, level="set")
        for rule, r in s.iterrows():
            rows.append({"pool": name, "consensus": rule, "models": d.sizes["model"], "ensembles": d.sizes["ensemble"],
                         "test images": d.sizes["image"],
                         "member accuracy (%)": f"{acc.min():.1f}–{acc.max():.1f}",
                         **{k: r[k] for k in ("mean improvement (pp)", "best improvement (pp)",
                                              "ensembles above zero (%)")}})
    return pd.DataFrame(rows).set_index(["pool", "consensus"])


def two_pool_estimate(a: xr.Dataset, b: xr.Dataset, stat_a, stat_b, n_boot: int = 2000, seed: int = 0) -> Estimate:
    """``stat_a(rows of a) − stat_b(rows of b)`` with a percentile interval from resampling each pool's models
    independently (``diversity_ensembles.ensemble_rows``)."""
    rng = np.random.default_rng(seed)
    ma, mb = a["member_index"].values, b["member_index"].values
    na, nb = a.sizes["model"], b.sizes["model"]
    point = stat_a(np.arange(len(ma))) - stat_b(np.arange(len(mb)))
    samples = []
    for _ in range(n_boot):
        ra, rb = de.ensemble_rows(ma, rng.integers(0, na, na)), de.ensemble_rows(mb, rng.integers(0, nb, nb))
        samples.append(stat_a(ra) - stat_b(rb) if len(ra) >= 3 and len(rb) >= 3 else math.nan)
    return interval(samples, point, "models of each pool", na + nb, LEVEL)


def claim_estimates(ds: xr.Dataset, het: xr.Dataset | None, n_boot: int = 2000,
                    seed: int = 0) -> list[tuple[str, str, Estimate]]:
    """(key, qualifier, estimate) per claims-table row; a claim this result (or a missing heterogeneous result)
    cannot estimate is left out and shows as inconclusive."""
    est = lambda stat: de.resampled(ds, stat, n_boot, seed)  # noqa: E731
    out = []
    if de.has(ds, de.AVERAGING):
        c = de.columns(ds, de.CLEAN, de.AVERAGING)
        out.append(("nas_improvement_tiny", "", est(lambda i: float(np.max(c["improvement"][i])))))
        if het is not None and de.has(het, de.AVERAGING):
            h = de.columns(het, de.CLEAN, de.AVERAGING)
            out.append(("nas_below_heterogeneous", "",
                        two_pool_estimate(ds, het, lambda i: float(c["improvement"][i].mean()),
                                          lambda i: float(h["improvement"][i].mean()), n_boot, seed)))
    e = ds.sel(set=de.CLEAN)
    ad, dis = e["attribution_diversity"].values, e["disagreement"].values
    out.append(("diversity_metrics_agree", "", est(lambda i: correlation(ad[i], dis[i]))))
    d = ds["pair_diversity"].values
    out.append(("saliency_agrees_with_ig_nas", "",
                de.pair_estimate(ds, lambda i: de.mean_method_correlation(d, i), n_boot, seed)))
    return out


def claims_table(ds: xr.Dataset, het: xr.Dataset | None = None, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """The paper's Fig. 8 and 9 claims beside ours, verdicts by the shared rule (``sat_lib.claims.verdict``);
    every key of the claims file appears, one this result cannot estimate as an inconclusive row."""
    return de.estimates_table(CHAPTER, claim_estimates(ds, het, n_boot, seed), de.no_estimate(ds))
