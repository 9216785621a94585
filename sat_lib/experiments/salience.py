"""Chapter "Convergence of input salience" (Wang et al., NeurIPS 2024).

The expensive part is a *population*: ``seeds`` models of one width family at each width ``k``, trained on one
dataset with one batch size. Each population is one stored result (``data/results/salience/<key>.nc``), so a run
is resumable population by population and the cross-population analyses run on a CPU from stored results.

A population's result holds, for the fixed salience subset of test images:

- ``fingerprint``: every model's salience (input gradient of the true-class logit, or of the loss), area-
  downsampled to ``fingerprint_size``² like the official code, unit-normalised per sample, float16;
- ``p_ind``: the individual similarity of every model pair, at full resolution and at the fingerprint's;
- ``t``: each model's cosine with the leave-one-out mean direction of the other seeds at its width;
- the one-step sign attacks (official ``black_box_attack.py``): from every model to every model, and from the
  population mean direction of each width to every model, scored by the ratio of true-class probabilities and by
  accuracy;
- deep ensembles of ``m`` members: test loss, accuracy and E[t] of the ensemble's salience (against the mean
  direction of the seeds outside the ensemble);
- every model's test accuracy and loss, its training-loss curve and the population's training time.
"""
from __future__ import annotations

import dataclasses
import itertools
import zlib
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
import xarray as xr

from sat_lib.config import project_config
from sat_lib.experiments._chapter import Chapter, Retimer, register
from sat_lib.measures.gradient import downsample_gradients, input_gradients
from sat_lib.measures.salience import probabilities, sign_attack, unit_directions
from sat_lib.models.widths import WIDTH_FAMILIES
from sat_lib.params import ChapterConfig
from sat_lib.population import STRATEGIES, PopulationConfig, train_population
from sat_lib.progress import progress
from sat_lib.provenance import default_device
from sat_lib.zoo import training_split

VERSION = 3  # 2: ensemble E[t] against the seeds outside it; 3: seeds per (population, width), fp32 scores
# Parameters that choose *which* populations a run covers; the rest define how each population is computed.
_SELECTION = ("populations", "widths", "vit_widths", "batch_population", "batch_sizes", "batch_widths",
              "official_models")


@dataclass(frozen=True)
class Config(ChapterConfig):
    """Defaults are the quick profile; ``_config.yml`` holds smoke / quick / paper."""

    chapter: ClassVar[str] = "salience"
    populations: tuple[str, ...] = ("cifar10:cnn_small", "cifar10:cnn_large", "cifar10:resnet_small",
                                    "cifar10:resnet_large", "cifar10:vit", "fashion_mnist:cnn_small")
    widths: tuple[int, ...] = (4, 8, 16)        # paper: 10, 20, 40, 80, 160
    vit_widths: tuple[int, ...] = (4, 8)         # paper Fig. 21: 10, 20, 40, 80
    seeds: int = 4                               # models per (population, width)
    train_size: int = 0                          # 0: the whole training split
    epochs: int = 4                              # official code: 200 (on the whole training split)
    batch_size: int = 128
    lr: float = 0.1
    n_test: int = 2000                           # test images for accuracy, loss and ensembles (0: all)
    n_salience: int = 256                        # the fixed salience / attack subset (official: 2 × 128)
    salience: str = "logit"                      # logit | loss
    fingerprint_size: int = 8                    # stored fingerprints are area-downsampled to this (official: 8)
    attack_eps: float = 0.05                     # one-step sign attack, in normalised units (official: 0.05)
    ensemble_draws: int = 5                      # random member subsets per ensemble size
    batch_population: str = "cifar10:cnn_small"  # the population of the batch-size study (Fig. 18)
    batch_sizes: tuple[int, ...] = (64, 256)     # further batch sizes for it; () skips the study
    batch_widths: tuple[int, ...] = (4, 8)
    seed: int = 0
    precision: str = "auto"
    strategy: str = "auto"                       # auto | loop | vmap (how seeds are trained together)
    official_models: bool = True                 # the section on the authors' CNNSmall checkpoints (if present)

    def __post_init__(self) -> None:
        for name in ("seeds", "epochs", "batch_size", "n_salience", "ensemble_draws"):
            if getattr(self, name) < 1:
                raise ValueError(f"parameter {name!r} must be >= 1, got {getattr(self, name)}")
        for name in ("train_size", "n_test", "fingerprint_size"):
            if getattr(self, name) < 0:
                raise ValueError(f"parameter {name!r} must be >= 0, got {getattr(self, name)}")
        if not self.populations:
            raise ValueError("parameter 'populations' is empty; give at least one 'dataset:family'")
        for spec in (*self.populations, *((self.batch_population,) if self.batch_sizes else ())):
            parse_population(spec)
        for name in ("widths", "vit_widths", "batch_widths", "batch_sizes"):
            bad = [v for v in getattr(self, name) if v < 1]
            if bad:
                raise ValueError(f"parameter {name!r} must hold positive integers, got {list(getattr(self, name))}")
        if not self.widths:
            raise ValueError("parameter 'widths' is empty")
        if self.salience not in ("logit", "loss"):
            raise ValueError(f"parameter 'salience' must be 'logit' or 'loss', got {self.salience!r}")
        if self.strategy != "auto":
            STRATEGIES[self.strategy]
        if not self.attack_eps > 0:
            raise ValueError(f"parameter 'attack_eps' must be > 0, got {self.attack_eps}")

    @property
    def training(self) -> PopulationConfig:
        return PopulationConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, precision=self.precision,
                                strategy=self.strategy)


def parse_population(spec: str) -> tuple[str, str]:
    """``"cifar10:cnn_small"`` → ``("cifar10", "cnn_small")``; a malformed spec or unknown family raises."""
    from sat_lib.data import DATASETS

    parts = str(spec).split(":")
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"population {spec!r} is not of the form 'dataset:family' (e.g. 'cifar10:cnn_small')")
    dataset, family = parts
    DATASETS[dataset]
    WIDTH_FAMILIES[family]
    return dataset, family


@dataclass(frozen=True)
class Unit:
    """One population: a family on a dataset, trained with one batch size at several widths."""

    dataset: str
    family: str
    widths: tuple[int, ...]
    batch_size: int

    @property
    def name(self) -> str:
        return f"{self.dataset}:{self.family}@{self.batch_size}"


def units(cfg: Config) -> list[Unit]:
    """The populations a run computes: each of ``populations`` at ``batch_size``, then the batch-size study."""
    out = []
    for spec in cfg.populations:
        dataset, family = parse_population(spec)
        widths = cfg.vit_widths if family == "vit" else cfg.widths
        out.append(Unit(dataset, family, tuple(widths), cfg.batch_size))
    if cfg.batch_sizes:
        dataset, family = parse_population(cfg.batch_population)
        for bs in cfg.batch_sizes:
            if bs != cfg.batch_size:
                out.append(Unit(dataset, family, tuple(cfg.batch_widths), bs))
    return out


def unit_params(cfg: Config, unit: Unit) -> dict:
    params = {k: v for k, v in cfg.as_dict().items() if k not in _SELECTION}
    params.update(dataset=unit.dataset, family=unit.family, widths=list(unit.widths), batch_size=unit.batch_size)
    return params


# ---------------------------------------------------------------------------------------------------------------
# Computation of one population


def _normalised(data, device) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = data.tensors(device)
    mean = torch.tensor(data.mean, device=device).view(1, -1, 1, 1)
    std = torch.tensor(data.std, device=device).view(1, -1, 1, 1)
    return (x - mean) / std, y


def _pixel_range(data, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel bounds of a valid image in normalised units: the attack clamps to them."""
    mean = torch.tensor(data.mean, device=device).view(1, -1, 1, 1)
    std = torch.tensor(data.std, device=device).view(1, -1, 1, 1)
    return (0 - mean) / std, (1 - mean) / std


def _loo_t(u: torch.Tensor, width_of: np.ndarray) -> torch.Tensor:
    """Cosine of each model's direction with the mean direction of the *other* seeds at its width: (M, n)."""
    t = torch.full(u.shape[:2], float("nan"), dtype=torch.float64, device=u.device)
    for k in np.unique(width_of):
        idx = np.flatnonzero(width_of == k)
        if len(idx) < 2:
            continue
        total = u[idx].sum(0)
        for i in idx:
            mu = total - u[i]
            t[i] = (u[i] * mu).sum(-1) / mu.norm(dim=-1).clamp_min(1e-300)
    return t


def _attack_scores(models, x_adv, y, p_clean):
    """For one adversarial batch: (ratio of true-class probabilities averaged over samples, accuracy) per model."""
    ratios, accs = [], []
    for m in models:
        p = probabilities(m, x_adv)
        ratios.append(float((p.gather(1, y[:, None])[:, 0] / p_clean[m]).mean()))
        accs.append(float((p.argmax(1) == y).float().mean()))
    return ratios, accs


def population_seeds(seed: int, unit: Unit, k: int, n: int) -> list[int]:
    """``n`` seeds for one (dataset, family, batch size, width): each seed fixes a model's initialisation and data
    order, so two populations must not share seeds — otherwise models of different widths or families would start
    from the same first-layer weights and see the data in the same order, and look alike for that reason."""
    key = f"{unit.dataset}:{unit.family}@{unit.batch_size}:k{k}"
    seq = np.random.SeedSequence(entropy=seed, spawn_key=(zlib.crc32(key.encode()),))
    return [int(v) for v in seq.generate_state(n, dtype=np.uint32) % (2 ** 31 - 1)]


def compute_unit(cfg: Config, unit: Unit) -> xr.Dataset:
    pc = project_config()
    device = default_device()
    train = training_split(unit.dataset, cfg.train_size, cfg.seed)
    test = pc.load_data(unit.dataset, "test")
    for name, n in (("n_test", cfg.n_test), ("n_salience", cfg.n_salience)):
        if n > len(test):
            raise ValueError(f"parameter {name!r}={n} exceeds the {len(test)} test images of {unit.dataset}")
    eval_idx = np.arange(len(test)) if cfg.n_test == 0 else np.sort(
        np.random.default_rng(cfg.seed).choice(len(test), cfg.n_test, replace=False))
    sal_idx = np.sort(np.random.default_rng(cfg.seed + 1).choice(len(test), cfg.n_salience, replace=False))
    x_train, y_train = _normalised(train, device)
    x_eval, y_eval = _normalised(test.subset(eval_idx), device)
    x_sal, y_sal = _normalised(test.subset(sal_idx), device)
    lo, hi = _pixel_range(test, device)
    family = WIDTH_FAMILIES[unit.family]
    training = dataclasses.replace(cfg.training, batch_size=unit.batch_size)

    models, names, width_of, seed_of, init_seeds = [], [], [], [], []
    train_loss, pop_seconds, n_params, strategy = [], [], [], ""
    for k in unit.widths:
        def make(k=k):
            return family.build(k, num_classes=test.num_classes, in_chans=test.channels, img_size=test.image_size)

        seeds = population_seeds(cfg.seed, unit, k, cfg.seeds)
        pop = train_population(make, seeds, x_train, y_train, training, device=device,
                               desc=f"{unit.name} k={k}")
        models += pop.models
        names += [f"k{k}-s{i}" for i in range(cfg.seeds)]
        width_of += [k] * len(seeds)
        seed_of += list(range(cfg.seeds))
        init_seeds += seeds
        train_loss.append(pop.epoch_loss)
        pop_seconds.append(pop.seconds)
        n_params.append(sum(p.numel() for p in pop.models[0].parameters()))
        strategy = pop.strategy
    width_of = np.array(width_of)
    m_count = len(models)

    # Test accuracy and loss; probabilities kept for the ensembles.
    probs_eval = [probabilities(m, x_eval) for m in progress(models, desc="evaluate")]
    acc = np.array([float((p.argmax(1) == y_eval).float().mean()) for p in probs_eval])
    loss = np.array([float(F.nll_loss(p.clamp_min(1e-12).log(), y_eval)) for p in probs_eval])

    # Salience and the attack direction on the fixed subset.
    sal = torch.stack([input_gradients(m, x_sal, y_sal, of=cfg.salience) for m in progress(models, desc="salience")])
    prob_grads = torch.stack([input_gradients(m, x_sal, y_sal, of="prob") for m in models])
    res_small = f"{cfg.fingerprint_size}x{cfg.fingerprint_size}" if cfg.fingerprint_size else "full"
    small = downsample_gradients(sal, cfg.fingerprint_size) if cfg.fingerprint_size else sal
    u_full, u_small = unit_directions(sal), unit_directions(small)
    n = x_sal.shape[0]
    p_ind = torch.stack([torch.einsum("and,bnd->ab", u, u) / n for u in (u_full, u_small)])
    t_loo = torch.stack([_loo_t(u, width_of) for u in (u_full, u_small)])

    # One-step sign attacks: every model as the source, then each width's mean direction (leave-target-out).
    probs_sal = {m: probabilities(m, x_sal) for m in models}
    p_clean = {m: p.gather(1, y_sal[:, None])[:, 0] for m, p in probs_sal.items()}
    acc_sal = np.array([float((probs_sal[m].argmax(1) == y_sal).float().mean()) for m in models])
    alpha = np.full((m_count, m_count), np.nan)
    acc_adv = np.full((m_count, m_count), np.nan)
    for i in progress(range(m_count), desc="attack"):
        x_adv = sign_attack(x_sal, prob_grads[i], cfg.attack_eps, lo, hi)
        alpha[i], acc_adv[i] = _attack_scores(models, x_adv, y_sal, p_clean)
    u_prob = unit_directions(prob_grads).float()
    widths = list(unit.widths)
    alpha_mean = np.full((len(widths), m_count), np.nan)
    acc_adv_mean = np.full((len(widths), m_count), np.nan)
    for a, k in enumerate(widths):
        pool = np.flatnonzero(width_of == k)
        for j in range(m_count):
            members = pool[pool != j]
            if len(members) == 0:
                continue
            direction = u_prob[members].mean(0).view_as(x_sal)
            x_adv = sign_attack(x_sal, direction, cfg.attack_eps, lo, hi)
            (alpha_mean[a, j],), (acc_adv_mean[a, j],) = _attack_scores([models[j]], x_adv, y_sal, p_clean)

    # Deep ensembles of m members (probability averaging); their salience is the members' mean gradient.
    rng = np.random.default_rng(cfg.seed + 2)
    sizes = np.arange(1, cfg.seeds + 1)
    ens_loss = np.full((len(widths), len(sizes), cfg.ensemble_draws), np.nan)
    ens_acc, ens_t = ens_loss.copy(), ens_loss.copy()
    for a, k in enumerate(widths):
        pool = np.flatnonzero(width_of == k)
        for b, size in enumerate(sizes):
            combos = list(itertools.combinations(pool, int(size)))
            pick = rng.permutation(len(combos))[:cfg.ensemble_draws]
            for d, c in enumerate(pick):
                members = list(combos[c])
                p = torch.stack([probs_eval[i] for i in members]).mean(0)
                ens_loss[a, b, d] = float(F.nll_loss(p.clamp_min(1e-12).log(), y_eval))
                ens_acc[a, b, d] = float((p.argmax(1) == y_eval).float().mean())
                rest = [i for i in pool if i not in members]
                if rest:  # the reference mean direction leaves the members out (a model is not compared with itself)
                    mu = u_full[rest].sum(0)
                    mu = mu / mu.norm(dim=-1, keepdim=True).clamp_min(1e-300)
                    g = unit_directions(sal[members].mean(0, keepdim=True))[0]
                    ens_t[a, b, d] = float((g * mu).sum(-1).mean())

    fp = u_small.view(small.shape).to(torch.float16).cpu().numpy()
    c, h, w = fp.shape[2:]
    ds = xr.Dataset(
        data_vars={
            "accuracy": ("model", acc, {"long_name": "test accuracy", "n_images": len(eval_idx)}),
            "loss": ("model", loss, {"long_name": "test cross-entropy"}),
            "salience_accuracy": ("model", acc_sal, {"long_name": "accuracy on the salience subset"}),
            "train_loss": (("model", "epoch"), np.concatenate(train_loss)),
            "fingerprint": (("model", "sample", "channel", "row", "col"), fp,
                            {"long_name": f"unit-normalised {cfg.salience} salience, area-downsampled"}),
            "salience_norm": (("model", "sample"),
                              sal.flatten(2).norm(dim=2).cpu().numpy().astype(np.float32)),
            "p_ind": (("resolution", "model", "model_b"), p_ind.cpu().numpy(),
                      {"long_name": "individual similarity E_x CosSim"}),
            "t": (("resolution", "model", "sample"), t_loo.cpu().numpy(),
                  {"long_name": "cosine with the leave-one-out mean direction of the other seeds at the same width"}),
            "alpha": (("model", "model_b"), alpha,
                      {"long_name": "mean p_true(adv)/p_true(clean) of target model_b, attack from model"}),
            "adv_accuracy": (("model", "model_b"), acc_adv),
            "alpha_mean": (("source_width", "model_b"), alpha_mean,
                           {"long_name": "as alpha, attack along the population mean direction at source_width"}),
            "adv_accuracy_mean": (("source_width", "model_b"), acc_adv_mean),
            "ensemble_loss": (("width", "members", "draw"), ens_loss),
            "ensemble_accuracy": (("width", "members", "draw"), ens_acc),
            "ensemble_t": (("width", "members", "draw"), ens_t,
                           {"long_name": "E_x cosine of the ensemble's salience with the mean direction of the "
                                         "width's other seeds (NaN when the ensemble holds every seed)"}),
            "train_seconds": ("width", np.array(pop_seconds), {"long_name": "wall time to train the population"}),
            "n_params": ("width", np.array(n_params)),
        },
        coords={
            "model": names, "model_b": names, "k": ("model", width_of), "seed": ("model", np.array(seed_of)),
            "init_seed": ("model", np.array(init_seeds, dtype=np.int64)),
            "k_b": ("model_b", width_of), "sample": sal_idx, "channel": np.arange(c), "row": np.arange(h),
            "col": np.arange(w), "epoch": np.arange(1, cfg.epochs + 1), "resolution": ["full", res_small],
            "source_width": widths, "width": widths, "members": sizes, "draw": np.arange(cfg.ensemble_draws),
        },
        attrs={"dataset": unit.dataset, "family": unit.family, "family_label": family.label,
               "family_short": family.short, "batch_size": unit.batch_size, "salience": cfg.salience,
               "strategy": strategy, "dataset_source": test.source, "unit": unit.name,
               "dimension_full": int(u_full.shape[-1]), "dimension_small": int(u_small.shape[-1])},
    )
    return ds


# ---------------------------------------------------------------------------------------------------------------


def stored_unit(cfg: Config, unit: Unit, mode: str = "auto") -> xr.Dataset:
    """One population's stored result, or compute and store it (resumable population by population)."""
    from sat_lib.results import load_or_compute

    return load_or_compute(cfg.chapter, unit_params(cfg, unit), lambda: compute_unit(cfg, unit), mode=mode,
                           version=VERSION, results_dir=project_config().results_dir, device=default_device())


def retime_jobs(cfg: Config) -> dict[str, tuple[Config, Unit]]:
    """Every population of this run by name, as ``sat_lib.retime`` redoes them (``stored_unit``)."""
    return {unit.name: (cfg, unit) for unit in units(cfg)}


def retime_job(job: tuple[Config, Unit]) -> xr.Dataset:
    return stored_unit(*job)


def unit_job(spec: tuple[Config, Unit, str]) -> xr.Dataset:
    """One population as an executor job: computed and stored where it runs (on a cluster the results folder,
    like the weights cache, is shared storage), so its provenance names the worker's device and time."""
    cfg, unit, mode = spec
    return stored_unit(cfg, unit, mode)


def run(cfg: Config, mode: str = "auto") -> dict[str, xr.Dataset]:
    """Every population of this run, by ``Unit.name``: the stored ones read, the others computed and stored as
    independent jobs of ``sat_lib.executor`` (serially on a small CPU, across a Dask cluster when configured)."""
    from sat_lib.executor import Executor
    from sat_lib.results import result_path, try_load

    main = {u.name for u in units(cfg.replace(batch_sizes=()))}
    all_units = units(cfg)
    out: dict[str, xr.Dataset] = {}
    if mode != "recompute":
        for unit in all_units:
            path = result_path(cfg.chapter, unit_params(cfg, unit), version=VERSION,
                               results_dir=project_config().results_dir)
            ds = try_load(path)
            if ds is not None:
                out[unit.name] = ds
    todo = [u for u in all_units if u.name not in out]
    if todo and mode == "cache_only":
        stored_unit(cfg, todo[0], mode)  # raises CacheMiss naming the missing population
    if todo:
        done = Executor().map(unit_job, [(cfg, u, mode) for u in todo], desc="salience populations",
                              names=[u.name for u in todo])
        out.update({u.name: ds for u, ds in zip(todo, done)})
    result = {}
    for unit in all_units:  # the order of ``units``, whatever order they were computed in
        ds = out[unit.name]
        ds.attrs["role"] = "main" if unit.name in main else "batch-study"  # in memory only: depends on the run
        result[unit.name] = ds
    return result


def claims(cfg: Config, mode: str = "cache_only"):
    """The claims table of the stored populations (and of the authors' checkpoints where configured), and where
    they were computed (for the status page)."""
    import pandas as pd

    from sat_lib.analysis import salience_official as official
    from sat_lib.analysis.salience import claims_table
    from sat_lib.experiments._chapter import provenance_line

    pops = run(cfg, mode)
    tables = [claims_table(pops)]
    ods = official_result(cfg, mode)
    if ods is not None:
        tables.append(official.claims_table(ods))
    return pd.concat(tables), provenance_line(next(iter(pops.values())))


def official_result(cfg: Config, mode: str = "cache_only") -> xr.Dataset | None:
    """The section on the authors' checkpoints (``salience_official``) for this configuration: stored, or computed
    and stored outside ``cache_only``; None when the profile leaves it out or no checkpoints are there."""
    from sat_lib.experiments import salience_official

    if not cfg.official_models:
        return None
    return salience_official.run(salience_official.Config(n_salience=cfg.n_salience, salience_seed=cfg.seed), mode=mode)


def dry_jobs(cfg: Config) -> list:
    """For ``--dry-run``: each population's seeds trained together at each width (``train_population``), then
    every model's evaluation, salience and sign attacks. The official checkpoints' section reads outside files and
    is not timed."""
    from sat_lib.dryrun import DryJob, Work, split_size

    jobs = []
    for unit in units(cfg):
        family, widths = WIDTH_FAMILIES[unit.family], len(unit.widths)
        n_train = min(cfg.train_size or 10 ** 9, split_size(unit.dataset, "train"))
        n_test = cfg.n_test or split_size(unit.dataset, "test")
        model = Work(gradient_images=2 * cfg.n_salience,
                     forward_images=n_test + (widths * cfg.seeds + widths + 1) * cfg.n_salience)
        train = Work(train_images=max(1, n_train // unit.batch_size) * unit.batch_size * cfg.epochs)
        training = dataclasses.replace(cfg.training, batch_size=unit.batch_size)
        for k in unit.widths:
            def build(data, k=k):
                return family.build(k, num_classes=data.num_classes, in_chans=data.channels, img_size=data.image_size)

            jobs.append(DryJob(label=f"{unit.name} k={k}", dataset=unit.dataset, build=build,
                               work=train + model.scaled(cfg.seeds), batch_size=unit.batch_size,
                               train=population_step(build, population_seeds(cfg.seed, unit, k, cfg.seeds), training),
                               attack_batch_size=cfg.n_salience, precision=cfg.precision, models=cfg.seeds))
    return jobs


def population_step(build, seeds: list[int], training: PopulationConfig):
    """One epoch of training a whole population (``train_population``: every seed, as a run trains them) over the
    images it is given at the batch it is given, for ``--dry-run``."""
    def step(model, data, batch_size):
        x, y = _normalised(data, default_device())
        one = dataclasses.replace(training, epochs=1, batch_size=batch_size)
        return train_population(lambda: build(data), seeds, x, y, one, device=default_device(), desc="dry run")

    return step


CHAPTER = register(Chapter(
    name=Config.chapter,
    title="Convergence of input salience",
    part="Convergence of input salience",
    config=Config,
    compute=run,
    summary="Populations of width families: salience similarity vs capacity, mean directions, attacks, ensembles.",
    claims=claims,
    version=VERSION,
    sections={"salience-official": lambda cfg: official_result(cfg, "cache_only")},
    retime=Retimer(retime_jobs, retime_job, then="sat-companion run {chapter}  (the populations are the chapter's "
                                                 "result: --recompute would train them again)"),
    dry_run=dry_jobs,
))
