"""Training a weight-sharing super-network (``sat_lib.models.supernet``) and readying its subnetworks.

**Training: the sandwich rule with in-place distillation** (Yu & Huang's slimmable networks, BigNAS). Every step
trains, on the same augmented batch, the largest subnetwork on the labels, and the smallest and ``sampled``
random subnetworks on the largest one's predicted distribution (detached); the losses add up, so the shared
weights get every subnetwork's gradient. BootstrapNAS, which the design-diversity paper used, trains by
*progressive shrinking* instead (the largest network first, then elastic depth, then width, in stages of tens
of epochs each); the sandwich rule trains every size from the first step, in the one short stage a 2-core CPU
allows. ``SandwichObjective`` plugs into the project's trainer (``sat_lib.train.train``'s ``objective``) and
weights cache (``sat_lib.weights.trained_model``), so the super-network trains with the zoo's recipe, precision
and cache like any model.

**Batch-norm recalibration**: a subnetwork's BatchNorm statistics are those the super-network accumulated over all
subnetworks; ``adapt_batchnorm`` recomputes them for the subnetwork alone from training images, as
Once-for-All and BootstrapNAS do before evaluating a subnetwork.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sat_lib.models.supernet import ElasticResNet, SubnetConfig, elastic


@dataclass
class SandwichObjective:
    """The super-network's loss for one batch: cross-entropy of the largest subnetwork (with the trainer's label
    smoothing) plus, for the smallest and ``sampled`` random subnetworks, the cross-entropy against the largest's
    softmax (``distill``) or against the labels. Random subnetworks are drawn from a generator seeded with
    ``seed`` at the first step, so a training run is reproducible."""

    sampled: int = 2
    distill: bool = True
    seed: int = 0
    _generator: torch.Generator | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.sampled < 0:
            raise ValueError(f"SandwichObjective: sampled must be >= 0 random subnetworks per step, got {self.sampled}")

    @property
    def name(self) -> str:
        return "supernet"

    @property
    def stem(self) -> str:
        """What the weights file's name adds to the entry's."""
        return "-supernet"

    def spec(self) -> dict:
        """What the super-network's weights key holds of its objective."""
        return {"objective": "sandwich", "sampled": self.sampled, "distill": self.distill, "seed": self.seed}

    def build(self, make: Callable[[], nn.Module]) -> tuple[nn.Module, nn.Module]:
        """The model to train and the one whose layout is measured: the super-network itself, twice."""
        model = make()
        elastic(model)
        return model, model

    def subnetworks(self, net: ElasticResNet) -> list[SubnetConfig]:
        if self._generator is None:
            self._generator = torch.Generator().manual_seed(self.seed)
        return [net.space.smallest(), *(net.space.sample(self._generator) for _ in range(self.sampled))]

    def __call__(self, model: nn.Module, x: Tensor, y: Tensor, label_smoothing: float = 0.0) -> Tensor:
        net = elastic(model)
        net.set_active(None)
        largest = model(x).float()
        loss = F.cross_entropy(largest, y, label_smoothing=label_smoothing)
        target = largest.detach().softmax(-1) if self.distill else None
        try:
            for config in self.subnetworks(net):
                net.set_active(config)
                out = model(x).float()
                if target is not None:
                    loss = loss + torch.sum(-target * out.log_softmax(-1), dim=-1).mean()
                else:
                    loss = loss + F.cross_entropy(out, y, label_smoothing=label_smoothing)
        finally:
            net.set_active(None)
        return loss


@torch.no_grad()
def adapt_batchnorm(model: nn.Module, images: Tensor, *, batch_size: int = 250) -> nn.Module:
    """Recompute every BatchNorm layer's running mean and variance of ``model`` as their exact averages over
    ``images`` (uint8 or float in [0, 1], (N, C, H, W)), in float32 and without gradients; the layers' momentum is
    restored and the model returned in eval mode."""
    if images.shape[0] < 2:
        raise ValueError(f"adapt_batchnorm: need at least 2 images, got {images.shape[0]}")
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the batches
    device = next(model.parameters()).device
    model.train()
    try:
        for i in range(0, images.shape[0], batch_size):
            xb = images[i:i + batch_size].to(device)
            model(xb.float().div_(255) if xb.dtype == torch.uint8 else xb.float())
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        model.eval()
    return model


__all__ = ["SandwichObjective", "adapt_batchnorm"]
