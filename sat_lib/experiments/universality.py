"""Chapter "Are robust models universal?" (robustness-and-universality paper, CIFAR-10 part).

Every architecture is trained at every ε of an L2 PGD adversarial-training grid (ε = 0: standard training), on
the whole training split (setting ``full``) and, for a few architectures, on a subset of its classes (setting
``subset``, the paper's ImageNet50/100 turned into CIFAR-10 classes). Each model is one job — train (or load
from the weights cache), score clean and adversarial accuracy, invert target images (Eq. 7) from seeds of
another class, in distribution and, for the ``full`` models, from an out-of-distribution dataset (setting
``ood``) — and each job's numbers are a stored result of their own (``universality-model``), so the grid is
resumable model by model and can be spread over several commands or Dask workers. A second set of jobs, one per
(setting, ε), feeds every model's inverted images to every model of its group and scores each pair with
agreement, JSDSim, linear CKA, ProcrustesSim and k-NN Jaccard (``sat_lib.measures``; ``universality_cross``).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
import xarray as xr

from sat_lib.attacks import PGDConfig, pgd
from sat_lib.config import project_config
from sat_lib.executor import Executor
from sat_lib.experiments._chapter import Chapter, Retimer, cached, register
from sat_lib.experiments.universality_dry import dry_jobs
from sat_lib.experiments.universality_pairs import MATCHED_ENTROPY, regular_pairs
from sat_lib.inversion import InversionConfig, invert
from sat_lib.params import ChapterConfig
from sat_lib.progress import note
from sat_lib.provenance import default_device
from sat_lib.train import Adversary, TrainConfig, logits, predict
from sat_lib.weights import save_tensor, trained_model
from sat_lib.zoo import check_zoo_and_dataset, training_split

VERSION = 1
MODEL_VERSION = 1
MODEL_RESULTS = "universality-model"   # the per-model stored results (results_dir/universality-model/<key>.nc)
SETTINGS = ("full", "subset", "ood")   # models trained on all classes / on a class subset / full models on OOD data
N_EXAMPLES = 4                         # seed / target / inverted triples kept per model for Fig. 2
# Images per class of the test splits whose contents are fixed (as the project loads them: default options), so that
# parameters asking for more images or classes than a split holds are refused when they are parsed, without reading
# any data. A dataset not listed here is checked once its test split is loaded, still before anything is trained
# (``check_split_sizes``); tests/experiments/test_universality.py compares this table with the loaded splits.
TEST_SPLIT_CLASS_COUNTS: dict[str, tuple[int, ...]] = {
    "cifar10": (1000,) * 10,
    "fashion_mnist": (1000,) * 10,
    "digits": (36, 36, 35, 37, 36, 37, 36, 36, 35, 36),  # scikit-learn's 1 797 digits, stratified 20 % test split
}


@dataclass(frozen=True)
class Config(ChapterConfig):
    """Defaults are the quick profile; ``_config.yml`` holds smoke / quick / paper."""

    chapter: ClassVar[str] = "universality"
    section_params: ClassVar[tuple[str, ...]] = ("length_epochs", "strong_steps", "strong_images")
    dataset: str = "cifar10"
    zoo: str = "cifar-cpu"
    archs: tuple[str, ...] = ("vgg_c32", "resnet10_c32", "densenet_c12", "regnetx_002_s1", "levit_128s_32")
    eps: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0)   # L2 adversarial-training radii (0: standard training)
    # training: the zoo's optimiser recipe per model (SGD-Nesterov for CNNs, AdamW for attention), cross-entropy
    epochs: int = 2                       # scaled per model by the zoo entry's epoch_scale
    batch_size: int = 256
    label_smoothing: float = 0.0          # the paper trains with plain cross-entropy
    translate: int = 2
    warmup: float = 0.2
    seed: int = 0
    precision: str = "auto"
    at_steps: int = 3                     # PGD steps of adversarial training, each of 2ε / at_steps (Salman et al.)
    # adversarial accuracy: L2 PGD at the model's own ε (ε = 0 models at eval_eps0, as the paper's Table 4)
    eval_eps0: float = 0.25
    eval_steps: int = 10
    eval_images: int = 500
    # inversion (Eq. 7): n_images targets of the test split, each from a seed of another class
    n_images: int = 1000
    invert_steps: int = 40
    invert_step_size: float = 1.0
    ks: tuple[int, ...] = (10, 100, 500)  # k-NN Jaccard neighbourhoods (Fig. 4: the first; Fig. 7: all)
    # Fig. 5: models trained on `subset_classes` classes of the dataset (0: no subset setting)
    subset_classes: int = 5
    subset_archs: tuple[str, ...] = ("vgg_c32", "resnet10_c32", "densenet_c12")  # empty: all archs
    subset_images: int = 500
    # Fig. 6: inversion with seeds and targets from another dataset ("": no OOD setting)
    ood_dataset: str = "fashion_mnist"
    ood_images: int = 500
    n_boot: int = 2000
    # training-length section (sat_lib.experiments.universality_length): standard models at these budgets, attacked
    # at eval_eps0 by the chapter's PGD and, on the first strong_images, by strong_steps-step PGD and APGD-CE
    length_epochs: tuple[int, ...] = (2, 5, 10, 20)   # empty: no section
    strong_steps: int = 100
    strong_images: int = 200

    def __post_init__(self) -> None:
        from sat_lib.data import DATASETS

        for name in ("epochs", "batch_size", "at_steps", "eval_steps", "eval_images", "n_images", "invert_steps",
                     "n_boot"):
            if getattr(self, name) < 1:
                raise ValueError(f"parameter {name!r} must be >= 1, got {getattr(self, name)}")
        if len(self.archs) < 2 or len(set(self.archs)) != len(self.archs):
            raise ValueError(f"parameter 'archs' must name at least 2 different architectures, got {list(self.archs)}")
        check_zoo_and_dataset(self.zoo, (*self.archs, *self.subset_archs), self.dataset)
        bad = [e for e in self.eps if not (math.isfinite(e) and e >= 0)]
        if bad or not self.eps:
            raise ValueError(f"parameter 'eps' must list L2 radii >= 0 (0: standard training), got {list(self.eps)}")
        if len(set(self.eps)) != len(self.eps):
            raise ValueError(f"parameter 'eps' lists a radius twice: {list(self.eps)}")
        if not (self.eval_eps0 > 0 and math.isfinite(self.eval_eps0)):
            raise ValueError(f"parameter 'eval_eps0' must be a radius > 0, got {self.eval_eps0}")
        InversionConfig(steps=self.invert_steps, step_size=self.invert_step_size)
        if not self.ks or min(self.ks) < 1:
            raise ValueError(f"parameter 'ks': neighbourhood sizes must be >= 1, got {list(self.ks)}")
        # Fig. 7 scores every k on the n_images inverted test images: k neighbours among the n − 1 others
        if max(self.ks) >= self.n_images:
            raise ValueError(f"parameter 'ks': k = {max(self.ks)} needs more than n_images = {self.n_images} "
                             "images (k nearest neighbours of each image among the others); lower k or raise n_images")
        # the subset and OOD settings score every k on their own image sets; k = the set's size is left empty there
        # (as the committed quick profile's k = 500 on 500 images), a larger k is refused
        for name in (*(("subset_images",) if self.subset_classes else ()),
                     *(("ood_images",) if self.ood_dataset else ())):
            n = getattr(self, name)
            if n < 1:
                raise ValueError(f"parameter {name!r} must be >= 1, got {n}")
            if self.ks[0] >= n:
                raise ValueError(f"parameter 'ks': k = {self.ks[0]} (the first, Figs. 5 and 6) needs more than "
                                 f"{name} = {n} images; lower k or raise {name}")
            if max(self.ks) > n:
                raise ValueError(f"parameter 'ks': k = {max(self.ks)} is more than {name} = {n} images (every k is "
                                 f"scored on them); lower k or raise {name}")
        if self.subset_classes == 1 or self.subset_classes < 0:
            raise ValueError(f"parameter 'subset_classes' must be 0 (no subset setting) or >= 2, "
                             f"got {self.subset_classes}")
        if self.subset_classes and len(self.subset_names()) < 2:
            raise ValueError(f"parameter 'subset_archs' needs at least 2 architectures, got {list(self.subset_archs)}")
        if self.ood_dataset:
            DATASETS[self.ood_dataset]  # unknown name: KeyError with close matches
            if self.ood_dataset == self.dataset:
                raise ValueError(f"parameter 'ood_dataset' is the training dataset {self.dataset!r}; name another "
                                 "dataset (e.g. fashion_mnist or digits), or '' for no OOD setting")
        test = TEST_SPLIT_CLASS_COUNTS.get(self.dataset)
        ood = TEST_SPLIT_CLASS_COUNTS.get(self.ood_dataset) if self.ood_dataset else None
        check_split_sizes(self, test, None if ood is None else sum(ood))

    @property
    def train(self) -> TrainConfig:
        return TrainConfig(epochs=self.epochs, batch_size=self.batch_size, label_smoothing=self.label_smoothing,
                           translate=self.translate, warmup=self.warmup, seed=self.seed, precision=self.precision)

    def adversarial_training(self, eps: float) -> PGDConfig | None:
        """The attack each training batch is replaced by at radius ``eps`` (None: standard training)."""
        if eps == 0:
            return None
        return PGDConfig(norm="l2", eps=eps, step_size=2 * eps / self.at_steps, steps=self.at_steps,
                         random_start=False, seed=self.seed)

    def evaluation_attack(self, eps: float) -> PGDConfig:
        """L2 PGD of the adversarial accuracy: at the model's own ε (ε = 0: ``eval_eps0``), step 2.5 ε / steps."""
        e = eps or self.eval_eps0
        return PGDConfig(norm="l2", eps=e, step_size=2.5 * e / self.eval_steps, steps=self.eval_steps,
                         random_start=False, seed=self.seed)

    @property
    def inversion(self) -> InversionConfig:
        return InversionConfig(steps=self.invert_steps, step_size=self.invert_step_size)

    def subset_names(self) -> list[str]:
        return list(self.subset_archs) or list(self.archs)

    def settings(self) -> list[str]:
        return [s for s in SETTINGS if (s != "subset" or self.subset_classes) and (s != "ood" or self.ood_dataset)]

    def members(self, setting: str) -> list[str]:
        return self.subset_names() if setting == "subset" else list(self.archs)


# ------------------------------------------------------------------------------------------ images and indices

def check_split_sizes(cfg: Config, class_counts, ood_size: int | None) -> None:
    """Refuse parameters that ask for more than the test splits hold: ``subset_classes`` at least the dataset's
    classes, ``n_images`` targets beyond its test split, ``subset_images`` beyond the test images of the drawn
    classes, ``ood_images`` beyond the OOD test split. ``class_counts``: test images per class of ``cfg.dataset``
    (None: unknown, not checked); ``ood_size``: the OOD test split's size (None: unknown or no OOD setting)."""
    if class_counts is not None:
        counts = list(class_counts)
        if cfg.subset_classes:
            classes = subset_class_indices(cfg, len(counts))  # raises when subset_classes >= the classes
            n_subset = sum(counts[c] for c in classes)
            if cfg.subset_images > n_subset:
                raise ValueError(f"parameter 'subset_images' = {cfg.subset_images} is more than the {n_subset} test "
                                 f"images of the {cfg.subset_classes} drawn classes of {cfg.dataset}; lower it or "
                                 "raise subset_classes")
        if cfg.n_images > sum(counts):
            raise ValueError(f"parameter 'n_images' = {cfg.n_images} is more than the {sum(counts)} images of "
                             f"the {cfg.dataset} test split")
    if ood_size is not None and cfg.ood_dataset and cfg.ood_images > ood_size:
        raise ValueError(f"parameter 'ood_images' = {cfg.ood_images} is more than the {ood_size} images of "
                         f"the {cfg.ood_dataset} test split")


def subset_class_indices(cfg: Config, n_classes: int) -> list[int]:
    """The seeded draw of ``subset_classes`` of the dataset's ``n_classes`` classes (sorted), as the paper drew
    ImageNet50/100's classes at random."""
    if cfg.subset_classes >= n_classes:
        raise ValueError(f"parameter 'subset_classes' = {cfg.subset_classes} must be below the {n_classes} classes "
                         f"of {cfg.dataset}")
    rng = np.random.default_rng(cfg.seed)
    return sorted(int(c) for c in rng.choice(n_classes, size=cfg.subset_classes, replace=False))


def seed_target_pairs(labels: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` target indices drawn without replacement and, for each, a seed index of another class drawn at
    random (the paper's rule: redraw while the classes match)."""
    if n > len(labels):
        raise ValueError(f"inversion needs {n} target images but the split has {len(labels)}")
    rng = np.random.default_rng(seed)
    targets = rng.choice(len(labels), size=n, replace=False)
    seeds = np.empty(n, dtype=np.int64)
    for i, t in enumerate(targets):
        others = np.flatnonzero(labels != labels[t])
        if not len(others):
            raise ValueError("inversion needs seed images of another class than the target; the split has one class")
        seeds[i] = rng.choice(others)
    return targets.astype(np.int64), seeds


def evaluation_split(spec: dict):
    pc = project_config()
    test = pc.load_data(spec["dataset"], "test")
    return test.select_classes(spec["classes"]) if spec["classes"] else test


def train_split(spec: dict):
    data = training_split(spec["dataset"], 0, spec["seed"])
    return data.select_classes(spec["classes"]) if spec["classes"] else data


def ood_split(spec: dict, like):
    return project_config().load_data(spec["ood"]["dataset"], "test").conformed(like.channels, like.image_size)


def nchw(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).contiguous()


# ------------------------------------------------------------------------------------------ per-model jobs

def _spec(cfg: Config, setting: str, arch: str, eps: float, classes: list[int] | None) -> dict:
    from sat_lib.models import get_zoo

    at = cfg.adversarial_training(eps)
    return {"zoo": cfg.zoo, "name": arch, "dataset": cfg.dataset, "classes": classes, "seed": cfg.seed,
            "setting": setting, "eps": float(eps), "train": dataclasses.asdict(cfg.train),
            "adversary": None if at is None else dataclasses.asdict(at),
            "eval_attack": dataclasses.asdict(cfg.evaluation_attack(eps)), "eval_images": cfg.eval_images,
            "inversion": dataclasses.asdict(cfg.inversion),
            "n_images": cfg.subset_images if setting == "subset" else cfg.n_images,
            "ood": ({"dataset": cfg.ood_dataset, "n_images": cfg.ood_images}
                    if setting == "full" and cfg.ood_dataset else None),
            "precision": get_zoo(cfg.zoo)[arch].precision_for(cfg.precision)}


def trained(spec: dict):
    from sat_lib.models import get_zoo

    pc = project_config()
    adv = None if spec["adversary"] is None else Adversary(PGDConfig(**spec["adversary"]))
    return trained_model(get_zoo(spec["zoo"])[spec["name"]], train_split(spec), TrainConfig(**spec["train"]),
                         device=default_device(), cache_dir=pc.weights_dir, adversary=adv)


def inversion_path(spec: dict, weights: Path | None, images: str) -> Path | None:
    """Where a model's inverted images lie in the cache: keyed by its weights and the inversion's settings."""
    if weights is None:
        return None
    key = hashlib.sha256(json.dumps({"weights": weights.name, "inversion": spec["inversion"], "images": images,
                                     "n": spec["n_images"] if images == "test" else spec["ood"]["n_images"],
                                     "seed": spec["seed"], "classes": spec["classes"]},
                                    sort_keys=True).encode()).hexdigest()[:16]
    return project_config().cache_dir / "inversions" / f"{weights.stem}-{images}-{key}.pt"


def invert_images(spec: dict, t, data, images: str) -> dict:
    """Invert ``n`` targets of ``data`` from seeds of other classes for model ``t``; the inverted images go to
    the cache (float16), the distances and a few examples into the job's result."""
    n = spec["n_images"] if images == "test" else spec["ood"]["n_images"]
    targets, seeds = seed_target_pairs(data.labels, n, spec["seed"] + (0 if images == "test" else 1))
    start = time.perf_counter()
    inv = invert(t.model, nchw(data.images[seeds]), nchw(data.images[targets]), InversionConfig(**spec["inversion"]),
                 precision=spec["precision"], desc=f"invert {spec['name']} ε={spec['eps']:g} ({images})")
    seconds = time.perf_counter() - start
    path = inversion_path(spec, t.path, images)
    if path is not None:
        save_tensor({"images": inv.images.half(), "targets": torch.from_numpy(targets)}, path)
    ex = slice(0, N_EXAMPLES)
    return {"images": inv.images, "targets": targets, "seeds": seeds, "seconds": seconds,
            "start": inv.start_distance.numpy(), "final": inv.final_distance.numpy(), "path": str(path or ""),
            "example_inverted": (inv.images[ex].clamp(0, 1) * 255).round().to(torch.uint8).numpy(),
            "example_target": nchw(data.images[targets[ex]]).numpy(),
            "example_seed": nchw(data.images[seeds[ex]]).numpy()}


def evaluation_logits(spec: dict, t, test) -> torch.Tensor:
    """Model ``t``'s logits on the evaluation split ``test`` in the chapter's precision (its per-model result
    stores them as float16; ``universality_cross.check_retrained`` compares a retrained model's with those)."""
    return logits(t.model, nchw(test.images), precision=spec["precision"])


def model_job(spec: dict) -> dict:
    """One (setting, architecture, ε) model: train or load it, score it, invert its images; returns arrays."""
    t = trained(spec)
    test = evaluation_split(spec)
    x, y = nchw(test.images), torch.from_numpy(test.labels)
    test_logits = evaluation_logits(spec, t, test)
    acc = float((test_logits.argmax(1) == y).float().mean())
    rng = np.random.default_rng(spec["seed"])
    idx = np.sort(rng.choice(len(test), size=min(spec["eval_images"], len(test)), replace=False))
    start = time.perf_counter()
    adv = pgd(t.model, x[idx], y[idx], PGDConfig(**spec["eval_attack"]), precision=spec["precision"],
              desc=f"pgd {spec['name']} ε={spec['eps']:g}")
    adv_acc = float((predict(t.model, adv, precision=spec["precision"]) == y[idx]).float().mean())
    attack_seconds = time.perf_counter() - start
    out = {"accuracy": acc, "adv_accuracy": adv_acc, "attack_seconds": attack_seconds,
           "train_seconds": t.train_seconds, "from_cache": t.from_cache, "layout": t.layout,
           "epochs": len(t.epoch_loss), "n_params": sum(p.numel() for p in t.model.parameters()),
           "test_logits": test_logits.numpy().astype(np.float16), "weights": str(t.path or ""),
           "invert": {"test": invert_images(spec, t, test, "test")}}
    if spec["ood"]:
        out["invert"]["ood"] = invert_images(spec, t, ood_split(spec, test), "ood")
    note(f"{spec['name']} ε={spec['eps']:g} ({spec['setting']}): accuracy {acc:.3f}, adversarial {adv_acc:.3f}, "
         f"{out['epochs']} epochs in {t.train_seconds:.0f} s ({t.layout}{', cached' if t.from_cache else ''}); "
         f"inversion distance {np.median(out['invert']['test']['final']):.3f} (median)")
    return out


def model_dataset(spec: dict, r: dict) -> xr.Dataset:
    """A model job's result as a Dataset (the per-model stored result): scores, timings, test logits, the
    inversion distances per image and ``N_EXAMPLES`` seed / target / inverted triples (uint8)."""
    data_vars = {
        "test_logits": (("test_sample", "class"), r["test_logits"]),
    }
    attrs = {k: r[k] for k in ("accuracy", "adv_accuracy", "attack_seconds", "train_seconds", "epochs", "n_params")}
    attrs.update(from_cache=int(r["from_cache"]), layout=r["layout"], weights=Path(r["weights"]).name,
                 arch=spec["name"], eps=spec["eps"], setting=spec["setting"],
                 adversarial_eval_eps=spec["eval_attack"]["eps"])
    for images, inv in r["invert"].items():
        data_vars.update({
            f"{images}_start_distance": (f"{images}_image", inv["start"]),
            f"{images}_final_distance": (f"{images}_image", inv["final"]),
            f"{images}_target": (f"{images}_image", inv["targets"]),
            f"{images}_seed": (f"{images}_image", inv["seeds"]),
            **{f"{images}_example_{part}": (("example", "channel", "y", "x"), inv[f"example_{part}"])
               for part in ("inverted", "target", "seed")},
        })
        attrs[f"{images}_invert_seconds"] = inv["seconds"]
        attrs[f"{images}_inverted_cache"] = Path(inv["path"]).name if inv["path"] else ""
    _, channels, size, _ = r["invert"]["test"]["example_target"].shape
    coords = {"test_sample": np.arange(r["test_logits"].shape[0]), "class": np.arange(r["test_logits"].shape[1]),
              "example": np.arange(N_EXAMPLES), "channel": np.arange(channels),
              "y": np.arange(size), "x": np.arange(size)}
    coords.update({f"{images}_image": np.arange(len(inv["final"])) for images, inv in r["invert"].items()})
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def stored_model_job(spec: dict) -> xr.Dataset:
    """The per-model stored result for ``spec``, or run the model job and store it (resumable model by model)."""
    from sat_lib.results import load_or_compute

    pc = project_config()
    return load_or_compute(MODEL_RESULTS, spec, lambda: model_dataset(spec, model_job(spec)), version=MODEL_VERSION,
                           results_dir=pc.results_dir, device=default_device())


# ------------------------------------------------------------------------------------------ the chapter

def model_specs(cfg: Config) -> dict[tuple[str, str, float], dict]:
    """Every trained model's job spec, keyed by (setting, architecture, ε) — the OOD setting reuses the full
    setting's models."""
    classes = None
    if cfg.subset_classes:
        classes = subset_class_indices(cfg, project_config().load_data(cfg.dataset, "test").num_classes)
    trained = [s for s in cfg.settings() if s != "ood"]
    return {(s, a, e): _spec(cfg, s, a, e, classes if s == "subset" else None)
            for s in trained for e in cfg.eps for a in cfg.members(s)}


def retime_jobs(cfg: Config) -> dict[str, tuple[str, dict]]:
    """Every model's job by label, as ``sat_lib.retime`` redoes them (``retime_job``): the chapter's models
    (``<arch>-eps<ε>-<setting>``) and its training-length section's (``<arch>-length<budget>``)."""
    from sat_lib.experiments import universality_length

    jobs = {f"{a}-eps{e:g}-{s}": ("model", spec) for (s, a, e), spec in model_specs(cfg).items()}
    length = universality_length.from_chapter(cfg)
    if length is not None:
        specs = universality_length.model_specs(length)
        jobs.update({f"{a}-length{e}": ("length", spec) for (a, e), spec in specs.items()})
    return jobs


def retime_job(job: tuple[str, dict]) -> xr.Dataset:
    """One of ``retime_jobs``: the chapter's or the training-length section's per-model job (stored results)."""
    from sat_lib.experiments import universality_length

    kind, spec = job
    return {"model": stored_model_job, "length": universality_length.stored_model_job}[kind](spec)


def compute(cfg: Config) -> xr.Dataset:
    from sat_lib.experiments import universality_cross

    pc = project_config()
    settings = cfg.settings()
    # fail before anything is trained when the data cannot be read or holds fewer images or classes than asked
    # (parsing checked the datasets of TEST_SPLIT_CLASS_COUNTS already; this covers the others)
    test = pc.load_data(cfg.dataset, "test")
    ood = pc.load_data(cfg.ood_dataset, "test") if cfg.ood_dataset else None
    check_split_sizes(cfg, np.bincount(test.labels, minlength=test.num_classes).tolist(),
                      None if ood is None else len(ood))
    specs = model_specs(cfg)
    classes = next((sp["classes"] for sp in specs.values() if sp["classes"]), None)  # the subset setting's draw
    keys = list(specs)
    # adversarially trained models first (the costliest), so Dask workers finish together
    order = sorted(range(len(keys)), key=lambda i: -keys[i][2])
    t0 = time.perf_counter()
    with Executor() as ex:
        done = ex.map(stored_model_job, [specs[keys[i]] for i in order], desc="universality models",
                      names=[f"{keys[i][1]}-eps{keys[i][2]:g}-{keys[i][0]}" for i in order])
        models = {keys[i]: ds for i, ds in zip(order, done)}
        groups = [(s, e) for s in settings for e in cfg.eps]
        gspecs = [{"members": [specs[("full" if s == "ood" else s, a, e)] for a in cfg.members(s)],
                   "images": "ood" if s == "ood" else "test", "ks": list(cfg.ks)} for s, e in groups]
        scores = ex.map(universality_cross.group_job, gspecs, desc="universality pairs",
                        names=[f"{s}-eps{e:g}" for s, e in groups])
        scheduler = ex.last_scheduler
    return assemble(cfg, models, dict(zip(groups, scores)), classes, scheduler, time.perf_counter() - t0,
                    *(sum(g[k] for g in scores) for k in ("pairs_seconds", "redone_seconds")))


def assemble(cfg: Config, models: dict, scores: dict, classes, scheduler: str, wall: float,
             pairs_seconds: float = float("nan"), redone_seconds: float = 0.0) -> xr.Dataset:
    """The chapter's result: per (setting, ε, architecture) model scores and per (setting, ε, source, model,
    model_b) pair scores, NaN where a setting lacks an architecture. ``redone_seconds`` (work the per-model results
    count) is in the wall time, not in ``pairs_seconds`` (the pair measures, summed over the group jobs)."""
    settings, archs, eps = cfg.settings(), list(cfg.archs), list(cfg.eps)
    S, E, A, K = len(settings), len(eps), len(archs), len(cfg.ks)
    per_model = {v: np.full((S, E, A), np.nan) for v in
                 ("accuracy", "adv_accuracy", "adversarial_eval_eps", "train_seconds", "attack_seconds",
                  "invert_seconds", "n_params", "epochs", "from_cache",
                  "start_distance", "final_distance", "final_distance_q90")}
    layout = np.full((S, E, A), "", dtype=object)
    reg = {v: np.full((S, E, A, A), np.nan) for v in ("regular_agreement", "regular_jsd")}
    inv = {v: np.full((S, E, A, A, A), np.nan) for v in ("agreement", "jsd", "cka", "procrustes", "jsd_matched")}
    conf = {v: np.full((S, E, A, A), np.nan) for v in ("confidence", "entropy")}
    jac = np.full((S, E, A, A, A, K), np.nan)
    n_images = max(cfg.n_images, cfg.ood_images if cfg.ood_dataset else 0,
                   cfg.subset_images if cfg.subset_classes else 0)
    final = np.full((S, E, A, n_images), np.nan)
    ex_shape = None
    examples = {}
    for si, s in enumerate(settings):
        trained_setting = "full" if s == "ood" else s
        images = "ood" if s == "ood" else "test"
        members = cfg.members(s)
        for ei, e in enumerate(eps):
            cols = [archs.index(a) for a in members]
            logit_sets = []
            for a in members:
                ds = models[(trained_setting, a, e)]
                ai = archs.index(a)
                for v in ("accuracy", "adv_accuracy", "train_seconds", "attack_seconds", "n_params", "epochs",
                          "from_cache"):
                    per_model[v][si, ei, ai] = float(ds.attrs[v])
                per_model["adversarial_eval_eps"][si, ei, ai] = float(ds.attrs["adversarial_eval_eps"])
                per_model["invert_seconds"][si, ei, ai] = float(ds.attrs[f"{images}_invert_seconds"])
                d1 = ds[f"{images}_final_distance"].values
                per_model["start_distance"][si, ei, ai] = float(np.median(ds[f"{images}_start_distance"].values))
                per_model["final_distance"][si, ei, ai] = float(np.median(d1))
                per_model["final_distance_q90"][si, ei, ai] = float(np.quantile(d1, 0.9))
                final[si, ei, ai, :len(d1)] = d1
                layout[si, ei, ai] = ds.attrs["layout"]
                logit_sets.append(ds["test_logits"].values)
                if s in ("full", "ood"):
                    for part in ("inverted", "target", "seed"):
                        arr = ds[f"{images}_example_{part}"].values
                        ex_shape = arr.shape
                        examples[(s, part, ei, ai)] = arr
            ix = np.ix_(cols, cols)
            r = regular_pairs(logit_sets)
            reg["regular_agreement"][si, ei][ix] = r["agreement"]
            reg["regular_jsd"][si, ei][ix] = r["jsd"]
            g = scores[(s, e)]
            ix3 = np.ix_(cols, cols, cols)
            for v in inv:
                inv[v][si, ei][ix3] = g[v]
            for v in conf:
                conf[v][si, ei][ix] = g[v]
            jac[si, ei][ix3] = g["jaccard"]
    dims_m, dims_p, dims_i = ("setting", "eps", "model"), ("setting", "eps", "model", "model_b"), \
        ("setting", "eps", "source", "model", "model_b")
    data_vars = {v: (dims_m, a) for v, a in per_model.items()}
    data_vars["layout"] = (dims_m, layout.astype(str))
    data_vars.update({v: (dims_p, a) for v, a in reg.items()})
    data_vars.update({f"inverted_{v}": (dims_i, a) for v, a in inv.items()})
    data_vars["inverted_jaccard"] = ((*dims_i, "k"), jac)
    data_vars["inverted_confidence"] = (("setting", "eps", "source", "model"), conf["confidence"],
                                        {"long_name": "mean max-softmax of the model on the source's inverted images"})
    data_vars["inverted_entropy"] = (("setting", "eps", "source", "model"), conf["entropy"],
                                     {"long_name": "mean softmax entropy (nats) on the source's inverted images"})
    data_vars["inverted_jsd_matched"] = (dims_i, inv["jsd_matched"],
                                         {"long_name": f"JSDSim of the outputs rescaled to mean entropy "
                                                       f"{MATCHED_ENTROPY:g} ln C"})
    data_vars["final_distance_per_image"] = ((*dims_m, "image"), final.astype(np.float32))
    coords = {"setting": settings, "eps": eps, "model": archs, "model_b": archs, "source": archs,
              "k": list(cfg.ks), "image": np.arange(n_images)}
    ood_settings = [s for s in settings if s in ("full", "ood")]
    if ex_shape is not None:
        for part in ("inverted", "target", "seed"):
            arr = np.zeros((len(ood_settings), E, A, *ex_shape), dtype=np.uint8)
            for qi, s in enumerate(ood_settings):
                for ei in range(E):
                    for ai in range(A):
                        arr[qi, ei, ai] = examples[(s, part, ei, ai)]
            data_vars[f"example_{part}"] = (("example_setting", "eps", "model", "example", "channel", "y", "x"), arr)
        coords.update(example_setting=ood_settings, example=np.arange(ex_shape[0]), channel=np.arange(ex_shape[1]),
                      y=np.arange(ex_shape[2]), x=np.arange(ex_shape[3]))
    test = project_config().load_data(cfg.dataset, "test")
    attrs = {"subset_classes_drawn": json.dumps(classes or []),
             "subset_class_names": json.dumps([test.classes[c] for c in classes] if classes else []),
             "dataset_source": test.source, "executor": scheduler, "wall_seconds": wall,
             "pairs_seconds": pairs_seconds, "redone_seconds": redone_seconds, "matched_entropy": MATCHED_ENTROPY,
             "model_results": json.dumps({f"{s}/{a}/{e:g}": ds.attrs.get("cache_key", "")
                                          for (s, a, e), ds in models.items()})}
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def run(cfg: Config, mode: str = "auto") -> xr.Dataset:
    """Stored result for these parameters, or compute and store it."""
    return cached(cfg, compute, version=VERSION, mode=mode)


def claims(cfg: Config, mode: str = "cache_only"):
    from sat_lib.analysis.universality import claims_table
    from sat_lib.experiments import universality_length
    from sat_lib.experiments._chapter import provenance_line

    ds = run(cfg, mode)
    return claims_table(ds, length=universality_length.stored(universality_length.from_chapter(cfg))), \
        provenance_line(ds)


def _stored_length(cfg: Config) -> xr.Dataset | None:
    from sat_lib.experiments import universality_length

    return universality_length.stored(universality_length.from_chapter(cfg))


CHAPTER = register(Chapter(
    name=Config.chapter,
    title="Are robust models universal?",
    part="Robustness and universality",
    config=Config,
    compute=run,
    summary="L2 adversarially trained models of five families at four ε: agreement and JSDSim on regular and "
            "inverted images, CKA / ProcrustesSim / k-NN Jaccard of their representations, on fewer classes and "
            "on out-of-distribution images (Figs. 1–7, Table 4); how training length moves the standard models' "
            "clean and adversarial accuracy, with the attack's convergence (PGD, more steps, APGD-CE).",
    claims=claims,
    version=VERSION,
    sections={"universality-length": _stored_length,
              "universality-length-model": None},   # per-model results, read through universality-length
    retime=Retimer(retime_jobs, retime_job),
    dry_run=dry_jobs,
))
