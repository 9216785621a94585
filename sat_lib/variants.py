"""Training-procedure variants of one architecture (SAT paper Sec. 4.2, Table 4, appendix D).

The paper trains one architecture many times and asks how similar the copies are when they differ only by
**initialization** (the random seed), by **optimisation hyper-parameters** (learning rate and weight decay drawn
from a grid of factors of the base values) or by **training regime** (augmentation, supervision, optimiser).
Each kind is a registered generator of ``Variant``s, so a chapter names the kinds it wants and nothing branches
on them. A variant is a zoo entry plus a ``TrainConfig`` (and possibly another optimiser recipe): the weights
cache keys it like any other model, so the member trained with the zoo's own settings is the zoo's model.

Every variant has its own seed (kinds other than *initialization* would otherwise share the zoo model's
initialization and data order), so a hyper-parameter or regime group differs by its kind *and* by seed — as
models trained independently do in the paper.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sat_lib.registry import Registry
from sat_lib.train import RECIPES, TrainConfig


@dataclass(frozen=True)
class Variant:
    """One training of ``arch`` (a zoo entry name): ``label`` names it uniquely within a chapter."""

    arch: str
    kind: str
    label: str
    description: str
    train: TrainConfig
    recipe: str


# Appendix D: "learning rate (×0.1, ×0.2, ×0.5, ×1, ×2, ×5 …), weight decay (×0.1 … ×5)" for ResNet-50 (SGD) and
# "(×0.2, ×0.4, ×1)" for ViT-S (AdamW), where larger values made DeiT training unstable. Our SGD base learning rate
# is already 0.8 at batch 256 (the paper's 0.1), so ×5 (lr 4.0) is left out of the SGD learning-rate grid.
HPARAM_GRIDS: dict[str, dict[str, tuple[float, ...]]] = {
    "sgd": {"lr": (0.1, 0.2, 0.5, 1.0, 2.0), "weight_decay": (0.1, 0.2, 0.5, 1.0, 2.0, 5.0)},
    "adamw": {"lr": (0.2, 0.4, 1.0), "weight_decay": (0.2, 0.4, 1.0)},
}

# Training regimes the engine can express (the paper's ResNet-50 regimes are mostly augmentations and kinds of
# supervision: Cutout, Mixup, CutMix, semi-supervised …). Each edits the zoo's training configuration.
OTHER_RECIPE = {"sgd": "adamw", "adamw": "sgd"}
REGIMES: dict[str, tuple[str, Callable[[TrainConfig, str], tuple[TrainConfig, str]]]] = {
    "no-augmentation": ("no flip or translation", lambda t, r: (dataclasses.replace(t, augment=False), r)),
    "no-smoothing": ("no label smoothing", lambda t, r: (dataclasses.replace(t, label_smoothing=0.0), r)),
    "other-optimizer": ("the other optimiser recipe (SGD ↔ AdamW)", lambda t, r: (t, OTHER_RECIPE[r])),
    "wide-translate": ("translations of up to 4 px", lambda t, r: (dataclasses.replace(t, translate=4), r)),
    "small-batch": ("batch 128 (learning rate scaled linearly)",
                    lambda t, r: (dataclasses.replace(t, batch_size=max(1, t.batch_size // 2)), r)),
    "strong-smoothing": ("label smoothing 0.4", lambda t, r: (dataclasses.replace(t, label_smoothing=0.4), r)),
}

VariantGenerator = Callable[[str, TrainConfig, str, int, int], list[Variant]]
DIVERSITY: Registry[VariantGenerator] = Registry("diversity kind")
ZOO_MODEL = "the zoo's model"  # the description of the variant that is the zoo's own model


def _seed(base: TrainConfig, kind_index: int, i: int) -> int:
    """Distinct seeds per (kind, member): 1 000 apart per kind, never the base seed except for member 0 of
    *initialization* (the zoo's own model)."""
    return base.seed + 1000 * kind_index + i


@DIVERSITY.decorator("initialization")
def initialization(arch: str, base: TrainConfig, recipe: str, n: int, seed: int) -> list[Variant]:
    """The zoo's model and ``n − 1`` retrainings with other seeds (initialization and data order)."""
    return [Variant(arch, "initialization", f"{arch}/seed-{base.seed + i}",
                    ZOO_MODEL if i == 0 else f"seed {base.seed + i}",
                    dataclasses.replace(base, seed=base.seed + i), recipe) for i in range(n)]


@DIVERSITY.decorator("hyperparameter")
def hyperparameter(arch: str, base: TrainConfig, recipe: str, n: int, seed: int) -> list[Variant]:
    """``n`` distinct (learning-rate, weight-decay) factor pairs drawn without replacement from the recipe's grid
    (``HPARAM_GRIDS``), each with its own seed."""
    grid = HPARAM_GRIDS[recipe]
    pairs = [(a, b) for a in grid["lr"] for b in grid["weight_decay"]]
    if n > len(pairs):
        raise ValueError(f"hyperparameter: {n} variants asked of {arch!r} but its recipe {recipe!r} has only "
                         f"{len(pairs)} (lr, weight decay) combinations; ask for at most {len(pairs)}")
    rng = np.random.default_rng([seed, 1])
    chosen = [pairs[k] for k in rng.choice(len(pairs), size=n, replace=False)]
    rec = RECIPES[recipe]
    lr0 = base.lr if base.lr is not None else rec.lr
    wd0 = base.weight_decay if base.weight_decay is not None else rec.weight_decay
    out = []
    for i, (fl, fw) in enumerate(chosen):
        s = _seed(base, 1, i)
        out.append(Variant(arch, "hyperparameter", f"{arch}/lr×{fl:g}-wd×{fw:g}",
                           f"lr ×{fl:g}, weight decay ×{fw:g}, seed {s}",
                           dataclasses.replace(base, lr=lr0 * fl, weight_decay=wd0 * fw, seed=s), recipe))
    return out


@DIVERSITY.decorator("regime")
def regime(arch: str, base: TrainConfig, recipe: str, n: int, seed: int) -> list[Variant]:
    """The first ``n`` regimes of ``REGIMES`` (in order), each with its own seed."""
    if n > len(REGIMES):
        raise ValueError(f"regime: {n} variants asked of {arch!r} but only {len(REGIMES)} regimes are defined "
                         f"({', '.join(REGIMES)}); ask for at most {len(REGIMES)}")
    out = []
    for i, (name, (text, edit)) in enumerate(list(REGIMES.items())[:n]):
        s = _seed(base, 2, i)
        train, rec = edit(dataclasses.replace(base, seed=s), recipe)
        out.append(Variant(arch, "regime", f"{arch}/{name}", f"{text}, seed {s}", train, rec))
    return out


def variants(arch: str, base: TrainConfig, recipe: str, kinds, n: int, seed: int = 0) -> list[Variant]:
    """Every variant of ``arch`` for ``kinds`` (names of ``DIVERSITY``), ``n`` per kind, labels unique."""
    out = [v for kind in kinds for v in DIVERSITY[kind](arch, base, recipe, n, seed)]
    labels = [v.label for v in out]
    dup = {x for x in labels if labels.count(x) > 1}
    if dup:
        raise ValueError(f"variants of {arch!r}: labels {sorted(dup)} occur twice")
    return out
