"""``sat-companion`` (also ``python -m sat_lib``): list chapters, rerun one with new parameters, build the book.

Bad input — an unknown chapter, parameter or profile, or a value of the wrong type — prints one message and
exits with status 2 before anything is written.
"""
from __future__ import annotations

import argparse
import logging
import sys

from sat_lib.config import PROFILES, ConfigError, project_config
from sat_lib.params import ParameterError
from sat_lib.precision import LAYOUTS, Layout
from sat_lib.registry import UnknownNameError
from sat_lib.results import CacheMiss

USAGE_ERRORS = (ParameterError, UnknownNameError, ConfigError)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sat-companion", description=__doc__.splitlines()[0])
    p.add_argument("-v", "--verbose", action="store_true", help="log what is loaded, computed and saved")
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("list", help="chapters, their parameters and each profile's values")

    run = sub.add_parser("run", help="execute one chapter's notebook into the book")
    run.add_argument("chapter")
    run.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                     help="override one parameter (repeatable), e.g. -p steps 20 -p eps 8/255")
    run.add_argument("--profile", choices=PROFILES, help="parameter profile from _config.yml (default: its "
                                                           "default_profile)")
    _mode_flags(run)
    _executor_flags(run)
    run.add_argument("--dry-run", action="store_true",
                     help="execute nothing: build every model of the profile, train and attack each for a few steps on "
                          "synthetic images here, print the estimated time of the full run (sat_lib.dryrun)")

    book = sub.add_parser("book", help="execute every chapter at a profile, then jupyter-book build book")
    book.add_argument("--profile", choices=PROFILES)
    book.add_argument("--no-build", action="store_true", help="execute the chapters only")
    _mode_flags(book)
    _executor_flags(book)

    sub.add_parser("toc", help="regenerate book/_toc.yml from the chapter registry")

    claims = sub.add_parser("claims", help="every claim of every chapter, from the stored results (nothing is "
                                           "computed): kind, margin, our interval, gates, verdict")
    claims.add_argument("--profile", choices=PROFILES, help="the profile whose stored results are read")
    claims.add_argument("--json", action="store_true", help="one JSON record per claim instead of a table")

    cost = sub.add_parser("cost", help="what each chapter's stored results cost to compute, in minutes, and the "
                                       "whole book's total with shared work counted once (sat_lib.cost)")
    cost.add_argument("--profile", choices=PROFILES, help="the profile whose stored results are read")
    out = cost.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON record per chapter and the total")
    out.add_argument("--markdown", action="store_true", help="the Markdown table README.md carries")

    retime = sub.add_parser("retime", help="redo some models' stored work on a quiet machine and, when it is "
                                            "bit-identical apart from timings, keep the new timings (sat_lib.retime)")
    retime.add_argument("chapter")
    retime.add_argument("models", nargs="+", help="model labels as the chapter's result names them")
    retime.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="override one parameter (repeatable), as for run")
    retime.add_argument("--profile", choices=PROFILES)
    retime.add_argument("--scratch", help="folder for the redone work (default: retime/<chapter> in the cache; kept "
                                          "when anything differs, so a rerun resumes)")
    retime.add_argument("--dry-run", action="store_true", help="redo and compare, replace nothing")
    retime.add_argument("--layout", choices=LAYOUTS,
                        help="redo every model in this precision / memory layout instead of the one this machine's "
                             "calibration picks (for work stored in a layout the calibration no longer chooses)")

    place = sub.add_parser("place", help="put your own CIFAR-10 classifier into the similarity atlas: SAT against "
                                         "the zoo both ways, every measure, its SAT cluster (sat_lib.place)")
    place.add_argument("--model", required=True, help="a timm model name, or module:function returning the model")
    place.add_argument("--weights", required=True, help="its state dict: .safetensors, or a torch.save'd state dict "
                                                         "(read with weights_only=True: a pickle never runs)")
    place.add_argument("--profile", choices=PROFILES, help="the atlas profile whose zoo it joins (default: "
                                                           "default_profile)")
    place.add_argument("--normalize", action="store_true", help="the model was trained on images normalised by "
                                                                "the dataset's mean and std (default: inputs in [0, 1])")
    place.add_argument("--name", help="what to call it (default: the weights file's name)")
    place.add_argument("--out", help="folder for its result and page (default: placed/ in the cache folder)")
    return p


def _mode_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--recompute", action="store_const", dest="mode", const="recompute",
                   help="ignore stored results (trained weights are still reused)")
    g.add_argument("--cache-only", action="store_const", dest="mode", const="cache_only",
                   help="never compute: fail if a result is not stored")
    p.set_defaults(mode="auto")


def _executor_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("where per-model jobs run (sat_lib.executor; default: executor in _config.yml)")
    g.add_argument("--scheduler", help="auto | serial | local | a Dask scheduler address (tcp://host:8786)")
    g.add_argument("--workers", type=int, help="LocalCluster workers (0: one per core / threads per worker)")
    g.add_argument("--threads-per-worker", type=int, help="torch threads per worker")


def _apply_executor_flags(args) -> None:
    """Check the executor flags and hand them to the notebooks' kernels through the SAT_* environment."""
    import os
    from dataclasses import replace

    from sat_lib.executor import ExecutorConfig

    given = {k: v for k, v in (("scheduler", args.scheduler), ("n_workers", args.workers),
                               ("threads_per_worker", args.threads_per_worker)) if v is not None}
    if not given:
        return
    try:
        cfg = replace(ExecutorConfig.from_env(project_config().executor), **given)
    except ValueError as err:
        raise ConfigError(str(err)) from err
    os.environ.update({"SAT_SCHEDULER": cfg.scheduler, "SAT_WORKERS": str(cfg.n_workers),
                       "SAT_THREADS_PER_WORKER": str(cfg.threads_per_worker)})


def _cmd_list(args) -> int:
    from sat_lib.experiments import CHAPTERS

    config = project_config()
    for name, ch in CHAPTERS.items():
        print(f"{name}  —  {ch.title}  [{ch.part}]")
        print(f"    source: {ch.source}")
        profiles = {p: config.profile(name, p) for p in PROFILES}
        header = f"    {'parameter':<20} {'type':<16} {'default':<14}" + "".join(f" {p:<12}" for p in PROFILES)
        print(header)
        for field, tp in ch.config.field_types().items():
            default = ch.config.defaults()[field]
            cells = "".join(f" {_short(profiles[p].get(field, '·')):<12}" for p in PROFILES)
            print(f"    {field:<20} {_typename(tp):<16} {_short(default):<14}{cells}")
        print()
    print(f"default profile: {config.default_profile}   (profiles live in {config.path})")
    return 0


def _typename(tp) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _short(v) -> str:
    s = ",".join(map(str, v)) if isinstance(v, (list, tuple)) else (f"{v:.4g}" if isinstance(v, float) else str(v))
    return s


def _overrides(args) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for name, value in args.param:
        if name in overrides:
            raise ParameterError(f"parameter {name!r} given twice with -p")
        overrides[name] = value
    return overrides


def _cmd_run(args) -> int:
    from sat_lib.runner import run_chapter

    overrides = _overrides(args)
    if args.dry_run:
        from sat_lib.runner import dry_run

        report, ok = dry_run(args.chapter, profile=args.profile, overrides=overrides)
        print(report)
        return 0 if ok else 1
    _apply_executor_flags(args)
    out = run_chapter(args.chapter, profile=args.profile, overrides=overrides, mode=args.mode)
    print(f"wrote {out}; `jupyter-book build book` shows it")
    return 0


def _cmd_book(args) -> int:
    from sat_lib.experiments import CHAPTERS, execution_order, resolve_params
    from sat_lib.runner import build_book, executed_path, run_chapter

    for name in execution_order():  # validate every chapter's profile before executing anything
        resolve_params(name, args.profile)
    _apply_executor_flags(args)
    for name in execution_order():  # a chapter whose notebook, parameters, results and code are unchanged is kept as is
        out = executed_path(name)
        before = out.stat().st_mtime_ns if out.exists() else None
        print(f"executing {name} …", flush=True)
        run_chapter(name, profile=args.profile, mode=args.mode, only_if_changed=True)
        if before is not None and out.stat().st_mtime_ns == before:
            print(f"  {name}: notebook, parameters, results and code unchanged; kept as it was", flush=True)
    return 0 if args.no_build else build_book()


def _cmd_toc(args) -> int:
    from sat_lib.runner import write_toc

    print(f"wrote {write_toc()}")
    return 0


def _cmd_claims(args) -> int:
    import json
    import math

    from sat_lib.claims.status import claims_long
    from sat_lib.claims.verdict import NO_VERDICT
    from sat_lib.experiments import resolve_params
    from sat_lib.experiments.status import collect

    found = collect(resolve_params("status", None, {"profile": args.profile or ""}))
    table = claims_long({name: (v[0] if v else None) for name, v in found.items()})
    if args.json:
        clean = lambda v: None if (isinstance(v, float) and not math.isfinite(v)) or v == NO_VERDICT else v
        print(json.dumps([{k: clean(v) for k, v in r.items()} for r in table.to_dict("records")], indent=1))
    else:
        with __import__("pandas").option_context("display.width", 250, "display.max_colwidth", None,
                                                 "display.max_rows", None):
            print(table.drop(columns=["estimate", "low", "high"]).to_string(index=False))
    missing = [name for name, v in found.items() if v is None]
    if missing:
        print(f"sat-companion: no stored results at this profile for {', '.join(missing)}", file=sys.stderr)
    return 0


def _cmd_cost(args) -> int:
    import json

    from sat_lib import cost

    costs = cost.book_cost(args.profile)
    if args.json:
        print(json.dumps({"chapters": cost.rows(costs), "total_minutes": round(cost.total_seconds(costs) / 60, 1)},
                         indent=1))
    else:
        print(cost.markdown(costs) if args.markdown else cost.text(costs))
    return 0


def _cmd_retime(args) -> int:
    import shutil
    from pathlib import Path

    from sat_lib import retime
    from sat_lib.experiments import resolve_params

    retime.retimer(args.chapter)  # an unknown chapter fails before anything runs
    cfg = resolve_params(args.chapter, args.profile, _overrides(args))
    layout = Layout.parse(args.layout) if args.layout else None
    # a pinned layout gets its own scratch: a job done there in another layout would be read back as done
    scratch = (Path(args.scratch) if args.scratch else
               project_config().cache_dir / "retime" / args.chapter / (str(layout) if layout else ""))
    outcomes = retime.redo(args.chapter, cfg, args.models, scratch, layout)
    print(retime.summary(outcomes))
    bad = retime.mismatches(outcomes)
    hint = retime.layout_hint(bad)
    if args.dry_run:
        unmatched = retime.nothing_stored(outcomes)
        print("\n".join(bad + ([hint] if hint else [])) if bad else unmatched or
              "bit-identical apart from timings; --dry-run: nothing replaced")
        return 1 if bad or unmatched else 0
    try:
        retime.apply(outcomes)
    except retime.RetimeMismatch as err:
        print(f"sat-companion: {err}\n(the redone files stay in {scratch})" + (f"\n{hint}" if hint else ""),
              file=sys.stderr)
        return 1
    shutil.rmtree(scratch)
    print(f"replaced {len(outcomes)} stored files; now `{retime.retimer(args.chapter).next_step(args.chapter)}`")
    return 0


def _cmd_place(args) -> int:
    from sat_lib.place import place

    done = place(args.model, args.weights, profile=args.profile, normalize=args.normalize, name=args.name,
                 out=args.out)
    ds = done.dataset
    print(f"{ds.attrs['placed']}: accuracy {100 * ds.attrs['accuracy']:.1f} %, SAT cluster {ds.attrs['sat_cluster']}"
          f" of {ds.attrs['n_clusters']}\nwrote {done.result}\n      {done.page} (with {done.figure.name})")
    return 0


COMMANDS = {"list": _cmd_list, "run": _cmd_run, "book": _cmd_book, "toc": _cmd_toc, "claims": _cmd_claims,
            "cost": _cmd_cost, "retime": _cmd_retime, "place": _cmd_place}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        return COMMANDS[args.command](args)
    except USAGE_ERRORS as err:
        print(f"sat-companion: error: {err}", file=sys.stderr)
        return 2
    except CacheMiss as err:
        print(f"sat-companion: {err}", file=sys.stderr)
        return 1
    except Exception as err:  # noqa: BLE001 — one line for the user; the traceback with -v
        from sat_lib.runner import ChapterFailed

        if isinstance(err, ChapterFailed) or not args.verbose:
            print(f"sat-companion: {type(err).__name__}: {err}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    raise SystemExit(main())
