"""The papers' own numbers, kept as data (``<chapter>.yaml``) so chapters can put them beside ours."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

HERE = Path(__file__).parent


@lru_cache(maxsize=None)
def paper_claims(chapter: str) -> dict:
    path = HERE / f"{chapter}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in HERE.glob("*.yaml"))
        raise KeyError(f"no paper claims for chapter {chapter!r}; known: {known}")
    return yaml.safe_load(path.read_text())
