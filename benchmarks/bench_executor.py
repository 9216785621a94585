"""Scale-out on one machine: N single-thread Dask workers against one process with N threads, training the same
models (``sat_lib.executor``). The faster is the default of ``executor.scheduler: auto``.

Writes a JSON record with the device named. Not a test: run it, read the ratio.

    python benchmarks/bench_executor.py                       # 4 × resnet10_c32, one epoch of 5 120 images
    python benchmarks/bench_executor.py --models 6 --n 2560 --model lcnet_050_s1
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

from sat_lib.executor import Executor, ExecutorConfig
from sat_lib.provenance import default_device, device_name, now_iso, package_versions

from _record import write_record  # benchmarks/_record.py (the script folder is on sys.path)


def train_one(spec: dict) -> float:
    """Train one zoo model on random CIFAR-shaped data (a job: module level, small spec); returns seconds."""
    from sat_lib.models import get_zoo
    from sat_lib.train import TrainConfig, train

    torch.manual_seed(spec["seed"])
    model = get_zoo(spec["zoo"])[spec["model"]].build(num_classes=10, img_size=32)
    g = torch.Generator().manual_seed(spec["seed"])
    x = (torch.rand(spec["n"], 3, 32, 32, generator=g) * 255).to(torch.uint8)
    y = torch.randint(0, 10, (spec["n"],), generator=g)
    t0 = time.perf_counter()
    train(model, x, y, TrainConfig(epochs=1, batch_size=256, seed=spec["seed"]), recipe="sgd", device="cpu")
    return time.perf_counter() - t0


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--zoo", default="cifar-cpu")
    p.add_argument("--model", default="resnet10_c32")
    p.add_argument("--models", type=int, default=4)
    p.add_argument("--n", type=int, default=5120)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    cores = os.cpu_count() or 1
    specs = [{"zoo": args.zoo, "model": args.model, "seed": s, "n": args.n} for s in range(args.models)]
    train_one({**specs[0], "n": 512})  # warm-up and calibration (cached for the workers' thread count too)
    setups = {
        f"serial, one process × {torch.get_num_threads()} threads": ExecutorConfig(scheduler="serial"),
        f"LocalCluster, {cores} workers × 1 thread": ExecutorConfig(scheduler="local", n_workers=cores,
                                                                    threads_per_worker=1),
    }
    if cores >= 4:
        setups[f"LocalCluster, {cores // 2} workers × 2 threads"] = ExecutorConfig(
            scheduler="local", n_workers=cores // 2, threads_per_worker=2)
    rows = {}
    for name, cfg in setups.items():
        with Executor(cfg) as ex:  # start the cluster and calibrate at its thread count outside the timing
            ex.map(train_one, [{**specs[0], "n": 512}] * cfg.workers())
            t0 = time.perf_counter()
            ex.map(train_one, specs, desc="bench")
            sec = time.perf_counter() - t0
        rows[name] = {"seconds": sec, "models_per_hour": 3600 * len(specs) / sec}
    base = next(iter(rows.values()))["models_per_hour"]
    for r in rows.values():
        r["speedup_vs_serial"] = r["models_per_hour"] / base
    record = {"benchmark": "executor", "device": device_name(default_device()), "cores": cores,
              "created_at": now_iso(), "versions": package_versions(("torch", "timm", "distributed")),
              "model": args.model, "models": args.models, "images": args.n, "results": rows}
    print(f"device: {record['device']}   {args.models} × {args.model}, one epoch of {args.n} images")
    for name, r in rows.items():
        print(f"{name:<40} {r['seconds']:>7.1f} s  {r['models_per_hour']:>7.1f} models/h  "
              f"{r['speedup_vs_serial']:.2f}×")
    write_record(record, f"executor-{default_device().type}", args.out)
    return record


if __name__ == "__main__":
    main()
