"""Zoo contents: cards, families, subsets, names and the paper69 ↔ timm mapping (no model is built here)."""
from __future__ import annotations

import csv
from importlib import resources

import pandas as pd
import pytest
import timm

from sat_lib.models import COMPONENTS, FAMILIES, RECIPE_NAMES, ZOOS, Zoo, card, cards_frame, check_card, get_zoo
from sat_lib.models.cost import cheapest_per_family

# Table A.1 of the SAT paper (timm 0.6.7 names; the text extraction's typos fixed)
PAPER_TABLE_A1 = """
botnet26t_256 coat_lite_small convit_base convmixer_1536_20 convnext_tiny crossvit_base_240 cspdarknet53 cspresnet50
cspresnext50 deit_base_patch16_224 deit_small_patch16_224 dla102x2 dpn107 eca_botnext26ts_256 eca_halonext26ts
eca_nfnet_l0 eca_resnet33ts efficientnet_b2 ese_vovnet39b fbnetv3_g gcresnet50t gcresnext50ts gluon_resnet101_v1c
gluon_xception65 gmlp_s16_224 halo2botnet50ts_256 halonet50ts haloregnetz_b hrnet_w64 jx_nest_tiny lambda_resnet50ts
lamhalobotnet50ts_256 mixnet_xl nf_regnet_b1 nf_resnet50 nfnet_l0 pit_b_224 pit_s_224 poolformer_m48 regnetx_320
regnety_032 resmlp_24_224 resmlp_big_24_224 resnest50d resnet101 resnet50 resnet50_gn resnetblur50 resnetv2_101
resnetv2_50 resnetv2_50d_evos resnext50_32x4d rexnet_150 sebotnet33ts_256 sehalonet33ts seresnet50 seresnext50_32x4d
swin_s3_tiny_224 swin_tiny_patch4_window7_224 tnt_s_patch16_224 twins_pcpvt_base twins_svt_small visformer_small
vit_base_patch32_224 vit_small_patch16_224 vit_small_r26_s32_224 wide_resnet50_2 xcit_medium_24_p16_224
xcit_tiny_12_p8_224
""".split()


def all_entries():
    return [(zoo_name, entry) for zoo_name in ZOOS for entry in get_zoo(zoo_name)]


def test_the_four_zoos_exist():
    assert {"tiny", "cifar", "cifar-quick", "cifar-cpu", "paper69"} <= set(ZOOS)


@pytest.mark.parametrize("zoo_name, entry", all_entries(), ids=lambda v: getattr(v, "name", v))
def test_every_card_is_complete_and_in_the_vocabulary(zoo_name, entry):
    assert tuple(entry.card) == COMPONENTS
    check_card(entry.card, where=f"{zoo_name}/{entry.name}")
    assert entry.family in FAMILIES and entry.recipe in RECIPE_NAMES


def test_cifar_is_big_enough_and_covers_every_family():
    cifar = get_zoo("cifar")
    assert len(cifar) >= 24
    assert set(cifar.families()) == set(FAMILIES)
    assert {e.recipe for e in cifar} == set(RECIPE_NAMES)


def test_cifar_quick_is_six_cifar_members_one_per_family_at_least():
    quick, cifar = get_zoo("cifar-quick"), get_zoo("cifar")
    assert len(quick) == 6
    assert all(cifar[e.name] is e for e in quick)
    assert set(quick.families()) == set(FAMILIES)


def test_cifar_quick_is_the_cheapest_per_family_of_the_recorded_costs():
    text = resources.files("sat_lib.models").joinpath("zoos", "cifar_cpu_cost.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    cifar, quick = get_zoo("cifar"), get_zoo("cifar-quick")
    assert [r["name"] for r in rows] == cifar.names()
    costs = {r["name"]: float(r["fwd_bwd_ms"]) for r in rows}
    pick = cheapest_per_family(costs, {e.name: e.family for e in cifar}, 6, must_include=quick.stability_pair)
    assert set(quick.names()) == set(pick)


def test_paper69_is_table_a1():
    paper = get_zoo("paper69")
    assert len(paper) == 69
    assert sorted(paper.names()) == sorted(PAPER_TABLE_A1)
    assert paper.image_size == "native"


def test_paper69_maps_every_model_to_a_timm_1_0_architecture_and_pretrained_tag():
    architectures, pretrained = set(timm.list_models()), set(timm.list_pretrained())
    for entry in get_zoo("paper69"):
        assert entry.builder == "timm_pretrained"
        assert entry.timm_name in architectures, entry.name
        assert entry.timm_model_name in pretrained, entry.name


def test_paper69_native_sizes_match_timm_pretrained_configs():
    from timm.models import get_pretrained_cfg

    for entry in get_zoo("paper69"):
        cfg = get_pretrained_cfg(entry.timm_model_name)
        assert cfg.input_size[-1] == entry.native_img_size, entry.name


def test_paper69_renamed_models_say_so():
    paper = get_zoo("paper69")
    assert paper["gluon_resnet101_v1c"].timm_model_name == "resnet101c.gluon_in1k"
    assert paper["jx_nest_tiny"].timm_model_name == "nest_tiny_jx.goog_in1k"
    assert paper["gluon_xception65"].timm_name == "xception65" and "gluon" in paper["gluon_xception65"].notes.lower()


def test_paper69_cards_quote_table_a2_a3():
    assert card("paper69", "resnet50") == dict(
        base_architecture="CNN", stem_layer="7s2", input_resolution="224×224", normalization="BN",
        hierarchical="Yes", activation="ReLU", stem_pooling="Yes", self_attention_2d="No", channel_attention="No",
        depthwise_conv="No", group_conv="No", final_pooling="GAP", channel_attention_location="-")
    c = card("paper69", "lamhalobotnet50ts_256")
    assert c["self_attention_2d"] == "Yes (Lambda, Halo, BoT)" and c["input_resolution"] == "256×256"
    assert card("paper69", "swin_s3_tiny_224")["base_architecture"] == "NAS (TFM)"
    assert get_zoo("paper69")["rexnet_150"].paper_name == "ReXNet (×1.5)"


def test_cifar_cpu_spans_the_families_and_components():
    """The CPU zoo carries the SAT chapter: >= 24 models, all five families, and variety in every component
    that varies in the paper's zoo."""
    zoo = get_zoo("cifar-cpu")
    assert len(zoo) >= 24
    assert set(zoo.families()) == set(FAMILIES)
    frame = cards_frame("cifar-cpu")
    constant = [c for c in COMPONENTS if frame[c].nunique() == 1 and cards_frame("paper69")[c].nunique() > 1]
    # every model sees 32×32 CIFAR images; no CNN with 2-D self-attention blocks (BoT/Halo/Lambda) is cheap enough
    assert constant == ["input_resolution", "self_attention_2d"]
    assert {e.epoch_scale for e in zoo} == {1.0, 1.34, 1.67, 2, 2.67}


def test_cifar_cpu_long_trains_the_same_models_longer():
    """Only how long each model trains differs: definitions, recipes, cards and precision are cifar-cpu's."""
    import dataclasses

    short, long = get_zoo("cifar-cpu"), get_zoo("cifar-cpu-long")
    assert long.names() == short.names() and long.stability_pair == short.stability_pair
    for e in long:
        assert dataclasses.replace(e, epoch_scale=short[e.name].epoch_scale) == short[e.name]
        times = 3 if e.name in ("convmixer_128_6_p4", "xcit_nano_p8_d6") else 2  # the two nearest the zoo's median
        want = 10 if e.recipe == "sgd" else times * short[e.name].epochs_for(3)
        assert e.epochs_for(3) == want, e.name


def test_a_subset_zoo_may_change_only_how_its_models_train():
    from sat_lib.models.zoos import _zoo_from_spec

    spec = {"name": "x", "subset_of": "tiny", "entries": {"tiny_cnn": {"epoch_scale": 2}, "tiny_swin": None}}
    zoo = _zoo_from_spec(spec, "x.yaml")
    assert zoo["tiny_cnn"].epoch_scale == 2 and zoo["tiny_swin"] == get_zoo("tiny")["tiny_swin"]
    with pytest.raises(ValueError, match="may only change"):
        _zoo_from_spec({**spec, "entries": {"tiny_cnn": {"kwargs": {}}}}, "x.yaml")
    with pytest.raises(ValueError, match="'tiny_cnn' must map fields to values"):
        _zoo_from_spec({**spec, "entries": {"tiny_cnn": 3.34}}, "x.yaml")


@pytest.mark.parametrize("zoo_name", ["tiny", "cifar", "cifar-quick", "cifar-cpu", "paper69"])
def test_every_zoo_names_a_convnext_like_and_a_swin_like_pair(zoo_name):
    zoo = get_zoo(zoo_name)
    convnext, swin = zoo.stability_pair
    assert "convnext" in convnext and "swin" in swin
    assert zoo[convnext].family == "CNN" and zoo[swin].family == "Transformer"


def test_unknown_zoo_suggests_close_matches():
    with pytest.raises(KeyError) as err:
        get_zoo("cifr")
    assert "'cifar'" in str(err.value)


def test_unknown_model_suggests_close_matches():
    with pytest.raises(KeyError) as err:
        get_zoo("cifar")["resnet81"]
    assert "'resnet18'" in str(err.value) and "cifar" in str(err.value)


def test_zoo_lookup_and_listing():
    cifar = get_zoo("cifar")
    assert get_zoo(cifar) is cifar
    assert "resnet18" in cifar and "resnet19" not in cifar
    assert cifar.names("resnet*") == ["resnet18", "resnet50"]
    assert [e.name for e in cifar] == cifar.names()


def test_cards_frame_has_the_components_and_family():
    frame = cards_frame("cifar")
    assert isinstance(frame, pd.DataFrame)
    assert frame.index.name == "model" and list(frame.index) == get_zoo("cifar").names()
    assert list(frame.columns) == [*COMPONENTS, "family"]
    assert not frame.isna().any().any()
    assert frame.loc["vit_tiny_patch4_32", "stem_layer"] == "4s4"


def test_img_size_for_native_and_dataset_zoos():
    assert get_zoo("paper69").img_size_for("efficientnet_b2") == 256
    assert get_zoo("paper69").img_size_for("gluon_xception65") == 299
    assert get_zoo("cifar").img_size_for("resnet18", 32) == 32
    with pytest.raises(ValueError, match="dataset_img_size"):
        get_zoo("cifar").img_size_for("resnet18")


def test_zoo_rejects_a_stability_pair_outside_it():
    tiny = get_zoo("tiny")
    with pytest.raises(ValueError, match="tiny_convnxt"):
        Zoo(name="x", entries=tiny.entries, stability_pair=("tiny_convnxt", "tiny_swin"))


def test_zoo_rejects_duplicate_names():
    entry = get_zoo("tiny")["tiny_cnn"]
    with pytest.raises(ValueError, match="twice"):
        Zoo(name="x", entries=(entry, entry))


def test_entries_and_zoos_pickle_and_stay_read_only():
    import copy
    import pickle

    zoo = get_zoo("tiny")
    entry = zoo["tiny_swin"]
    again = pickle.loads(pickle.dumps(entry))
    assert again == entry and dict(again.kwargs) == dict(entry.kwargs) and dict(again.card) == dict(entry.card)
    assert pickle.loads(pickle.dumps(zoo)).names() == zoo.names()
    assert copy.deepcopy(entry) == entry
    with pytest.raises(TypeError):
        entry.card["activation"] = "ReLU"  # type: ignore[index]


@pytest.mark.parametrize("zoo_name", sorted(ZOOS))
def test_a_description_that_counts_families_counts_them_right(zoo_name):
    """'24 small architectures (13 CNN, 3 NAS-found, …)': every count a description types matches the zoo."""
    import re

    zoo = get_zoo(zoo_name)
    text = zoo.description or ""
    total = re.match(r"\s*(\d+) ", text)
    if total:
        assert int(total.group(1)) == len(zoo), f"{zoo_name}: description says {total.group(1)} models"
    sizes = {family: len(names) for family, names in zoo.families().items()}
    for count, family in re.findall(r"(\d+) (CNN|NAS|Transformer|MLP-Mixer|Hybrid)\b", text):
        assert sizes.get(family, 0) == int(count), f"{zoo_name}: description says {count} {family}"
