"""This machine's dense bf16 matmul rate: the physical anchor the benchmarks set achieved FLOP rates against."""
from __future__ import annotations

import math
import time

import torch


def bf16_peak(n: int = 2048, reps: int = 5) -> float:
    """GFLOP/s of an n×n bf16 matmul on this machine (the best of ``reps``, after one untimed)."""
    a = torch.randn(n, n, dtype=torch.bfloat16)
    b = torch.randn(n, n, dtype=torch.bfloat16)
    a @ b
    best = math.inf
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9
