"""``ZooEntry`` (one model: how to build it, and its architecture card) and ``Zoo`` (a named set of entries)."""
from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, Literal

from torch import nn

from sat_lib.models.builders import BUILDERS
from sat_lib.models.components import FAMILIES, check_card, family_of
from sat_lib.registry import Registry

RECIPE_NAMES: tuple[str, ...] = ("sgd", "adamw")
"""Training recipe keys: "sgd" (CNN-style, SGD with momentum, lr ~0.1) or "adamw" (Transformer/MLP-style)."""


def _positive_int(value: Any, *, what: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{where}: {what} must be a positive int, got {value!r}")
    return value


@dataclass(frozen=True)
class ZooEntry:
    """One model of a zoo: its architecture card, its family and training recipe, and how to build it.

    ``builder`` names a function of ``sat_lib.models.builders.BUILDERS``; ``timm_name`` is the timm architecture
    it is built from (or documents, for builders that construct the class directly); ``kwargs`` go to that
    builder, with ``"{img_size}"`` / ``"{in_chans}"`` placeholders filled in at build time.
    """

    name: str
    family: str
    recipe: str
    card: Mapping[str, str] = field(hash=False)
    builder: str
    timm_name: str
    kwargs: Mapping[str, Any] = field(hash=False)
    notes: str = ""
    pretrained_tag: str = ""
    paper_name: str = ""
    epoch_scale: float = 1.0
    """This entry trains for ``round(epochs * epoch_scale)`` epochs (attention and MLP models need more)."""
    precision: str = ""
    """``""``: the chapter's precision; ``"fp32"`` / ``"bf16"``: this entry always trains, is attacked and is
    evaluated in it (for a model whose training diverges in bf16 although bf16 is faster for it)."""

    def __post_init__(self) -> None:
        where = f"ZooEntry {self.name!r}"
        if isinstance(self.epoch_scale, bool) or not isinstance(self.epoch_scale, (int, float)) \
                or not self.epoch_scale > 0:
            raise ValueError(f"{where}: epoch_scale must be a positive number, got {self.epoch_scale!r}")
        if self.precision not in ("", "fp32", "bf16"):
            raise ValueError(f"{where}: precision must be '', 'fp32' or 'bf16', got {self.precision!r}")
        card = check_card(self.card, where=where)
        object.__setattr__(self, "card", MappingProxyType(card))
        object.__setattr__(self, "kwargs", MappingProxyType(dict(self.kwargs)))
        if self.family not in FAMILIES:
            raise ValueError(f"{where}: family {self.family!r} is none of {FAMILIES}")
        if self.family != family_of(card["base_architecture"]):
            raise ValueError(f"{where}: family {self.family!r} does not match the card's base architecture "
                             f"{card['base_architecture']!r}")
        if self.recipe not in RECIPE_NAMES:
            raise ValueError(f"{where}: recipe {self.recipe!r} is none of {RECIPE_NAMES}")
        if self.builder not in BUILDERS:
            raise ValueError(f"{where}: {BUILDERS.unknown_message(self.builder)}")

    def __reduce__(self):  # mappingproxy does not pickle: rebuild from plain dicts (multiprocessing, deepcopy)
        values = [getattr(self, f.name) for f in fields(self)]
        return type(self), tuple(dict(v) if isinstance(v, MappingProxyType) else v for v in values)

    def epochs_for(self, epochs: int) -> int:
        """The epochs this entry trains for when a chapter asks for ``epochs``."""
        return max(1, round(epochs * self.epoch_scale))

    def precision_for(self, precision: str) -> str:
        """The precision this entry is trained, attacked and evaluated in when a chapter asks for ``precision``:
        its own where it names one (a model that trains badly in the fastest layout), else the chapter's
        (``"auto"``: the layout measured fastest, ``sat_lib.precision``)."""
        return self.precision or precision

    @property
    def native_img_size(self) -> int | None:
        """The input size of the card (``"224×224"`` → 224), or ``None`` when the card says ``"any"``."""
        res = self.card["input_resolution"]
        return None if res == "any" else int(res.split("×")[0])

    @property
    def timm_model_name(self) -> str:
        """``timm_name`` with its pretrained tag, e.g. ``"resnet101c.gluon_in1k"``."""
        return f"{self.timm_name}.{self.pretrained_tag}" if self.pretrained_tag else self.timm_name

    def build(self, *, num_classes: int, img_size: int, in_chans: int = 3, pretrained: bool = False) -> nn.Module:
        """Build the model for ``img_size``-pixel, ``in_chans``-channel inputs and ``num_classes`` outputs.

        Random initialisation follows ``torch.manual_seed``. ``pretrained=True`` downloads the weights the paper
        used (entries of the ``paper69`` zoo only; needs a network).
        """
        where = f"{self.name}.build"
        _positive_int(num_classes, what="num_classes", where=where)
        _positive_int(img_size, what="img_size", where=where)
        _positive_int(in_chans, what="in_chans", where=where)
        if not isinstance(pretrained, bool):
            raise ValueError(f"{where}: pretrained must be a bool, got {pretrained!r}")
        return BUILDERS[self.builder](self, num_classes=num_classes, img_size=img_size, in_chans=in_chans,
                                      pretrained=pretrained)


@dataclass(frozen=True)
class Zoo:
    """A named, ordered set of ``ZooEntry``.

    ``image_size``: ``None`` = build each model for the dataset's image size; ``"native"`` = each model has
    its own input size (``entry.native_img_size``, from its card); an int = every model expects that size.
    ``stability_pair`` names a ConvNeXt-like and a Swin-like member (the SAT paper's stability study).
    """

    name: str
    entries: tuple[ZooEntry, ...]
    image_size: int | Literal["native"] | None = None
    stability_pair: tuple[str, str] | None = None
    description: str = ""
    _index: Registry[ZooEntry] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: Registry[ZooEntry] = Registry(f"model of zoo {self.name!r}:")
        for entry in self.entries:
            index.register(entry.name, entry)
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "entries", tuple(self.entries))
        if not (self.image_size is None or self.image_size == "native"
                or (isinstance(self.image_size, int) and self.image_size > 0)):
            raise ValueError(f"Zoo {self.name!r}: image_size must be None, 'native' or a positive int, "
                             f"got {self.image_size!r}")
        if self.stability_pair is not None:
            pair = tuple(self.stability_pair)
            if len(pair) != 2:
                raise ValueError(f"Zoo {self.name!r}: stability_pair must name two models, got {pair!r}")
            for name in pair:
                if name not in index:
                    raise ValueError(f"Zoo {self.name!r}: stability_pair member {name!r} is not in the zoo; "
                                     + index.unknown_message(name))
            object.__setattr__(self, "stability_pair", pair)

    def __iter__(self) -> Iterator[ZooEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __getitem__(self, name: str) -> ZooEntry:
        """The entry called ``name``; unknown names raise ``KeyError`` with close matches."""
        return self._index[name]

    def unknown_message(self, name: str) -> str:
        """What ``zoo[name]`` says for a name not in the zoo: close matches and the known names."""
        return self._index.unknown_message(name)

    def names(self, pattern: str = "*") -> list[str]:
        """Entry names matching a glob pattern, in zoo order."""
        return [e.name for e in self.entries if fnmatch.fnmatchcase(e.name, pattern)]

    def families(self) -> dict[str, list[str]]:
        """Family → entry names, for the families present."""
        out: dict[str, list[str]] = {}
        for e in self.entries:
            out.setdefault(e.family, []).append(e.name)
        return out

    def img_size_for(self, name: str, dataset_img_size: int | None = None) -> int:
        """The input size to build and feed model ``name`` with: its native size, or the dataset's."""
        entry = self[name]
        if self.image_size == "native":
            native = entry.native_img_size
            if native is not None:
                return native
        elif isinstance(self.image_size, int):
            return self.image_size
        if dataset_img_size is None:
            raise ValueError(f"Zoo {self.name!r}: models are built for the dataset's image size; "
                             f"pass dataset_img_size to img_size_for({name!r}, ...)")
        return _positive_int(dataset_img_size, what="dataset_img_size", where=f"Zoo {self.name!r}.img_size_for")

    def build(self, name: str, *, num_classes: int, img_size: int, in_chans: int = 3,
              pretrained: bool = False) -> nn.Module:
        """Build member ``name`` (see ``ZooEntry.build``)."""
        return self[name].build(num_classes=num_classes, img_size=img_size, in_chans=in_chans, pretrained=pretrained)
