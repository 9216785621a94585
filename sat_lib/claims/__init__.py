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


def scored_claims(chapter: str) -> dict:
    """The entries of a chapter's claims file that a claims table scores (``claims:``), each checked to declare
    its kind and what the kind needs (``sat_lib.claims.verdict.check_claim``)."""
    from sat_lib.claims.verdict import check_claim

    entries = paper_claims(chapter).get("claims") or {}
    for key, claim in entries.items():
        check_claim(claim, f"sat_lib/claims/{chapter}.yaml: claims.{key}")
    return entries
