"""What the salience chapter and its section on the authors' checkpoints share: probabilities in fp32, salience
maps as per-sample unit directions, and the official one-step sign attack (``black_box_attack.py``)."""
from __future__ import annotations

import torch


@torch.inference_mode()
def probabilities(model, x: torch.Tensor, batch: int = 1024) -> torch.Tensor:
    """Softmax probabilities in fp32 whatever the training precision, ``batch`` images at a time: the attack
    ratios compare probabilities that differ by about 1 %, below bf16's resolution."""
    return torch.cat([model(x[i:i + batch]).float().softmax(1) for i in range(0, x.shape[0], batch)])


def unit_directions(g: torch.Tensor) -> torch.Tensor:
    """(M, n, ...) → (M, n, D) float64, each sample's vector scaled to unit norm (zero vectors stay zero)."""
    flat = g.flatten(2).double()
    norm = flat.norm(dim=2, keepdim=True)
    return flat / norm.clamp_min(torch.finfo(torch.float64).tiny)


def sign_attack(x: torch.Tensor, direction: torch.Tensor, eps: float, lo: torch.Tensor,
                hi: torch.Tensor) -> torch.Tensor:
    """The official one-step attack: step against the true-class probability's gradient (``direction``), clamp
    to valid pixels (``lo`` … ``hi``, per channel in normalised units)."""
    return torch.maximum(torch.minimum(x - eps * torch.sign(direction), hi), lo)
