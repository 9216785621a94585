"""Model zoos over timm: how to build each model for a dataset's image size, and its architecture card.

``get_zoo("cifar")`` → a ``Zoo`` of ``ZooEntry``; ``build_model(zoo, name, num_classes=..., img_size=...)``
builds one; ``cards_frame(zoo)`` tabulates the 13 architecture components of the SAT paper (Table 2).
Zoos: ``tiny`` (tests), ``cifar`` (32×32, from scratch), ``cifar-quick`` (its 6 cheapest on a CPU),
``paper69`` (the paper's 69 ImageNet models, pretrained weights on request).
"""
from __future__ import annotations

from sat_lib.models._entry import RECIPE_NAMES, Zoo, ZooEntry
from sat_lib.models.builders import BUILDERS
from sat_lib.models.components import COMPONENT_SPECS, COMPONENTS, FAMILIES, check_card, family_of
from sat_lib.models.cost import count_params, fwd_bwd_ms
from sat_lib.models.normalize import Normalized
from sat_lib.models.zoos import ZOOS, build_model, card, cards_frame, get_zoo

__all__ = [
    "BUILDERS", "COMPONENTS", "COMPONENT_SPECS", "FAMILIES", "Normalized", "RECIPE_NAMES", "ZOOS", "Zoo", "ZooEntry",
    "build_model", "card", "cards_frame", "check_card", "count_params", "family_of", "fwd_bwd_ms", "get_zoo",
]
