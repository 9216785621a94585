"""What the SAT chapters do to a zoo: train (or load) each model, attack it, evaluate every model on every
model's adversarial examples.

Each job is a module-level function of a small dict (a *job spec*, ``job_spec``), so the executor can run it in
this process or on any Dask worker. Jobs write what they make to the cache (weights, adversarial examples) and
return small arrays; a spec's contents key those cache files, so a model shared between chapters is trained and
attacked once.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sat_lib.apgd import APGDConfig, apgd
from sat_lib.attacks import NORMS, PGDConfig, pgd
from sat_lib.config import project_config
from sat_lib.executor import Executor
from sat_lib.measures import sat_matrix
from sat_lib.params import ChapterConfig
from sat_lib.patch_fool import PatchFoolConfig, patch_fool, uniform_start
from sat_lib.progress import note
from sat_lib.provenance import default_device
from sat_lib.registry import Registry
from sat_lib.train import TrainConfig, logits, predict
from sat_lib.weights import save_tensor, trained_model
from sat_lib.zoo.images import check_zoo_and_dataset, image_sample, training_split


@dataclass(frozen=True)
class ZooAttack(ChapterConfig):
    """What every SAT chapter shares: how the zoo's models are trained and how they are attacked. Defaults are
    the quick profile; ``_config.yml`` holds smoke / quick / paper."""

    dataset: str = "cifar10"
    zoo: str = "cifar-cpu"
    train_size: int = 0                   # 0: the whole training split
    epochs: int = 3                       # scaled per model by the zoo entry's epoch_scale
    batch_size: int = 256
    label_smoothing: float = 0.2
    translate: int = 2                    # augmentation: flip + shifts of up to this many pixels
    warmup: float = 0.2                   # fraction of steps of linear warm-up before linear decay
    n_images: int = 2000                  # the attacked test images (paper: 5 000)
    norm: str = "linf"
    eps: float = 8 / 255
    step_size: float = 2 / 255
    steps: int = 50                       # as the paper
    eps_s: float = 0.01                   # Eq. 1's floor, in percent: log(0.01) = -4.6
    seed: int = 0
    precision: str = "auto"
    attack_batch_size: int = 250

    def __post_init__(self) -> None:
        for name in ("n_images", "epochs", "batch_size", "attack_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"parameter {name!r} must be >= 1, got {getattr(self, name)}")
        if self.train_size < 0:
            raise ValueError(f"parameter 'train_size' must be >= 0 (0 = all), got {self.train_size}")
        PGDConfig(norm=self.norm, eps=self.eps, step_size=self.step_size, steps=self.steps)
        check_zoo_and_dataset(self.zoo, getattr(self, "models", ()), self.dataset)

    @property
    def train(self) -> TrainConfig:
        return TrainConfig(epochs=self.epochs, batch_size=self.batch_size, label_smoothing=self.label_smoothing,
                           translate=self.translate, warmup=self.warmup, seed=self.seed, precision=self.precision)

    @property
    def attack(self) -> PGDConfig:
        return PGDConfig(norm=self.norm, eps=self.eps, step_size=self.step_size, steps=self.steps, seed=self.seed)

    def shared(self) -> dict:
        """The values of the fields every SAT chapter shares (to build another chapter's matching config)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(ZooAttack)}



def attack_sample(cfg: ZooAttack, n_test: int) -> np.ndarray:
    """The ``n_images`` test indices every SAT chapter attacks (``image_sample`` with the chapter's seed), so
    models shared between chapters reuse their stored adversarial examples."""
    return image_sample(n_test, cfg.n_images, cfg.seed)


def as_tensors(data, device) -> tuple[torch.Tensor, torch.Tensor]:
    """A split's images (uint8, NCHW) and labels (int64) as tensors on ``device``."""
    x = torch.from_numpy(np.ascontiguousarray(data.images)).permute(0, 3, 1, 2).to(device)
    return x, torch.from_numpy(np.asarray(data.labels, dtype=np.int64)).to(device)


# ------------------------------------------------------------------------------------------ per-model jobs

def job_spec(cfg: ZooAttack, name: str, *, train: TrainConfig | None = None, recipe: str = "", label: str = "",
          **extra) -> dict:
    """A job's description. ``train`` / ``recipe`` replace the chapter's training configuration and the entry's
    optimiser recipe (training-procedure variants: ``sat_lib.variants``); ``label`` names the model in progress
    notes and results (default: the zoo entry's name). An entry's own ``precision`` replaces the chapter's for
    its attack and evaluation, as it does for its training (``trained_model``)."""
    from sat_lib.models import get_zoo

    precision = get_zoo(cfg.zoo)[name].precision_for(cfg.precision)
    return {"zoo": cfg.zoo, "name": name, "label": label or name, "recipe": recipe, "dataset": cfg.dataset,
            "train_size": cfg.train_size, "seed": cfg.seed, "train": dataclasses.asdict(train or cfg.train),
            "attack": dataclasses.asdict(cfg.attack), "precision": precision,
            "attack_batch_size": cfg.attack_batch_size, **extra}


def variant_spec(cfg: ZooAttack, v) -> dict:
    """The job spec of a training-procedure variant (``sat_lib.variants.Variant``): its architecture trained with
    its own configuration and optimiser recipe, named by its label."""
    return job_spec(cfg, v.arch, train=v.train, recipe=v.recipe, label=v.label)


def zoo_specs(cfg: ZooAttack) -> list[dict]:
    """The job spec of every model of the configured zoo (``models``, default: all its entries); unknown names
    raise with suggestions."""
    from sat_lib.models import get_zoo

    zoo = get_zoo(cfg.zoo)
    return [job_spec(cfg, n) for n in (list(cfg.models) or list(zoo.names()))]


def train_or_load(spec: dict):
    """The spec's model (``sat_lib.weights.TrainedModel``): from the weights cache or the published weights of its
    zoo (``sat_lib.weight_store``), or trained and stored; a variant's ``recipe`` replaces the entry's optimiser
    recipe."""
    from sat_lib.models import get_zoo

    pc = project_config()
    entry = get_zoo(spec["zoo"])[spec["name"]]
    if spec.get("recipe") and spec["recipe"] != entry.recipe:  # a variant trained with the other optimiser
        entry = dataclasses.replace(entry, recipe=spec["recipe"])
    train = training_split(spec["dataset"], spec["train_size"], spec["seed"])
    return trained_model(entry, train, TrainConfig(**spec["train"]), device=default_device(),
                         cache_dir=pc.weights_dir, store=pc.store_for(spec["zoo"]))


def _adv_path(weights: Path | None, spec: dict, sample: np.ndarray) -> Path | None:
    if weights is None:
        return None
    parts = ["source-correct", weights.name, spec["attack"], spec["precision"],
             hashlib.sha256(sample.tobytes()).hexdigest()]
    if spec.get("attack_kind", "pgd") != "pgd":  # PGD's keys stay those of the results computed before kinds
        parts.append(spec["attack_kind"])
    key = hashlib.sha256(json.dumps(parts, sort_keys=True).encode())
    return project_config().cache_dir / "adversarial" / spec["dataset"] / f"{spec['name']}-{key.hexdigest()[:16]}.pt"


def attacked_jobs(cfg: ZooAttack, specs: list[dict]) -> dict[str, dict]:
    """Model jobs on the chapter's attacked images (``attack_sample``), by label: what ``sat_lib.retime`` redoes."""
    sample = attack_sample(cfg, len(project_config().load_data(cfg.dataset, "test")))
    return {s["label"]: {**s, "sample": sample} for s in specs}


def model_job(spec: dict) -> dict:
    """Train (or load) one model, score it on the whole test split, and attack it on ``spec['sample']``.

    The adversarial examples go to the cache; the job returns their path and small per-model arrays."""
    device = default_device()
    t = train_or_load(spec)
    test = project_config().load_data(spec["dataset"], "test")
    x_test, y_test = as_tensors(test, device)
    test_logits = logits(t.model, x_test, precision=spec["precision"])
    sample = np.asarray(spec["sample"], dtype=np.int64)
    path = _adv_path(t.path, spec, sample)
    if path is not None and path.exists():  # attacked before: its examples and how long the attack took
        attack_seconds = float(torch.load(path, weights_only=True)["seconds"])
    else:
        t0 = time.perf_counter()
        adv = attack_correct(t.model, x_test, y_test, test_logits, sample, spec)
        if device.type == "cuda":
            torch.cuda.synchronize()
        attack_seconds = time.perf_counter() - t0
        acc = float((test_logits.argmax(1) == y_test).float().mean())
        note(f"{spec.get('label', spec['name'])}: test accuracy {acc:.3f}, {len(t.epoch_loss)} epochs in "
             f"{t.train_seconds:.0f} s ({t.layout}{', cached' if t.from_cache else ''}), "
             f"{spec.get('attack_kind', 'pgd')} {attack_seconds:.0f} s")
        if path is None:  # no cache: hand the examples back
            return _job_result(t, test_logits, attack_seconds, None, adv.cpu())
        save_tensor({"adv": adv.cpu(), "seconds": attack_seconds}, path)
    return _job_result(t, test_logits, attack_seconds, path, None)


def attack_correct(model, x_test, y_test, test_logits, sample: np.ndarray, spec: dict) -> torch.Tensor:
    """Adversarial examples for ``sample`` by the spec's attack (``SOURCE_ATTACKS[spec["attack_kind"]]``, PGD by
    default), crafted only where the source model classifies the clean image correctly.

    SAT (Eq. 1) counts an example only when both models classify its clean image correctly, so an attack on an
    image the source gets wrong is never used; those positions hold the clean image (float, in [0, 1]). The
    random start is drawn for the whole sample and then subset, so each attacked image gets the same start as
    in an attack on every image."""
    device = x_test.device
    attack = SOURCE_ATTACKS[spec.get("attack_kind", "pgd")]
    cfg = attack.config(**spec["attack"])
    idx = torch.from_numpy(sample).to(device)
    x = x_test[idx].float().div(255) if x_test.dtype == torch.uint8 else x_test[idx].float()
    y = y_test[idx]
    keep = (test_logits[idx].argmax(1) == y).nonzero().flatten()
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    start = attack.start(x, cfg, gen) if cfg.random_start else torch.zeros_like(x)
    out = x.clone()
    if len(keep):
        out[keep] = attack.run(model, x[keep], y[keep], cfg, batch_size=spec["attack_batch_size"],
                               precision=spec["precision"], delta_init=start[keep],
                               desc=f"{spec.get('attack_kind', 'pgd')} {spec.get('label', spec['name'])}")
    return out


def norm_start(x: torch.Tensor, cfg, gen: torch.Generator) -> torch.Tensor:
    """A norm-bounded attack's random start: uniform in the L∞ ball, or PGDL2's draw (``sat_lib.attacks.NORMS``)."""
    return NORMS[cfg.norm].start(x, cfg.eps, gen)


@dataclass(frozen=True)
class SourceAttack:
    """How a SAT chapter attacks a source model: its configuration class, the attack itself (called as
    ``sat_lib.attacks.pgd``: model, images, labels, config, batch size, precision, random start, progress name)
    and its random start (images, config, generator → offsets), drawn for the whole sample."""

    config: type
    run: Callable[..., torch.Tensor]
    start: Callable[..., torch.Tensor] = norm_start


def autoattack_lite(model, x, y, cfg, *, batch_size, precision, delta_init, desc):
    """AutoAttack's first two attacks: APGD-CE, then APGD-T (targeted DLR) on the images APGD-CE left correct,
    from the same random start (``sat_lib.apgd``). AutoAttack's FAB-T and Square follow only for images both
    leave correct; on the models of this book those are rare (the chapter reports how rare)."""
    ce = dataclasses.replace(cfg, loss="ce")
    out = apgd(model, x, y, ce, batch_size=batch_size, precision=precision, delta_init=delta_init, desc=f"{desc} ce")
    left = (predict(model, out, batch_size=batch_size, precision=precision) == y).nonzero().flatten()
    if len(left):
        t = dataclasses.replace(cfg, loss="dlr-targeted")
        out[left] = apgd(model, x[left], y[left], t, batch_size=batch_size, precision=precision,
                         delta_init=delta_init[left], desc=f"{desc} t")
    return out


SOURCE_ATTACKS: Registry[SourceAttack] = Registry("source attack")
SOURCE_ATTACKS.register("pgd", SourceAttack(PGDConfig, pgd))
SOURCE_ATTACKS.register("autoattack", SourceAttack(APGDConfig, autoattack_lite))
SOURCE_ATTACKS.register("patch-fool", SourceAttack(PatchFoolConfig, patch_fool, uniform_start))


def _job_result(t, test_logits, attack_seconds, path, adv) -> dict:
    return {"name": t.name, "epoch_loss": t.epoch_loss, "train_seconds": t.train_seconds, "from_cache": t.from_cache,
            "layout": t.layout, "test_logits": test_logits.cpu().numpy().astype(np.float32),
            "attack_seconds": attack_seconds, "adv_path": str(path) if path else "", "adv": adv,
            "n_params": sum(p.numel() for p in t.model.parameters()), "weights": str(t.path) if t.path else ""}


def load_adversarial(results: list[dict]) -> torch.Tensor:
    """The adversarial examples of model jobs' ``results``, concatenated: in memory, or read from the cache."""
    return torch.cat([r["adv"] if r["adv"] is not None else torch.load(r["adv_path"], weights_only=True)["adv"]
                      for r in results])


def eval_job(spec: dict) -> np.ndarray:
    """Target model ``spec['name']`` on every source's adversarial examples: predictions (n_sources, n_images)."""
    t = train_or_load(spec)
    if spec.get("weights") and str(t.path) != spec["weights"]:
        raise RuntimeError(f"{spec['name']}: evaluation resolved weights {t.path}, but the attacked model is "
                           f"{spec['weights']} (the layout calibration changed between the jobs); rerun the "
                           "chapter, which reuses every stored model and attack")
    stacked = spec["advs"] if "advs" in spec else load_adversarial(spec["sources"])
    preds = predict(t.model, stacked, batch_size=spec["attack_batch_size"], precision=spec["precision"])
    return preds.view(spec["n_sources"], -1).cpu().numpy()


def attack_and_evaluate(cfg: ZooAttack, models: list[dict], sample: np.ndarray, desc: str):
    """Model jobs for ``models`` (``job_spec`` dicts) on ``sample``, then one evaluation job per target; returns
    (results, fooled, scheduler, evaluation seconds)."""
    from sat_lib.models import get_zoo

    labels = [m["label"] for m in models]
    with Executor() as ex:  # one cluster for both maps
        zoo = get_zoo(cfg.zoo)
        # the longest jobs first (entries that train for more epochs), so no worker idles at the end
        order = sorted(range(len(models)), key=lambda i: -zoo[models[i]["name"]].epoch_scale)
        done = ex.map(model_job, [{**models[i], "sample": sample} for i in order], desc=f"train+attack {desc}",
                      names=[labels[i] for i in order])
        results = [None] * len(models)
        for i, r in zip(order, done):
            results[i] = r
        t0 = time.perf_counter()
        preds = cross_evaluate(ex, models, results, results, f"evaluate {desc}")  # (target, source, image)
        eval_seconds = time.perf_counter() - t0
        y = project_config().load_data(cfg.dataset, "test").labels[sample]
        fooled = torch.from_numpy((preds != y).transpose(1, 0, 2))  # (source, target, image)
    return results, fooled, ex.last_scheduler, eval_seconds


def cross_evaluate(ex: Executor, targets: list[dict], target_results: list[dict], sources: list[dict],
                   desc: str) -> np.ndarray:
    """One evaluation job per target (a ``job_spec`` dict, with its model job's result for the weights check) on
    every source's adversarial examples (model job results): predictions (n_targets, n_sources, n_images).
    The examples travel in memory when there is no cache, else as their cache paths."""
    inline = any(r["adv"] is not None for r in sources)
    src = {"advs": load_adversarial(sources)} if inline else {"sources": [{**r, "test_logits": None} for r in sources]}
    specs = [{**t, "n_sources": len(sources), "weights": r["weights"], **src}
             for t, r in zip(targets, target_results)]
    return np.stack(ex.map(eval_job, specs, desc=desc, names=[t["label"] for t in targets]))



def sat_with_new(zoo_fooled: np.ndarray, zoo_correct: np.ndarray, zoo_on_new: np.ndarray, new_on_zoo: np.ndarray,
                 new_correct: np.ndarray, y: np.ndarray, eps_s: float):
    """SAT of new models against a zoo, from the zoo's own ``fooled`` (source, target, image) and ``correct``
    (model, image) arrays and the two cross-evaluations on the same images: ``zoo_on_new`` — every zoo model's
    predictions on every new model's adversarial examples (zoo, new, image); ``new_on_zoo`` — every new model's
    on every zoo model's (new, zoo, image); ``new_correct`` (new, image); ``y`` the labels. Returns one-sided SAT
    (appendix G: the new model attacked, the zoo not), two-sided SAT (Eq. 1) and |X_AB|, each (new, zoo); pairs of
    two new models are never formed."""
    z, k, n = zoo_fooled.shape[0], len(new_correct), len(y)
    fooled = np.zeros((z + k, z + k, n), dtype=bool)
    fooled[:z, :z] = zoo_fooled
    fooled[z:, :z] = (zoo_on_new != y).transpose(1, 0, 2)      # source new, target zoo
    fooled[:z, z:] = (new_on_zoo != y).transpose(1, 0, 2)      # source zoo, target new
    f, c = torch.from_numpy(fooled), torch.from_numpy(np.concatenate([zoo_correct, new_correct]))
    one, _, _ = sat_matrix(f, c, eps_s=eps_s, one_sided=True)
    two, n_both, _ = sat_matrix(f, c, eps_s=eps_s)
    return one[z:, :z].numpy(), two[z:, :z].numpy(), n_both[z:, :z].numpy()
