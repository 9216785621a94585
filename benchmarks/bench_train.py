"""Time to accuracy on CIFAR-10: ``sat_lib.train`` against a plain PyTorch loop on the same model and an
airbench-style reference net, same data, same machine, same run.

``ours`` is the zoo's recipe on the zoo model (default ``vgg_c32`` of ``cifar-cpu``): the fastest measured
precision/layout, label smoothing 0.2, Nesterov SGD with warm-up and linear decay, flip + 2-px translation.
``peer`` is what a researcher writes by hand on the same architecture: fp32 and contiguous memory, SGD with
momentum 0.9 (lr 0.1, weight decay 5e-4), step decay (×0.1 at 50 % and 75 % of the steps), random crop (pad 4) +
flip, no label smoothing. ``reference`` is an airbench-style net and recipe (``_reference.py``).

``--search`` (the time to target): for each seed and trainer, the smallest whole number of epochs E whose own
full schedule (warm-up/decay or step decay scaled to E; never a checkpoint of a longer run) ends at or above
``--target`` on the whole test split, found by galloping from a guess and bisecting (``_search.py``); the next
seed starts from the previous seed's answer. The time to target is the training seconds of that budget (test
evaluation not counted); the last miss (E − 1 epochs) is kept beside it so the quantisation by whole epochs is
visible, and a linear interpolation in time between miss and hit is a secondary number. All three trainers are
evaluated the same way (``predict`` in fp32, no test-time augmentation). Seeds run in turn, each searching ours,
the peer and the reference, so all see the machine's load alike. Every training is written to the record as it
lands; ``--resume`` replays the trainings of a stopped search (same device, model, data and target; a trainer
whose setup — recipe, batch, learning rate — changed trains again) and goes on
where it stopped, so the search may span several working sessions. Before training, a probe measures images/s of
each trainer and the search's expected cost is printed (``--estimate`` stops there).

``--budgets`` (the older mode): each trainer gets the epochs that fit each time budget from its probed images/s;
the record holds accuracy, seconds, images/s and achieved GFLOP/s (``torch.utils.flop_counter``) against this
machine's bf16 matmul peak. ``--precision-check`` trains ours in fp32 and in bf16 with three seeds each, to show
that bf16 does not change accuracy beyond seed noise. Not a test: run it, read the ratios. A search writes
``results/train-<device>.json``; budgets and the precision check without ``--search`` write
``results/train-budgets-<device>.json``.

    python benchmarks/bench_train.py --search --seeds 0 1 2 --target 0.8       # the time to 80 %
    python benchmarks/bench_train.py --search --seeds 0 1 2 --target 0.8 --resume   # go on after a stop
    python benchmarks/bench_train.py --search --estimate                       # probe and cost estimate only
    python benchmarks/bench_train.py --search --seeds 0 --target 0.3 --train-images 2000 --test-images 1000
    python benchmarks/bench_train.py --budgets 60 180 600                      # accuracy after each budget
    python benchmarks/bench_train.py --budgets --precision-check --check-epochs 2   # the precision check alone
"""
from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from sat_lib.models import get_zoo
from sat_lib.precision import choose_layout
from sat_lib.provenance import default_device, device_name, now_iso, package_versions
from sat_lib.train import RECIPES, TrainConfig, augment_batch, predict, train
from sat_lib.weights import build_for

from _data import cifar10_tensors  # benchmarks/_data.py (the script folder is on sys.path)
from _peak import bf16_peak  # benchmarks/_peak.py
from _record import RESULTS, write_record  # benchmarks/_record.py
from _reference import WIDTHS, make_reference, train_reference  # benchmarks/_reference.py
from _search import Trial, ratio, search_epochs, search_plan, self_test, summarise  # benchmarks/_search.py

TRAINERS = ("ours", "peer", "reference")
GUESSES = {"ours": 4, "peer": 9, "reference": 2}
"""First epoch budgets to try: from the committed budget run on the AMD EPYC (ours 79.5 % at 3 epochs, 84.7 % at
9; the peer 74.9 % at 4, 82.5 % at 13); the reference's (64/256/256) is a guess: airbench94 reaches 94 % in
~10 epochs."""
EVALUATION = "argmax of predict(model, test images, precision='fp32') on the whole test split, no TTA"


def plain_loop(model, x_u8, y, epochs, batch=256, lr=0.1, seed=0, device=None):
    """The peer: fp32, contiguous, SGD + momentum, step decay, crop + flip, plain cross-entropy."""
    device = torch.device(device) if device is not None else x_u8.device
    model.to(device).train()
    x_u8, y = x_u8.to(device), y.to(device)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    steps = epochs * (x_u8.shape[0] // batch)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, [int(0.5 * steps), int(0.75 * steps)], gamma=0.1)
    g = torch.Generator(device=device).manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(x_u8.shape[0], device=device, generator=g)
        for i in range(x_u8.shape[0] // batch):
            idx = order[i * batch:(i + 1) * batch]
            xb = augment_batch(x_u8[idx].float().div_(255), g, pad=4)
            loss = F.cross_entropy(model(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()


@dataclasses.dataclass(frozen=True)
class Trainer:
    """A trainer under test: ``make(seed)`` builds a fresh model, ``fit(model, x, y, epochs, seed)`` trains it in
    place for ``epochs`` epochs of its own schedule; ``flops`` per training image (forward + backward)."""

    name: str
    make: Callable[[int], nn.Module]
    fit: Callable[[nn.Module, torch.Tensor, torch.Tensor, int, int], None]
    layout: str
    flops: float
    setup: dict = dataclasses.field(default_factory=dict)
    """What decides its trainings besides seed and epochs (recipe, batch, learning rate …): ``--resume`` replays a
    stored training only when the record's setup of its trainer is this one."""


def defaults(fn: Callable, *skip: str) -> dict:
    """The keyword defaults of ``fn`` (a trainer's setup), less ``skip``."""
    return {k: v.default for k, v in inspect.signature(fn).parameters.items()
            if v.default is not inspect.Parameter.empty and k not in skip}


def train_flops_per_image(make, shape) -> float:
    """Forward + backward FLOPs of one training image (counted by torch's FlopCounterMode on a batch of 8)."""
    model = make().train()
    x = torch.rand(8, *shape)
    with FlopCounterMode(display=False) as counter:
        model(x).sum().backward()
    return counter.get_total_flops() / 8


def probe_images_per_second(tr: Trainer, x, y, n_images: int = 256 * 20) -> float:
    """Images/s of a trainer over one epoch of ``n_images`` (after an untimed epoch of 512 as warm-up)."""
    tr.fit(tr.make(0), x[:512], y[:512], 1, 0)
    t0 = time.perf_counter()
    tr.fit(tr.make(0), x[:n_images], y[:n_images], 1, 0)
    return n_images / (time.perf_counter() - t0)


def accuracy(model, xt, yt) -> float:
    return float((predict(model, xt, precision="fp32").cpu() == yt).float().mean())


def timed_trial(tr: Trainer, seed: int, epochs: int, data, peak: float) -> dict:
    """Train a fresh model of ``tr`` for ``epochs`` epochs and test it: a row of the record."""
    (x, y), (xt, yt) = data
    model = tr.make(seed)
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    tr.fit(model, x, y, epochs, seed)
    sec = time.perf_counter() - t0
    ips = epochs * len(x) / sec
    gflops = ips * tr.flops / 1e9
    return {"trainer": tr.name, "seed": seed, "epochs": epochs, "seconds": sec, "accuracy": accuracy(model, xt, yt),
            "images_per_second": ips, "gflops": gflops, "fraction_of_bf16_peak": gflops / peak,
            "load_average_1m": load}


def print_estimate(trainers, ips, guesses, seeds, n_train, eval_s, max_epochs) -> dict:
    """The search's expected cost from probed images/s: when each guess is the answer (then each seed trains E
    and E − 1), and when every answer is twice the guess."""
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    if load > 0.5 * cores:
        print(f"warning: load average {load:.1f} on {cores} cores: other processes share this machine, so the "
              f"probe, the estimate and every timing below are slowed by them", flush=True)
    out = {}
    for case, scale in (("guesses right", 1), ("answers at 2x the guesses", 2)):
        total, parts = 0.0, []
        for name in trainers:
            truth = min(max_epochs, scale * guesses[name])
            plans = [search_plan(guesses[name], truth, max_epochs=max_epochs)]
            plans += [search_plan(truth, truth, max_epochs=max_epochs)] * (len(seeds) - 1)
            epochs, runs = sum(map(sum, plans)), sum(map(len, plans))
            sec = epochs * n_train / ips[name] + runs * eval_s
            total += sec
            parts.append(f"{name} {runs} trainings, {epochs} epochs, {sec / 60:.0f} min")
        out[case] = total
        print(f"estimate ({case}, {len(seeds)} seeds): {total / 3600:.1f} h — " + "; ".join(parts), flush=True)
    return out


RESUME_KEYS = ("benchmark", "device", "model", "zoo", "train_images", "test_images", "reference_widths",
               "target_accuracy", "evaluation")


def resumable_trials(path: Path, record: dict) -> dict[tuple[int, str, int], dict]:
    """The trainings of the search record at ``path`` by (seed, trainer, epochs), for ``--resume``: only from a
    record of the same device, model, data, target and evaluation as ``record`` (otherwise it exits with 2,
    saying which field differs and how to start afresh), and only of the trainers whose ``setups`` entry is this
    run's (a changed recipe trains again); none when there is no record yet."""
    if not path.exists():
        print(f"--resume: no record at {path} yet; starting afresh", flush=True)
        return {}
    old = json.loads(path.read_text())
    for key in RESUME_KEYS:
        if old.get(key) != record.get(key):
            print(f"bench_train --resume: {path} was measured with {key} = {old.get(key)!r}, this run has "
                  f"{record.get(key)!r}; its trainings cannot be mixed with this run's. Resume on the same setup, "
                  f"or give --out another file (or drop --resume) to start afresh.", file=sys.stderr)
            raise SystemExit(2)
    setups = old.get("setups", {})
    changed = sorted({t["trainer"] for t in old.get("trials", [])
                      if setups.get(t["trainer"]) != record["setups"].get(t["trainer"])})
    for name in changed:
        print(f"--resume: {name}'s setup differs from the record's ({setups.get(name)!r} there, "
              f"{record['setups'].get(name)!r} now): its stored trainings are not replayed", flush=True)
    trials = {(t["seed"], t["trainer"], t["epochs"]): t for t in old.get("trials", []) if t["trainer"] not in changed}
    print(f"--resume: {len(trials)} trainings from {path} ({old.get('created_at')})", flush=True)
    return trials


def precision_summary(check: list[dict]) -> dict:
    """bf16 − fp32 mean accuracy over seeds with a Welch 95 % interval, and the seed spread of each."""
    from scipy import stats

    acc = {p: np.array([r["accuracy"] for r in check if r["precision"] == p]) for p in ("fp32", "bf16")}
    sec = {p: np.mean([r["seconds"] for r in check if r["precision"] == p]) for p in ("fp32", "bf16")}
    test = stats.ttest_ind(acc["bf16"], acc["fp32"], equal_var=False)
    ci = test.confidence_interval(0.95)
    return {"difference": float(acc["bf16"].mean() - acc["fp32"].mean()), "ci_low": float(ci.low),
            "ci_high": float(ci.high), "welch_p": float(test.pvalue), "std_fp32": float(acc["fp32"].std(ddof=1)),
            "std_bf16": float(acc["bf16"].std(ddof=1)), "speedup": float(sec["fp32"] / sec["bf16"]),
            "verdict": "no detectable change" if ci.low <= 0 <= ci.high else "bf16 changes accuracy"}


def _sample(x, y, n, seed=0):
    """``n`` images drawn at random (the splits are sorted by class: never the first ``n``); all when ``n`` is 0."""
    if not n or n >= len(x):
        return x, y
    idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:n]
    return x[idx], y[idx]


def _fmt(value: float | None) -> str:
    return "not reached" if value is None else f"{value:.1f}"


def _guesses(items: list[str]) -> dict[str, int]:
    out = dict(GUESSES)
    for item in items:
        name, _, value = item.partition("=")
        if name not in TRAINERS or not value.isdigit() or int(value) < 1:
            raise ValueError(f"--guess: expected TRAINER=EPOCHS with TRAINER in {TRAINERS} and EPOCHS >= 1, "
                             f"got {item!r}")
        out[name] = int(value)
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--zoo", default="cifar-cpu")
    p.add_argument("--model", default="vgg_c32", help="a model of --zoo (default: the zoo's plain CNN)")
    p.add_argument("--search", action="store_true", help="search each trainer's epochs to --target per seed")
    p.add_argument("--estimate", action="store_true", help="with --search: probe, print the expected cost, stop")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--target", type=float, default=0.80)
    p.add_argument("--guess", nargs="*", default=[], metavar="TRAINER=EPOCHS",
                   help=f"first budget of a trainer's search (default {GUESSES})")
    p.add_argument("--max-epochs", type=int, default=40, help="no budget above this is trained")
    p.add_argument("--max-search-s", type=float, default=5400,
                   help="training seconds one trainer's search may spend on one seed")
    p.add_argument("--reference-widths", type=int, nargs=3, default=list(WIDTHS))
    p.add_argument("--ours-batch", type=int, default=256, help="ours' batch size (its learning rate scales with it)")
    p.add_argument("--trainers", nargs="+", default=list(TRAINERS), choices=TRAINERS)
    p.add_argument("--budgets", type=float, nargs="*", default=None,
                   help="seconds of training (default 60 120 180 600 without --search, none with it; give the "
                        "flag with no value for none)")
    p.add_argument("--precision-check", action="store_true")
    p.add_argument("--check-epochs", type=int, default=2)
    p.add_argument("--train-images", type=int, default=0, help="a random subset of the train split (0: all)")
    p.add_argument("--test-images", type=int, default=0, help="a random subset of the test split (0: all)")
    p.add_argument("--resume", action="store_true",
                   help="with --search: reuse the trainings of the record already written (same device, model and "
                        "data), so a search stopped part-way goes on where it stopped")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    guesses = _guesses(args.guess)
    budgets = args.budgets if args.budgets is not None else ([] if args.search else [60, 120, 180, 600])
    if args.search:
        self_test()  # the search logic, before hours of training hang on it

    device = default_device()
    train_set, (x, y), (xt, yt) = cifar10_tensors()
    x, y = _sample(x, y, args.train_images)
    xt, yt = _sample(xt, yt, args.test_images)
    data = ((x, y), (xt, yt))
    entry = get_zoo(args.zoo)[args.model]

    def make(seed=0):
        torch.manual_seed(seed)
        return build_for(entry, train_set)

    def make_ref(seed=0):
        return make_reference(train_set, seed, args.reference_widths)

    shape = tuple(x.shape[1:])
    layout = choose_layout(make(), shape, "auto", device)
    ref_layout = choose_layout(make_ref(), shape, "auto", device)
    flops = train_flops_per_image(make, shape)
    ours_cfg = lambda e, s: TrainConfig(epochs=e, batch_size=args.ours_batch, seed=s)  # noqa: E731
    rec = RECIPES[entry.recipe]
    cfg = ours_cfg(1, 0)
    ours_setup = {**{k: v for k, v in dataclasses.asdict(cfg).items() if k not in ("epochs", "seed")},
                  "recipe": entry.recipe, "optimizer": rec.optimizer, "lr": cfg.lr or rec.lr,
                  "weight_decay": cfg.weight_decay or rec.weight_decay}
    trainers = {
        "ours": Trainer("ours", make, lambda m, xs, ys, e, s: train(
            m, xs, ys, ours_cfg(e, s), recipe=entry.recipe, device=device, layout=layout), str(layout), flops,
            ours_setup),
        "peer": Trainer("peer", make, lambda m, xs, ys, e, s: plain_loop(m, xs, ys, e, seed=s, device=device),
                        "fp32", flops, defaults(plain_loop, "seed", "device")),
        "reference": Trainer("reference", make_ref, lambda m, xs, ys, e, s: train_reference(
            m, xs, ys, e, seed=s, layout=ref_layout, device=device), str(ref_layout),
            train_flops_per_image(make_ref, shape), {"widths": args.reference_widths,
                                                     **defaults(train_reference, "seed", "layout", "device")}),
    }
    names = [n for n in TRAINERS if n in args.trainers]
    peak = bf16_peak()
    probe = min(256 * 20, len(x))
    ips = {}
    for name in names if args.search or budgets else ():
        ips[name] = probe_images_per_second(trainers[name], x, y, probe)
        print(f"probe {name:<9} ({trainers[name].layout}): {ips[name]:.0f} img/s, "
              f"{len(x) / ips[name]:.0f} s an epoch of {len(x)} images", flush=True)
    t0 = time.perf_counter()
    accuracy(make(), xt, yt)
    eval_s = time.perf_counter() - t0
    record = {"benchmark": "train", "device": device_name(device), "created_at": now_iso(),
              "versions": package_versions(("torch", "timm")), "model": args.model, "zoo": args.zoo,
              "layout": str(layout), "layouts": {n: trainers[n].layout for n in names},
              "reference_widths": args.reference_widths, "train_images": len(x), "test_images": len(xt),
              "train_flops_per_image": {n: trainers[n].flops for n in names}, "bf16_matmul_peak_gflops": peak,
              "probe_images_per_second": ips, "target_accuracy": args.target, "evaluation": EVALUATION,
              "setups": {n: trainers[n].setup for n in names}}
    out = args.out

    def save(complete: bool) -> None:
        # the time to target (--search) is the headline record; budgets and the precision check go beside it
        name = f"train-{device.type}" if args.search else f"train-budgets-{device.type}"
        write_record({**record, "complete": complete}, name, out)

    if args.search:
        record["estimated_search_s"] = print_estimate(names, ips, guesses, args.seeds, len(x), eval_s,
                                                      args.max_epochs)
        if args.estimate:
            return record
        stored = resumable_trials(out or RESULTS / f"train-{device.type}.json", record) if args.resume else {}
        record.update(seeds=args.seeds, max_epochs=args.max_epochs, max_search_s=args.max_search_s,
                      guesses=dict(guesses), trials=[], per_seed={n: [] for n in names},
                      resumed_trials=len(stored))
        results = {n: [] for n in names}
        next_guess = dict(guesses)
        for seed in args.seeds:
            for name in names:
                tr = trainers[name]

                def run(epochs, tr=tr, seed=seed):
                    resumed = (seed, tr.name, epochs) in stored
                    row = (stored[seed, tr.name, epochs] if resumed else
                           {**timed_trial(tr, seed, epochs, data, peak), "created_at": now_iso()})
                    record["trials"].append(row)
                    ips[tr.name] = row["images_per_second"]  # the latest rate predicts the next training
                    print(f"seed {seed} {tr.name:<9} {epochs:>3} epochs  {row['seconds']:>6.0f} s  "
                          f"acc {100 * row['accuracy']:.2f} %  {row['images_per_second']:.0f} img/s  "
                          f"load {row['load_average_1m']:.1f}" + ("  (stored)" if resumed else ""), flush=True)
                    save(complete=False)  # every training as it lands: --resume goes on from here
                    return Trial(epochs, row["seconds"], row["accuracy"])

                res = search_epochs(run, args.target, next_guess[name], max_epochs=args.max_epochs,
                                    max_seconds=args.max_search_s,
                                    predict_seconds=lambda e, n=name: e * len(x) / ips[n])
                results[name].append(res)
                row = {"seed": seed, **res.to_dict()}
                del row["trials"]
                record["per_seed"][name].append(row)
                if res.hit:
                    next_guess[name] = res.hit.epochs
                interp = res.interpolated_seconds
                print(f"seed {seed} {name}: {res.status}"
                      + (f", {res.hit.epochs} epochs in {res.seconds:.0f} s" if res.hit else "")
                      + (f" (last miss {res.miss.epochs} epochs, {res.miss.seconds:.0f} s, "
                         f"{100 * res.miss.accuracy:.2f} %)" if res.miss else "")
                      + (f"; interpolated {interp:.0f} s" if interp else "")
                      + (f"; stopped by {res.stopped_by}" if res.stopped_by else ""), flush=True)
                save(complete=False)
        summary = {n: summarise(results[n]) for n in names}
        record["summary"] = summary
        record["time_to_target_s"] = {n: summary[n]["seconds"]["median"] for n in names}
        record["time_to_target_ratio"] = {f"{n}_over_ours": ratio(summary[n]["seconds"], summary["ours"]["seconds"])
                                          for n in names if n != "ours" and "ours" in names}
        for n in names:
            s = summary[n]["seconds"]
            print(f"time to {100 * args.target:.0f} %, {n}: median {_fmt(s['median'])} s (range {_fmt(s['min'])} – "
                  f"{_fmt(s['max'])} s), "
                  f"{summary[n]['n_resolved']} of {len(args.seeds)} seeds resolved", flush=True)
        for key, r in record["time_to_target_ratio"].items():
            if r:
                print(f"{key}: {r['median']:.2f}× (range over seed pairings {_fmt(r['low'])} – {_fmt(r['high'])})")

    rows = []
    for budget in budgets:
        for name in names:
            epochs = max(1, round(budget * ips[name] / len(x)))
            r = timed_trial(trainers[name], 0, epochs, data, peak)
            r["budget_s"] = budget
            rows.append(r)
            print(f"budget {budget:>5.0f} s  {name:<9} {epochs:>3} epochs  {r['seconds']:>6.0f} s  "
                  f"acc {100 * r['accuracy']:.1f} %  {r['images_per_second']:.0f} img/s  "
                  f"{r['gflops']:.0f} GFLOP/s ({100 * r['fraction_of_bf16_peak']:.0f} % of bf16 peak)", flush=True)
    if rows:
        record["budgets"] = rows
        record["first_budget_at_target_s"] = {  # quantised by the budgets: --search measures the time to target
            n: min((r["seconds"] for r in rows if r["trainer"] == n and r["accuracy"] >= args.target), default=None)
            for n in names}
    if args.precision_check:
        check = []
        for precision in ("fp32", "bf16"):
            for seed in args.seeds:
                model = make(seed)
                t0 = time.perf_counter()
                train(model, x, y, TrainConfig(epochs=args.check_epochs, seed=seed, precision=precision),
                      recipe=entry.recipe, device=device)
                r = {"seconds": time.perf_counter() - t0, "accuracy": accuracy(model, xt, yt),
                     "precision": precision, "seed": seed}
                check.append(r)
                print(f"precision {precision} seed {seed}: acc {100 * r['accuracy']:.2f} %  {r['seconds']:.0f} s",
                      flush=True)
        summary = precision_summary(check)
        record.update(precision_check=check, precision_summary=summary)
        print(f"bf16 − fp32 accuracy: {100 * summary['difference']:+.2f} pp "
              f"(95 % CI {100 * summary['ci_low']:+.2f} to {100 * summary['ci_high']:+.2f} pp, Welch p = "
              f"{summary['welch_p']:.2f}); seed std fp32 {100 * summary['std_fp32']:.2f} pp, "
              f"bf16 {100 * summary['std_bf16']:.2f} pp; bf16 speed-up {summary['speedup']:.2f}×")
    print(f"device: {record['device']}  model {args.model} ({layout}), reference {ref_layout}  "
          f"bf16 peak {peak:.0f} GFLOP/s")
    save(complete=True)
    return record


if __name__ == "__main__":
    main()
