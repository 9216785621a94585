import pytest
import torch
import torch.nn as nn

from sat_lib.train import RECIPES, TrainConfig, augment_batch, logits, predict, train, warmup_linear_decay


def separable(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.rand(n, 1, 8, 8, generator=g) * 0.3
    x[y == 1, :, :4] += 0.6  # class 1 is bright on top
    return (x.clamp(0, 1) * 255).to(torch.uint8), y


def net():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                         nn.Linear(256, 2))


@pytest.mark.parametrize("recipe", list(RECIPES))
def test_learns_a_separable_problem(recipe):
    x, y = separable(1024)  # enough steps for BatchNorm's running statistics to settle
    torch.manual_seed(0)
    model = net()
    log = train(model, x, y, TrainConfig(epochs=4, batch_size=32, augment=False), recipe=recipe, device="cpu")
    assert len(log.epoch_loss) == 4 and log.epoch_loss[-1] < log.epoch_loss[0]
    assert (predict(model, x) == y).float().mean() > 0.9
    assert not model.training


def test_seeded_training_is_reproducible():
    x, y = separable()
    outs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = net()
        train(model, x, y, TrainConfig(epochs=1, batch_size=32, seed=3), device="cpu")
        outs.append(logits(model, x))
    torch.testing.assert_close(outs[0], outs[1])


def test_a_moving_average_of_the_weights_is_what_the_model_ends_with():
    """With ``ema`` the model ends with the average's weights: they differ from the last step's weights (same
    seed, same data order), still learn the problem, and include BatchNorm's running statistics."""
    x, y = separable(1024)
    ends = {}
    for ema in (None, 0.9):
        torch.manual_seed(0)
        model = net()
        train(model, x, y, TrainConfig(epochs=3, batch_size=32, augment=False, precision="fp32"), device="cpu",
              ema=ema)
        ends[ema] = model.state_dict()
        assert (predict(model, x) == y).float().mean() > 0.9
    assert not torch.equal(ends[None]["0.weight"], ends[0.9]["0.weight"])
    assert not torch.equal(ends[None]["1.running_mean"], ends[0.9]["1.running_mean"])


def test_an_ema_decay_outside_0_1_is_refused():
    x, y = separable(10)
    for bad in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match="ema is the moving average's decay"):
            train(net(), x, y, TrainConfig(epochs=1, batch_size=4), device="cpu", ema=bad)


def test_augment_batch_crops_and_flips_within_the_image():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(16, 3, 8, 8)
    out = augment_batch(x, g, pad=2)
    assert out.shape == x.shape
    # every output pixel is some input pixel of the same image and channel (reflection padding)
    for i in range(16):
        assert set(out[i, 0].flatten().tolist()) <= set(x[i, 0].flatten().tolist())
    torch.testing.assert_close(augment_batch(x, torch.Generator().manual_seed(1), pad=0).abs().sum(),
                               x.abs().sum())


def test_predict_restores_mode_and_batches():
    x, y = separable(50)
    model = net().train()
    a = predict(model, x, batch_size=7)
    assert model.training and a.shape == (50,)


def test_warmup_then_linear_decay():
    f = warmup_linear_decay(10, 0.2)
    assert [round(f(s), 3) for s in range(10)] == [0.5, 1.0, 1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125]
    assert warmup_linear_decay(4, 0.25)(0) == 1.0  # short runs: no division by zero
    assert warmup_linear_decay(1, 0.0)(0) == 1.0


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_both_precisions_learn(precision):
    x, y = separable(512)
    torch.manual_seed(0)
    model = net()
    log = train(model, x, y, TrainConfig(epochs=3, batch_size=32, augment=False, precision=precision),
                device="cpu")
    assert log.layout.startswith(precision)
    assert (predict(model, x, precision=precision) == y).float().mean() > 0.9


def test_bad_arguments():
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="warmup"):
        TrainConfig(warmup=1.0)
    with pytest.raises(ValueError, match="translate"):
        TrainConfig(translate=-1)
    with pytest.raises(ValueError, match="label_smoothing"):
        TrainConfig(label_smoothing=1.0)
    x, y = separable(10)
    with pytest.raises(ValueError, match="differ in length"):
        train(net(), x, y[:5], TrainConfig(epochs=1), device="cpu")
    with pytest.raises(KeyError, match="did you mean 'sgd'"):
        train(net(), x, y, TrainConfig(epochs=1, batch_size=4), recipe="sdg", device="cpu")


def test_diverging_loss_is_reported():
    x, y = separable(64)
    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        train(net(), x, y, TrainConfig(epochs=2, batch_size=16, lr=1e12, augment=False), device="cpu")


class Inverter(nn.Module):
    """A fixed 'teacher' that answers the opposite of the separable problem's label."""

    def forward(self, x):
        bright_top = x[:, 0, :4].mean((1, 2)) > 0.45  # class 1: about 0.75, class 0: about 0.15
        return torch.stack([bright_top.float(), (~bright_top).float()], 1)


def test_a_teacher_with_full_weight_is_what_the_student_learns():
    from sat_lib.precision import Layout
    from sat_lib.train import Teacher

    x, y = separable(1024)
    torch.manual_seed(0)
    model = net()
    teacher = Teacher(Inverter(), Layout("fp32", False), key="inverter", weight=1.0)
    train(model, x, y, TrainConfig(epochs=4, batch_size=32, augment=False), device="cpu", teacher=teacher)
    assert (predict(model, x) == 1 - y).float().mean() > 0.9  # it followed the teacher, not the labels


def test_a_teacher_weight_outside_0_1_is_refused():
    from sat_lib.precision import Layout
    from sat_lib.train import Teacher

    with pytest.raises(ValueError, match="weight"):
        Teacher(Inverter(), Layout("fp32", False), key="t", weight=0)


def test_adversarial_training_raises_adversarial_accuracy():
    """A toy problem whose classes differ by a small brightness gap: standard training learns the gap and an L2
    attack of that size flips it; adversarial training at that radius holds up better."""
    from sat_lib.attacks import PGDConfig, pgd
    from sat_lib.train import Adversary

    x, y = separable(1024)
    attack = PGDConfig(norm="l2", eps=1.0, step_size=2 / 3, steps=3, seed=1)
    accs = {}
    for name, adversary in (("standard", None), ("robust", Adversary(attack))):
        torch.manual_seed(0)
        model = net()
        train(model, x, y, TrainConfig(epochs=4, batch_size=32, augment=False), device="cpu", adversary=adversary)
        test = PGDConfig(norm="l2", eps=1.0, step_size=0.25, steps=10, seed=7)
        adv = pgd(model, x, y, test, precision="fp32")
        accs[name] = float((predict(model, adv) == y).float().mean())
    assert accs["robust"] > accs["standard"] + 0.1, accs


def test_an_adversary_needs_a_positive_radius():
    from sat_lib.attacks import PGDConfig
    from sat_lib.train import Adversary

    with pytest.raises(ValueError, match="eps must be > 0"):
        Adversary(PGDConfig(norm="l2", eps=0.0))


def test_evaluating_in_another_memory_format_leaves_the_model_trainable(monkeypatch):
    """``logits`` runs in inference mode; converting the model's memory format there must not turn its
    parameters into inference tensors (an attack or a training step after it would fail)."""
    import sat_lib.train as T
    from sat_lib.precision import Layout

    monkeypatch.setattr(T, "choose_layout", lambda *a, **k: Layout("fp32", True))
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.LazyLinear(2))
    x = torch.rand(4, 3, 8, 8)
    model(x)  # materialise the lazy layer in the default (contiguous) format
    logits(model, x, precision="fp32")
    assert not any(p.is_inference() for p in model.parameters())
    model(x.requires_grad_()).sum().backward()  # differentiable after evaluation
