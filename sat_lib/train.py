"""A fast, seeded trainer: data resident on the device, augmentation on the device, bf16 autocast and
channels-last on CUDA, one-cycle schedule. The same code runs on the CPU for the quick and smoke profiles.

Training recipes (optimiser and learning rate per model family) are a registry, so a zoo entry names its
recipe and nothing branches on model names.
"""
from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from sat_lib.precision import autocast, memory_format, resolve_precision, to_device_layout
from sat_lib.progress import progress
from sat_lib.registry import Registry


@dataclass(frozen=True)
class TrainConfig:
    """How one model is trained. ``lr`` / ``weight_decay`` of ``None`` take the recipe's values."""

    epochs: int = 10
    batch_size: int = 256
    lr: float | None = None
    weight_decay: float | None = None
    label_smoothing: float = 0.1
    augment: bool = True
    seed: int = 0
    precision: str = "auto"

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"TrainConfig.epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"TrainConfig.batch_size must be >= 1, got {self.batch_size}")


@dataclass(frozen=True)
class Recipe:
    """An optimiser family with its default peak learning rate and weight decay (for batch 256)."""

    make: Callable[..., torch.optim.Optimizer]
    lr: float
    weight_decay: float


RECIPES: Registry[Recipe] = Registry("training recipe")
RECIPES.register("sgd", Recipe(lambda p, lr, wd: torch.optim.SGD(p, lr=lr, momentum=0.9, nesterov=True,
                                                                   weight_decay=wd), lr=0.2, weight_decay=5e-4))
RECIPES.register("adamw", Recipe(lambda p, lr, wd: torch.optim.AdamW(p, lr=lr, weight_decay=wd), lr=2e-3,
                                 weight_decay=0.05))


@dataclass
class TrainLog:
    epoch_loss: list[float]
    seconds: float
    images_per_second: float


def augment_batch(x: torch.Tensor, generator: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Random crop with ``pad`` pixels of reflection padding and random horizontal flip, on x's device."""
    b, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    dy = torch.randint(0, 2 * pad + 1, (b,), device=x.device, generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (b,), device=x.device, generator=generator)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
    batch = torch.arange(b, device=x.device)[:, None, None, None]
    chans = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    out = padded[batch, chans, rows, cols]
    flip = torch.rand(b, device=x.device, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], out.flip(3), out)


def _as_float(x_u8: torch.Tensor) -> torch.Tensor:
    return x_u8.float().div_(255) if x_u8.dtype == torch.uint8 else x_u8


def train(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, cfg: TrainConfig, *,
          recipe: str = "sgd", device: torch.device | str | None = None, desc: str = "train") -> TrainLog:
    """Train ``model`` (which takes inputs in [0, 1]) in place on ``images`` (N, C, H, W; uint8 or float).

    The data is moved to ``device`` once; batches are drawn and augmented there.
    """
    device = torch.device(device) if device is not None else images.device
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"train: images and labels differ in length: {tuple(images.shape)} vs {tuple(labels.shape)}")
    if images.shape[0] < 1:
        raise ValueError("train: no training images")
    rec = RECIPES[recipe]
    lr = (cfg.lr if cfg.lr is not None else rec.lr) * cfg.batch_size / 256
    wd = cfg.weight_decay if cfg.weight_decay is not None else rec.weight_decay
    x_all = images.to(device)
    y_all = labels.to(device)
    model.to(device=device, memory_format=memory_format(device)).train()
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    opt = rec.make([{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}], lr, wd)
    n = x_all.shape[0]
    steps_per_epoch = max(1, n // cfg.batch_size)  # drop the last partial batch: BatchNorm hates batches of 1
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=cfg.epochs * steps_per_epoch,
                                                pct_start=0.25)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    precision = resolve_precision(cfg.precision, device)
    epoch_loss: list[float] = []
    start = time.perf_counter()
    bar = progress(total=cfg.epochs * steps_per_epoch, desc=desc, unit="step")
    for _ in range(cfg.epochs):
        order = torch.randperm(n, device=device, generator=gen)
        total = torch.zeros((), device=device)
        for i in range(steps_per_epoch):
            idx = order[i * cfg.batch_size:(i + 1) * cfg.batch_size]
            xb = _as_float(x_all[idx])
            if cfg.augment:
                xb = augment_batch(xb, gen)
            xb = to_device_layout(xb, device)
            with autocast(precision, device):
                loss = F.cross_entropy(model(xb), y_all[idx], label_smoothing=cfg.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.detach()
            bar.update()
        mean_loss = float(total) / steps_per_epoch
        if not math.isfinite(mean_loss):
            raise FloatingPointError(f"train: loss became {mean_loss} in epoch {len(epoch_loss) + 1} of {desc}; "
                                     f"lower the learning rate (lr={lr:g}, recipe {recipe!r})")
        epoch_loss.append(mean_loss)
    bar.close()
    model.eval()
    seconds = time.perf_counter() - start
    return TrainLog(epoch_loss, seconds, cfg.epochs * steps_per_epoch * cfg.batch_size / max(seconds, 1e-9))


@torch.inference_mode()
def predict(model: nn.Module, images: torch.Tensor, *, batch_size: int = 1024, precision: str = "auto",
            device: torch.device | str | None = None) -> torch.Tensor:
    """Argmax predictions for ``images`` (uint8 or float in [0, 1]); restores the model's mode."""
    return logits(model, images, batch_size=batch_size, precision=precision, device=device).argmax(1)


@torch.inference_mode()
def logits(model: nn.Module, images: torch.Tensor, *, batch_size: int = 1024, precision: str = "auto",
           device: torch.device | str | None = None) -> torch.Tensor:
    """Float32 logits for ``images`` in eval mode, batched; the model's train/eval mode is restored."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        out = []
        for i in range(0, images.shape[0], batch_size):
            xb = to_device_layout(_as_float(images[i:i + batch_size].to(device)), device)
            with autocast(precision, device):
                out.append(model(xb).float())
        return torch.cat(out) if out else torch.empty(0, device=device)
    finally:
        model.train(was_training)


def train_config_from(obj, **overrides) -> TrainConfig:
    """Pick TrainConfig's fields from any dataclass or mapping (a chapter's config), with overrides."""
    src = dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) else dict(obj)
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    kwargs = {k: v for k, v in src.items() if k in names}
    kwargs.update(overrides)
    return TrainConfig(**kwargs)
