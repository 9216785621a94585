"""The width families of the salience study: shapes, capacity growing with k, errors."""
import pytest
import torch

from sat_lib.models.widths import WIDTH_FAMILIES, build_width_model
from sat_lib.registry import UnknownNameError


@pytest.mark.parametrize("family", list(WIDTH_FAMILIES))
@pytest.mark.parametrize("in_chans,img_size", [(3, 32), (1, 28), (1, 8)])
def test_builds_for_each_dataset_shape(family, in_chans, img_size):
    model = build_width_model(family, 4, num_classes=7, in_chans=in_chans, img_size=img_size).eval()
    with torch.no_grad():
        out = model(torch.randn(2, in_chans, img_size, img_size))
    assert out.shape == (2, 7)


@pytest.mark.parametrize("family", list(WIDTH_FAMILIES))
def test_parameters_grow_with_width(family):
    counts = [sum(p.numel() for p in build_width_model(family, k, num_classes=10).parameters()) for k in (2, 4, 8)]
    assert counts[0] < counts[1] < counts[2]


def test_layer_widths_follow_the_paper():
    convs = [m for m in build_width_model("cnn_small", 10, num_classes=10).modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [10, 20, 40, 80]
    convs = [m for m in build_width_model("cnn_large", 10, num_classes=10).modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [10, 10, 20, 20, 40, 40, 80, 80]
    stem = next(m for m in build_width_model("resnet_small", 10, num_classes=10).modules()
                if isinstance(m, torch.nn.Conv2d))
    assert stem.kernel_size == (7, 7) and stem.stride == (2, 2)
    blocks = lambda f: sum(type(m).__name__ == "BasicBlock" for m in build_width_model(f, 4, num_classes=10).modules())
    assert (blocks("resnet_small"), blocks("resnet_large")) == (5, 8)
    vit = build_width_model("vit", 10, num_classes=10)
    assert vit.embed_dim == 40 and vit.blocks[0].attn.num_heads == 5


def test_bad_width_and_family():
    with pytest.raises(ValueError, match="even width"):
        build_width_model("vit", 5, num_classes=10)
    with pytest.raises(ValueError, match="positive integer"):
        build_width_model("cnn_small", 0, num_classes=10)
    with pytest.raises(UnknownNameError, match="did you mean 'cnn_small'"):
        build_width_model("cnn_smal", 4, num_classes=10)
