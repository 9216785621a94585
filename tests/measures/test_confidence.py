"""Output confidence and entropy matching: uniform and one-hot limits, the matched entropy reached, monotone in T,
bad input named."""
import math

import pytest
import torch

from sat_lib.measures.confidence import entropy_matched, mean_entropy, mean_max_softmax


def test_uniform_outputs_have_entropy_ln_c_and_confidence_one_over_c():
    z = torch.zeros(5, 10)
    assert mean_entropy(z) == pytest.approx(math.log(10)) and mean_max_softmax(z) == pytest.approx(0.1)


def test_confident_outputs_have_entropy_near_zero():
    z = torch.zeros(4, 10)
    z[:, 3] = 50
    assert mean_entropy(z) < 1e-10 and mean_max_softmax(z) == pytest.approx(1.0)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_entropy_matched_reaches_the_target_from_either_side(fraction):
    torch.manual_seed(0)
    target = fraction * math.log(10)
    for scale in (0.1, 10.0):   # near-uniform and over-confident logits alike
        z = scale * torch.randn(64, 10)
        m = entropy_matched(z, target)
        assert mean_entropy(m) == pytest.approx(target, abs=1e-5)
        assert torch.equal(m.argmax(1), z.argmax(1))   # a temperature never changes a prediction


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="target entropy"):
        entropy_matched(torch.randn(3, 10), math.log(10))
    with pytest.raises(ValueError, match="constant over the classes"):
        entropy_matched(torch.ones(3, 10), 1.0)
    with pytest.raises(ValueError, match="logits"):
        mean_entropy(torch.ones(10, dtype=torch.int64))
