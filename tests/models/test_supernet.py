"""The weight-sharing super-network: shapes, slicing, extraction and the size-matched pool."""
import pytest
import torch

from sat_lib.models.supernet import (ElasticResNet, SearchSpace, SubnetConfig, count_parameters, extract,
                                     make_divisible, similar_size)

SPACE = SearchSpace(stem_width=8, stage_widths=(16, 32, 32, 64), extra_depth=1)


def _net(space=SPACE):
    torch.manual_seed(0)
    return ElasticResNet(space, num_classes=10)


def test_make_divisible_rounds_to_multiples_of_eight():
    assert [make_divisible(v) for v in (3, 12.8, 16, 22.4, 51.2, 38.4)] == [8, 16, 16, 24, 48, 40]


def test_largest_and_smallest_plans():
    big, small = SPACE.plan(SPACE.largest()), SPACE.plan(SPACE.smallest())
    assert big.stem == 8 and [w for w, _ in big.stages] == [16, 32, 32, 64]
    assert [len(m) for _, m in big.stages] == [2, 2, 2, 2] and [len(m) for _, m in small.stages] == [1, 1, 1, 1]
    assert big.stages[3][1] == (make_divisible(64 * 0.35),) * 2  # widest expansion
    assert [w for w, _ in small.stages] == [make_divisible(w * 0.6) for w in (16, 32, 32, 64)]


def test_bad_configurations_are_named():
    with pytest.raises(ValueError, match="depth"):
        SPACE.check(SubnetConfig((0, 0, 0), (0,) * 8, (0,) * 5))
    with pytest.raises(ValueError, match="width"):
        SPACE.check(SubnetConfig((0,) * 4, (0,) * 8, (0, 0, 0, 0, 7)))
    with pytest.raises(ValueError, match="ratios"):
        SearchSpace(expansions=(0.2, 1.5))


def test_every_subnetwork_runs_and_the_largest_is_the_default():
    net = _net().eval()
    x = torch.randn(3, 3, 32, 32)
    default = net(x)
    net.set_active(SPACE.largest())
    torch.testing.assert_close(net(x), default)
    gen = torch.Generator().manual_seed(1)
    for config in [SPACE.smallest(), *(SPACE.sample(gen) for _ in range(5))]:
        net.set_active(config)
        assert net(x).shape == (3, 10)


def test_extracted_subnetwork_computes_what_the_supernet_computes_for_it():
    net = _net()
    with torch.no_grad():  # non-trivial BatchNorm statistics and affine parameters
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
    net.eval()
    x = torch.randn(4, 3, 32, 32)
    gen = torch.Generator().manual_seed(3)
    for config in (SPACE.smallest(), SPACE.sample(gen), SPACE.sample(gen)):
        net.set_active(config)
        sub = extract(net, config).eval()
        torch.testing.assert_close(sub(x), net(x), rtol=1e-5, atol=1e-5)
        assert sum(p.numel() for p in sub.parameters()) == count_parameters(SPACE, config)
        assert sum(p.numel() for p in sub.parameters()) < sum(p.numel() for p in net.parameters())


def test_training_a_subnetwork_updates_only_its_slice_of_the_shared_weights():
    net = _net().train()
    config = SPACE.smallest()
    net.set_active(config)
    net(torch.randn(4, 3, 32, 32)).sum().backward()
    w = net.stem_conv.weight.grad
    width = SPACE.plan(config).stem
    assert w[:width].abs().sum() > 0 and w[width:].abs().sum() == 0
    unused = net.stages[0][1].conv1.weight  # the second block of stage 1: skipped at depth 0
    assert unused.grad is None


def test_running_statistics_of_a_slice_update_in_place():
    net = _net().train()
    config = SPACE.smallest()
    net.set_active(config)
    before = net.stem_bn.running_mean.clone()
    net(torch.randn(8, 3, 32, 32) + 3)
    width = SPACE.plan(config).stem
    assert not torch.equal(net.stem_bn.running_mean[:width], before[:width])
    assert torch.equal(net.stem_bn.running_mean[width:], before[width:])


def test_a_subnetwork_larger_than_the_network_is_refused():
    small = extract(_net(), SPACE.smallest())
    with pytest.raises(ValueError, match="larger"):
        small.set_active(SPACE.largest())


def test_similar_size_picks_distinct_configurations_near_the_median_size():
    pool = similar_size(SPACE, 6, seed=0, candidates=200)
    assert len(set(pool)) == 6
    sizes = [count_parameters(SPACE, c) for c in pool]
    assert (max(sizes) - min(sizes)) / min(sizes) < 0.1
    assert pool == similar_size(SPACE, 6, seed=0, candidates=200)  # seeded
    assert pool != similar_size(SPACE, 6, seed=1, candidates=200)
    with pytest.raises(ValueError, match="different subnetworks"):
        similar_size(SearchSpace(stem_width=8, stage_widths=(8,), strides=(1,), extra_depth=0, expansions=(0.25,),
                                 width_multipliers=(1.0,)), 2, candidates=20)


def test_a_sliced_batchnorm_with_momentum_none_keeps_a_cumulative_average():
    net = _net().train()
    net.set_active(SPACE.smallest())
    bn, width = net.stem_bn, SPACE.plan(SPACE.smallest()).stem
    bn.reset_running_stats()
    bn.momentum = None
    batches = [torch.randn(8, 3, 32, 32) + k for k in range(3)]
    means = []
    for xb in batches:
        net(xb)
        with torch.no_grad():
            means.append(net.stem_conv(xb, width).mean((0, 2, 3)))
    torch.testing.assert_close(bn.running_mean[:width], torch.stack(means).mean(0), rtol=1e-4, atol=1e-5)
