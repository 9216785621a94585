"""Ensembles trained jointly: negative correlation learning and its relatives (design-diversity paper, Sec. 4.3).

``Members`` holds M models and returns their logits stacked, (M, B, K); an ``EnsembleObjective`` is the loss the
trainer (``sat_lib.train.train(..., objective=...)``) minimises for them. The methods are a registry
(``METHODS``), the consensus rules that turn M member outputs into the ensemble's output ``f`` another
(``CONSENSUS``), so a new heuristic is one registered function:

- ``independent`` — Eq. 1: the members' cross-entropies, nothing shared (the members see the same batches);
- ``gncl`` — Eq. 2 (Buschjäger et al.'s generalised NCL): Σ_i l(h_i, y) − λ/(2M) Σ_i d_iᵀ D d_i with
  d_i = h_i − f and D the Hessian of the cross-entropy at the consensus f, for softmax cross-entropy
  D = diag(p) − p pᵀ, p = softmax(f), so d_iᵀ D d_i is the variance of d_i's entries under p. D is the curvature
  at the current consensus and is held constant in each step (the second-order term's coefficient); the
  gradient flows through h_i and f;
- ``gncl_masked`` — Eq. 2 with the penalty of member i dropped on samples it misclassifies ((h_i ≠ y) ⇒ λ = 0);
- ``balanced`` — Eq. 3: λ l(f, y) + (1 − λ)/M Σ_i l(h_i, y), the team's loss against the members' own;
- ``attribution`` — Eq. 8: (1/M) Σ_i l(h_i, y) − λ A with A the attribution diversity of Eq. 7 — the variance
  across members of each member's Saliency map (signed gradient of its true-class logit with respect to the
  input in [0, 1]), summed over channels and pixels, averaged over the batch — differentiated through (double
  backward; ~2–3× the cost of a plain step).

Scaling: Eqs. 3 and 8 average over the members where Eqs. 1 and 2 sum. The paper trains with AdaBelief, which is
invariant to a constant factor on the loss; our recipes include SGD, which is not, so every objective here is
written as a sum over members (Eqs. 3 and 8 multiplied by M): each member's cross-entropy gradient then has the
weight it has in single-model training and every method runs at the recipe's learning rate.

Consensus rules (the ensemble output f, in logit space): ``average`` (mean of logits), ``median``
(element-wise), ``geometric`` (mean of log-softmax: the log of the geometric mean of the members' probabilities,
unnormalised — the cross-entropy and D do not change when all of f's entries shift together) and ``vote``
(the majority class, ties broken by the mean probability; f is the mean logit vector of the members that voted
for it).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from sat_lib.registry import Registry


class Members(nn.Module):
    """M models evaluated on the same input (or each on its own copy): logits stacked as (M, B, K)."""

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        if len(members) < 2:
            raise ValueError(f"Members: an ensemble needs at least 2 members, got {len(members)}")
        self.members = nn.ModuleList(members)

    def __len__(self) -> int:
        return len(self.members)

    def forward(self, x: Tensor | list[Tensor]) -> Tensor:
        if isinstance(x, (list, tuple)):
            if len(x) != len(self.members):
                raise ValueError(f"Members: {len(x)} inputs for {len(self.members)} members")
            return torch.stack([m(xi) for m, xi in zip(self.members, x)])
        return torch.stack([m(x) for m in self.members])


# ------------------------------------------------------------------------------------------------ consensus

CONSENSUS: Registry[Callable[[Tensor], Tensor]] = Registry("consensus rule")


@CONSENSUS.decorator("average")
def average(h: Tensor) -> Tensor:
    """Mean of the members' logits, (M, B, K) → (B, K)."""
    return h.mean(0)


@CONSENSUS.decorator("median")
def median(h: Tensor) -> Tensor:
    """Element-wise median of the members' logits (the lower one for an even M; its gradient goes to that member)."""
    return h.median(0).values


@CONSENSUS.decorator("geometric")
def geometric(h: Tensor) -> Tensor:
    """Mean of the members' log-probabilities: the log of their geometric-mean probability, unnormalised."""
    return F.log_softmax(h, -1).mean(0)


@CONSENSUS.decorator("vote")
def vote(h: Tensor) -> Tensor:
    """Majority vote: the class most members predict (ties broken by the members' mean probability); the output
    is the mean logit vector of the members that voted for it, so the vote's choice carries a gradient."""
    k = h.shape[-1]
    with torch.no_grad():
        counts = F.one_hot(h.argmax(-1), k).sum(0).to(h.dtype)  # (B, K)
        winner = (counts + 0.5 * F.softmax(h.float(), -1).mean(0).to(h.dtype)).argmax(-1)  # < 1: only breaks ties
        agree = (h.argmax(-1) == winner).to(h.dtype)  # (M, B), at least one member per sample
    return (h * agree[..., None]).sum(0) / agree.sum(0)[:, None]


def consensus_predictions(member_logits: Tensor, rule: str) -> Tensor:
    """The ensemble's predicted classes under ``rule``, (M, n, K) → (n,)."""
    return CONSENSUS[rule](member_logits.float()).argmax(-1)


# ------------------------------------------------------------------------------------------------ objectives

def members_cross_entropy(h: Tensor, y: Tensor, label_smoothing: float = 0.0) -> Tensor:
    """Σ_i mean-over-batch CE(h_i, y) for stacked logits (M, B, K)."""
    m = h.shape[0]
    return m * F.cross_entropy(h.flatten(0, 1), y.repeat(m), label_smoothing=label_smoothing)


def curvature_quadratic(h: Tensor, f: Tensor) -> Tensor:
    """d_iᵀ D d_i for every member and sample, (M, B): d_i = h_i − f, D = diag(p) − p pᵀ the cross-entropy's
    Hessian in the logits at f (p = softmax(f), held constant)."""
    p = F.softmax(f.detach().float(), -1)
    d = h - f
    return (p * d.square()).sum(-1) - (p * d).sum(-1).square()


def input_saliency(model: Members, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """Each member's logits and its signed Saliency map (gradient of its true-class logit w.r.t. its own copy of
    the input), with the graph kept so a loss on the maps can be differentiated: ((M, B, K), (M, B, C, H, W))."""
    xs = [x.detach().clone().requires_grad_(True) for _ in range(len(model))]
    h = model(xs).float()
    true_logit = h.gather(-1, y.expand(h.shape[0], -1)[..., None]).sum()
    maps = torch.autograd.grad(true_logit, xs, create_graph=True)
    return h, torch.stack(maps).float()


@dataclass(frozen=True)
class Method:
    """A training heuristic: its loss, whether it uses a consensus rule, and whether λ is a weight in [0, 1]."""

    loss: Callable[..., Tensor]
    description: str
    uses_consensus: bool = False
    lam_is_fraction: bool = False


METHODS: Registry[Method] = Registry("ensemble training method")


def _independent(model, x, y, obj, ls):
    return members_cross_entropy(model(x).float(), y, ls)


def _gncl(model, x, y, obj, ls, masked: bool = False):
    h = model(x).float()
    quad = curvature_quadratic(h, CONSENSUS[obj.consensus](h))
    if masked:
        quad = quad * (h.argmax(-1) == y).to(quad.dtype)
    return members_cross_entropy(h, y, ls) - obj.lam / (2 * h.shape[0]) * quad.sum(0).mean()


def _balanced(model, x, y, obj, ls):
    h = model(x).float()
    m = h.shape[0]
    team = F.cross_entropy(CONSENSUS[obj.consensus](h), y, label_smoothing=ls)
    return m * obj.lam * team + (1 - obj.lam) * members_cross_entropy(h, y, ls)


def _attribution(model, x, y, obj, ls):
    k = obj.penalty_batch
    if 0 < k < x.shape[0]:  # the penalty on the batch's first k images, the cross-entropy on all of them
        ce = members_cross_entropy(model(x).float(), y, ls)
        _, maps = input_saliency(model, x[:k], y[:k])
    else:
        h, maps = input_saliency(model, x, y)
        ce = members_cross_entropy(h, y, ls)
    diversity = maps.flatten(2).var(0, correction=0).sum(-1).mean()  # Eq. 7 on the batch
    return ce - len(model) * obj.lam * diversity


METHODS.register("independent", Method(_independent, "independent cross-entropy (Eq. 1)"))
METHODS.register("gncl", Method(_gncl, "generalised NCL (Eq. 2)", uses_consensus=True))
METHODS.register("gncl_masked", Method(lambda *a: _gncl(*a, masked=True),
                                       "GNCL, penalty masked on misclassified members", uses_consensus=True))
METHODS.register("balanced", Method(_balanced, "team vs member loss (Eq. 3)", uses_consensus=True,
                                    lam_is_fraction=True))
METHODS.register("attribution", Method(_attribution, "attribution diversity penalty (Eq. 8)"))


@dataclass(frozen=True)
class EnsembleObjective:
    """How a ``size``-member ensemble is trained: ``method`` (``METHODS``), its weight ``lam`` (λ) and, for the
    methods that use one, the ``consensus`` rule (``CONSENSUS``). Unknown names raise ``KeyError`` with close
    matches; λ outside its range raises ``ValueError``."""

    method: str
    lam: float = 0.0
    consensus: str = "average"
    size: int = 3
    penalty_batch: int = 0  # attribution: Saliency maps of the batch's first this many images only (0: all)

    def __post_init__(self) -> None:
        m = METHODS[self.method]
        CONSENSUS[self.consensus]
        if not math.isfinite(self.lam) or self.lam < 0 or (m.lam_is_fraction and self.lam > 1):
            rng = "[0, 1]" if m.lam_is_fraction else ">= 0"
            raise ValueError(f"method {self.method!r}: lam must be {rng}, got {self.lam}")
        if self.size < 2:
            raise ValueError(f"an ensemble needs at least 2 members, got size {self.size}")
        if self.penalty_batch < 0:
            raise ValueError(f"penalty_batch must be >= 0 (0: the whole batch), got {self.penalty_batch}")

    @property
    def name(self) -> str:
        """``gncl-median``, ``balanced``, ``independent``: the method, with its consensus where it has one."""
        consensus = self.consensus if METHODS[self.method].uses_consensus else ""
        return "-".join(filter(None, [self.method.replace("_", "-"), consensus]))

    @property
    def stem(self) -> str:
        """What the weights file's name adds to the entry's: ``-ens3-gncl-median``."""
        return f"-ens{self.size}-{self.name}"

    def build(self, make: Callable[[], nn.Module]) -> tuple[Members, nn.Module]:
        """``size`` models from ``make`` (each drawn from the seeded generator in turn) as ``Members``, and the
        member whose layout is measured."""
        model = Members([make() for _ in range(self.size)])
        return model, model.members[0]

    def spec(self) -> dict:
        """What the ensemble's weights key holds of its objective."""
        spec = {"method": self.method, "lam": self.lam, "size": self.size,
                "consensus": self.consensus if METHODS[self.method].uses_consensus else None}
        if self.method == "attribution" and self.penalty_batch:
            spec["penalty_batch"] = self.penalty_batch
        return spec

    def __call__(self, model: Members, x: Tensor, y: Tensor, label_smoothing: float = 0.0) -> Tensor:
        if not isinstance(model, Members) or len(model) != self.size:
            raise ValueError(f"{self.name}: expected Members of {self.size} models, got {type(model).__name__}")
        return METHODS[self.method].loss(model, x, y, self, label_smoothing)


__all__ = ["CONSENSUS", "METHODS", "EnsembleObjective", "Members", "Method", "consensus_predictions",
           "curvature_quadratic", "input_saliency", "members_cross_entropy"]
