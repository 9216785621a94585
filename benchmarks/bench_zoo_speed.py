"""Which stored training times describe the code and which the machine's other work: a short quiet timing of
every model of the ``sat-matrix`` zoo against the training seconds its committed result records.

For each model: one warm-up epoch, then one timed epoch on ``--n`` training images (the chapter's recipe,
precision and memory layout, a small learning rate so no short run diverges), scaled to the chapter's whole
training (all steps of all its epochs). ``ratio`` = stored / predicted: near 1 the stored time is this machine's
speed; well above 1 the model was timed while something else ran, and is a candidate for ``sat-companion retime``.
The probe is short and this machine's own speed drifts (a shared host: the same model probed minutes apart
differed by up to 1.5×), so read the ratios against each other within one run, and the summed totals, rather than
against 1 exactly. Run it on a quiet machine. Not a test: run it, read the ratios.

    python benchmarks/bench_zoo_speed.py                           # every model, the quick profile's result
    python benchmarks/bench_zoo_speed.py --models vit_d64_p4 vgg_c32 --n 2560
"""
from __future__ import annotations

import argparse
import dataclasses
import math
from pathlib import Path

import numpy as np
import torch

from sat_lib.provenance import default_device, device_name, now_iso, package_versions

from _record import write_record  # benchmarks/_record.py (the script folder is on sys.path)


def probe(entry, data, cfg, n: int, device) -> dict:
    """Seconds per step of ``entry``'s training on ``n`` images of ``data`` with ``cfg`` (after one warm-up
    epoch), and the layout the chapter's training uses for it."""
    from sat_lib.precision import choose_layout
    from sat_lib.train import train
    from sat_lib.weights import build_for

    tc = dataclasses.replace(cfg, epochs=1, lr=1e-3, precision=entry.precision_for(cfg.precision))
    torch.manual_seed(tc.seed)
    model = build_for(entry, data).to(device)
    layout = choose_layout(model, (data.channels, data.image_size, data.image_size), tc.precision, device)
    x = torch.from_numpy(np.ascontiguousarray(data.images[:n])).permute(0, 3, 1, 2).contiguous()
    y = torch.from_numpy(np.asarray(data.labels[:n], dtype=np.int64))
    train(model, x, y, tc, recipe=entry.recipe, device=device, layout=layout)  # warm-up
    log = train(model, x, y, tc, recipe=entry.recipe, device=device, layout=layout)
    return {"layout": str(layout), "seconds_per_step": log.seconds / math.ceil(n / tc.batch_size)}


def main(argv=None) -> dict:
    from sat_lib.config import project_config
    from sat_lib.experiments import chapter_result, resolve_params
    from sat_lib.models import get_zoo
    from sat_lib.zoo import training_split

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--profile", default="quick")
    p.add_argument("--models", nargs="*", help="zoo entries (default: every model of the result)")
    p.add_argument("--n", type=int, default=5120, help="training images per timed epoch")
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)

    cfg = resolve_params("sat-matrix", args.profile)
    ds = chapter_result(cfg, mode="cache_only")
    zoo = get_zoo(cfg.zoo)
    data = training_split(cfg.dataset, cfg.train_size, cfg.seed)
    device = default_device()
    steps_per_epoch = math.ceil(len(data) / cfg.train.batch_size)
    rows = {}
    for name in args.models or list(ds["model"].values):
        entry = zoo[name]
        r = probe(entry, data, cfg.train, args.n, device)
        epochs = entry.epochs_for(cfg.train.epochs)
        predicted = r["seconds_per_step"] * steps_per_epoch * epochs
        stored = float(ds["train_seconds"].sel(model=name))
        rows[name] = {**r, "epochs": epochs, "predicted_seconds": predicted, "stored_seconds": stored,
                      "ratio": stored / predicted}
        print(f"{name:<26} {r['layout']:<8} predicted {predicted:7.1f} s  stored {stored:7.1f} s  "
              f"ratio {stored / predicted:4.2f}", flush=True)
    record = {"benchmark": "zoo_speed", "device": device_name(device), "created_at": now_iso(),
              "versions": package_versions(), "profile": args.profile, "result": ds.attrs.get("cache_key", ""),
              "result_commit": ds.attrs.get("git_commit", ""), "images_per_timed_epoch": args.n,
              "data": str(project_config().roots_for(cfg.dataset)), "models": rows,
              "predicted_total_minutes": sum(r["predicted_seconds"] for r in rows.values()) / 60,
              "stored_total_minutes": sum(r["stored_seconds"] for r in rows.values()) / 60}
    print(f"training, all models: predicted {record['predicted_total_minutes']:.1f} min, "
          f"stored {record['stored_total_minutes']:.1f} min")
    write_record(record, f"zoo-speed-{args.profile}-cpu" if device.type == "cpu" else f"zoo-speed-{args.profile}",
                 args.out)
    return record


if __name__ == "__main__":
    main()
