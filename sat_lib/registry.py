"""A small named registry shared by datasets, zoos, models, measures and chapters.

Adding an entry is one decorated function or one ``register`` call; tests iterate the registry, so every
entry is exercised automatically. Unknown keys raise ``KeyError`` with close-match suggestions.
"""
from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError):
    """An unknown registry key; the message lists close matches.

    Subclasses ``KeyError`` (so ``except KeyError`` works) but prints its message without KeyError's quoting.
    """

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class Registry(Generic[T]):
    """Maps names to entries. ``kind`` names what the registry holds, for error messages."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str, entry: T) -> T:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = entry
        return entry

    def decorator(self, name: str | None = None) -> Callable[[T], T]:
        """``@registry.decorator()`` registers a function under its own name (or ``name``)."""

        def wrap(entry: T) -> T:
            self.register(name or entry.__name__, entry)  # type: ignore[attr-defined]
            return entry

        return wrap

    def __getitem__(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        close = difflib.get_close_matches(str(name), self._entries, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        return f"unknown {self.kind} {name!r}{hint} (known: {', '.join(sorted(self._entries))})"

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def items(self):
        return self._entries.items()

    def names(self, pattern: str = "*") -> list[str]:
        """Names matching a glob pattern, in registration order."""
        return [n for n in self._entries if fnmatch.fnmatchcase(n, pattern)]
