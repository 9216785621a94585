"""Random inputs for every registry ``inputs`` tag, and the vocabulary's transformations as functions.

Property tests are generated from the registry: for a record, ``make_inputs(record.inputs, gen)`` gives arguments
whose score is not at an extreme, and ``TRANSFORMS[(invariance, inputs)]`` transforms them.
"""
from __future__ import annotations

from collections.abc import Callable

import torch

N = 40  # samples: small so the suite stays fast
M = 3  # ensemble members
C = 5  # classes


def _orthogonal(d: int, gen: torch.Generator) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(d, d, generator=gen, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r))


def make_inputs(tag: str, gen: torch.Generator) -> tuple:
    """Positional arguments for a measure taking ``tag`` inputs (float64 where floats)."""
    f64 = dict(generator=gen, dtype=torch.float64)
    if tag == "activations":
        a = torch.randn(N, 8, **f64)
        b = torch.cat([a @ torch.randn(8, 6, **f64), torch.randn(N, 4, **f64)], dim=1)  # related, wider
        return a, b
    if tag == "logits":
        a = torch.randn(N, C, **f64) * 2
        return a, a + torch.randn(N, C, **f64) * 1.5
    if tag == "correctness":
        a = torch.rand(N, generator=gen) < 0.6
        flip = torch.rand(N, generator=gen) < 0.3
        a[:2] = torch.tensor([True, False])  # both outcomes for each model
        b = a ^ flip
        b[:2] = torch.tensor([True, False])
        return a, b
    if tag == "gradients":
        a = torch.randn(N, 3, 4, 4, **f64)
        return a, a + torch.randn(N, 3, 4, 4, **f64)
    if tag == "transfer":
        a_wrong, b_wrong = (torch.rand(N, generator=gen) < p for p in (0.5, 0.7))
        a_ok, b_ok = (torch.rand(N, generator=gen) < p for p in (0.8, 0.7))
        a_ok[:3] = b_ok[:3] = True
        return a_wrong, b_wrong, a_ok, b_ok
    if tag == "member_logits":
        labels = torch.randint(0, C, (N,), generator=gen)
        logits = torch.randn(M, N, C, **f64) * 2
        logits[:, torch.arange(N), labels] += torch.rand(M, N, **f64) * 3  # members better than chance
        return logits, labels
    if tag == "member_correct":
        c = torch.rand(M, N, generator=gen) < 0.6
        c[:, 0] = False
        return (c,)
    if tag == "member_predictions":
        return (torch.randint(0, C, (M, N), generator=gen),)
    if tag == "attributions":
        return (torch.randn(M, N, 3, 4, 4, **f64),)
    if tag == "label_maps":
        a = torch.randint(0, C, (6, 5, 5), generator=gen)
        b = torch.where(torch.rand(6, 5, 5, generator=gen) < 0.6, a, torch.randint(0, C, (6, 5, 5), generator=gen))
        return a, b
    raise KeyError(tag)


def _on_b(f: Callable) -> Callable:
    """Apply ``f(b, gen)`` to the second argument only."""
    return lambda args, gen: (args[0], f(args[1], gen), *args[2:])


def _flat(f: Callable) -> Callable:
    """Apply a (n, D) transform to (n, ...) tensors."""
    return lambda b, gen: f(b.reshape(b.shape[0], -1), gen).reshape(b.shape)


def _sample_order(args: tuple, gen: torch.Generator) -> tuple:
    perm = torch.randperm(args[0].shape[0], generator=gen)
    return tuple(a[perm] for a in args)


def _member_sample_order(args: tuple, gen: torch.Generator) -> tuple:
    perm = torch.randperm(args[0].shape[1], generator=gen)
    return tuple(a[:, perm] if a.ndim >= 2 else a[perm] for a in args)  # labels (n,) reorder on axis 0


def _member_order(args: tuple, gen: torch.Generator) -> tuple:
    perm = torch.randperm(args[0].shape[0], generator=gen)
    return (args[0][perm], *args[1:])


_orth = _flat(lambda b, gen: b @ _orthogonal(b.shape[1], gen))
_scale = lambda b, gen: b * 2.7  # noqa: E731
_shift = _flat(lambda b, gen: b + torch.randn(1, b.shape[1], generator=gen, dtype=b.dtype) * 5)
_perm = _flat(lambda b, gen: b[:, torch.randperm(b.shape[1], generator=gen)])
_logit_shift = lambda b, gen: b + torch.randn(b.shape[0], 1, generator=gen, dtype=b.dtype) * 5  # noqa: E731

#: (invariance, inputs tag) -> transform(args, gen) -> args. Missing pairs are not meaningful for that input kind.
TRANSFORMS: dict[tuple[str, str], Callable] = {}
for _tag in ("activations", "logits", "gradients"):
    TRANSFORMS[("orthogonal", _tag)] = _on_b(_orth)
    TRANSFORMS[("isotropic_scaling", _tag)] = _on_b(_scale)
    TRANSFORMS[("translation", _tag)] = _on_b(_shift)
    TRANSFORMS[("permutation", _tag)] = _on_b(_perm)
TRANSFORMS[("logit_shift", "logits")] = _on_b(_logit_shift)
for _tag in ("activations", "logits", "gradients", "correctness", "transfer", "label_maps"):
    TRANSFORMS[("sample_order", _tag)] = _sample_order
for _tag in ("member_logits", "member_correct", "member_predictions", "attributions"):
    TRANSFORMS[("sample_order", _tag)] = _member_sample_order
    TRANSFORMS[("member_order", _tag)] = _member_order
