"""The model zoos, loaded from data: ``zoos/<zoo>.yaml`` (how to build each model) and ``cards/<zoo>.csv``
(each model's 13 architecture components). Adding a zoo is adding those two files.

A zoo YAML has ``name``, ``description``, ``image_size`` (null = the dataset's, "native", or an int),
``stability_pair``, ``cards`` (the CSV's stem), ``defaults`` (entry fields shared by all entries) and ``entries``
(name → fields of ``ZooEntry``: ``builder``, ``timm_name``, ``kwargs``, ``recipe``, ``pretrained_tag``, ``notes``,
``epoch_scale``, ``precision``).
A subset zoo has ``subset_of: <zoo>`` and ``entries`` as a list of that zoo's names.
"""
from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Mapping
from importlib import resources
from typing import Any

import pandas as pd
import yaml

from sat_lib.models._entry import Zoo, ZooEntry
from sat_lib.models.components import COMPONENTS, check_card, family_of
from sat_lib.registry import Registry

DEFAULT_RECIPE: dict[str, str] = {"CNN": "sgd", "NAS": "sgd", "Transformer": "adamw", "MLP-Mixer": "adamw",
                                  "Hybrid": "adamw"}
"""Recipe of an entry that names none: SGD for CNN-style families, AdamW for the others."""

_ENTRY_FIELDS = {"builder", "timm_name", "kwargs", "recipe", "pretrained_tag", "notes", "epoch_scale",
                 "precision"}
_SUBSET_OVERRIDES = {"epoch_scale", "precision"}  # what a subset zoo may train differently from its parent
_ZOO_FIELDS = {"name", "description", "image_size", "stability_pair", "cards", "defaults", "entries", "subset_of"}
_CARD_EXTRA_COLUMNS = ("paper_name", "notes")

ZOOS: Registry[Zoo] = Registry("model zoo")


def _data_file(*parts: str):
    return resources.files(__package__).joinpath(*parts)


def read_cards(stem: str) -> dict[str, dict[str, str]]:
    """The rows of ``cards/<stem>.csv`` by model name (all values as strings; no NaN guessing)."""
    path = _data_file("cards", f"{stem}.csv")
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    columns = set(rows[0]) if rows else set()
    unknown = columns - set(COMPONENTS) - {"name", *_CARD_EXTRA_COLUMNS}
    if unknown:
        raise ValueError(f"cards/{stem}.csv: unknown columns {sorted(unknown)}; expected name, the 13 components "
                         f"and optionally {_CARD_EXTRA_COLUMNS}")
    out: dict[str, dict[str, str]] = {}
    for row in rows:
        name = row.pop("name")
        if name in out:
            raise ValueError(f"cards/{stem}.csv: model {name!r} appears twice")
        out[name] = {k: (v or "").strip() for k, v in row.items()}
    return out


def _entry(name: str, fields: Mapping[str, Any], card_row: Mapping[str, str], where: str) -> ZooEntry:
    unknown = set(fields) - _ENTRY_FIELDS
    if unknown:
        raise ValueError(f"{where}: entry {name!r} has unknown fields {sorted(unknown)}; "
                         f"allowed: {sorted(_ENTRY_FIELDS)}")
    card = check_card({c: v for c, v in card_row.items() if c not in _CARD_EXTRA_COLUMNS},
                      where=f"{where}: {name}")
    family = family_of(card["base_architecture"])
    notes = " ".join(filter(None, [str(fields.get("notes", "")).strip(), card_row.get("notes", "")]))
    return ZooEntry(
        name=name, family=family, recipe=fields.get("recipe", DEFAULT_RECIPE[family]), card=card,
        builder=fields.get("builder", ""), timm_name=fields.get("timm_name", ""), kwargs=fields.get("kwargs") or {},
        notes=notes, pretrained_tag=fields.get("pretrained_tag", ""), paper_name=card_row.get("paper_name", ""),
        epoch_scale=fields.get("epoch_scale", 1.0), precision=fields.get("precision", ""))


def _zoo_from_spec(spec: Mapping[str, Any], file: str) -> Zoo:
    unknown = set(spec) - _ZOO_FIELDS
    if unknown:
        raise ValueError(f"{file}: unknown fields {sorted(unknown)}; allowed: {sorted(_ZOO_FIELDS)}")
    name = spec["name"]
    if "subset_of" in spec:
        parent = ZOOS[spec["subset_of"]]
        unknown = [n for n in spec["entries"] if n not in parent]
        if unknown:
            raise ValueError(f"{file}: {', '.join(parent.unknown_message(n) for n in unknown)}")
        # a list of the parent's names, or a mapping of names to what this zoo trains differently
        overrides = spec["entries"] if isinstance(spec["entries"], Mapping) else dict.fromkeys(spec["entries"])
        odd = [n for n, o in overrides.items() if o is not None and not isinstance(o, Mapping)]
        if odd:
            raise ValueError(f"{file}: entry {odd[0]!r} must map fields to values (e.g. {{epoch_scale: 2}}), "
                             f"got {overrides[odd[0]]!r}")
        bad = {n: sorted(set(o) - _SUBSET_OVERRIDES) for n, o in overrides.items() if set(o or {}) - _SUBSET_OVERRIDES}
        if bad:
            raise ValueError(f"{file}: a subset may only change {sorted(_SUBSET_OVERRIDES)} of its parent's entries; "
                             f"got {bad}")
        entries = tuple(dataclasses.replace(parent[n], **o) if o else parent[n] for n, o in overrides.items())
    else:
        cards = read_cards(spec.get("cards", name))
        defaults = spec.get("defaults") or {}
        missing = sorted(set(spec["entries"]) - set(cards))
        extra = sorted(set(cards) - set(spec["entries"]))
        if missing or extra:
            raise ValueError(f"{file}: entries and cards/{spec.get('cards', name)}.csv disagree: "
                             f"no card for {missing}, no entry for {extra}")
        entries = tuple(_entry(n, {**defaults, **(f or {})}, cards[n], file) for n, f in spec["entries"].items())
    pair = spec.get("stability_pair")
    return Zoo(name=name, entries=entries, image_size=spec.get("image_size"),
               stability_pair=tuple(pair) if pair else None, description=str(spec.get("description", "")).strip())


def _load_all() -> None:
    specs = []
    for item in sorted(_data_file("zoos").iterdir(), key=lambda p: p.name):
        if item.name.endswith(".yaml"):
            specs.append((f"zoos/{item.name}", yaml.safe_load(item.read_text(encoding="utf-8"))))
    for file, spec in sorted(specs, key=lambda fs: "subset_of" in fs[1]):  # parents before subsets
        ZOOS.register(spec["name"], _zoo_from_spec(spec, file))


def get_zoo(zoo: str | Zoo) -> Zoo:
    """The zoo called ``zoo`` (a ``Zoo`` passes through); unknown names raise ``KeyError`` with close matches."""
    return zoo if isinstance(zoo, Zoo) else ZOOS[zoo]


def build_model(zoo: str | Zoo, name: str, *, num_classes: int, img_size: int, in_chans: int = 3,
                pretrained: bool = False):
    """Build model ``name`` of ``zoo`` (see ``ZooEntry.build``)."""
    return get_zoo(zoo)[name].build(num_classes=num_classes, img_size=img_size, in_chans=in_chans,
                                    pretrained=pretrained)


def card(zoo: str | Zoo, name: str) -> dict[str, str]:
    """The 13-component architecture card of model ``name`` of ``zoo``."""
    return dict(get_zoo(zoo)[name].card)


def cards_frame(zoo: str | Zoo) -> pd.DataFrame:
    """One row per model (index ``model``), columns: the 13 components, then ``family``."""
    z = get_zoo(zoo)
    frame = pd.DataFrame([{**e.card, "family": e.family} for e in z], index=pd.Index(z.names(), name="model"))
    return frame[[*COMPONENTS, "family"]]


_load_all()
