"""The sat-matrix chapter's attack-check section on the tiny zoo and digits (seconds on a CPU): the chapter's attack
redone on the checked models reproduces the chapter's stored matrix, and the fp32 and twice-the-steps variants are
new attacks on the same images."""
import numpy as np
import pytest

from sat_lib.experiments import chapter_result, resolve_params
from sat_lib.experiments import sat_matrix_checks as S
from sat_lib.zoo import attack_sample
from tests._env import project_dirs


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    with project_dirs(tmp_path_factory, "satcheck", SAT_PROGRESS="0") as (tmp, mp):
        cfg = resolve_params("sat-matrix", "smoke")
        zoo = chapter_result(cfg, "auto")
        yield cfg, zoo, S.shown(cfg, "auto"), tmp


def test_every_variant_attacks_the_chapters_images(smoke):
    cfg, zoo, check, _ = smoke
    assert list(check["variant"].values) == list(S.Config.variants) == ["chapter", "fp32", "steps_x2"]
    assert set(check["attack_kind"].values) == {"pgd"}
    assert list(check["model"].values) == list(cfg.check_models)
    np.testing.assert_array_equal(check["sample"].values, attack_sample(cfg, len(zoo["test_sample"])))
    assert list(check["steps"].values) == [cfg.steps, cfg.steps, 2 * cfg.steps]
    assert check["precision"].sel(variant="fp32").item() == "fp32"


def test_the_redone_chapter_attack_is_the_stored_matrix(smoke):
    cfg, zoo, check, _ = smoke
    models = list(cfg.check_models)
    np.testing.assert_array_equal(check["fooled"].sel(variant="chapter").values,
                                  zoo["fooled"].sel(model=models, model_b=models).values)
    np.testing.assert_allclose(check["sat"].sel(variant="chapter").values,
                               zoo["sat"].sel(model=models, model_b=models).values, equal_nan=True)


def test_stored_as_a_section_and_read_back(smoke):
    cfg, _, check, tmp = smoke
    assert len(list((tmp / "results" / "sat-matrix-checks").glob("*.nc"))) == 1
    again = S.shown(cfg, "cache_only")
    np.testing.assert_array_equal(again["sat"].values, check["sat"].values)
    assert S.shown(cfg.replace(check_models=()), "auto") is None


def test_the_section_does_not_change_the_chapters_key(smoke):
    cfg, zoo, _, _ = smoke
    again = chapter_result(cfg.replace(check_models=("tiny_cnn", "tiny_resnet")), "cache_only")
    assert again.attrs["cache_key"] == zoo.attrs["cache_key"]


@pytest.mark.parametrize("models,message", [(("tiny_cnn",), "at least 2"), (("tiny_cnn", "tiny_cnn"), "at least 2"),
                                            (("tiny_cnn", "tiny_cnnn"), "tiny_cnnn")])
def test_bad_check_models_are_named(models, message):
    cfg = resolve_params("sat-matrix", "smoke")
    with pytest.raises((ValueError, KeyError), match=message):
        S.from_chapter(cfg.replace(check_models=models))
