"""Training length of the universality chapter's standard models (a section of that chapter, stored as its own
result under ``data/results/universality-length/``).

The universality chapter trains on a CPU for far fewer epochs than the paper, and its standard (ε = 0) models keep
far more accuracy under an L2 attack at ε = 0.25 than the paper's (33.5 % at 2 epochs, 35.7 % at 10, against
1.3 %). This section tests the
explanation that the difference comes from training length rather than from a weak attack: each architecture's
standard model trained for each budget of ``epochs`` (its own schedule, warm-up and decay, per budget — not
checkpoints of one run), then

- clean accuracy on the whole test split;
- adversarial accuracy at ``eps`` on ``eval_images`` test images under the chapter's attack (L2 PGD,
  ``eval_steps`` steps of 2.5 ε / steps, no random start, the model's own precision);
- on the first ``strong_images`` of those images, the attack's convergence: PGD with ``strong_steps`` steps and a
  random start, and APGD-CE with ``strong_steps`` steps, both in fp32.

Every (architecture, budget) model is one stored result (``universality-length-model``), so the grid is resumable
model by model across commands and machines; per-image correctness is kept so every accuracy carries an interval
over images.
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

from sat_lib.apgd import APGDConfig, apgd
from sat_lib.attacks import PGDConfig, pgd
from sat_lib.config import project_config
from sat_lib.executor import Executor
from sat_lib.params import ChapterConfig
from sat_lib.progress import note
from sat_lib.provenance import default_device
from sat_lib.train import TrainConfig, logits, predict
from sat_lib.weights import trained_model
from sat_lib.zoo import check_zoo_and_dataset, training_split

VERSION = 1
MODEL_RESULTS = "universality-length-model"
ATTACKS = ("pgd", "pgd_strong", "apgd_ce")  # the chapter's attack; more steps with a random start; APGD-CE


@dataclass(frozen=True)
class Config(ChapterConfig):
    """Defaults are the quick profile; the training recipe is the universality chapter's (``_config.yml``)."""

    chapter: ClassVar[str] = "universality-length"
    dataset: str = "cifar10"
    zoo: str = "cifar-cpu"
    archs: tuple[str, ...] = ("vgg_c32", "resnet10_c32", "densenet_c12", "regnetx_002_s1", "levit_128s_32")
    epochs: tuple[int, ...] = (2, 5, 10, 20)   # budgets, each scaled by the zoo entry's epoch_scale
    batch_size: int = 256
    label_smoothing: float = 0.0
    translate: int = 2
    warmup: float = 0.2
    seed: int = 0
    precision: str = "auto"
    eps: float = 0.25                  # L2 radius of the evaluation (the universality chapter's eval_eps0)
    eval_steps: int = 10
    eval_images: int = 500
    strong_steps: int = 100
    strong_images: int = 200

    def __post_init__(self) -> None:
        for name in ("batch_size", "eval_steps", "eval_images", "strong_steps", "strong_images"):
            if getattr(self, name) < 1:
                raise ValueError(f"parameter {name!r} must be >= 1, got {getattr(self, name)}")
        if not self.epochs or min(self.epochs) < 1 or len(set(self.epochs)) != len(self.epochs):
            raise ValueError(f"parameter 'epochs' must list different budgets >= 1, got {list(self.epochs)}")
        if not self.archs or len(set(self.archs)) != len(self.archs):
            raise ValueError(f"parameter 'archs' must name different architectures, got {list(self.archs)}")
        if not self.eps > 0:
            raise ValueError(f"parameter 'eps' must be an L2 radius > 0, got {self.eps}")
        if self.strong_images > self.eval_images:
            raise ValueError(f"parameter 'strong_images' = {self.strong_images} is more than eval_images = "
                             f"{self.eval_images} (the strong attacks run on the first of those images)")
        check_zoo_and_dataset(self.zoo, self.archs, self.dataset)

    def train(self, epochs: int) -> TrainConfig:
        return TrainConfig(epochs=epochs, batch_size=self.batch_size, label_smoothing=self.label_smoothing,
                           translate=self.translate, warmup=self.warmup, seed=self.seed, precision=self.precision)

    def attack(self, name: str) -> PGDConfig | APGDConfig:
        """The evaluation attacks at ``eps``, by name (``ATTACKS``)."""
        if name == "pgd":
            return PGDConfig(norm="l2", eps=self.eps, step_size=2.5 * self.eps / self.eval_steps,
                             steps=self.eval_steps, random_start=False, seed=self.seed)
        if name == "pgd_strong":
            return PGDConfig(norm="l2", eps=self.eps, step_size=2.5 * self.eps / self.strong_steps,
                             steps=self.strong_steps, random_start=True, seed=self.seed)
        return APGDConfig(norm="l2", eps=self.eps, steps=self.strong_steps, loss="ce", seed=self.seed)


def model_specs(cfg: Config) -> dict[tuple[str, int], dict]:
    """Every model's job spec by (architecture, budget), cheapest budgets first."""
    from sat_lib.models import get_zoo

    zoo = get_zoo(cfg.zoo)
    return {(a, e): {"zoo": cfg.zoo, "name": a, "dataset": cfg.dataset, "budget": e,
                     "train": dataclasses.asdict(cfg.train(e)), "precision": zoo[a].precision_for(cfg.precision),
                     "eval_images": cfg.eval_images, "strong_images": cfg.strong_images,
                     "attacks": {n: dataclasses.asdict(cfg.attack(n)) for n in ATTACKS}}
            for e in sorted(cfg.epochs) for a in cfg.archs}


def eval_indices(n_test: int, n: int, seed: int) -> np.ndarray:
    """The evaluation images: the universality chapter's draw (``n`` of the test split, seeded, sorted)."""
    return np.sort(np.random.default_rng(seed).choice(n_test, size=min(n, n_test), replace=False))


def model_job(spec: dict) -> xr.Dataset:
    """Train (or load) one (architecture, budget) standard model and score it clean and under each attack."""
    from sat_lib.models import get_zoo

    pc = project_config()
    t = trained_model(get_zoo(spec["zoo"])[spec["name"]], training_split(spec["dataset"], 0, spec["train"]["seed"]),
                      TrainConfig(**spec["train"]), device=default_device(), cache_dir=pc.weights_dir)
    test = pc.load_data(spec["dataset"], "test")
    x, y = test.tensors("cpu")
    acc = float((logits(t.model, x, precision=spec["precision"]).argmax(1) == y).float().mean())
    idx = eval_indices(len(test), spec["eval_images"], spec["train"]["seed"])
    correct = np.ones((len(ATTACKS), len(idx)), dtype=bool)  # images a strong attack does not reach stay True
    seconds = {}
    for i, name in enumerate(ATTACKS):
        n = len(idx) if name == "pgd" else spec["strong_images"]
        xs, ys = x[idx[:n]], y[idx[:n]]
        prec = spec["precision"] if name == "pgd" else "fp32"
        start = time.perf_counter()
        if name == "apgd_ce":
            adv = apgd(t.model, xs, ys, APGDConfig(**spec["attacks"][name]), precision=prec, desc=f"apgd {spec['name']}")
        else:
            adv = pgd(t.model, xs, ys, PGDConfig(**spec["attacks"][name]), precision=prec,
                      desc=f"{name} {spec['name']}")
        seconds[name] = time.perf_counter() - start
        correct[i, :n] = (predict(t.model, adv, precision="fp32") == ys).numpy()
    strong = spec["strong_images"]
    note(f"{spec['name']} {len(t.epoch_loss)} epochs: accuracy {acc:.3f}, adversarial (ε={spec['attacks']['pgd']['eps']:g}) "
         + ", ".join(f"{a} {correct[i, :strong].mean():.3f}" for i, a in enumerate(ATTACKS))
         + f" on {strong} images; trained in {t.train_seconds:.0f} s ({t.layout})")
    return xr.Dataset(
        {"correct": (("attack", "image"), correct,
                     {"long_name": "image still classified correctly after the attack (strong attacks: first "
                                   "strong_images images only; the rest True)"})},
        coords={"attack": list(ATTACKS), "image": idx},
        attrs={"accuracy": acc, "arch": spec["name"], "budget": spec["budget"], "epochs": len(t.epoch_loss),
               "train_seconds": t.train_seconds, "layout": t.layout, "from_cache": int(t.from_cache),
               "attack_seconds": json.dumps(seconds), "strong_images": strong,
               "n_params": sum(p.numel() for p in t.model.parameters())})


def stored_model_job(spec: dict) -> xr.Dataset:
    """The per-model stored result for ``spec``, or run the job and store it (resumable model by model)."""
    from sat_lib.results import load_or_compute

    return load_or_compute(MODEL_RESULTS, spec, lambda: model_job(spec), version=VERSION,
                           results_dir=project_config().results_dir, device=default_device())


def compute(cfg: Config) -> xr.Dataset:
    specs = model_specs(cfg)
    keys = list(specs)
    t0 = time.perf_counter()
    with Executor() as ex:
        done = dict(zip(keys, ex.map(stored_model_job, [specs[k] for k in keys], desc="universality-length models",
                                     names=[f"{a}-{e}ep" for a, e in keys])))
        scheduler = ex.last_scheduler
    return assemble(cfg, done, {"executor": scheduler, "wall_seconds": time.perf_counter() - t0})


def assemble(cfg: Config, done: dict[tuple[str, int], xr.Dataset], attrs: dict | None = None) -> xr.Dataset:
    """The section's result from per-model results keyed (architecture, budget); a model not in ``done`` is NaN
    (and its images counted robust), so a partly computed grid can be shown as far as it goes."""
    archs, budgets = list(cfg.archs), sorted(cfg.epochs)
    shape = (len(archs), len(budgets))
    per_model = {v: np.full(shape, np.nan) for v in ("accuracy", "epochs", "train_seconds", "n_params")}
    correct = np.ones((*shape, len(ATTACKS), cfg.eval_images), dtype=bool)
    idx = None
    for (a, e), ds in done.items():
        i, j = archs.index(a), budgets.index(e)
        for v in per_model:
            per_model[v][i, j] = float(ds.attrs[v])
        correct[i, j] = ds["correct"].values
        idx = ds["image"].values
    data_vars = {v: (("model", "budget"), arr) for v, arr in per_model.items()}
    data_vars["correct"] = (("model", "budget", "attack", "image"), correct)
    coords = {"model": archs, "budget": budgets, "attack": list(ATTACKS),
              "image": idx if idx is not None else np.arange(cfg.eval_images)}
    return xr.Dataset(data_vars, coords=coords,
                      attrs={**(attrs or {}), "strong_images": cfg.strong_images, "models_done": len(done),
                             "models_planned": len(archs) * len(budgets), "params_json": json.dumps(cfg.as_dict()),
                             "model_results": json.dumps({f"{a}/{e}": ds.attrs.get("cache_key", "")
                                                          for (a, e), ds in done.items()})})


def available(cfg: Config) -> xr.Dataset | None:
    """The per-model results stored so far, assembled (None when there are none): what a long, resumable run has
    computed, shown before it completes."""
    from sat_lib.results import CacheMiss, load_or_compute

    done = {}
    for key, spec in model_specs(cfg).items():
        try:
            done[key] = load_or_compute(MODEL_RESULTS, spec, lambda: None, mode="cache_only", version=VERSION,
                                        results_dir=project_config().results_dir)
        except CacheMiss:
            pass
    return assemble(cfg, done) if done else None


def from_chapter(chapter) -> Config | None:
    """The section's parameters from the universality chapter's (None: its ``length_epochs`` is empty): that
    chapter's standard models, training recipe and evaluation attack."""
    if not chapter.length_epochs:
        return None
    t = chapter.train
    return Config(dataset=chapter.dataset, zoo=chapter.zoo, archs=chapter.archs, epochs=chapter.length_epochs,
                  batch_size=t.batch_size, label_smoothing=t.label_smoothing, translate=t.translate,
                  warmup=t.warmup, seed=t.seed, precision=t.precision, eps=chapter.eval_eps0,
                  eval_steps=chapter.eval_steps, eval_images=chapter.eval_images,
                  strong_steps=chapter.strong_steps, strong_images=chapter.strong_images)


def stored(cfg: Config | None) -> xr.Dataset | None:
    """The section's stored result, else the models stored so far (``available``), else None (no section, or
    nothing computed yet)."""
    from sat_lib.results import CacheMiss

    if cfg is None:
        return None
    try:
        return run(cfg, "cache_only")
    except CacheMiss:
        return available(cfg)


def shown(cfg: Config | None, mode: str = "auto") -> xr.Dataset | None:
    """What the chapter shows: the section computed (and stored) as far as ``mode`` allows — in ``cache_only``
    whatever is stored (``stored``), otherwise the whole grid (``run``); None without a section."""
    if cfg is None or mode == "cache_only":
        return stored(cfg)
    return run(cfg, mode)


def run(cfg: Config | None = None, mode: str = "auto") -> xr.Dataset:
    """The stored result for these parameters, or compute and store it."""
    from sat_lib.results import load_or_compute

    cfg = cfg or Config()
    return load_or_compute(cfg.chapter, cfg.as_dict(), lambda: compute(cfg), mode=mode, version=VERSION,
                           results_dir=project_config().results_dir, device=default_device())
