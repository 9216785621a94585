import pytest
import torch
import torch.nn as nn

from sat_lib.activations import last_linear, penultimate
from sat_lib.models import Normalized, get_zoo


@pytest.mark.parametrize("name", get_zoo("tiny").names())
def test_penultimate_features_map_to_the_logits(name):
    torch.manual_seed(0)
    model = Normalized(get_zoo("tiny")[name].build(num_classes=10, img_size=32, in_chans=3), (0.5,) * 3, (0.25,) * 3)
    model.train()
    x = torch.rand(20, 3, 32, 32)
    feats, logits = penultimate(model, x, batch_size=7)
    head = last_linear(model)
    assert feats.shape[0] == 20 and logits.shape == (20, 10) and model.training
    if isinstance(head, nn.Linear):
        with torch.no_grad():
            torch.testing.assert_close(head(feats), logits, atol=1e-5, rtol=1e-5)


def test_model_without_a_classifier_is_named():
    with pytest.raises(ValueError, match="Sequential has no nn.Linear"):
        last_linear(nn.Sequential(nn.ReLU()))
