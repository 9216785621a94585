"""The universality chapter's prose and cost tables: the subset and inversion texts, training recipes, where our
adversarial accuracies fall short, the discussion, and what the grid cost."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from sat_lib.analysis.universality import length as L
from sat_lib.analysis.universality.claims import params, standard_adversarial_accuracy, with_table4_value
from sat_lib.analysis.universality.core import (UNIT, accuracy_estimate, at_effect, members,
                                               pair_estimates, paper_accuracy, paper_table4)
from sat_lib.claims import paper_claims
from sat_lib.stats import Estimate


@dataclass(frozen=True)
class Setup:
    """What the analysis reads of the chapter's parameters, from the stored result (``params_json``): the zoo and
    architectures, the training recipe's overrides and the evaluation attack (L2 PGD of ``eval_steps`` steps of
    2.5 ε / steps, no random start; a standard model is attacked at ``eval_eps0``)."""

    zoo: str
    archs: tuple[str, ...]
    subset_archs: tuple[str, ...]
    batch_size: int
    label_smoothing: float
    eval_eps0: float
    eval_steps: int
    eval_images: int
    precision: str
    weight_decay: float | None = None  # None: each architecture's recipe's

    @classmethod
    def of(cls, ds: xr.Dataset) -> "Setup":
        p = params(ds)
        return cls(zoo=p["zoo"], archs=tuple(p["archs"]), subset_archs=tuple(p.get("subset_archs") or ()),
                   batch_size=p["batch_size"], label_smoothing=p["label_smoothing"], eval_eps0=p["eval_eps0"],
                   eval_steps=p["eval_steps"], eval_images=p["eval_images"], precision=p["precision"],
                   weight_decay=p.get("weight_decay"))

    def architectures(self) -> list[str]:
        """Every trained architecture once: the full setting's, then the subset setting's."""
        return list(dict.fromkeys([*self.archs, *(self.subset_archs or self.archs)]))

    def eval_step_ratio(self, eps: float = 0.0) -> float:
        """The evaluation attack's step size over its radius at the model's ε (0: ``eval_eps0``)."""
        e = eps or self.eval_eps0
        return 2.5 * e / self.eval_steps / e



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
    from sat_lib.stats import bootstrap

    steps = int(params(ds)["invert_steps"])
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

    cfg = Setup.of(ds)
    zoo = get_zoo(cfg.zoo)
    rows = []
    for m in cfg.architectures():
        entry = zoo[m]
        rec = RECIPES[entry.recipe]
        wd = cfg.weight_decay if cfg.weight_decay is not None else rec.weight_decay
        ep = ds["epochs"].sel(model=m).values
        ep = sorted({int(v) for v in ep[np.isfinite(ep)]})
        rows.append({"architecture": m, "optimiser": rec.optimizer, "weight decay": f"{wd:g} (every ε)",
                     "batch size": str(cfg.batch_size), "label smoothing": f"{cfg.label_smoothing:g}",
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

    cfg = Setup.of(ds)
    zoo = get_zoo(cfg.zoo)
    p = paper_claims("universality")["training"]
    groups: dict[tuple[str, str, float], list[str]] = {}
    for m in cfg.architectures():
        rec_name = zoo[m].recipe
        rec = RECIPES[rec_name]
        wd = cfg.weight_decay if cfg.weight_decay is not None else rec.weight_decay
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
            + "; ".join(ours) + f"; batch {cfg.batch_size}, label smoothing {cfg.label_smoothing:g}.")


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
                         seed: int = 0, length: xr.Dataset | None = None) -> str:
    """Where our adversarial accuracies fall short of Table 4 and the likely reasons: the evaluation attack and its
    precision, and the training length — tested by the training-length section (``length``) where it is stored —
    the models' size and label smoothing as hypotheses; every number read from the stored results, their
    parameters and the paper's table."""
    cfg = Setup.of(ds)
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
    start = "no random start"
    n_params = ds["n_params"].sel(setting="full", eps=eps[0], model=names).values / 1e6
    paper_epochs = paper_claims("universality")["training"]["epochs"]
    layouts = sorted({str(v) for v in ds["layout"].sel(setting="full", model=names).values.ravel() if str(v)})
    length_tested = L.complete(length)
    reasons = [f"a weak evaluation attack: {cfg.eval_steps}-step L2 PGD of step {cfg.eval_step_ratio():g} ε, with "
               f"{start} and no restarts, on {int(cfg.eval_images)} test images — a standard model that keeps "
               f"much of its accuracy at ε = {float(cfg.eval_eps0):g} is what an attack that has not converged "
               "would show",
               (f"small models ({n_params.min():.2f}–{n_params.max():.1f} M parameters), which may sit in another "
                "regime than the paper's networks" if length_tested else
                f"small models trained briefly ({n_params.min():.2f}–{n_params.max():.1f} M parameters, "
                f"{_epochs_text(ds)} epochs against the paper's {paper_epochs}), which may sit in another regime "
                "than the paper's converged networks")]
    if "jpeg" in str(ds.attrs.get("dataset_source", "")).lower():
        reasons.append("the data: this result trained and tested on a JPEG-coded copy of CIFAR-10 "
                       f"({Path(str(ds.attrs['dataset_source'])).name}), whose pixels differ from the official "
                       "files the paper used")
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
    tested = _tested_reasons(ds, length, n_boot, seed)
    if tested:
        parts.append("Tested by the training-length section: " + " ".join(tested))
        reasons = [r for r in reasons if not r.startswith(("a weak evaluation attack", "the attack's precision"))]
    parts.append(f"Likely reason{'s' if len(reasons) > 1 else ''}, not tested here (hypothes"
                 f"{'es' if len(reasons) > 1 else 'is'}): "
                 + "; ".join(f"({i}) {r}" for i, r in enumerate(reasons, 1)) + ".")
    return " ".join(parts)


def _tested_reasons(ds: xr.Dataset, length: xr.Dataset | None, n_boot: int, seed: int) -> list[str]:
    """Sentences on what the training-length section shows about the attack and the training length (empty
    without the section, or before its chapter-length budget is complete)."""
    budget = int(params(ds).get("epochs", -1))
    if length is None or budget not in [int(b) for b in length["budget"].values] \
            or not np.isfinite(length["accuracy"].sel(budget=budget).values).all():
        return []
    gap = L.attack_gap(length, budget, n_boot, seed)
    out = [f"the attack — on the chapter's own standard models, 100-step PGD with a random start and APGD-CE, both "
           f"in fp32 (so the attack's bf16 precision is covered too), lower the adversarial accuracy by "
           f"{gap.text('.1f')} pp against the chapter's PGD: the attack has "
           f"{'converged' if gap.high < L.CONVERGED_PP else 'not converged'}, and "
           f"{'is not' if gap.high < L.CONVERGED_PP else 'may be'} why our standard models keep so much."]
    worst = L.strong(length).sel(attack="worst")
    done = [b for b in length["budget"].values if np.isfinite(length["accuracy"].sel(budget=b).values).all()]
    if len(done) > 1:
        seq = "; ".join(f"{int(b)} epochs: clean {100 * float(length['accuracy'].sel(budget=b).mean()):.1f} %, "
                        f"worst-case adversarial {100 * float(worst.sel(budget=b).mean()):.1f} %" for b in done)
        if not L.complete(length):
            out.append(f"Training length — mean over architectures, {seq} (the longer budgets are still being "
                       "computed).")
        else:
            effect = L.training_effect(length, n_boot, seed)
            meaning = ("longer training lowers it, so short training explains part of the gap"
                       if effect.has_interval and effect.high < 0 else
                       "longer training raises it, so short training is not why our standard models keep so much"
                       if effect.has_interval and effect.low > 0 else
                       "no change is detected, so short training does not explain the gap within this interval")
            out.append(f"Training length — mean over architectures, {seq}; longest minus shortest "
                       f"{effect.text('.1f')} pp: {meaning}.")
    return out


def _strength_text(ours: dict[float, float], paper: pd.Series, epochs: str, paper_epochs) -> str:
    """How far our mean clean accuracies (% by ε) fall below the paper's at the same ε, in words from the numbers."""
    gaps = [paper[e] - v for e, v in ours.items() if e in paper.index]
    trained = f"{epochs} epochs on a CPU against the paper's {paper_epochs}"
    if not gaps:
        return f"Our models trained {trained}."
    if min(gaps) <= 0:
        return (f"Our models ({trained}) reach the paper's mean clean accuracy at some ε (ours minus the paper's: "
                + ", ".join(f"{-g:+.1f}" for g in gaps) + " pp).")
    return (f"Our models ({trained}) are {min(gaps):.1f}–{max(gaps):.1f} pp less accurate than the paper's at the "
            "same ε, so a similarity that depends on how well models fit the data is measured here on models that "
            "fit it less.")


def discussion(ds: xr.Dataset, table: pd.DataFrame, n_boot: int = 2000, seed: int = 0,
               length: xr.Dataset | None = None) -> str:
    """A few sentences computed from the result and its claims table: how strong the models are next to the
    paper's, where our adversarial accuracies fall short of Table 4 and why we think so, the verdict counts, and
    which claims we do not reproduce."""
    paper = paper_table4()["accuracy (%)"].groupby(level="eps").mean()
    names = members(ds, "full")
    ours = {float(e): 100 * float(ds["accuracy"].sel(setting="full", eps=e, model=names).mean())
            for e in ds["eps"].values}
    acc = "; ".join(f"ε = {e:g}: ours {v:.1f} %" + (f", paper {paper[e]:.1f} %" if e in paper.index else "")
                    for e, v in ours.items())
    lines = [f"**Accuracy first.** Mean clean accuracy of our {len(names)} architectures against the paper's seven "
             f"CNNs — {acc}. " + _strength_text(ours, paper, _epochs_text(ds),
                                                paper_claims("universality")["training"]["epochs"]),
             adversarial_gap_text(ds, table, n_boot, seed, length),
             verdict_counts_text(table)]
    off = table[(table["source"] == "paper") & table["verdict"].isin(["disagrees", "inconclusive"])]
    if len(off):
        lines.append("**The paper's statements not reproduced here (disagrees or inconclusive):** " + "; ".join(
            f"{r['claim']} — ours {r['ours [95 % CI]']} ({r['verdict']})" for _, r in off.iterrows()) + ".")
    return "\n\n".join(lines)


def verdict_counts_text(table: pd.DataFrame) -> str:
    """The verdicts counted per statement (``sat_lib.claims.verdict.statements``), the paper's apart from the
    project's readings, context rows and claims whose gate failed counted apart."""
    from sat_lib.claims.verdict import statements, tally_text

    st = statements(table)
    parts = []
    for source, label in (("paper", "the paper's statements"), ("project", "this project's hypotheses")):
        v = st.loc[st["source"] == source, "verdict"]
        if not len(v):
            continue
        parts.append(f"{label}: {tally_text(v)}, of {len(v)}")
    return "**Verdicts, one per statement:** " + "; ".join(parts) + "."


def throughput_table(ds: xr.Dataset, n_images: dict[str, int] | None = None) -> pd.DataFrame:
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


def cost_table(ds: xr.Dataset) -> pd.DataFrame:
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
