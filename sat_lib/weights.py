"""Trained weights, cached locally so a rerun with other attack or measure parameters never retrains.

Files live under ``<cache>/weights/<dataset>/<model>-<key>.pt`` (git-ignored); the key hashes everything that
determines the weights: the zoo entry's definition, the training data and the training configuration. A
corrupt file is a miss (retrained), never a crash. Writes are atomic.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from sat_lib._files import atomic_path
from sat_lib.precision import Layout, choose_layout
from sat_lib.train import Adversary, Teacher, TrainConfig, train
from sat_lib.weight_store import WeightStore

log = logging.getLogger(__name__)


@dataclass
class TrainedModel:
    name: str
    model: nn.Module
    epoch_loss: list[float]
    train_seconds: float
    from_cache: bool
    layout: str = ""
    path: Path | None = None


def data_fingerprint(images: np.ndarray, labels: np.ndarray) -> str:
    """A cheap content hash of a training set (labels in full, a strided sample of pixels)."""
    h = hashlib.sha256()
    h.update(str(images.shape).encode())
    h.update(np.ascontiguousarray(labels).tobytes())
    h.update(np.ascontiguousarray(images.reshape(len(images), -1)[::97, ::13]).tobytes())
    return h.hexdigest()[:16]


def entry_spec(entry) -> dict:
    """A zoo entry's definition and its recipe's values (lr, weight decay, optimiser): changing any of them
    retrains the model."""
    from sat_lib.train import RECIPES

    recipe = RECIPES[entry.recipe]
    return {"entry": {"name": entry.name, "builder": entry.builder, "timm_name": entry.timm_name,
                      "kwargs": dict(entry.kwargs), "recipe": entry.recipe},
            "recipe": {"lr": recipe.lr, "weight_decay": recipe.weight_decay, "optimizer": recipe.optimizer}}


def zoo_fingerprint(zoo) -> str:
    """A hash of what a zoo trains: every entry's definition, recipe values and epoch scale. Chapters put it in
    their result key, so editing a zoo (a model's width, its epochs) recomputes the result instead of reusing
    one computed from the old zoo."""
    spec = [{**entry_spec(e), "epoch_scale": e.epoch_scale, **({"precision": e.precision} if e.precision else {})}
            for e in zoo]  # precision only when set: fingerprints of zoos without it stay as they were
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]


def weights_key(entry, data, cfg: TrainConfig, layout: Layout | str | None = None,
                teacher: dict | None = None, adversary: dict | None = None, objective: dict | None = None,
                stored: str | None = None) -> str:
    """Everything that determines the trained weights: the entry's definition and its recipe's values, the data,
    the training configuration (with the entry's own epochs), the resolved precision / memory layout and, for a
    distilled model, its teacher (``{"key": teacher weights, "weight": loss weight}``), for an adversarially
    trained one, its attack, for an ensemble trained jointly, its objective; for a published model
    (``sat_lib.weight_store``), the precision its weights are rounded to."""
    spec = {
        **entry_spec(entry),
        "data": {"name": data.name, "split": data.split, "fingerprint": data_fingerprint(data.images, data.labels)},
        "train": dataclasses.asdict(cfg),
    }
    if layout is not None:
        spec["layout"] = str(layout)
    if teacher is not None:
        spec["teacher"] = teacher
    if adversary is not None:
        spec["adversary"] = adversary
    if objective is not None:
        spec["objective"] = objective
    if stored is not None:
        spec["stored"] = stored
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _atomic_torch_save(obj, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def save_tensor(obj, path: Path) -> Path:
    """Write ``obj`` with ``torch.save`` atomically (temp file + rename); returns ``path``."""
    _atomic_torch_save(obj, Path(path))
    return Path(path)


def build_for(entry, data) -> nn.Module:
    """The zoo entry built for the dataset's image size and channels, wrapped with its normalisation."""
    from sat_lib.models import Normalized

    net = entry.build(num_classes=data.num_classes, img_size=data.image_size, in_chans=data.channels)
    return Normalized(net, data.mean, data.std)


def trained_model(entry, data, cfg: TrainConfig, *, device: torch.device, cache_dir: Path | None,
                  retrain: bool = False, teacher: Teacher | None = None,
                  adversary: Adversary | None = None, objective=None,
                  store: WeightStore | None = None) -> TrainedModel:
    """Return ``entry`` trained on ``data`` with ``cfg``, loading cached weights when they exist.

    ``cfg.epochs`` is scaled by the entry's ``epoch_scale``. The precision / memory layout is measured for the
    model first (``choose_layout``, cached per machine) and is part of the weights key; an entry's own
    ``precision`` replaces ``cfg.precision``. ``teacher``: distil from it (``sat_lib.train.Teacher``); its weights
    and loss weight join the key, and the cache file is named ``<entry>-distilled-<key>.pt``. ``adversary``:
    train adversarially (``sat_lib.train.Adversary``); its attack joins the key (``<entry>-robust-<key>.pt``).
    ``objective``: train with this loss instead of cross-entropy; it builds the model from the entry
    (``objective.build``: e.g. ``sat_lib.ensemble_training.EnsembleObjective`` trains ``size`` copies jointly as
    ``Members``, each initialised from the seeded generator in turn, the layout measured on one member;
    ``sat_lib.nas.SandwichObjective`` trains a super-network) and joins the key and the file name
    (``<entry><objective.stem>-<key>.pt``, e.g. ``-ens3-gncl-average``). ``store``: the model is published
    (``sat_lib.weight_store``): read from the store, else trained, its weights rounded to the store's precision and
    written there; the model continues with the rounded weights, and the local cache is not used."""
    cfg = dataclasses.replace(cfg, epochs=entry.epochs_for(cfg.epochs), precision=entry.precision_for(cfg.precision))
    torch.manual_seed(cfg.seed)
    if objective is None:
        model = build_for(entry, data).to(device)
        probe = model
    else:
        model, probe = objective.build(lambda: build_for(entry, data))
        model = model.to(device)
    layout = choose_layout(probe, (data.channels, data.image_size, data.image_size), cfg.precision, device)
    tkey = None if teacher is None else teacher.weights_spec()
    akey = None if adversary is None else adversary.weights_spec()
    okey = None if objective is None else objective.spec()
    stem = entry.name + ("-distilled" if teacher is not None else "") + ("-robust" if adversary is not None else "")
    if objective is not None:
        stem += objective.stem
    if store is not None:
        return _published(store, entry, data, cfg, model, layout, device, stem,
                          weights_key(entry, data, cfg, None, tkey, akey, okey, store.dtype), retrain,
                          teacher=teacher, adversary=adversary, objective=objective)
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / data.name / f"{stem}-{weights_key(entry, data, cfg, layout, tkey, akey, okey)}.pt"
        if path.exists() and not retrain:
            try:
                blob = torch.load(path, map_location="cpu", weights_only=True)
                model.load_state_dict(blob["state_dict"])
                info = json.loads(blob["info"])
                model.to(device=device, memory_format=layout.memory_format)
                return TrainedModel(entry.name, model.eval(), info["epoch_loss"], info["train_seconds"], True,
                                    str(layout), path)
            except Exception as err:  # a corrupt entry is a miss
                log.warning("ignoring unreadable weights %s (%s); retraining", path, err)
    tlog = _train(model, data, cfg, entry, device, layout, teacher, adversary, objective)
    if path is not None:
        info = json.dumps({"epoch_loss": tlog.epoch_loss, "train_seconds": tlog.seconds, "layout": str(layout)})
        _atomic_torch_save({"state_dict": {k: v.cpu() for k, v in model.state_dict().items()}, "info": info}, path)
    return TrainedModel(entry.name, model.eval(), tlog.epoch_loss, tlog.seconds, False, str(layout), path)


def _train(model, data, cfg, entry, device, layout, teacher, adversary, objective):
    images_u8 = torch.from_numpy(np.ascontiguousarray(data.images)).permute(0, 3, 1, 2).contiguous()
    labels = torch.from_numpy(np.asarray(data.labels, dtype=np.int64))
    return train(model, images_u8, labels, cfg, recipe=entry.recipe, device=device, desc=entry.name,
                 layout=layout, teacher=teacher, adversary=adversary, objective=objective)


def _published(store: WeightStore, entry, data, cfg, model, layout, device, stem: str, key: str, retrain: bool,
               **training) -> TrainedModel:
    """A published model (``sat_lib.weight_store``): the store's file is its only copy — read where it exists,
    else trained, rounded, written there and continued with rounded. Its path, which keys what is cached from
    the model (adversarial examples, outputs), is the same on every machine, and so is its recorded layout: the
    one it was trained in."""
    path = store.path(data.name, stem, key)
    published = None if retrain else store.read(path)
    if published is None:
        tlog = _train(model, data, cfg, entry, device, layout, **training)
        state = store.rounded(model.state_dict())
        model.load_state_dict(state)
        store.write(path, state, {"epoch_loss": tlog.epoch_loss, "train_seconds": tlog.seconds, "layout": str(layout)})
        return TrainedModel(entry.name, model.eval(), tlog.epoch_loss, tlog.seconds, False, str(layout), path)
    state, info = published
    model.load_state_dict(state)
    model.to(device=device, memory_format=layout.memory_format)
    return TrainedModel(entry.name, model.eval(), info["epoch_loss"], info["train_seconds"], True, info["layout"], path)
