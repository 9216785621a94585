"""PGD throughput: sat_lib.attacks.pgd against torchattacks.PGD on the same model, images and device.

Reports image·steps per second, attack success rate and model-FLOP utilisation (FLOPs of the forward and
input-backward passes (forward counted by torch.utils.flop_counter, backward to the input taken as one forward),
over the device's dense peak: an H100/H200/A100 by name; on a CPU the bf16 matmul rate measured in the same run,
``benchmarks/_peak.py``), and writes a JSON record with the device name. Not a test: run it, read the ratio.

``--batch`` takes several attack batch sizes: every implementation is timed at each, and each model's ratio
compares each implementation at the batch it ran fastest at (a CPU's caches may favour smaller batches than a
GPU's memory). ``--model`` takes several models: each gets its own rows, and the record's ``summary`` the median
and range of the ratios.

``--trained``: the models of ``--zoo`` as the sat-matrix chapter (quick profile) trains them (from the weights
cache, trained and cached where missing), attacked with the chapter's L∞ attack on its test images with their
labels; success = misclassified. Without it, untrained models on uniform noise, attacked on their own predictions.

The precision check (``precision_check``) says whether the fast layout gives the same result:

- per model, on the bench's images: the success of our attack in the fast layout against fp32 and against
  torchattacks (the difference of success rates in pp, paired by image, with a 95 % interval over images, and the
  share of images on which both agree);
- on the SAT zoo: the sat-matrix chapter's stored attack check, the mean absolute change of its checked pairs' SAT
  when attack and evaluation run in fp32 instead of each model's fast layout (interval over images), against the
  tolerance its gates use — the check the chapters' use of the fast layout rests on.

    python benchmarks/bench_pgd.py                       # resnet18 from the cifar zoo, 5 000 images, 50 steps
    python benchmarks/bench_pgd.py --n 512 --steps 10 --batch 512 256 128                 # a CPU-sized run
    python benchmarks/bench_pgd.py --zoo cifar-cpu --trained --model resnet10_c32 vgg_c32 --n 512 --steps 10
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from sat_lib.attacks import PGDConfig, pgd
from sat_lib.models import Normalized, get_zoo
from sat_lib.precision import choose_layout
from sat_lib.provenance import default_device, device_name, now_iso, package_versions
from sat_lib.stats import bootstrap

from _peak import bf16_peak  # benchmarks/_peak.py (the script folder is on sys.path)
from _record import write_record  # benchmarks/_record.py

# dense peak FLOP/s by device-name fragment (bf16 tensor core, fp32): used for model-FLOP utilisation
PEAKS = {"H100": (989e12, 67e12), "H200": (989e12, 67e12), "A100": (312e12, 19.5e12)}
OURS, OURS_FP32, PEER = "sat_lib (auto precision)", "sat_lib (fp32)", "torchattacks.PGD"


def flops_per_image_step(model, x) -> float:
    """FLOPs of one PGD step for one image: the forward pass counted by FlopCounterMode, times 2 for the
    backward pass to the input (it costs about one forward; weight gradients are not computed)."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x[:8])
    return 2 * counter.get_total_flops() / 8


def timed(fn, device) -> tuple[torch.Tensor, float]:
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return out, time.perf_counter() - t0


def fooled(model, adv, y) -> np.ndarray:
    """Per image: the model's prediction on the example differs from ``y`` (evaluated in fp32)."""
    with torch.no_grad():
        return (model(adv).argmax(1) != y).cpu().numpy()


def success_difference(a: np.ndarray, b: np.ndarray) -> dict:
    """Success of ``a`` minus ``b`` in percentage points, paired by image, with a 95 % interval over images."""
    est = bootstrap((a.astype(float) - b.astype(float)) * 100, unit="images")
    return {"pp": est.value, "low": est.low, "high": est.high, "images": est.n,
            "both_agree": float((a == b).mean())}


def untrained_setup(zoo: str, name: str, n: int, device):
    """An untrained model of ``zoo`` on uniform noise, attacked on its own predictions, at the SAT chapters' ε."""
    entry = get_zoo(zoo)[name]
    torch.manual_seed(0)
    model = Normalized(entry.build(num_classes=10, img_size=32, in_chans=3), (0.49, 0.48, 0.45), (0.25, 0.24, 0.26))
    model = model.to(device).eval()
    x = torch.rand(n, 3, 32, 32, generator=torch.Generator(device="cpu").manual_seed(0)).to(device)
    with torch.no_grad():
        y = model(x).argmax(1)
    return model, x, y, {"eps": 8 / 255, "step_size": 2 / 255}, "auto"


def trained_setup(zoo: str, name: str, n: int, device):
    """The sat-matrix chapter's model (quick profile, ``zoo`` in place of its zoo) on the first ``n`` of its attacked
    test images, with the chapter's attack radius and step, in the entry's own precision where it fixes one."""
    from sat_lib.config import project_config
    from sat_lib.experiments._chapter import resolve_params
    from sat_lib.zoo.jobs import as_tensors, attack_sample, job_spec, train_or_load

    cfg = resolve_params("sat-matrix", "quick", {"zoo": zoo})
    spec = job_spec(cfg, name)
    model = train_or_load(spec).model.to(device).eval()
    test = project_config().load_data(cfg.dataset, "test")
    x, y = as_tensors(test, "cpu")
    idx = torch.from_numpy(attack_sample(cfg, len(test))[:n])
    return (model, x[idx].float().div(255).to(device), y[idx].to(device),
            {"eps": spec["attack"]["eps"], "step_size": spec["attack"]["step_size"]}, spec["precision"])


def bench_model(model, x, y, attack: dict, precision: str, args, device, peak: tuple[float, float]) -> dict:
    """Every implementation at every batch on one model; the rows, each implementation's fastest batch, the ratios
    and the per-image precision check."""
    import torchattacks

    cfg = PGDConfig(eps=attack["eps"], step_size=attack["step_size"], steps=args.steps, seed=0)
    flops = flops_per_image_step(model, x)
    peer = torchattacks.PGD(model, eps=cfg.eps, alpha=cfg.step_size, steps=cfg.steps, random_start=True)
    n = len(x)
    runs = {
        OURS: lambda b: pgd(model, x, y, cfg, batch_size=b, precision=precision),
        OURS_FP32: lambda b: pgd(model, x, y, cfg, batch_size=b, precision="fp32"),
        PEER: lambda b: torch.cat([peer(x[i:i + b], y[i:i + b]) for i in range(0, n, b)]),
    }
    rows, success = {}, {}
    for name, fn in runs.items():
        by_batch = {}
        for b in args.batch:
            fn(b)  # warm-up
            times = []
            for _ in range(args.repeats):
                adv, sec = timed(lambda: fn(b), device)
                times.append(sec)
            sec = sorted(times)[len(times) // 2]
            rate = n * args.steps / sec
            bf16 = name == OURS or device.type != "cuda"  # a CPU is set against its bf16 rate throughout
            hit = fooled(model, adv, y)
            by_batch[b] = {"seconds": sec, "image_steps_per_s": rate, "success_rate": float(hit.mean()),
                           "model_flop_utilisation": flops * rate / (peak[0] if bf16 else peak[1])}
            success[name, b] = hit
        best = max(by_batch, key=lambda b: by_batch[b]["image_steps_per_s"])
        rows[name] = {**by_batch[best], "batch": best, "by_batch": by_batch}
    # which precision and memory format each of our runs used (chosen from a training-step calibration)
    rows[OURS]["layout"] = str(choose_layout(model, (3, 32, 32), precision, device))
    rows[OURS_FP32]["layout"] = str(choose_layout(model, (3, 32, 32), "fp32", device))
    base = rows[PEER]["image_steps_per_s"]
    for r in rows.values():
        r["speedup_vs_torchattacks"] = r["image_steps_per_s"] / base
        for b, row in r["by_batch"].items():  # at one batch, against torchattacks at the same batch
            row["speedup_vs_torchattacks_same_batch"] = (row["image_steps_per_s"]
                                                         / rows[PEER]["by_batch"][b]["image_steps_per_s"])
    ours = success[OURS, rows[OURS]["batch"]]
    check = {"fast_vs_fp32": success_difference(ours, success[OURS_FP32, rows[OURS_FP32]["batch"]]),
             "fast_vs_torchattacks": success_difference(ours, success[PEER, rows[PEER]["batch"]])}
    return {"images": n, "gflops_per_image_step": flops / 1e9, "attack": attack, "results": rows,
            "precision_check": check}


def zoo_precision_check() -> dict:
    """The sat-matrix chapter's stored fp32 check (quick profile): mean |SAT change| of its checked pairs."""
    from sat_lib.analysis import sat_matrix_checks as checks
    from sat_lib.experiments import sat_matrix_checks
    from sat_lib.experiments._chapter import resolve_params

    check = sat_matrix_checks.shown(resolve_params("sat-matrix", "quick"), "cache_only")
    if check is None:
        return {"status": "not stored: run `sat-companion run sat-matrix --profile quick`"}
    est = checks.shift(check, "fp32")
    return {"status": "passed" if est.high <= checks.TOLERANCE else "failed",
            "models": [str(m) for m in check["model"].values], "mean_abs_sat_change": est.value, "low": est.low,
            "high": est.high, "unit": est.unit, "tolerance": checks.TOLERANCE,
            "source": "data/results/sat-matrix-checks (sat-matrix chapter, quick profile)"}


def print_model(name: str, rec: dict) -> None:
    rows = rec["results"]
    base = rows[PEER]["image_steps_per_s"]
    print(f"{name}: {rec['images']} images, {rec['gflops_per_image_step']:.3f} GFLOP an image-step")
    print(f"  {'implementation':<26} {'batch':>5} {'img·steps/s':>12} {'success':>8} {'MFU':>7} {'× torchattacks':>15}")
    for impl, r in rows.items():
        for b, row in r["by_batch"].items():
            mark = " *" if b == r["batch"] else ""
            print(f"  {impl:<26} {b:>5} {row['image_steps_per_s']:>12.0f} {100 * row['success_rate']:>7.1f}% "
                  f"{100 * row['model_flop_utilisation']:>6.1f}% {row['image_steps_per_s'] / base:>14.2f}×  "
                  f"{r.get('layout', '')}{mark}")
    for key, d in rec["precision_check"].items():
        print(f"  {key}: success {d['pp']:+.2f} pp [{d['low']:+.2f}, {d['high']:+.2f}] over {d['images']} images, "
              f"{100 * d['both_agree']:.1f} % of images alike")


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--zoo", default="cifar")
    p.add_argument("--model", nargs="+", default=["resnet18"])
    p.add_argument("--trained", action="store_true", help="the sat-matrix chapter's trained models and images")
    p.add_argument("--n", type=int, default=5000)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--batch", type=int, nargs="+", default=[5000], help="attack batch sizes, each timed")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)

    device = default_device()
    peak = next((v for k, v in PEAKS.items() if k in device_name(device)), None)
    if peak is None:  # a CPU: its measured bf16 matmul rate for both
        peak = (bf16_peak() * 1e9,) * 2
    setup = trained_setup if args.trained else untrained_setup
    models = {}
    for name in args.model:
        model, x, y, attack, precision = setup(args.zoo, name, args.n, device)
        models[name] = bench_model(model, x, y, attack, precision, args, device, peak)
        print_model(name, models[name])
    ratios = np.array([m["results"][OURS]["speedup_vs_torchattacks"] for m in models.values()])
    summary = {"speedup_vs_torchattacks": {"median": float(np.median(ratios)), "min": float(ratios.min()),
                                           "max": float(ratios.max()), "models": len(ratios)}}
    record = {"benchmark": "pgd", "device": device_name(device), "created_at": now_iso(),
              "versions": package_versions(("torch", "timm", "torchattacks")), "zoo": args.zoo,
              "trained": args.trained, "n": args.n, "steps": args.steps, "batches": args.batch,
              "peak_gflops": {"bf16": peak[0] / 1e9, "fp32": peak[1] / 1e9}, "models": models, "summary": summary,
              "sat_zoo_precision_check": zoo_precision_check()}
    print(f"device: {record['device']}   steps: {args.steps}   peak bf16 {peak[0] / 1e9:.0f} GFLOP/s")
    print(f"ours (each implementation at its fastest batch): median {summary['speedup_vs_torchattacks']['median']:.2f}× "
          f"torchattacks (range {ratios.min():.2f}–{ratios.max():.2f}× over {len(ratios)} models)")
    print(f"SAT zoo fp32 check: {record['sat_zoo_precision_check']}")
    write_record(record, f"pgd-{device.type}", args.out)
    return record


if __name__ == "__main__":
    main()
