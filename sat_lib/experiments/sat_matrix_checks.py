"""The attack behind the SAT matrix, checked (a section of the sat-matrix chapter, stored as its own result under
``data/results/sat-matrix-checks/``).

The SAT chapters attack every zoo model once: PGD with the chapter's steps, in the layout each model was measured
fastest in (mostly bf16), its examples evaluated in each target's layout. Every SAT claim rests on two things this
section checks on ``check_models`` (a subset of the zoo; the quick profile takes six models of four families that
the chapter attacked in bf16):

- ``fp32``: the same attack, and the evaluation of every example, in float32 — does the fast precision give the same
  SAT?
- ``steps_x2``: twice the steps at the same step size — has the attack converged?

Each variant attacks every checked model on the chapter's images and evaluates its examples on every checked model;
the two-sided SAT (Eq. 1) of every pair among them is compared with ``chapter``, the chapter's own attack redone on
the same models (its SAT equals the stored matrix's where the weights are the stored models': the section shows
whether they are). The weights are the zoo's, loaded from the cache (or trained as the chapter trains them).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import xarray as xr

from sat_lib.config import project_config
from sat_lib.experiments._chapter import section_result
from sat_lib.measures import sat_matrix
from sat_lib.registry import Registry
from sat_lib.provenance import default_device
from sat_lib.zoo import ZooAttack, attack_and_evaluate, attack_sample, check_zoo_and_dataset, job_spec

VERSION = 1

def _apgd(spec: dict) -> dict:
    """AutoAttack's APGD-CE then APGD-T (``zoo.jobs.autoattack_lite``) in the chapter's norm and radius, with twice
    the chapter's steps (as ``steps_x2``): a step-size-free attack, the usual check for gradient masking."""
    from sat_lib.apgd import APGDConfig

    a = spec["attack"]
    cfg = APGDConfig(norm=a["norm"], eps=a["eps"], steps=2 * a["steps"], seed=a["seed"])
    return {**spec, "attack": dataclasses.asdict(cfg), "attack_kind": "autoattack"}


VARIANTS: Registry[Callable[[dict], dict]] = Registry("attack variant")
VARIANTS.register("chapter", lambda spec: spec)
VARIANTS.register("fp32", lambda spec: {**spec, "precision": "fp32"})
VARIANTS.register("steps_x2", lambda spec: {**spec, "attack": {**spec["attack"], "steps": 2 * spec["attack"]["steps"]}})
VARIANTS.register("apgd", _apgd)


@dataclass(frozen=True)
class Config(ZooAttack):
    """The sat-matrix chapter's zoo and attack, and the models checked (``from_chapter``)."""

    chapter: ClassVar[str] = "sat-matrix-checks"
    variants: ClassVar[tuple[str, ...]] = ("chapter", "fp32", "steps_x2")   # of ``VARIANTS``; "chapter" first
    check_models: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(set(self.check_models)) < 2 or len(set(self.check_models)) != len(self.check_models):
            raise ValueError(f"parameter 'check_models' must name at least 2 different zoo models, got "
                             f"{list(self.check_models)}")
        check_zoo_and_dataset(self.zoo, self.check_models, self.dataset)


def from_chapter(chapter) -> Config | None:
    """The section's parameters from the sat-matrix chapter's (None: its ``check_models`` is empty)."""
    if not chapter.check_models:
        return None
    return Config(**chapter.shared(), check_models=tuple(chapter.check_models))


def compute(cfg: Config) -> xr.Dataset:
    return checked(cfg, [job_spec(cfg, n) for n in cfg.check_models], cfg.variants)


def checked(cfg: ZooAttack, base: list[dict], names: tuple[str, ...]) -> xr.Dataset:
    """The models of job specs ``base`` attacked by each variant of ``names`` (``VARIANTS``, "chapter" first) on
    the chapter's images, every example evaluated on every one of them; models named by the specs' labels."""
    test = project_config().load_data(cfg.dataset, "test")
    labels = np.asarray(test.labels)
    sample = attack_sample(cfg, len(test))
    names = list(names)
    fooled, correct, accuracy, seconds, layouts = [], [], [], [], None
    for v in names:
        specs = [VARIANTS[v](s) for s in base]
        results, f, _, _ = attack_and_evaluate(cfg, specs, sample, f"check {v}")
        test_correct = np.stack([r["test_logits"].argmax(-1) == labels for r in results])
        fooled.append(f.numpy())
        correct.append(test_correct[:, sample])
        accuracy.append(test_correct.mean(1))
        seconds.append([r["attack_seconds"] for r in results])
        layouts = layouts or [r["layout"] for r in results]
    sats = [sat_matrix(torch.from_numpy(f), torch.from_numpy(c), eps_s=cfg.eps_s)[0].numpy()
            for f, c in zip(fooled, correct)]
    models = [s["label"] for s in base]
    return xr.Dataset(
        data_vars={
            "fooled": (("variant", "model", "model_b", "sample"), np.stack(fooled),
                       {"long_name": "target model_b misclassifies the example crafted on model by the variant's "
                                     "attack"}),
            "correct": (("variant", "model", "sample"), np.stack(correct),
                        {"long_name": "clean image classified correctly (in the variant's precision)"}),
            "sat": (("variant", "model", "model_b"), np.stack(sats), {"long_name": "SAT, Eq. 1 (log percent)"}),
            "accuracy": (("variant", "model"), np.stack(accuracy), {"long_name": "clean test accuracy"}),
            "attack_seconds": (("variant", "model"), np.array(seconds)),
        },
        coords={"variant": names, "model": models, "model_b": models, "sample": sample,
                "layout": ("model", layouts),
                "steps": ("variant", [VARIANTS[v](base[0])["attack"]["steps"] for v in names]),
                "attack_kind": ("variant", [VARIANTS[v](base[0]).get("attack_kind", "pgd") for v in names]),
                "precision": ("variant", [VARIANTS[v](base[0])["precision"] for v in names])},
        attrs={"eps_s": cfg.eps_s},
    )


def run(cfg: Config, mode: str = "auto") -> xr.Dataset:
    """Stored result for these parameters, or compute and store it."""
    from sat_lib.results import load_or_compute

    return load_or_compute(cfg.chapter, cfg.as_dict(), lambda: compute(cfg), mode=mode, version=VERSION,
                           results_dir=project_config().results_dir, device=default_device())


def shown(chapter, mode: str = "cache_only") -> xr.Dataset | None:
    """The section of the sat-matrix chapter's configuration ``chapter``: stored (``cache_only``: None where it is
    not), or computed and stored; None without a section (``check_models`` empty)."""
    return section_result(from_chapter(chapter), run, mode)
