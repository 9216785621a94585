"""The universality chapter's ``--dry-run`` plan (``sat_lib.dryrun``): every model its full run trains, and the work
it does with each."""
from __future__ import annotations

import dataclasses


def dry_jobs(cfg) -> list:
    """For ``--dry-run``: every (setting, architecture, ε) model trained (adversarially at ε > 0, its attack inside
    each training step), its adversarial accuracy (``eval_images`` × ``eval_steps``), its inversions (``n_images``
    and the OOD setting's ``ood_images`` for the full models, ``subset_images`` for the subset's) and its
    predictions on the test split and on every member's inverted images; then the training-length section's
    standard models, each attacked by the chapter's PGD and, in fp32, by the strong PGD and APGD-CE."""
    from sat_lib.dryrun import Work, split_size
    from sat_lib.models import get_zoo
    from sat_lib.zoo.dry import entry_job, training_images

    zoo, test = get_zoo(cfg.zoo), split_size(cfg.dataset, "test")
    jobs = []
    for setting in (s for s in cfg.settings() if s != "ood"):  # the OOD setting inverts with the full models
        members = cfg.members(setting)
        classes = cfg.subset_classes if setting == "subset" else None
        inverted = cfg.subset_images if setting == "subset" else cfg.n_images + (cfg.ood_images if cfg.ood_dataset
                                                                                 else 0)
        for arch in members:
            for eps in cfg.eps:
                work = Work(train_images=training_images(zoo[arch], cfg.dataset, cfg.train, classes=classes),
                            gradient_images=cfg.eval_images * cfg.eval_steps + inverted * cfg.invert_steps,
                            forward_images=test + len(members) * inverted)
                jobs.append(entry_job(zoo[arch], cfg.dataset, cfg.train, work, label=f"{setting} {arch} ε={eps:g}",
                                      classes=classes, adversary=cfg.adversarial_training(eps)))
    for e in cfg.length_epochs:
        train = dataclasses.replace(cfg.train, epochs=e)
        for arch in cfg.archs:
            work = Work(train_images=training_images(zoo[arch], cfg.dataset, train),
                        gradient_images=cfg.eval_images * cfg.eval_steps + 2 * cfg.strong_images * cfg.strong_steps,
                        forward_images=test + cfg.eval_images + 2 * cfg.strong_images)
            jobs.append(entry_job(zoo[arch], cfg.dataset, train, work, label=f"length {arch} {e} epochs"))
    return jobs
