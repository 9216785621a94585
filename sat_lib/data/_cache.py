"""Decoded arrays cached as ``.npz``, keyed by dataset, split, source (path, size, mtime) and options.

An unreadable or mismatched entry is a miss (logged, then rebuilt), never a crash. Writes go to a temporary
file in the same folder and are renamed into place, so a reader never sees a partial file.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sat_lib._files import atomic_path

from sat_lib.data._imagedata import ImageData

log = logging.getLogger(__name__)

CACHE_VERSION = 1  # bump when the decoded arrays of an unchanged source would differ


def fingerprint(path: Path) -> dict[str, Any]:
    """Resolved path, size and mtime of a file; for a folder the same over all files below it."""
    path = path.resolve()
    if path.is_file():
        st = path.stat()
        return {"path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    entries = []
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        for name in sorted(filenames):
            st = os.stat(os.path.join(dirpath, name))
            entries.append((os.path.relpath(os.path.join(dirpath, name), path), st.st_size, st.st_mtime_ns))
    listing = hashlib.sha256(json.dumps(entries).encode()).hexdigest()
    return {
        "path": str(path),
        "files": len(entries),
        "size": sum(e[1] for e in entries),
        "mtime_ns": max((e[2] for e in entries), default=0),
        "listing": listing,
    }


def cache_key(name: str, split: str, source: Path, fmt: str, options: Mapping[str, Any]) -> str:
    """A hex digest of everything that determines the decoded arrays."""
    payload = {
        "version": CACHE_VERSION,
        "dataset": name,
        "split": split,
        "format": fmt,
        "source": fingerprint(source),
        "options": dict(options),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


class ArrayCache:
    """A folder of ``<dataset>-<split>-<key>.npz`` entries."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def path_for(self, name: str, split: str, key: str) -> Path:
        return self.directory / f"{name}-{split}-{key[:20]}.npz"

    def load(self, name: str, split: str, key: str) -> ImageData | None:
        """The cached entry, or ``None`` when absent, unreadable or written under another key."""
        path = self.path_for(name, split, key)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as npz:
                meta = json.loads(str(npz["meta"]))
                if meta.get("key") != key:
                    log.warning("cache entry %s was written for another key; rebuilding it", path)
                    return None
                return ImageData(
                    images=npz["images"],
                    labels=npz["labels"],
                    classes=tuple(npz["classes"].tolist()),
                    mean=tuple(npz["mean"].tolist()),
                    std=tuple(npz["std"].tolist()),
                    name=meta["name"],
                    split=meta["split"],
                    source=meta["source"],
                )
        except (OSError, EOFError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
            log.warning("cache entry %s is unreadable (%s: %s); rebuilding it", path, type(exc).__name__, exc)
            return None

    def save(self, data: ImageData, key: str) -> Path:
        """Write ``data`` atomically; on any failure no partial or temporary file is left behind."""
        path = self.path_for(data.name, data.split, key)
        self.directory.mkdir(parents=True, exist_ok=True)
        meta = {"key": key, "name": data.name, "split": data.split, "source": data.source}
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(
                f,
                images=data.images,
                labels=data.labels,
                classes=np.array(data.classes, dtype=str),
                mean=np.array(data.mean, dtype=np.float64),
                std=np.array(data.std, dtype=np.float64),
                meta=np.array(json.dumps(meta)),
            )
            f.flush()
            os.fsync(f.fileno())
        log.info("cached %s/%s (%d images) in %s", data.name, data.split, len(data), path)
        return path
