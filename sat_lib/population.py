"""Train a population: many seeds of one architecture on the same data, as the salience study needs.

Each seed has its own initialisation *and* its own data order, so the population samples the stochasticity of
training (Wang et al.). Two strategies, one result:

- ``loop``: the seeds one after another (fastest on a CPU, where one small model already fills the cores), in
  the precision and memory format measured fastest for the architecture (``sat_lib.precision.choose_layout``);
- ``vmap``: all seeds in one forward/backward — parameters stacked with ``torch.func.stack_module_state`` and the
  model run through ``torch.func.vmap(functional_call)``, so a GPU sees one wide kernel instead of S narrow ones.
  BatchNorm running statistics are stacked buffers and update per seed.

``auto`` picks ``vmap`` on CUDA and ``loop`` elsewhere. The recipe is the official code's: plain SGD (no momentum,
no weight decay), learning rate ``lr · schedule(epoch)`` with ``1/sqrt(epoch + 1)``, batch 128, no augmentation.
"""
from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sat_lib.precision import autocast, choose_layout, resolve_precision
from sat_lib.progress import progress
from sat_lib.registry import Registry

SCHEDULES: Registry[Callable[[int], float]] = Registry("learning-rate schedule")
SCHEDULES.register("inv_sqrt_epoch", lambda epoch: 1.0 / math.sqrt(epoch + 1))  # the official LambdaLR
SCHEDULES.register("constant", lambda epoch: 1.0)

DATA_ORDER_OFFSET = 10_007  # the data-order generator of seed s is seeded with s + this (init uses s)


@dataclass(frozen=True)
class PopulationConfig:
    epochs: int = 200
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.0
    weight_decay: float = 0.0
    schedule: str = "inv_sqrt_epoch"
    strategy: str = "auto"
    precision: str = "auto"

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"PopulationConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"PopulationConfig.lr must be > 0, got {self.lr}")
        SCHEDULES[self.schedule]  # unknown names raise with suggestions
        if self.strategy != "auto":
            STRATEGIES[self.strategy]


@dataclass
class Population:
    """Trained models (eval mode) in seed order, their per-epoch mean training loss (S, epochs), wall seconds."""

    models: list[nn.Module]
    seeds: list[int]
    epoch_loss: np.ndarray
    seconds: float
    strategy: str


def _optimizer(params, cfg: PopulationConfig) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def _check_loss(loss: np.ndarray, epoch: int, desc: str, lr: float) -> None:
    if not np.all(np.isfinite(loss)):
        raise FloatingPointError(f"train_population: loss became non-finite in epoch {epoch + 1} of {desc}; "
                                 f"lower the learning rate (lr={lr:g})")


def _orders(seeds: Sequence[int], n: int, device: torch.device) -> list[torch.Generator]:
    return [torch.Generator(device=device).manual_seed(int(s) + DATA_ORDER_OFFSET) for s in seeds]


def _loop(make, seeds, x, y, cfg, device, desc):
    # one architecture for every seed: measure its fastest precision / memory format once
    layout = choose_layout(make(), (cfg.batch_size, *x.shape[1:]), cfg.precision, device)
    precision = layout.precision
    x = x.contiguous(memory_format=layout.memory_format)
    n = x.shape[0]
    steps = max(1, n // cfg.batch_size)
    models, losses = [], np.zeros((len(seeds), cfg.epochs))
    gens = _orders(seeds, n, device)
    bar = progress(total=len(seeds) * cfg.epochs * steps, desc=desc, unit="step")
    for i, seed in enumerate(seeds):
        torch.manual_seed(int(seed))
        model = make().to(device).to(memory_format=layout.memory_format).train()
        opt = _optimizer(model.parameters(), cfg)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, SCHEDULES[cfg.schedule])
        for epoch in range(cfg.epochs):
            order = torch.randperm(n, device=device, generator=gens[i])
            total = torch.zeros((), device=device)
            for b in range(steps):
                idx = order[b * cfg.batch_size:(b + 1) * cfg.batch_size]
                with autocast(precision, device):
                    loss = F.cross_entropy(model(x[idx]), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += loss.detach()
                bar.update()
            sched.step()
            losses[i, epoch] = float(total) / steps
            _check_loss(losses[i, epoch], epoch, desc, cfg.lr)
        models.append(model.eval())
    bar.close()
    return models, losses


def _vmap(make, seeds, x, y, cfg, device, desc):
    from torch.func import functional_call, stack_module_state, vmap

    precision = resolve_precision(cfg.precision, device)
    n, s = x.shape[0], len(seeds)
    steps = max(1, n // cfg.batch_size)
    members = []
    for seed in seeds:
        torch.manual_seed(int(seed))
        members.append(make().to(device).train())
    params, buffers = stack_module_state(members)
    base = copy.deepcopy(members[0]).to("meta").train()

    def forward(p, b, xb):
        return functional_call(base, (p, b), (xb,))

    batched = vmap(forward, randomness="different")
    opt = _optimizer(list(params.values()), cfg)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, SCHEDULES[cfg.schedule])
    gens = _orders(seeds, n, device)
    losses = np.zeros((s, cfg.epochs))
    bar = progress(total=cfg.epochs * steps, desc=desc, unit="step")
    for epoch in range(cfg.epochs):
        orders = torch.stack([torch.randperm(n, device=device, generator=g) for g in gens])  # (S, n)
        total = torch.zeros(s, device=device)
        for b in range(steps):
            idx = orders[:, b * cfg.batch_size:(b + 1) * cfg.batch_size]            # (S, B)
            with autocast(precision, device):
                out = batched(params, buffers, x[idx])                               # (S, B, classes)
                per_seed = F.cross_entropy(out.flatten(0, 1).float(), y[idx].flatten(),
                                           reduction="none").view(s, -1).mean(1)
            opt.zero_grad(set_to_none=True)
            per_seed.sum().backward()  # seeds share no parameters: each gets its own mean-loss gradient
            opt.step()
            total += per_seed.detach()
            bar.update()
        sched.step()
        losses[:, epoch] = total.cpu().numpy() / steps
        _check_loss(losses[:, epoch], epoch, desc, cfg.lr)
    bar.close()
    for i, m in enumerate(members):
        m.load_state_dict({**{k: v[i].detach() for k, v in params.items()},
                           **{k: v[i] for k, v in buffers.items()}})
        m.eval()
    return members, losses


STRATEGIES: Registry[Callable] = Registry("population training strategy")
STRATEGIES.register("loop", _loop)
STRATEGIES.register("vmap", _vmap)


def resolve_strategy(strategy: str, device: torch.device) -> str:
    if strategy == "auto":
        return "vmap" if device.type == "cuda" else "loop"
    STRATEGIES[strategy]
    return strategy


def train_population(make: Callable[[], nn.Module], seeds: Sequence[int], x: torch.Tensor, y: torch.Tensor,
                     cfg: PopulationConfig, *, device: torch.device | str | None = None,
                     desc: str = "population") -> Population:
    """Train one model per seed on ``x`` (float, already normalised, (N, C, H, W)) and labels ``y``.

    ``make()`` builds a fresh untrained model; it is called after ``torch.manual_seed(seed)``. The data are moved to
    ``device`` once and batches are drawn there.
    """
    device = torch.device(device) if device is not None else x.device
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"train_population: images and labels differ in length: {tuple(x.shape)} vs "
                         f"{tuple(y.shape)}")
    if x.shape[0] < cfg.batch_size:
        raise ValueError(f"train_population: {x.shape[0]} training images are fewer than one batch "
                         f"({cfg.batch_size}); lower batch_size or use more images")
    if not seeds:
        raise ValueError("train_population: no seeds given")
    if not x.is_floating_point():
        raise TypeError(f"train_population: expected float (normalised) images, got {x.dtype}")
    strategy = resolve_strategy(cfg.strategy, device)
    x, y = x.to(device), y.to(device)
    start = time.perf_counter()
    models, losses = STRATEGIES[strategy](make, list(seeds), x, y, cfg, device, desc)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return Population(models, [int(s) for s in seeds], losses, time.perf_counter() - start, strategy)
