"""One architecture's seeds, attacked again (a section of the sat-training chapter, stored as its own result under
``data/results/sat-training-checks/``).

Where an architecture's retrained seeds look less alike by SAT than different architectures do, either the models
differ or the attack on them does. This section attacks the initialization group of ``check_arch`` (the zoo's model
and the chapter's other seeds) again on the chapter's images with the attack variants of the sat-matrix checks
(``sat_matrix_checks.VARIANTS``): the chapter's own attack redone, in float32 throughout, with twice the steps, and
with APGD-CE then APGD-T at twice the steps (a step-size-free attack: the usual check for gradient masking).
Every example is evaluated on every seed, so each direction of every pair is stored (``fooled``: source, target,
image), not only the two-sided SAT the chapter keeps.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import xarray as xr

from sat_lib.config import project_config
from sat_lib.experiments._chapter import section_result
from sat_lib.experiments.sat_matrix_checks import checked
from sat_lib.provenance import default_device
from sat_lib.zoo import ZooAttack, variant_spec

VERSION = 1
KIND = "initialization"


@dataclass(frozen=True)
class Config(ZooAttack):
    """The sat-training chapter's training and attack, the architecture checked and its number of seeds."""

    chapter: ClassVar[str] = "sat-training-checks"
    variants: ClassVar[tuple[str, ...]] = ("chapter", "fp32", "steps_x2", "apgd")   # sat_matrix_checks.VARIANTS
    check_arch: str = "levit_128s_32"
    n_seeds: int = 5

    def __post_init__(self) -> None:
        super().__post_init__()
        from sat_lib.models import get_zoo

        get_zoo(self.zoo)[self.check_arch]  # unknown name: KeyError with close matches
        if self.n_seeds < 2:
            raise ValueError(f"the attack check needs at least 2 seeds of {self.check_arch!r}, got {self.n_seeds}")

    def specs(self) -> list[dict]:
        """The job specs of the checked seeds: the sat-training chapter's initialization variants of ``check_arch``."""
        from sat_lib.models import get_zoo
        from sat_lib.variants import variants

        vs = variants(self.check_arch, self.train, get_zoo(self.zoo)[self.check_arch].recipe, (KIND,), self.n_seeds,
                      self.seed)
        return [variant_spec(self, v) for v in vs]


def from_chapter(chapter) -> Config | None:
    """The section's parameters from the sat-training chapter's (None: its ``check_arch`` is empty, or the chapter
    trains no initialization group)."""
    if not chapter.check_arch or KIND not in chapter.kinds:
        return None
    return Config(**chapter.shared(), check_arch=chapter.check_arch, n_seeds=chapter.n_per_kind)


def compute(cfg: Config) -> xr.Dataset:
    ds = checked(cfg, cfg.specs(), cfg.variants)
    return ds.assign_attrs(check_arch=cfg.check_arch)


def run(cfg: Config, mode: str = "auto") -> xr.Dataset:
    """Stored result for these parameters, or compute and store it."""
    from sat_lib.results import load_or_compute

    return load_or_compute(cfg.chapter, cfg.as_dict(), lambda: compute(cfg), mode=mode, version=VERSION,
                           results_dir=project_config().results_dir, device=default_device())


def shown(chapter, mode: str = "cache_only") -> xr.Dataset | None:
    """The section of the sat-training configuration ``chapter``: stored (``cache_only``: None where it is not), or
    computed and stored; None without a section."""
    return section_result(from_chapter(chapter), run, mode)
