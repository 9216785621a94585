"""Dry-run jobs (``sat_lib.dryrun.DryJob``) for the models of a zoo: from a zoo entry, from a chapter's job spec
(``job_spec``), the work SAT chapters do with each model, and a plan derived from a chapter's parameters alone
(``named_jobs``) for a chapter that declares none."""
from __future__ import annotations

import dataclasses

from sat_lib.attacks import PGDConfig
from sat_lib.dryrun import DryJob, Work, split_size, train_step
from sat_lib.train import TrainConfig, train_config_from


def training_images(entry, dataset: str, train: TrainConfig, train_size: int = 0, *, classes: int | None = None) -> int:
    """Images through training steps when ``entry`` is trained with ``train`` (its epochs scaled by the entry's
    ``epoch_scale``; the last partial batch of each epoch dropped, as ``sat_lib.train.train`` does) on
    ``train_size`` images (0: the whole training split; ``classes``: a subset of that many of its classes)."""
    from sat_lib.data import num_classes

    n = split_size(dataset, "train")
    if classes:
        n = n * classes // (num_classes(dataset) or classes)
    n = min(train_size, n) if train_size else n
    bs = min(train.batch_size, n)
    return max(1, n // bs) * bs * entry.epochs_for(train.epochs)


def entry_job(entry, dataset: str, train: TrainConfig, work: Work, *, label: str = "", attack_batch_size: int = 250,
              classes: int | None = None, teacher=None, teacher_weight: float = 0.5, adversary: PGDConfig | None = None,
              objective=None, evaluated=None, models: int = 1, note: str = "", trains: bool = True) -> DryJob:
    """Zoo entry ``entry`` built for ``dataset`` (``sat_lib.weights.build_for``), training steps with
    ``train`` (and ``teacher``: another entry, ``adversary``, ``objective`` as ``trained_model`` takes them) and
    ``work``; no training step where the chapter does not train it (``trains=False``: its weights are another
    chapter's). Jobs of one architecture trained alike share a key (timed once)."""
    from sat_lib.weights import build_for

    precision = entry.precision_for(train.precision)
    cfg = dataclasses.replace(train, precision=precision)
    if objective is None:
        build = lambda data: build_for(entry, data)  # noqa: E731
    else:
        build = lambda data: objective.build(lambda: build_for(entry, data))[0]  # noqa: E731
    taught = None if teacher is None else (lambda data: build_for(teacher, data))
    key = (entry.name, entry.recipe, dataset, cfg.batch_size, precision, attack_batch_size, classes, trains,
           getattr(teacher, "name", None), None if adversary is None else dataclasses.astuple(adversary),
           None if objective is None else repr(objective.spec()))
    return DryJob(label=label or entry.name, dataset=dataset, build=build, work=work,
                  train=train_step(cfg, entry.recipe, teacher=taught, teacher_weight=teacher_weight,
                                   adversary=adversary, objective=objective) if trains else None,
                  batch_size=cfg.batch_size, attack_batch_size=attack_batch_size, precision=precision,
                  classes=classes, evaluated=evaluated, models=models, note=note, key=key)


def spec_entry(spec: dict):
    """The zoo entry of a job spec (``job_spec``), with a variant's optimiser recipe where it names another."""
    from sat_lib.models import get_zoo

    entry = get_zoo(spec["zoo"])[spec["name"]]
    if spec.get("recipe") and spec["recipe"] != entry.recipe:
        entry = dataclasses.replace(entry, recipe=spec["recipe"])
    return entry


def spec_job(spec: dict, work: Work, **kwargs) -> DryJob:
    """The dry-run job of a job spec (``job_spec`` / ``variant_spec``): its entry, dataset, training and attack
    batch; ``kwargs`` as ``entry_job``."""
    kwargs.setdefault("label", spec.get("label") or spec["name"])
    kwargs.setdefault("attack_batch_size", spec.get("attack_batch_size", 250))
    return entry_job(spec_entry(spec), spec["dataset"], TrainConfig(**spec["train"]), work, **kwargs)


def spec_training(spec: dict) -> Work:
    """The training of a job spec's model, as ``Work``."""
    train = TrainConfig(**spec["train"])
    return Work(train_images=training_images(spec_entry(spec), spec["dataset"], train, spec.get("train_size", 0)))


def sat_work(cfg, spec: dict, *, trained: bool = True, sources: int = 1) -> Work:
    """A SAT chapter's work on one model (``ZooAttack`` settings ``cfg``): its training (where ``trained``), PGD
    on the ``n_images`` attacked images, its logits on the test split, and its predictions on the adversarial
    examples of ``sources`` models."""
    work = Work(gradient_images=cfg.n_images * cfg.steps,
                forward_images=split_size(cfg.dataset, "test") + sources * cfg.n_images)
    return work + spec_training(spec) if trained else work


def outputs_work(cfg) -> Work:
    """One model's outputs for ensemble scoring (``sat_lib.zoo.ensembles.model_outputs``) with a design-diversity
    chapter's settings ``cfg``: logits on ``n_images`` of every set, Saliency on ``attribution_images`` of every
    set, Integrated Gradients at each of ``ig_steps`` on the clean ones."""
    k, sets = cfg.attribution_images, len(cfg.sets)
    return Work(gradient_images=k * sets + k * sum(cfg.ig_steps), forward_images=cfg.n_images * sets)


def named_jobs(cfg) -> list[DryJob]:
    """A plan from a chapter's parameters alone, for a chapter that declares none: every zoo entry its parameters
    name (any field whose values are models of its ``zoo``), trained as its training fields say (``cfg.train``
    where it has one) on its ``dataset``, and scored once on the test split. Attacks, inversion and the like are not
    known here, so not estimated. None for a chapter without ``zoo`` and ``dataset`` (one that reads stored
    results)."""
    from sat_lib.models import get_zoo

    zoo_name, dataset = getattr(cfg, "zoo", None), getattr(cfg, "dataset", None)
    if not isinstance(zoo_name, str) or not isinstance(dataset, str):
        return []
    zoo = get_zoo(zoo_name)
    names: list[str] = []
    for f in dataclasses.fields(cfg):
        if f.name in ("zoo", "dataset"):
            continue
        value = getattr(cfg, f.name)
        for v in (value if isinstance(value, tuple) else (value,)):
            if isinstance(v, str) and v in zoo and v not in names:
                names.append(v)
    train = cfg.train if isinstance(getattr(cfg, "train", None), TrainConfig) else train_config_from(cfg)
    note = "generic plan (the chapter declares no dry_run): training and test-split logits only"
    return [entry_job(zoo[n], dataset, train,
                      Work(train_images=training_images(zoo[n], dataset, train, getattr(cfg, "train_size", 0)),
                           forward_images=split_size(dataset, "test")),
                      attack_batch_size=getattr(cfg, "attack_batch_size", 250), note=note) for n in names]


__all__ = ["entry_job", "named_jobs", "outputs_work", "sat_work", "spec_entry", "spec_job", "spec_training",
           "training_images"]
