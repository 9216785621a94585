"""Patch-Fool (Fu et al., ICLR 2022): fool a Vision Transformer through one patch, with its attention.

The SAT paper's appendix G (Fig. G.1b) checks that a similarity ranking does not hinge on PGD by attacking ViT-S
with Patch-Fool and measuring how the examples transfer. The attack, as the authors' ``main.py`` runs it
("Attn" patch selection, "Attention" attack mode):

1. **Which patch.** The clean image's attention at layer ``select_layer`` (default: a third of the way in, the
   authors' layer 4 of 12), averaged over heads and over queries, scores every patch by the attention it
   receives; the ``n_patches`` highest-scoring patches are attacked.
2. **What changes.** Those patches' pixels are replaced outright (any value in [0, 1]: no norm bound — the
   attack's strength is its locality), starting from uniform noise; the rest of the image is untouched.
3. **The objective.** Cross-entropy plus, for each layer of the first half after the first, the mean log
   attention every token pays to the (first) attacked patch, weighted by ``attn_weight``. Where a layer's
   attention gradient points against the cross-entropy gradient (negative cosine, per image), its conflicting
   component is projected out (PCGrad, Yu et al. 2020), as the authors do — with PCGrad's projection
   g − (g·c / ‖c‖²) c; the authors' ``utils.PCGrad`` divides by ‖c‖ once, which removes the conflict only
   when ‖c‖ = 1.
4. **The optimiser.** Adam on the patch pixels (``lr``, decayed by ``gamma`` every ``decay_every`` steps),
   ``steps`` iterations; the last iterate is returned.

The authors work in ImageNet-normalised units (Adam lr 0.22 ≈ 0.05 in pixel units at std 0.225); here images
are in [0, 1] and normalisation lives inside the model (``sat_lib.models.Normalized``), so ``lr`` is in pixel
units. Losses are summed over images (the authors average), so an image's update does not depend on the batch.

Attention maps come from timm's attention modules (``timm.models.vision_transformer.Attention`` and any module
with the same ``fused_attn`` / ``attn_drop`` structure): while the attack runs, fused attention is switched off
and the softmaxed attention is read where it enters ``attn_drop`` (an identity in eval mode), so the maps are the
model's own, not a re-computation. A model without such modules, or without a ``patch_embed.grid_size``, is
refused with an error that says so.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from sat_lib.attacks import prepare_inputs, run_in_batches
from sat_lib.precision import autocast


@dataclass(frozen=True)
class PatchFoolConfig:
    steps: int = 250               # the authors' train_attack_iters
    lr: float = 0.05               # Adam, pixel units (the authors: 0.22 in normalised ImageNet units)
    decay_every: int = 10          # StepLR step_size
    gamma: float = 0.95            # StepLR gamma
    n_patches: int = 1
    attn_weight: float = 0.002     # the authors' atten_loss_weight; 0: cross-entropy only ("CE_loss" mode)
    select_layer: int = -1         # the layer whose attention picks the patch; -1: depth // 3 (the authors: 4 of 12)
    seed: int = 0
    # the fields every source attack carries (``sat_lib.zoo.attack_correct``); a patch has no
    # norm bound (eps 1 on [0, 1] images), and its random start is the uniform noise of step 2
    norm: str = "linf"
    eps: float = 1.0
    random_start: bool = True

    def __post_init__(self) -> None:
        if self.steps < 0:
            raise ValueError(f"Patch-Fool: steps must be >= 0, got {self.steps}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"Patch-Fool: lr must be a finite number > 0, got {self.lr}")
        if self.decay_every < 1 or not 0 < self.gamma <= 1:
            raise ValueError(f"Patch-Fool: decay_every must be >= 1 and gamma in (0, 1], got {self.decay_every} "
                             f"and {self.gamma}")
        if self.n_patches < 1:
            raise ValueError(f"Patch-Fool: n_patches must be >= 1, got {self.n_patches}")
        if not (self.attn_weight >= 0 and math.isfinite(self.attn_weight)):
            raise ValueError(f"Patch-Fool: attn_weight must be a finite number >= 0, got {self.attn_weight}")
        if self.select_layer < -1:
            raise ValueError(f"Patch-Fool: select_layer must be a layer index or -1 (depth // 3), got "
                             f"{self.select_layer}")
        if self.norm != "linf" or self.eps != 1.0:
            raise ValueError("Patch-Fool: a patch is replaced outright; norm must be 'linf' and eps 1.0, got "
                             f"{self.norm!r} and {self.eps}")


def uniform_start(x: torch.Tensor, cfg: PatchFoolConfig, gen: torch.Generator) -> torch.Tensor:
    """The random start as an offset from the images: ``x + start`` is uniform noise in [0, 1]."""
    return torch.rand(x.shape, device=x.device, generator=gen) - x


# --- the model's own attention ---------------------------------------------------------------------------------


def attention_modules(model: nn.Module) -> list[nn.Module]:
    """timm's attention modules of ``model``, in forward order (for a ViT: one per block)."""
    return [m for m in model.modules() if hasattr(m, "fused_attn") and isinstance(getattr(m, "attn_drop", None),
                                                                                  nn.Module)]


def patch_grid(model: nn.Module) -> tuple[tuple[int, int], tuple[int, int], int]:
    """(grid rows × columns, patch height × width, prefix tokens) of the ViT inside ``model``."""
    for m in model.modules():
        pe = getattr(m, "patch_embed", None)
        if pe is not None and getattr(pe, "grid_size", None) is not None:
            return tuple(pe.grid_size), tuple(pe.patch_size), int(getattr(m, "num_prefix_tokens", 0))
    raise ValueError(f"Patch-Fool needs a Vision Transformer (a module with patch_embed.grid_size); "
                     f"{type(model).__name__} has none — attack a ViT/DeiT-style model of the zoo")


class AttentionRecorder(contextlib.AbstractContextManager):
    """Within the ``with`` block every forward pass of ``model`` leaves its attention maps in ``maps``
    ((batch, heads, queries, keys) per attention module, forward order); fused attention is off meanwhile."""

    def __init__(self, model: nn.Module):
        self.modules = attention_modules(model)
        if not self.modules:
            raise ValueError(f"Patch-Fool needs timm attention modules (fused_attn / attn_drop); "
                             f"{type(model).__name__} has none")
        self.maps: list[torch.Tensor] = []
        self._hooks: list = []
        self._fused: list[bool] = []

    def __enter__(self) -> AttentionRecorder:
        for m in self.modules:
            self._fused.append(m.fused_attn)
            m.fused_attn = False
            self._hooks.append(m.attn_drop.register_forward_hook(lambda _m, inp, _out: self.maps.append(inp[0])))
        return self

    def __exit__(self, *exc) -> None:
        for h in self._hooks:
            h.remove()
        for m, fused in zip(self.modules, self._fused):
            m.fused_attn = fused
        self._hooks, self._fused = [], []

    def forward(self, model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        self.maps = []
        out = model(x)
        return out, self.maps


def layers_for(depth: int, cfg: PatchFoolConfig) -> tuple[int, list[int]]:
    """(the layer that picks the patch, the layers whose attention the objective raises): the authors' 4 and
    1 … 5 for a 12-layer DeiT; for shallower models depth // 3 and the first half after the first."""
    select = depth // 3 if cfg.select_layer == -1 else cfg.select_layer
    if select >= depth:
        raise ValueError(f"Patch-Fool: select_layer {select} but the model has {depth} attention layers")
    return select, list(range(1, depth // 2)) or [min(1, depth - 1)]


def patch_mask(index: torch.Tensor, grid: tuple[int, int], patch: tuple[int, int], shape) -> torch.Tensor:
    """(batch, 1, H, W) float mask with ones on the patches ``index`` (batch, n) of a row-major grid."""
    b = index.shape[0]
    cells = torch.zeros(b, grid[0] * grid[1], device=index.device)
    cells.scatter_(1, index, 1.0)
    mask = cells.view(b, 1, *grid).repeat_interleave(patch[0], 2).repeat_interleave(patch[1], 3)
    if tuple(mask.shape[-2:]) != tuple(shape[-2:]):
        raise ValueError(f"Patch-Fool: a {grid[0]}×{grid[1]} grid of {patch[0]}×{patch[1]} patches does not tile "
                         f"{tuple(shape[-2:])} images")
    return mask


def attacked_cells(clean: torch.Tensor, attacked: torch.Tensor, patch: tuple[int, int]) -> torch.Tensor:
    """(batch, 1, H, W) float mask of the cells of a ``patch``-sized grid where ``attacked`` differs from
    ``clean`` anywhere (a patch's pixels may equal the clean ones one by one, at 0 or 1, never all of them)."""
    if clean.shape != attacked.shape:
        raise ValueError(f"attacked_cells: clean images {tuple(clean.shape)}, attacked {tuple(attacked.shape)}")
    ph, pw = patch
    b, _, h, w = clean.shape
    if h % ph or w % pw:
        raise ValueError(f"attacked_cells: {ph}×{pw} patches do not tile {h}×{w} images")
    diff = (clean != attacked).any(1, keepdim=True).float()
    cells = F.max_pool2d(diff, (ph, pw))
    return cells.repeat_interleave(ph, 2).repeat_interleave(pw, 3)


def random_patch(clean: torch.Tensor, attacked: torch.Tensor, patch: tuple[int, int], seed: int = 0,
                 max_cells: int | None = None) -> torch.Tensor:
    """The control of a patch attack: the same cells as ``attacked`` changed (``attacked_cells``), filled with
    uniform noise (Patch-Fool's own start) instead of optimised pixels. Where the attack's transfer is no larger
    than this, it measures fragility to any occluding patch rather than what the attack found. ``max_cells``: the
    patches the attack may change per image; more changed cells (images that are not the attack's clean ones, or
    examples stored in a lossy precision) raise an error."""
    mask = attacked_cells(clean, attacked, patch)
    cells = mask.flatten(1).sum(1) / (patch[0] * patch[1])
    if max_cells is not None and int(cells.max()) > max_cells:
        worst = int(cells.argmax())
        raise ValueError(f"random_patch: image {worst} differs from its attacked copy in {int(cells[worst])} "
                         f"{patch[0]}×{patch[1]} cells, more than the attack's {max_cells}: the clean images are not "
                         "the ones attacked, or the examples were stored in a lossy precision")
    noise = torch.rand(clean.shape, generator=torch.Generator().manual_seed(seed)).to(clean)
    return clean * (1 - mask) + noise * mask


def _pcgrad(g: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Per row: where ``g`` points against ``ref`` (negative cosine), remove its component along ``ref``."""
    dot = (g * ref).sum(1, keepdim=True)
    proj = dot / ref.pow(2).sum(1, keepdim=True).clamp_min(1e-24) * ref
    return torch.where(dot < 0, g - proj, g)


def _patch_fool_batch(model: nn.Module, x: torch.Tensor, y: torch.Tensor, start: torch.Tensor,
                      cfg: PatchFoolConfig, precision: str) -> torch.Tensor:
    grid, patch, prefix = patch_grid(model)
    with AttentionRecorder(model) as rec:
        select, layers = layers_for(len(rec.modules), cfg)
        with torch.no_grad(), autocast(precision, x.device):
            _, maps = rec.forward(model, x)
        score = maps[select].float().mean(1).mean(1)[:, prefix:]          # attention each patch receives
        index = score.topk(cfg.n_patches, dim=1).indices
        mask = patch_mask(index, grid, patch, x.shape)
        base = x * (1 - mask)
        target = index[:, 0] + prefix
        delta = (x + start).clamp(0, 1).detach().requires_grad_(True)
        opt = torch.optim.Adam([delta], lr=cfg.lr)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=cfg.decay_every, gamma=cfg.gamma)
        rows = torch.arange(x.shape[0], device=x.device)
        for _ in range(cfg.steps):
            with autocast(precision, x.device):
                out, maps = rec.forward(model, base + delta * mask)
            ce = F.cross_entropy(out.float(), y, reduction="sum")
            (grad,) = torch.autograd.grad(ce, delta, retain_graph=cfg.attn_weight > 0)
            if cfg.attn_weight > 0:
                ref = grad.flatten(1)
                for i, layer in enumerate(layers):
                    a = maps[layer].float().mean(1)[rows, :, target]        # attention paid to the patch
                    loss = a.clamp_min(1e-12).log().mean(1).sum()
                    (g,) = torch.autograd.grad(loss, delta, retain_graph=i < len(layers) - 1)
                    grad = grad + cfg.attn_weight * _pcgrad(g.flatten(1), ref).view_as(grad)
            opt.zero_grad(set_to_none=True)
            delta.grad = -grad                                               # ascent
            opt.step()
            sched.step()
            with torch.no_grad():
                delta.clamp_(0, 1)
    return (base + delta.detach() * mask).clamp(0, 1)


def patch_fool(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
               cfg: PatchFoolConfig = PatchFoolConfig(), *, batch_size: int = 256, precision: str = "auto",
               delta_init: torch.Tensor | None = None, device: torch.device | str | None = None,
               desc: str = "patch-fool") -> torch.Tensor:
    """Patch-Fool examples (float32, in [0, 1]) for a timm Vision Transformer; arguments as
    ``sat_lib.attacks.pgd``. ``delta_init`` is the random start as an offset from the images (``uniform_start``);
    without it one is drawn from ``cfg.seed`` for the whole input, so the result does not depend on the batch."""
    device, x_all, y_all = prepare_inputs(model, images, labels, device, "patch_fool")
    patch_grid(model)
    if delta_init is None:
        delta_init = uniform_start(x_all, cfg, torch.Generator(device=device).manual_seed(cfg.seed))
    elif delta_init.shape != x_all.shape:
        raise ValueError(f"patch_fool: delta_init has shape {tuple(delta_init.shape)}, images {tuple(x_all.shape)}")
    return run_in_batches(model, x_all, y_all, delta_init.to(device).float(),
                       lambda m, x, y, d, prec: _patch_fool_batch(m, x, y, d, cfg, prec),
                       batch_size=batch_size, precision=precision, device=device, desc=desc)

