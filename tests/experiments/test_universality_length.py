"""The universality chapter's training-length section: per-model jobs, resumable, assembled as far as they go."""
import pytest

from sat_lib.experiments import resolve_params
from sat_lib.experiments import universality_length as ul

SMALL = dict(dataset="digits", zoo="tiny", archs=("tiny_cnn", "tiny_vit"), epochs=(1, 2), batch_size=64,
             eval_images=40, strong_images=16, strong_steps=3, eval_steps=2, precision="fp32")


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("SAT_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("SAT_CACHE_DIR", str(tmp_path / "cache"))  # the configuration follows SAT_* variables
    return tmp_path


def test_the_section_takes_the_chapters_models_recipe_and_attack_at_every_profile():
    for profile in ("smoke", "quick", "paper"):
        chapter = resolve_params("universality", profile)
        section = ul.from_chapter(chapter)
        assert section.archs == chapter.archs and section.epochs == chapter.length_epochs
        assert section.eps == chapter.eval_eps0 and section.eval_steps == chapter.eval_steps
        assert section.train(chapter.epochs) == chapter.train
    assert ul.from_chapter(resolve_params("universality", "quick", {"length_epochs": []})) is None


def test_the_sections_parameters_leave_the_chapters_result_key_alone():
    from sat_lib.experiments._chapter import result_key_params

    base = resolve_params("universality", "quick")
    other = resolve_params("universality", "quick", {"length_epochs": [3, 6], "strong_images": 100})
    assert result_key_params(base) == result_key_params(other)


@pytest.mark.parametrize("bad, message", [({"epochs": (2, 2)}, "epochs"), ({"strong_images": 50}, "strong_images"),
                                          ({"eps": 0.0}, "eps"), ({"archs": ("tiny_cnn", "nope")}, "nope")])
def test_bad_parameters_are_refused_by_name(bad, message):
    with pytest.raises(Exception, match=message):
        ul.Config(**{**SMALL, **bad})


def test_models_are_stored_one_by_one_and_a_partial_grid_is_shown_as_far_as_it_goes(dirs):
    cfg = ul.Config(**SMALL)
    specs = ul.model_specs(cfg)
    assert list(specs) == [("tiny_cnn", 1), ("tiny_vit", 1), ("tiny_cnn", 2), ("tiny_vit", 2)]  # cheapest first
    assert ul.stored(cfg) is None
    first = ul.stored_model_job(specs[("tiny_cnn", 1)])
    partial = ul.stored(cfg)
    assert partial.attrs["models_done"] == 1 and partial.attrs["models_planned"] == 4
    assert partial["accuracy"].sel(model="tiny_cnn", budget=1) == pytest.approx(first.attrs["accuracy"])
    assert partial["accuracy"].isnull().sum() == 3
    ds = ul.run(cfg)
    assert not ds["accuracy"].isnull().any()
    assert ds["accuracy"].sel(model="tiny_cnn", budget=1) == pytest.approx(first.attrs["accuracy"])  # reused
    strong = ds["correct"].isel(image=slice(cfg.strong_images, None)).sel(attack=["pgd_strong", "apgd_ce"])
    assert strong.all()  # strong attacks ran on the first strong_images only
    assert ul.stored(cfg).attrs["cache_key"] == ds.attrs["cache_key"]
