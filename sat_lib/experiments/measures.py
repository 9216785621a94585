"""Appendix "Measures": the registry as a table, and its declared invariances checked on real activations of
two trained models (computed, not typed)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import xarray as xr

from sat_lib.activations import penultimate
from sat_lib.config import project_config
from sat_lib.experiments._chapter import Chapter, cached, register
from sat_lib.measures import MEASURES, input_gradients, gradient_cosine
from sat_lib.params import ChapterConfig
from sat_lib.provenance import default_device
from sat_lib.train import TrainConfig
from sat_lib.weights import trained_model
from sat_lib.zoo import check_zoo_and_dataset, training_split

VERSION = 1
TRANSFORMS = ("none", "orthogonal", "isotropic_scaling", "translation", "permutation")
PAIR_KINDS = {"activations", "logits", "correctness"}


@dataclass(frozen=True)
class Config(ChapterConfig):
    chapter: ClassVar[str] = "measures"
    dataset: str = "cifar10"
    zoo: str = "cifar-quick"
    models: tuple[str, ...] = ()        # two names; empty: the zoo's first two
    train_size: int = 5000
    epochs: int = 3
    batch_size: int = 256
    n_images: int = 1000
    seed: int = 0
    precision: str = "auto"

    def __post_init__(self) -> None:
        if self.n_images < 12:
            raise ValueError(f"parameter 'n_images' must be >= 12 (k-NN Jaccard uses k = 10), got {self.n_images}")
        if self.models and len(self.models) != 2:
            raise ValueError(f"parameter 'models' names two models, got {list(self.models)}")
        check_zoo_and_dataset(self.zoo, self.models, self.dataset)


def transform(b: torch.Tensor, name: str, gen: torch.Generator) -> torch.Tensor:
    """Apply one transformation of the invariance vocabulary to activations ``b`` (n, d)."""
    d = b.shape[1]
    if name == "orthogonal":
        q, _ = torch.linalg.qr(torch.randn(d, d, generator=gen, dtype=torch.float64))
        return (b.double() @ q).float()
    if name == "isotropic_scaling":
        return b * 3.7
    if name == "translation":
        return b + torch.randn(1, d, generator=gen) * 5
    if name == "permutation":
        return b[:, torch.randperm(d, generator=gen)]
    return b


def compute(cfg: Config) -> xr.Dataset:
    from sat_lib.models import get_zoo

    pc = project_config()
    device = default_device()
    zoo = get_zoo(cfg.zoo)
    names = list(cfg.models) or list(zoo.names())[:2]
    train = training_split(cfg.dataset, cfg.train_size, cfg.seed)
    test = pc.load_data(cfg.dataset, "test").sample(cfg.n_images, seed=cfg.seed)
    tcfg = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, seed=cfg.seed, precision=cfg.precision)
    models = [trained_model(zoo[n], train, tcfg, device=device, cache_dir=pc.weights_dir).model for n in names]
    x, y = test.tensors(device=device)
    (fa, la), (fb, lb) = (penultimate(m, x, precision=cfg.precision) for m in models)
    fa, fb, la, lb = (t.cpu() for t in (fa, fb, la, lb))
    ca, cb = la.argmax(1) == y.cpu(), lb.argmax(1) == y.cpu()

    gen = torch.Generator().manual_seed(cfg.seed)
    rep = [n for n, r in MEASURES.items() if r.inputs == "activations"]
    values = np.full((len(rep), len(TRANSFORMS) + 1), np.nan)
    for i, name in enumerate(rep):
        fn = MEASURES[name].fn
        for j, t in enumerate(TRANSFORMS):
            values[i, j] = float(fn(fa, transform(fb, t, gen)))
        values[i, -1] = float(fn(fa, fa))
    declared = np.array([[t == "none" or t in MEASURES[n].invariances for t in TRANSFORMS] + [True] for n in rep])

    func = [n for n, r in MEASURES.items() if r.inputs in {"logits", "correctness"}]
    fvals = [float(MEASURES[n].fn(la, lb) if MEASURES[n].inputs == "logits" else MEASURES[n].fn(ca, cb))
             for n in func]
    grads = [input_gradients(m, x[:256], target=y[:256]) for m in models]
    gcos = gradient_cosine(grads[0], grads[1])
    gcos8 = gradient_cosine(grads[0], grads[1], downsample=8)
    return xr.Dataset(
        {
            "representational": (("measure", "transform"), values,
                                 {"long_name": "measure(A, T(B)); the last column is measure(A, A)"}),
            "declared_invariant": (("measure", "transform"), declared),
            "functional": ("functional_measure", np.array(fvals)),
            "gradient_cosine": ("resolution", np.array([float(gcos), float(gcos8)])),
            "accuracy": ("model", np.array([float(ca.float().mean()), float(cb.float().mean())])),
            "feature_dim": ("model", np.array([fa.shape[1], fb.shape[1]])),
        },
        coords={"measure": rep, "transform": [*TRANSFORMS, "self"], "functional_measure": func,
                "resolution": ["full", "8x8"], "model": names},
        attrs={"dataset_source": test.source},
    )


def run(cfg: Config, mode: str = "auto") -> xr.Dataset:
    """Stored result for these parameters, or compute and store it."""
    return cached(cfg, compute, version=VERSION, mode=mode)


def dry_jobs(cfg: Config) -> list:
    """For ``--dry-run``: the two models trained, their activations on ``n_images`` and input gradients on 256."""
    from sat_lib.dryrun import Work
    from sat_lib.models import get_zoo
    from sat_lib.zoo.dry import entry_job, training_images

    zoo = get_zoo(cfg.zoo)
    train = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, seed=cfg.seed, precision=cfg.precision)
    return [entry_job(zoo[n], cfg.dataset, train, Work(training_images(zoo[n], cfg.dataset, train, cfg.train_size),
                                                       min(256, cfg.n_images), cfg.n_images))
            for n in list(cfg.models) or list(zoo.names())[:2]]


CHAPTER = register(Chapter(
    name=Config.chapter,
    title="Measures",
    part="Appendix",
    config=Config,
    compute=run,
    summary="Every measure of the four papers, and its declared invariances checked on real activations.",
    version=VERSION,
    dry_run=dry_jobs,
))
