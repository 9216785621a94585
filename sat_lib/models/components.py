"""The 13 architecture components of the SAT paper (Table 2) and their allowed values.

The vocabulary is data (``components.yaml``); this module loads it and checks architecture cards against it.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

import yaml

FAMILIES: tuple[str, ...] = ("CNN", "Transformer", "MLP-Mixer", "Hybrid", "NAS")
"""Model families: the base architecture without its qualifier ("NAS (CNN)" → "NAS")."""


@dataclass(frozen=True)
class Component:
    """One architecture component: its key, the paper's label and the values a card may use."""

    name: str
    label: str
    values: tuple[str, ...] = ()
    pattern: str | None = None
    help: str = ""

    def allows(self, value: str) -> bool:
        return value in self.values or (self.pattern is not None and re.fullmatch(self.pattern, value) is not None)

    def describe_allowed(self) -> str:
        parts = [", ".join(map(repr, self.values))] if self.values else []
        if self.pattern:
            parts.append(f"or a match of {self.pattern!r}")
        return " ".join(parts)


def _load_components() -> dict[str, Component]:
    text = resources.files(__package__).joinpath("components.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    return {
        name: Component(name=name, label=spec["label"], values=tuple(str(v) for v in spec.get("values", ())),
                        pattern=spec.get("pattern"), help=spec.get("help", "").strip())
        for name, spec in raw.items()
    }


COMPONENT_SPECS: dict[str, Component] = _load_components()
COMPONENTS: tuple[str, ...] = tuple(COMPONENT_SPECS)
"""The 13 component keys, in the order of the paper's Table 2."""


def family_of(base_architecture: str) -> str:
    """The model family of a base-architecture value: ``"NAS (CNN)"`` → ``"NAS"``."""
    family = base_architecture.split(" (")[0]
    if family not in FAMILIES:
        raise ValueError(f"family_of: base architecture {base_architecture!r} is none of the families {FAMILIES}")
    return family


def card_problems(card: Mapping[str, str]) -> list[str]:
    """Everything wrong with a card: missing or extra components, values outside the vocabulary."""
    problems = [f"missing component {name!r}" for name in COMPONENTS if name not in card]
    problems += [f"unknown component {name!r} (known: {', '.join(COMPONENTS)})" for name in card
                 if name not in COMPONENT_SPECS]
    for name, value in card.items():
        spec = COMPONENT_SPECS.get(name)
        if spec is not None and not spec.allows(str(value)):
            problems.append(f"{name}={value!r} is not allowed; expected {spec.describe_allowed()}")
    if card.get("channel_attention") == "No" and card.get("channel_attention_location", "-") != "-":
        problems.append("channel_attention_location must be '-' when channel_attention is 'No'")
    return problems


def check_card(card: Mapping[str, str], *, where: str) -> dict[str, str]:
    """Return the card as a plain ``dict`` in component order, or raise ``ValueError`` naming every problem."""
    problems = card_problems(card)
    if problems:
        raise ValueError(f"{where}: bad architecture card: " + "; ".join(problems)
                         + " (the vocabulary is sat_lib/models/components.yaml)")
    return {name: str(card[name]) for name in COMPONENTS}
