"""The 13-component vocabulary and card checks."""
from __future__ import annotations

import pytest

from sat_lib.models import COMPONENT_SPECS, COMPONENTS, FAMILIES, check_card, family_of

PAPER_TABLE_2_LABELS = (
    "Base architecture", "Stem layer", "Input resolution", "Normalization layer", "Using hierarchical structure",
    "Activation functions", "Using pooling at stem", "Using 2D self-attention", "Using channel-wise (CW) attention",
    "Using depth-wise convolution", "Using group convolution", "Type of pooling for final feature",
    "Location of CW attentions",
)

RESNET50 = dict(base_architecture="CNN", stem_layer="7s2", input_resolution="224×224", normalization="BN",
                hierarchical="Yes", activation="ReLU", stem_pooling="Yes", self_attention_2d="No",
                channel_attention="No", depthwise_conv="No", group_conv="No", final_pooling="GAP",
                channel_attention_location="-")


def test_thirteen_components_in_table_2_order():
    assert len(COMPONENTS) == 13
    assert tuple(COMPONENT_SPECS[c].label for c in COMPONENTS) == PAPER_TABLE_2_LABELS


def test_check_card_accepts_a_paper_card_and_orders_it():
    shuffled = dict(reversed(list(RESNET50.items())))
    assert list(check_card(shuffled, where="test")) == list(COMPONENTS)


@pytest.mark.parametrize("stem", ["3s2/3/3", "16s16", "3s2/3s2/3s2/3s2", "7s1", "14s7"])
def test_stem_pattern_accepts_paper_stems(stem):
    assert COMPONENT_SPECS["stem_layer"].allows(stem)


@pytest.mark.parametrize("stem", ["3x3", "s2", "3s2/", "conv"])
def test_stem_pattern_rejects_free_text(stem):
    assert not COMPONENT_SPECS["stem_layer"].allows(stem)


def test_check_card_names_every_problem():
    bad = {**RESNET50, "activation": "Swish", "colour": "blue"}
    del bad["group_conv"]
    with pytest.raises(ValueError) as err:
        check_card(bad, where="resnet50")
    msg = str(err.value)
    assert "resnet50" in msg and "'group_conv'" in msg and "'Swish'" in msg and "'colour'" in msg


def test_location_must_be_dash_without_channel_attention():
    with pytest.raises(ValueError, match="channel_attention_location"):
        check_card({**RESNET50, "channel_attention_location": "End"}, where="test")


@pytest.mark.parametrize("base, family", [("CNN", "CNN"), ("NAS (CNN)", "NAS"), ("NAS (TFM)", "NAS"),
                                          ("MLP-Mixer", "MLP-Mixer"), ("Hybrid", "Hybrid")])
def test_family_of(base, family):
    assert family_of(base) == family and family in FAMILIES


def test_family_of_rejects_unknown_base():
    with pytest.raises(ValueError, match="RNN"):
        family_of("RNN")
