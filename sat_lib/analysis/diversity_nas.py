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
from sat_lib.claims import paper_claims
from sat_lib.claims.verdict import Gate, chance_gate
from sat_lib.stats import LEVEL, Estimate, correlation, index_draws, interval

CHAPTER = "diversity-nas"
TOP_QUANTILE = 0.9  # the paper's largest improvement is shown beside this quantile of ours (``claim_estimates``)


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


def cost_text(ds: xr.Dataset) -> str:
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


def comparison_caveat(ds: xr.Dataset, het: xr.Dataset | None) -> str:
    """One or two sentences: on how many test images each pool's ensembles are scored, and what that does to the
    comparison of their improvements."""
    if het is None:
        return ("The heterogeneous pool's result (diversity-ensembles chapter) is not stored, so the comparison with "
                "it is not made.")
    n, m = ds.sizes["image"], het.sizes["image"]
    profile = params(ds).get("ensembles_profile")
    text = (f"The subnetworks' ensembles are scored on {n:,} test images, the heterogeneous pool's (the "
            f"diversity-ensembles chapter's {f'`{profile}` ' if profile else ''}result) on {m:,}")
    if n == m:
        return text + ": the same number, so the two improvements carry the same test-set noise."
    ratio = math.sqrt(max(n, m) / min(n, m))
    noisier = "heterogeneous pool's" if m < n else "subnetworks'"
    return (text + f": one image moves an accuracy by {100 / n:.2g} pp against {100 / m:.2g} pp, and the "
            f"{noisier} improvements carry about {ratio:.1f}× the sampling noise of the other's. The comparison's "
            "interval resamples the pools' models, not the images, so it does not cover that difference.")


def claims_note(ds: xr.Dataset, het: xr.Dataset | None) -> str:
    """What the claims table's first two rows estimate, and the caveat of the comparison with the heterogeneous
    pool (``comparison_caveat``)."""
    bound = paper_claims(CHAPTER)["claims"]["nas_improvement_tiny"]["value"]
    return (f"The paper bounds the *largest* improvement of its ImageNet subnetwork ensembles (< {bound} pp), a level "
            "from a setting too different to judge ours by: the first row shows ours beside it without a verdict — "
            f"the {100 * TOP_QUANTILE:.0f}th percentile of the improvements (a bootstrap interval of a maximum is "
            "degenerate: no resample's maximum exceeds the observed one), with the largest beside it. The paper's "
            "statement behind the bound, that subnetworks of one super-network gain little as an ensemble, is the "
            "second row's comparison with the heterogeneous pool. "
            + (f"The second row compares improvements measured on {ds.sizes['image']:,} and {het.sizes['image']:,} "
               "test images (the caveat under Fig. 8)." if het is not None else comparison_caveat(ds, het)))


def params(ds: xr.Dataset) -> dict:
    """The parameters a result was computed with ({} when it does not record them)."""
    return json.loads(ds.attrs.get("params_json", "{}"))


def two_pool_estimate(a: xr.Dataset, b: xr.Dataset, stat_a, stat_b, n_boot: int = 2000, seed: int = 0,
                      names: tuple[str, str] = ("subnetworks", "heterogeneous")) -> Estimate:
    """``stat_a(rows of a) − stat_b(rows of b)`` with a percentile interval from resampling each pool's models
    independently (``diversity_ensembles.ensemble_rows``); the unit names each pool's size (``names``)."""
    ma, mb = a["member_index"].values, b["member_index"].values
    na, nb = a.sizes["model"], b.sizes["model"]
    point = stat_a(np.arange(len(ma))) - stat_b(np.arange(len(mb)))
    samples = []
    for da, db in index_draws([na, nb], n_boot, seed):  # each pool's models resampled on its own
        ra, rb = de.ensemble_rows(ma, da), de.ensemble_rows(mb, db)
        samples.append(stat_a(ra) - stat_b(rb) if len(ra) >= 3 and len(rb) >= 3 else math.nan)
    return interval(samples, point, f"models ({na} {names[0]} + {nb} {names[1]}, each pool resampled)", na + nb, LEVEL)


def claim_estimates(ds: xr.Dataset, het: xr.Dataset | None, n_boot: int = 2000,
                    seed: int = 0) -> list[tuple[str, str, Estimate]]:
    """(key, qualifier, estimate) per claims-table row; a claim this result (or a missing heterogeneous result)
    cannot estimate is left out and shows as inconclusive.

    ``nas_improvement_tiny`` (context: the paper's ImageNet level beside ours, not judged): a bootstrap interval
    of the *largest* improvement is degenerate — no resample's maximum exceeds the observed one — so the row
    estimates the ``TOP_QUANTILE`` quantile of the improvements, a smooth statistic; the qualifier gives the
    largest improvement and how many ensembles exceed the paper's bound, without an interval.
    ``diversity_metrics_agree`` resamples models and images (disagreement re-measured on each draw)."""
    est = lambda stat: de.resampled(ds, stat, n_boot, seed)  # noqa: E731
    out = []
    if de.has(ds, de.AVERAGING):
        c = de.columns(ds, de.CLEAN, de.AVERAGING)
        imp = c["improvement"]
        bound = paper_claims(CHAPTER)["claims"]["nas_improvement_tiny"]["value"]
        out.append(("nas_improvement_tiny", f"the {100 * TOP_QUANTILE:.0f}th percentile; the largest: {imp.max():.2f} "
                    f"pp, {int((imp > bound).sum())} of {len(imp)} ensembles above {bound} pp",
                    est(lambda i: float(np.quantile(imp[i], TOP_QUANTILE)))))
        if het is not None and de.has(het, de.AVERAGING):
            h = de.columns(het, de.CLEAN, de.AVERAGING)
            out.append(("nas_below_heterogeneous", "",
                        two_pool_estimate(ds, het, lambda i: float(c["improvement"][i].mean()),
                                          lambda i: float(h["improvement"][i].mean()), n_boot, seed)))
    agree = lambda c, i: correlation(c["attribution_diversity"][i], c["disagreement"][i])  # noqa: E731
    out.append(("diversity_metrics_agree", "",
                de.models_images_estimate(ds, agree, de.CLEAN, n_boot, seed) if de.has_images(ds)
                else est(lambda i: agree({k: ds[k].sel(set=de.CLEAN).values
                                          for k in ("attribution_diversity", "disagreement")}, i))))
    d = ds["pair_diversity"].values
    out.append(("saliency_agrees_with_ig_nas", "",
                de.pair_estimate(ds, lambda i: de.mean_method_correlation(d, i), n_boot, seed)))
    return out


ATTRIBUTION_KEYS = ("diversity_metrics_agree", "saliency_agrees_with_ig_nas")
AVERAGING_KEYS = ("nas_improvement_tiny", "nas_below_heterogeneous")


def checks(ds: xr.Dataset, het: xr.Dataset | None = None) -> list[Gate]:
    """What the claims rest on, from the stored results: every subnetwork above twice chance on the clean images,
    their Saliency maps nonzero, which intervals cover the images' noise (``diversity_ensembles.checks``), and,
    for the comparison with the heterogeneous pool, every model of that pool above twice chance."""
    gates = de.checks(ds, "subnetwork", ATTRIBUTION_KEYS, AVERAGING_KEYS)
    if het is not None:
        acc = dict(zip(map(str, het["model"].values), het["model_accuracy"].sel(set=de.CLEAN).values))
        k = de.n_classes(het)
        gates.append(chance_gate({n: a / 100 for n, a in acc.items()}, k, "heterogeneous pool model",
                                 ("nas_below_heterogeneous",)))
    return gates


def claims_table(ds: xr.Dataset, het: xr.Dataset | None = None, n_boot: int = 2000, seed: int = 0,
                 gates: list[Gate] | None = None) -> pd.DataFrame:
    """The paper's Fig. 8 and 9 claims beside ours, decided by ``claim_row`` on the gates of ``checks``; every key
    of the claims file appears, one this result cannot estimate as an inconclusive row."""
    return de.estimates_table(CHAPTER, claim_estimates(ds, het, n_boot, seed), de.no_estimate(ds),
                              checks(ds, het) if gates is None else gates)
