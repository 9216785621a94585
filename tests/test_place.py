"""``sat-companion place`` at the smoke profile: a small CNN that is not in the zoo, trained here on digits, placed
into the atlas end to end; and every bad input refused with one message, exit status 2 and nothing written —
including a checkpoint whose unpickling would run code, which is refused without running it."""
import os

import numpy as np
import pytest
import torch
import xarray as xr
from torch import nn

from sat_lib.cli import main
from sat_lib.zoo.atlas_pairs import ATLAS_MEASURES
from tests._env import project_dirs


def small_cnn(classes: int = 10, channels: int = 1) -> nn.Module:
    """The placed model (``--model tests.test_place:small_cnn``): two convolutions and a linear classifier."""
    return nn.Sequential(nn.Conv2d(channels, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, classes))


def five_classes() -> nn.Module:
    return small_cnn(classes=5)


def rgb_cnn() -> nn.Module:
    return small_cnn(channels=3)


def no_linear() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 10, 8), nn.Flatten())


def tiny_cnn() -> nn.Module:
    """The zoo's own tiny_cnn architecture for digits (its stored weights are in the project's format)."""
    from sat_lib.models import get_zoo

    return get_zoo("tiny")["tiny_cnn"].build(num_classes=10, img_size=8, in_chans=1)


class Payload:
    """A pickle whose loading would create a file (``__reduce__`` runs ``os.system``)."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return os.system, (f"touch {self.target}",)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with project_dirs(tmp_path_factory, "place", SAT_PROGRESS="0") as (tmp, mp):
        mp.setenv("SAT_BOOK_DIR", str(tmp / "book"))
        from sat_lib.config import project_config

        train = project_config().load_data("digits", "train")
        x = torch.from_numpy(train.images).permute(0, 3, 1, 2).float() / 255
        y = torch.from_numpy(train.labels.astype(np.int64))
        torch.manual_seed(0)
        model = small_cnn()
        opt = torch.optim.Adam(model.parameters(), 1e-2)
        for _ in range(40):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        torch.save(model.state_dict(), tmp / "small.pt")
        yield tmp


def _listing(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


def test_a_model_not_in_the_zoo_is_placed_end_to_end(env, capsys):
    out = env / "placed"
    assert main(["place", "--model", "tests.test_place:small_cnn", "--weights", str(env / "small.pt"),
                 "--profile", "smoke", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "SAT cluster" in printed and str(out / "small.md") in printed
    from sat_lib.results import validate

    ds = xr.open_dataset(out / "small.nc").load()
    validate(ds)  # provenance attrs of a result
    assert ds.attrs["chapter"] == "place" and ds.attrs["placed"] == "small"
    assert list(ds["measure"].values) == list(ATLAS_MEASURES) and ds.sizes["model"] == 6
    assert np.isfinite(ds["similarity"].sel(measure=["sat", "agreement", "input_gradient"])).all()
    assert np.isfinite(ds["similarity"].sel(measure="linear_cka")).sum() >= 4  # NaN only with a collapsed zoo model
    assert ds.attrs["accuracy"] > 0.3 and int(ds.attrs["sat_cluster"]) in set(ds["cluster"].values.tolist())
    page = (out / "small.md").read_text()
    assert "SAT cluster" in page and "small-maps.png" in page and (out / "small-maps.png").stat().st_size > 1000
    assert not list(out.glob(".*"))  # atomic writes leave no temporary file


def test_a_zoo_model_placed_again_scores_as_the_atlas_does(env):
    """One home: the placed model's artifacts and pair measures come from the atlas's own functions, so a zoo
    model placed under another name has the atlas's measures with every other zoo model."""
    from sat_lib.experiments import chapter_result, resolve_params

    weights = next((env / "cache" / "weights" / "digits").glob("tiny_cnn-*.pt"))
    out = env / "again"
    assert main(["place", "--model", "tests.test_place:tiny_cnn", "--weights", str(weights), "--profile", "smoke",
                 "--name", "tiny_cnn_again", "--out", str(out)]) == 0
    placed = xr.open_dataset(out / "tiny_cnn_again.nc").load()
    atlas = chapter_result(resolve_params("similarity-atlas", "smoke"), "cache_only")
    others = [m for m in atlas["model"].values if m != "tiny_cnn"]
    fp32 = ["agreement", "error_consistency", "jsd_similarity", "disagreement", "linear_cka", "procrustes",
            "knn_jaccard", "input_gradient", "saliency", "integrated_gradients"]  # computed in float32 on both sides
    np.testing.assert_allclose(placed["similarity"].sel(measure=fp32, model=others).values,
                               atlas["similarity"].sel(measure=fp32, model="tiny_cnn", model_b=others).values,
                               rtol=1e-3, atol=5e-3)
    # the placed copy is evaluated in float32, the zoo's stored test logits in the model's measured layout (bf16 on
    # some machines): one model in two precisions disagrees on under 1 % of images (the atlas's same-model gate)
    assert abs(placed["pair_target"].sel(target="accuracy_difference", model="tiny_cnn").item()) < 1.0


@pytest.mark.parametrize("argv,message", [
    (["--model", "resnet1888"], "not a timm model name; did you mean"),
    (["--model", "tests.test_place:smal_cnn"], "has no function 'smal_cnn'; did you mean 'small_cnn'"),
    (["--model", "tests.test_placez:small_cnn"], "cannot import module 'tests.test_placez'"),
    (["--model", "test_resnet"], "does not fit --model 'test_resnet'"),
    (["--model", "tests.test_place:five_classes"], "does not fit"),
    (["--model", "tests.test_place:rgb_cnn"], "does not fit"),
    (["--weights", "missing.pt"], "no such file"),
    (["--name", "tiny_vit"], "a model of the zoo has that name"),
    (["--profile", "smoke", "--model", "tests.test_place:small_cnn", "--weights", "LIST"], "holds a list"),
])
def test_bad_input_exits_2_and_writes_nothing(env, capsys, argv, message):
    args = {"--model": "tests.test_place:small_cnn", "--weights": str(env / "small.pt"), "--profile": "smoke"}
    args.update(dict(zip(argv[::2], argv[1::2])))
    if args["--weights"] == "LIST":
        torch.save([1, 2, 3], env / "list.pt")
        args["--weights"] = str(env / "list.pt")
    elif args["--weights"] == "missing.pt":
        args["--weights"] = str(env / "missing.pt")
    out = env / "bad"
    before = _listing(env / "results")
    code = main(["place", *[x for kv in args.items() for x in kv], "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert not out.exists() and _listing(env / "results") == before


def _checked(env, build, weights):
    """``checked_model`` against the smoke zoo's input shape (digits: 1 × 8 × 8, 10 classes)."""
    from sat_lib.place import input_shape
    from sat_lib.place.inputs import checked_model, model_builder, read_state_dict
    from sat_lib.experiments import resolve_params

    shape = input_shape(resolve_params("similarity-atlas", "smoke"))
    return checked_model(build, model_builder(build), read_state_dict(weights), weights, shape)


@pytest.mark.parametrize("build,message", [
    ("five_classes", r"gives output \(1, 5\), expected \(1, 10\)"),
    ("rgb_cnn", r"a \(1, 1, 8, 8\) input \(one digits image\) fails"),
    ("no_linear", "no nn.Linear"),
])
def test_wrong_class_count_or_input_size_is_named(env, build, message):
    from sat_lib.place import PlaceInputError

    torch.manual_seed(0)
    weights = env / f"{build}.pt"
    torch.save(globals()[build]().state_dict(), weights)  # its own weights: they fit, the shapes do not
    with pytest.raises(PlaceInputError, match=message):
        _checked(env, f"tests.test_place:{build}", weights)


def test_a_checkpoint_that_would_run_code_is_refused_and_never_runs(env, capsys):
    target = env / "pwned"
    evil = env / "evil.pt"
    torch.save({"conv.weight": torch.zeros(1), "payload": Payload(target)}, evil)
    code = main(["place", "--model", "tests.test_place:small_cnn", "--weights", str(evil), "--profile", "smoke",
                 "--out", str(env / "evil-out")])
    err = capsys.readouterr().err
    assert code == 2 and "refused" in err and "without running code" in err
    assert "weights_only` set to `False`" not in err  # never advised
    assert not target.exists() and not (env / "evil-out").exists()


def test_safetensors_and_checkpoint_dicts_are_read(env):
    from safetensors.torch import save_file

    from sat_lib.place.inputs import read_state_dict

    state = torch.load(env / "small.pt", weights_only=True)
    save_file(state, env / "small.safetensors")
    torch.save({"state_dict": state, "epoch": 3}, env / "ckpt.pt")
    for path in (env / "small.safetensors", env / "ckpt.pt"):
        got = read_state_dict(path)
        assert set(got) == set(state) and all(torch.equal(got[k], state[k]) for k in state)
    model = _checked(env, "tests.test_place:small_cnn", env / "small.safetensors")
    assert not model.training
