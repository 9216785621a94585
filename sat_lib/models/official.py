"""Outside checkpoints loaded into this project's architectures: the salience paper's authors' CNNSmall models.

Their ``state_dict`` keys follow the official ``models.py`` (``backbone.0.weight`` … ``fc.bias``); the width
family ``cnn_small`` of ``sat_lib.models.widths`` has the same layers in the same order under other names, so
the tensors load *by position*, each checked for its shape.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

# the official train.py's input normalisation (CIFAR-10 channel statistics)
OFFICIAL_MEAN = (0.4914, 0.4822, 0.4465)
OFFICIAL_STD = (0.247, 0.243, 0.261)
_CHECKPOINT = re.compile(r"^CNNSmall_K(\d+)$")


def load_by_position(model: nn.Module, state: Mapping[str, torch.Tensor], *, where: str = "checkpoint") -> nn.Module:
    """Copy ``state``'s tensors into ``model``'s state dict in order; names may differ, count and shapes may not."""
    ours = model.state_dict()
    if len(ours) != len(state):
        raise ValueError(f"{where}: {len(state)} tensors, but the model has {len(ours)} "
                         f"({', '.join(list(ours)[:3])}, …); is it the right architecture and width?")
    mapped = {}
    for (name, target), (theirs, tensor) in zip(ours.items(), state.items()):
        if tuple(target.shape) != tuple(tensor.shape):
            raise ValueError(f"{where}: tensor {theirs!r} has shape {tuple(tensor.shape)}, but the model's "
                             f"{name!r} in the same position has {tuple(target.shape)}")
        mapped[name] = tensor
    model.load_state_dict(mapped)
    return model


def official_checkpoints(folder: str | Path) -> dict[int, Path]:
    """``{k: path}`` of the ``CNNSmall_K<k>`` files in ``folder``, by width; a missing folder raises."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no folder of official CNNSmall checkpoints at {folder}; set models.salience_official "
                                "in _config.yml or SAT_MODELS_SALIENCE_OFFICIAL")
    found = {int(m.group(1)): f for f in folder.iterdir() if (m := _CHECKPOINT.match(f.name))}
    return dict(sorted(found.items()))


def load_official_cnn_small(path: str | Path, k: int, num_classes: int = 10) -> nn.Module:
    """The official CNNSmall of width ``k`` as ``sat_lib``'s ``cnn_small`` (eval mode; expects inputs
    normalised with ``OFFICIAL_MEAN`` / ``OFFICIAL_STD``)."""
    from sat_lib.models.widths import WIDTH_FAMILIES

    model = WIDTH_FAMILIES["cnn_small"].build(k, num_classes=num_classes, in_chans=3, img_size=32)
    state = torch.load(path, map_location="cpu", weights_only=True)
    return load_by_position(model, state, where=str(path)).eval()
