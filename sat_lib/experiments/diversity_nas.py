"""Chapter "Ensembles of NAS subnetworks" (design-diversity paper, Sec. 4.2: Figs. 8 and 9).

The paper trains a weight-sharing super-network from a ResNet50 with BootstrapNAS, takes 11 subnetworks of
different configurations but very close in size, and scores all 165 three-member ensembles as it scores its
heterogeneous ones (Fig. 5); its Fig. 9 compares Saliency with Integrated Gradients on such subnetworks.

Here: a super-network (``sat_lib.models.supernet.ElasticResNet``: a 32-px bottleneck ResNet with elastic depth,
expansion and width) trained on the training split by the sandwich rule (``sat_lib.nas.SandwichObjective``)
through the project's trainer and weights cache (``sat_lib.weights.trained_model``); ``n_subnets`` subnetworks
of near-median size among ``candidates`` random ones (``sat_lib.models.supernet.similar_size``), each extracted
and its BatchNorm recalibrated on ``bn_images`` training images (``sat_lib.nas.adapt_batchnorm``); then every
``size``-member ensemble scored exactly as the diversity-ensembles chapter scores its pool — the same per-model
outputs (logits, captum Saliency and Integrated Gradients maps, cached per subnetwork), the same ensemble and
pair scores and the same result layout — so that chapter's analyses apply unchanged.
"""
from __future__ import annotations

import dataclasses
import json
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
from sat_lib.zoo import ensembles, image_sample, subset_positions, training_split

VERSION = 1
FAMILY = "subnetwork"
ENTRY_NAME = "elastic_resnet"
CARD_FROM = ("cifar-cpu", "resnet10_c32")  # the zoo entry whose architecture card the super-network borrows


@dataclass(frozen=True)
class Config(ChapterConfig):
    """Defaults are the quick profile; ``_config.yml`` holds smoke / quick / paper."""

    chapter: ClassVar[str] = "diversity-nas"
    dataset: str = "cifar10"
    train_size: int = 0             # training images (0: the whole training split)
    epochs: int = 10                # super-network training (the zoo's SGD recipe, batch 256, label smoothing …)
    batch_size: int = 256
    stem_width: int = 32
    stage_widths: tuple[int, ...] = (64, 128, 256, 512)  # the largest subnetwork's stage widths
    extra_depth: int = 2            # each stage runs 1 … 1 + extra_depth bottleneck blocks
    sampled: int = 2                # random subnetworks per training step, besides the largest and the smallest
    n_subnets: int = 11             # the pool: subnetworks of near-median size (the paper's 11)
    candidates: int = 2000          # random configurations the pool is chosen from
    bn_images: int = 2000           # training images each subnetwork's BatchNorm is recalibrated on
    size: int = 3                   # members per ensemble: every combination of the pool (C(11, 3) = 165)
    sets: tuple[str, ...] = ("clean", "plasma_noise@4", "checkerboard_cutout@4", "water_drop@7", "lines@1.6")
    consensus: tuple[str, ...] = ensembles.CONSENSUS
    n_images: int = 10000           # test images, one seeded draw, clean and corrupted
    attribution_images: int = 200   # this many of them (a seeded random subset) get attribution maps
    ig_steps: tuple[int, ...] = (2, 10, 50)
    ensembles_profile: str = "quick"  # the diversity-ensembles profile whose heterogeneous pool is compared
    seed: int = 0
    n_boot: int = 2000

    def __post_init__(self) -> None:
        ensembles.check_scoring(self)
        for name, low in (("epochs", 1), ("batch_size", 2), ("n_subnets", 2), ("bn_images", 2), ("candidates", 1),
                          ("sampled", 0), ("extra_depth", 0), ("train_size", 0)):
            if getattr(self, name) < low:
                raise ValueError(f"parameter {name!r} must be >= {low}, got {getattr(self, name)}")
        if self.candidates < self.n_subnets:
            raise ValueError(f"parameter 'candidates' = {self.candidates} is fewer than n_subnets = {self.n_subnets}")
        ensembles.check_size(self.size, self.n_subnets, what="pool of subnetworks")
        self.space()  # bad widths: named

    def space(self):
        from sat_lib.models.supernet import SearchSpace

        return SearchSpace(stem_width=self.stem_width, stage_widths=self.stage_widths, extra_depth=self.extra_depth)

    def train_config(self):
        from sat_lib.train import TrainConfig

        return TrainConfig(epochs=self.epochs, batch_size=self.batch_size, seed=self.seed)


def supernet_entry(cfg: Config):
    """The super-network as a zoo entry (so the trainer and weights cache treat it like any model): the
    ``elastic_resnet`` builder with the search space as kwargs, the SGD recipe, a ResNet's architecture card."""
    from sat_lib.models import get_zoo

    card_entry = get_zoo(CARD_FROM[0])[CARD_FROM[1]]
    space = dataclasses.asdict(cfg.space())
    return dataclasses.replace(card_entry, name=ENTRY_NAME, builder="elastic_resnet", timm_name="ofa_resnet",
                               kwargs={k: list(v) if isinstance(v, tuple) else v for k, v in space.items()},
                               recipe="sgd", notes="weight-sharing super-network (sat_lib.models.supernet)",
                               epoch_scale=1.0, precision="")


def _spec_train(cfg: Config) -> dict:
    return {"dataset": cfg.dataset, "train_size": cfg.train_size, "seed": cfg.seed,
            "train": dataclasses.asdict(cfg.train_config()), "entry": supernet_entry(cfg), "sampled": cfg.sampled}


def train_split(spec: dict):
    return training_split(spec["dataset"], spec["train_size"], spec["seed"])


def trained_supernet(spec: dict, train=None):
    """The trained super-network (``TrainedModel``), from the weights cache or trained now; ``train``: the
    training split when the caller has it already."""
    from sat_lib.nas import SandwichObjective
    from sat_lib.provenance import default_device
    from sat_lib.train import TrainConfig
    from sat_lib.weights import trained_model

    train = train_split(spec) if train is None else train
    return trained_model(spec["entry"], train, TrainConfig(**spec["train"]), device=default_device(),
                         cache_dir=project_config().weights_dir,
                         objective=SandwichObjective(sampled=spec["sampled"], seed=spec["seed"]))


def extracted(supernet, config):
    """Subnetwork ``config`` of the trained super-network (``Normalized``), taking images in [0, 1], with the
    super-network's BatchNorm statistics."""
    from sat_lib.models import Normalized
    from sat_lib.models.supernet import extract

    return Normalized(extract(supernet, config), supernet.mean_values, supernet.std_values).eval()


def subnetwork(supernet, config, spec: dict, train=None):
    """Subnetwork ``config`` of the trained super-network (``extracted``), its BatchNorm recalibrated on
    ``spec['bn_images']`` seeded images of the training split (``train``, loaded when not given)."""
    from sat_lib.nas import adapt_batchnorm

    sub = extracted(supernet, config)
    train = train_split(spec) if train is None else train
    pick = np.sort(np.random.default_rng([spec["seed"], 1]).choice(len(train), spec["bn_images"], replace=False))
    images = torch.from_numpy(np.ascontiguousarray(train.images[pick])).permute(0, 3, 1, 2).contiguous()
    return adapt_batchnorm(sub, images)


def subnet_job(spec: dict) -> dict:
    """One subnetwork of the pool: extracted, recalibrated, and its outputs (``sat_lib.zoo.ensembles.model_outputs``)
    from the cache or computed once and cached. Returns the cache file, its parameter count, its clean accuracy
    with the super-network's BatchNorm statistics (before recalibration), the job's seconds and whether anything
    was computed."""
    from sat_lib.models.supernet import SubnetConfig
    from sat_lib.train import logits
    from sat_lib.weights import save_tensor

    train = train_split(spec)
    sup = trained_supernet(spec, train)
    config = SubnetConfig.from_dict(spec["subnet"])
    raw = extracted(sup.model, config)  # with the super-network's BatchNorm statistics
    n_params = sum(p.numel() for p in raw.parameters())
    path = ensembles.outputs_path(spec, sup.path)
    if path.exists():
        blob = torch.load(path, map_location="cpu", weights_only=True)
        return {"path": str(path), "n_params": n_params, "from_cache": sup.from_cache, "computed": False,
                "unadapted": float(blob["unadapted"]), "job_seconds": float(blob["job_seconds"])}
    t0 = time.perf_counter()
    sets, labels = ensembles.load_sets(spec)
    clean = sets[spec["labels"].index(ensembles.CLEAN)]
    unadapted = float((logits(raw, clean, precision="fp32").argmax(1).numpy() == labels).mean())
    sub = subnetwork(sup.model, config, spec, train)
    out = ensembles.model_outputs(sub, sets, labels, spec)
    seconds = time.perf_counter() - t0
    out["unadapted"] = torch.tensor(unadapted, dtype=torch.float64)
    out["job_seconds"] = torch.tensor(seconds, dtype=torch.float64)
    save_tensor(out, path)
    acc = (out["logits"].argmax(-1).numpy() == labels).mean(-1)
    note(f"{spec['model']['name']}: clean {100 * acc[0]:.1f} % (before BatchNorm recalibration "
         f"{100 * unadapted:.1f} %); attributions {out['seconds'].sum():.1f} s")
    return {"path": str(path), "n_params": n_params, "from_cache": sup.from_cache, "computed": True,
            "unadapted": unadapted, "job_seconds": seconds}


def job_specs(cfg: Config, configs, names: list[str], idx: np.ndarray, labels: list[str],
              paths: list[str | None]) -> list[dict]:
    base = _spec_train(cfg)
    positions = subset_positions(len(idx), cfg.attribution_images, cfg.seed).tolist()
    return [{**base, "subnet": c.as_dict(), "bn_images": cfg.bn_images,
             "model": {"name": name, "dataset": cfg.dataset, "precision": "auto"},
             "extra": {"subnet": c.as_dict(), "bn_images": cfg.bn_images, "seed": cfg.seed},
             "idx": idx.tolist(), "labels": labels, "paths": paths, "attribution_positions": positions,
             "ig_steps": list(cfg.ig_steps)} for c, name in zip(configs, names)]


def subnet_names(configs) -> list[str]:
    return [f"nas-{i + 1:02d}" for i in range(len(configs))]


def compute(cfg: Config) -> xr.Dataset:
    from sat_lib.models.supernet import similar_size

    test = project_config().load_data(cfg.dataset, "test")
    idx = image_sample(len(test), cfg.n_images, cfg.seed)
    labels = [ensembles.set_label(ensembles.parse_set(s)) for s in cfg.sets]
    t0 = time.perf_counter()
    sup = trained_supernet(_spec_train(cfg))  # once, here: the subnetwork jobs then read it from the cache
    note(f"super-network: {'from the cache' if sup.from_cache else 'trained'} ({sup.train_seconds:.0f} s of "
         f"training, layout {sup.layout})")
    configs = similar_size(cfg.space(), cfg.n_subnets, seed=cfg.seed, candidates=cfg.candidates,
                           num_classes=test.num_classes, in_chans=test.channels)
    names = subnet_names(configs)
    paths = ensembles.corrupted_paths(cfg, cfg.dataset, idx)
    with Executor() as ex:
        done = ex.map(subnet_job, job_specs(cfg, configs, names, idx, labels, paths), desc="diversity-nas",
                      names=names)
        scheduler = ex.last_scheduler
    out = ensembles.load_outputs([r["path"] for r in done])
    y = test.labels[idx]
    members = ensembles.all_ensembles(len(configs), cfg.size)
    n_params = np.array([r["n_params"] for r in done], dtype=np.int64)
    t1 = time.perf_counter()
    sc = ensembles.ensemble_scores(out, y, members, n_params, cfg)
    ps = ensembles.pair_scores(out, labels.index(ensembles.CLEAN))
    combine_seconds = time.perf_counter() - t1
    ds = ensembles.result_dataset(cfg, names, [FAMILY] * len(names), test, idx, labels, members, sc, ps, out, done,
                           attrs={"dataset": cfg.dataset, "executor": scheduler, "combine_seconds": combine_seconds,
                                  "wall_seconds": time.perf_counter() - t0,
                                  "supernet_train_seconds": float(sup.train_seconds),
                                  "supernet_layout": sup.layout,
                                  "supernet_from_cache": int(sup.from_cache),
                                  "supernet_epoch_loss_json": json.dumps([float(v) for v in sup.epoch_loss]),
                                  "supernet_params": int(sum(p.numel() for p in sup.model.parameters()))})
    ds["subnet_config"] = ("model", [json.dumps(c.as_dict()) for c in configs],
                           {"long_name": "depth / expansion / width indices into the search space"})
    ds["subnet_label"] = ("model", [c.label() for c in configs])
    ds["unadapted_accuracy"] = ("model", 100 * np.array([r["unadapted"] for r in done]),
                                {"long_name": "clean accuracy with the super-network's BatchNorm statistics (%)"})
    ds["job_seconds"] = ("model", np.array([r["job_seconds"] for r in done]),
                         {"long_name": "extraction, recalibration, logits and attributions (s)"})
    attributed = np.zeros(len(idx), dtype=np.int8)
    attributed[subset_positions(len(idx), cfg.attribution_images, cfg.seed)] = 1
    ds["attributed"] = ("image", attributed, {"long_name": "1: the image has attribution maps (a seeded subset)"})
    return ds


def ensembles_config(cfg: Config):
    """The diversity-ensembles parameters whose heterogeneous ensembles this chapter is compared with."""
    return resolve_params("diversity-ensembles", cfg.ensembles_profile)


def heterogeneous(cfg: Config) -> xr.Dataset | None:
    """The stored diversity-ensembles result of ``ensembles_profile`` (never computed here), or None."""
    from sat_lib.results import CacheMiss

    try:
        return chapter_result(ensembles_config(cfg), mode="cache_only")
    except CacheMiss:
        return None


def dry_jobs(cfg: Config) -> list:
    """For ``--dry-run``: the super-network trained by the sandwich rule, then each of ``n_subnets`` subnetworks
    recalibrated and its logits and attributions computed on every set (timed as the largest subnetwork)."""
    from sat_lib.dryrun import Work
    from sat_lib.nas import SandwichObjective
    from sat_lib.zoo.dry import entry_job, outputs_work, training_images

    entry, train = supernet_entry(cfg), cfg.train_config()
    subnet = outputs_work(cfg) + Work(forward_images=cfg.bn_images + cfg.n_images)
    work = Work(train_images=training_images(entry, cfg.dataset, train, cfg.train_size)) + subnet.scaled(cfg.n_subnets)
    return [entry_job(entry, cfg.dataset, train, work, label=f"{ENTRY_NAME} and {cfg.n_subnets} subnetworks",
                      objective=SandwichObjective(sampled=cfg.sampled, seed=cfg.seed), models=1 + cfg.n_subnets,
                      note="subnetworks timed as the largest")]


def run(cfg: Config, mode: str = "auto") -> xr.Dataset:
    return cached(cfg, compute, version=VERSION, mode=mode)


def claims(cfg: Config, mode: str = "cache_only"):
    from sat_lib.analysis.diversity_nas import claims_table
    from sat_lib.experiments._chapter import provenance_line

    ds = run(cfg, mode)
    return claims_table(ds, heterogeneous(cfg), n_boot=cfg.n_boot, seed=cfg.seed), provenance_line(ds)


CHAPTER = register(Chapter(
    name=Config.chapter,
    title="Ensembles of NAS subnetworks",
    part="Design diversity",
    config=Config,
    compute=run,
    summary="A weight-sharing super-network trained here, 11 of its subnetworks of similar size, and every "
            "three-member ensemble of them scored like the heterogeneous ensembles: how much design diversity "
            "do subnetworks of one super-network carry (Figs. 8 and 9)?",
    claims=claims,
    version=VERSION,
    dry_run=dry_jobs,
))
