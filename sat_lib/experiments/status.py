"""The book's status page: every table and figure of the four papers, where the book reproduces it, and the
verdicts of the chapters' claims, read from the stored results of one profile (nothing is computed here)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pandas as pd

from sat_lib.experiments._chapter import CHAPTERS, Chapter, register, resolve_params
from sat_lib.params import ChapterConfig
from sat_lib.results import CacheMiss

PROFILES = ("smoke", "quick", "paper")


@dataclass(frozen=True)
class Config(ChapterConfig):
    chapter: ClassVar[str] = "status"
    profile: str = ""   # the profile whose stored results the page reads ("": the book's default profile)

    def __post_init__(self) -> None:
        if self.profile and self.profile not in PROFILES:
            raise ValueError(f"parameter 'profile' must be one of {PROFILES} or empty, got {self.profile!r}")


def collect(cfg: Config, mode: str = "cache_only") -> dict[str, tuple[pd.DataFrame, str] | None]:
    """Per chapter with paper claims: (claims table, provenance line) of its stored results at ``cfg.profile``,
    or None when that profile's results are not stored (the chapter has not been run at it)."""
    out: dict[str, tuple[pd.DataFrame, str] | None] = {}
    for name, chapter in CHAPTERS.items():
        if chapter.claims is None:
            continue
        try:
            out[name] = chapter.claims(resolve_params(name, cfg.profile or None), mode)
        except CacheMiss:
            out[name] = None
    return out


CHAPTER = register(Chapter(
    name=Config.chapter,
    title="What is reproduced",
    part="Overview",
    config=Config,
    compute=collect,
    summary="Every table and figure of the four papers: the chapter that reproduces it, its verdicts, or why not.",
    reads_all_results=True,
))
