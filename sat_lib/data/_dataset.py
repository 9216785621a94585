"""What a dataset is to the loader: its splits, options, on-disk formats and where to look for them.

A ``Dataset`` turns candidate roots into a ``Source`` (a path plus the ``Format`` that reads it), falling
back to a download where asked. Each ``Format`` has a cheap ``can_read(path)`` (names and a peek, no
decoding) and a ``read(path, split, **options)`` that decodes or raises ``CorruptDatasetError``.
"""
from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import numpy as np

from sat_lib.data._errors import DatasetNotFoundError
from sat_lib.data._imagedata import ImageData
from sat_lib.registry import Registry

log = logging.getLogger(__name__)


class Decoded(NamedTuple):
    """What a format reader returns: uint8 ``(N, H, W, C)`` images, int64 labels, class names."""

    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]


class Format(ABC):
    """One on-disk layout of a dataset."""

    name: ClassVar[str]
    description: ClassVar[str]  # for "not found" messages, e.g. "cifar-10-python.tar.gz"

    @abstractmethod
    def can_read(self, path: Path) -> bool:
        """Whether ``path`` looks like this format (cheap: names, a peek; never a full decode)."""

    @abstractmethod
    def read(self, path: Path, split: str, **options: Any) -> Decoded:
        """Decode ``split`` from ``path``; raises ``CorruptDatasetError`` naming the bad file."""


@dataclass(frozen=True)
class Source:
    """A located dataset: where it is and which format reads it."""

    path: Path
    format: Format


class Dataset(ABC):
    """A registered dataset. Subclasses set the class attributes and list their formats."""

    name: ClassVar[str]
    title: ClassVar[str]  # human name for messages, e.g. "CIFAR-10"
    num_classes: ClassVar[int]  # classes of its labels (a class subset relabels: ImageData.select_classes)
    splits: ClassVar[tuple[str, ...]]
    options: ClassVar[Mapping[str, Any]] = {}  # accepted loader options and their defaults
    how_to_get: ClassVar[str]
    mean: ClassVar[tuple[float, ...]] = ()
    std: ClassVar[tuple[float, ...]] = ()
    can_download: ClassVar[bool] = False

    @property
    @abstractmethod
    def formats(self) -> Registry[Format]:
        """The formats this dataset can be read from, tried in registration order."""

    def default_roots(self) -> tuple[Path, ...]:
        """Places tried after the caller's roots (e.g. a distribution's package path)."""
        return ()

    def candidates(self, root: Path) -> list[Path]:
        """The locations one root stands for: the root itself, plus well-known names inside a folder."""
        return [root]

    def download(self, download_dir: Path, split: str) -> list[Path]:
        """Fetch the dataset into ``download_dir``; returns the candidates to try afterwards."""
        raise NotImplementedError(f"{self.title} cannot be downloaded")

    def download_candidates(self, download_dir: Path) -> list[Path]:
        """Where an earlier download into ``download_dir`` would be."""
        return []

    def check_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """Validated options with defaults filled in. Subclasses add value checks."""
        return {**self.options, **options}

    def statistics(self, source: Source, options: Mapping[str, Any]) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Per-channel mean and std of the train split, [0, 1] scale."""
        return self.mean, self.std

    def locate(self, roots: Sequence[Path], *, download: bool, download_dir: Path | None, split: str) -> Source:
        """The first candidate location some format can read; downloads if asked and nothing is found."""
        places = [Path(p).expanduser() for p in (*roots, *self.default_roots())]
        looked: list[str] = []
        seen: set[Path] = set()

        def search(paths: Iterable[Path]) -> Source | None:
            for path in paths:
                path = path.expanduser().absolute()
                if path in seen:
                    continue
                seen.add(path)
                if not path.exists():
                    looked.append(f"{path} (missing)")
                    continue
                for fmt_name, fmt in self.formats.items():
                    if fmt.can_read(path):
                        log.debug("%s: reading %s as %s", self.name, path, fmt_name)
                        return Source(path, fmt)
                looked.append(f"{path} (exists, but is not a {self.title} layout)")
            return None

        found = search(p for root in places for p in self.candidates(root))
        if found is None and download_dir is not None:
            found = search(self.download_candidates(Path(download_dir)))
        if found is None and download:
            if download_dir is None:
                raise ValueError(
                    f"load_dataset({self.name!r}): download=True needs download_dir, the folder to download "
                    f"into (e.g. data/raw, which git ignores)"
                )
            if not self.can_download:
                looked.append(f"download (not offered: {self.title} cannot be downloaded automatically)")
            else:
                try:
                    after = self.download(Path(download_dir), split)
                except Exception as exc:  # network errors come in many types (URLError, RuntimeError, OSError)
                    looked.append(f"download into {download_dir} (failed: {type(exc).__name__}: {exc})")
                else:
                    seen.difference_update(p.expanduser().absolute() for p in after)
                    found = search(after)
        if found is None:
            raise DatasetNotFoundError(self.not_found_message(looked), looked)
        return found

    def not_found_message(self, looked: Sequence[str]) -> str:
        places = "".join(f"\n  - {p}" for p in looked) or " nowhere (no roots given)"
        layouts = "; ".join(f.description for _, f in self.formats.items())
        return (
            f"{self.title} not found; looked in:{places}\n"
            f"Accepted layouts: {layouts}.\n"
            f"Get it with: {self.how_to_get}"
        )

    def load(self, source: Source, split: str, options: Mapping[str, Any]) -> ImageData:
        """Decode ``split`` from ``source`` into an ``ImageData``."""
        decoded = source.format.read(source.path, split, **options)
        mean, std = self.statistics(source, options)
        return ImageData(
            images=decoded.images,
            labels=decoded.labels,
            classes=decoded.classes,
            mean=mean,
            std=std,
            name=self.name,
            split=split,
            source=str(source.path),
        )


DATASETS: Registry[Dataset] = Registry("dataset")


def num_classes(name: str) -> int | None:
    """The number of classes of registered dataset ``name`` without loading it (None: not registered)."""
    return DATASETS[name].num_classes if name in DATASETS else None


def register_dataset(cls: type[Dataset]) -> type[Dataset]:
    """Class decorator: registers one instance of ``cls`` under ``cls.name``."""
    DATASETS.register(cls.name, cls())
    return cls
