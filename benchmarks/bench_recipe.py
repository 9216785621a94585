"""How the chapter recipe's knobs move accuracy in a short run: one model, a few epochs on the whole CIFAR-10
training set, one variant per line (a JSON object of ``TrainConfig`` fields, ``recipe`` to switch optimiser
family, ``ema`` for a moving average of the weights with that decay, ``epochs`` to override ``--epochs``). Every
variant trains from the same initialisation and data order; test accuracy on the whole test split and seconds are
recorded, with the device named. A sweep, not a test: one seed per variant, so differences of a
point or two are within seed noise (see ``bench_train.py --precision-check`` for the seed spread).

    python benchmarks/bench_recipe.py                                  # resnet10_c32: the SGD learning rate
    python benchmarks/bench_recipe.py --model vit_d64_p4 --variants '{"lr": 0.002}' '{"lr": 0.004}'
    python benchmarks/bench_recipe.py --model resnet10_c32 vit_d64_p4 --name recipe-families --resume \
        --variants '{"epochs": 6}' '{"epochs": 6, "ema": 0.999}' '{"epochs": 6, "label_smoothing": 0.0}'

Several models (``--model a b …``) share one record (``--name``); every row is written as it lands, and
``--resume`` trains only the (model, variant) pairs the record lacks, so a long study spans several runs.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from sat_lib.models import get_zoo
from sat_lib.provenance import default_device, device_name, now_iso, package_versions
from sat_lib.train import RECIPES, TrainConfig, predict, train
from sat_lib.weights import build_for

from _data import cifar10_tensors  # benchmarks/_data.py
from _record import RESULTS, write_record  # benchmarks/_record.py (the script folder is on sys.path)

DEFAULT_VARIANTS = ['{"lr": 0.2}', '{"lr": 0.4}', '{"lr": 0.8}', '{"lr": 1.6}', '{"lr": 0.2, "label_smoothing": 0.0}',
                    '{"lr": 0.2, "weight_decay": 5e-5}', '{"lr": 0.2, "warmup": 0.05}',
                    '{"lr": 0.8, "label_smoothing": 0.1}']


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--zoo", default="cifar-cpu")
    p.add_argument("--model", nargs="+", default=["resnet10_c32"], help="one or more models of --zoo")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--variants", nargs="+", default=DEFAULT_VARIANTS, help="JSON objects of TrainConfig fields")
    p.add_argument("--name", default=None, help="record name (default: recipe-<model> for one model)")
    p.add_argument("--resume", action="store_true",
                   help="keep the rows of the record already written and train only the (model, variant) pairs it lacks")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)

    device = default_device()
    zoo = get_zoo(args.zoo)
    entries = {m: zoo[m] for m in args.model}  # unknown names fail before any training
    variants = [json.loads(text) for text in args.variants]
    for v in variants:
        RECIPES[v.get("recipe", "sgd")]
    tag = args.name or (f"recipe-{args.model[0]}" if len(args.model) == 1 else "recipe-models")
    name = f"{tag}-{device.type}"
    path = Path(args.out) if args.out else RESULTS / f"{name}.json"
    rows = json.loads(path.read_text())["rows"] if args.resume and path.exists() else []
    done = {(r.get("model", args.model[0]), json.dumps(r["asked"], sort_keys=True)) for r in rows if "asked" in r}
    record = {"benchmark": "recipe", "device": device_name(device), "versions": package_versions(("torch", "timm")),
              "models": args.model, "zoo": args.zoo, "epochs": args.epochs, "rows": rows}
    tr, (x, y), (xt, yt) = cifar10_tensors()
    for model_name, entry in entries.items():
        for asked in variants:
            if (model_name, json.dumps(asked, sort_keys=True)) in done:
                continue
            variant = dict(asked)
            recipe = variant.pop("recipe", entry.recipe)
            ema = variant.pop("ema", None)
            cfg = TrainConfig(**{"epochs": args.epochs, **variant})
            torch.manual_seed(cfg.seed)
            model = build_for(entry, tr)
            t0 = time.perf_counter()
            log = train(model, x, y, cfg, recipe=recipe, device=device, ema=ema)
            seconds = time.perf_counter() - t0
            acc = float((predict(model, xt) == yt).float().mean())
            lr = cfg.lr if cfg.lr is not None else RECIPES[recipe].lr
            rows.append({"model": model_name, "family": entry.family, "asked": asked, "variant": asked,
                         "recipe": recipe, "lr": lr, "epochs": cfg.epochs, "accuracy": acc, "seconds": seconds,
                         "layout": log.layout, "load_average_1m": os.getloadavg()[0]})
            print(f"{model_name:<18} {json.dumps(asked):<45} {recipe:<6} lr {lr:<7g} acc {100 * acc:5.1f} %  "
                  f"{seconds:5.0f} s", flush=True)
            write_record({**record, "created_at": now_iso()}, name, args.out)  # every row as it lands
    record["created_at"] = now_iso()
    write_record(record, name, args.out)
    return record


if __name__ == "__main__":
    main()
