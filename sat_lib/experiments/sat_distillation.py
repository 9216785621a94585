"""Chapter "Diversity pays: SAT and distillation" (SAT paper Sec. 5.2, Fig. 8 and F.1).

One student architecture of the zoo is trained once per teacher by hard-label distillation (``sat_lib.train.
Teacher``: DeiT's *hard* loss on the class head, no distillation token — half the loss on the true labels, half
on the teacher's argmax of each augmented batch), with the zoo's own recipe and epochs. Teacher–student
similarity is the zoo's SAT between the teacher and the student *architecture* trained without a teacher, as the
paper scores its ViT-Ti students by the SAT of DeiT-S: read from the ``sat-matrix`` result, so nothing is
attacked here. Each student is its own job, resumable from the weights cache.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import xarray as xr

from sat_lib.config import project_config
from sat_lib.executor import Executor
from sat_lib.experiments._chapter import Chapter, cached, chapter_result, register, resolve_params
from sat_lib.precision import choose_layout
from sat_lib.progress import note
from sat_lib.provenance import default_device
from sat_lib.train import Teacher, TrainConfig, logits
from sat_lib.weights import trained_model
from sat_lib.zoo import ZooAttack, as_tensors, job_spec, train_or_load, training_split

VERSION = 1


@dataclass(frozen=True)
class Config(ZooAttack):
    """Defaults are the quick profile; the training and attack fields are ``sat-matrix``'s (``ZooAttack``), so
    the teachers are the zoo's stored models and the SAT is the zoo's."""

    chapter: ClassVar[str] = "sat-distillation"
    student: str = "levit_128s_32"        # the zoo entry trained once per teacher
    teachers: tuple[str, ...] = ()        # empty: every other model of the zoo
    teacher_weight: float = 0.5           # the teacher's share of the loss (DeiT's hard distillation: 0.5)
    # teacher families counted as "the student's kind" (Fig. 8b: Transformer teachers of a ViT student)
    student_kind: tuple[str, ...] = ("Transformer", "Hybrid")
    matrix_profile: str = "quick"         # the sat-matrix profile whose zoo holds the teachers and the SAT

    def __post_init__(self) -> None:
        super().__post_init__()
        from sat_lib.models import get_zoo

        zoo = get_zoo(self.zoo)
        zoo[self.student]  # unknown names: KeyError with close matches
        for t in self.teachers:
            zoo[t]
        if self.student in self.teachers:
            raise ValueError(f"parameter 'teachers' names the student {self.student!r}; a model does not teach "
                             "its own architecture here (its SAT with itself is the matrix's diagonal)")
        if len(set(self.teachers)) != len(self.teachers):
            raise ValueError(f"parameter 'teachers' names a model twice: {list(self.teachers)}")
        if not 0 < self.teacher_weight <= 1:
            raise ValueError(f"parameter 'teacher_weight' must be in (0, 1], got {self.teacher_weight}")
        if len(self.teacher_names()) < 3:
            raise ValueError("sat-distillation needs at least 3 teachers for a correlation, got "
                             f"{self.teacher_names()}")

    def teacher_names(self) -> list[str]:
        from sat_lib.models import get_zoo

        return list(self.teachers) or [n for n in get_zoo(self.zoo).names() if n != self.student]


def matrix_config(cfg: Config):
    """The ``sat-matrix`` configuration of the teachers' zoo: the profile ``cfg.matrix_profile`` with this
    chapter's training and attack settings, so the teachers are the zoo's stored models."""
    models = resolve_params("sat-matrix", cfg.matrix_profile).models
    need = [cfg.student, *cfg.teacher_names()]
    if models:  # a profile that names its models must hold the student and every teacher
        missing = [n for n in need if n not in models]
        if missing:
            raise ValueError(f"sat-distillation: the sat-matrix profile {cfg.matrix_profile!r} lacks {missing}; "
                             "name teachers of that zoo or another matrix_profile")
    return resolve_params("sat-matrix", cfg.matrix_profile, overrides=cfg.shared())


def distill_job(spec: dict) -> dict:
    """Train (or load) the student distilled from ``spec['teacher']`` (a model spec of the zoo, trained or loaded
    the same way) and score both on the whole test split."""
    from sat_lib.models import get_zoo

    pc = project_config()
    device = default_device()
    tspec, sspec = spec["teacher"], spec["student"]
    t = train_or_load(tspec)
    data = training_split(sspec["dataset"], sspec["train_size"], sspec["seed"])
    layout = choose_layout(t.model, (data.channels, data.image_size, data.image_size), tspec["precision"], device)
    teacher = Teacher(t.model, layout, key=t.path.name if t.path else tspec["name"], weight=spec["teacher_weight"])
    entry = get_zoo(sspec["zoo"])[sspec["name"]]
    s = trained_model(entry, data, TrainConfig(**sspec["train"]), device=device, cache_dir=pc.weights_dir,
                      teacher=teacher, store=pc.store_for(sspec["zoo"]))
    test = pc.load_data(sspec["dataset"], "test")
    x, y = as_tensors(test, device)
    t_pred = logits(t.model, x, precision=tspec["precision"]).argmax(1)
    s_logits = logits(s.model, x, precision=sspec["precision"])
    s_pred = s_logits.argmax(1)
    acc = float((s_pred == y).float().mean())
    note(f"{entry.name} taught by {tspec['name']}: test accuracy {acc:.3f}, {len(s.epoch_loss)} epochs in "
         f"{s.train_seconds:.0f} s ({s.layout}{', cached' if s.from_cache else ''})")
    return {"teacher": tspec["name"], "student_accuracy": acc,
            "teacher_accuracy": float((t_pred == y).float().mean()),
            "agreement": float((s_pred == t_pred).float().mean()),
            "train_seconds": s.train_seconds, "from_cache": s.from_cache, "epoch_loss": s.epoch_loss,
            "layout": s.layout, "teacher_layout": str(layout), "weights": str(s.path) if s.path else "",
            "test_logits": s_logits.cpu().numpy().astype(np.float16)}


def compute(cfg: Config, mode: str = "auto") -> xr.Dataset:
    from sat_lib.analysis.sat_matrix import symmetric
    from sat_lib.models import get_zoo

    zoo_ds = chapter_result(matrix_config(cfg), mode)
    zoo = get_zoo(cfg.zoo)
    names = cfg.teacher_names()
    zoo_names = list(zoo_ds["model"].values)
    missing = [n for n in [cfg.student, *names] if n not in zoo_names]
    if missing:
        raise ValueError(f"sat-distillation: the sat-matrix result {zoo_ds.attrs.get('cache_key', '')} has no "
                         f"model {missing}; run sat-matrix with them first")
    student = job_spec(cfg, cfg.student)
    # the costliest teachers first (their forward passes dominate a student's training), so workers end together
    order = sorted(range(len(names)), key=lambda i: -float(zoo_ds["train_seconds"].sel(model=names[i])))
    t0 = time.perf_counter()
    with Executor() as ex:
        done = ex.map(distill_job, [{"teacher": job_spec(cfg, names[i]), "student": student,
                                     "teacher_weight": cfg.teacher_weight} for i in order],
                      desc=f"distil {cfg.student}", names=[names[i] for i in order])
        scheduler = ex.last_scheduler
    results = [None] * len(names)
    for i, r in zip(order, done):
        results[i] = r
    sat = symmetric(zoo_ds["sat"])
    si = zoo_names.index(cfg.student)
    ti = [zoo_names.index(n) for n in names]
    max_epochs = max(len(r["epoch_loss"]) for r in results)
    loss = np.full((len(names), max_epochs), np.nan)
    for i, r in enumerate(results):
        loss[i, :len(r["epoch_loss"])] = r["epoch_loss"]
    families = [zoo[n].family for n in names]
    test = project_config().load_data(cfg.dataset, "test")
    return xr.Dataset(
        data_vars={
            "student_accuracy": ("teacher", np.array([r["student_accuracy"] for r in results]),
                                 {"long_name": f"test accuracy of {cfg.student} distilled from the teacher"}),
            "teacher_accuracy": ("teacher", np.array([r["teacher_accuracy"] for r in results])),
            "agreement": ("teacher", np.array([r["agreement"] for r in results]),
                          {"long_name": "share of test images where student and teacher predict the same class"}),
            "sat": ("teacher", sat[si, ti], {"long_name": f"SAT of the teacher and {cfg.student} trained alone "
                                                          "(the zoo's, symmetric)"}),
            "train_seconds": ("teacher", np.array([r["train_seconds"] for r in results])),
            "weights_from_cache": ("teacher", np.array([r["from_cache"] for r in results])),
            "train_loss": (("teacher", "epoch"), loss),
            "layout": ("teacher", np.array([r["layout"] for r in results])),
            "teacher_layout": ("teacher", np.array([r["teacher_layout"] for r in results])),
            "test_logits": (("teacher", "test_sample", "class"), np.stack([r["test_logits"] for r in results]),
                            {"long_name": "the distilled students' logits on the whole test split (float16)"}),
        },
        coords={"teacher": names, "family": ("teacher", families),
                "student_kind": ("teacher", [f in cfg.student_kind for f in families]),
                "epoch": np.arange(1, max_epochs + 1), "test_sample": np.arange(len(test)),
                "class": np.arange(results[0]["test_logits"].shape[-1])},
        attrs={"student": cfg.student, "student_family": zoo[cfg.student].family,
               "student_alone_accuracy": float(zoo_ds["accuracy"].sel(model=cfg.student)),
               "student_alone_train_seconds": float(zoo_ds["train_seconds"].sel(model=cfg.student)),
               "matrix_result": zoo_ds.attrs.get("cache_key", ""), "matrix_commit": zoo_ds.attrs.get("git_commit", ""),
               "matrix_device": zoo_ds.attrs.get("device", ""), "dataset_source": test.source,
               "executor": scheduler, "wall_seconds": time.perf_counter() - t0},
    )


def run(cfg: Config, mode: str = "auto") -> xr.Dataset:
    """Stored result for these parameters and this zoo result, or compute and store it."""
    return cached(cfg, lambda c: compute(c, mode), version=VERSION, mode=mode)


def dry_jobs(cfg: Config) -> list:
    """For ``--dry-run``: the student trained once per teacher and scored on the test split (its step timed
    once, with the first teacher); each teacher (sat-matrix's, stored there) labelling every training batch of its
    student and scored on the test split."""
    from sat_lib.dryrun import Work, split_size
    from sat_lib.models import get_zoo
    from sat_lib.zoo.dry import spec_job, spec_training

    zoo, student, teachers = get_zoo(cfg.zoo), job_spec(cfg, cfg.student), cfg.teacher_names()
    test = Work(forward_images=split_size(cfg.dataset, "test"))
    trained = spec_training(student)
    return [spec_job(student, (trained + test).scaled(len(teachers)), models=len(teachers), teacher=zoo[teachers[0]],
                     teacher_weight=cfg.teacher_weight, label=f"{cfg.student} (student of {len(teachers)} teachers)",
                     note=f"step timed with teacher {teachers[0]}")] \
        + [spec_job(job_spec(cfg, t), test + Work(forward_images=trained.train_images), trains=False,
                    note="teacher: weights of sat-matrix") for t in teachers]


def claims(cfg: Config, mode: str = "cache_only"):
    """The claims table (Fig. 8 / F.1 beside ours) of the stored result, and where it was computed."""
    from sat_lib.analysis.sat_distillation import claims_table
    from sat_lib.experiments._chapter import provenance_line

    ds = run(cfg, mode)
    return claims_table(ds), provenance_line(ds)


CHAPTER = register(Chapter(
    name=Config.chapter,
    title="Diversity pays: SAT and distillation",
    part="Similarity by attack transferability",
    config=Config,
    compute=run,
    summary="One student architecture distilled (hard labels) from each teacher of the zoo: student accuracy "
            "against teacher–student SAT and against teacher accuracy (Fig. 8, F.1).",
    claims=claims,
    version=VERSION,
    upstream=lambda cfg: (matrix_config(cfg),),
    dry_run=dry_jobs,
))
