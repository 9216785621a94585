"""Errors raised when a dataset cannot be found or read."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class DatasetError(Exception):
    """Base class of the data errors; catch this to handle both kinds."""


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """No candidate location holds the dataset. ``looked_in`` lists every place tried, with why it failed."""

    def __init__(self, message: str, looked_in: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.looked_in = tuple(looked_in)

    def __str__(self) -> str:  # OSError would format (errno, strerror)
        return str(self.args[0])


class CorruptDatasetError(DatasetError, ValueError):
    """A dataset file exists but cannot be read; ``path`` names the file, the message says what was wrong."""

    def __init__(self, path: str | Path, problem: str, fix: str = "") -> None:
        self.path = Path(path)
        self.problem = problem
        hint = f" {fix}" if fix else ""
        super().__init__(f"corrupt dataset file {self.path}: {problem}.{hint}")
