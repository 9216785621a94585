"""Activations of a model's layers, read with forward hooks (no model surgery)."""
from __future__ import annotations

import torch
import torch.nn as nn

from sat_lib.precision import autocast, to_device_layout


def last_linear(model: nn.Module) -> nn.Module:
    """The classifier: timm's ``get_classifier()`` where the model (or the wrapped ``inner``) has one, else the
    last ``nn.Linear`` registered in the model."""
    for m in (model, getattr(model, "inner", None)):
        head = m.get_classifier() if hasattr(m, "get_classifier") else None
        if isinstance(head, nn.Module) and not isinstance(head, nn.Identity):
            return head
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f"last_linear: {type(model).__name__} has no nn.Linear layer to read features before")
    return linears[-1]


@torch.inference_mode()
def penultimate(model: nn.Module, images: torch.Tensor, *, batch_size: int = 1024,
                precision: str = "auto") -> tuple[torch.Tensor, torch.Tensor]:
    """(features, logits): the input of the classifier layer, flattened to (n, d), and the logits, float32."""
    device = next(model.parameters()).device
    layer = last_linear(model)
    feats: list[torch.Tensor] = []
    handle = layer.register_forward_hook(lambda m, inp, out: feats.append(inp[0].detach().float().flatten(1)))
    was_training = model.training
    model.eval()
    outs = []
    try:
        for i in range(0, images.shape[0], batch_size):
            xb = images[i:i + batch_size].to(device)
            xb = xb.float().div(255) if xb.dtype == torch.uint8 else xb
            with autocast(precision, device):
                outs.append(model(to_device_layout(xb, device)).float())
    finally:
        handle.remove()
        model.train(was_training)
    return torch.cat(feats), torch.cat(outs)


def penultimate_fn(model: nn.Module):
    """A differentiable ``x -> features``: the input of the classifier layer (``last_linear``), flattened to
    (n, d), computed by a full forward pass of ``model`` with gradients kept (for image inversion). The hook is
    attached for each call and removed after it."""
    layer = last_linear(model)

    def features(x: torch.Tensor) -> torch.Tensor:
        got: list[torch.Tensor] = []
        handle = layer.register_forward_hook(lambda m, inp, out: got.append(inp[0]))
        try:
            model(x)
        finally:
            handle.remove()
        return got[-1].float().flatten(1)

    return features


def layer_modules(model: nn.Module, max_layers: int = 12) -> list[tuple[str, nn.Module]]:
    """The model's weight layers (``nn.Conv2d`` and ``nn.Linear`` leaves, in registration order, the classifier
    last), at most ``max_layers`` of them evenly spaced (first and last kept): the rows and columns of a
    layer-by-layer similarity map."""
    if max_layers < 2:
        raise ValueError(f"layer_modules: max_layers must be >= 2, got {max_layers}")
    layers = [(name, m) for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    if not layers:
        raise ValueError(f"layer_modules: {type(model).__name__} has no Conv2d or Linear layer")
    if len(layers) > max_layers:
        keep = sorted({round(i * (len(layers) - 1) / (max_layers - 1)) for i in range(max_layers)})
        layers = [layers[i] for i in keep]
    return layers


@torch.inference_mode()
def layer_outputs(model: nn.Module, images: torch.Tensor, *, max_layers: int = 12, batch_size: int = 500,
                  precision: str = "fp32") -> dict[str, torch.Tensor]:
    """The outputs of ``layer_modules(model, max_layers)`` on ``images`` (uint8 or float in [0, 1]), each
    flattened to (n, d) float32 on the CPU, keyed by the layer's name; eval mode, the model's mode restored."""
    device = next(model.parameters()).device
    layers = layer_modules(model, max_layers)
    got: dict[str, list[torch.Tensor]] = {name: [] for name, _ in layers}
    handles = [m.register_forward_hook(lambda mod, inp, out, name=name: got[name].append(
        out.detach().float().flatten(1).cpu())) for name, m in layers]
    was_training = model.training
    model.eval()
    try:
        for i in range(0, images.shape[0], batch_size):
            xb = images[i:i + batch_size].to(device)
            xb = xb.float().div(255) if xb.dtype == torch.uint8 else xb
            with autocast(precision, device):
                model(to_device_layout(xb, device))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return {name: torch.cat(parts) for name, parts in got.items()}
