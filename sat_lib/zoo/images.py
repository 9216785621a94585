"""The images a zoo is trained on and scored on: the training split (or a seeded subset), one seeded draw of test
images, seeded subsets of that draw, and its corrupted copies (made once and kept in the cache, never committed).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from sat_lib.config import project_config


def check_zoo_and_dataset(zoo: str, models, dataset: str) -> None:
    """At parsing time: the zoo, its named models and the dataset exist (unknown names raise ``KeyError`` with
    close matches), so a typo exits with status 2 before anything is computed."""
    from sat_lib.data import DATASETS
    from sat_lib.models import get_zoo

    z = get_zoo(zoo)
    for name in models:
        z[name]
    DATASETS[dataset]


def training_split(dataset: str, train_size: int, seed: int):
    """The training split, or a seeded subset of ``train_size`` images of it (0: all)."""
    train = project_config().load_data(dataset, "train")
    return train.sample(train_size, seed=seed) if 0 < train_size < len(train) else train


def image_sample(n_test: int, n: int, seed: int) -> np.ndarray:
    """``n`` of the ``n_test`` test images, by index: one seeded draw without replacement, sorted. Every chapter
    that scores a zoo on test images draws them here, so equal (n, seed) give the same images (and the same
    cached adversarial examples and corrupted sets)."""
    if n > n_test:
        raise ValueError(f"n_images = {n} exceeds the {n_test} test images")
    return np.sort(np.random.default_rng(seed).choice(n_test, size=n, replace=False))


def subset_positions(n: int, k: int, seed: int) -> np.ndarray:
    """Sorted positions of a seeded random ``k`` of the ``n`` drawn images (all of them when k = n). The draw is
    sorted by test index and a test split may be stored class by class (the CIFAR-10 copy here is), so "the first
    k images of the draw" would be one or two classes; chapters that use part of the draw take this instead."""
    if not 0 < k <= n:
        raise ValueError(f"subset_positions: k = {k} must be between 1 and the draw's {n} images")
    if k == n:
        return np.arange(n)
    return np.sort(np.random.default_rng([seed, n, k]).choice(n, size=k, replace=False))


def one_per_class(labels: np.ndarray, k: int) -> np.ndarray:
    """Positions (into ``labels``) of ``k`` images, the first of each class in turn (classes in order of first
    appearance, then the next of each), so a figure of k images shows as many classes as it can."""
    labels = np.asarray(labels)
    queues = {c: list(np.flatnonzero(labels == c)) for c in dict.fromkeys(labels.tolist())}
    out: list[int] = []
    while len(out) < min(k, len(labels)):
        for q in queues.values():
            if q and len(out) < k:
                out.append(int(q.pop(0)))
    return np.array(out, dtype=np.int64)


def corrupted_path(dataset: str, name: str, severity: float, seed: int, idx: np.ndarray) -> Path:
    """Where the test images at ``idx`` corrupted by ``name`` at ``severity`` lie in the cache."""
    key = hashlib.sha256(idx.tobytes()).hexdigest()[:12]
    return project_config().cache_dir / "corrupted" / dataset / f"{name}-{severity:g}-seed{seed}-{key}.npy"


def corrupted_set(dataset: str, name: str, severity: float, seed: int, idx: np.ndarray) -> np.ndarray:
    """The test images at ``idx`` corrupted (uint8 (n, H, W, C)), from the cache or made and cached. Grey
    images are corrupted as RGB (the grey repeated) and averaged back."""
    from sat_lib._files import atomic_path
    from sat_lib.corruptions import corrupt

    path = corrupted_path(dataset, name, severity, seed, idx)
    if path.exists():
        return np.load(path)
    clean = project_config().load_data(dataset, "test").images[idx]
    grey = clean.shape[-1] == 1
    images = corrupt(np.repeat(clean, 3, axis=3) if grey else clean, name, severity, seed=seed)
    if grey:
        images = np.round(images.mean(axis=3, keepdims=True)).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, images)
    return images


def stored_corrupted_set(dataset: str, name: str, severity: float, seed: int, idx: np.ndarray) -> str:
    """Make the corrupted set once (``corrupted_set``) and return its cache path, for jobs that read it."""
    corrupted_set(dataset, name, severity, seed, idx)
    return str(corrupted_path(dataset, name, severity, seed, idx))
