"""``load_dataset``: validate the request, locate the source, then a cache hit or one decode."""
from __future__ import annotations

import difflib
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sat_lib.data._cache import ArrayCache, cache_key
from sat_lib.data._dataset import DATASETS
from sat_lib.data._imagedata import ImageData

log = logging.getLogger(__name__)


def _close(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    return f"; did you mean {', '.join(map(repr, close))}?" if close else ""


def load_dataset(
    name: str,
    split: str,
    *,
    roots: Sequence[str | Path] = (),
    cache_dir: str | Path | None = None,
    download: bool = False,
    download_dir: str | Path | None = None,
    **options: Any,
) -> ImageData:
    """One split of a registered dataset (see ``DATASETS``) as uint8 arrays.

    ``roots`` are candidate locations tried in order (files or folders; each dataset knows the layouts it
    accepts there and a few well-known names inside a folder); the first readable one is used. With
    ``cache_dir`` the decoded arrays are cached there as ``.npz`` (keyed by dataset, split, the source's
    path, size and mtime, and ``options``); ``None`` disables the cache. With ``download=True`` and nothing
    found, the dataset is downloaded into ``download_dir`` (where offered). ``options`` are dataset-specific
    (e.g. ``max_images`` for ``imagenet_val``).

    Raises ``KeyError`` for an unknown dataset, ``ValueError`` for a bad split or option value,
    ``TypeError`` for an unknown option, ``DatasetNotFoundError`` naming every place looked, and
    ``CorruptDatasetError`` naming the bad file.
    """
    dataset = DATASETS[name]
    if split not in dataset.splits:
        raise ValueError(
            f"load_dataset({name!r}): unknown split {split!r}{_close(str(split), dataset.splits)} "
            f"(splits: {', '.join(dataset.splits)})"
        )
    unknown = sorted(set(options) - set(dataset.options))
    if unknown:
        accepted = ", ".join(dataset.options) or "none"
        hints = "".join(_close(u, list(dataset.options)) for u in unknown)
        raise TypeError(f"load_dataset({name!r}): unknown option(s) {', '.join(unknown)}{hints} (accepted: {accepted})")
    opts = dataset.check_options(options)
    if isinstance(roots, (str, Path)):
        roots = (roots,)
    source = dataset.locate(
        [Path(r) for r in roots],
        download=download,
        download_dir=None if download_dir is None else Path(download_dir),
        split=split,
    )

    cache = key = None
    if cache_dir is not None:
        cache = ArrayCache(cache_dir)
        key = cache_key(name, split, source.path, source.format.name, opts)
        start = time.perf_counter()
        hit = cache.load(name, split, key)
        if hit is not None:
            elapsed = time.perf_counter() - start
            log.info("%s/%s: cache hit %s (%.2f s)", name, split, cache.path_for(name, split, key), elapsed)
            return hit

    data = dataset.load(source, split, opts)
    if cache is not None and key is not None:
        try:
            cache.save(data, key)
        except OSError as exc:  # a full disk or read-only cache must not lose the decoded data
            log.warning("could not cache %s/%s in %s: %s", name, split, cache.directory, exc)
    return data
