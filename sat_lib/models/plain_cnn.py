"""A plain (VGG-style, no skip connections) CNN in the manner of the fast CIFAR-10 trainers (airbench,
hlb-CIFAR10): groups of conv → max-pool → BatchNorm → GELU → conv → BatchNorm → GELU, each group halving the
resolution, then global average pooling and a linear head. timm's ``forward_features`` / ``forward_head``
interface, so the zoo treats it as any timm model.
"""
from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from sat_lib.models.tiny_nets import GapHeadNet


def _group(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.MaxPool2d(2), nn.BatchNorm2d(c_out), nn.GELU(),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.GELU())


class PlainCNN(GapHeadNet):
    """``len(widths)`` conv groups (each downsamples by 2 with max pooling), GAP, linear head."""

    def __init__(self, num_classes: int = 10, in_chans: int = 3, widths: Sequence[int] = (32, 64, 128)) -> None:
        super().__init__()
        if not widths or any(int(w) < 1 for w in widths):
            raise ValueError(f"PlainCNN: widths must be a non-empty sequence of positive ints, got {widths!r}")
        chans = [in_chans, *map(int, widths)]
        self.features = nn.Sequential(*(_group(a, b) for a, b in zip(chans[:-1], chans[1:])))
        self.num_classes = num_classes
        self.num_features = chans[-1]
        self.head = nn.Linear(chans[-1], num_classes)
