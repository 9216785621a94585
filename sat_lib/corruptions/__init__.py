"""Natural image corruptions of CIFAR-10-C-bar and ImageNet-C-bar (Mintun et al. 2021, "On Interaction Between
Augmentations and Corruptions in Natural Corruption Robustness"), batched in torch.

``corrupt(images, name, severity, seed=0)`` corrupts a whole batch at once; every image draws its own random
parameters from one seeded generator. The reference generator is ``imagenet_c_bar/corrupt.py`` of the public
repository facebookresearch/augmentation-corruption (per-pixel numpy loops); each corruption here follows its
parameter sampling (``float_parameter(level, maxval) = level · maxval / 10``) and its formulas, and its
docstrings state the reference parameters. Severity is the reference's continuous severity, valid in (0, 10];
:data:`CORRUPTIONS` records the five severities each C-bar set uses and the reference's ten-severity scans
(``record.severities``; ``record.severity_range`` is the C-bar span). ``benchmarks/bench_corruptions.py`` feeds
each corruption's parameters to a per-image numpy port of the reference and reports how far apart the images are
(at CIFAR size: under 0.01 of a level on average, no pixel more than 2 levels apart). Where the reference truncates
to uint8, ``corrupt`` rounds.

The design-diversity paper (Rosales et al.) evaluates ImageNet models on four corruptions "from ImageNet-C-bar"
at fixed strengths: Plasma 4.0, Checkerboard 4.0, Waterdrop 7.0 and Lines 1.6 (:data:`DESIGN_DIVERSITY`). Only
plasma and checkerboard are in the ImageNet-C-bar set; lines is in CIFAR-10-C-bar, and waterdrop is in neither:
it is the reference's ``WaterDrop`` transform (``water_drop``), one of its new corruptions outside the C-bar sets,
whose ImageNet scan (``imagenet_new_corruptions.csv``) runs 5.5–10 and contains 7.0 — as the other three strengths
sit in their corruptions' ImageNet scans. ``water_drop`` is implemented here from that transform. Of the C-bar
sets' corruptions, ``caustic_refraction`` (light refracted through a rippled water surface) is the closest to a
water drop, for a C-bar-only variant of the paper's set.

Modules: ``_noise`` (blue_noise_sample, brownish_noise, plasma_noise), ``_occlusion`` (lines,
checkerboard_cutout, sparkles, inverse_sparkles), ``_warps`` (ripple, water_drop, pinch_and_twirl,
caustic_refraction), ``_spline`` (circular_motion_blur, transverse_chromatic_abberation — the reference's
spelling). Shared pieces are in ``_common``; the registry and the severity tables in ``_registry``.
"""
from __future__ import annotations

from sat_lib.corruptions import _noise, _occlusion, _spline, _warps  # noqa: F401  (each registers its corruptions)
from sat_lib.corruptions._api import corrupt
from sat_lib.corruptions._registry import (
    C_BAR_SETS,
    CIFAR10_C_BAR,
    CIFAR10_NEW_CORRUPTIONS,
    CORRUPTIONS,
    IMAGENET_C_BAR,
    IMAGENET_NEW_CORRUPTIONS,
    SEVERITY_TABLES,
    VALID_SEVERITY,
    CorruptionRecord,
    corruption_table,
)

#: The design-diversity paper's four corruptions and the strengths it used (Section 4.1, Figure 4).
DESIGN_DIVERSITY: dict[str, float] = {"plasma_noise": 4.0, "checkerboard_cutout": 4.0, "water_drop": 7.0,
                                      "lines": 1.6}

__all__ = [
    "C_BAR_SETS",
    "CIFAR10_C_BAR",
    "CIFAR10_NEW_CORRUPTIONS",
    "CORRUPTIONS",
    "DESIGN_DIVERSITY",
    "IMAGENET_C_BAR",
    "IMAGENET_NEW_CORRUPTIONS",
    "SEVERITY_TABLES",
    "VALID_SEVERITY",
    "CorruptionRecord",
    "corrupt",
    "corruption_table",
]
