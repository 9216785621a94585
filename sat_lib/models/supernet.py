"""A weight-sharing ResNet super-network and the subnetworks it holds (Once-for-All conventions, which the
BootstrapNAS super-networks of the design-diversity paper follow), sized for 32-px images.

The super-network is a bottleneck ResNet whose every dimension is elastic:

- **depth**: stage ``s`` runs ``base_depth + depth[s]`` blocks, ``depth[s]`` in ``0 … extra_depth`` (the last blocks
  of a stage are skipped);
- **expansion**: block ``b``'s bottleneck width is ``expansion[b] × stage width`` (of the *largest* stage width,
  as Once-for-All counts it), one ratio per block of the largest network (blocks a depth skips keep theirs
  unused);
- **width**: the stem and every stage use ``width_multipliers[width[i]]`` of their largest width.

A subnetwork uses the *first* channels and the first blocks of every layer (no channel re-ordering). All widths
are rounded to a multiple of 8. ``ElasticResNet(space)`` runs any subnetwork of ``space`` by slicing its own
weights (``set_active``); ``extract(supernet, config)`` returns the subnetwork as a standalone
``ElasticResNet`` of exactly its size, with the weights copied, for evaluation and attribution.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def make_divisible(value: float, divisor: int = 8) -> int:
    """``value`` rounded to the nearest multiple of ``divisor``, never below it (Once-for-All's rounding)."""
    return max(divisor, int(math.floor(value / divisor + 0.5)) * divisor)


@dataclass(frozen=True)
class SearchSpace:
    """The super-network's largest shape and its elastic choices. Defaults: a 32-px ResNet of four stages of
    bottleneck blocks (64 … 512 channels, 1 to 3 blocks each), a stride-2 3×3 stem of 32 channels, expansion
    ratios {0.2, 0.25, 0.35} and width multipliers {1, 0.8, 0.6} (the paper's listing 1 for BootstrapNAS)."""

    stem_width: int = 32
    stage_widths: tuple[int, ...] = (64, 128, 256, 512)
    strides: tuple[int, ...] = (1, 2, 2, 2)
    stem_stride: int = 2
    base_depth: int = 1
    extra_depth: int = 2
    expansions: tuple[float, ...] = (0.2, 0.25, 0.35)
    width_multipliers: tuple[float, ...] = (1.0, 0.8, 0.6)

    def __post_init__(self) -> None:
        object.__setattr__(self, "stage_widths", tuple(int(w) for w in self.stage_widths))
        object.__setattr__(self, "strides", tuple(int(s) for s in self.strides))
        object.__setattr__(self, "expansions", tuple(float(e) for e in self.expansions))
        object.__setattr__(self, "width_multipliers", tuple(float(m) for m in self.width_multipliers))
        if not self.stage_widths or len(self.strides) != len(self.stage_widths):
            raise ValueError(f"SearchSpace: stage_widths {self.stage_widths} and strides {self.strides} must be "
                             "non-empty and of the same length")
        if self.base_depth < 1 or self.extra_depth < 0:
            raise ValueError(f"SearchSpace: base_depth must be >= 1 and extra_depth >= 0, got {self.base_depth} "
                             f"and {self.extra_depth}")
        for name in ("expansions", "width_multipliers"):
            values = getattr(self, name)
            if not values or any(not 0 < v <= 1 for v in values):
                raise ValueError(f"SearchSpace: {name} must be ratios in (0, 1], got {values}")
        if min(self.stem_width, *self.stage_widths) < 8:
            raise ValueError("SearchSpace: widths must be >= 8")

    @property
    def n_stages(self) -> int:
        return len(self.stage_widths)

    @property
    def max_blocks(self) -> int:
        return self.n_stages * (self.base_depth + self.extra_depth)

    def largest(self) -> SubnetConfig:
        return SubnetConfig((self.extra_depth,) * self.n_stages,
                            (len(self.expansions) - 1,) * self.max_blocks, (0,) * (self.n_stages + 1))

    def smallest(self) -> SubnetConfig:
        return SubnetConfig((0,) * self.n_stages, (0,) * self.max_blocks,
                            (len(self.width_multipliers) - 1,) * (self.n_stages + 1))

    def sample(self, generator: torch.Generator) -> SubnetConfig:
        """A uniformly random subnetwork (every choice independent), drawn from ``generator``."""
        def draw(n: int, high: int) -> tuple[int, ...]:
            return tuple(int(v) for v in torch.randint(0, high, (n,), generator=generator))

        return SubnetConfig(draw(self.n_stages, self.extra_depth + 1), draw(self.max_blocks, len(self.expansions)),
                            draw(self.n_stages + 1, len(self.width_multipliers)))

    def check(self, config: SubnetConfig) -> SubnetConfig:
        """``config`` if it belongs to this space, else ``ValueError`` naming the first bad field."""
        for name, values, n, high in (("depth", config.depth, self.n_stages, self.extra_depth + 1),
                                      ("expansion", config.expansion, self.max_blocks, len(self.expansions)),
                                      ("width", config.width, self.n_stages + 1, len(self.width_multipliers))):
            if len(values) != n or any(not 0 <= v < high for v in values):
                raise ValueError(f"subnetwork {name} {list(values)}: expected {n} indices in 0 … {high - 1}")
        return config

    def plan(self, config: SubnetConfig) -> Plan:
        """The concrete widths of ``config``: stem width, and per stage its width and its blocks' bottleneck
        widths."""
        self.check(config)
        per_stage = self.base_depth + self.extra_depth
        mults = self.width_multipliers
        stages = []
        for s, width in enumerate(self.stage_widths):
            blocks = config.expansion[s * per_stage: s * per_stage + self.base_depth + config.depth[s]]
            stages.append((make_divisible(width * mults[config.width[s + 1]]),
                           tuple(make_divisible(width * self.expansions[e]) for e in blocks)))
        return Plan(make_divisible(self.stem_width * mults[config.width[0]]), tuple(stages))


@dataclass(frozen=True)
class SubnetConfig:
    """Indices into a ``SearchSpace``'s choices: ``depth`` per stage (extra blocks), ``expansion`` per block of the
    largest network, ``width`` for the stem and each stage (into ``width_multipliers``, 0 = widest)."""

    depth: tuple[int, ...]
    expansion: tuple[int, ...]
    width: tuple[int, ...]

    def __post_init__(self) -> None:
        for name in ("depth", "expansion", "width"):
            object.__setattr__(self, name, tuple(int(v) for v in getattr(self, name)))

    def as_dict(self) -> dict[str, list[int]]:
        return {"depth": list(self.depth), "expansion": list(self.expansion), "width": list(self.width)}

    @classmethod
    def from_dict(cls, d: dict) -> SubnetConfig:
        return cls(d["depth"], d["expansion"], d["width"])

    def label(self) -> str:
        """A compact name: ``d0120-e01…-w00122``."""
        return "d{}-e{}-w{}".format(*("".join(map(str, v)) for v in (self.depth, self.expansion, self.width)))


@dataclass(frozen=True)
class Plan:
    """Concrete widths: the stem's, and per stage (width, bottleneck widths of its active blocks)."""

    stem: int
    stages: tuple[tuple[int, tuple[int, ...]], ...] = field(default=())


# ------------------------------------------------------------------------------------------- elastic layers

class ElasticConv2d(nn.Conv2d):
    """A convolution that runs with the first ``out`` filters over the input's channels."""

    def forward(self, x: torch.Tensor, out: int | None = None) -> torch.Tensor:  # type: ignore[override]
        weight = self.weight[:out or self.out_channels, :x.shape[1]]
        return F.conv2d(x, weight, None, self.stride, self.padding)


class ElasticBatchNorm2d(nn.BatchNorm2d):
    """Batch normalisation of the input's (first) channels; running statistics of the slice update in place."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        c = x.shape[1]
        if c == self.num_features:
            return super().forward(x)
        momentum = self.momentum
        if self.training:  # as nn.BatchNorm2d counts batches: momentum None is a cumulative average
            self.num_batches_tracked.add_(1)
            if momentum is None:
                momentum = 1.0 / float(self.num_batches_tracked)
        return F.batch_norm(x, self.running_mean[:c], self.running_var[:c], self.weight[:c], self.bias[:c],
                            self.training, 0.0 if momentum is None else momentum, self.eps)


class ElasticBottleneck(nn.Module):
    """1×1 → 3×3 (stride) → 1×1 with BatchNorm and ReLU; a projection shortcut where the *largest* network's
    shape changes (so a subnetwork whose widths happen to match keeps the projection it was trained with)."""

    def __init__(self, c_in: int, c_mid: int, c_out: int, stride: int, project: bool) -> None:
        super().__init__()
        self.conv1, self.bn1 = ElasticConv2d(c_in, c_mid, 1, bias=False), ElasticBatchNorm2d(c_mid)
        self.conv2 = ElasticConv2d(c_mid, c_mid, 3, stride=stride, padding=1, bias=False)
        self.bn2 = ElasticBatchNorm2d(c_mid)
        self.conv3, self.bn3 = ElasticConv2d(c_mid, c_out, 1, bias=False), ElasticBatchNorm2d(c_out)
        self.project = project
        if self.project:
            self.short_conv = ElasticConv2d(c_in, c_out, 1, stride=stride, bias=False)
            self.short_bn = ElasticBatchNorm2d(c_out)

    def forward(self, x: torch.Tensor, mid: int, out: int) -> torch.Tensor:
        h = F.relu(self.bn1(self.conv1(x, mid)))
        h = F.relu(self.bn2(self.conv2(h, mid)))
        h = self.bn3(self.conv3(h, out))
        shortcut = self.short_bn(self.short_conv(x, out)) if self.project else x
        return F.relu(h + shortcut)


class ElasticResNet(nn.Module):
    """The super-network of ``space`` (``plan=None``) or one fixed subnetwork (``plan``: exactly its size).

    ``forward`` runs the active subnetwork (``set_active``; the largest by default) on normalised inputs.
    Parameters are named alike at every size (``stages.<s>.<b>.conv1.weight`` …), so a subnetwork's state dict
    is the super-network's, sliced (``extract``)."""

    def __init__(self, space: SearchSpace, *, num_classes: int, in_chans: int = 3, plan: Plan | None = None) -> None:
        super().__init__()
        self.space = space
        self.full_plan = plan or space.plan(space.largest())
        p = self.full_plan
        self.stem_conv = ElasticConv2d(in_chans, p.stem, 3, stride=space.stem_stride, padding=1, bias=False)
        self.stem_bn = ElasticBatchNorm2d(p.stem)
        largest = space.plan(space.largest())
        stages, c_in, c_in_max = [], p.stem, largest.stem
        for (width, mids), (width_max, _), stride in zip(p.stages, largest.stages, space.strides):
            blocks = []
            for b, mid in enumerate(mids):
                project = b == 0 and (stride != 1 or c_in_max != width_max)
                blocks.append(ElasticBottleneck(c_in, mid, width, stride if b == 0 else 1, project))
                c_in, c_in_max = width, width_max
            stages.append(nn.ModuleList(blocks))
        self.stages = nn.ModuleList(stages)
        self.head = nn.Linear(c_in, num_classes)
        self.active = p
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        for stage in self.stages:  # zero-init the last BN of each residual branch (the shortcut starts as identity)
            for block in stage:
                nn.init.zeros_(block.bn3.weight)

    def set_active(self, config: SubnetConfig | None) -> None:
        """Run the subnetwork ``config`` of the search space from now on (``None``: the largest this module holds)."""
        self.active = self.full_plan if config is None else self.space.plan(config)
        for (w, mids), (w_max, mids_max) in zip(self.active.stages, self.full_plan.stages):
            if w > w_max or len(mids) > len(mids_max) or any(m > mx for m, mx in zip(mids, mids_max)):
                raise ValueError(f"subnetwork {config} is larger than this network ({self.full_plan})")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.active
        x = F.relu(self.stem_bn(self.stem_conv(x, p.stem)))
        for stage, (width, mids) in zip(self.stages, p.stages):
            for block, mid in zip(stage, mids):
                x = block(x, mid, width)
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return F.linear(x, self.head.weight[:, :x.shape[1]], self.head.bias)


def elastic(model: nn.Module) -> ElasticResNet:
    """The ``ElasticResNet`` itself, or the one a wrapper (``Normalized``) holds as ``inner``."""
    net = getattr(model, "inner", model)
    if not isinstance(net, ElasticResNet):
        raise TypeError(f"expected an ElasticResNet (or a Normalized one), got {type(net).__name__}")
    return net


def extract(supernet: nn.Module, config: SubnetConfig) -> ElasticResNet:
    """Subnetwork ``config`` of ``supernet`` (an ``ElasticResNet``, possibly inside ``Normalized``) as a standalone
    ``ElasticResNet`` of exactly its size: every tensor of the super-network's state dict sliced to the first
    channels / blocks. BatchNorm statistics are copied too; recalibrate them (``sat_lib.nas.adapt_batchnorm``)
    before evaluating, as Once-for-All and BootstrapNAS do."""
    sup = elastic(supernet)
    head = sup.head
    sub = ElasticResNet(sup.space, num_classes=head.out_features, in_chans=sup.stem_conv.in_channels,
                        plan=sup.space.plan(config)).to(head.weight.device)
    full = sup.state_dict()
    sliced = {}
    for name, target in sub.state_dict().items():
        source = full[name]
        sliced[name] = source[tuple(slice(0, n) for n in target.shape)].clone() if target.ndim else source.clone()
    sub.load_state_dict(sliced)
    return sub


def count_parameters(space: SearchSpace, config: SubnetConfig, *, num_classes: int = 10, in_chans: int = 3) -> int:
    """The parameters of subnetwork ``config`` (built on the meta device: no memory, no time)."""
    with torch.device("meta"):
        net = ElasticResNet(space, num_classes=num_classes, in_chans=in_chans, plan=space.plan(config))
    return sum(p.numel() for p in net.parameters())


def similar_size(space: SearchSpace, n: int, *, seed: int = 0, candidates: int = 2000, num_classes: int = 10,
                 in_chans: int = 3) -> list[SubnetConfig]:
    """``n`` different subnetworks "very close in complexity" (the paper's Fig. 8): ``candidates`` random
    configurations are drawn (seeded) and the ``n`` whose parameter counts lie closest to the candidates' median
    are kept, in the order drawn. ``ValueError`` when the space has fewer than ``n`` different configurations
    among the candidates."""
    if n < 1 or candidates < n:
        raise ValueError(f"similar_size: need 1 <= n <= candidates, got n={n}, candidates={candidates}")
    gen = torch.Generator().manual_seed(seed)
    drawn: dict[SubnetConfig, int] = {}
    for _ in range(candidates):
        c = space.sample(gen)
        if c not in drawn:
            drawn[c] = count_parameters(space, c, num_classes=num_classes, in_chans=in_chans)
    if len(drawn) < n:
        raise ValueError(f"similar_size: only {len(drawn)} different subnetworks among {candidates} draws; "
                         f"lower n ({n}) or widen the search space")
    configs = list(drawn)
    sizes = np.array([drawn[c] for c in configs])
    order = np.argsort(np.abs(sizes - np.median(sizes)), kind="stable")[:n]
    return [configs[i] for i in sorted(order)]


__all__ = ["ElasticResNet", "Plan", "SearchSpace", "SubnetConfig", "count_parameters", "elastic", "extract",
           "make_divisible", "similar_size"]
