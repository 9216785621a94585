"""Analyses of the training-procedure chapter (SAT paper Table 4, Fig. 4b): SAT within groups of one
architecture trained alike but for one kind of difference, against SAT between the zoo's architectures.

Intervals resample *models* (pairs share models): within a group, the group's models are drawn with replacement
and the pairs of two different drawn models kept; the zoo's baseline resamples the zoo's models the same way
(``sat_lib.analysis.sat_matrix.model_bootstrap``). A difference of a group and the zoo combines independent resamples
of each.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from sat_lib.analysis import sat_training_checks
from sat_lib.analysis.sat_matrix_checks import pair_spread
from sat_lib.analysis.sat_matrix import (attack_gates, model_bootstrap, pair_frame, symmetric,
                                         token_gate, tokens_seen)
from sat_lib.claims import paper_claims, scored_claims
from sat_lib.claims.verdict import Gate, chance_gate, claim_row
from sat_lib.stats import Estimate, interval, replicates
from sat_lib.variants import ZOO_MODEL

KIND_LABELS = {"initialization": "initialization", "hyperparameter": "hyper-parameters", "regime": "training regime"}
# which of the paper's two architectures an architecture family of ours stands in for
PAPER_ARCH = {"CNN": "ResNet-50", "NAS": "ResNet-50"}
PAPER_ARCH_OTHER = "ViT-S"


def paper_arch(ds: xr.Dataset, zoo: xr.Dataset, arch: str) -> str:
    """The paper architecture whose Table 4 rows ``arch`` is compared with: ResNet-50 for convolutional
    families, ViT-S for attention, MLP and hybrid ones."""
    fam = str(zoo["family"].sel(model=arch).values) if arch in zoo["model"].values else "CNN"
    return PAPER_ARCH.get(fam, PAPER_ARCH_OTHER)


def group_members(ds: xr.Dataset, arch: str, kind: str) -> np.ndarray:
    return np.flatnonzero((ds["arch"].values == arch) & (ds["kind"].values == kind))


def _mean_pairs(sat: np.ndarray, idx: np.ndarray) -> float:
    """Mean SAT over the pairs of two *different* positions of ``idx`` whose models differ."""
    i, j = np.triu_indices(len(idx), k=1)
    a, b = idx[i], idx[j]
    keep = a != b
    return float(sat[a[keep], b[keep]].mean()) if keep.any() else np.nan


def _group_boot(sat: np.ndarray, members: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    return np.array(replicates(lambda idx: _mean_pairs(sat, members[idx]), len(members), n_boot, seed))


def group_estimate(ds: xr.Dataset, arch: str, kind: str, n_boot: int = 2000, seed: int = 0) -> tuple[Estimate, np.ndarray]:
    """Mean SAT within one (architecture, kind) group with its interval over the group's models, and the
    bootstrap samples (for differences)."""
    sat = symmetric(ds["sat"])
    members = group_members(ds, arch, kind)
    if len(members) < 3:  # two models: one pair, nothing to resample
        return Estimate(_mean_pairs(sat, members), np.nan, np.nan, "models", len(members)), np.full(n_boot, np.nan)
    boot = _group_boot(sat, members, n_boot, seed)
    return interval(boot, _mean_pairs(sat, members), "models", len(members)), boot


def zoo_estimate(zoo: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> tuple[Estimate, np.ndarray]:
    """Mean SAT between the zoo's different architectures (Table 4 "All"), interval over the zoo's models."""
    stat = lambda p: float(p["sat"].mean())  # noqa: E731
    boot = model_bootstrap(zoo, stat, n_boot=n_boot, seed=seed)
    return interval(boot, stat(pair_frame(zoo)), "models", zoo.sizes["model"]), boot


def difference(a: tuple[Estimate, np.ndarray], b: tuple[Estimate, np.ndarray], unit: str) -> Estimate:
    """``a − b`` with an interval from their bootstrap samples, drawn independently (different models)."""
    return interval(a[1] - b[1], a[0].value - b[0].value, unit, a[0].n + b[0].n)


def table4(ds: xr.Dataset, zoo: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Table 4 beside ours: per architecture and kind, mean SAT within the group [95 % CI over its models],
    the group's accuracy range, and the paper's value for the architecture it stands in for; last, the zoo."""
    values = scored_claims("sat-training")["same_architecture"]["values"]
    rows = []
    for arch in dict.fromkeys(ds["arch"].values):
        pa = paper_arch(ds, zoo, arch)
        for kind in dict.fromkeys(ds["kind"].values[ds["arch"].values == arch]):
            est, _ = group_estimate(ds, arch, kind, n_boot, seed)
            acc = 100 * ds["accuracy"].values[group_members(ds, arch, kind)]
            rows.append({"architecture": arch, "diversity by": KIND_LABELS.get(kind, kind), "models": est.n,
                         "accuracy (%)": f"{acc.min():.1f}–{acc.max():.1f}",
                         "SAT within [95 % CI]": est.text(), "paper": f"{pa}: {values[f'{pa}, {kind}']:.2f}"})
    est, _ = zoo_estimate(zoo, n_boot, seed)
    acc = 100 * zoo["accuracy"].values
    rows.append({"architecture": "All (the zoo)", "diversity by": "architecture", "models": est.n,
                 "accuracy (%)": f"{acc.min():.1f}–{acc.max():.1f}", "SAT within [95 % CI]": est.text(),
                 "paper": f"{paper_claims('sat-training')['claims']['all']['value']:.2f}"})
    return pd.DataFrame(rows)


def pairs(ds: xr.Dataset, zoo: xr.Dataset) -> pd.DataFrame:
    """Every pair within a group (arch, kind) and every pair of different zoo architectures: one frame for
    Fig. 4b's strip plot (columns ``group``, ``arch``, ``sat``)."""
    sat = symmetric(ds["sat"])
    rows = []
    for arch in dict.fromkeys(ds["arch"].values):
        for kind in dict.fromkeys(ds["kind"].values[ds["arch"].values == arch]):
            m = group_members(ds, arch, kind)
            i, j = np.triu_indices(len(m), k=1)
            rows += [{"arch": arch, "group": KIND_LABELS.get(kind, kind), "sat": float(sat[m[a], m[b]])}
                     for a, b in zip(i, j)]
    zp = pair_frame(zoo)
    rows += [{"arch": "the zoo", "group": "architecture", "sat": float(s)} for s in zp["sat"]]
    return pd.DataFrame(rows)


GATED = ("procedure_vs_architecture", "regime_vs_initialization")  # the readings that rest on the group's SAT


def arch_gates(ds: xr.Dataset, zoo: xr.Dataset, arch: str, seed_check: xr.Dataset | None = None) -> list[Gate]:
    """The gates of one retrained architecture's rows: an attention stand-in must see enough tokens, and the
    attack on its seeds is checked (the chapter's section ``seed_check``, where it checked this architecture)."""
    if tokens_seen(arch) is None:
        return []
    if seed_check is not None and seed_check.attrs.get("check_arch") != arch:
        seed_check = None
    return [token_gate(arch, claims=GATED, stands_for=paper_arch(ds, zoo, arch)),
            *sat_training_checks.gates(seed_check, arch, GATED)]


def checks(ds: xr.Dataset, zoo: xr.Dataset, check: xr.Dataset | None = None,
           seed_check: xr.Dataset | None = None) -> list[Gate]:
    """The chapter's Checks, from the stored results: every retrained model above twice chance, the attention
    stand-in's gates (with its seeds' attack checks, ``seed_check``), and the zoo's attack checks (the sat-matrix
    chapter's section ``check``)."""
    arch = [g for a in dict.fromkeys(ds["arch"].values) for g in arch_gates(ds, zoo, a, seed_check)]
    common = common_gates(ds, zoo, check)
    return [*common[:1], *arch, *common[1:]]


def common_gates(ds: xr.Dataset, zoo: xr.Dataset, check: xr.Dataset | None = None) -> list[Gate]:
    """The gates of every row: every retrained model above twice chance; the zoo's attack checks."""
    return [chance_gate(dict(zip(map(str, ds["model"].values), ds["accuracy"].values)), ds.sizes.get("class", 10)),
            *attack_gates(check=check, spread=pair_spread(zoo))]


def claims_table(ds: xr.Dataset, zoo: xr.Dataset, n_boot: int = 2000, seed: int = 0,
                 check: xr.Dataset | None = None, seed_check: xr.Dataset | None = None) -> pd.DataFrame:
    """Table 4's values (context: ImageNet levels beside ours) and the paper's two readings of it, each decided
    by its kind (``claim_row``): retrained copies of one architecture are more alike than different architectures
    (procedure_vs_architecture, per group); a different training regime lowers SAT more than a different seed
    (regime_vs_initialization). An architecture's rows carry its own gates (``arch_gates``) beside the chapter's."""
    claims = scored_claims("sat-training")
    values = claims["same_architecture"]["values"]
    common = common_gates(ds, zoo, check)
    all_est = zoo_estimate(zoo, n_boot, seed)
    rows = [claim_row("mean SAT between the zoo's architectures (Table 4, All)", claims["all"], all_est[0],
                      key="all", gates=common, paper=f"{claims['all']['value']:.2f} (69 ImageNet models)")]
    pva, rvi = claims["procedure_vs_architecture"], claims["regime_vs_initialization"]
    for arch in dict.fromkeys(ds["arch"].values):
        pa = paper_arch(ds, zoo, arch)
        gates = common + arch_gates(ds, zoo, arch, seed_check)
        groups = {k: group_estimate(ds, arch, k, n_boot, seed)
                  for k in dict.fromkeys(ds["kind"].values[ds["arch"].values == arch])}
        for kind, est in groups.items():
            paper = values[f"{pa}, {kind}"]
            rows.append(claim_row(f"{arch}: mean SAT within, {KIND_LABELS.get(kind, kind)} ({pa} in the paper)",
                                  claims["same_architecture"], est[0], key="same_architecture", gates=gates,
                                  value=paper, paper=f"{pa}: {paper:.2f}"))
        for kind, est in groups.items():
            d = difference(est, all_est, "models (group + zoo)")
            rows.append(claim_row(f"{arch}: SAT within ({KIND_LABELS.get(kind, kind)}) minus between architectures",
                                  pva, d, key="procedure_vs_architecture", gates=gates))
        if "regime" in groups and "initialization" in groups:
            d = difference(groups["regime"], groups["initialization"], "models (both groups)")
            rows.append(claim_row(f"{arch}: SAT within (training regime) minus within (initialization)", rvi, d,
                                  key="regime_vs_initialization", gates=gates))
    return pd.DataFrame(rows)


def accuracy_table(ds: xr.Dataset) -> pd.DataFrame:
    """Every trained variant: what differs, its test accuracy, epochs, seconds, and whether it came from the cache."""
    return pd.DataFrame({
        "architecture": ds["arch"].values, "diversity by": [KIND_LABELS.get(k, k) for k in ds["kind"].values],
        "what differs": ds["description"].values, "optimiser": ds["recipe"].values,
        "accuracy (%)": 100 * ds["accuracy"].values, "epochs": ds["train_epochs"].values,
        "train s": ds["train_seconds"].values, "PGD s": ds["attack_seconds"].values,
    }, index=pd.Index(ds["model"].values, name="model"))


def cost_table(ds: xr.Dataset) -> pd.DataFrame:
    """Minutes of computation behind the result on the machine in its provenance: training and PGD of the
    chapter's own models (the zoo's models it reuses count in the sat-matrix chapter), the evaluation of every
    model on every model's examples, and the total."""
    own = ds["description"].values != ZOO_MODEL
    rows = {"training": float(ds["train_seconds"].values[own].sum()),
            "PGD": float(ds["attack_seconds"].values[own].sum()),
            "evaluation (all pairs)": float(ds.attrs.get("evaluate_seconds", np.nan))}
    rows["total"] = sum(rows.values())
    out = pd.DataFrame({"minutes": {k: v / 60 for k, v in rows.items()}})
    out["models"] = [int(own.sum()) if k in ("training", "total") else np.nan for k in rows]
    return out


def discussion(ds: xr.Dataset, zoo: xr.Dataset, table: pd.DataFrame) -> str:
    """A short Markdown reading of the claims table, every number from the results."""
    table = table.set_index("claim") if "claim" in table.columns else table
    lines = []
    all_row = table[table["key"] == "all"].iloc[0]
    lines.append(f"* **Between architectures** the zoo's mean SAT is **{all_row['ours [95 % CI]']}** beside the "
                 "paper's 2.73 over 69 ImageNet models (shown, not judged: another zoo, another task). Table 4's "
                 "levels likewise are ImageNet ResNet-50 / ViT-S levels, shown beside ours; the paper's two readings "
                 "of them are tested.")
    for arch in dict.fromkeys(ds["arch"].values):
        rows = table[table.index.str.startswith(f"{arch}:")]
        within = rows[rows["key"] == "same_architecture"]
        diffs = rows[rows["key"] == "procedure_vs_architecture"]
        parts = "; ".join(f"{i.split(', ', 1)[1].split(' (')[0]} {r['ours [95 % CI]']}" for i, r in within.iterrows())
        agree = (diffs["verdict"] == "agrees").sum()
        gated = diffs["verdict"].str.startswith("not tested").all() and len(diffs)
        verdict = (f"not tested: {arch} fails a gate (Checks), so its groups' SAT is shown but not scored"
                   if gated else f"{agree} of {len(diffs)} groups are more alike than different architectures by "
                   "the interval rule")
        lines.append(f"* **{arch}** (stands in for {paper_arch(ds, zoo, arch)}): SAT within groups — {parts}. "
                     f"{verdict}.")
        reg = rows[rows["key"] == "regime_vs_initialization"]
        if len(reg):
            r = reg.iloc[0]
            lines.append(f"  A different training regime against a different seed: {r['ours [95 % CI]']} "
                         f"(paper: lower) — **{r['verdict']}**.")
    return "\n".join(lines)


