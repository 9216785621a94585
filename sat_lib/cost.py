"""What each chapter's committed result cost to compute, read from the seconds its stored results record.

Results record seconds per model (data variables ``*_seconds``) and per run (attrs ``*_seconds``; ``wall_seconds``,
else ``duration_s``, is the run's whole time). ``COSTS`` holds one function per stored result (chapter or section,
``Chapter.sections``) that turns it into ``Work``: a part (train, attack, …), its seconds and, for work several
chapters record (the zoo's models, trained and attacked once by sat-matrix), an identity. ``book_cost`` reads every
chapter of the book at a profile without computing anything and counts each identity once, for the first chapter in
book order that records its seconds (``count_once``); ``markdown`` renders the table README.md carries between
``<!-- cost:begin -->`` and ``<!-- cost:end -->`` (a test keeps the two equal).
"""
from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import xarray as xr

from sat_lib.config import project_config
from sat_lib.experiments import CHAPTERS, book_chapters, chapter_result, resolve_params
from sat_lib.experiments.diversity_training import HETEROGENEOUS
from sat_lib.results import CacheMiss, params_of, try_load
from sat_lib.variants import ZOO_MODEL
from sat_lib.zoo import ZooAttack

Result = xr.Dataset | Mapping[str, xr.Dataset]
"""A chapter's stored result: one Dataset, or one per population (the salience chapter)."""


@dataclass(frozen=True)
class Work:
    """One recorded piece of computation. ``identity``: what was computed, equal wherever the same model is
    trained or attacked the same way (None: this result's own work). ``in_run``: measured inside the run whose
    wall time the result records (False: done earlier, e.g. weights read from the cache). ``source``: the stored
    result it comes from (set by ``chapter_work``)."""

    part: str
    seconds: float
    identity: tuple | None = None
    in_run: bool = True
    source: str = ""


def run_work(wall: float, parts: list[Work], rest: str = "other") -> list[Work]:
    """A run's wall time counted once: as the parts measured inside it (``in_run``) and ``rest``, what the wall time
    holds beyond them; parts done earlier come on top. Raises when the inside parts exceed the wall time."""
    inside = sum(w.seconds for w in parts if w.in_run and math.isfinite(w.seconds))
    if inside > wall + 1.0:  # a second of timer jitter
        raise ValueError(f"run_work: the parts measured inside the run take {inside:.1f} s, more than its wall time "
                         f"{wall:.1f} s; expected only parts the run contains to be in_run")
    return [*parts, Work(rest, max(wall - inside, 0.0))]


# ------------------------------------------------------------------------------------------------ identities

_ATTACK_ONLY = ("n_images", "norm", "eps", "step_size", "steps")
_ZOO_FIELDS = tuple(f.name for f in dataclasses.fields(ZooAttack) if f.name not in ("eps_s", "attack_batch_size"))


def zoo_training(params: Mapping, label: str) -> tuple:
    """What identifies a zoo model's training: its label (the zoo entry, or a training variant's label) and the
    ``ZooAttack`` training settings in ``params``."""
    return ("train", label, tuple((k, params[k]) for k in _ZOO_FIELDS if k not in _ATTACK_ONLY))


def zoo_attack(params: Mapping, label: str, variant: str = "chapter") -> tuple:
    """What identifies the PGD attack of a zoo model: its training, the attack settings, and the variant
    (``chapter``: the chapter's own PGD; the attack checks' other variants differ)."""
    return ("attack", label, variant, tuple((k, params[k]) for k in _ZOO_FIELDS))


def spec_training(spec: Mapping, split_seed: int) -> tuple:
    """What identifies the training of a per-model job spec with a ``train`` dict (universality and its
    training-length section): the model, its training, adversary and classes, and the training split's seed."""
    canon = lambda v: json.dumps(v, sort_keys=True)  # noqa: E731
    return ("train", spec["zoo"], spec["dataset"], spec["name"], canon(spec["train"]), canon(spec.get("adversary")),
            canon(spec.get("classes")), split_seed)


def recorded(folder: str, key: str) -> xr.Dataset:
    """The stored result ``<results_dir>/<folder>/<key>.nc`` that another result names by its key."""
    ds = try_load(project_config().results_dir / folder / f"{key}.nc")
    if ds is None:
        raise CacheMiss(f"recorded: no stored result {folder}/{key}.nc, which another stored result names")
    return ds


def model_results(ds: xr.Dataset, folder: str) -> list[xr.Dataset]:
    """The per-model results a result was assembled from (its ``model_results`` attr: label → key)."""
    return [recorded(folder, key) for key in json.loads(ds.attrs.get("model_results", "{}")).values()]


def zoo_params(ds: xr.Dataset) -> dict:
    """The ``ZooAttack`` settings of the zoo whose models a result uses: its own parameters, else those of the
    stored results it reads (``upstream`` keys, followed back)."""
    params = params_of(ds)
    if all(k in params for k in _ZOO_FIELDS):
        return params
    for chapter, key in params.get("upstream", {}).items():
        try:
            return zoo_params(recorded(chapter, key))
        except KeyError:
            continue
    raise KeyError(f"zoo_params: result {ds.attrs.get('chapter')}/{ds.attrs.get('cache_key')} names no zoo "
                   f"settings ({', '.join(_ZOO_FIELDS)}), nor does any result it reads")


# ------------------------------------------------------------------------------------------------ per result

def _attr(ds: xr.Dataset, name: str) -> float:
    return float(ds.attrs.get(name, math.nan))


def _wall(ds: xr.Dataset) -> float:
    return float(ds.attrs.get("wall_seconds", ds.attrs["duration_s"]))


def _fresh(ds: xr.Dataset, flag: str, dim: str) -> np.ndarray:
    """Per entry of ``dim``: computed in this run (not read from the cache, per ``flag``; fresh where unrecorded)."""
    return ~ds[flag].values.astype(bool) if flag in ds else np.ones(ds.sizes[dim], dtype=bool)


def _models(ds: xr.Dataset, labels: list[str] | None = None) -> list[Work]:
    """Each zoo-style model's training and PGD (``train_seconds``, ``attack_seconds`` over ``model``), in this run
    where its weights were not read from the cache."""
    p, fresh = params_of(ds), _fresh(ds, "weights_from_cache", "model")
    labels = labels or [str(m) for m in ds["model"].values]
    return [w for i, m in enumerate(labels)
            for w in (Work("train", float(ds["train_seconds"][i]), zoo_training(p, m), bool(fresh[i])),
                      Work("attack", float(ds["attack_seconds"][i]), zoo_attack(p, m), bool(fresh[i])))]


def _training_labels(ds: xr.Dataset) -> dict[str, str]:
    """sat-training's model labels → identity labels: the zoo's own model is the zoo entry."""
    return {str(m): str(a) if d == ZOO_MODEL else str(m)
            for m, a, d in zip(ds["model"].values, ds["arch"].values, ds["description"].values)}


def _checks(ds: xr.Dataset, labels: Mapping[str, str]) -> list[Work]:
    """An attack check: every variant's attack of every model (its ``chapter`` variant is the chapter's own PGD).
    Not the run's wall time: it also trains models the checks find missing, which the zoo's chapters count."""
    p = params_of(ds)
    return [Work("attack", float(ds["attack_seconds"].sel(variant=v, model=m)), zoo_attack(p, labels[str(m)], str(v)))
            for v in ds["variant"].values for m in ds["model"].values]


def _uses(ds: xr.Dataset, names) -> list[Work]:
    """Zoo models a result reads (no seconds of their own: their training counts where it is recorded; one the run
    had to train leaves its time in the run's rest)."""
    p, fresh = zoo_params(ds), _fresh(ds, "weights_from_cache", "model")
    return [Work("train", math.nan, zoo_training(p, str(m)), bool(f)) for m, f in zip(names, fresh)]


def _universality(ds: xr.Dataset) -> list[Work]:
    work = []
    for m in model_results(ds, "universality-model"):
        spec = params_of(m)
        work += run_work(_wall(m), [
            Work("train", _attr(m, "train_seconds"), spec_training(spec, spec["seed"]), not m.attrs["from_cache"]),
            Work("attack", _attr(m, "attack_seconds")),
            Work("invert", _attr(m, "test_invert_seconds") + float(m.attrs.get("ood_invert_seconds", 0.0)))])
    return work + [Work("pairs", _attr(ds, "pairs_seconds"))]   # not the wall: it may hold per-model jobs


def _universality_length(ds: xr.Dataset) -> list[Work]:
    work = []
    for m in model_results(ds, "universality-length-model"):
        spec = params_of(m)
        work += run_work(_wall(m), [
            Work("train", _attr(m, "train_seconds"), spec_training(spec, spec["train"]["seed"]),
                 not m.attrs["from_cache"]),
            Work("attack", sum(json.loads(m.attrs["attack_seconds"]).values()))])
    return work


def _diversity_training(ds: xr.Dataset) -> list[Work]:
    zoo, key, fresh = zoo_params(ds), ds.attrs["cache_key"], _fresh(ds, "weights_from_cache", "ensemble")
    work = []
    for i, e in enumerate(ds["ensemble"].values):
        seconds = float(ds["train_seconds"][i])
        if ds["method"].values[i] == HETEROGENEOUS:   # the zoo's models: the ensemble's time split among them
            members = [str(n).split("#")[0] for n in ds["member_name"].values[i]]
            work += [Work("train", seconds / len(members), zoo_training(zoo, n), bool(fresh[i])) for n in members]
        else:
            work.append(Work("train", seconds, ("ensemble", key, str(e)), bool(fresh[i])))
        work.append(Work("evaluate", float(ds["eval_seconds"][i])))
    return run_work(_wall(ds), work)


def _diversity_lambda(ds: xr.Dataset) -> list[Work]:
    """Each λ's ensemble training (the chapter's own λ is the chapter's ensemble); its evaluation is unrecorded."""
    same = ("ensemble", ds.attrs["chapter_result"], f"{ds.attrs['method']}/seed{int(ds.attrs['seed'])}")
    return [Work("train", float(t), same if c else None, not c)
            for t, c in zip(ds["train_seconds"].values, ds["from_chapter"].values.astype(bool))]


def _salience(pops: Mapping[str, xr.Dataset]) -> list[Work]:
    return [w for ds in pops.values()
            for w in run_work(_wall(ds), [Work("train", float(np.nansum(ds["train_seconds"].values)))],
                              rest="salience & attacks")]


def _sum(ds: xr.Dataset, var: str) -> float:
    return float(np.nansum(ds[var].values))


def _sat_attacks(ds: xr.Dataset) -> list[Work]:
    """AutoAttack and its evaluation, the new models (trained or loaded, attacked, scored against the zoo both ways:
    one wall time), the decision regions; its PGD is the zoo's, copied from sat-matrix."""
    p = params_of(ds)
    return run_work(_wall(ds), [
        *(Work("attack", float(s), zoo_attack(p, str(m)), in_run=False)
          for m, s in zip(ds["attacked"].values, ds["pgd_seconds"].values)),
        Work("AutoAttack", _sum(ds, "autoattack_seconds")), Work("evaluate", _attr(ds, "autoattack_evaluate_seconds")),
        Work("new models", _attr(ds, "new_model_seconds")), Work("decision regions", _attr(ds, "boundary_seconds"))])


def _sat_distillation(ds: xr.Dataset) -> list[Work]:
    """Every student's training (inside the run unless read from the cache); the student trained alone is the zoo's
    model."""
    students = [Work("train", float(s), None, bool(f))
                for s, f in zip(ds["train_seconds"].values, _fresh(ds, "weights_from_cache", "teacher"))]
    alone = Work("train", _attr(ds, "student_alone_train_seconds"), zoo_training(params_of(ds), ds.attrs["student"]),
                 in_run=False)
    return run_work(_wall(ds), students + [alone])


def _similarity_atlas(ds: xr.Dataset) -> list[Work]:
    """The zoo's training and PGD (copied from sat-matrix), every model's atlas artifacts and the pairs. Not the
    wall time: its per-model jobs retrained the zoo where the machine lacked it."""
    p = zoo_params(ds)
    zoo = [w for i, m in enumerate(map(str, ds["model"].values))
           for w in (Work("train", float(ds["train_seconds"][i]), zoo_training(p, m), in_run=False),
                     Work("attack", float(ds["attack_seconds"][i]), zoo_attack(p, m), in_run=False))]
    return zoo + [Work("model artifacts", _sum(ds, "atlas_seconds")), Work("pairs", _attr(ds, "pairs_seconds"))]


Cost = Callable[[Result, Result], list[Work]]
"""(stored result, its chapter's result) → the work it records."""

COSTS: dict[str, Cost] = {
    "sat-matrix": lambda ds, ch: run_work(_wall(ds), _models(ds) + [Work("evaluate", _attr(ds, "evaluate_seconds"))]),
    "sat-matrix-checks": lambda ds, ch: _checks(ds, {str(m): str(m) for m in ds["model"].values}),
    "sat-components": lambda ds, ch: run_work(_wall(ds), [Work("fit", _attr(ds, "fit_seconds"))]),
    "sat-training": lambda ds, ch: run_work(_wall(ds), _models(ds, list(_training_labels(ds).values()))
                                            + [Work("evaluate", _attr(ds, "evaluate_seconds"))]),
    "sat-training-checks": lambda ds, ch: _checks(ds, _training_labels(ch)),
    "sat-attacks": lambda ds, ch: _sat_attacks(ds),
    "sat-patch": lambda ds, ch: run_work(_wall(ds), _models(ds) + [
        Work("Patch-Fool", _attr(ds, "patch_seconds")),
        Work("evaluate", sum(_attr(ds, a) for a in ("pgd_evaluate_seconds", "patch_evaluate_seconds"))
             + float(ds.attrs.get("random_evaluate_seconds", 0.0)))]),
    "sat-ensembles": lambda ds, ch: run_work(_wall(ds), [Work("score", _attr(ds, "score_seconds"))]),
    "sat-distillation": lambda ds, ch: _sat_distillation(ds),
    "universality": lambda ds, ch: _universality(ds),
    "universality-length": lambda ds, ch: _universality_length(ds),
    "salience": lambda pops, ch: _salience(pops),
    "salience-official": lambda ds, ch: run_work(_wall(ds), [], rest="evaluate"),
    "corruptions": lambda ds, ch: run_work(_wall(ds), _uses(ds, ds["model"].values)
                                           + [Work("corrupt", _attr(ds, "corrupt_seconds"))], rest="predict"),
    "diversity-ensembles": lambda ds, ch: run_work(_wall(ds), _uses(ds, ds["model"].values) + [
        Work("attribution", _sum(ds, "attribution_seconds")), Work("combine", _attr(ds, "combine_seconds"))]),
    "diversity-nas": lambda ds, ch: run_work(_wall(ds), [
        Work("train", _attr(ds, "supernet_train_seconds"), in_run=not ds.attrs.get("supernet_from_cache", 0)),
        Work("subnetworks", _sum(ds, "job_seconds")), Work("combine", _attr(ds, "combine_seconds"))]),
    "diversity-training": lambda ds, ch: _diversity_training(ds),
    "diversity-lambda": lambda ds, ch: _diversity_lambda(ds),
    "similarity-atlas": lambda ds, ch: _similarity_atlas(ds),
    "measures": lambda ds, ch: run_work(_wall(ds), [], rest="train & measure"),
}

READS_ONLY = ("status",)
"""Chapters that compute nothing of their own: they read the other chapters' stored results."""

# ------------------------------------------------------------------------------------------------ the book

def _results(result: Result) -> list[xr.Dataset]:
    return [result] if isinstance(result, xr.Dataset) else list(result.values())


@dataclass(frozen=True)
class ChapterWork:
    """What one chapter's stored results record: its work (sections' included), the devices that measured each
    result and the chapters whose stored results it reads (``upstream``)."""

    chapter: str
    work: tuple[Work, ...]
    devices: dict[str, str]
    reads: tuple[str, ...] = ()


def chapter_work(name: str, profile: str | None = None) -> ChapterWork:
    """The work a chapter's stored results at ``profile`` record, read as the chapter reads them (``cache_only``:
    nothing is computed; raises ``CacheMiss`` when the chapter's result is not stored)."""
    chapter = CHAPTERS[name]
    if name in READS_ONLY:
        return ChapterWork(name, (), {})
    cfg = resolve_params(name, profile)
    main = chapter_result(cfg, "cache_only")
    found: dict[str, Result] = {name: main}
    for section, stored in chapter.sections.items():
        try:
            ds = stored(cfg) if stored is not None else None
        except CacheMiss:
            ds = None
        if ds is not None:
            found[section] = ds
    work = tuple(dataclasses.replace(w, source=source) for source, r in found.items() for w in COSTS[source](r, main))
    devices = {source: ", ".join(sorted({str(d.attrs.get("device", "an unrecorded device")) for d in _results(r)}))
               for source, r in found.items()}
    return ChapterWork(name, work, devices, tuple(params_of(_results(main)[0]).get("upstream", {})))


@dataclass(frozen=True)
class ChapterCost:
    """One row of the book's cost: the work counted for the chapter (``own``), work it records that another
    chapter's record counts (``reused``: that chapter's ``Work``, by chapter; see ``count_once``), and what its
    stored results are."""

    chapter: str
    state: str   # "recorded", "not recorded", "not stored", "reads only"
    own: tuple[Work, ...] = ()
    reused: dict[str, tuple[Work, ...]] = dataclasses.field(default_factory=dict)
    reads: tuple[str, ...] = ()
    devices: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return float(np.nansum([w.seconds for w in self.own])) if self.state == "recorded" else math.nan


def count_once(chapters: list[ChapterWork | str]) -> list[ChapterCost]:
    """Each chapter's cost in order, every identity counted once, for its owner: the first record in ``chapters``
    whose seconds are finite (where no record has seconds, the first record). Every other chapter that records the
    identity, before or after its owner, lists it as reused from the owner's chapter (the owner's ``Work``); another
    record of it in the owner's own chapter counts nothing. So a chapter that only names a model (no seconds of its
    own, e.g. the zoo models ``_uses`` yields) never holds its training when a later chapter records the seconds. A
    name instead of a ``ChapterWork``: a chapter with no stored result."""
    owners: dict[tuple, tuple[str, Work]] = {}
    for cw in chapters:
        for w in () if isinstance(cw, str) else cw.work:
            if w.identity is None:
                continue
            held = owners.get(w.identity)
            if held is None or (not math.isfinite(held[1].seconds) and math.isfinite(w.seconds)):
                owners[w.identity] = (cw.chapter, w)
    out = []
    for cw in chapters:
        if isinstance(cw, str):
            out.append(ChapterCost(cw, "not stored"))
            continue
        own, reused = [], {}
        for w in cw.work:
            owner, held = owners[w.identity] if w.identity is not None else (cw.chapter, w)
            if held is w:
                own.append(w)
            elif owner != cw.chapter:
                reused.setdefault(owner, {})[w.identity] = held
        state = ("reads only" if cw.chapter in READS_ONLY else
                 "recorded" if any(math.isfinite(w.seconds) for w in own) else "not recorded")
        out.append(ChapterCost(cw.chapter, state, tuple(own), {o: tuple(ws.values()) for o, ws in reused.items()},
                               cw.reads, cw.devices))
    return out


def book_cost(profile: str | None = None) -> list[ChapterCost]:
    """Every chapter of the book at ``profile`` (default: the book's), in book order, each computation once."""
    found: list[ChapterWork | str] = []
    for name in book_chapters():
        try:
            found.append(chapter_work(name, profile))
        except CacheMiss:
            found.append(name)
    return count_once(found)


def total_seconds(costs: list[ChapterCost]) -> float:
    """The whole book: every chapter's own work (each computation once)."""
    return float(np.nansum([c.seconds for c in costs if c.state == "recorded"]))


# ------------------------------------------------------------------------------------------------ rendering

def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f}"


def _by_part(work) -> dict[str, float]:
    """Seconds by part: training first, then attacks, the others as they come, the rest of the runs last."""
    parts: dict[str, float] = {}
    for w in work:
        if math.isfinite(w.seconds):
            parts[w.part] = parts.get(w.part, 0.0) + w.seconds
    return dict(sorted(parts.items(), key=lambda ps: (ps[0] != "train", ps[0] != "attack", ps[0] == "other")))


def parts_text(cost: ChapterCost) -> str:
    """``train 68.9 · attack 14.0; sat-matrix-checks: attack 11.2`` (minutes; parts under 3 s left out, not from
    the total)."""
    groups = []
    for source in dict.fromkeys(w.source for w in cost.own):
        parts = _by_part(w for w in cost.own if w.source == source)
        text = " · ".join(f"{p} {_minutes(s)}" for p, s in parts.items() if s >= 3.0)
        if text:
            groups.append(text if source == cost.chapter else f"{source}: {text}")
    return "; ".join(groups)


def reuse_text(cost: ChapterCost) -> str:
    """``sat-matrix (train 68.9 · attack 14.0); reads corruptions``: the earlier chapters whose recorded work it
    reuses (minutes as counted there), then the other chapters whose stored results it reads."""
    notes = []
    for owner, ws in cost.reused.items():
        parts = " · ".join(f"{p} {_minutes(s)}" for p, s in _by_part(ws).items())
        notes.append(f"{owner} ({parts})" if parts else owner)
    reads = [c for c in cost.reads if c not in cost.reused]
    return "; ".join(notes + ([f"reads {', '.join(reads)}"] if reads else []))


STATES = {"not recorded": "not recorded", "not stored": "not stored at this profile",
          "reads only": "reads the other chapters' stored results"}


def rows(costs: list[ChapterCost]) -> list[dict]:
    """One record per chapter: parts, total minutes (None unless recorded), what it reuses or reads."""
    return [{"chapter": c.chapter, "parts": parts_text(c) or STATES.get(c.state, ""),
             "minutes": round(c.seconds / 60, 1) if c.state == "recorded" else None, "reuses": reuse_text(c),
             "parts_minutes": {source: {p: round(s / 60, 2) for p, s in _by_part(w for w in c.own
                                                                           if w.source == source).items()}
                               for source in dict.fromkeys(w.source for w in c.own)},
             "reused_minutes": {o: round(float(np.nansum([w.seconds for w in ws])) / 60, 2)
                                for o, ws in c.reused.items()},
             "devices": c.devices} for c in costs]


def devices_text(costs: list[ChapterCost]) -> str:
    """Which device measured which stored results."""
    by_device: dict[str, list[str]] = {}
    for c in costs:
        for source, device in c.devices.items():
            by_device.setdefault(device, []).append(source)
    return "; ".join(f"{d}: {', '.join(s)}" for d, s in by_device.items())


def markdown(costs: list[ChapterCost]) -> str:
    """The table README.md carries: per chapter its parts and total in minutes and what it reuses, then the whole
    book's total (each computation once) and the devices."""
    lines = ["| chapter | its own work (minutes) | total (min) | reuses (minutes counted there) |", "|---|---|--:|---|"]
    for r in rows(costs):
        total = "" if r["minutes"] is None else f"{r['minutes']:.1f}"
        lines.append(f"| `{r['chapter']}` | {r['parts']} | {total} | {r['reuses']} |")
    total = total_seconds(costs)
    lines.append(f"| **whole book** (each computation once) | | **{_minutes(total)}** | |")
    devices = devices_text(costs) or "no device"
    return "\n".join(lines) + f"\n\n{total / 3600:.1f} hours in all. Measured on {devices}.\n"


MARKERS = ("<!-- cost:begin -->", "<!-- cost:end -->")
"""Where README.md carries ``markdown``'s table."""


def put_table(text: str, table: str) -> str:
    """``text`` with what lies between ``MARKERS`` replaced by ``table``; raises when the markers are missing."""
    begin, end = MARKERS
    if text.count(begin) != 1 or text.count(end) != 1 or text.index(begin) > text.index(end):
        raise ValueError(f"put_table: expected one {begin!r} before one {end!r}, got {text.count(begin)} and "
                         f"{text.count(end)}")
    return text[:text.index(begin) + len(begin)] + "\n" + table.strip() + "\n" + text[text.index(end):]


def text(costs: list[ChapterCost]) -> str:
    """The same table for a terminal."""
    table = [("chapter", "its own work (minutes)", "total", "reuses (minutes counted there)")]
    table += [(r["chapter"], r["parts"], "" if r["minutes"] is None else f"{r['minutes']:.1f}", r["reuses"])
              for r in rows(costs)]
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    lines = ["  ".join([row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2].rjust(widths[2]), row[3]]).rstrip()
             for row in table]
    total = total_seconds(costs)
    return ("\n".join(lines) + f"\n\nwhole book (each computation once): {_minutes(total)} minutes "
            f"({total / 3600:.1f} h)\ndevices: {devices_text(costs)}")
