"""Patch-Fool: it changes only the chosen patch, fools a trained ViT far more than a random patch does, its attention
term raises the attention paid to the patch, it does not depend on the batch, and bad models / configs are named."""
import pytest
import timm
import torch
import torch.nn as nn

from sat_lib.patch_fool import (AttentionRecorder, PatchFoolConfig, _pcgrad, attacked_cells, layers_for, patch_fool,
                                patch_grid, patch_mask, random_patch)


@pytest.fixture(scope="module")
def vit_and_data():
    """A 2-layer timm ViT (4×4 patches of 16×16 images) trained to tell 4 noisy templates apart."""
    g = torch.Generator().manual_seed(0)
    templates = torch.rand(4, 3, 16, 16, generator=g)
    y = torch.randint(0, 4, (256,), generator=g)
    x = (templates[y] + 0.2 * torch.randn(256, 3, 16, 16, generator=g)).clamp(0, 1)
    torch.manual_seed(0)
    model = timm.create_model("vit_tiny_patch16_224", img_size=16, patch_size=4, embed_dim=32, depth=2, num_heads=2,
                              mlp_ratio=2, num_classes=4)
    opt = torch.optim.AdamW(model.parameters(), 3e-3)
    for _ in range(60):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        keep = model(x).argmax(1) == y
    assert keep.float().mean() > 0.9
    return model, x[keep][:48], y[keep][:48]


def _acc(model, x, y):
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def test_only_one_patch_changes_and_images_stay_valid(vit_and_data):
    model, x, y = vit_and_data
    adv = patch_fool(model, x, y, PatchFoolConfig(steps=5), batch_size=16)
    changed = (adv != x).any(1)                               # (n, 16, 16)
    assert adv.min() >= 0 and adv.max() <= 1
    assert (changed.flatten(1).sum(1) <= 16).all()            # inside one 4×4 patch
    cells = changed.view(-1, 4, 4, 4, 4).any(2).any(-1)       # which of the 4×4 grid cells changed
    assert (cells.flatten(1).sum(1) == 1).all()


def test_fools_a_trained_vit_and_beats_a_random_patch(vit_and_data):
    model, x, y = vit_and_data
    adv = patch_fool(model, x, y, PatchFoolConfig(steps=60, lr=0.1), batch_size=48)
    grid, patch, _ = patch_grid(model)
    noise = x.clone()
    idx = torch.randint(0, grid[0] * grid[1], (len(x), 1), generator=torch.Generator().manual_seed(1))
    mask = patch_mask(idx, grid, patch, x.shape)
    noise = x * (1 - mask) + torch.rand(x.shape, generator=torch.Generator().manual_seed(2)) * mask
    assert _acc(model, adv, y) < 0.5 * _acc(model, noise, y)


def test_the_random_patch_control_fills_the_attacked_cells_with_noise(vit_and_data):
    model, x, y = vit_and_data
    adv = patch_fool(model, x, y, PatchFoolConfig(steps=5), batch_size=16)
    _, patch, _ = patch_grid(model)
    cells = attacked_cells(x, adv, patch)
    assert (cells.flatten(1).sum(1) == 16).all()                         # one whole 4×4 cell per image
    control = random_patch(x, adv, patch, seed=3, max_cells=1)
    torch.testing.assert_close(control * (1 - cells), x * (1 - cells), rtol=0, atol=0)   # the rest untouched
    changed = (control != x).any(1, keepdim=True).float()
    assert (changed <= cells).all() and (control != adv)[cells.expand_as(x) > 0].float().mean() > 0.9
    assert torch.equal(control, random_patch(x, adv, patch, seed=3))     # seeded


def test_a_cell_whose_pixels_partly_equal_the_clean_ones_still_counts():
    x = torch.zeros(1, 3, 8, 8)
    adv = x.clone()
    adv[0, 0, 5, 6] = 1.0                        # one pixel of the cell (4..7, 4..7) changed, the rest equal
    cells = attacked_cells(x, adv, (4, 4))
    assert cells[0, 0, 4:, 4:].eq(1).all() and cells.sum() == 16


def test_more_changed_cells_than_the_attack_allows_are_refused():
    x = torch.zeros(2, 3, 8, 8)
    adv = x + 1 / 255                                                    # e.g. examples stored lossily
    with pytest.raises(ValueError, match="4 4×4 cells, more than the attack's 1"):
        random_patch(x, adv, (4, 4), max_cells=1)
    with pytest.raises(ValueError, match="do not tile"):
        attacked_cells(x, adv, (3, 3))


def test_the_attention_term_draws_attention_to_the_patch(vit_and_data):
    model, x, y = vit_and_data
    grid, patch, prefix = patch_grid(model)
    strong = patch_fool(model, x, y, PatchFoolConfig(steps=30, lr=0.1, attn_weight=5.0), batch_size=48)
    plain = patch_fool(model, x, y, PatchFoolConfig(steps=30, lr=0.1, attn_weight=0.0), batch_size=48)
    changed = (strong != x).any(1).view(-1, grid[0], patch[0], grid[1], patch[1]).any(2).any(-1).flatten(1)
    target = changed.float().argmax(1) + prefix               # the attacked patch's token
    _, layers = layers_for(2, PatchFoolConfig())

    def paid(images):
        with AttentionRecorder(model) as rec, torch.no_grad():
            _, maps = rec.forward(model, images)
        a = maps[layers[0]].mean(1)                           # (n, queries, keys)
        return float(a[torch.arange(len(images)), :, target].mean())

    assert paid(strong) > paid(plain)


def test_same_seed_same_examples_any_batch_size(vit_and_data):
    model, x, y = vit_and_data
    cfg = PatchFoolConfig(steps=4)
    assert torch.equal(patch_fool(model, x, y, cfg, batch_size=7), patch_fool(model, x, y, cfg, batch_size=48))


def test_recorder_restores_fused_attention(vit_and_data):
    model, x, _ = vit_and_data
    before = [m.fused_attn for m in AttentionRecorder(model).modules]
    with AttentionRecorder(model) as rec:
        _, maps = rec.forward(model, x[:2])
        assert len(maps) == 2 and maps[0].shape == (2, 2, 17, 17)
        assert torch.allclose(maps[0].sum(-1), torch.ones(2, 2, 17))
    assert [m.fused_attn for m in rec.modules] == before
    assert not model.blocks[0].attn.attn_drop._forward_hooks


def test_pcgrad_removes_only_a_conflicting_component():
    ref = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    g = torch.tensor([[-1.0, 2.0], [1.0, 2.0]])
    out = _pcgrad(g, ref)
    assert torch.equal(out[0], torch.tensor([0.0, 2.0]))       # against ref: projected onto its normal
    assert torch.equal(out[1], g[1])                           # with ref: unchanged


def test_layers_follow_the_authors_for_deit_and_scale_down():
    assert layers_for(12, PatchFoolConfig()) == (4, [1, 2, 3, 4, 5])
    assert layers_for(4, PatchFoolConfig()) == (1, [1])
    assert layers_for(1, PatchFoolConfig()) == (0, [0])
    with pytest.raises(ValueError, match="select_layer 5 but the model has 4"):
        layers_for(4, PatchFoolConfig(select_layer=5))


def test_a_model_without_patches_or_attention_is_named():
    cnn = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.LazyLinear(2))
    x, y = torch.rand(2, 3, 8, 8), torch.zeros(2, dtype=torch.long)
    with pytest.raises(ValueError, match="needs a Vision Transformer"):
        patch_fool(cnn, x, y, PatchFoolConfig(steps=1))


@pytest.mark.parametrize("bad, match", [({"steps": -1}, "steps"), ({"lr": 0.0}, "lr"), ({"n_patches": 0}, "n_patches"),
                                        ({"attn_weight": -1.0}, "attn_weight"), ({"gamma": 1.5}, "gamma"),
                                        ({"eps": 0.1}, "replaced outright")])
def test_bad_configs_are_named(bad, match):
    with pytest.raises(ValueError, match=match):
        PatchFoolConfig(**bad)
