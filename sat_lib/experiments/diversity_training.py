"""Chapter "Training for diversity" (design-diversity paper, Sec. 4.3: Fig. 10, Table 2, Figs. 11 and 12, and the
Littlewood–Miller model of Sec. 3.1 computed).

Homogeneous ensembles (``size`` copies of one zoo architecture) are trained jointly with each heuristic of
Fig. 10 — independent cross-entropy, GNCL (Eq. 2) under four consensus rules, GNCL with the penalty masked on
misclassified members, the balanced loss (Eq. 3) — and the attribution-diversity loss (Eq. 8)
(``sat_lib.ensemble_training``), once per seed. A heterogeneous ensemble of stored zoo models (trained
independently by the SAT chapter) is the third design of Table 2 and Figs. 11–12.

Every ensemble is one job (``Executor.map``), resumable: its weights are cached (``<arch>-ens<M>-<method>-<key>.pt``)
and a rerun only evaluates. A job returns each member's predictions on the clean test images and the paper's four
corrupted copies of them — the images and sets of the corruptions chapter's result, whose zoo predictions the
Littlewood–Miller analysis also reads — the ensemble's predictions under each consensus rule, each member's
signed captum Saliency maps on ``attribution_images`` clean images (their per-image attribution diversity, Eq. 7,
raw and on unit-norm maps; the maps of ``shown_images`` of them, one per class in turn, for Fig. 11), and the
layer-by-layer linear CKA map between its first two members on ``cka_images`` clean images (Fig. 12). Each of these
subsets is a seeded random draw from the test images (``subset_positions``): the draw is sorted by test index and
the CIFAR-10 copy is stored class by class, so its first images would be one or two classes.
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import xarray as xr

from sat_lib.config import project_config
from sat_lib.executor import Executor
from sat_lib.experiments._chapter import Chapter, cached, chapter_result, register, resolve_params
from sat_lib.params import ChapterConfig
from sat_lib.progress import note
from sat_lib.provenance import default_device
from sat_lib.zoo import (check_zoo_and_dataset, job_spec, one_per_class, stored_corrupted_set,
                         subset_positions, train_or_load, training_split)

VERSION = 2   # 2: attribution maps, CKA and Fig. 11 on seeded random subsets of the draw, not its first images
CLEAN = "clean"
HETEROGENEOUS = "heterogeneous"
RULES = ("average", "median", "geometric", "vote")  # every ensemble is scored under each consensus rule
OWN_LAM = {"balanced": "balanced_lam"}  # a method whose λ is not GNCL's ``lam`` (Eq. 8's: ``attribution_lam``)


@dataclass(frozen=True)
class Config(ChapterConfig):
    """Defaults are the quick profile; ``_config.yml`` holds smoke / quick / paper."""

    chapter: ClassVar[str] = "diversity-training"
    corruptions_profile: str = "quick"  # its result gives the test images, the corrupted sets and the zoo's predictions
    arch: str = "vgg_c32"               # the member architecture of the homogeneous ensembles (paper: ResNet50)
    methods: tuple[str, ...] = ("independent", "gncl@average", "gncl@median", "gncl@geometric", "gncl@vote",
                                "gncl_masked@average", "balanced@average", "attribution")  # method[@consensus]
    lam: float = 1.0                    # λ of GNCL (Eq. 2), masked or not: the first λ that diversified (the λ search)
    balanced_lam: float = 0.2           # λ of the balanced loss (Eq. 3): the paper's 0.2 (at 1 it is the ensemble's loss)
    attribution_lam: float = 0.001      # λ of Eq. 8: the paper's only value that trained (of 10 … 0.001)
    penalty_batch: int = 64             # Eq. 8's Saliency maps on this many images of each batch (0: all)
    size: int = 3                       # members per ensemble
    seeds: tuple[int, ...] = (0, 1, 2)  # one ensemble per method and seed: the unit of every interval
    epochs: int = 2
    batch_size: int = 256
    label_smoothing: float = 0.0        # plain cross-entropy, as the paper
    translate: int = 2
    warmup: float = 0.2
    precision: str = "auto"
    train_size: int = 0                 # 0: the whole training split
    heterogeneous: tuple[str, ...] = ("vgg_c32", "xcit_nano_p8_d6", "convmixer_128_6_p4")  # stored zoo models
    attribution_method: str = "attribution"   # the "attribution diversity" ensemble of Table 2, Figs. 11–12
    prediction_method: str = "gncl@average"   # the "prediction diversity" ensemble of Table 2, Figs. 11–12
    attribution_images: int = 200       # Saliency maps of every member on this many clean images (seeded subset)
    shown_images: int = 8               # of which Fig. 11 shows this many, one per class in turn
    cka_images: int = 500               # clean images (seeded subset) of the layer-by-layer CKA maps (Fig. 12)
    max_layers: int = 12                # weight layers per model in a CKA map (evenly spaced)
    n_boot: int = 2000
    # the λ-search section (sat_lib.experiments.diversity_lambda): prediction_method at each of these λ, first seed
    lambda_search: tuple[float, ...] = (0.2, 0.5, 2.0, 4.0)
    section_params: ClassVar[tuple[str, ...]] = ("lambda_search",)

    def __post_init__(self) -> None:
        for name, low in (("size", 2), ("epochs", 1), ("batch_size", 1), ("attribution_images", 1),
                          ("shown_images", 1), ("cka_images", 3), ("max_layers", 2), ("n_boot", 1)):
            if getattr(self, name) < low:
                raise ValueError(f"parameter {name!r} must be >= {low}, got {getattr(self, name)}")
        if self.shown_images > self.attribution_images:
            raise ValueError(f"parameter 'shown_images' = {self.shown_images} exceeds attribution_images = "
                             f"{self.attribution_images}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"parameter 'seeds' must list different seeds, got {list(self.seeds)}")
        if not self.methods or len(set(self.methods)) != len(self.methods):
            raise ValueError(f"parameter 'methods' must list different methods, got {list(self.methods)}")
        for label in self.methods:
            self.objective(label)  # unknown method or consensus rule: KeyError with close matches
        for name in ("attribution_method", "prediction_method"):
            if getattr(self, name) not in self.methods:
                raise ValueError(f"parameter {name!r} = {getattr(self, name)!r} is not one of 'methods' "
                                 f"({', '.join(self.methods)})")
        if len(self.heterogeneous) < 2 or len(set(self.heterogeneous)) != len(self.heterogeneous):
            raise ValueError(f"parameter 'heterogeneous' must name at least 2 different zoo models, got "
                             f"{list(self.heterogeneous)}")
        n = self.corruptions_config().n_images
        for name in ("attribution_images", "cka_images"):
            if getattr(self, name) > n:
                raise ValueError(f"parameter {name!r} = {getattr(self, name)} exceeds the {n} test images of the "
                                 f"corruptions profile {self.corruptions_profile!r}")
        mc = self.matrix_config()
        check_zoo_and_dataset(mc.zoo, (self.arch, *self.heterogeneous), mc.dataset)
        outside = [m for m in self.heterogeneous if mc.models and m not in mc.models]
        if outside:
            raise ValueError(f"parameter 'heterogeneous': {outside} are not among the models of sat-matrix profile "
                             f"{self.corruptions_config().matrix_profile!r}, whose stored weights are used")

    def objective(self, label: str, lam: float | None = None):
        """``"gncl@median"`` → ``EnsembleObjective("gncl", λ, "median", size)`` (λ: ``lam``, else the chapter's);
        ``"balanced"`` takes ``balanced_lam``, ``"attribution"`` ``attribution_lam`` and ``penalty_batch``. A method with a consensus rule needs one
        named."""
        from sat_lib.ensemble_training import METHODS, EnsembleObjective

        method, at, consensus = str(label).partition("@")
        uses = METHODS[method].uses_consensus
        if uses and not at:
            raise ValueError(f"parameter 'methods': {label!r} needs a consensus rule, e.g. {method}@average")
        if at and not uses:
            raise ValueError(f"parameter 'methods': {method!r} uses no consensus rule; write {method!r}")
        if method == "attribution":
            return EnsembleObjective(method, self.attribution_lam, size=self.size, penalty_batch=self.penalty_batch)
        own = getattr(self, OWN_LAM.get(method, "lam"))
        return EnsembleObjective(method, own if lam is None else lam, consensus or "average", size=self.size)

    def corruptions_config(self):
        return resolve_params("corruptions", self.corruptions_profile)

    def matrix_config(self):
        return resolve_params("sat-matrix", self.corruptions_config().matrix_profile)

    def train_config(self, seed: int):
        from sat_lib.train import train_config_from

        return train_config_from(self, seed=seed)


def ensemble_labels(cfg: Config) -> list[tuple[str, int]]:
    """(method, seed) of every ensemble: the trained ones, then the heterogeneous one."""
    return [(m, s) for m in cfg.methods for s in cfg.seeds] + [(HETEROGENEOUS, cfg.seeds[0])]


# ------------------------------------------------------------------------------------------- one job per ensemble

def _members(spec: dict) -> tuple[list[torch.nn.Module], dict]:
    """The ensemble's members (trained jointly, or the stored heterogeneous zoo models) and how they came."""
    from sat_lib.train import TrainConfig
    from sat_lib.weights import trained_model

    if spec["kind"] == "zoo":
        ts = [train_or_load(s) for s in spec["zoo_specs"]]
        return [t.model for t in ts], {"train_seconds": sum(t.train_seconds for t in ts),
                                       "from_cache": all(t.from_cache for t in ts), "diverged": False,
                                       "epoch_loss": [], "precisions": [s["precision"] for s in spec["zoo_specs"]]}
    from sat_lib.ensemble_training import EnsembleObjective
    from sat_lib.models import get_zoo

    entry = get_zoo(spec["zoo"])[spec["arch"]]
    data = training_split(spec["dataset"], spec["train_size"], spec["train"]["seed"])
    objective = EnsembleObjective(**spec["objective"])
    try:
        t = trained_model(entry, data, TrainConfig(**spec["train"]), device=default_device(),
                          cache_dir=project_config().weights_dir, objective=objective,
                          store=project_config().store_for(spec["zoo"]))
    except FloatingPointError as err:  # a heuristic that fails to learn is a result, not a crash
        note(f"{spec['name']}: training diverged ({err})")
        return [], {"train_seconds": math.nan, "from_cache": False, "diverged": True, "epoch_loss": [],
                    "precisions": []}
    return list(t.model.members), {"train_seconds": t.train_seconds, "from_cache": t.from_cache,
                                   "diverged": False, "epoch_loss": t.epoch_loss,
                                   "precisions": [entry.precision_for(spec["train"]["precision"])] * objective.size}


def cka_map(a: torch.nn.Module, b: torch.nn.Module, images: torch.Tensor, max_layers: int) -> np.ndarray:
    """Linear CKA between every weight layer of ``a`` (rows) and of ``b`` (columns) (``measures.pairwise``: each
    layer's activations prepared once), padded with NaN to ``max_layers`` × ``max_layers``; all NaN where a layer
    does not vary across the images (a collapsed member)."""
    from sat_lib.activations import layer_outputs
    from sat_lib.measures import pairwise

    la = list(layer_outputs(a, images, max_layers=max_layers).values())
    lb = list(layer_outputs(b, images, max_layers=max_layers).values())
    out = np.full((max_layers, max_layers), np.nan)
    try:
        full = pairwise("linear_cka", la + lb).values
    except ValueError:  # a layer that does not vary across images (a collapsed member): no map
        return out
    out[:len(la), :len(lb)] = full[:len(la), len(la):]
    return out


def _variance(maps: torch.Tensor, normalize: bool) -> np.ndarray:
    """Eq. 7 per image of the members' maps (M, k, ...); NaN for every image when a member's maps are all zero (a
    member whose output ignores its input — collapsed, as at a large GNCL λ — has no direction to compare)."""
    from sat_lib.measures import attribution_variance

    try:
        return attribution_variance(maps, normalize=normalize, reduce="none").numpy()
    except ValueError:
        return np.full(maps.shape[1], np.nan)


def ensemble_job(spec: dict) -> dict:
    """Train (or load) one ensemble and evaluate it; see the module docstring. A diverged training returns NaN
    scores (``diverged`` set) instead of failing the chapter."""
    from sat_lib.ensemble_training import consensus_predictions
    from sat_lib.train import logits
    from sat_lib.zoo.ensembles import attribute

    t0 = time.perf_counter()
    members, info = _members(spec)
    idx = np.asarray(spec["idx"], dtype=np.int64)
    test = project_config().load_data(spec["dataset"], "test")
    y = test.labels[idx]
    m, s, n, k, shown, layers = (spec["size"], len(spec["paths"]), len(idx), len(spec["attribution_positions"]),
                                 len(spec["shown_positions"]), spec["max_layers"])
    c, h, w = test.channels, test.image_size, test.image_size
    out = {"pred": np.full((m, s, n), -1, np.int8), "ens_pred": np.full((len(RULES), s, n), -1, np.int8),
           "variance": np.full((2, k), np.nan), "maps": np.full((m, shown, c, h, w), np.nan, np.float32),
           "cka": np.full((layers, layers), np.nan), "n_params": 0, "eval_seconds": math.nan, **info}
    if info["diverged"]:
        return out
    sets = [torch.from_numpy(np.ascontiguousarray(test.images[idx] if p is None else np.load(p)))
            .permute(0, 3, 1, 2).contiguous() for p in spec["paths"]]
    member_logits = torch.stack([torch.stack([logits(mod, x, precision=prec).cpu() for x in sets])
                                 for mod, prec in zip(members, info["precisions"])])  # (M, S, n, K)
    out["pred"] = member_logits.argmax(-1).numpy().astype(np.int8)
    out["ens_pred"] = np.stack([np.stack([consensus_predictions(member_logits[:, j], rule).numpy()
                                          for j in range(s)]) for rule in RULES]).astype(np.int8)
    attr, shown_pos, cka_pos = (np.asarray(spec[key], dtype=np.int64) for key in
                                ("attribution_positions", "shown_positions", "cka_positions"))
    target = torch.as_tensor(y[attr], dtype=torch.int64)
    maps = torch.stack([attribute(mod, sets[0][attr], target) for mod in members])  # (M, k, C, H, W), signed
    out["variance"] = np.stack([_variance(maps, norm) for norm in (False, True)])
    out["maps"] = maps[:, np.searchsorted(attr, shown_pos)].numpy()  # shown ⊂ attribution images (both sorted)
    out["cka"] = cka_map(members[0], members[1], sets[0][cka_pos], layers)
    out["n_params"] = sum(p.numel() for mod in members for p in mod.parameters())
    acc = (out["ens_pred"][0] == y).mean(-1)
    out["eval_seconds"] = time.perf_counter() - t0 - (0.0 if info["from_cache"] else info["train_seconds"])
    note(f"{spec['name']}: ensemble accuracy (average) " + ", ".join(
        f"{lb} {100 * a:.1f} %" for lb, a in zip(spec["sets"], acc)) + f"; {time.perf_counter() - t0:.0f} s")
    return out


# ------------------------------------------------------------------------------------------------- the chapter

def subsets(cfg: Config, n: int, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Positions in the draw of the attribution images, of the ones Fig. 11 shows (one per class in turn, among
    the attribution images) and of the CKA images: seeded random subsets (``subset_positions``)."""
    attribution = subset_positions(n, cfg.attribution_images, cfg.seeds[0])
    return {"attribution": attribution, "shown": attribution[one_per_class(labels[attribution], cfg.shown_images)],
            "cka": subset_positions(n, cfg.cka_images, cfg.seeds[0] + 1)}


def job_specs(cfg: Config, idx: np.ndarray, paths: list, set_labels: list[str], labels: np.ndarray) -> list[dict]:
    mc = cfg.matrix_config()
    common = {"dataset": mc.dataset, "idx": idx.tolist(), "paths": paths, "sets": set_labels, "size": cfg.size,
              **{f"{k}_positions": v.tolist() for k, v in subsets(cfg, len(idx), labels).items()},
              "max_layers": cfg.max_layers}
    specs = []
    for method, seed in ensemble_labels(cfg):
        name = f"{method}/seed{seed}"
        if method == HETEROGENEOUS:
            specs.append({**common, "kind": "zoo", "name": name, "size": len(cfg.heterogeneous),
                          "zoo_specs": [job_spec(mc, n) for n in cfg.heterogeneous]})
        else:
            specs.append({**common, "kind": "trained", "name": name, "zoo": mc.zoo, "arch": cfg.arch,
                          "train_size": cfg.train_size, "train": dataclasses.asdict(cfg.train_config(seed)),
                          "objective": dataclasses.asdict(cfg.objective(method))})
    return specs


def _pad_members(arr: np.ndarray, m: int, fill) -> np.ndarray:
    """Pad the member axis (first) to ``m`` (the heterogeneous ensemble may have another size)."""
    if arr.shape[0] == m:
        return arr
    pad = np.full((m - arr.shape[0], *arr.shape[1:]), fill, dtype=arr.dtype)
    return np.concatenate([arr[:m], pad]) if arr.shape[0] < m else arr[:m]


def compute(cfg: Config) -> xr.Dataset:
    cc = cfg.corruptions_config()
    zoo_ds = chapter_result(cc, mode="auto")
    paper_sets = [str(s) for s, kind in zip(zoo_ds.set.values, zoo_ds.kind.values) if kind in ("clean", "paper")]
    zoo_ds = zoo_ds.sel(set=paper_sets)
    idx = np.asarray(zoo_ds.image.values, dtype=np.int64)

    mc = cfg.matrix_config()
    paths: list = [None]
    for corruption, severity in zip(zoo_ds.corruption.values[1:], zoo_ds.severity.values[1:]):
        paths.append(stored_corrupted_set(mc.dataset, str(corruption), float(severity), cc.seed, idx))
    t0 = time.perf_counter()
    test = project_config().load_data(mc.dataset, "test")
    specs = job_specs(cfg, idx, paths, paper_sets, test.labels[idx])
    with Executor() as ex:
        done = ex.map(ensemble_job, specs, desc="diversity-training", names=[s["name"] for s in specs])
        scheduler = ex.last_scheduler
    labels = ensemble_labels(cfg)
    m = cfg.size
    where = subsets(cfg, len(idx), test.labels[idx])
    stack = lambda key, fill=None: np.stack([r[key] if fill is None else _pad_members(r[key], m, fill)  # noqa: E731
                                             for r in done])
    member_names = [[f"{cfg.arch}#{i}" for i in range(m)] if meth != HETEROGENEOUS
                    else [*cfg.heterogeneous[:m], *[""] * (m - len(cfg.heterogeneous))] for meth, _ in labels]
    return xr.Dataset(
        data_vars={
            "pred": (("ensemble", "member", "set", "image"), stack("pred", -1),
                     {"long_name": "member's predicted class (-1: no member / diverged)"}),
            "ens_pred": (("ensemble", "rule", "set", "image"), stack("ens_pred"),
                         {"long_name": "ensemble's predicted class under each consensus rule"}),
            "label": ("image", test.labels[idx].astype(np.int8)),
            "attribution_variance": (("ensemble", "norm", "attr_image"), stack("variance"),
                                     {"long_name": "Eq. 7 per image, Saliency (signed), raw and on unit maps"}),
            "maps": (("ensemble", "member", "shown", "channel", "row", "col"), stack("maps", np.nan).astype(np.float16)),
            "cka": (("ensemble", "layer_a", "layer_b"), stack("cka"),
                    {"long_name": "linear CKA between the first two members' weight layers"}),
            "n_params": ("ensemble", np.array([r["n_params"] for r in done])),
            "train_seconds": ("ensemble", np.array([r["train_seconds"] for r in done], dtype=float)),
            "eval_seconds": ("ensemble", np.array([r["eval_seconds"] for r in done], dtype=float)),
            "weights_from_cache": ("ensemble", np.array([r["from_cache"] for r in done], dtype=np.int8)),
            "diverged": ("ensemble", np.array([r["diverged"] for r in done], dtype=np.int8)),
            "epoch_loss": (("ensemble", "epoch"), np.array([(list(r["epoch_loss"]) + [np.nan] * cfg.epochs)[:cfg.epochs]
                                                            for r in done], dtype=float)),
            "zoo_pred": (("model", "set", "image"), zoo_ds.pred.values,
                         {"long_name": "the corruptions chapter's zoo predictions on the same images"}),
        },
        coords={"ensemble": [f"{a}/seed{b}" for a, b in labels], "method": ("ensemble", [a for a, _ in labels]),
                "seed": ("ensemble", [b for _, b in labels]), "member": np.arange(m),
                "member_name": (("ensemble", "member"), np.array(member_names)),
                "set": paper_sets, "corruption": ("set", zoo_ds.corruption.values),
                "severity": ("set", zoo_ds.severity.values), "rule": list(RULES), "image": idx,
                "norm": ["raw", "unit"], "attr_image": idx[where["attribution"]],
                "shown": idx[where["shown"]], "cka_image": idx[where["cka"]], "epoch": np.arange(1, cfg.epochs + 1),
                "model": zoo_ds.model.values, "family": ("model", zoo_ds.family.values),
                "channel": np.arange(test.channels), "row": np.arange(test.image_size),
                "col": np.arange(test.image_size), "layer_a": np.arange(cfg.max_layers),
                "layer_b": np.arange(cfg.max_layers)},
        attrs={"corruptions_profile": cfg.corruptions_profile, "zoo": mc.zoo, "dataset_source": test.source,
               "executor": scheduler, "wall_seconds": time.perf_counter() - t0,
               "objectives_json": json.dumps({lb: dataclasses.asdict(cfg.objective(lb)) for lb in cfg.methods})},
    )


def dry_jobs(cfg: Config) -> list:
    """For ``--dry-run``: each method's ensembles (one per seed) trained jointly, every member evaluated on the
    clean and the paper's corrupted sets, its Saliency maps and CKA; the λ search's ensembles (one per λ, clean
    set); the heterogeneous ensemble's members (sat-matrix's, stored there) evaluated alike."""
    from sat_lib.dryrun import Work
    from sat_lib.models import get_zoo
    from sat_lib.zoo.dry import entry_job, spec_job, training_images

    mc, cc = cfg.matrix_config(), cfg.corruptions_config()
    entry, n_sets = get_zoo(mc.zoo)[cfg.arch], 1 + sum(kind == "paper" for _, _, kind in cc.sets())
    member = Work(gradient_images=cfg.attribution_images, forward_images=n_sets * cc.n_images + cfg.cka_images)
    jobs = []
    for method in cfg.methods:
        train, m = cfg.train_config(cfg.seeds[0]), cfg.size * len(cfg.seeds)
        work = Work(train_images=len(cfg.seeds) * training_images(entry, mc.dataset, train, cfg.train_size))
        jobs.append(entry_job(entry, mc.dataset, train, work + member.scaled(m), models=m,
                              label=f"{cfg.arch} x{cfg.size} {method}", objective=cfg.objective(method),
                              evaluated=lambda net: net.members[0]))
    one = Work(train_images=training_images(entry, mc.dataset, cfg.train_config(cfg.seeds[0]), cfg.train_size))
    for lam in cfg.lambda_search:   # the λ-search section: one ensemble per λ, evaluated on the clean set
        clean = Work(gradient_images=cfg.attribution_images, forward_images=cc.n_images + cfg.cka_images)
        jobs.append(entry_job(entry, mc.dataset, cfg.train_config(cfg.seeds[0]), one + clean.scaled(cfg.size),
                              models=cfg.size, label=f"{cfg.arch} x{cfg.size} {cfg.prediction_method} λ={lam:g}",
                              objective=cfg.objective(cfg.prediction_method, lam),
                              evaluated=lambda net: net.members[0]))
    return jobs + [spec_job(job_spec(mc, n), member, trains=False, note="heterogeneous member; weights of sat-matrix")
                   for n in cfg.heterogeneous]


def run(cfg: Config, mode: str = "auto") -> xr.Dataset:
    """Stored result for these parameters, or compute and store it; outside ``cache_only``, the λ-search
    section's own result too (``sat_lib.experiments.diversity_lambda``)."""
    ds = cached(cfg, compute, version=VERSION, mode=mode)
    if mode != "cache_only":
        from sat_lib.experiments import diversity_lambda

        diversity_lambda.shown(cfg, mode)
    return ds


def claims(cfg: Config, mode: str = "cache_only"):
    from sat_lib.analysis.diversity_training import claims_table
    from sat_lib.experiments._chapter import provenance_line

    ds = run(cfg, mode)
    return claims_table(ds, cfg), provenance_line(ds)


def _stored_lambda_search(cfg: Config) -> xr.Dataset | None:
    from sat_lib.experiments import diversity_lambda

    return diversity_lambda.shown(cfg, "cache_only")


CHAPTER = register(Chapter(
    name=Config.chapter,
    title="Training for diversity",
    part="Design diversity",
    config=Config,
    compute=run,
    summary="Homogeneous ensembles trained jointly with negative correlation learning, the balanced loss and an "
            "attribution-diversity loss: accuracy under corruptions, prediction / attribution / layer diversity "
            "against a heterogeneous ensemble, and the Littlewood–Miller model computed (Fig. 10, Table 2, "
            "Figs. 11–12).",
    claims=claims,
    version=VERSION,
    upstream=lambda cfg: (cfg.corruptions_config(),),
    dry_run=dry_jobs,
    sections={"diversity-lambda": _stored_lambda_search},
))
