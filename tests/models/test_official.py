"""Outside checkpoints load by position into our architectures, with shape checks."""
import pytest
import torch
from torch import nn

from sat_lib.models.official import load_by_position, load_official_cnn_small, official_checkpoints


class OfficialCNNSmall(nn.Module):
    """The official models.py CNNSmall as its state-dict keys show it: ``backbone`` (conv/BN/ReLU/max-pool
    layers, a global max pool) and ``fc``."""

    def __init__(self, k: int, n_class: int = 10):
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Conv2d(3, k, 3, padding=1), nn.BatchNorm2d(k), nn.ReLU(),
            nn.Conv2d(k, 2 * k, 3, padding=1), nn.BatchNorm2d(2 * k), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(2 * k, 4 * k, 3, padding=1), nn.BatchNorm2d(4 * k), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(4 * k, 8 * k, 3, padding=1), nn.BatchNorm2d(8 * k), nn.ReLU(), nn.AdaptiveMaxPool2d(1))
        self.fc = nn.Linear(8 * k, n_class)

    def forward(self, x):
        return self.fc(self.backbone(x).flatten(1))


def _trained_like(k: int) -> OfficialCNNSmall:
    torch.manual_seed(k)
    ref = OfficialCNNSmall(k)
    for m in ref.modules():  # non-trivial running statistics, as a trained model has
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    return ref.eval()


def test_official_key_names_load_by_position_and_give_the_same_logits(tmp_path):
    ref = _trained_like(4)
    assert next(iter(ref.state_dict())).startswith("backbone.")
    torch.save(ref.state_dict(), tmp_path / "CNNSmall_K4")
    ours = load_official_cnn_small(tmp_path / "CNNSmall_K4", 4)
    x = torch.randn(5, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x))
    assert not ours.training


def test_a_wrong_width_names_the_tensor_and_both_shapes():
    ref = _trained_like(4)
    from sat_lib.models.widths import WIDTH_FAMILIES

    model = WIDTH_FAMILIES["cnn_small"].build(8, num_classes=10, in_chans=3, img_size=32)
    with pytest.raises(ValueError, match=r"backbone.0.weight.*\(4, 3, 3, 3\).*\(8, 3, 3, 3\)"):
        load_by_position(model, ref.state_dict(), where="x")
    with pytest.raises(ValueError, match="tensors"):
        load_by_position(model, dict(list(ref.state_dict().items())[:-1]), where="x")


def test_checkpoints_are_found_by_width_and_a_missing_folder_is_named(tmp_path):
    for k in (10, 8, 12):
        (tmp_path / f"CNNSmall_K{k}").write_bytes(b"")
    (tmp_path / "README.md").write_text("x")
    assert list(official_checkpoints(tmp_path)) == [8, 10, 12]
    with pytest.raises(FileNotFoundError, match="SAT_MODELS_SALIENCE_OFFICIAL"):
        official_checkpoints(tmp_path / "nowhere")
