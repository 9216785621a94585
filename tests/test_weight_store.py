"""Published weights: trained once, rounded, and the rounded model is what every later run reads — on any layout."""
import pytest
import torch

import sat_lib.weights as weights
from sat_lib.config import load_config, project_config
from sat_lib.models import get_zoo
from sat_lib.precision import Layout
from sat_lib.train import TrainConfig, logits
from sat_lib.weight_store import WeightStore
from sat_lib.weights import trained_model


@pytest.fixture(scope="module")
def digits():
    return project_config().load_data("digits", "train")


@pytest.fixture
def entry():
    return get_zoo("tiny")[get_zoo("tiny").names()[0]]


def _outputs(model, data):
    return logits(model, torch.from_numpy(data.images[:64]).permute(0, 3, 1, 2), precision="fp32")


def test_rounding_keeps_integers_and_what_fp16_cannot_hold():
    store = WeightStore("unused", dtype="float16")
    state = {"w": torch.tensor([0.1, -2.5, 0.0, 1e-7]), "n": torch.tensor(7), "zeros": torch.zeros(3),
             "huge": torch.tensor([1e6, 1.0]),                    # would overflow to inf
             "flushed": torch.tensor([1.0, 1e-9]),                # a nonzero value would become 0
             "layer_scale": torch.full((4,), 1e-6),               # all subnormal in fp16: a few bits left
             "with_inf": torch.tensor([float("inf"), 1e5])}       # its finite 1e5 would become inf
    out = store.rounded(state)
    assert out["w"].dtype == out["zeros"].dtype == torch.float16 and out["n"].dtype == torch.int64 and out["n"] == 7
    for name in ("huge", "flushed", "layer_scale", "with_inf"):
        assert out[name].dtype == torch.float32 and torch.equal(out[name], state[name]), name


def test_a_published_model_is_read_back_identical_in_a_fresh_cache(digits, entry, tmp_path):
    store = WeightStore(tmp_path / "store", ("tiny",))
    cfg = TrainConfig(epochs=1, batch_size=64, precision="fp32")
    first = trained_model(entry, digits, cfg, device="cpu", cache_dir=tmp_path / "cache1", store=store)
    published = list((tmp_path / "store").rglob("*.pt"))
    assert not first.from_cache and len(published) == 1
    # the run that trained it continues with the rounded weights: they are exactly what a later run reads
    rounded = store.read(published[0])[0]
    for name, t in first.model.state_dict().items():
        assert torch.equal(t, rounded[name].to(t.dtype)), name
    again = trained_model(entry, digits, cfg, device="cpu", cache_dir=tmp_path / "cache2", store=store)
    assert again.from_cache and again.train_seconds == pytest.approx(first.train_seconds)
    out = _outputs(again.model, digits)
    assert torch.isfinite(out).all() and torch.equal(_outputs(first.model, digits), out)
    assert store.read(published[0])[1]["stored_as"] == "float16"


def test_the_store_is_read_whatever_layout_this_machine_measures(digits, entry, tmp_path, monkeypatch):
    store = WeightStore(tmp_path / "store", ("tiny",))
    cfg = TrainConfig(epochs=1, batch_size=64, precision="fp32")
    first = trained_model(entry, digits, cfg, device="cpu", cache_dir=tmp_path / "cache1", store=store)

    def no_training(*args, **kwargs):
        raise AssertionError("retrained although the store holds the model")

    monkeypatch.setattr(weights, "train", no_training)
    monkeypatch.setattr(weights, "choose_layout", lambda *a, **k: Layout("bf16", True))  # another machine's choice
    again = trained_model(entry, digits, cfg, device="cpu", cache_dir=tmp_path / "cache2", store=store)
    assert again.from_cache and again.layout == first.layout != "bf16+cl"  # the layout it was trained in
    assert again.path == first.path  # one identity on every machine (a teacher's in a student's key, say)
    assert not (tmp_path / "cache2").exists()  # the store is a published model's only copy


def test_an_unreadable_published_file_is_retrained_and_rewritten(digits, entry, tmp_path):
    store = WeightStore(tmp_path / "store", ("tiny",))
    cfg = TrainConfig(epochs=1, batch_size=64, precision="fp32")
    trained_model(entry, digits, cfg, device="cpu", cache_dir=None, store=store)
    (path,) = (tmp_path / "store").rglob("*.pt")
    path.write_bytes(b"not a checkpoint")
    again = trained_model(entry, digits, cfg, device="cpu", cache_dir=None, store=store)
    assert not again.from_cache and store.read(path) is not None


def test_only_the_named_zoos_publish(tmp_path, monkeypatch):
    cfg_file = tmp_path / "c.yml"
    cfg_file.write_text("data:\n  weights_store: {dir: w, zoos: [cifar-cpu]}\n")
    monkeypatch.delenv("SAT_WEIGHTS_STORE", raising=False)
    pc = load_config(cfg_file)
    assert pc.store_for("cifar-cpu").root == tmp_path / "w" and pc.store_for("tiny") is None
    monkeypatch.setenv("SAT_WEIGHTS_STORE", str(tmp_path / "elsewhere"))
    assert load_config(cfg_file).store_for("cifar-cpu").root == tmp_path / "elsewhere"
