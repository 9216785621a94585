"""What ``sat-companion place`` checks before it does any work: the model name resolves, the weights file is a
plain state dict (read without running any code), the weights fit the architecture, and the model maps one image
of the zoo's dataset to one logit per class. Every failure is a ``PlaceInputError`` that names what was wrong, where,
and what would fix it (the command line prints it and exits with status 2, having written nothing).

A checkpoint never runs code: ``.safetensors`` files are read with safetensors, anything else with
``torch.load(weights_only=True)``, which refuses pickled objects (a pickle whose ``__reduce__`` would call a
function is rejected, not executed).
"""
from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from sat_lib.params import ParameterError


class PlaceInputError(ParameterError):
    """Bad input to ``sat-companion place``; the message says what, where, and what would fix it."""


@dataclass(frozen=True)
class InputShape:
    """What the zoo's models take and give: ``channels`` × ``size`` × ``size`` images in [0, 1], ``classes``
    logits; ``mean`` / ``std`` of the dataset, for a model trained on normalised images (``--normalize``)."""

    dataset: str
    channels: int
    size: int
    classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]


def model_builder(spec: str) -> Callable[[InputShape], nn.Module]:
    """``--model``: a timm model name (built with the dataset's classes and channels) or ``module:function`` (a
    function of no arguments returning the ``nn.Module``). Resolved here (an unknown name fails now); the model is
    built by calling the result with the input shape."""
    if ":" in spec:
        module_name, _, attr = spec.partition(":")
        try:
            module = importlib.import_module(module_name)
        except Exception as err:  # noqa: BLE001 — any import failure is the user's module
            raise PlaceInputError(f"--model {spec!r}: cannot import module {module_name!r} ({type(err).__name__}: "
                                  f"{err}); run from the folder that holds it or add that folder to PYTHONPATH")
        fn = getattr(module, attr, None)
        if not callable(fn):
            close = difflib.get_close_matches(attr, [n for n in dir(module) if not n.startswith("_")], n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise PlaceInputError(f"--model {spec!r}: module {module_name!r} has no function {attr!r}{hint} "
                                  "(give module:function, a function returning the model)")
        return lambda shape: fn()
    import timm

    if not timm.is_model(spec):
        close = difflib.get_close_matches(spec, timm.list_models(), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise PlaceInputError(f"--model {spec!r}: not a timm model name{hint} (timm.list_models() lists them; "
                              "for a model of your own give module:function)")
    return lambda shape: timm.create_model(spec, num_classes=shape.classes, in_chans=shape.channels)


def _refusal(err: Exception) -> str:
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    why = next((ln for ln in lines if "GLOBAL" in ln or "Unsupported" in ln), lines[-1] if lines else "")
    return why.rstrip(".")


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The state dict in ``path``, read without running code: safetensors, or ``torch.load(weights_only=True)``
    (a checkpoint dict holding it under ``"state_dict"`` is accepted)."""
    path = Path(path)
    where = f"--weights {str(path)!r}"
    if not path.is_file():
        raise PlaceInputError(f"{where}: no such file")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            state = load_file(str(path), device="cpu")
        except Exception as err:  # noqa: BLE001
            raise PlaceInputError(f"{where}: not a readable safetensors file ({type(err).__name__}: {err})")
    else:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 — refused pickles and unreadable files alike
            raise PlaceInputError(
                f"{where}: refused — it is not a plain state dict that loads without running code "
                f"({_refusal(err)}); save the weights alone with torch.save(model.state_dict(), path) or as a "
                ".safetensors file (a checkpoint is never unpickled here)")
    if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping) or not state or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise PlaceInputError(f"{where}: holds a {type(state).__name__}, not a state dict (names → tensors); save "
                              "torch.save(model.state_dict(), path)")
    return dict(state)


def _mismatch(err: Exception) -> str:
    text = " ".join(str(err).split())
    return text if len(text) < 600 else text[:600] + " …"


def checked_model(spec: str, build: Callable[[InputShape], nn.Module], state: Mapping[str, torch.Tensor],
                  weights: str | Path, shape: InputShape, normalize: bool = False) -> nn.Module:
    """The reader's model (``build``, from ``model_builder(spec)``) with its weights (``state``, from
    ``read_state_dict(weights)``), in eval mode, checked (module doc). Weights saved from a model wrapped in
    ``sat_lib.models.Normalized`` (keys ``inner.…``, the project's own format) are loaded into the same wrapper;
    ``normalize`` wraps a model trained on images normalised by the dataset's mean and std."""
    from sat_lib.activations import last_linear
    from sat_lib.models import Normalized

    try:
        model = build(shape)
    except Exception as err:  # noqa: BLE001
        raise PlaceInputError(f"--model {spec!r}: building it failed ({type(err).__name__}: {err})")
    if not isinstance(model, nn.Module):
        raise PlaceInputError(f"--model {spec!r}: returned a {type(model).__name__}, not a torch.nn.Module")
    if normalize or all(k.startswith("inner.") for k in state):
        model = Normalized(model, shape.mean, shape.std)
    try:
        model.load_state_dict(state, strict=True)
    except Exception as err:  # noqa: BLE001
        raise PlaceInputError(f"--weights {str(weights)!r} does not fit --model {spec!r}: {_mismatch(err)} — "
                              "give the architecture the weights were trained with (and its num_classes)")
    model.eval()
    dummy = torch.zeros(1, shape.channels, shape.size, shape.size)
    expected = (1, shape.classes)
    try:
        with torch.no_grad():
            out = model(dummy)
    except Exception as err:  # noqa: BLE001
        raise PlaceInputError(f"--model {spec!r}: a {tuple(dummy.shape)} input (one {shape.dataset} image) fails "
                              f"({type(err).__name__}: {_mismatch(err)}); the zoo's models take {shape.channels} × "
                              f"{shape.size} × {shape.size} images in [0, 1]")
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != expected:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise PlaceInputError(f"--model {spec!r}: a {tuple(dummy.shape)} input gives output {got}, expected "
                              f"{expected}: one logit for each of the {shape.classes} classes of {shape.dataset}")
    try:
        last_linear(model)
    except ValueError as err:
        raise PlaceInputError(f"--model {spec!r}: {err}; the representational measures compare the input of the "
                              "final nn.Linear classifier")
    return model
