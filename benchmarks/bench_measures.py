#!/usr/bin/env python
"""Benchmark of the float64-accurate representational measures (a script, not a test).

Times ``sat_lib.measures`` on the best available device (cuda if available, else cpu) against CPU baselines written
here (numpy CKA, scipy ``orthogonal_procrustes`` Procrustes, sklearn ``NearestNeighbors`` Jaccard) and, if importable,
the ckatorch peer; reports speed ratios and the largest |CKA - float64 reference|. Sizes: one pair of (n, d)
activations, and an S x S pairwise CKA matrix.

    python benchmarks/bench_measures.py                    # n = 10 000, d = 512, 30 models
    python benchmarks/bench_measures.py --n 2000 --models 8 --out /tmp/bench.json

The numpy pairwise baseline calls the per-pair reference on every unordered pair (what one does with a per-pair
function); on a CPU it is timed on ``--baseline-pairs`` pairs and extrapolated (flagged in the JSON).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy
import sklearn
import torch
from scipy.linalg import orthogonal_procrustes
from sklearn.neighbors import NearestNeighbors

from sat_lib.measures import knn_jaccard, linear_cka, pairwise, procrustes_similarity
from sat_lib.provenance import device_name

# ------------------------------------------------------------------------------------------------ CPU baselines


def numpy_cka(x: np.ndarray, y: np.ndarray) -> float:
    x = x.astype(np.float64)
    y = y.astype(np.float64)
    x = x - x.mean(0)
    y = y - y.mean(0)
    return float(np.linalg.norm(x.T @ y) ** 2 / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)))


def scipy_procrustes(x: np.ndarray, y: np.ndarray) -> float:
    x = x.astype(np.float64)
    y = y.astype(np.float64)
    x = x - x.mean(0)
    y = y - y.mean(0)
    x, y = x / np.linalg.norm(x), y / np.linalg.norm(y)
    d = max(x.shape[1], y.shape[1])
    x = np.pad(x, ((0, 0), (0, d - x.shape[1])))
    y = np.pad(y, ((0, 0), (0, d - y.shape[1])))
    r, _ = orthogonal_procrustes(x, y)
    return float((2.0 - np.linalg.norm(x @ r - y)) / 2.0)


def sklearn_jaccard(x: np.ndarray, y: np.ndarray, k: int) -> float:
    def neighbours(z: np.ndarray) -> np.ndarray:
        z = z.astype(np.float64)
        z = z - z.mean(0)
        nn = NearestNeighbors(n_neighbors=k + 1, metric="cosine", algorithm="brute").fit(z)
        idx = nn.kneighbors(z, return_distance=False)
        keep = idx != np.arange(len(z))[:, None]
        return np.stack([row[m][:k] for row, m in zip(idx, keep)])

    na, nb = neighbours(x), neighbours(y)
    inter = (na[:, :, None] == nb[:, None, :]).sum(axis=(1, 2))
    return float(np.mean(inter / (2 * k - inter)))


# ------------------------------------------------------------------------------------------------------ helpers


def timed(fn: Callable[[], Any], repeats: int, device: torch.device, warmup: bool = True) -> tuple[float, Any]:
    """Median wall time over ``repeats`` calls (after one warm-up call), with cuda synchronisation."""

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    result = None
    if warmup:
        result = fn()
        sync()
    times = []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        result = fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def make_models(s: int, n: int, d: int, seed: int) -> list[torch.Tensor]:
    """S float32 (n, d) activations sharing a latent structure, so CKA values are spread out."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 64, generator=gen)
    out = []
    for i in range(s):
        w = torch.randn(64, d, generator=gen) / 8.0
        noise = 0.2 + 1.5 * i / max(1, s - 1)
        out.append(torch.tanh(z @ w) + noise * torch.randn(n, d, generator=gen))
    return out


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(payload, fh, indent=2)
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=10_000, help="samples (default 10000)")
    p.add_argument("--d", type=int, default=512, help="features (default 512)")
    p.add_argument("--models", type=int, default=30, help="models in the pairwise CKA matrix (default 30)")
    p.add_argument("--k", type=int, default=10, help="neighbours for k-NN Jaccard (default 10)")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats of the single-pair measures (median)")
    p.add_argument("--pairwise-repeats", type=int, default=1, help="timed repeats of the pairwise matrix")
    p.add_argument("--baseline-pairs", type=int, default=20,
                   help="pairs the numpy pairwise baseline is timed on before extrapolating (0 = all)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda[:i]")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None,
                   help="JSON path (default benchmarks/results/measures-<device>.json)")
    args = p.parse_args(argv)

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else torch.device(
        args.device
    )
    name = device_name(device)
    print(f"device: {device} = {name}; torch {torch.__version__}; n={args.n} d={args.d} models={args.models}")
    started = time.perf_counter()
    models_cpu = make_models(max(2, args.models), args.n, args.d, args.seed)
    models_dev = [m.to(device) for m in models_cpu]
    x_np, y_np = models_cpu[0].numpy(), models_cpu[1].numpy()
    x, y = models_dev[0], models_dev[1]
    cpu = torch.device("cpu")
    rows: list[dict[str, Any]] = []

    def row(measure: str, ours: tuple[float, float], base: tuple[float, float], base_name: str, **extra: Any) -> None:
        rows.append({
            "measure": measure,
            "ours_s": ours[0],
            "baseline": base_name,
            "baseline_s": base[0],
            "speedup_vs_baseline": base[0] / ours[0],
            "ours_value": ours[1],
            "baseline_value": base[1],
            "abs_diff": abs(ours[1] - base[1]),
            **extra,
        })

    row("linear_cka", timed(lambda: linear_cka(x, y), args.repeats, device),
        timed(lambda: numpy_cka(x_np, y_np), args.repeats, cpu), "numpy float64")
    row("procrustes_similarity", timed(lambda: procrustes_similarity(x, y), args.repeats, device),
        timed(lambda: scipy_procrustes(x_np, y_np), args.repeats, cpu), "scipy orthogonal_procrustes")
    row("knn_jaccard", timed(lambda: knn_jaccard(x, y, k=args.k), args.repeats, device),
        timed(lambda: sklearn_jaccard(x_np, y_np, args.k), args.repeats, cpu), "sklearn NearestNeighbors")

    # float32 CKA computed naively (what CKA libraries without upcasting do), to show why float64 matters
    def naive_f32_cka() -> float:
        a, b = x - x.mean(0), y - y.mean(0)
        return float((a.T @ b).square().sum() / ((a.T @ a).norm() * (b.T @ b).norm()))

    reference = rows[0]["baseline_value"]
    accuracy = {
        "cka_abs_diff_vs_float64_reference": rows[0]["abs_diff"],
        "naive_float32_cka_abs_diff": abs(naive_f32_cka() - reference),
        "self_cka_minus_one": linear_cka(x, x) - 1.0,
    }

    peer: dict[str, Any] = {"package": "ckatorch", "available": False}
    try:
        import ckatorch

        peer["available"] = True
        peer["version"] = getattr(ckatorch, "__version__", None) or _dist_version("ckatorch")
        if args.n <= 20_000:
            xd, yd = torch.as_tensor(x_np, dtype=torch.float64), torch.as_tensor(y_np, dtype=torch.float64)
            repeats = max(1, args.repeats - 2)  # slow: n x n Gram matrices
            t_peer, v_peer = timed(lambda: float(ckatorch.cka_base(xd, yd)), repeats, cpu, warmup=False)
            peer.update(cka_s=t_peer, cka_value=v_peer, cka_abs_diff_vs_reference=abs(v_peer - reference),
                        speedup_ours_vs_peer=t_peer / rows[0]["ours_s"], note="cpu, float64, n x n Gram matrices")
        else:
            peer["note"] = "skipped: its n x n Gram matrices do not fit comfortably"
    except ImportError:
        peer["note"] = "not installed"

    # ---- S x S pairwise CKA
    s = args.models
    t_pair, matrix = timed(lambda: pairwise("linear_cka", models_dev), args.pairwise_repeats, device, warmup=False)
    pairs = [(i, j) for i in range(s) for j in range(i, s)]
    subset = pairs if args.baseline_pairs <= 0 else pairs[:: max(1, len(pairs) // args.baseline_pairs)]
    t0 = time.perf_counter()
    base_vals = {(i, j): numpy_cka(models_cpu[i].numpy(), models_cpu[j].numpy()) for i, j in subset}
    t_base_subset = time.perf_counter() - t0
    t_base = t_base_subset * len(pairs) / len(subset)
    pair_diff = max(abs(float(matrix.values[i, j]) - v) for (i, j), v in base_vals.items())
    rows.append({
        "measure": f"pairwise linear_cka {s}x{s}",
        "ours_s": t_pair,
        "baseline": "numpy float64 per pair"
        + ("" if len(subset) == len(pairs) else f" (extrapolated from {len(subset)} of {len(pairs)} pairs)"),
        "baseline_s": t_base,
        "speedup_vs_baseline": t_base / t_pair,
        "abs_diff": pair_diff,
        "unordered_pairs": len(pairs),
        "baseline_pairs_timed": len(subset),
    })
    accuracy["pairwise_cka_max_abs_diff_vs_float64_reference"] = pair_diff

    payload = {
        "benchmark": "sat_lib.measures representational measures",
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "device": name,
        "device_type": device.type,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "versions": {"python": sys.version.split()[0], "torch": torch.__version__, "numpy": np.__version__,
                     "scipy": scipy.__version__, "sklearn": sklearn.__version__},
        "params": {"n": args.n, "d": args.d, "models": s, "k": args.k, "repeats": args.repeats,
                   "pairwise_repeats": args.pairwise_repeats, "seed": args.seed, "input_dtype": "float32"},
        "timings": rows,
        "accuracy": accuracy,
        "peer": peer,
        "total_wall_s": time.perf_counter() - started,
    }
    out = args.out or Path(__file__).parent / "results" / f"measures-{slug(device.type + '-' + name)}.json"
    write_json(out, payload)

    print(f"\n{'measure':<28} {'ours [s]':>10} {'baseline [s]':>13} {'ratio':>8} {'|diff|':>10}  baseline")
    for r in rows:
        print(f"{r['measure']:<28} {r['ours_s']:>10.4f} {r['baseline_s']:>13.4f} {r['speedup_vs_baseline']:>7.1f}x "
              f"{r['abs_diff']:>10.2e}  {r['baseline']}")
    if peer.get("cka_s") is not None:
        print(f"{'peer ckatorch cka_base':<28} {peer['cka_s']:>10.4f} {'':>13} {peer['speedup_ours_vs_peer']:>7.1f}x "
              f"{peer['cka_abs_diff_vs_reference']:>10.2e}  (ratio = peer / ours)")
    else:
        print(f"peer ckatorch: {peer.get('note')}")
    print("accuracy:", json.dumps(accuracy))
    print(f"wrote {out} ({payload['total_wall_s']:.1f} s)")
    return 0


def _dist_version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


if __name__ == "__main__":
    raise SystemExit(main())
