"""Accuracy per CPU-second: ``sat_lib.train`` against a plain PyTorch loop on the same model, same machine.

The peer is what a researcher writes by hand: the same architecture, fp32 and contiguous memory, SGD with
momentum 0.9 (lr 0.1, weight decay 5e-4), step decay (×0.1 at 50 % and 75 % of the steps), random crop (pad 4) +
flip, no label smoothing. Ours is the chapter recipe: the fastest measured precision/layout, label smoothing
0.2, Nesterov SGD with warm-up and linear decay, flip + 2-px translation.

For each time budget (default 60, 180, 600 s of training) both trainers get the number of epochs that fits it,
from their measured images/s; the record holds the test accuracy each reached, the seconds it took, images/s,
the achieved GFLOP/s (``torch.utils.flop_counter``) and its fraction of this machine's bf16 matmul peak measured
in the same run, and the time to 80 % (the first budget at which each trainer reached it). ``--precision-check``
trains ours in fp32 and in bf16 with three seeds each, to show that bf16 does not change accuracy beyond seed
noise. Not a test: run it, read the ratios.

    python benchmarks/bench_train.py                                   # vgg_c32, budgets 60/120/180/600 s
    python benchmarks/bench_train.py --model resnet10_c32 --budgets 60 180
    python benchmarks/bench_train.py --budgets 60 180 --precision-check --check-epochs 2
    python benchmarks/bench_train.py --model vit_d64_p4 --budgets --precision-check   # the check alone
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from sat_lib.models import get_zoo
from sat_lib.precision import choose_layout
from sat_lib.provenance import default_device, device_name, now_iso, package_versions
from sat_lib.train import TrainConfig, augment_batch, predict, train
from sat_lib.weights import build_for

from _data import cifar10_tensors  # benchmarks/_data.py
from _record import write_record  # benchmarks/_record.py (the script folder is on sys.path)


def plain_loop(model, x_u8, y, epochs, batch=256, lr=0.1):
    """The peer: fp32, contiguous, SGD + momentum, step decay, crop + flip, plain cross-entropy."""
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    steps = epochs * (x_u8.shape[0] // batch)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, [int(0.5 * steps), int(0.75 * steps)], gamma=0.1)
    g = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        order = torch.randperm(x_u8.shape[0], generator=g)
        for i in range(x_u8.shape[0] // batch):
            idx = order[i * batch:(i + 1) * batch]
            xb = augment_batch(x_u8[idx].float().div_(255), g, pad=4)
            loss = F.cross_entropy(model(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()


def bf16_peak(n: int = 2048, reps: int = 5) -> float:
    """GFLOP/s of an n×n bf16 matmul on this machine (the physical anchor for achieved rates)."""
    a = torch.randn(n, n, dtype=torch.bfloat16)
    b = torch.randn(n, n, dtype=torch.bfloat16)
    a @ b
    best = math.inf
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


def train_flops_per_image(make, shape) -> float:
    """Forward + backward FLOPs of one training image (counted by torch's FlopCounterMode on a batch of 8)."""
    model = make().train()
    x = torch.rand(8, *shape)
    with FlopCounterMode(display=False) as counter:
        model(x).sum().backward()
    return counter.get_total_flops() / 8


def throughput(run_epoch, n_images: int) -> float:
    """Images/s of a trainer, timed on a short run (one epoch of ``n_images``)."""
    t0 = time.perf_counter()
    run_epoch()
    return n_images / (time.perf_counter() - t0)


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


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--zoo", default="cifar-cpu")
    p.add_argument("--model", default="vgg_c32", help="a model of --zoo (default: the zoo's plain CNN)")
    p.add_argument("--budgets", type=float, nargs="*", default=[60, 120, 180, 600],
                   help="seconds of training (none: only the --precision-check)")
    p.add_argument("--target", type=float, default=0.80)
    p.add_argument("--precision-check", action="store_true")
    p.add_argument("--check-epochs", type=int, default=2)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)

    device = default_device()
    train_set, (x, y), (xt, yt) = cifar10_tensors()
    entry = get_zoo(args.zoo)[args.model]

    def make(seed=0):
        torch.manual_seed(seed)
        return build_for(entry, train_set)

    ours_cfg = TrainConfig(epochs=1, batch_size=256, seed=0)
    layout = choose_layout(make(), x.shape[1:], "auto", device)
    peak = bf16_peak()
    flops = train_flops_per_image(make, tuple(x.shape[1:]))
    probe = slice(0, 256 * 20)
    ips = {"ours": throughput(lambda: train(make(), x[probe], y[probe], ours_cfg, recipe=entry.recipe,
                                             device=device, layout=layout), probe.stop),
           "peer": throughput(lambda: plain_loop(make(), x[probe], y[probe], 1), probe.stop)}

    def run(name, epochs, seed=0, precision="auto"):
        model = make(seed)
        t0 = time.perf_counter()
        if name == "ours":
            cfg = dataclasses.replace(ours_cfg, epochs=epochs, seed=seed, precision=precision)
            train(model, x, y, cfg, recipe=entry.recipe, device=device)
        else:
            plain_loop(model, x, y, epochs)
        sec = time.perf_counter() - t0
        acc = float((predict(model, xt, precision="auto" if name == "ours" else "fp32") == yt).float().mean())
        return {"epochs": epochs, "seconds": sec, "accuracy": acc, "images_per_second": epochs * len(x) / sec}

    rows = []
    for budget in args.budgets:
        for name in ("ours", "peer"):
            epochs = max(1, round(budget * ips[name] / len(x)))
            r = run(name, epochs)
            r.update(trainer=name, budget_s=budget, gflops=r["images_per_second"] * flops / 1e9)
            r["fraction_of_bf16_peak"] = r["gflops"] / peak
            rows.append(r)
            print(f"budget {budget:>5.0f} s  {name:<5} {epochs:>3} epochs  {r['seconds']:>6.0f} s  "
                  f"acc {100 * r['accuracy']:.1f} %  {r['images_per_second']:.0f} img/s  "
                  f"{r['gflops']:.0f} GFLOP/s ({100 * r['fraction_of_bf16_peak']:.0f} % of bf16 peak)", flush=True)
    time_to = {}
    for name in ("ours", "peer"):
        hit = [r["seconds"] for r in rows if r["trainer"] == name and r["accuracy"] >= args.target]
        time_to[name] = min(hit) if hit else None
    check = []
    if args.precision_check:
        for precision in ("fp32", "bf16"):
            for seed in range(args.seeds):
                r = run("ours", args.check_epochs, seed=seed, precision=precision)
                r.update(precision=precision, seed=seed)
                check.append(r)
                print(f"precision {precision} seed {seed}: acc {100 * r['accuracy']:.2f} %  {r['seconds']:.0f} s",
                      flush=True)
    summary = precision_summary(check) if check else None
    if summary:
        print(f"bf16 − fp32 accuracy: {100 * summary['difference']:+.2f} pp "
              f"(95 % CI {100 * summary['ci_low']:+.2f} to {100 * summary['ci_high']:+.2f} pp, Welch p = "
              f"{summary['welch_p']:.2f}); seed std fp32 {100 * summary['std_fp32']:.2f} pp, "
              f"bf16 {100 * summary['std_bf16']:.2f} pp; bf16 speed-up {summary['speedup']:.2f}×")
    record = {"benchmark": "train", "device": device_name(device), "created_at": now_iso(),
              "versions": package_versions(("torch", "timm")), "model": args.model, "zoo": args.zoo,
              "layout": str(layout), "train_flops_per_image": flops, "bf16_matmul_peak_gflops": peak,
              "probe_images_per_second": ips, "target_accuracy": args.target,
              "time_to_target_s": time_to, "budgets": rows, "precision_check": check,
              "precision_summary": summary}
    if time_to["ours"] and time_to["peer"]:
        record["time_to_target_ratio_peer_over_ours"] = time_to["peer"] / time_to["ours"]
    print(f"device: {record['device']}  model {args.model} ({layout})  bf16 peak {peak:.0f} GFLOP/s  "
          f"time to {100 * args.target:.0f} %: ours {time_to['ours']}, peer {time_to['peer']}")
    write_record(record, f"train-{device.type}", args.out)
    return record


if __name__ == "__main__":
    main()
