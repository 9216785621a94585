"""The corruption registry: one frozen record per corruption, with the severities the reference uses.

The severity tables are the CSV files in ``imagenet_c_bar/`` of the reference repository
(facebookresearch/augmentation-corruption): ``cifar10_c_bar.csv`` and ``imagenet_c_bar.csv`` (the five severities
of each corruption in the C-bar sets), and ``cifar10_new_corruptions.csv`` / ``imagenet_new_corruptions.csv``
(the ten-severity scans of every new corruption, C-bar members or not). Rows are kept for the corruptions
implemented here; ``pinch_and_twirl_v2`` of the scans is another transform than the C-bar's ``pinch_and_twirl``.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from sat_lib.registry import Registry

#: Severities of CIFAR-10-C-bar (``cifar10_c_bar.csv``).
CIFAR10_C_BAR: dict[str, tuple[float, ...]] = {
    "blue_noise_sample": (0.7, 1.4, 2.1, 3.5, 4.2),
    "checkerboard_cutout": (1.0, 2.0, 3.0, 4.0, 5.0),
    "inverse_sparkles": (1.0, 1.5, 2.5, 4.5, 5.0),
    "pinch_and_twirl": (5.5, 6.0, 6.5, 8.5, 10.0),
    "ripple": (5.5, 6.0, 6.5, 7.5, 8.0),
    "brownish_noise": (2.5, 4.0, 5.5, 6.5, 7.0),
    "circular_motion_blur": (2.8, 3.6, 4.4, 5.2, 6.0),
    "lines": (0.5, 1.0, 1.5, 2.0, 2.5),
    "sparkles": (0.7, 3.5, 5.6, 6.3, 7.0),
    "transverse_chromatic_abberation": (1.0, 2.0, 5.0, 9.0, 10.0),
}

#: Severities of ImageNet-C-bar (``imagenet_c_bar.csv``).
IMAGENET_C_BAR: dict[str, tuple[float, ...]] = {
    "caustic_refraction": (2.35, 3.2, 4.9, 6.6, 9.15),
    "inverse_sparkles": (1.0, 2.0, 4.0, 9.0, 10.0),
    "sparkles": (1.0, 2.0, 3.0, 5.0, 6.0),
    "perlin_noise": (4.6, 5.2, 5.8, 7.6, 8.8),
    "blue_noise_sample": (0.8, 1.6, 2.4, 4.0, 5.6),
    "plasma_noise": (4.75, 7.0, 8.5, 9.25, 10.0),
    "checkerboard_cutout": (2.0, 3.0, 4.0, 5.0, 6.0),
    "cocentric_sine_waves": (3.0, 5.0, 8.0, 9.0, 10.0),
    "single_frequency_greyscale": (1.0, 1.5, 2.0, 4.5, 5.0),
    "brownish_noise": (1.0, 2.0, 3.0, 4.0, 5.0),
}


def _scan(first: float, step: float, count: int = 10) -> tuple[float, ...]:
    return tuple(round(first + k * step, 2) for k in range(count))


#: The ten-severity scans at CIFAR-10 size (``cifar10_new_corruptions.csv``), rows of the corruptions here.
CIFAR10_NEW_CORRUPTIONS: dict[str, tuple[float, ...]] = {
    "plasma_noise": _scan(0.7, 0.7),
    "sparkles": _scan(0.7, 0.7),
    "inverse_sparkles": _scan(0.5, 0.5),
    "checkerboard_cutout": _scan(1.0, 1.0),
    "lines": _scan(0.5, 0.5),
    "transverse_chromatic_abberation": _scan(1.0, 1.0),
    "caustic_refraction": _scan(1.4, 0.4),
    "water_drop": _scan(2.8, 0.8),
    "ripple": _scan(5.5, 0.5),
    "blue_noise_sample": _scan(0.7, 0.7),
    "circular_motion_blur": _scan(2.8, 0.8),
    "brownish_noise": _scan(2.5, 0.5),
}

#: The ten-severity scans at ImageNet size (``imagenet_new_corruptions.csv``), rows of the corruptions here.
IMAGENET_NEW_CORRUPTIONS: dict[str, tuple[float, ...]] = {
    "plasma_noise": _scan(3.25, 0.75),
    "sparkles": _scan(1.0, 1.0),
    "inverse_sparkles": _scan(1.0, 1.0),
    "checkerboard_cutout": _scan(1.0, 1.0),
    "lines": _scan(0.8, 0.8),
    "transverse_chromatic_abberation": _scan(1.0, 1.0),
    "caustic_refraction": _scan(2.35, 0.85),
    "water_drop": _scan(5.5, 0.5),
    "ripple": _scan(3.25, 0.75),
    "blue_noise_sample": _scan(0.8, 0.8),
    "circular_motion_blur": _scan(2.35, 0.85),
    "brownish_noise": _scan(1.0, 1.0),
}

#: Every severity table by name; the C-bar sets first.
SEVERITY_TABLES: dict[str, dict[str, tuple[float, ...]]] = {
    "cifar10_c_bar": CIFAR10_C_BAR,
    "imagenet_c_bar": IMAGENET_C_BAR,
    "cifar10_new_corruptions": CIFAR10_NEW_CORRUPTIONS,
    "imagenet_new_corruptions": IMAGENET_NEW_CORRUPTIONS,
}
C_BAR_SETS: tuple[str, ...] = ("cifar10_c_bar", "imagenet_c_bar")

#: Every corruption accepts a severity in (0, 10]: ``float_parameter`` scales its strength linearly to 10.
VALID_SEVERITY: tuple[float, float] = (0.0, 10.0)

Sample = Callable[[torch.Generator, int, int, float], dict[str, Any]]
Apply = Callable[[Tensor, dict[str, Any]], Tensor]


@dataclass(frozen=True)
class CorruptionRecord:
    """One corruption.

    ``sample(gen, n, size, severity)`` draws the parameters of ``n`` images of ``size`` × ``size`` pixels from
    ``gen`` (tensors with a leading ``n`` axis, on the CPU; plain numbers shared by the batch); ``apply(x, params)``
    corrupts a float32 ``(n, 3, size, size)`` batch in [0, 1] with them. Splitting the two lets a peer
    implementation be fed the very same parameters (``benchmarks/bench_corruptions.py``).

    ``severities`` maps each severity table that lists the corruption (:data:`SEVERITY_TABLES`) to its severities;
    ``severity_range`` is the span the C-bar sets use (the scans' span for a corruption in neither set).
    ``reference`` names the class in the reference's ``imagenet_c_bar/corrupt.py``; ``stochastic`` is False where
    the seed changes nothing (the reference draws no random parameter).
    """

    name: str
    sample: Sample
    apply: Apply
    reference: str
    stochastic: bool = True
    severities: Mapping[str, tuple[float, ...]] = field(init=False)

    def __post_init__(self) -> None:
        table = {s: sev[self.name] for s, sev in SEVERITY_TABLES.items() if self.name in sev}
        if not table:
            raise ValueError(f"CorruptionRecord({self.name!r}): no severity table lists this name; add its row to "
                             f"one of {list(SEVERITY_TABLES)} first")
        object.__setattr__(self, "severities", table)

    @property
    def severity_range(self) -> tuple[float, float]:
        """Lowest and highest severity the C-bar sets use (for a corruption in neither: the scans)."""
        sets = [s for s in C_BAR_SETS if s in self.severities] or list(self.severities)
        every = [v for s in sets for v in self.severities[s]]
        return min(every), max(every)

    def check_severity(self, severity: Any, fn: str = "corrupt") -> float:
        """``severity`` as a float, or ``ValueError`` naming the corruption, the value and the valid range."""
        lo, hi = VALID_SEVERITY
        is_number = isinstance(severity, numbers.Real) and not isinstance(severity, bool)
        value = float(severity) if is_number else math.nan
        if not (lo < value <= hi):
            used = "; ".join(f"{s} uses {sev[0]:g}–{sev[-1]:g}" for s, sev in self.severities.items()
                             if s in C_BAR_SETS) or "the reference scans {:g}–{:g}".format(*self.severity_range)
            raise ValueError(f"{fn}: severity {severity!r} of corruption {self.name!r} is outside its valid range "
                             f"({lo:g}, {hi:g}]; pass a number in that range ({used})")
        return value


CORRUPTIONS: Registry[CorruptionRecord] = Registry("corruption")


def register_corruption(name: str, sample: Sample, apply: Apply, reference: str, *,
                        stochastic: bool = True) -> CorruptionRecord:
    """Add a corruption to :data:`CORRUPTIONS` and return its record."""
    return CORRUPTIONS.register(name, CorruptionRecord(name, sample, apply, reference, stochastic))


def corruption_table():
    """Every registered corruption with its reference class and severities, as a pandas DataFrame."""
    import pandas as pd

    rows = [{"name": name, "reference": r.reference, "stochastic": r.stochastic,
             **{s: ", ".join(f"{v:g}" for v in r.severities.get(s, ())) for s in SEVERITY_TABLES}}
            for name, r in CORRUPTIONS.items()]
    return pd.DataFrame(rows).set_index("name")
