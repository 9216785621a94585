"""``python -m sat_lib.models.measure [zoo] [--out CSV] [--threads N]``: parameter counts and CPU
forward+backward times (batch 128, 32×32, 10 classes) of every model of a zoo.

Writes the CSV that the ``cifar-quick`` selection is read from (``zoos/cifar_cpu_cost.csv``).
"""
from __future__ import annotations

import argparse
import csv
import logging
import sys

import torch

from sat_lib.models.cost import measure_zoo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sat_lib.models.measure", description=__doc__)
    parser.add_argument("zoo", nargs="?", default="cifar")
    parser.add_argument("--out", help="CSV file to write (default: stdout)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (default 1: on a shared machine more threads spin)")
    parser.add_argument("--passes", type=int, default=2, help="sweeps over the zoo; each model keeps its best")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    rows = measure_zoo(args.zoo, passes=args.passes)
    out = open(args.out, "w", newline="", encoding="utf-8") if args.out else sys.stdout
    try:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
