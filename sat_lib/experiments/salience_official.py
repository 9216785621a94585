"""The salience paper's authors' own CNNSmall models, measured with this project's pipeline (a section of the
salience chapter, stored as its own result under ``data/results/salience-official/``).

For the eleven official checkpoints (``sat_lib.models.official``), on our CIFAR-10 copy:

- accuracy and loss on the whole test split;
- on a seeded class-balanced subset of ``n_images`` test images (the official script takes the first 2 × 128
  test images; our copy is stored class by class, so its first images are all one class): every model's
  true-class logit gradient, and the per-image cosine of every pair at full resolution and area-downsampled to
  ``fingerprint_size``² (the official ``saliency_similarity.py``);
- the one-step sign attack of the official ``black_box_attack.py`` from every model to every model: per image,
  the target's true-class probability after the attack over before (α);
- on the salience chapter's own subset of test images (``salience_seed``, ``n_salience`` as in that chapter),
  every model's downsampled gradient in *pixel* units (divided by the normalisation's std), so that it can be
  compared with our populations' stored fingerprints at equal width.

Per-image values are stored, so every summary can carry an interval over images.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
import xarray as xr
from sklearn.model_selection import train_test_split

from sat_lib.config import project_config
from sat_lib.measures.gradient import downsample_gradients, input_gradients
from sat_lib.measures.salience import probabilities, sign_attack, unit_directions
from sat_lib.models.official import OFFICIAL_MEAN, OFFICIAL_STD, load_official_cnn_small, official_checkpoints
from sat_lib.params import ChapterConfig
from sat_lib.progress import progress
from sat_lib.provenance import default_device

VERSION = 1
MODELS = "salience_official"  # the `models:` entry of _config.yml (SAT_MODELS_SALIENCE_OFFICIAL)


@dataclass(frozen=True)
class Config(ChapterConfig):
    chapter: ClassVar[str] = "salience-official"
    n_images: int = 256            # the official 2 × 128, drawn class-balanced
    fingerprint_size: int = 8      # official: 8
    attack_eps: float = 0.05       # official one-step attack, in normalised units
    n_salience: int = 256          # the salience chapter's subset, for ours-vs-theirs
    salience_seed: int = 0         # the salience chapter's seed (its subset is drawn with seed + 1)
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("n_images", "fingerprint_size", "n_salience"):
            if getattr(self, name) < 1:
                raise ValueError(f"parameter {name!r} must be >= 1, got {getattr(self, name)}")
        if not self.attack_eps > 0:
            raise ValueError(f"parameter 'attack_eps' must be > 0, got {self.attack_eps}")


def _pair_cosines(u: torch.Tensor) -> np.ndarray:
    """(M, n, D) unit rows → (M, M, n) per-image cosines."""
    return torch.einsum("and,bnd->abn", u, u).cpu().numpy()


def compute(cfg: Config) -> xr.Dataset:
    pc = project_config()
    folder = pc.models_dir(MODELS)
    paths = official_checkpoints(folder)
    if not paths:
        raise FileNotFoundError(f"{folder} holds no CNNSmall_K<k> checkpoints")
    device = default_device()
    test = pc.load_data("cifar10", "test")
    x_pix, y = test.tensors(device)
    mean = torch.tensor(OFFICIAL_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(OFFICIAL_STD, device=device).view(1, 3, 1, 1)
    x = (x_pix - mean) / std
    lo, hi = (0 - mean) / std, (1 - mean) / std
    widths = list(paths)
    models = [load_official_cnn_small(paths[k], k, num_classes=test.num_classes).to(device) for k in widths]

    probs = [probabilities(m, x) for m in progress(models, desc="official: evaluate")]
    acc = np.array([float((p.argmax(1) == y).float().mean()) for p in probs])
    loss = np.array([float(F.nll_loss(p.clamp_min(1e-12).log(), y)) for p in probs])

    labels = np.asarray(test.labels)
    idx, _ = train_test_split(np.arange(len(test)), train_size=cfg.n_images, stratify=labels,
                              random_state=cfg.seed)
    idx = np.sort(idx)
    xs, ys = x[idx], y[idx]
    sal = torch.stack([input_gradients(m, xs, ys, of="logit") for m in progress(models, desc="official: salience")])
    small = downsample_gradients(sal, cfg.fingerprint_size)
    cos = np.stack([_pair_cosines(unit_directions(sal)), _pair_cosines(unit_directions(small))])

    # the official one-step attack along each source's true-class probability gradient
    prob_grads = [input_gradients(m, xs, ys, of="prob") for m in models]
    p_clean = [p[idx].gather(1, ys[:, None])[:, 0] for p in probs]
    alpha = np.full((len(models), len(models), len(idx)), np.nan)
    for i in progress(range(len(models)), desc="official: attack"):
        x_adv = sign_attack(xs, prob_grads[i], cfg.attack_eps, lo, hi)
        for j, m in enumerate(models):
            p = probabilities(m, x_adv).gather(1, ys[:, None])[:, 0]
            alpha[i, j] = (p / p_clean[j]).cpu().numpy()

    # the salience chapter's subset, in pixel units, for ours-vs-theirs
    sal_idx = np.sort(np.random.default_rng(cfg.salience_seed + 1).choice(len(test), cfg.n_salience, replace=False))
    g = torch.stack([input_gradients(m, x[sal_idx], y[sal_idx], of="logit") for m in models]) / std
    size = cfg.fingerprint_size
    fp = unit_directions(downsample_gradients(g, size)).view(len(models), len(sal_idx), 3, size, size)
    res = f"{cfg.fingerprint_size}x{cfg.fingerprint_size}"
    return xr.Dataset(
        data_vars={
            "accuracy": ("k", acc, {"long_name": "test accuracy (whole test split)"}),
            "loss": ("k", loss, {"long_name": "test cross-entropy"}),
            "cosine": (("resolution", "k", "k_b", "image"), cos.astype(np.float32),
                       {"long_name": "per-image cosine of true-class logit gradients"}),
            "alpha": (("k", "k_b", "image"), alpha.astype(np.float32),
                      {"long_name": "p_true(adv)/p_true(clean) of target k_b, one-step attack from k"}),
            "pixel_fingerprint": (("k", "sample", "channel", "row", "col"), fp.float().cpu().numpy(),
                                  {"long_name": "unit-normalised downsampled logit gradient in pixel units, on the "
                                                "salience chapter's subset"}),
        },
        coords={"k": widths, "k_b": widths, "resolution": ["full", res], "image": idx, "sample": sal_idx,
                "channel": np.arange(3), "row": np.arange(cfg.fingerprint_size),
                "col": np.arange(cfg.fingerprint_size)},
        attrs={"checkpoints": str(folder.name), "dataset_source": test.source},
    )


def skip_reason(enabled: bool = True) -> str:
    """Why the chapter's section on the authors' models shows nothing (what ``run`` returning None means here)."""
    if not enabled:
        return "this profile leaves the section out (`official_models: false`)"
    folder = project_config().models_dir(MODELS)
    if folder is None:
        return ("no folder of the authors' checkpoints is configured (`models.salience_official` in `_config.yml`, "
                "or `SAT_MODELS_SALIENCE_OFFICIAL`)")
    if not folder.is_dir():
        return (f"the folder `models.salience_official` in `_config.yml` names (`{folder.name}`) is not there; "
                "point it, or `SAT_MODELS_SALIENCE_OFFICIAL`, at the checkpoints")
    return "no stored result of this section was found (run the chapter without `--cache-only` to compute it)"


def run(cfg: Config | None = None, mode: str = "auto") -> xr.Dataset | None:
    """The stored result, or computed and stored; ``None`` when no checkpoint folder is configured or present
    (the chapter then says so and skips the section)."""
    from sat_lib.results import load_or_compute

    cfg = cfg or Config()
    pc = project_config()
    folder = pc.models_dir(MODELS)
    if mode != "cache_only" and (folder is None or not folder.is_dir()):
        return None
    try:
        return load_or_compute(cfg.chapter, cfg.as_dict(), lambda: compute(cfg), mode=mode, version=VERSION,
                               results_dir=pc.results_dir, device=default_device())
    except FileNotFoundError:
        if mode == "cache_only":
            return None
        raise
