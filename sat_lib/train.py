"""A fast, seeded trainer for the hardware at hand: data resident on the device, augmentation (flip +
translate) on tensors, the fastest measured layout per model (bf16 autocast and/or channels-last where they
help: ``sat_lib.precision.choose_layout``), and a warm-up / linear-decay schedule. The same code runs on a
2-core CPU and on a GPU.

Training recipes (optimiser, peak learning rate and weight decay per model family) are a registry, so a zoo
entry names its recipe and nothing branches on model names. The recipe a chapter uses is in ``_config.yml``.
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
from timm.utils import ModelEmaV3

from sat_lib.attacks import PGDConfig, pgd
from sat_lib.precision import Layout, autocast, choose_layout, to_device_layout
from sat_lib.progress import progress
from sat_lib.registry import Registry


@dataclass(frozen=True)
class TrainConfig:
    """How one model is trained. ``lr`` / ``weight_decay`` of ``None`` take the recipe's values.

    ``translate``: random shifts of up to this many pixels (reflection padding) with ``augment``; ``warmup``: the
    fraction of steps over which the learning rate rises linearly from 0 to its peak before it falls linearly to
    0 at the last step. ``precision``: ``auto`` (measure per model), ``fp32`` or ``bf16``."""

    epochs: int = 10
    batch_size: int = 256
    lr: float | None = None
    weight_decay: float | None = None
    label_smoothing: float = 0.2
    augment: bool = True
    translate: int = 2
    warmup: float = 0.2
    seed: int = 0
    precision: str = "auto"

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"TrainConfig.epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"TrainConfig.batch_size must be >= 1, got {self.batch_size}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"TrainConfig.label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if not 0 <= self.warmup < 1:
            raise ValueError(f"TrainConfig.warmup must be a fraction of the steps in [0, 1), got {self.warmup}")
        if self.translate < 0:
            raise ValueError(f"TrainConfig.translate must be >= 0 pixels, got {self.translate}")


@dataclass(frozen=True)
class Recipe:
    """An optimiser family with its default peak learning rate and weight decay (for batch 256).

    ``optimizer`` says in words what ``make`` builds; it is part of the weights key with ``lr`` and
    ``weight_decay``, so change it whenever ``make`` changes."""

    make: Callable[..., torch.optim.Optimizer]
    lr: float
    weight_decay: float
    optimizer: str


RECIPES: Registry[Recipe] = Registry("training recipe")
RECIPES.register("sgd", Recipe(lambda p, lr, wd: torch.optim.SGD(p, lr=lr, momentum=0.9, nesterov=True,
                                                                   weight_decay=wd), lr=0.8, weight_decay=5e-4,
                                optimizer="SGD, Nesterov momentum 0.9"))
RECIPES.register("adamw", Recipe(lambda p, lr, wd: torch.optim.AdamW(p, lr=lr, weight_decay=wd), lr=2e-3,
                                 weight_decay=0.05, optimizer="AdamW, betas (0.9, 0.999)"))


@dataclass(frozen=True)
class Teacher:
    """A trained model whose hard labels are a second target (knowledge distillation, DeiT's *hard* variant
    without a distillation token): the loss is ``(1 − weight) · CE(student, label) + weight · CE(student,
    argmax teacher)``, the teacher labelling each augmented batch the student sees (as DeiT's teacher does).

    ``layout`` is the precision / memory format the teacher runs in (its own fastest: ``eval_layout``);
    ``key`` names the teacher's weights and joins the student's weights key."""

    model: nn.Module
    layout: Layout
    key: str
    weight: float = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.weight <= 1:
            raise ValueError(f"Teacher.weight must be in (0, 1], got {self.weight}")

    def weights_spec(self) -> dict:
        """What the student's weights key holds of its teacher."""
        return {"key": self.key, "weight": self.weight}

    @torch.no_grad()
    def labels(self, xb: torch.Tensor, device: torch.device) -> torch.Tensor:
        """The teacher's argmax on a float batch in [0, 1] (plain tensors: they are targets of a backward)."""
        with autocast(self.layout.precision, device):
            return self.model(to_device_layout(xb, device, self.layout)).argmax(1)


@dataclass(frozen=True)
class Adversary:
    """Adversarial training (Madry et al.): each augmented batch is replaced by PGD examples crafted against the
    model being trained (``sat_lib.attacks.pgd``, the same attack the chapters evaluate with; e.g. L2, 3 steps of
    2ε/3 as Salman et al.). The examples are crafted in eval mode (BatchNorm's running statistics, as TRADES does;
    the robustness library crafts in train mode), and each step draws its own random start
    (``attack.seed`` + step). ``attack`` joins the model's weights key."""

    attack: PGDConfig

    def __post_init__(self) -> None:
        if self.attack.eps <= 0:
            raise ValueError(f"Adversary: eps must be > 0 (eps 0 is standard training: pass no adversary), "
                             f"got {self.attack.eps}")

    def weights_spec(self) -> dict:
        """What the model's weights key holds of its adversary."""
        return dataclasses.asdict(self.attack)

    def perturb(self, model: nn.Module, xb: torch.Tensor, yb: torch.Tensor, step: int, precision: str) -> torch.Tensor:
        cfg = dataclasses.replace(self.attack, seed=self.attack.seed + step)
        return pgd(model, xb, yb, cfg, batch_size=xb.shape[0], precision=precision, desc="adversarial examples")


@dataclass
class TrainLog:
    epoch_loss: list[float]
    seconds: float
    images_per_second: float
    layout: str = "fp32"


def warmup_linear_decay(total_steps: int, warmup: float) -> Callable[[int], float]:
    """LR multiplier: linear 0 → 1 over the first ``warmup`` fraction of steps, then linear to 0 at the end."""
    total = max(1, total_steps)
    peak = max(1, round(warmup * total))

    def factor(step: int) -> float:
        if step < peak:
            return (step + 1) / peak
        return max(0.0, (total - step) / max(1, total - peak))

    return factor


def augment_batch(x: torch.Tensor, generator: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Random translation by up to ``pad`` pixels (reflection padding) and random horizontal flip, on x's device."""
    b, _, h, w = x.shape
    if pad > 0:
        padded = F.pad(x, (pad, pad, pad, pad), mode="reflect")
        dy = torch.randint(0, 2 * pad + 1, (b,), device=x.device, generator=generator)
        dx = torch.randint(0, 2 * pad + 1, (b,), device=x.device, generator=generator)
        rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
        cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
        batch = torch.arange(b, device=x.device)[:, None, None, None]
        chans = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
        x = padded[batch, chans, rows, cols]
    flip = torch.rand(b, device=x.device, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def _as_float(x_u8: torch.Tensor) -> torch.Tensor:
    return x_u8.float().div_(255) if x_u8.dtype == torch.uint8 else x_u8


def train(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, cfg: TrainConfig, *,
          recipe: str = "sgd", device: torch.device | str | None = None, desc: str = "train",
          layout: Layout | None = None, teacher: Teacher | None = None,
          adversary: Adversary | None = None, objective: Callable[..., torch.Tensor] | None = None,
          ema: float | None = None) -> TrainLog:
    """Train ``model`` (which takes inputs in [0, 1]) in place on ``images`` (N, C, H, W; uint8 or float).

    The data is moved to ``device`` once; batches are drawn and augmented there. ``layout`` (precision and
    memory format) is measured for this model when not given (``choose_layout``). ``teacher``: distil from it
    (``Teacher``: its hard labels on each augmented batch are a second target). ``adversary``: train on its
    PGD examples of each augmented batch instead (``Adversary``). ``objective``: the loss
    ``objective(model, batch, labels, label_smoothing)`` instead of cross-entropy, computed under the layout's
    autocast (e.g. ``sat_lib.ensemble_training.EnsembleObjective`` for members trained jointly); ``layout`` is
    then best given (measured on one member). ``ema``: keep an exponential moving average of the weights and
    buffers with this decay (``timm.utils.ModelEmaV3`` with its warm-up, so a short run does not average in its
    first steps) and end with the average's weights.
    """
    device = torch.device(device) if device is not None else images.device
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"train: images and labels differ in length: {tuple(images.shape)} vs {tuple(labels.shape)}")
    if images.shape[0] < 1:
        raise ValueError("train: no training images")
    if ema is not None and not 0 < ema < 1:
        raise ValueError(f"train: ema is the moving average's decay per step, in (0, 1); got {ema}")
    if objective is not None and (teacher is not None or adversary is not None):
        raise ValueError("train: an objective replaces the cross-entropy; it cannot be combined with a teacher or "
                         "an adversary")
    rec = RECIPES[recipe]
    lr = (cfg.lr if cfg.lr is not None else rec.lr) * cfg.batch_size / 256
    wd = cfg.weight_decay if cfg.weight_decay is not None else rec.weight_decay
    x_all = images.to(device)
    y_all = labels.to(device)
    n = x_all.shape[0]
    bs = min(cfg.batch_size, n)
    model.to(device)
    if layout is None:
        layout = choose_layout(model, (bs, *x_all.shape[1:]), cfg.precision, device)
    model.to(memory_format=layout.memory_format).train()
    if teacher is not None:
        teacher.model.to(device).eval()
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    opt = rec.make([{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}], lr, wd)
    steps_per_epoch = max(1, n // bs)  # drop the last partial batch: BatchNorm hates batches of 1
    sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_linear_decay(cfg.epochs * steps_per_epoch, cfg.warmup))
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    average = ModelEmaV3(model, decay=ema, use_warmup=True) if ema is not None else None
    epoch_loss: list[float] = []
    start = time.perf_counter()
    bar = progress(total=cfg.epochs * steps_per_epoch, desc=desc, unit="step")
    step = 0
    for _ in range(cfg.epochs):
        order = torch.randperm(n, device=device, generator=gen)
        total = torch.zeros((), device=device)
        for i in range(steps_per_epoch):
            idx = order[i * bs:(i + 1) * bs]
            xb = _as_float(x_all[idx])
            if cfg.augment:
                xb = augment_batch(xb, gen, pad=cfg.translate)
            if adversary is not None:
                xb = adversary.perturb(model, xb, y_all[idx], step, layout.precision)
            taught = teacher.labels(xb, device) if teacher is not None else None
            xb = to_device_layout(xb, device, layout)
            if objective is not None:
                with autocast(layout.precision, device):
                    loss = objective(model, xb, y_all[idx], cfg.label_smoothing)
            else:
                with autocast(layout.precision, device):
                    out = model(xb).float()
                loss = F.cross_entropy(out, y_all[idx], label_smoothing=cfg.label_smoothing)
            if taught is not None:
                loss = (1 - teacher.weight) * loss + teacher.weight * F.cross_entropy(out, taught)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.detach()
            step += 1
            if average is not None:
                average.update(model, step=step)
            bar.update()
        mean_loss = float(total) / steps_per_epoch
        if not math.isfinite(mean_loss):
            raise FloatingPointError(f"train: loss became {mean_loss} in epoch {len(epoch_loss) + 1} of {desc}; "
                                     f"lower the learning rate (lr={lr:g}, recipe {recipe!r})")
        epoch_loss.append(mean_loss)
    bar.close()
    if average is not None:
        model.load_state_dict(average.module.state_dict())
    model.eval()
    seconds = time.perf_counter() - start
    return TrainLog(epoch_loss, seconds, cfg.epochs * steps_per_epoch * bs / max(seconds, 1e-9), str(layout))


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
        layout = None
        for i in range(0, images.shape[0], batch_size):
            xb = _as_float(images[i:i + batch_size].to(device))
            if layout is None:
                layout = eval_layout(model, xb, precision, device)
            xb = to_device_layout(xb, device, layout)
            with autocast(layout.precision, device):
                out.append(model(xb).float())
        return torch.cat(out) if out else torch.empty(0, device=device)
    finally:
        model.train(was_training)


def eval_layout(model: nn.Module, xb: torch.Tensor, precision: str, device: torch.device) -> Layout:
    """The layout to evaluate or attack ``model`` in: the one its training measured for this batch shape, so
    evaluation and attacks run in the fastest measured precision too. The model keeps its memory format.

    The conversion runs outside inference mode: ``logits`` and ``predict`` call this under
    ``torch.inference_mode``, where converted parameters would become inference tensors that no later training
    step or attack could differentiate."""
    layout = choose_layout(model, tuple(xb.shape), precision, device)
    with torch.inference_mode(False):
        model.to(memory_format=layout.memory_format)
    return layout


def train_config_from(obj, **overrides) -> TrainConfig:
    """Pick TrainConfig's fields from any dataclass or mapping (a chapter's config), with overrides."""
    src = dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) else dict(obj)
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    kwargs = {k: v for k, v in src.items() if k in names}
    kwargs.update(overrides)
    return TrainConfig(**kwargs)
