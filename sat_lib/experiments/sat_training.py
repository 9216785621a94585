"""Chapter "Training procedure against architecture" (SAT paper Sec. 4.2, Table 4, Fig. 4b): one architecture
trained many times — other seeds, other optimisation hyper-parameters, other training regimes
(``sat_lib.variants``) — attacked and scored pairwise exactly as the zoo is in ``sat-matrix``.

The variants' models are also the members of the training-diversity ensembles of ``sat-ensembles`` (Fig. 7), so
every variant's test logits are stored. The member trained with the zoo's own settings *is* the zoo's model (same
weights key) and its attack is the zoo's (same images, same adversarial-example key).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import xarray as xr

from sat_lib.config import project_config
from sat_lib.experiments._chapter import Chapter, Retimer, cached, chapter_result, register, resolve_params
from sat_lib.measures import sat_matrix
from sat_lib.variants import DIVERSITY, Variant, variants
from sat_lib.zoo import ZooAttack, attack_and_evaluate, attack_sample, attacked_jobs, model_job, variant_spec

VERSION = 1


@dataclass(frozen=True)
class Config(ZooAttack):
    """Defaults are the quick profile; the training and attack fields are ``sat-matrix``'s (``ZooAttack``)."""

    chapter: ClassVar[str] = "sat-training"
    archs: tuple[str, ...] = ("resnet10_c32", "levit_128s_32")   # zoo entries trained many times
    kinds: tuple[str, ...] = ("initialization", "hyperparameter", "regime")
    n_per_kind: int = 5                   # models per kind and architecture (initialization: the zoo's + n − 1)
    matrix_profile: str = "quick"         # the sat-matrix profile whose zoo is the between-architecture baseline
    # the attack-check section (sat_lib.experiments.sat_training_checks): this architecture's seeds attacked again
    # (fp32, twice the steps, APGD), each direction of every pair kept; empty: no section
    check_arch: str = "levit_128s_32"
    section_params: ClassVar[tuple[str, ...]] = ("check_arch",)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.archs:
            raise ValueError("parameter 'archs' must name at least one zoo entry")
        from sat_lib.models import get_zoo

        zoo = get_zoo(self.zoo)
        for a in self.archs:
            zoo[a]  # unknown names: KeyError with close matches
        if len(set(self.archs)) != len(self.archs):
            raise ValueError(f"parameter 'archs' names an architecture twice: {list(self.archs)}")
        if self.check_arch and self.check_arch not in self.archs:
            raise ValueError(f"parameter 'check_arch' = {self.check_arch!r} is not one of 'archs' "
                             f"({', '.join(self.archs)}); name one of them, or '' for no attack check")
        if not self.kinds:
            raise ValueError(f"parameter 'kinds' must name at least one of {list(DIVERSITY)}")
        for k in self.kinds:
            DIVERSITY[k]
        if self.n_per_kind < 2:
            raise ValueError(f"parameter 'n_per_kind' must be >= 2 (a pair is the least a similarity needs), "
                             f"got {self.n_per_kind}")
        self.variants()  # a grid too small for n_per_kind fails here, before anything is trained

    def variants(self) -> list[Variant]:
        from sat_lib.models import get_zoo

        zoo = get_zoo(self.zoo)
        return [v for a in self.archs for v in variants(a, self.train, zoo[a].recipe, self.kinds, self.n_per_kind,
                                                         self.seed)]


def matrix_config(cfg: Config):
    """The ``sat-matrix`` configuration whose zoo is this chapter's baseline: the profile ``cfg.matrix_profile``
    with this chapter's training and attack settings, so both chapters train and attack alike."""
    return resolve_params("sat-matrix", cfg.matrix_profile, overrides=cfg.shared())


def compute(cfg: Config) -> xr.Dataset:
    pc = project_config()
    test = pc.load_data(cfg.dataset, "test")
    sample = attack_sample(cfg, len(test))  # the images sat-matrix attacks: the zoo's model reuses its attack
    vs = cfg.variants()
    specs = [variant_spec(cfg, v) for v in vs]
    t0 = time.perf_counter()
    trained, fooled, scheduler, eval_seconds = attack_and_evaluate(cfg, specs, sample, "variants")
    y_test = torch.from_numpy(np.asarray(test.labels, dtype=np.int64))
    test_logits = np.stack([r["test_logits"] for r in trained])
    test_correct = torch.from_numpy(test_logits.argmax(-1)) == y_test
    correct = test_correct[:, torch.from_numpy(sample)]
    sat, n_both, rate = sat_matrix(fooled, correct, eps_s=cfg.eps_s)
    labels = [v.label for v in vs]
    return xr.Dataset(
        data_vars={
            "accuracy": ("model", test_correct.float().mean(1).numpy(), {"long_name": "clean test accuracy"}),
            "correct": (("model", "sample"), correct.numpy()),
            "sat": (("model", "model_b"), sat.numpy(), {"long_name": "SAT similarity, Eq. 1 (log percent)"}),
            "transfer_rate": (("model", "model_b"), rate.numpy(), {"units": "percent"}),
            "n_both": (("model", "model_b"), n_both.numpy()),
            "train_seconds": ("model", np.array([r["train_seconds"] for r in trained])),
            "train_epochs": ("model", np.array([len(r["epoch_loss"]) for r in trained])),
            "final_loss": ("model", np.array([r["epoch_loss"][-1] if r["epoch_loss"] else np.nan for r in trained])),
            "weights_from_cache": ("model", np.array([r["from_cache"] for r in trained])),
            "attack_seconds": ("model", np.array([r["attack_seconds"] for r in trained])),
            "layout": ("model", np.array([r["layout"] for r in trained])),
            "test_logits": (("model", "test_sample", "class"), test_logits.astype(np.float16),
                            {"long_name": "logits on the whole test split (float16), for ensembles"}),
        },
        coords={
            "model": labels, "model_b": labels, "sample": sample, "test_sample": np.arange(len(test)),
            "class": np.arange(test_logits.shape[-1]),
            "arch": ("model", [v.arch for v in vs]), "kind": ("model", [v.kind for v in vs]),
            "description": ("model", [v.description for v in vs]), "recipe": ("model", [v.recipe for v in vs]),
            "lr": ("model", [np.nan if v.train.lr is None else v.train.lr for v in vs]),
            "weight_decay": ("model", [np.nan if v.train.weight_decay is None else v.train.weight_decay for v in vs]),
            "train_seed": ("model", [v.train.seed for v in vs]),
        },
        attrs={"dataset_source": test.source, "executor": scheduler, "evaluate_seconds": eval_seconds,
               "wall_seconds": time.perf_counter() - t0},
    )


def run(cfg: Config, mode: str = "auto") -> xr.Dataset:
    """Stored result for these parameters, or compute and store it."""
    return cached(cfg, compute, version=VERSION, mode=mode)


def dry_jobs(cfg: Config) -> list:
    """For ``--dry-run``: every variant trained, attacked and evaluated on every variant's examples (the variants
    of one architecture trained alike are timed once)."""
    from sat_lib.zoo.dry import sat_work, spec_job

    specs = [variant_spec(cfg, v) for v in cfg.variants()]
    return [spec_job(s, sat_work(cfg, s, sources=len(specs))) for s in specs]


def claims(cfg: Config, mode: str = "cache_only"):
    """The claims table (Table 4 beside ours) of the stored results, and where they were computed."""
    from sat_lib.analysis.sat_training import claims_table
    from sat_lib.experiments import sat_matrix_checks, sat_training_checks
    from sat_lib.experiments._chapter import provenance_line

    ds = run(cfg, mode)
    zoo = chapter_result(matrix_config(cfg), mode)
    return claims_table(ds, zoo, check=sat_matrix_checks.shown(matrix_config(cfg), mode),
                        seed_check=sat_training_checks.shown(cfg, mode)), provenance_line(ds)


def _stored_checks(cfg: Config) -> xr.Dataset | None:
    from sat_lib.experiments import sat_training_checks

    return sat_training_checks.shown(cfg, "cache_only")


CHAPTER = register(Chapter(
    name=Config.chapter,
    title="Training procedure against architecture",
    part="Similarity by attack transferability",
    config=Config,
    compute=run,
    summary="One architecture retrained with other seeds, hyper-parameters and regimes: SAT within each group "
            "against SAT between the zoo's architectures (Table 4, Fig. 4b).",
    claims=claims,
    version=VERSION,
    retime=Retimer(lambda cfg: attacked_jobs(cfg, [variant_spec(cfg, v) for v in cfg.variants()]), model_job),
    dry_run=dry_jobs,
    sections={"sat-training-checks": _stored_checks},
))
