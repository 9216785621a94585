"""Building models: every tiny and cifar entry runs forward+backward; paper69 builds; builders behave."""
from __future__ import annotations

import dataclasses

import pytest
import timm
import torch

from sat_lib.models import BUILDERS, ZOOS, ZooEntry, build_model, count_params, get_zoo
from sat_lib.models import builders as builders_module
from sat_lib.models.builders import resolve_kwargs

INPUTS = [(3, 32), (1, 28), (1, 8)]  # CIFAR, Fashion-MNIST, digits


def with_fields(entry: ZooEntry, **changes) -> ZooEntry:
    return dataclasses.replace(entry, **changes)


def forward_backward(model: torch.nn.Module, in_chans: int, img_size: int, batch: int = 2) -> torch.Tensor:
    x = torch.rand(batch, in_chans, img_size, img_size, requires_grad=True)
    out = model(x)
    out.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    return out


@pytest.mark.parametrize("name", get_zoo("tiny").names())
@pytest.mark.parametrize("in_chans, img_size", INPUTS)
def test_tiny_models_run_on_every_input_shape(name, in_chans, img_size):
    model = build_model("tiny", name, num_classes=10, img_size=img_size, in_chans=in_chans)
    out = forward_backward(model, in_chans, img_size, batch=3)
    assert out.shape == (3, 10) and torch.isfinite(out).all()
    assert count_params(model) < 20_000


@pytest.mark.parametrize("zoo_name, name", [(z, n) for z in ("cifar", "cifar-cpu") for n in get_zoo(z).names()])
def test_cifar_models_build_and_train_at_32px(zoo_name, name):
    model = build_model(zoo_name, name, num_classes=10, img_size=32)
    model.train()
    out = forward_backward(model, 3, 32)
    assert out.shape == (2, 10) and torch.isfinite(out).all()


@pytest.mark.parametrize("zoo_name, name", [("tiny", n) for n in get_zoo("tiny").names()]
                         + [("cifar", n) for n in get_zoo("cifar").names()]
                         + [("cifar-cpu", n) for n in get_zoo("cifar-cpu").names()])
def test_the_last_linear_layer_is_the_classifier(zoo_name, name):
    """Feature read-outs hook the last ``nn.Linear``: its output must be the logits."""
    model = build_model(zoo_name, name, num_classes=7, img_size=32).eval()
    last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
    seen = []
    last.register_forward_hook(lambda m, inp, out: seen.append(out))
    with torch.no_grad():
        logits = model(torch.rand(2, 3, 32, 32))
    assert last.out_features == 7 and len(seen) == 1
    torch.testing.assert_close(seen[0], logits)


@pytest.mark.parametrize("zoo_name, name", [("tiny", "tiny_swin"), ("tiny", "tiny_cnn"), ("cifar", "mixer_nano4_32"),
                                            ("cifar", "convmixer_256_8_32")])
def test_building_is_deterministic_under_a_seed(zoo_name, name):
    def build():
        torch.manual_seed(123)
        return build_model(zoo_name, name, num_classes=10, img_size=32).state_dict()

    a, b = build(), build()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


MIXER_REFERENCES = ["mixer_s4_32", "resmlp_12_p4_32", "gmlp_ti4_32"]


@pytest.mark.parametrize("name", MIXER_REFERENCES)
def test_mixer_builder_matches_timms_own_architecture(name):
    """At patch 16 / 224 px the mixer builder gives the timm model it mirrors: same modules, names and shapes."""
    entry = get_zoo("cifar")[name]
    with torch.device("meta"):
        ours = with_fields(entry, kwargs={**entry.kwargs, "patch_size": 16}).build(num_classes=1000, img_size=224)
        theirs = timm.create_model(entry.timm_name, pretrained=False)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}
    assert [type(m).__name__ for m in ours.modules()] == [type(m).__name__ for m in theirs.modules()]


def test_resmlp_builder_passes_layer_scale_init():
    entry = get_zoo("cifar")["resmlp_12_p4_32"]
    entry = with_fields(entry, kwargs={**entry.kwargs, "init_values": 0.5})
    model = entry.build(num_classes=10, img_size=32)
    assert torch.allclose(model.blocks[0].ls1, torch.full_like(model.blocks[0].ls1, 0.5))


PAPER69_DEFAULT = ["resnet50", "convnext_tiny", "swin_tiny_patch4_window7_224", "gluon_xception65", "jx_nest_tiny"]


@pytest.mark.parametrize("name", PAPER69_DEFAULT)
def test_some_paper69_models_build_at_native_size(name):
    zoo = get_zoo("paper69")
    size = zoo.img_size_for(name)
    model = zoo.build(name, num_classes=1000, img_size=size).eval()
    with torch.no_grad():
        out = model(torch.rand(1, 3, size, size))
    assert out.shape == (1, 1000)
    assert model.pretrained_cfg["tag"] == zoo[name].pretrained_tag


def test_all_paper69_models_construct_on_the_meta_device():
    zoo = get_zoo("paper69")
    with torch.device("meta"):
        for entry in zoo:
            model = entry.build(num_classes=1000, img_size=zoo.img_size_for(entry.name))
            assert count_params(model) > 1_000_000, entry.name


@pytest.mark.slow
@pytest.mark.parametrize("name", get_zoo("paper69").names())
def test_every_paper69_model_builds_and_runs_at_native_size(name):
    zoo = get_zoo("paper69")
    size = zoo.img_size_for(name)
    model = zoo.build(name, num_classes=1000, img_size=size, pretrained=False).eval()
    with torch.no_grad():
        out = model(torch.rand(1, 3, size, size))
    assert out.shape == (1, 1000) and torch.isfinite(out).all()


def test_pretrained_asks_timm_for_the_papers_weights(monkeypatch):
    calls = []

    def fake_create_model(name, **kwargs):
        calls.append((name, kwargs))
        return torch.nn.Identity()

    monkeypatch.setattr(builders_module.timm, "create_model", fake_create_model)
    build_model("paper69", "convnext_tiny", num_classes=1000, img_size=224, pretrained=True)
    build_model("paper69", "gluon_resnet101_v1c", num_classes=10, img_size=224, pretrained=True)
    assert calls == [("convnext_tiny.fb_in1k", dict(pretrained=True, num_classes=1000, in_chans=3)),
                     ("resnet101c.gluon_in1k", dict(pretrained=True, num_classes=10, in_chans=3))]


def test_paper69_refuses_a_non_native_size():
    with pytest.raises(ValueError, match="pass img_size=256"):
        build_model("paper69", "efficientnet_b2", num_classes=1000, img_size=224)


@pytest.mark.parametrize("zoo_name, name", [("cifar", "resnet18"), ("cifar", "mixer_s4_32"), ("tiny", "tiny_cnn"),
                                            ("cifar", "convmixer_256_8_32")])
def test_from_scratch_entries_refuse_pretrained(zoo_name, name):
    with pytest.raises(ValueError, match="paper69"):
        build_model(zoo_name, name, num_classes=10, img_size=32, pretrained=True)


@pytest.mark.parametrize("kwargs", [dict(num_classes=0, img_size=32), dict(num_classes=10, img_size=-1),
                                    dict(num_classes=10, img_size=32, in_chans=2.0),
                                    dict(num_classes=10, img_size=32, pretrained="yes")])
def test_build_rejects_bad_settings(kwargs):
    with pytest.raises(ValueError, match="tiny_cnn.build"):
        build_model("tiny", "tiny_cnn", **kwargs)


def test_resolve_kwargs_fills_placeholders_and_tuples():
    out = resolve_kwargs({"img_size": "{img_size}", "depths": [1, 2], "c": "{in_chans}", "s": "plain"},
                         img_size=28, in_chans=1, where="t")
    assert out == {"img_size": 28, "depths": (1, 2), "c": 1, "s": "plain"}
    with pytest.raises(ValueError, match="{width}"):
        resolve_kwargs({"w": "{width}"}, img_size=28, in_chans=1, where="t")


def test_every_builder_is_used_by_some_zoo_or_chapter():
    from sat_lib.experiments import resolve_params
    from sat_lib.experiments.diversity_nas import supernet_entry

    used = {entry.builder for zoo in ZOOS for entry in get_zoo(zoo)}
    used.add(supernet_entry(resolve_params("diversity-nas", "smoke")).builder)  # the super-network, built in code
    assert used == set(BUILDERS)


def test_the_supernet_entry_builds_the_configured_search_space():
    from sat_lib.experiments import resolve_params
    from sat_lib.experiments.diversity_nas import supernet_entry
    from sat_lib.models.supernet import ElasticResNet

    cfg = resolve_params("diversity-nas", "smoke")
    net = supernet_entry(cfg).build(num_classes=10, img_size=8, in_chans=1)
    assert isinstance(net, ElasticResNet) and net.space == cfg.space()
    with pytest.raises(ValueError, match="pretrained"):
        supernet_entry(cfg).build(num_classes=10, img_size=8, in_chans=1, pretrained=True)


def test_unknown_builder_is_refused_with_suggestions():
    with pytest.raises(ValueError, match="'timm'"):
        with_fields(get_zoo("tiny")["tiny_vit"], builder="tim")


def test_stem_adapter_sets_the_first_stride_and_drops_the_stem_pool():
    from sat_lib.models.builders import adapt_stem

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 7, stride=2, padding=3), torch.nn.MaxPool2d(3, 2, 1),
                              torch.nn.Conv2d(4, 4, 3, stride=2, padding=1))
    adapt_stem(net, stride=1, pool=False)
    assert net[0].stride == (1, 1) and isinstance(net[1], torch.nn.Identity) and net[2].stride == (2, 2)
    assert net(torch.rand(1, 3, 32, 32)).shape == (1, 4, 16, 16)
    with pytest.raises(ValueError, match="no max-pooling"):
        adapt_stem(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3)), pool=False, where="x")


def test_cifar_cpu_stems_are_what_the_cards_say():
    """A card's stem stride (``7s1``, ``3s1``, ``4s2``) is the first convolution's stride as built."""
    for entry in get_zoo("cifar-cpu"):
        stem = entry.card["stem_layer"].split("/")[0]
        model = build_model("cifar-cpu", entry.name, num_classes=10, img_size=32)
        first = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
        assert f"{first.kernel_size[0]}s{first.stride[0]}" == stem, entry.name
