"""Typed, validated, frozen chapter parameters.

A chapter declares its knobs as a frozen dataclass deriving from ``ChapterConfig``; values arriving as strings
(from ``-p name value`` on the command line) or from YAML are coerced to the declared type here, so the
library and the notebooks never parse strings. ``8/255`` is accepted wherever a float is expected.
"""
from __future__ import annotations

import dataclasses
import difflib
import typing
from collections.abc import Mapping
from fractions import Fraction
from typing import Any, ClassVar

import yaml


class ParameterError(ValueError):
    """A parameter that is unknown or of the wrong type; the message says which and what would fix it."""


def _parse_scalar(tp: type, value: Any, where: str) -> Any:
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in {"true", "false", "1", "0", "yes", "no"}:
            return value.strip().lower() in {"true", "1", "yes"}
        raise ParameterError(f"{where}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ParameterError(f"{where}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip().replace("_", ""))
            except ValueError:
                pass
        raise ParameterError(f"{where}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, bool):
            raise ParameterError(f"{where}: expected a number, got {value!r}")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(Fraction(value.strip()))
            except (ValueError, ZeroDivisionError):
                pass
        raise ParameterError(f"{where}: expected a number (e.g. 0.5 or 8/255), got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ParameterError(f"{where}: expected a string, got {value!r}")
    raise TypeError(f"unsupported parameter type {tp!r} at {where}")


def coerce(tp: Any, value: Any, where: str) -> Any:
    """Convert ``value`` to ``tp`` (bool, int, float, str, ``tuple[X, ...]`` or ``X | None``)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if value is None or (isinstance(value, str) and value.strip().lower() in {"none", "null"}):
            return None
        inner = [a for a in args if a is not type(None)]
        return coerce(inner[0], value, where)
    if origin is tuple:
        item = args[0]
        if isinstance(value, str):
            text = value.strip()
            parsed = yaml.safe_load(text) if text.startswith("[") else [v for v in text.split(",") if v.strip()]
            value = parsed if parsed is not None else []
        if not isinstance(value, (list, tuple)):
            value = [value]
        return tuple(coerce(item, v.strip() if isinstance(v, str) else v, f"{where}[{i}]")
                     for i, v in enumerate(value))
    return _parse_scalar(tp, value, where)


@dataclasses.dataclass(frozen=True)
class ChapterConfig:
    """Base of every chapter's parameters. Subclasses add typed fields with the quick-profile defaults."""

    chapter: ClassVar[str] = "chapter"
    # parameters of a section stored as its own result (keyed there): left out of this chapter's result key, so
    # adding or changing such a section never invalidates the chapter's own stored result
    section_params: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def field_types(cls) -> dict[str, Any]:
        hints = typing.get_type_hints(cls)
        return {f.name: hints[f.name] for f in dataclasses.fields(cls)}

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {f.name: f.default for f in dataclasses.fields(cls)}

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], *, strict: bool = False, where: str | None = None):
        """Build from a mapping; values are coerced. ``strict`` rejects keys that are not parameters."""
        types = cls.field_types()
        where = where or cls.chapter
        if strict:
            unknown = [k for k in values if k not in types]
            if unknown:
                key = unknown[0]
                close = difflib.get_close_matches(key, types, n=3, cutoff=0.5)
                hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
                raise ParameterError(f"{where}: unknown parameter {key!r}{hint} "
                                     f"(parameters: {', '.join(types)})")
        kwargs = {k: coerce(tp, values[k], f"{where}: parameter {k!r}") for k, tp in types.items() if k in values}
        try:
            return cls(**kwargs)
        except (ValueError, KeyError) as err:
            raise ParameterError(f"{where}: {err}") from err

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly (tuples as lists) — the form papermill injects and the results cache hashes."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}
