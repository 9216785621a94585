"""The chapter registry: each chapter of the book is a notebook plus a typed config and one compute function."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import xarray as xr

from sat_lib.config import ProjectConfig, project_config
from sat_lib.params import ChapterConfig
from sat_lib.registry import Registry


@dataclass(frozen=True)
class Retimer:
    """How to redo one chapter's per-model work (``sat_lib.retime``): ``jobs(cfg)`` maps each model's (or
    population's) label to its job, ``job`` runs one (the chapter's own per-model job, which writes to the cache /
    results folder in force)."""

    jobs: Callable[[Any], dict[str, Any]]
    job: Callable[[Any], Any]
    then: str = "sat-companion run {chapter} --recompute"
    """What to run afterwards so the chapter shows the new timings (``{chapter}`` is filled in): rebuild its
    result from the cache, or — where the redone files *are* the chapter's result — just re-execute it."""

    def next_step(self, chapter: str) -> str:
        return self.then.format(chapter=chapter)


@dataclass(frozen=True)
class Chapter:
    name: str
    title: str
    part: str
    config: type[ChapterConfig]
    compute: Callable[..., xr.Dataset | dict[str, xr.Dataset]]  # one result, or one per population
    summary: str = ""
    # (cfg, mode) → (claims table, "device · commit · date" of the results it was computed from): the rows of
    # the paper's claims beside ours that the status page collects; None for a chapter without paper claims
    claims: Callable[[ChapterConfig, str], tuple[pd.DataFrame, str]] | None = None
    reads_all_results: bool = False  # the status page: executed after every other chapter, depends on all results
    version: int = 1  # the result schema version its ``cached`` call uses (part of the result key)
    # cfg → the configs of the stored results it reads; their keys join its own result key (see ``result_key_params``)
    upstream: Callable[[ChapterConfig], tuple[ChapterConfig, ...]] = lambda cfg: ()
    # sections stored as their own results (``data/results/<section>/``) that the chapter's notebook shows, each with
    # its reader: cfg → the section's stored result (``cache_only``: nothing computed), None where nothing is stored;
    # a reader of None: per-model results read through another section
    sections: Mapping[str, Callable[[ChapterConfig], xr.Dataset | None] | None] = field(default_factory=dict)
    # how ``sat-companion retime`` redoes its per-model work; None for a chapter without re-timeable jobs
    retime: Retimer | None = None
    # False for a chapter whose committed profile is not computed yet: it runs (`sat-companion run`), but stays out
    # of the book (its table of contents, `sat-companion book`) until its result is stored and it is switched on
    in_book: bool = True
    # cfg → what its full run builds and does with each model (``sat_lib.dryrun.DryJob``), for ``sat-companion run
    # --dry-run``; None: the zoo models its parameters name (``sat_lib.zoo.dry.named_jobs``; none for a chapter that
    # only reads stored results)
    dry_run: Callable[[ChapterConfig], list] | None = None

    @property
    def source(self) -> str:
        """The chapter's text and cells: a MyST-markdown notebook (jupytext), path relative to the project root."""
        return f"notebooks/{self.name}.md"


def book_chapters() -> list[str]:
    """The chapters of the book, in its order (``Chapter.in_book``)."""
    return [name for name, ch in CHAPTERS.items() if ch.in_book]


def execution_order() -> list[str]:
    """Chapter names in the order a whole-book run executes them: the book's order, except that a chapter that
    reads every other chapter's results (the status page) comes after them."""
    return sorted(book_chapters(), key=lambda name: CHAPTERS[name].reads_all_results)


def provenance_line(ds: xr.Dataset) -> str:
    """"cpu (…, 2 threads) · commit 1a2b3c4d · 2026-11-29": where and from which code a stored result came."""
    commit = str(ds.attrs.get("git_commit", "unknown"))
    short = commit[:8] + ("-dirty" if commit.endswith("-dirty") else "")
    return f"{ds.attrs.get('device', 'unknown device')} · commit {short} · {str(ds.attrs.get('created_at', ''))[:10]}"


CHAPTERS: Registry[Chapter] = Registry("chapter")


def register(chapter: Chapter) -> Chapter:
    return CHAPTERS.register(chapter.name, chapter)


def resolve_params(name: str, profile: str | None = None, overrides: dict | None = None,
                   config: ProjectConfig | None = None) -> ChapterConfig:
    """Defaults ← the profile in ``_config.yml`` ← ``overrides``; every value typed and validated."""
    ch = CHAPTERS[name]
    config = config or project_config()
    profile = profile or config.default_profile
    values = dict(config.profile(name, profile))
    ch.config.from_mapping(values, strict=True, where=f"{config.path} chapters.{name}.{profile}")  # the profile alone
    values.update(overrides or {})
    return ch.config.from_mapping(values, strict=True, where=f"chapter {name!r}")


def cached(cfg: ChapterConfig, compute: Callable[[ChapterConfig], xr.Dataset], *, version: int,
           mode: str = "auto") -> xr.Dataset:
    """A chapter's one compute call: the stored result for these parameters (and upstream results, see
    ``result_key_params``), or compute and store it."""
    from sat_lib.provenance import default_device
    from sat_lib.results import load_or_compute

    pc = project_config()
    return load_or_compute(cfg.chapter, result_key_params(cfg), lambda: compute(cfg), mode=mode,
                           version=version, results_dir=pc.results_dir, device=default_device())


def section_result(section: ChapterConfig | None, run: Callable[..., xr.Dataset],
                   mode: str = "cache_only") -> xr.Dataset | None:
    """A chapter section's result for its configuration ``section`` (None: the chapter has no such section):
    ``run(section, mode)`` — stored, or computed and stored outside ``cache_only`` — and None where ``cache_only``
    finds it not stored."""
    from sat_lib.results import CacheMiss

    if section is None:
        return None
    try:
        return run(section, mode)
    except CacheMiss:
        return None


def chapter_result(cfg: ChapterConfig, mode: str = "cache_only"):
    """Another chapter's result for its configuration ``cfg`` (``resolve_params(name, profile)``), through the
    registry: stored, or (outside ``cache_only``) computed and stored. A chapter reads another's result this way,
    never by importing its module."""
    return CHAPTERS[cfg.chapter].compute(cfg, mode=mode)


def result_key_params(cfg: ChapterConfig) -> dict:
    """What a chapter's stored result is keyed by: its parameters (``result_params``) and, for a chapter that
    reads other chapters' stored results (``Chapter.upstream``), their keys under ``upstream`` — each computed
    the same way, so a key covers the whole chain: a recomputed result two steps up is never answered by scores
    computed from the old one."""
    params = result_params(cfg)
    ups = CHAPTERS[cfg.chapter].upstream(cfg)
    if ups:
        params["upstream"] = upstream_keys(*ups)
    return params


def upstream_keys(*cfgs: ChapterConfig) -> dict[str, str]:
    """The result keys of the stored results a chapter reads (``{chapter: key}``)."""
    from sat_lib.results import cache_key

    return {c.chapter: cache_key(c.chapter, result_key_params(c), version=CHAPTERS[c.chapter].version) for c in cfgs}


def result_params(cfg: ChapterConfig) -> dict:
    """What a chapter's result key hashes: its parameters (less ``section_params``, which key their sections' own
    results) and, for a chapter that trains a zoo, the zoo's fingerprint (``zoo_definition``), so a changed zoo
    definition is never answered by a stale result."""
    params = {k: v for k, v in cfg.as_dict().items() if k not in cfg.section_params}
    if "zoo" in params:
        from sat_lib.models import get_zoo
        from sat_lib.weights import zoo_fingerprint

        params["zoo_definition"] = zoo_fingerprint(get_zoo(params["zoo"]))
    return params
