"""A dry run (``sat-companion run <chapter> --dry-run``): every model a chapter's full run would build is built,
trained for a few steps and attacked for a few PGD steps on synthetic images of its dataset's shape and classes,
and the timings are scaled to an estimate of the full run on this device. A model that does not build, an objective
that fails or a batch that does not fit shows within minutes, not hours into a run.

Nothing is read from or written to the data, weights, results or calibration stores: the images are random
(``synthetic``), the models untrained, and layouts are not measured (``sat_lib.precision.unmeasured``: a layout
this machine measured before is used, else fp32).

A chapter declares what its full run does as a list of ``DryJob`` (``Chapter.dry_run``): how to build each model,
how to train it for an epoch over some images, and the work the full run does with it (``Work``). Jobs of equal
``key`` (the same architecture trained alike) are timed once and shown as one row.

Each model is warmed up (its first call selects kernels and allocates for its shapes), then every unit is timed
as a *marginal* step (the fastest of ``REPEATS`` calls each): two steps minus one step (a training call over two batches minus one over one batch; a
two-step PGD minus a one-step PGD; a forward pass over two batches minus one), so what a call costs once — an
optimiser built, a model cast to its layout, a schedule set up — is not scaled up to the whole run as if every step
paid it. A full run pays those once per model, which the estimate leaves out. On a GPU the steps run at the
profile's batches; on a CPU at most at ``CPU_BATCH`` images, scaled linearly to the profile's batches (a larger
batch is a little cheaper per image, so the estimate leans high). Other work on the machine while it probes makes
every step slower: the report states the load it found.
"""
from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from sat_lib.attacks import PGDConfig, pgd
from sat_lib.data import DATASETS, ImageData, num_classes
from sat_lib.precision import choose_layout, unmeasured
from sat_lib.provenance import default_device, device_name
from sat_lib.registry import Registry
from sat_lib.train import Adversary, Teacher, TrainConfig, logits, train

CPU_BATCH = 64  # steps on a CPU run at this batch at most, and scale linearly


@dataclass(frozen=True)
class Geometry:
    """What a dataset's images are, known without reading it: side, channels, and split sizes (default options)."""

    image_size: int
    channels: int
    splits: Mapping[str, int]


GEOMETRY: Registry[Geometry] = Registry("dataset geometry")
GEOMETRY.register("cifar10", Geometry(32, 3, {"train": 50_000, "test": 10_000}))
GEOMETRY.register("fashion_mnist", Geometry(28, 1, {"train": 60_000, "test": 10_000}))
GEOMETRY.register("digits", Geometry(8, 1, {"train": 1_437, "test": 360}))  # scikit-learn's 1 797, 20 % test
GEOMETRY.register("imagenet_val", Geometry(224, 3, {"val": 50_000}))


def split_size(dataset: str, split: str) -> int:
    """Images in ``split`` of ``dataset`` (at its default options), without reading it."""
    sizes = GEOMETRY[dataset].splits
    if split not in sizes:
        raise KeyError(f"split_size: {dataset} has no split {split!r} (splits: {', '.join(sizes)})")
    return sizes[split]


def synthetic(dataset: str, n: int, *, classes: int | None = None, seed: int = 0) -> ImageData:
    """``n`` random uint8 images of ``dataset``'s shape, labelled in turn by its classes (or by ``classes``, a
    class subset), with its normalisation statistics where it declares them."""
    g = GEOMETRY[dataset]
    k = classes or num_classes(dataset) or 10
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, g.image_size, g.image_size, g.channels), dtype=np.uint8)
    d = DATASETS[dataset]
    mean = tuple(d.mean) or (0.5,) * g.channels
    std = tuple(d.std) or (0.25,) * g.channels
    return ImageData(images=images, labels=np.arange(n) % k, classes=tuple(str(c) for c in range(k)), mean=mean,
                     std=std, name=dataset, split="train", source="synthetic (dry run)")


@dataclass(frozen=True)
class Work:
    """What a full run does with one job's model(s), in three units each timed once: images through training
    steps (all epochs, all copies), image × steps of input-gradient work (attacks, inversion, attributions) and
    images through forward passes (evaluation)."""

    train_images: float = 0
    gradient_images: float = 0
    forward_images: float = 0

    def __add__(self, other: Work) -> Work:
        return Work(*(getattr(self, f.name) + getattr(other, f.name) for f in dataclasses.fields(Work)))

    def scaled(self, factor: float) -> Work:
        return Work(*(getattr(self, f.name) * factor for f in dataclasses.fields(Work)))


@dataclass(frozen=True)
class DryJob:
    """One model (or a group trained alike) of a chapter's full run.

    ``build(data)``: the model for images like ``data`` (random initialisation); ``train(model, data, batch_size)``:
    one epoch over ``data`` at ``batch_size`` (``train_step``; a population's ``population_step``), ``None`` for a
    model that is never trained;
    ``evaluated(model)``: the network that is attacked and evaluated (default: the model; e.g. one member of a
    jointly trained ensemble). ``models``: how many models the row stands for; ``note``: where its weights come
    from and the like."""

    label: str
    dataset: str
    build: Callable[[ImageData], nn.Module]
    work: Work
    train: Callable[[nn.Module, ImageData, int], Any] | None = None
    batch_size: int = 256
    attack_batch_size: int = 250
    precision: str = "auto"
    classes: int | None = None
    evaluated: Callable[[nn.Module], nn.Module] | None = None
    models: int = 1
    note: str = ""
    key: Hashable = None


def train_step(cfg: TrainConfig, recipe: str, *, teacher: Callable[[ImageData], nn.Module] | None = None,
               teacher_weight: float = 0.5, adversary: PGDConfig | None = None, objective=None) -> Callable:
    """One epoch of ``sat_lib.train.train`` with ``cfg`` and ``recipe`` over the images it is given, at the batch it
    is given (no warm-up of the learning rate): distilled from a ``teacher`` built for the same images, adversarially (``adversary``) or with an
    ``objective``, as ``train`` takes them."""
    built: dict[str, Teacher] = {}

    def step(model: nn.Module, data: ImageData, batch_size: int):
        device = default_device()
        if teacher is not None and "t" not in built:
            t = teacher(data).to(device).eval()
            layout = choose_layout(t, (data.channels, data.image_size, data.image_size), cfg.precision, device)
            built["t"] = Teacher(t, layout, key="dry-run", weight=teacher_weight)
        x = torch.from_numpy(np.ascontiguousarray(data.images)).permute(0, 3, 1, 2).contiguous()
        one = dataclasses.replace(cfg, epochs=1, batch_size=batch_size, warmup=0.0)
        return train(model, x, torch.from_numpy(data.labels), one, recipe=recipe, device=device, desc="dry run",
                     teacher=built.get("t"), adversary=None if adversary is None else Adversary(adversary),
                     objective=objective)

    return step


@dataclass(frozen=True)
class Timing:
    """Seconds of one training step at ``train_batch`` images (None: not trained), one PGD step and one forward
    pass at ``attack_batch`` images (each a marginal step: ``marginal``), and the wall time of the whole probe (build
    and warm-up included)."""

    train_batch: int
    train_seconds: float | None
    attack_batch: int
    attack_seconds: float
    forward_seconds: float
    wall_seconds: float

    def estimate(self, work: Work) -> Work:
        """Seconds of ``work`` at these per-image rates (``Work`` in seconds, not images)."""
        per_train = (self.train_seconds or 0.0) / self.train_batch
        return Work(work.train_images * per_train, work.gradient_images * self.attack_seconds / self.attack_batch,
                    work.forward_images * self.forward_seconds / self.attack_batch)


@dataclass(frozen=True)
class Row:
    job: DryJob
    timing: Timing | None
    error: str = ""

    @property
    def seconds(self) -> Work:
        return self.timing.estimate(self.job.work) if self.timing else Work()


def _batch(size: int, cap: int | None) -> int:
    return max(2, min(size, cap)) if cap else size  # BatchNorm needs two images per batch in training


def _seconds(fn: Callable[[], Any], device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - t0


def marginal(one: float, two: float) -> float:
    """One step's seconds from a call of one step (``one``) and a call of two (``two``): their difference, which
    leaves out what every call costs once. A call's fixed cost is never negative, so a step is at most half the
    two-step call; a difference outside (0, two / 2] is timer noise (other work on the machine) and reads as
    ``two / 2``, the upper bound."""
    step = two - one
    return step if 0 < step <= two / 2 else two / 2


REPEATS = 2  # each call timed this many times, the fastest kept: noise only ever adds time


def _marginal(call: Callable[[int], Any], device: torch.device, warm_up: bool) -> float:
    """``marginal`` of the fastest of ``REPEATS`` calls of one step and of two, after a two-step call where
    ``warm_up`` (kernel selection and allocation for both shapes)."""
    if warm_up:
        call(2)
    one = min(_seconds(lambda: call(1), device) for _ in range(REPEATS))
    two = min(_seconds(lambda: call(2), device) for _ in range(REPEATS))
    return marginal(one, two)


def probe(job: DryJob, device: torch.device | None = None, batch_cap: int | None = CPU_BATCH, *,
          warm_up: bool = True) -> Timing:
    """Build ``job``'s model, time one training step, one PGD step and one forward pass with it (each ``marginal``,
    after a warm-up call where ``warm_up``), at the profile's batches capped at ``batch_cap``. The images of each
    call are cut before it is timed."""
    device = device or default_device()
    t0 = time.perf_counter()
    b, a = _batch(job.batch_size, batch_cap), _batch(job.attack_batch_size, batch_cap)
    torch.manual_seed(0)
    data = synthetic(job.dataset, 2 * max(b, a), classes=job.classes)
    model = job.build(data.subset(range(b))).to(device)
    train_s = None
    if job.train is not None:
        batches = {k: data.subset(range(k * b)) for k in (1, 2)}
        train_s = _marginal(lambda k: job.train(model, batches[k], b), device, warm_up)
    net = (job.evaluated or (lambda m: m))(model).eval()
    x, y = data.subset(range(2 * a)).tensors(device)
    xs = {k: x[:k * a] for k in (1, 2)}
    attack_s = _marginal(lambda k: pgd(net, xs[1], y[:a], PGDConfig(steps=k), batch_size=a, precision=job.precision,
                                       desc="dry run"), device, warm_up)
    forward_s = _marginal(lambda k: logits(net, xs[k], batch_size=a, precision=job.precision), device, warm_up)
    return Timing(b, train_s, a, attack_s, forward_s, time.perf_counter() - t0)


def merged(jobs: list[DryJob]) -> list[DryJob]:
    """Jobs of equal ``key`` (default: the label) as one: their work and models summed, their labels and notes
    joined."""
    groups: dict[Hashable, list[DryJob]] = {}
    for job in jobs:
        groups.setdefault(job.key if job.key is not None else job.label, []).append(job)
    out = []
    for group in groups.values():
        labels = list(dict.fromkeys(j.label for j in group))
        label = labels[0] if len(labels) == 1 else f"{labels[0]} (+{len(labels) - 1} alike)"
        notes = "; ".join(dict.fromkeys(j.note for j in group if j.note))
        work = sum((j.work for j in group[1:]), group[0].work)
        out.append(dataclasses.replace(group[0], label=label, note=notes, work=work,
                                       models=sum(j.models for j in group)))
    return out


def run(jobs: list[DryJob], device: torch.device | None = None, batch_cap: int | None = None) -> list[Row]:
    """Probe every job (equal keys once); a job that fails is a row with its error, and the others go on.
    ``batch_cap``: default ``CPU_BATCH`` on a CPU, none on a GPU."""
    device = device or default_device()
    cap = batch_cap if batch_cap is not None else (None if device.type == "cuda" else CPU_BATCH)
    rows = []
    with unmeasured():
        for job in merged(jobs):
            try:
                rows.append(Row(job, probe(job, device, cap)))
            except Exception as err:  # noqa: BLE001 — every failure is reported, then the run fails
                rows.append(Row(job, None, f"{type(err).__name__}: {err}"))
            finally:
                if device.type == "cuda":
                    torch.cuda.empty_cache()
    return rows


def duration(seconds: float) -> str:
    """``0.12 s``, ``42 s``, ``12 min``, ``3.4 h``, ``2.1 d``."""
    if not math.isfinite(seconds):
        return "?"
    if seconds < 10:
        return f"{seconds:.2g} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} d"


def busy_cores(window: float = 1.0) -> float:
    """How many cores other work keeps busy: the machine's CPU use over ``window`` seconds while this process
    sleeps (a load average would still count work that has just ended)."""
    import psutil

    return psutil.cpu_percent(interval=window) / 100 * (psutil.cpu_count() or 1)


def report(rows: list[Row], device: torch.device | None = None, busy: float | None = None) -> str:
    """The per-model table and the estimated full run, labelled as an estimate on this device; ``busy``: the cores
    other work kept busy before the probes (``busy_cores``), stated from half a core up."""
    device = device or default_device()
    w = min(60, max([5] + [len(r.job.label) for r in rows]))
    head = (f"{'model':<{w}} {'n':>4} {'train step':>15} {'PGD step':>15}  {'est. train':>10} {'est. grad':>10} "
            f"{'est. fwd':>9} {'est. total':>10}  note")
    lines = [head, "-" * len(head)]
    total = Work()
    for r in rows:
        if r.timing is None:
            lines.append(f"{r.job.label[:w]:<{w}} {r.job.models:>4}  FAILED — {r.error}")
            continue
        t, s = r.timing, r.seconds
        total = total + s
        step = "—" if t.train_seconds is None else f"{duration(t.train_seconds)} @{t.train_batch}"
        lines.append(f"{r.job.label[:w]:<{w}} {r.job.models:>4} {step:>15} "
                     f"{duration(t.attack_seconds) + f' @{t.attack_batch}':>15}  {duration(s.train_images):>10} "
                     f"{duration(s.gradient_images):>10} {duration(s.forward_images):>9} "
                     f"{duration(s.train_images + s.gradient_images + s.forward_images):>10}  {r.job.note}")
    all_s = total.train_images + total.gradient_images + total.forward_images
    scaled = ("marginal steps timed at the profile's batches" if device.type == "cuda" else
              f"marginal steps timed at batch <= {CPU_BATCH} and scaled linearly to the profile's batches (larger "
              "batches cost a little less per image: it leans high)")
    lines += ["", f"ESTIMATE of the full run on this device, {device_name(device)}: {duration(all_s)} of model work "
                  f"(training {duration(total.train_images)}, attacks and other gradients "
                  f"{duration(total.gradient_images)}, forward passes {duration(total.forward_images)}); "
                  f"{scaled}. Data loading, corrupted sets, pair measures, scheduling and what each model costs once "
                  "(building, casting, an optimiser) are not counted."]
    if busy is not None and busy >= 0.5:
        lines += ["", f"Other work kept {busy:.1f} of the machine's {os.cpu_count()} cores busy before the probes: "
                      "they shared the cores with it, so the estimate is high."]
    failed = [r for r in rows if r.timing is None]
    if failed:
        lines += ["", f"{len(failed)} of {len(rows)} models FAILED:"] + [f"  {r.job.label}: {r.error}" for r in failed]
    return "\n".join(lines)


__all__ = ["CPU_BATCH", "DryJob", "GEOMETRY", "Geometry", "Row", "Timing", "Work", "busy_cores", "duration", "marginal",
           "merged", "probe", "report", "run", "split_size", "synthetic", "train_step"]
