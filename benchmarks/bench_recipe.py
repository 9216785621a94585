"""How the chapter recipe's knobs move accuracy in a short run: one model, a few epochs on the whole CIFAR-10
training set, one variant per line (a JSON object of ``TrainConfig`` fields, ``recipe`` to switch optimiser
family). Every variant trains from the same initialisation and data order; test accuracy on the whole test split
and seconds are recorded, with the device named. A sweep, not a test: one seed per variant, so differences of a
point or two are within seed noise (see ``bench_train.py --precision-check`` for the seed spread).

    python benchmarks/bench_recipe.py                                  # resnet10_c32: the SGD learning rate
    python benchmarks/bench_recipe.py --model vit_d64_p4 --variants '{"lr": 0.002}' '{"lr": 0.004}'
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from sat_lib.models import get_zoo
from sat_lib.provenance import default_device, device_name, now_iso, package_versions
from sat_lib.train import RECIPES, TrainConfig, predict, train
from sat_lib.weights import build_for

from _data import cifar10_tensors  # benchmarks/_data.py
from _record import write_record  # benchmarks/_record.py (the script folder is on sys.path)

DEFAULT_VARIANTS = ['{"lr": 0.2}', '{"lr": 0.4}', '{"lr": 0.8}', '{"lr": 1.6}', '{"lr": 0.2, "label_smoothing": 0.0}',
                    '{"lr": 0.2, "weight_decay": 5e-5}', '{"lr": 0.2, "warmup": 0.05}',
                    '{"lr": 0.8, "label_smoothing": 0.1}']


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--zoo", default="cifar-cpu")
    p.add_argument("--model", default="resnet10_c32")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--variants", nargs="+", default=DEFAULT_VARIANTS, help="JSON objects of TrainConfig fields")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)

    device = default_device()
    tr, (x, y), (xt, yt) = cifar10_tensors()
    entry = get_zoo(args.zoo)[args.model]
    rows = []
    for text in args.variants:
        variant = json.loads(text)
        recipe = variant.pop("recipe", entry.recipe)
        RECIPES[recipe]  # unknown names fail before any training
        cfg = TrainConfig(epochs=args.epochs, **variant)
        torch.manual_seed(cfg.seed)
        model = build_for(entry, tr)
        t0 = time.perf_counter()
        log = train(model, x, y, cfg, recipe=recipe, device=device)
        seconds = time.perf_counter() - t0
        acc = float((predict(model, xt) == yt).float().mean())
        lr = cfg.lr if cfg.lr is not None else RECIPES[recipe].lr
        rows.append({"variant": variant, "recipe": recipe, "lr": lr, "accuracy": acc, "seconds": seconds,
                     "layout": log.layout})
        print(f"{json.dumps(variant):<45} {recipe:<6} lr {lr:<7g} acc {100 * acc:5.1f} %  {seconds:5.0f} s", flush=True)
    record = {"benchmark": "recipe", "device": device_name(device), "created_at": now_iso(),
              "versions": package_versions(("torch", "timm")), "model": args.model, "zoo": args.zoo,
              "epochs": args.epochs, "rows": rows}
    write_record(record, f"recipe-{args.model}-{device.type}", args.out)
    return record


if __name__ == "__main__":
    main()
