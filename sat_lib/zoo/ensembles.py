"""How the design-diversity chapters score ensembles of zoo models: each model's outputs on a draw of clean and
corrupted test images (logits, and captum attribution maps on a seeded subset of the draw), computed once per
model and kept in the cache (``attributions/``, never committed); then every ensemble of a pool combined from
those stored outputs: accuracy by logit averaging and by majority vote, the improvement over the ensemble's best
member, disagreement (Eq. 4) and attribution diversity (Eq. 7), and the pairwise scores of Fig. 9.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from itertools import combinations
from pathlib import Path

import numpy as np
import torch
import xarray as xr

from sat_lib.config import project_config
from sat_lib.progress import note
from sat_lib.zoo.images import stored_corrupted_set

OUTPUTS_VERSION = 2          # the per-model cache files' layout (logits and attribution maps)
CLEAN = "clean"
AVERAGING, VOTE = "averaging", "vote"
CONSENSUS = (AVERAGING, VOTE)
SALIENCY = "saliency"
ATTRIBUTION_BATCH = 100      # images per captum call (and IG's internal batch), bounds memory on any device
MAX_ENSEMBLES = 50_000       # C(pool, size) above this is refused: the ensembles are scored one by one


def check_scoring(cfg) -> None:
    """The parameters of how ensembles are scored, shared by every chapter that scores them like this one
    (``n_images``, ``attribution_images``, ``n_boot``, ``sets``, ``consensus``, ``ig_steps``): ``ValueError``
    naming the first bad one."""
    for name, low in (("n_images", 2), ("attribution_images", 1), ("n_boot", 1)):
        if getattr(cfg, name) < low:
            raise ValueError(f"parameter {name!r} must be >= {low}, got {getattr(cfg, name)}")
    if cfg.attribution_images > cfg.n_images:
        raise ValueError(f"parameter 'attribution_images' = {cfg.attribution_images} exceeds n_images = "
                         f"{cfg.n_images}: attributions are computed on a subset of the draw")
    labels = [set_label(parse_set(s)) for s in cfg.sets]  # unknown corruption or severity: named
    if CLEAN not in labels:
        raise ValueError(f"parameter 'sets' must include {CLEAN!r} (Figs. 5, 6 and 9 are on clean images), "
                         f"got {list(cfg.sets)}")
    if len(set(labels)) != len(labels):
        raise ValueError(f"parameter 'sets' names a set twice: {labels}")
    unknown = [c for c in cfg.consensus if c not in CONSENSUS]
    if unknown or not cfg.consensus or len(set(cfg.consensus)) != len(cfg.consensus):
        raise ValueError(f"parameter 'consensus': unknown or repeated rule(s) {unknown or list(cfg.consensus)}; "
                         f"use some of {', '.join(CONSENSUS)}")
    if any(s < 1 for s in cfg.ig_steps) or len(set(cfg.ig_steps)) != len(cfg.ig_steps):
        raise ValueError(f"parameter 'ig_steps' must list different step counts >= 1, got {list(cfg.ig_steps)}")


def check_size(size: int, pool_size: int, what: str = "pool") -> None:
    """An ensemble size between 2 and the pool's size, and not too many ensembles to score one by one."""
    if not 2 <= size <= pool_size:
        raise ValueError(f"parameter 'size' = {size}: an ensemble needs 2 to {pool_size} members "
                         f"(the size of the {what}); lower 'size' or enlarge the {what}")
    if math.comb(pool_size, size) > MAX_ENSEMBLES:
        raise ValueError(f"C({pool_size}, {size}) = {math.comb(pool_size, size)} ensembles "
                         f"exceed {MAX_ENSEMBLES}; use a smaller {what} or size")


def parse_set(label: str) -> tuple[str, float] | None:
    """``"clean"`` → None; ``"lines@1.6"`` → ("lines", 1.6), the corruption registered and the severity valid
    (``KeyError`` with close matches / ``ValueError`` naming the valid range otherwise)."""
    from sat_lib.corruptions import CORRUPTIONS

    if label == CLEAN:
        return None
    name, at, severity = str(label).partition("@")
    if not at:
        raise ValueError(f"parameter 'sets': {label!r} is neither {CLEAN!r} nor corruption@severity "
                         "(e.g. lines@1.6)")
    try:
        value = float(severity)
    except ValueError:
        raise ValueError(f"parameter 'sets': severity {severity!r} of {label!r} is not a number") from None
    return name, CORRUPTIONS[name].check_severity(value, "parameter 'sets'")


def set_label(parsed: tuple[str, float] | None) -> str:
    return CLEAN if parsed is None else f"{parsed[0]}@{parsed[1]:g}"


def method_names(ig_steps) -> list[str]:
    """The attribution methods of Fig. 9: Saliency, then IG at each step count ("ig@10")."""
    return [SALIENCY, *(f"ig@{s}" for s in ig_steps)]



def all_ensembles(m: int, size: int) -> np.ndarray:
    """Every combination of ``size`` of ``m`` models, (C(m, size), size) indices in lexicographic order."""
    return np.array(list(combinations(range(m), size)), dtype=np.int64).reshape(-1, size)



# ------------------------------------------------------------------------------------------- one model's outputs

def outputs_path(spec: dict, weights: Path | None) -> Path:
    """The cache file of one model's logits and attribution maps: keyed by its weights file, the sets, the
    images and the attribution settings."""
    if weights is None:
        raise ValueError(f"{spec['model']['name']}: its weights have no cache file, so its outputs cannot be "
                         "keyed; set a cache folder (data.cache_dir or SAT_CACHE_DIR)")
    parts = [OUTPUTS_VERSION, weights.name, spec["labels"], [Path(p).name if p else None for p in spec["paths"]],
             hashlib.sha256(np.asarray(spec["idx"], dtype=np.int64).tobytes()).hexdigest(),
             spec["attribution_positions"], spec["ig_steps"]]
    if spec.get("extra"):  # what else determines the model's outputs (e.g. a subnetwork's configuration)
        parts.append(spec["extra"])
    key = hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]
    return (project_config().cache_dir / "attributions" / spec["model"]["dataset"]
            / f"{spec['model']['name']}-{key}.pt")


def attribute(model: torch.nn.Module, images: torch.Tensor, target: torch.Tensor, n_steps: int | None = None):
    """Signed captum attributions of the ``target`` logit w.r.t. the input in [0, 1]: ``Saliency(abs=False)``
    when ``n_steps`` is None, else ``IntegratedGradients`` with ``n_steps`` steps from a black baseline.
    ``images``: uint8 (n, C, H, W). Computed in float32 (no autocast: gradients of bf16 models are noisy), in
    chunks of ``ATTRIBUTION_BATCH`` images, in eval mode; returns float32 (n, C, H, W) on the CPU."""
    from captum.attr import IntegratedGradients, Saliency

    from sat_lib.measures.gradient import eval_mode

    device = next(model.parameters()).device
    out = []
    with eval_mode(model):
        for i in range(0, images.shape[0], ATTRIBUTION_BATCH):
            x = images[i:i + ATTRIBUTION_BATCH].to(device).float().div_(255).requires_grad_(True)
            y = target[i:i + ATTRIBUTION_BATCH].to(device)
            if n_steps is None:
                a = Saliency(model).attribute(x, target=y, abs=False)
            else:
                a = IntegratedGradients(model).attribute(x, target=y, n_steps=n_steps,
                                                         internal_batch_size=ATTRIBUTION_BATCH)
            out.append(a.detach().float().cpu())
    return torch.cat(out)


def _timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return out, time.perf_counter() - t0


def model_outputs(model: torch.nn.Module, sets: list[torch.Tensor], labels: np.ndarray, spec: dict) -> dict:
    """Logits on every set (S, n, C), Saliency maps on the ``attribution_images`` images of every set (a seeded
    random subset of the draw, ``subset_positions``: (S, k, C, H, W)), IG maps at each step count on the clean ones (T, k, C, H, W), and the seconds each
    attribution method took for one set's maps (1 + T), after an untimed warm-up call."""
    from sat_lib.train import logits

    pos = torch.as_tensor(spec["attribution_positions"], dtype=torch.int64)
    target = torch.as_tensor(labels[pos.numpy()], dtype=torch.int64)
    clean = spec["labels"].index(CLEAN)
    out_logits = torch.stack([logits(model, x, precision=spec["model"]["precision"]).cpu() for x in sets])
    attribute(model, sets[clean][:1], target[:1])  # warm-up: first-call costs are no method's
    saliency, sal_seconds = _timed(lambda: torch.stack([attribute(model, x[pos], target) for x in sets]))
    ig, seconds = [], [sal_seconds / len(sets)]
    for steps in spec["ig_steps"]:
        maps, s = _timed(attribute, model, sets[clean][pos], target, steps)
        ig.append(maps)
        seconds.append(s)
    shape = (0, *saliency.shape[1:])
    return {"logits": out_logits.float(), "saliency": saliency, "ig": torch.stack(ig) if ig else torch.empty(shape),
            "seconds": torch.tensor(seconds, dtype=torch.float64)}



def load_sets(spec: dict) -> tuple[list[torch.Tensor], np.ndarray]:
    """The job's image sets (uint8 (n, C, H, W): the clean draw and its cached corrupted copies) and labels."""
    idx = np.asarray(spec["idx"], dtype=np.int64)
    test = project_config().load_data(spec["model"]["dataset"], "test")
    images = [test.images[idx] if p is None else np.load(p) for p in spec["paths"]]
    return ([torch.from_numpy(np.ascontiguousarray(s)).permute(0, 3, 1, 2).contiguous() for s in images],
            test.labels[idx])


def save_outputs(model: torch.nn.Module, spec: dict, path: Path) -> dict:
    """``model_outputs`` of ``model`` on the job's sets, written to ``path`` (atomically) and returned."""
    from sat_lib.weights import save_tensor

    sets, labels = load_sets(spec)
    out = model_outputs(model, sets, labels, spec)
    save_tensor(out, path)
    acc = (out["logits"].argmax(-1).numpy() == labels).mean(-1)
    scores = ", ".join(f"{lb} {100 * a:.1f} %" for lb, a in zip(spec["labels"], acc))
    note(f"{spec['model']['name']}: accuracy {scores}; attributions {out['seconds'].sum():.1f} s")
    return out


def load_outputs(paths: list[str]) -> dict[str, np.ndarray]:
    """The pool's cached outputs stacked over models: logits (M, S, n, C), saliency (M, S, k, ...), ig
    (M, T, k, ...), seconds (M, 1 + T)."""
    blobs = [torch.load(p, map_location="cpu", weights_only=True) for p in paths]
    return {key: np.stack([b[key].numpy() for b in blobs]) for key in ("logits", "saliency", "ig", "seconds")}


# ------------------------------------------------------------------------------- combining members per ensemble

def consensus_correct(logits: np.ndarray, labels: np.ndarray, members: np.ndarray, rule: str,
                      seed: int) -> np.ndarray:
    """bool (E, n): whether every ensemble of ``members`` (E, N) is right on each image of one set (``logits``
    (M, n, C)) under ``rule``: "averaging" (``measures.ensemble_logits``, then argmax) or "vote"
    (``measures.majority_vote``, ties broken at random with ``seed``, the same generator seed for every
    ensemble)."""
    from sat_lib.measures import ensemble_logits, majority_vote

    y = torch.as_tensor(labels, dtype=torch.int64)
    t = torch.from_numpy(np.ascontiguousarray(logits))
    out = np.empty((len(members), len(y)), dtype=bool)
    for e, m in enumerate(members):
        if rule == AVERAGING:
            pred = ensemble_logits(t[m]).argmax(dim=1)
        else:
            pred = majority_vote(t[m].argmax(dim=2), num_classes=t.shape[2], seed=seed)
        out[e] = (pred == y).numpy()
    return out


def disagreement_matrix(correct: np.ndarray) -> np.ndarray:
    """Eq. 4 between every two models, (M, M), from their correctness (M, n) (``measures.pairwise``)."""
    from sat_lib.measures import disagreement, pairwise

    return pairwise(disagreement, [torch.from_numpy(c) for c in correct]).values


def mean_over_pairs(matrix: np.ndarray, members: np.ndarray) -> np.ndarray:
    """Per ensemble, the mean of a pairwise (M, M) matrix over its members' unordered pairs."""
    pairs = list(combinations(range(members.shape[1]), 2))
    return np.mean([matrix[members[:, a], members[:, b]] for a, b in pairs], axis=0)


def nonzero_maps(maps: np.ndarray) -> np.ndarray:
    """(M, k) bool: whether each model's map of each sample (M, k, ...) has a nonzero norm. A model whose output
    does not depend on its input (e.g. a collapsed smoke-test model) has all-zero maps."""
    return np.abs(maps.reshape(*maps.shape[:2], -1)).sum(-1) > 0


def attribution_scores(maps: np.ndarray, members: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eq. 7 (``measures.attribution_variance``) of every ensemble of ``members`` (E, N) from the models' maps
    (M, k, ...): on unit-normalised maps (A_norm = 1 − ||mean unit map||², in [0, 1]; the library's reading of
    the paper's "normalized" metric) and on the raw maps. A unit map is undefined where a map is all zero, so
    the normalised score of an ensemble uses only the samples on which every member's map is nonzero (NaN when
    there is none); the raw score uses all. Returns (E,) normalised, raw, and the samples the first used."""
    from sat_lib.measures import attribution_variance

    t = torch.from_numpy(maps.reshape(*maps.shape[:2], -1)).to(torch.float64)
    valid = nonzero_maps(maps)
    norm, raw, used = np.full(len(members), np.nan), np.empty(len(members)), np.empty(len(members), dtype=np.int64)
    for e, m in enumerate(members):
        ok = torch.from_numpy(valid[m].all(0))
        used[e] = int(ok.sum())
        if used[e]:
            norm[e] = attribution_variance(t[m][:, ok], normalize=True)
        raw[e] = attribution_variance(t[m])
    return norm, raw, used


def ensemble_scores(out: dict[str, np.ndarray], labels: np.ndarray, members: np.ndarray, n_params: np.ndarray,
                    cfg) -> dict[str, np.ndarray]:
    """Every ensemble's scores on every set from the pool's outputs (``load_outputs``): (E, S, R, n) whether it is
    right on each image under each consensus rule (``consensus_correct``), (E, S, R) its accuracy and improvement,
    (E, S) top and mean member accuracy, disagreement, attribution diversity (normalised and raw) and the
    attribution samples it used, (E,) parameters; (M, S) model accuracy and share of all-zero maps (%)."""
    lg, sal = out["logits"], out["saliency"]
    correct = lg.argmax(-1) == labels  # (M, S, n)
    model_acc = 100 * correct.mean(-1)
    n_sets = lg.shape[1]
    hits = np.stack([np.stack([consensus_correct(lg[:, s], labels, members, r, cfg.seed) for r in cfg.consensus], 1)
                     for s in range(n_sets)], 1)
    acc = 100 * hits.mean(-1, dtype=np.float64)
    top = model_acc[members].max(1)  # (E, S)
    attr = [attribution_scores(sal[:, s], members) for s in range(n_sets)]
    return {"correct": hits, "accuracy": acc, "improvement": acc - top[..., None], "top_accuracy": top,
            "member_accuracy": model_acc[members].mean(1),
            "disagreement": np.stack([mean_over_pairs(disagreement_matrix(correct[:, s]), members)
                                      for s in range(n_sets)], 1),
            "attribution_diversity": np.stack([a[0] for a in attr], 1),
            "attribution_variance": np.stack([a[1] for a in attr], 1),
            "attribution_samples": np.stack([a[2] for a in attr], 1),
            "n_params": n_params[members].sum(1), "model_accuracy": model_acc,
            "zero_maps": 100 * np.stack([~nonzero_maps(sal[:, s]) for s in range(n_sets)], 1).mean(-1)}


def pair_scores(out: dict[str, np.ndarray], clean: int) -> dict[str, np.ndarray]:
    """Fig. 9: Eq. 7 of every pair of pool models on the clean attribution images under each method (Saliency,
    then IG at each step count), normalised and raw: (P, methods) arrays, and the pairs (P, 2)."""
    maps = np.concatenate([out["saliency"][:, clean][:, None], out["ig"]], axis=1)  # (M, methods, k, ...)
    pairs = all_ensembles(maps.shape[0], 2)
    scores = [attribution_scores(maps[:, j], pairs) for j in range(maps.shape[1])]
    return {"pairs": pairs, "pair_diversity": np.stack([s[0] for s in scores], 1),
            "pair_variance": np.stack([s[1] for s in scores], 1)}


def corrupted_paths(cfg, dataset: str, idx: np.ndarray) -> list[str | None]:
    """Each set's cached corrupted images (made here, once, before the model jobs read them); None for clean."""
    paths = []
    for label in cfg.sets:
        parsed = parse_set(label)
        paths.append(None if parsed is None else stored_corrupted_set(dataset, *parsed, cfg.seed, idx))
    return paths



def result_dataset(cfg, names: list[str], families: list[str], test, idx, labels, members, sc, ps, out, done,
                   attrs: dict) -> xr.Dataset:
    """The chapter's result: ensemble × set (× consensus) scores, per-model predictions and accuracies, and the
    Fig. 9 pair scores (pair × method), for the pool of models ``names`` (of ``families``). Members are named by
    the ``members`` coordinate (ensemble × member). ``cfg``: the scoring parameters (``check_scoring``)."""
    pool = np.array(names)
    ens_names = ["+".join(pool[m]) for m in members]
    pairs = ps["pairs"]
    methods = method_names(cfg.ig_steps)
    parsed = [parse_set(s) for s in cfg.sets]
    es, esr = ("ensemble", "set"), ("ensemble", "set", "consensus")
    pred_dtype = np.int16 if out["logits"].shape[-1] <= np.iinfo(np.int16).max else np.int32
    return xr.Dataset(
        data_vars={
            "accuracy": (esr, sc["accuracy"], {"long_name": "ensemble accuracy (%)"}),
            "improvement": (esr, sc["improvement"], {"long_name": "A_ens - A_top (pp)"}),
            "top_accuracy": (es, sc["top_accuracy"], {"long_name": "accuracy of the most accurate member (%)"}),
            "member_accuracy": (es, sc["member_accuracy"], {"long_name": "mean member accuracy (%)"}),
            "disagreement": (es, sc["disagreement"], {"long_name": "Eq. 4, mean over member pairs"}),
            "attribution_diversity": (es, sc["attribution_diversity"],
                                      {"long_name": "Eq. 7 on unit-normalised Saliency maps"}),
            "attribution_variance": (es, sc["attribution_variance"], {"long_name": "Eq. 7 on raw Saliency maps"}),
            "n_params": ("ensemble", sc["n_params"], {"long_name": "parameters of all members"}),
            "member_index": (("ensemble", "member"), members),
            "model_accuracy": (("model", "set"), sc["model_accuracy"]),
            "model_params": ("model", np.array([r["n_params"] for r in done], dtype=np.int64)),
            "weights_from_cache": ("model", np.array([r["from_cache"] for r in done])),
            "attribution_seconds": (("model", "method"), out["seconds"],
                                    {"long_name": "seconds per set of attribution maps"}),
            "pred": (("model", "set", "image"), out["logits"].argmax(-1).astype(pred_dtype)),
            "label": ("image", test.labels[idx].astype(pred_dtype)),
            "attribution_samples": (es, sc["attribution_samples"],
                                    {"long_name": "attribution images on which no member's map is all zero"}),
            "zero_maps": (("model", "set"), sc["zero_maps"], {"long_name": "all-zero Saliency maps (%)"}),
            "pair_diversity": (("pair", "method"), ps["pair_diversity"]),
            "pair_variance": (("pair", "method"), ps["pair_variance"]),
            "pair_index": (("pair", "pair_member"), pairs),
        },
        coords={"ensemble": ens_names, "member": np.arange(members.shape[1]),
                "members": (("ensemble", "member"), pool[members]),
                "set": labels, "corruption": ("set", ["none" if p is None else p[0] for p in parsed]),
                "severity": ("set", [0.0 if p is None else p[1] for p in parsed]),
                "consensus": list(cfg.consensus), "model": list(pool),
                "family": ("model", list(families)),
                "method": methods, "steps": ("method", [1, *cfg.ig_steps]),
                "pair": ["+".join(pool[p]) for p in pairs], "pair_member": [0, 1], "image": idx},
        attrs={"dataset_source": test.source,
               "attributions_computed": int(sum(r["computed"] for r in done)), **attrs},
    )
