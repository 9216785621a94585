"""Width families of the salience-convergence study (Wang et al., NeurIPS 2024): one architecture, capacity set
by a single width parameter ``k``.

The convolutional families follow the paper's description (and its official code's layer list):

- ``cnn_small``: 4 conv layers of widths k, 2k, 4k, 8k (3×3, BatchNorm, ReLU), max-pool after the 2nd and 3rd,
  global max-pool, linear head.
- ``cnn_large``: 8 conv layers, two at each of k, 2k, 4k, 8k, max-pool after the 4th and 6th.
- ``resnet_small``: 7×7 stride-2 stem of width k, then basic blocks: two at k, one each at 2k, 4k, 8k (stride 2
  when the width doubles, 1×1 projection shortcut), global average pool, linear head.
- ``resnet_large``: the same with two blocks per stage.
- ``vit``: a timm VisionTransformer with embedding 4k split into k/2 heads (paper Fig. 21), patch 4, depth 6.

The official CNNs end with ``MaxPool2d(8)`` on an 8×8 map (32-px inputs), i.e. a global max-pool; we write
``AdaptiveMaxPool2d(1)``, identical at 32 px and also valid for 28-px Fashion-MNIST. Models take *normalised*
inputs, as the official code feeds them, so input gradients are w.r.t. the normalised image.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from sat_lib.registry import Registry


def _conv_bn_relu(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]


def _plain_cnn(k: int, num_classes: int, in_chans: int, widths: list[int], pool_after: set[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    c_in = in_chans
    for i, mult in enumerate(widths):
        layers += _conv_bn_relu(c_in, mult * k)
        if i in pool_after:
            layers.append(nn.MaxPool2d(2))
        c_in = mult * k
    layers += [nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(c_in, num_classes)]
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    """Two 3×3 convs with BatchNorm; stride 2 and a 1×1 projection shortcut when the width changes."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        stride = 1 if c_in == c_out else 2
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU()
        self.shortcut: nn.Module = nn.Identity() if c_in == c_out else nn.Sequential(
            nn.Conv2d(c_in, c_out, 1, stride=2, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


def _resnet(k: int, num_classes: int, in_chans: int, blocks_per_stage: tuple[int, ...]) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(in_chans, k, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(k),
                               nn.ReLU()]
    c_in = k
    for stage, n_blocks in enumerate(blocks_per_stage):
        c_out = k * 2 ** stage
        for _ in range(n_blocks):
            layers.append(BasicBlock(c_in, c_out))
            c_in = c_out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, num_classes)]
    return nn.Sequential(*layers)


def _vit(k: int, num_classes: int, in_chans: int, img_size: int) -> nn.Module:
    from timm.models.vision_transformer import VisionTransformer

    if k % 2:
        raise ValueError(f"the vit family needs an even width k (k/2 attention heads), got k={k}")
    return VisionTransformer(img_size=img_size, patch_size=4, in_chans=in_chans, num_classes=num_classes,
                             embed_dim=4 * k, depth=6, num_heads=k // 2, mlp_ratio=2.0, global_pool="avg",
                             class_token=False)


@dataclass(frozen=True)
class WidthFamily:
    """A family of models indexed by width ``k``; ``build(k, num_classes, in_chans, img_size)``."""

    name: str
    label: str      # the paper's name
    short: str      # the paper's abbreviation (Table 1)
    make: Callable[..., nn.Module]
    description: str

    def build(self, k: int, *, num_classes: int, in_chans: int = 3, img_size: int = 32) -> nn.Module:
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ValueError(f"width family {self.name!r}: k must be a positive integer, got {k!r}")
        return self.make(k, num_classes, in_chans, img_size)


WIDTH_FAMILIES: Registry[WidthFamily] = Registry("width family")
for _family in (
    WidthFamily("cnn_small", "CNNSmall", "CS",
                lambda k, n, c, s: _plain_cnn(k, n, c, [1, 2, 4, 8], pool_after={1, 2}),
                "4 conv layers (k, 2k, 4k, 8k) with BatchNorm"),
    WidthFamily("cnn_large", "CNNLarge", "CL",
                lambda k, n, c, s: _plain_cnn(k, n, c, [1, 1, 2, 2, 4, 4, 8, 8], pool_after={3, 5}),
                "8 conv layers (k, k, 2k, 2k, 4k, 4k, 8k, 8k) with BatchNorm"),
    WidthFamily("resnet_small", "ResNetSmall", "RS", lambda k, n, c, s: _resnet(k, n, c, (2, 1, 1, 1)),
                "7×7/2 stem, basic blocks 2-1-1-1 at k, 2k, 4k, 8k"),
    WidthFamily("resnet_large", "ResNetLarge", "RL", lambda k, n, c, s: _resnet(k, n, c, (2, 2, 2, 2)),
                "7×7/2 stem, basic blocks 2-2-2-2 at k, 2k, 4k, 8k"),
    WidthFamily("vit", "ViT", "ViT", _vit, "timm ViT, patch 4, depth 6, embedding 4k, k/2 heads"),
):
    WIDTH_FAMILIES.register(_family.name, _family)


def build_width_model(family: str, k: int, *, num_classes: int, in_chans: int = 3, img_size: int = 32) -> nn.Module:
    """``build_width_model("cnn_small", 40, num_classes=10)``; unknown families raise with suggestions."""
    return WIDTH_FAMILIES[family].build(k, num_classes=num_classes, in_chans=in_chans, img_size=img_size)
