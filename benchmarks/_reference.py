"""An airbench-style reference trainer for CIFAR-10, written from the ideas of Keller Jordan's airbench and
tysam-code's hlb-CIFAR10 (not from their code): the fast-training recipe a reader would compare us with.

The net: a frozen 2×2 patch-whitening first conv (its filters are the eigenvectors of the training patches'
covariance scaled by 1/√eigenvalue, with their negatives; only its bias trains), GELU, then three groups of conv →
max-pool → BatchNorm → GELU → conv → BatchNorm → GELU (widths 64/256/256 as in airbench94; BatchNorm's scale
frozen at 1), global max pooling and a bias-free linear head whose logits are scaled by 1/9. The recipe: Nesterov
SGD (momentum 0.9, peak lr 0.4 per 256 images) with a linear warm-up over the first 20 % of steps and a linear
decay to 0, weight decay on the conv and linear weights only, label smoothing 0.2, random flip + 2-pixel
translation. Precision and memory layout are the fastest measured on the machine
(``sat_lib.precision.choose_layout``). No test-time augmentation, so the test evaluation is the same as the other
trainers'. Not airbench's lookahead EMA, alternating flip or scaled learning-rate parametrisation.

The lr and the 1/9 were checked once, on 8 000 training images for 2 epochs at widths 32/64/128 (test accuracy
on 2 000 images): lr 0.4 with the scaled head 54.1 %, lr 1.6 50.2 %; unscaled head lr 0.1 50.4 %, 0.2 34.5 %,
0.4 27.5 %, 0.8 16.7 % (ours on the same data: 45.4 %). Not tuned on the whole training set.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from sat_lib.models import Normalized
from sat_lib.precision import Layout, autocast, to_device_layout
from sat_lib.train import augment_batch, warmup_linear_decay

WIDTHS = (64, 256, 256)


def _group(c_in: int, c_out: int) -> nn.Sequential:
    layers = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.MaxPool2d(2), nn.BatchNorm2d(c_out), nn.GELU(),
              nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.GELU()]
    for bn in layers[2], layers[5]:
        bn.weight.requires_grad_(False)
    return nn.Sequential(*layers)


class ReferenceNet(nn.Module):
    """Whitening conv, ``len(widths)`` conv groups, global max pool, linear head whose logits are scaled by
    ``out_scale``. Inputs are normalised images."""

    def __init__(self, widths: Sequence[int] = WIDTHS, num_classes: int = 10, in_chans: int = 3,
                 out_scale: float = 1 / 9) -> None:
        super().__init__()
        self.whiten = nn.Conv2d(in_chans, 8 * in_chans, 2, bias=True)
        self.whiten.weight.requires_grad_(False)
        chans = [8 * in_chans, *map(int, widths)]
        self.features = nn.Sequential(*(_group(a, b) for a, b in zip(chans[:-1], chans[1:])))
        self.head = nn.Linear(chans[-1], num_classes, bias=False)
        self.out_scale = out_scale

    @torch.no_grad()
    def init_whitening(self, x: torch.Tensor, eps: float = 5e-4) -> None:
        """Set the whitening filters from normalised images ``x`` (N, C, H, W)."""
        c = x.shape[1]
        patches = x.unfold(2, 2, 1).unfold(3, 2, 1).permute(0, 2, 3, 1, 4, 5).reshape(-1, 4 * c).double()
        eigval, eigvec = torch.linalg.eigh(torch.cov(patches.T))
        w = (eigvec.T / (eigval.clamp_min(0) + eps).sqrt()[:, None]).reshape(4 * c, c, 2, 2)
        self.whiten.weight.copy_(torch.cat([w, -w]).float())
        self.whiten.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(F.gelu(self.whiten(x)))
        return self.out_scale * self.head(x.amax(dim=(2, 3)))


def make_reference(data, seed: int, widths: Sequence[int] = WIDTHS) -> Normalized:
    """A freshly initialised reference net for ``data`` (an ImageData: classes, channels, mean, std)."""
    torch.manual_seed(seed)
    return Normalized(ReferenceNet(widths, data.num_classes, data.channels), data.mean, data.std)


def train_reference(model: Normalized, x_u8: torch.Tensor, y: torch.Tensor, epochs: int, *, seed: int,
                    layout: Layout, device: torch.device, batch: int = 256, lr: float = 0.4,
                    weight_decay: float = 5e-4, label_smoothing: float = 0.2, translate: int = 2) -> None:
    """Train ``model`` (from ``make_reference``) in place for ``epochs`` epochs of ``x_u8`` (uint8 N, C, H, W)."""
    gen = torch.Generator(device=device).manual_seed(seed)
    x_u8, y = x_u8.to(device), y.to(device)
    n = x_u8.shape[0]
    sample = x_u8[torch.randperm(n, device=device, generator=gen)[:1024]].float().div_(255)
    model.to(device).inner.init_whitening(model.normalize(sample))
    model.to(memory_format=layout.memory_format).train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD([{"params": [p for p in params if p.ndim > 1], "weight_decay": weight_decay},
                           {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0}],
                          lr=lr * batch / 256, momentum=0.9, nesterov=True)
    steps = max(1, n // batch)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_linear_decay(epochs * steps, 0.2))
    for _ in range(epochs):
        order = torch.randperm(n, device=device, generator=gen)
        for i in range(steps):
            idx = order[i * batch:(i + 1) * batch]
            xb = to_device_layout(augment_batch(x_u8[idx].float().div_(255), gen, pad=translate), device, layout)
            with autocast(layout.precision, device):
                out = model(xb).float()
            loss = F.cross_entropy(out, y[idx], label_smoothing=label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
