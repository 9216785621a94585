"""PGD throughput: sat_lib.attacks.pgd against torchattacks.PGD on the same model, images and device.

Reports image·steps per second, attack success rate and model-FLOP utilisation (FLOPs of the forward and
input-backward passes (forward counted by torch.utils.flop_counter, backward to the input taken as one forward), over the device's dense bf16/fp32 peak when known),
and writes a JSON record with the device name. Not a test: run it, read the ratio.

    python benchmarks/bench_pgd.py                       # resnet18 from the cifar zoo, 5 000 images, 50 steps
    python benchmarks/bench_pgd.py --model resnet18 --n 512 --steps 10   # a CPU-sized run
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from sat_lib.attacks import PGDConfig, pgd
from sat_lib.precision import choose_layout
from sat_lib.models import Normalized, get_zoo
from sat_lib.provenance import default_device, device_name, now_iso, package_versions

from _record import write_record  # benchmarks/_record.py (the script folder is on sys.path)

# dense peak FLOP/s by device-name fragment (bf16 tensor core, fp32): used for model-FLOP utilisation
PEAKS = {"H100": (989e12, 67e12), "H200": (989e12, 67e12), "A100": (312e12, 19.5e12)}


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


def success_rate(model, adv, y) -> float:
    with torch.no_grad():
        return float((model(adv).argmax(1) != y).float().mean())


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--zoo", default="cifar")
    p.add_argument("--model", default="resnet18")
    p.add_argument("--n", type=int, default=5000)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--batch", type=int, default=5000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)

    import torchattacks

    device = default_device()
    torch.manual_seed(0)
    entry = get_zoo(args.zoo)[args.model]
    model = Normalized(entry.build(num_classes=10, img_size=32, in_chans=3), (0.49, 0.48, 0.45), (0.25, 0.24, 0.26))
    model = model.to(device).eval()
    g = torch.Generator(device="cpu").manual_seed(0)
    x = torch.rand(args.n, 3, 32, 32, generator=g).to(device)
    with torch.no_grad():
        y = model(x).argmax(1)  # attack the model's own predictions: success = prediction changed
    cfg = PGDConfig(eps=8 / 255, step_size=2 / 255, steps=args.steps, seed=0)
    flops = flops_per_image_step(model, x)

    peer = torchattacks.PGD(model, eps=cfg.eps, alpha=cfg.step_size, steps=cfg.steps, random_start=True)
    runs = {
        "sat_lib (auto precision)": lambda: pgd(model, x, y, cfg, batch_size=args.batch),
        "sat_lib (fp32)": lambda: pgd(model, x, y, cfg, batch_size=args.batch, precision="fp32"),
        "torchattacks.PGD": lambda: torch.cat([peer(x[i:i + args.batch], y[i:i + args.batch])
                                               for i in range(0, args.n, args.batch)]),
    }
    peak = next((v for k, v in PEAKS.items() if k in device_name(device)), None)
    rows = {}
    for name, fn in runs.items():
        fn()  # warm-up
        times = []
        for _ in range(args.repeats):
            adv, sec = timed(fn, device)
            times.append(sec)
        sec = sorted(times)[len(times) // 2]
        rate = args.n * args.steps / sec
        mfu = None
        if peak is not None:
            mfu = flops * rate / (peak[0] if "auto" in name and device.type == "cuda" else peak[1])
        rows[name] = {"seconds": sec, "image_steps_per_s": rate, "success_rate": success_rate(model, adv, y),
                      "model_flop_utilisation": mfu}
    # which precision and memory format each of our runs used (chosen from a training-step calibration)
    rows["sat_lib (auto precision)"]["layout"] = str(choose_layout(model, (3, 32, 32), "auto", device))
    rows["sat_lib (fp32)"]["layout"] = str(choose_layout(model, (3, 32, 32), "fp32", device))
    base = rows["torchattacks.PGD"]["image_steps_per_s"]
    for r in rows.values():
        r["speedup_vs_torchattacks"] = r["image_steps_per_s"] / base
    record = {"benchmark": "pgd", "device": device_name(device), "created_at": now_iso(),
              "versions": package_versions(("torch", "timm", "torchattacks")), "model": args.model,
              "n": args.n, "steps": args.steps, "batch": args.batch, "gflops_per_image_step": flops / 1e9,
              "results": rows}
    print(f"device: {record['device']}   model: {args.model}   images: {args.n}   steps: {args.steps}")
    print(f"{'implementation':<26} {'img·steps/s':>12} {'success':>8} {'MFU':>7} {'× torchattacks':>15}")
    for name, r in rows.items():
        mfu = f"{100 * r['model_flop_utilisation']:.1f}%" if r["model_flop_utilisation"] is not None else "n/a"
        print(f"{name:<26} {r['image_steps_per_s']:>12.0f} {100 * r['success_rate']:>7.1f}% {mfu:>7} "
              f"{r['speedup_vs_torchattacks']:>14.2f}×  {r.get('layout', '')}")
    write_record(record, f"pgd-{device.type}", args.out)
    return record


if __name__ == "__main__":
    main()
