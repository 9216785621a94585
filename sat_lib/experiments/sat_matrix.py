"""Chapter "SAT similarity of a model zoo" (Hwang et al.): train a zoo, attack every model once, evaluate every
model once on all adversarial examples, and score every pair with Eq. 1.

N attacks and N evaluation passes (each over all N models' adversarial examples) — not N² attacks.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import xarray as xr

from sat_lib.config import project_config
from sat_lib.experiments._chapter import Chapter, Retimer, cached, register
from sat_lib.measures import sat_matrix
from sat_lib.zoo import (ZooAttack, attack_and_evaluate, attack_sample, attacked_jobs, job_spec, model_job,
                         zoo_specs)

VERSION = 3  # 3: adversarial examples only where the source is correct


@dataclass(frozen=True)
class Config(ZooAttack):
    """Defaults are the quick profile; ``_config.yml`` holds smoke / quick / paper."""

    chapter: ClassVar[str] = "sat-matrix"
    models: tuple[str, ...] = ()          # empty: the whole zoo
    one_sided: bool = False               # appendix G's approximation
    stability_pool: int = 2000            # test images the stability pair is attacked on
    stability_sizes: tuple[int, ...] = (250, 500, 1000, 2000)
    stability_repeats: int = 10
    # the attack-check section (sat_lib.experiments.sat_matrix_checks): these models attacked again in fp32 and
    # with twice the steps; empty: no section
    check_models: tuple[str, ...] = ("resnet10_c32", "resnet18_c16", "resnet10_gn", "regnetx_002_s1",
                                     "levit_128s_32", "mixer_p4_d96")
    section_params: ClassVar[tuple[str, ...]] = ("check_models",)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.stability_repeats < 1:
            raise ValueError(f"parameter 'stability_repeats' must be >= 1, got {self.stability_repeats}")


def _stability_pool(cfg: Config, n_test: int) -> np.ndarray:
    """The stability pair's images when they are not the attacked sample: the seeded generator's second draw
    (its first is ``attack_sample``)."""
    rng = np.random.default_rng(cfg.seed)
    rng.choice(n_test, size=cfg.n_images, replace=False)
    return np.sort(rng.choice(n_test, size=min(cfg.stability_pool, n_test), replace=False))


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
    specs = zoo_specs(cfg)  # unknown names → KeyError with suggestions
    names = [s["name"] for s in specs]
    zoo = get_zoo(cfg.zoo)
    entries = [zoo[n] for n in names]
    if len(specs) < 2:
        raise ValueError(f"sat-matrix needs at least 2 models, got {names}")
    test = pc.load_data(cfg.dataset, "test")
    y_test = torch.from_numpy(np.asarray(test.labels, dtype=np.int64))
    sample = attack_sample(cfg, len(test))
    trained, fooled, scheduler, eval_seconds = attack_and_evaluate(cfg, specs, sample, "zoo")
    test_logits = np.stack([r["test_logits"] for r in trained])
    test_correct = torch.from_numpy(test_logits.argmax(-1)) == y_test
    correct = test_correct[:, torch.from_numpy(sample)]
    attack_seconds = [r["attack_seconds"] for r in trained]
    sat, n_both, rate = sat_matrix(fooled, correct, eps_s=cfg.eps_s, one_sided=cfg.one_sided)

    sizes = list(cfg.stability_sizes)
    stab = np.full((len(sizes), cfg.stability_repeats), np.nan)
    pair = tuple(zoo.stability_pair or ())
    pair_ok = len(pair) == 2 and all(p in names for p in pair) and cfg.stability_pool >= 2
    if pair_ok:
        # the attacked sample itself when the sizes agree (its attacks are cached), else a further draw
        pool = sample if cfg.stability_pool == cfg.n_images else _stability_pool(cfg, len(test))
        _, pf, _, _ = attack_and_evaluate(cfg, [job_spec(cfg, p) for p in pair], pool, "stability pair")
        pc_correct = torch.stack([test_correct[names.index(p)][torch.from_numpy(pool)] for p in pair])
        stab = stability_scores(pf, pc_correct, sizes, cfg.stability_repeats, cfg.seed, cfg.eps_s)

    max_epochs = max(len(t["epoch_loss"]) for t in trained)
    loss = np.full((len(names), max_epochs), np.nan)
    for i, t in enumerate(trained):
        loss[i, :len(t["epoch_loss"])] = t["epoch_loss"]
    cards = {f"card_{k}": ("model", [str(e.card.get(k, "")) for e in entries]) for k in entries[0].card}
    ds = xr.Dataset(
        data_vars={
            "accuracy": ("model", test_correct.float().mean(1).cpu().numpy(),
                         {"long_name": "clean test accuracy (whole test split)"}),
            "correct": (("model", "sample"), correct.cpu().numpy()),
            "fooled": (("model", "model_b", "sample"), fooled.cpu().numpy(),
                       {"long_name": "target model_b misclassifies the adversarial example crafted on model (on images "
                                     "model misclassifies, the clean image: no attack is crafted there)"}),
            "sat": (("model", "model_b"), sat.cpu().numpy(), {"long_name": "SAT similarity, Eq. 1 (log percent)"}),
            "transfer_rate": (("model", "model_b"), rate.cpu().numpy(),
                              {"long_name": "two-sided transfer rate on X_AB", "units": "percent"}),
            "n_both": (("model", "model_b"), n_both.cpu().numpy(), {"long_name": "|X_AB|"}),
            "train_loss": (("model", "epoch"), loss),
            "train_seconds": ("model", np.array([t["train_seconds"] for t in trained])),
            "train_epochs": ("model", np.array([len(t["epoch_loss"]) for t in trained])),
            "weights_from_cache": ("model", np.array([t["from_cache"] for t in trained])),
            "layout": ("model", np.array([t["layout"] for t in trained]),
                       {"long_name": "precision and memory format measured fastest for the model"}),
            "attack_seconds": ("model", np.array(attack_seconds)),
            "n_params": ("model", np.array([t["n_params"] for t in trained])),
            "test_logits": (("model", "test_sample", "class"), test_logits.astype(np.float16),
                            {"long_name": "logits on the whole test split (float16), for ensembles"}),
            "stability_rate": (("size", "repeat"), stab,
                               {"long_name": f"two-sided transfer rate of {pair} on random subsets",
                                "units": "percent"}),
        },
        coords={
            "model": names, "model_b": names, "sample": sample, "epoch": np.arange(1, max_epochs + 1),
            "test_sample": np.arange(len(test)), "class": np.arange(test_logits.shape[-1]),
            "size": sizes, "repeat": np.arange(cfg.stability_repeats),
            "family": ("model", [e.family for e in entries]), **cards,
        },
        attrs={"stability_pair": ",".join(pair) if pair_ok else "", "dataset_source": test.source,
               "executor": scheduler, "evaluate_seconds": eval_seconds},
    )
    return ds


def run(cfg: Config, mode: str = "auto") -> xr.Dataset:
    """Stored result for these parameters, or compute and store it."""
    return cached(cfg, compute, version=VERSION, mode=mode)


def dry_jobs(cfg: Config) -> list:
    """For ``--dry-run``: every model trained, attacked on the sample and evaluated on every model's examples;
    the stability pair attacked again on its own pool where that is not the sample."""
    from sat_lib.dryrun import Work
    from sat_lib.models import get_zoo
    from sat_lib.zoo.dry import sat_work, spec_job

    specs = zoo_specs(cfg)
    pair = get_zoo(cfg.zoo).stability_pair or ()
    extra = cfg.stability_pool if cfg.stability_pool != cfg.n_images else 0
    return [spec_job(s, sat_work(cfg, s, sources=len(specs))
                     + (Work(gradient_images=extra * cfg.steps, forward_images=2 * extra) if s["name"] in pair
                        else Work())) for s in specs]


def claims(cfg: Config, mode: str = "cache_only"):
    """The claims table of the stored result, and where it was computed (for the status page)."""
    from sat_lib.analysis.sat_matrix import claims_table
    from sat_lib.experiments import sat_matrix_checks
    from sat_lib.experiments._chapter import provenance_line

    ds = run(cfg, mode)
    return claims_table(ds, check=sat_matrix_checks.shown(cfg, mode)), provenance_line(ds)


def _stored_checks(cfg: Config) -> xr.Dataset | None:
    from sat_lib.experiments import sat_matrix_checks

    return sat_matrix_checks.shown(cfg, "cache_only")


CHAPTER = register(Chapter(
    name=Config.chapter,
    title="SAT similarity of a model zoo",
    part="Similarity by attack transferability",
    config=Config,
    compute=run,
    summary="Train a zoo, attack each model with PGD, score every pair by two-sided transfer (Eq. 1).",
    claims=claims,
    version=VERSION,
    retime=Retimer(lambda cfg: attacked_jobs(cfg, zoo_specs(cfg)), model_job),
    dry_run=dry_jobs,
    sections={"sat-matrix-checks": _stored_checks},
))
