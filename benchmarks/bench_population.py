"""Population training throughput: models per minute of ``sat_lib.population.train_population`` with the
``loop`` and ``vmap`` strategies, against the peer, a plain PyTorch loop (one model after another, the data on the
device, the official recipe: SGD lr 0.1, no momentum, batch 128).

Writes a JSON record with the device name. Not a test: run it, read the ratio.

    python benchmarks/bench_population.py                               # CNNSmall k=10, 8 seeds, 10 240 images
    python benchmarks/bench_population.py --family cnn_small --k 4 --seeds 4 --n 2560   # a CPU-sized run
"""
from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from sat_lib.models.widths import build_width_model
from sat_lib.population import PopulationConfig, train_population
from sat_lib.provenance import default_device, device_name, now_iso, package_versions

from _record import write_record  # benchmarks/_record.py (the script folder is on sys.path)


def plain_loop(make, seeds, x, y, epochs, batch):
    """The peer: what a researcher writes by hand — one model at a time, fp32, no stacking."""
    for seed in seeds:
        torch.manual_seed(seed)
        model = make().to(x.device).train()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for _ in range(epochs):
            order = torch.randperm(x.shape[0], device=x.device)
            for i in range(0, x.shape[0] - batch + 1, batch):
                idx = order[i:i + batch]
                loss = F.cross_entropy(model(x[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--family", default="cnn_small")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--seeds", type=int, default=8)
    p.add_argument("--n", type=int, default=10240)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)

    device = default_device()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(args.n, 3, 32, 32, generator=g).to(device)
    y = torch.randint(0, 10, (args.n,), generator=g).to(device)
    seeds = list(range(args.seeds))

    def make():
        return build_width_model(args.family, args.k, num_classes=10)

    base = PopulationConfig(epochs=args.epochs, batch_size=args.batch)
    runs = {
        "plain PyTorch loop (peer)": lambda: plain_loop(make, seeds, x, y, args.epochs, args.batch),
        "sat_lib loop": lambda: train_population(make, seeds, x, y, dataclasses.replace(base, strategy="loop")),
        "sat_lib vmap": lambda: train_population(make, seeds, x, y, dataclasses.replace(base, strategy="vmap")),
    }
    rows = {}
    for name, fn in runs.items():
        train_population(make, seeds[:1], x[:args.batch * 2], y[:args.batch * 2],
                         dataclasses.replace(base, strategy="vmap" if "vmap" in name else "loop"))  # warm-up
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        sec = time.perf_counter() - t0
        rows[name] = {"seconds": sec, "models_per_minute": 60 * args.seeds / sec,
                      "images_per_second": args.seeds * args.epochs * args.n / sec}
    peer = rows["plain PyTorch loop (peer)"]["models_per_minute"]
    for r in rows.values():
        r["speedup_vs_peer"] = r["models_per_minute"] / peer
    record = {"benchmark": "population", "device": device_name(device), "created_at": now_iso(),
              "versions": package_versions(("torch", "timm")), "family": args.family, "k": args.k,
              "seeds": args.seeds, "n": args.n, "epochs": args.epochs, "batch": args.batch, "results": rows}
    print(f"device: {record['device']}   {args.family} k={args.k}   seeds: {args.seeds}   "
          f"{args.epochs} epoch(s) of {args.n} images")
    print(f"{'implementation':<28} {'models/min':>11} {'img/s':>9} {'× peer':>8}")
    for name, r in rows.items():
        print(f"{name:<28} {r['models_per_minute']:>11.2f} {r['images_per_second']:>9.0f} "
              f"{r['speedup_vs_peer']:>7.2f}×")
    write_record(record, f"population-{device.type}", args.out)
    return record


if __name__ == "__main__":
    main()
