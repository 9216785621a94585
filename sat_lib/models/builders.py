"""Model builders: one registered function per way of constructing a zoo entry.

A builder takes the ``ZooEntry`` and the build settings and returns an ``nn.Module``. Entries name their builder
in the zoo YAML files; adding a way to build models is one decorated function here.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, Protocol

import timm
from timm.layers import GatedMlp, Mlp, get_act_layer
from timm.models.convmixer import ConvMixer
from timm.models.mlp_mixer import Affine, MixerBlock, MlpMixer, ResBlock, SpatialGatingBlock
from torch import nn

from sat_lib.models.plain_cnn import PlainCNN
from sat_lib.models.tiny_nets import TinyCNN
from sat_lib.registry import Registry

class ZooEntry(Protocol):
    """What a builder reads of a zoo entry (``sat_lib.models.ZooEntry`` satisfies it; builders sit below it)."""

    name: str
    builder: str
    timm_name: str
    kwargs: Mapping[str, Any]

    @property
    def native_img_size(self) -> int | None: ...

    @property
    def timm_model_name(self) -> str: ...


class Builder(Protocol):
    def __call__(self, entry: ZooEntry, *, num_classes: int, img_size: int, in_chans: int,
                 pretrained: bool) -> nn.Module: ...


BUILDERS: Registry[Builder] = Registry("model builder")

_PLACEHOLDERS = ("{img_size}", "{in_chans}")


def resolve_kwargs(kwargs: Mapping[str, Any], *, img_size: int, in_chans: int, where: str) -> dict[str, Any]:
    """Fill ``"{img_size}"`` / ``"{in_chans}"`` placeholders and turn YAML lists into tuples (timm wants tuples)."""
    values = {"{img_size}": img_size, "{in_chans}": in_chans}

    def fill(value: Any) -> Any:
        if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
            if value not in values:
                raise ValueError(f"{where}: unknown placeholder {value!r} in kwargs; known: {', '.join(_PLACEHOLDERS)}")
            return values[value]
        if isinstance(value, (list, tuple)):
            return tuple(fill(v) for v in value)
        if isinstance(value, Mapping):
            return {k: fill(v) for k, v in value.items()}
        return value

    return {key: fill(value) for key, value in kwargs.items()}


def _no_pretrained(entry: ZooEntry, pretrained: bool) -> None:
    if pretrained:
        raise ValueError(f"{entry.name}: no pretrained weights exist for this entry (built with {entry.builder!r}); "
                         "pass pretrained=False, or use an entry of zoo 'paper69' for ImageNet weights")


def _kwargs(entry: ZooEntry, img_size: int, in_chans: int) -> dict[str, Any]:
    return resolve_kwargs(entry.kwargs, img_size=img_size, in_chans=in_chans, where=entry.name)


def _first(model: nn.Module, kind: type[nn.Module]) -> tuple[nn.Module, str, nn.Module] | None:
    """(parent, attribute, module) of the first ``kind`` module in definition order."""
    for parent in model.modules():
        for attr, child in parent.named_children():
            if isinstance(child, kind):
                return parent, attr, child
    return None


def adapt_stem(model: nn.Module, *, stride: int | None = None, pool: bool = True, where: str = "") -> nn.Module:
    """Adapt an ImageNet stem to small images: the first convolution's ``stride`` (e.g. 1 instead of 2), and
    ``pool=False`` removes the first max-pooling layer (ResNet's, DenseNet's). The card records the result."""
    if stride is not None:
        found = _first(model, nn.Conv2d)
        if found is None:
            raise ValueError(f"{where}: stem_stride given but the model has no convolution")
        found[2].stride = (int(stride), int(stride))
    if not pool:
        found = _first(model, nn.MaxPool2d)
        if found is None:
            raise ValueError(f"{where}: stem_pool=false but the model has no max-pooling layer")
        setattr(found[0], found[1], nn.Identity())
    return model


@BUILDERS.decorator("timm")
def build_timm(entry: ZooEntry, *, num_classes: int, img_size: int, in_chans: int, pretrained: bool) -> nn.Module:
    """``timm.create_model(timm_name, **kwargs)`` from scratch; kwargs adapt it (e.g. ``img_size``, ``patch_size``).

    Two kwargs are ours, not timm's: ``stem_stride`` (the first convolution's stride) and ``stem_pool: false``
    (drop the stem's max-pooling) — see ``adapt_stem``."""
    _no_pretrained(entry, pretrained)
    kwargs = _kwargs(entry, img_size, in_chans)
    stride, pool = kwargs.pop("stem_stride", None), kwargs.pop("stem_pool", True)
    model = timm.create_model(entry.timm_name, pretrained=False, num_classes=num_classes, in_chans=in_chans,
                              **kwargs)
    return adapt_stem(model, stride=stride, pool=pool, where=entry.name)


@BUILDERS.decorator("timm_pretrained")
def build_timm_pretrained(entry: ZooEntry, *, num_classes: int, img_size: int, in_chans: int,
                          pretrained: bool) -> nn.Module:
    """``timm.create_model("arch.tag", pretrained=...)`` at the model's native input size (the paper's models).

    With ``pretrained=True`` timm downloads the weights named by the tag (a network is needed); a
    ``num_classes`` other than 1000 or ``in_chans`` other than 3 re-initialise / adapt the first and last layers
    as timm does.
    """
    native = entry.native_img_size
    if native is not None and img_size != native:
        raise ValueError(f"{entry.name}: this ImageNet model is built for its native {native}×{native} input, "
                         f"got img_size={img_size}; pass img_size={native} (zoo.img_size_for({entry.name!r})) "
                         "and resize the images to it")
    return timm.create_model(entry.timm_model_name, pretrained=pretrained, num_classes=num_classes,
                             in_chans=in_chans, **_kwargs(entry, img_size, in_chans))


_MIXER_STYLES: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    # style -> MlpMixer layer arguments, as timm's mixer_*, resmlp_* and gmlp_* entrypoints set them
    "mixer": lambda kw: dict(block_layer=MixerBlock, mlp_layer=Mlp),
    "resmlp": lambda kw: dict(block_layer=partial(ResBlock, init_values=kw.get("init_values", 1e-4)),
                              norm_layer=Affine),
    "gmlp": lambda kw: dict(block_layer=SpatialGatingBlock, mlp_layer=GatedMlp),
}


@BUILDERS.decorator("mixer")
def build_mixer(entry: ZooEntry, *, num_classes: int, img_size: int, in_chans: int, pretrained: bool) -> nn.Module:
    """timm's ``MlpMixer`` class built directly, so that ``patch_size`` can change (timm's MLP-Mixer, ResMLP and
    gMLP entrypoints fix it). kwargs: ``style`` (mixer | resmlp | gmlp), ``init_values`` (resmlp) and
    ``MlpMixer`` arguments (``patch_size``, ``num_blocks``, ``embed_dim``, ``mlp_ratio``, ...)."""
    _no_pretrained(entry, pretrained)
    kwargs = _kwargs(entry, img_size, in_chans)
    style = kwargs.pop("style", "mixer")
    if style not in _MIXER_STYLES:
        raise ValueError(f"{entry.name}: unknown mixer style {style!r}; expected one of {sorted(_MIXER_STYLES)}")
    layers = _MIXER_STYLES[style](kwargs)
    kwargs.pop("init_values", None)
    return MlpMixer(num_classes=num_classes, img_size=img_size, in_chans=in_chans, **layers, **kwargs)


@BUILDERS.decorator("convmixer")
def build_convmixer(entry: ZooEntry, *, num_classes: int, img_size: int, in_chans: int,
                    pretrained: bool) -> nn.Module:
    """timm's ``ConvMixer`` class built directly (its entrypoints fix ``patch_size``/``kernel_size``).

    kwargs: ``dim``, ``depth``, ``kernel_size``, ``patch_size`` and ``act`` (a timm activation name)."""
    _no_pretrained(entry, pretrained)
    kwargs = _kwargs(entry, img_size, in_chans)
    act = get_act_layer(kwargs.pop("act", "gelu"))
    return ConvMixer(num_classes=num_classes, in_chans=in_chans, act_layer=act, **kwargs)


@BUILDERS.decorator("tiny_cnn")
def build_tiny_cnn(entry: ZooEntry, *, num_classes: int, img_size: int, in_chans: int,
                   pretrained: bool) -> nn.Module:
    """``TinyCNN`` (a few thousand parameters, for tests); kwargs: ``widths``."""
    _no_pretrained(entry, pretrained)
    return TinyCNN(num_classes=num_classes, in_chans=in_chans, **_kwargs(entry, img_size, in_chans))


@BUILDERS.decorator("plain_cnn")
def build_plain_cnn(entry: ZooEntry, *, num_classes: int, img_size: int, in_chans: int,
                    pretrained: bool) -> nn.Module:
    """``PlainCNN`` (VGG-style conv groups, no skip connections); kwargs: ``widths``."""
    _no_pretrained(entry, pretrained)
    return PlainCNN(num_classes=num_classes, in_chans=in_chans, **_kwargs(entry, img_size, in_chans))


@BUILDERS.decorator("elastic_resnet")
def build_elastic_resnet(entry: ZooEntry, *, num_classes: int, img_size: int, in_chans: int,
                         pretrained: bool) -> nn.Module:
    """The weight-sharing super-network ``sat_lib.models.supernet.ElasticResNet``; kwargs: the ``SearchSpace``
    fields (``stage_widths``, ``extra_depth``, ``expansions`` …)."""
    from sat_lib.models.supernet import ElasticResNet, SearchSpace

    _no_pretrained(entry, pretrained)
    return ElasticResNet(SearchSpace(**_kwargs(entry, img_size, in_chans)), num_classes=num_classes,
                         in_chans=in_chans)
