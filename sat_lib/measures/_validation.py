"""Argument checks shared by every measure. Errors name the function, the argument, what came and what was expected.

Decisions (documented once, here):

* numpy arrays are converted explicitly with ``torch.as_tensor`` (no copy where possible); anything else that is not a
  tensor raises ``TypeError``.
* Activations, logits, gradients and attributions must be floating point. Integer input is rejected instead of cast:
  integer "activations" are almost always labels or indices passed by mistake. Convert with ``.float()`` if meant.
* Correctness / fooled vectors must be ``bool``; floats and 0/1 integers are rejected (``preds == labels`` gives bool).
* Labels and predicted classes must be integer (not bool).
* NaN or Inf anywhere is a ``ValueError``; no measure returns NaN silently (the only NaNs are documented ones:
  ``sat_score(empty="nan")``, empty pairs in ``sat_matrix``, empty groups in ``equitability_split``).
* Sample counts: representational measures need n >= 2 (n >= 4 for debiased HSIC), k-NN needs 1 <= k < n;
  output and correctness measures need n >= 1. Inputs compared with each other must have equal n and one device.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor


def _err(fn: str, arg: str, what: str) -> ValueError:
    return ValueError(f"{fn}: argument {arg!r} {what}")


def to_tensor(x: Any, fn: str, arg: str) -> Tensor:
    """``x`` as a tensor: tensors pass through, numpy arrays go through ``torch.as_tensor``."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray):
        if not x.flags.writeable:
            x = x.copy()
        return torch.as_tensor(x)
    raise TypeError(f"{fn}: argument {arg!r} must be a torch.Tensor or numpy.ndarray, got {type(x).__name__}")


def stack(xs: Any, fn: str, arg: str) -> Tensor:
    """A tensor, or a sequence of same-shape tensors/arrays stacked on a new first axis (members)."""
    if isinstance(xs, (Tensor, np.ndarray)):
        return to_tensor(xs, fn, arg)
    if isinstance(xs, Sequence) and len(xs) > 0:
        items = [to_tensor(x, fn, f"{arg}[{i}]") for i, x in enumerate(xs)]
        shapes = {tuple(t.shape) for t in items}
        if len(shapes) != 1:
            raise _err(fn, arg, f"must hold tensors of one shape, got shapes {sorted(shapes)}")
        return torch.stack(items)
    raise TypeError(f"{fn}: argument {arg!r} must be a tensor, an array or a non-empty sequence of them")


def check_ndim(x: Tensor, fn: str, arg: str, ndim: int | tuple[int, ...], what: str) -> None:
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if x.ndim not in allowed:
        raise _err(fn, arg, f"has shape {tuple(x.shape)}; expected {what}")


def check_finite(x: Tensor, fn: str, arg: str) -> None:
    """NaN/Inf check in one reduction: any NaN or Inf makes the sum non-finite; only then (or if finite values
    overflow the sum) is every element inspected."""
    if x.numel() == 0 or bool(torch.isfinite(x.sum(dtype=torch.float64) if x.dtype != torch.float64 else x.sum())):
        return
    n_bad = int((~torch.isfinite(x)).sum())
    if n_bad:
        raise _err(fn, arg, f"contains {n_bad} NaN or Inf value(s); expected finite values")


def floating(x: Any, fn: str, arg: str, *, ndim: int | tuple[int, ...] | None = None, what: str = "") -> Tensor:
    """A finite floating-point tensor (integer and bool input rejected, see module docstring)."""
    t = to_tensor(x, fn, arg)
    if not t.is_floating_point():
        raise _err(
            fn, arg, f"has dtype {t.dtype}; expected a floating-point tensor (convert with .float() if meant)"
        )
    if ndim is not None:
        check_ndim(t, fn, arg, ndim, what or f"{ndim} dimensions")
    check_finite(t, fn, arg)
    return t


def boolean(x: Any, fn: str, arg: str, *, ndim: int | tuple[int, ...] = 1, what: str = "a (n,) vector") -> Tensor:
    """A bool tensor (e.g. correctness ``preds == labels``); float or 0/1 integer input is rejected."""
    t = to_tensor(x, fn, arg)
    if t.dtype != torch.bool:
        raise _err(fn, arg, f"has dtype {t.dtype}; expected torch.bool (e.g. `preds == labels`)")
    check_ndim(t, fn, arg, ndim, what)
    return t


def integer(x: Any, fn: str, arg: str, *, ndim: int | tuple[int, ...] = 1, what: str = "a (n,) vector") -> Tensor:
    """An integer tensor of class indices (labels, predictions); must be non-negative."""
    t = to_tensor(x, fn, arg)
    if t.dtype == torch.bool or t.is_floating_point() or t.is_complex():
        raise _err(fn, arg, f"has dtype {t.dtype}; expected an integer tensor of class indices")
    check_ndim(t, fn, arg, ndim, what)
    if t.numel() and bool((t < 0).any()):
        raise _err(fn, arg, "has negative entries; expected class indices >= 0")
    return t


def activations(x: Any, fn: str, arg: str, *, min_samples: int = 2) -> Tensor:
    """(n, d) float activations; (n, C, H, W, ...) maps are flattened to (n, C*H*W*...)."""
    t = floating(x, fn, arg, ndim=tuple(range(2, 9)), what="(n_samples, n_features) or (n_samples, C, H, W)")
    if t.ndim > 2:
        t = t.reshape(t.shape[0], -1)
    check_min_samples(t, fn, arg, min_samples)
    if t.shape[1] == 0:
        raise _err(fn, arg, f"has shape {tuple(t.shape)}; expected at least one feature")
    return t


def check_min_samples(x: Tensor, fn: str, arg: str, minimum: int) -> None:
    if x.shape[0] < minimum:
        raise _err(fn, arg, f"has {x.shape[0]} sample(s) (shape {tuple(x.shape)}); expected at least {minimum}")


def same_samples(fn: str, *named: tuple[str, Tensor], axis: int = 0) -> None:
    """Equal sample counts along ``axis``; the message shows every shape."""
    sizes = {t.shape[axis] for _, t in named}
    if len(sizes) > 1:
        shapes = " and ".join(f"{name}={tuple(t.shape)}" for name, t in named)
        raise ValueError(f"{fn}: expected equal n_samples, got {shapes}")
    same_device(fn, *named)


def same_shape(fn: str, *named: tuple[str, Tensor]) -> None:
    shapes = {tuple(t.shape) for _, t in named}
    if len(shapes) > 1:
        got = " and ".join(f"{name}={tuple(t.shape)}" for name, t in named)
        raise ValueError(f"{fn}: expected equal shapes, got {got}")
    same_device(fn, *named)


def same_device(fn: str, *named: tuple[str, Tensor]) -> None:
    devices = {t.device for _, t in named}
    if len(devices) > 1:
        got = ", ".join(f"{name} on {t.device}" for name, t in named)
        raise ValueError(f"{fn}: expected every input on one device, got {got}")


def choice(value: Any, fn: str, arg: str, choices: Sequence[Any]) -> Any:
    if value not in choices:
        raise _err(fn, arg, f"is {value!r}; expected one of {list(choices)}")
    return value


def positive_int(value: Any, fn: str, arg: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise _err(fn, arg, f"is {value!r}; expected a positive integer")
    return int(value)


def positive_float(value: Any, fn: str, arg: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise _err(fn, arg, f"is {value!r}; expected a positive number") from None
    if not (v > 0 and np.isfinite(v)):
        raise _err(fn, arg, f"is {value!r}; expected a positive finite number")
    return v


def neighbours(k: Any, n: int, fn: str) -> int:
    """k for a k-NN measure that excludes the point itself: 1 <= k < n."""
    k = positive_int(k, fn, "k")
    if k >= n:
        raise _err(fn, "k", f"is {k} but there are only {n} samples; expected k < n_samples")
    return k
