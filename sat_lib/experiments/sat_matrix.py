"""Chapter "SAT similarity of a model zoo" (Hwang et al.): train a zoo, attack every model once, evaluate every
model once on all adversarial examples, and score every pair with Eq. 1.

N attacks and N evaluation passes (each over all N models' adversarial examples) — not N² attacks.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import xarray as xr

from sat_lib.attacks import PGDConfig, pgd
from sat_lib.config import project_config
from sat_lib.experiments._chapter import Chapter, cached, register, training_split
from sat_lib.measures import sat_matrix
from sat_lib.params import ChapterConfig
from sat_lib.progress import progress
from sat_lib.provenance import default_device
from sat_lib.train import TrainConfig, predict
from sat_lib.weights import trained_model

VERSION = 1


@dataclass(frozen=True)
class Config(ChapterConfig):
    """Defaults are the quick profile; ``_config.yml`` holds smoke / quick / paper."""

    chapter: ClassVar[str] = "sat-matrix"
    dataset: str = "cifar10"
    zoo: str = "cifar-quick"
    models: tuple[str, ...] = ()          # empty: the whole zoo
    train_size: int = 5000                # 0: the whole training split
    epochs: int = 3
    batch_size: int = 256
    n_images: int = 500                   # the attacked test images (paper: 5 000)
    norm: str = "linf"
    eps: float = 8 / 255
    step_size: float = 2 / 255
    steps: int = 10                       # paper: 50
    eps_s: float = 0.01                   # Eq. 1's floor, in percent: log(0.01) = -4.6
    one_sided: bool = False               # appendix G's approximation
    stability_pool: int = 1000            # test images the stability pair is attacked on
    stability_sizes: tuple[int, ...] = (100, 250, 500)
    stability_repeats: int = 10
    seed: int = 0
    precision: str = "auto"
    attack_batch_size: int = 1000

    def __post_init__(self) -> None:
        for name in ("n_images", "epochs", "batch_size", "stability_repeats", "attack_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"parameter {name!r} must be >= 1, got {getattr(self, name)}")
        if self.train_size < 0:
            raise ValueError(f"parameter 'train_size' must be >= 0 (0 = all), got {self.train_size}")
        PGDConfig(norm=self.norm, eps=self.eps, step_size=self.step_size, steps=self.steps)

    @property
    def train(self) -> TrainConfig:
        return TrainConfig(epochs=self.epochs, batch_size=self.batch_size, seed=self.seed, precision=self.precision)

    @property
    def attack(self) -> PGDConfig:
        return PGDConfig(norm=self.norm, eps=self.eps, step_size=self.step_size, steps=self.steps, seed=self.seed)


def _as_tensor(data, device):
    x = torch.from_numpy(np.ascontiguousarray(data.images)).permute(0, 3, 1, 2).to(device)
    return x, torch.from_numpy(np.asarray(data.labels, dtype=np.int64)).to(device)


def _fooled(models, advs, labels, cfg) -> torch.Tensor:
    """fooled[s, t, i]: model t misclassifies image i's adversarial example crafted on model s.

    One evaluation pass per target model over every source's adversarial examples."""
    stacked = torch.cat(advs)
    out = []
    for m in progress(models, desc="evaluate"):
        preds = predict(m, stacked, batch_size=cfg.attack_batch_size, precision=cfg.precision)
        out.append(preds.view(len(advs), -1) != labels)
    return torch.stack(out, dim=1)


def _attack_all(models, names, x, y, cfg):
    advs, seconds = [], []
    for name, m in zip(names, models):
        t0 = time.perf_counter()
        advs.append(pgd(m, x, y, cfg.attack, batch_size=cfg.attack_batch_size, precision=cfg.precision,
                        desc=f"pgd {name}"))
        if x.device.type == "cuda":
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - t0)
    return advs, seconds


def stability_scores(fooled: torch.Tensor, correct: torch.Tensor, sizes, repeats: int, seed: int,
                     eps_s: float) -> np.ndarray:
    """Two-sided transfer rate (percent, no log — as the paper's Table 1) of a model pair on random image
    subsets: array (len(sizes), repeats); sizes larger than the pool give NaN."""
    rng = np.random.default_rng(seed)
    n = correct.shape[1]
    out = np.full((len(sizes), repeats), np.nan)
    for i, size in enumerate(sizes):
        if size > n:
            continue
        for r in range(repeats):
            idx = torch.from_numpy(rng.choice(n, size=size, replace=False)).to(correct.device)
            _, _, rate = sat_matrix(fooled[:, :, idx], correct[:, idx], eps_s=eps_s)
            out[i, r] = float(rate[0, 1])
    return out


def compute(cfg: Config) -> xr.Dataset:
    from sat_lib.models import get_zoo

    pc = project_config()
    device = default_device()
    zoo = get_zoo(cfg.zoo)
    names = list(cfg.models) or list(zoo.names())
    entries = [zoo[n] for n in names]  # unknown names → KeyError with suggestions
    if len(entries) < 2:
        raise ValueError(f"sat-matrix needs at least 2 models, got {names}")

    train = training_split(cfg.dataset, cfg.train_size, cfg.seed)
    test = pc.load_data(cfg.dataset, "test")
    if cfg.n_images > len(test):
        raise ValueError(f"n_images={cfg.n_images} exceeds the {len(test)} test images of {cfg.dataset}")

    trained = [trained_model(e, train, cfg.train, device=device, cache_dir=pc.weights_dir) for e in entries]
    models = [t.model for t in trained]

    x_test, y_test = _as_tensor(test, device)
    test_preds = torch.stack([predict(m, x_test, precision=cfg.precision) for m in models])
    test_correct = test_preds == y_test

    rng = np.random.default_rng(cfg.seed)
    sample = np.sort(rng.choice(len(test), size=cfg.n_images, replace=False))
    idx = torch.from_numpy(sample).to(device)
    x, y = x_test[idx], y_test[idx]
    correct = test_correct[:, idx]
    advs, attack_seconds = _attack_all(models, names, x, y, cfg)
    fooled = _fooled(models, advs, y, cfg)
    sat, n_both, rate = sat_matrix(fooled, correct, eps_s=cfg.eps_s, one_sided=cfg.one_sided)

    sizes = list(cfg.stability_sizes)
    stab = np.full((len(sizes), cfg.stability_repeats), np.nan)
    pair = tuple(zoo.stability_pair or ())
    pair_ok = len(pair) == 2 and all(p in names for p in pair) and cfg.stability_pool >= 2
    if pair_ok:
        pool = np.sort(rng.choice(len(test), size=min(cfg.stability_pool, len(test)), replace=False))
        pidx = torch.from_numpy(pool).to(device)
        pm = [models[names.index(p)] for p in pair]
        padv, _ = _attack_all(pm, list(pair), x_test[pidx], y_test[pidx], cfg)
        pf = _fooled(pm, padv, y_test[pidx], cfg)
        pc_correct = torch.stack([test_correct[names.index(p)][pidx] for p in pair])
        stab = stability_scores(pf, pc_correct, sizes, cfg.stability_repeats, cfg.seed, cfg.eps_s)

    max_epochs = max(len(t.epoch_loss) for t in trained)
    loss = np.full((len(names), max_epochs), np.nan)
    for i, t in enumerate(trained):
        loss[i, :len(t.epoch_loss)] = t.epoch_loss
    cards = {f"card_{k}": ("model", [str(e.card.get(k, "")) for e in entries]) for k in entries[0].card}
    ds = xr.Dataset(
        data_vars={
            "accuracy": ("model", test_correct.float().mean(1).cpu().numpy(),
                         {"long_name": "clean test accuracy (whole test split)"}),
            "correct": (("model", "sample"), correct.cpu().numpy()),
            "fooled": (("model", "model_b", "sample"), fooled.cpu().numpy(),
                       {"long_name": "target model_b misclassifies the adversarial example crafted on model"}),
            "sat": (("model", "model_b"), sat.cpu().numpy(), {"long_name": "SAT similarity, Eq. 1 (log percent)"}),
            "transfer_rate": (("model", "model_b"), rate.cpu().numpy(),
                              {"long_name": "two-sided transfer rate on X_AB", "units": "percent"}),
            "n_both": (("model", "model_b"), n_both.cpu().numpy(), {"long_name": "|X_AB|"}),
            "train_loss": (("model", "epoch"), loss),
            "train_seconds": ("model", np.array([t.train_seconds for t in trained])),
            "weights_from_cache": ("model", np.array([t.from_cache for t in trained])),
            "attack_seconds": ("model", np.array(attack_seconds)),
            "n_params": ("model", np.array([sum(p.numel() for p in m.parameters()) for m in models])),
            "stability_rate": (("size", "repeat"), stab,
                               {"long_name": f"two-sided transfer rate of {pair} on random subsets",
                                "units": "percent"}),
        },
        coords={
            "model": names, "model_b": names, "sample": sample, "epoch": np.arange(1, max_epochs + 1),
            "size": sizes, "repeat": np.arange(cfg.stability_repeats),
            "family": ("model", [e.family for e in entries]), **cards,
        },
        attrs={"stability_pair": ",".join(pair) if pair_ok else "", "dataset_source": test.source},
    )
    return ds


def run(cfg: Config, mode: str = "auto") -> xr.Dataset:
    """Stored result for these parameters, or compute and store it."""
    return cached(cfg, compute, version=VERSION, mode=mode)


CHAPTER = register(Chapter(
    name=Config.chapter,
    title="SAT similarity of a model zoo",
    part="Similarity by attack transferability",
    notebook="notebooks/sat_matrix.ipynb",
    config=Config,
    compute=run,
    summary="Train a zoo, attack each model with PGD, score every pair by two-sided transfer (Eq. 1).",
))
