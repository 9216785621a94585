"""Fig. G.1b: Patch-Fool on one Vision Transformer of the zoo against PGD (the ``sat-patch`` result, a section of
the sat-attacks chapter), and the same models trained again against the stored zoo."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import xarray as xr

from sat_lib.claims import scored_claims
from sat_lib.claims.verdict import Gate, claim_row, decisive_format
from sat_lib.stats import Estimate, correlation, correlation_p, partial_correlation_estimate, resample, seeds_images


def patch_frame(pds: xr.Dataset) -> pd.DataFrame:
    """One row per target (every model but the source): its accuracy, the images it and the source both classify
    correctly, how often the source's PGD and Patch-Fool examples and the random-patch control fool it (%), and
    SAT by PGD both ways (Eq. 1) and one-sided (the source's examples only)."""
    src = pds.attrs["source"]
    t = [m for m in pds["model"].values if m != src]
    sel = lambda v: pds[v].sel(model=t).values  # noqa: E731
    control = {"random-patch transfer (%)": sel("transfer_random"),
               "one-sided SAT by a random patch": sel("sat_random_one_sided")} if "transfer_random" in pds else {}
    return pd.DataFrame({
        "model": t, "accuracy (%)": 100 * sel("accuracy").astype(float),
        "images": pds["n_both"].sel(model=src, model_b=t).values,
        "PGD transfer (%)": sel("transfer_pgd"), "Patch-Fool transfer (%)": sel("transfer_patch"),
        "SAT by PGD": pds["sat_pgd"].sel(model=src, model_b=t).values,
        "one-sided SAT by PGD": sel("sat_pgd_one_sided"), "one-sided SAT by Patch-Fool": sel("sat_patch_one_sided"),
        **control,
    }).set_index("model")


PATCH_STATS = {
    "pearson": ("SAT by PGD", "one-sided SAT by Patch-Fool", "pearson"),
    "spearman": ("SAT by PGD", "one-sided SAT by Patch-Fool", "spearman"),
    "one_sided": ("one-sided SAT by PGD", "one-sided SAT by Patch-Fool", "pearson"),
}
PATCH_LABELS = {"pearson": "Pearson r (SAT by PGD, Patch-Fool one-sided SAT)",
                "spearman": "Spearman r (SAT by PGD, Patch-Fool one-sided SAT)",
                "one_sided": "Pearson r (one-sided SAT: PGD, Patch-Fool)"}


def patch_estimates(pds: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> dict[str, Estimate]:
    """``PATCH_STATS`` over the targets, each with a 95 % interval over targets (the source is fixed, as the
    paper's ViT-S is, so the targets are the independent unit)."""
    f = patch_frame(pds)
    out = {}
    for key, (x, y, kind) in PATCH_STATS.items():
        a, b = f[x].to_numpy(float), f[y].to_numpy(float)
        out[key] = resample(lambda i, a=a, b=b, kind=kind: correlation(a[i], b[i], kind), len(f),
                            unit="target models", n_resamples=n_boot, seed=seed)
    return out


def patch_table(pds: xr.Dataset, estimates: dict[str, Estimate] | None = None, n_boot: int = 2000,
                seed: int = 0) -> pd.DataFrame:
    """The estimates with scipy's p (targets as independent, as the paper's p over its 68 models)."""
    f = patch_frame(pds)
    estimates = estimates or patch_estimates(pds, n_boot, seed)
    rows = []
    for key, label in PATCH_LABELS.items():
        x, y, kind = PATCH_STATS[key]
        rows.append({"statistic": label, "value [95 % CI, target models]": estimates[key].text(),
                     "p": correlation_p(f[x], f[y]) if kind == "pearson" else math.nan, "targets": len(f)})
    return pd.DataFrame(rows).set_index("statistic")


def white_box(pds: xr.Dataset) -> pd.DataFrame:
    """The source against its own examples: the share of its correctly classified images each attack fools, the
    share of the image each changes, and its seconds on the machine in the result's provenance."""
    src = pds.attrs["source"]
    c = pds["correct"].sel(model=src).values
    p = json.loads(pds.attrs["params_json"])
    changed = (pds["example_clean"] != pds["example_patch"]).any("channel").mean(["row", "column"])
    rows = [{"attack": f"PGD, {p['steps']} steps, L∞ ε = {255 * p['eps']:.0f}/255",
             "fools (% of its correct images)": 100 * pds["fooled_pgd"].sel(model=src, model_b=src).values[c].mean(),
             "pixels changed (% of the image)": 100.0,
             "seconds": float(pds["attack_seconds"].sel(model=src))},
            {"attack": f"Patch-Fool, {p['patch_steps']} Adam steps, "
                       f"{'one patch' if p['n_patches'] == 1 else str(p['n_patches']) + ' patches'}, unbounded",
             "fools (% of its correct images)": 100 * pds["fooled_patch"].sel(model=src).values[c].mean(),
             "pixels changed (% of the image)": 100 * float(changed.max()) if pds.sizes["example"] else math.nan,
             "seconds": float(pds.attrs["patch_seconds"])}]
    if "fooled_random" in pds:
        rows.append({"attack": "control: the same patch, uniform noise",
                     "fools (% of its correct images)": 100 * pds["fooled_random"].sel(model=src).values[c].mean(),
                     "pixels changed (% of the image)": rows[1]["pixels changed (% of the image)"],
                     "seconds": 0.0})
    return pd.DataFrame(rows).set_index("attack")


def retrained(pds: xr.Dataset, zoo: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """The section trains its models again with the zoo's recipe (on the machine in its provenance); for the
    models also in the stored ``sat-matrix`` result: accuracy there and here, and the source's SAT by PGD with each
    model, there and here. The last rows: their Pearson r and the mean
    accuracy difference over models, with 95 % intervals over models."""
    src = pds.attrs["source"]
    common = [m for m in pds["model"].values if m in set(zoo["model"].values)]
    if src not in common or len(common) < 4:
        return pd.DataFrame()
    t = [m for m in common if m != src]
    here = pds["sat_pgd"].sel(model=src, model_b=t).values
    there = zoo["sat"].sel(model=src, model_b=t).values
    acc_here = 100 * pds["accuracy"].sel(model=t).values.astype(float)
    acc_there = 100 * zoo["accuracy"].sel(model=t).values.astype(float)
    table = pd.DataFrame({"accuracy, stored (%)": acc_there, "accuracy, here (%)": acc_here,
                          f"SAT with {src}, stored": there, f"SAT with {src}, here": here}, index=pd.Index(t, name="model"))
    r = resample(lambda i: correlation(there[i], here[i]), len(t), unit="models", n_resamples=n_boot, seed=seed)
    d = resample(lambda i: float(np.mean(acc_here[i] - acc_there[i])), len(t), unit="models", n_resamples=n_boot,
                 seed=seed)
    table.attrs["sat_r"], table.attrs["accuracy_difference"] = r, d
    return table


def accuracy_partialled(pds: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> Estimate:
    """r(SAT by PGD, Patch-Fool one-sided SAT) with the targets' accuracy partialled out, interval over targets:
    the paper's targets all lie within 79–83 % top-1, so its raw r is close to this; ours vary."""
    f = patch_frame(pds)
    return partial_correlation_estimate(f["SAT by PGD"], f["one-sided SAT by Patch-Fool"], f["accuracy (%)"],
                                        unit="target models", n_boot=n_boot, seed=seed)


def accuracy_follow(pds: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> Estimate:
    """r(target accuracy, Patch-Fool one-sided SAT), interval over targets: how much the transfer follows accuracy."""
    f = patch_frame(pds)
    a, b = f["accuracy (%)"].to_numpy(float), f["one-sided SAT by Patch-Fool"].to_numpy(float)
    return resample(lambda i: correlation(a[i], b[i]), len(f), unit="target models", n_resamples=n_boot, seed=seed)


def control_excess(pds: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> Estimate | None:
    """Mean over targets of Patch-Fool's transfer minus the random-patch control's (percentage points), each on
    the images the source and the target both classify correctly; interval over targets × images (both vary).
    ``None`` for a result without the control."""
    if "fooled_random" not in pds:
        return None
    src = pds.attrs["source"]
    t = [m for m in pds["model"].values if m != src]
    valid = (pds["correct"].sel(model=t) & pds["correct"].sel(model=src)).transpose("model", "sample").values
    valid = valid.astype(float)                                                           # (target, image)
    patch = pds["fooled_patch"].sel(model=t).values * valid
    rand = pds["fooled_random"].sel(model=t).values * valid

    def stat(a: list[np.ndarray]) -> float:
        p, r, v = a
        n = v.sum(-1)
        return float(np.mean(100 * (p.sum(-1) - r.sum(-1))[n > 0] / n[n > 0]))

    return seeds_images([patch, rand, valid], stat, n_boot=n_boot, seed=seed, groups=[0, 0, 0],
                        unit="target models × images")


def control_gate(pds: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> Gate:
    """Patch-Fool's transfer exceeds the random-patch control's (the whole interval of ``control_excess`` above
    0): otherwise what it measures may be fragility to any occluding patch of that size and place, and its
    correlation with SAT by PGD is not a test of the attack's similarity."""
    name = "Patch-Fool transfers beyond a random patch of the same size and place"
    est = control_excess(pds, n_boot, seed)
    if est is None:
        return Gate(name, None, "not computed: the stored Patch-Fool result has no random-patch control",
                    ("pgd_vs_patchfool",))
    f = patch_frame(pds)
    return Gate(name, bool(est.low > 0),
                f"Patch-Fool − random patch: {est.text()} pp ({est.unit} resampled); mean transfer "
                f"{f['Patch-Fool transfer (%)'].mean():.1f} % against {f['random-patch transfer (%)'].mean():.1f} %",
                ("pgd_vs_patchfool",))


def control_partialled(pds: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> Estimate:
    """r(SAT by PGD, Patch-Fool one-sided SAT) with the random-patch control's one-sided SAT and the targets'
    accuracy partialled out, interval over targets: what Patch-Fool's transfer shares with SAT beyond what any
    patch at that place and the target's accuracy explain."""
    f = patch_frame(pds)
    given = f[["one-sided SAT by a random patch", "accuracy (%)"]].to_numpy(float)
    return partial_correlation_estimate(f["SAT by PGD"], f["one-sided SAT by Patch-Fool"], given,
                                        unit="target models", n_boot=n_boot, seed=seed)


def claim_rows(pds: xr.Dataset, estimates: dict[str, Estimate] | None = None, n_boot: int = 2000,
               seed: int = 0, gates: list[Gate] = ()) -> list[dict]:
    """Fig. G.1b's rows of the chapter's claims table: the claim read with the targets' accuracy partialled out
    (decided), the raw r and its dependence on accuracy beside it (context)."""
    claims = scored_claims("sat-attacks")
    c = claims["pgd_vs_patchfool"]
    raw = (estimates or patch_estimates(pds, n_boot, seed))["pearson"]
    part = accuracy_partialled(pds, n_boot, seed)
    n, src = len(patch_frame(pds)), pds.attrs["source"]
    follow = accuracy_follow(pds, n_boot, seed)
    rows = [claim_row(f"r(SAT by PGD, Patch-Fool transfer | target accuracy), {src} to {n} models", c, part,
                      key="pgd_vs_patchfool", gates=gates, fmt=decisive_format(c["value"], part))]
    if "fooled_random" in pds:
        ctl = control_partialled(pds, n_boot, seed)
        rows.append(claim_row(f"r(SAT by PGD, Patch-Fool transfer | random-patch transfer, target accuracy), {src} "
                              f"to {n} models", c, ctl, key="pgd_vs_patchfool", gates=gates,
                              fmt=decisive_format(c["value"], ctl)))
    return rows + [
        claim_row(f"the raw r(SAT by PGD, Patch-Fool transfer), {src} to {n} models", claims["unadjusted"], raw,
                  key="unadjusted", gates=gates, paper=f"{c['value']:.2f} (targets of one accuracy band)"),
        claim_row(f"r(target accuracy, Patch-Fool transfer), {src} to {n} models", claims["unadjusted"], follow,
                  key="unadjusted", gates=gates, paper="— (accuracy hardly varies in the paper's zoo)")]


def retrained_summary(table: pd.DataFrame, pds: xr.Dataset, zoo: xr.Dataset) -> str:
    """One Markdown line reading ``retrained``'s table: where each set of weights was trained, how well the
    source's SAT by PGD with each model carries over, and the accuracy difference."""
    r, d = table.attrs["sat_r"], table.attrs["accuracy_difference"]
    where = ("on the same machine" if pds.attrs.get("device") == zoo.attrs.get("device") else
             f"here on `{pds.attrs.get('device', '?')}`, the stored zoo on `{zoo.attrs.get('device', '?')}`")
    return (f"Trained {where}: the source's SAT by PGD with the {len(table)} models, stored against here, "
            f"Pearson r = **{r.text()}** ({r.unit} resampled); accuracy here − stored: **{d.text()} pp**.")


def cost_table(pds: xr.Dataset) -> pd.DataFrame:
    """Minutes behind the section on the machine in its provenance: training its models (as first trained, also when
    this run found them in the cache), PGD on each, Patch-Fool on the source, the evaluations, and the total."""
    rows = {"training the models": float(pds["train_seconds"].sum()), "PGD on every model": float(pds["attack_seconds"].sum()),
            "Patch-Fool on the source": float(pds.attrs["patch_seconds"]),
            "evaluating every model on the examples": float(pds.attrs["pgd_evaluate_seconds"])
            + float(pds.attrs["patch_evaluate_seconds"]) + float(pds.attrs.get("random_evaluate_seconds", 0.0))}
    rows["total"] = sum(rows.values())
    return pd.DataFrame({"minutes": {k: v / 60 for k, v in rows.items()}})


def summary(pds: xr.Dataset, estimates: dict[str, Estimate], n: int = 3) -> str:
    """A Markdown reading of the section, every number from the result: which models each attack's examples fool
    most, and the correlation against the paper's."""
    f = patch_frame(pds)
    top = lambda col: ", ".join(f"{m} ({v:.1f} %)" for m, v in f[col].nlargest(n).items())  # noqa: E731
    paper = scored_claims("sat-attacks")["pgd_vs_patchfool"]["value"]
    r = estimates["pearson"]
    text = (f"The source's PGD examples fool most often {top('PGD transfer (%)')}; its Patch-Fool examples "
            f"{top('Patch-Fool transfer (%)')}. Across the {len(f)} targets, SAT by PGD and Patch-Fool's one-sided "
            f"SAT correlate at r = {r.text()} ({r.unit} resampled) against the paper's {paper:.2f}; the rank "
            f"correlation is {estimates['spearman'].text()}.")
    excess = control_excess(pds)
    if excess is not None:
        text += (f" **The control**: the same patch of each image filled with uniform noise fools the targets on "
                 f"{f['random-patch transfer (%)'].mean():.1f} % of the images on average, Patch-Fool's optimised "
                 f"patch on {f['Patch-Fool transfer (%)'].mean():.1f} %: Patch-Fool − control "
                 f"**{excess.text()} pp** ({excess.unit} resampled); r(random-patch transfer, Patch-Fool transfer) "
                 f"over the targets = {correlation(f['one-sided SAT by a random patch'], f['one-sided SAT by Patch-Fool']):.2f}.")
    return text


