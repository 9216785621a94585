"""Small CNNs with timm's ``forward_features`` / ``forward_head`` interface: the shared head (``GapHeadNet``) and a
few-thousand-parameter CNN for tests."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class GapHeadNet(nn.Module):
    """timm's classifier interface for a ``features`` trunk, global average pooling and a linear ``head``;
    subclasses set ``features``, ``head``, ``num_classes`` and ``num_features``."""

    def get_classifier(self) -> nn.Module:
        return self.head

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = x.mean(dim=(2, 3))
        return x if pre_logits else self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


class TinyCNN(GapHeadNet):
    """Conv-BN-ReLU stages (the first at stride 1, the rest at stride 2), global average pool, linear head.

    Works for any input of at least 1×1 pixels, e.g. 1×8×8 digits, 1×28×28 Fashion-MNIST, 3×32×32 CIFAR.
    """

    def __init__(self, num_classes: int = 10, in_chans: int = 3, widths: Sequence[int] = (8, 16, 32)) -> None:
        super().__init__()
        if not widths or any(int(w) < 1 for w in widths):
            raise ValueError(f"TinyCNN: widths must be a non-empty sequence of positive ints, got {widths!r}")
        layers: list[nn.Module] = []
        prev = in_chans
        for i, width in enumerate(widths):
            layers += [nn.Conv2d(prev, width, 3, stride=1 if i == 0 else 2, padding=1, bias=False),
                       nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
            prev = width
        self.features = nn.Sequential(*layers)
        self.num_classes = num_classes
        self.num_features = prev
        self.head = nn.Linear(prev, num_classes)
