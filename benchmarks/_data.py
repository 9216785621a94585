"""CIFAR-10 as the training benchmarks use it: uint8 (N, C, H, W) tensors and int64 labels, both splits."""
from __future__ import annotations

import numpy as np
import torch

from sat_lib.config import project_config


def _tensors(data) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.from_numpy(np.ascontiguousarray(data.images)).permute(0, 3, 1, 2).contiguous()
    return x, torch.from_numpy(np.asarray(data.labels, dtype=np.int64))


def cifar10_tensors():
    """``(train split, (x, y) of train, (x, y) of test)`` from the configured CIFAR-10 location."""
    pc = project_config()
    train, test = pc.load_data("cifar10", "train"), pc.load_data("cifar10", "test")
    return train, _tensors(train), _tensors(test)
