"""The sat-training chapter's seed-check section on the tiny zoo and digits (seconds on a CPU): the initialization
group of ``check_arch`` attacked again by every variant, the chapter's attack redone reproducing the chapter's
stored SAT, APGD a new attack on the same images, each direction stored."""
import numpy as np
import pytest

from sat_lib.experiments import chapter_result, resolve_params
from sat_lib.experiments import sat_training_checks as S
from sat_lib.experiments.sat_training import matrix_config
from sat_lib.zoo import attack_sample
from tests._env import project_dirs


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    with project_dirs(tmp_path_factory, "seedcheck", SAT_PROGRESS="0") as (tmp, _):
        cfg = resolve_params("sat-training", "smoke")
        chapter_result(matrix_config(cfg), "auto")
        ds = chapter_result(cfg, "auto")
        yield cfg, ds, S.shown(cfg, "auto"), tmp


def test_the_seeds_of_check_arch_are_attacked_by_every_variant(smoke):
    cfg, ds, check, _ = smoke
    seeds = [str(m) for m, a, k in zip(ds["model"].values, ds["arch"].values, ds["kind"].values)
             if a == cfg.check_arch and k == "initialization"]
    assert list(check["model"].values) == seeds and len(seeds) == cfg.n_per_kind
    assert list(check["variant"].values) == ["chapter", "fp32", "steps_x2", "apgd"]
    assert list(check["attack_kind"].values) == ["pgd", "pgd", "pgd", "autoattack"]
    assert list(check["steps"].values) == [cfg.steps, cfg.steps, 2 * cfg.steps, 2 * cfg.steps]
    assert check.attrs["check_arch"] == cfg.check_arch
    np.testing.assert_array_equal(check["sample"].values, attack_sample(cfg, len(ds["test_sample"])))


def test_the_redone_chapter_attack_is_the_chapters_sat(smoke):
    _, ds, check, _ = smoke
    models = list(check["model"].values)
    np.testing.assert_allclose(check["sat"].sel(variant="chapter").values,
                               ds["sat"].sel(model=models, model_b=models).values, equal_nan=True)


def test_apgd_attacks_anew_and_each_direction_is_kept(smoke):
    _, _, check, _ = smoke
    f = check["fooled"].values
    assert f.shape[1] == f.shape[2] and not np.array_equal(f[0], f[-1])
    assert not np.array_equal(f[0], f[0].transpose(1, 0, 2))   # a direction is not its reverse


def test_stored_as_a_section_and_read_back(smoke):
    cfg, _, check, tmp = smoke
    assert len(list((tmp / "results" / "sat-training-checks").glob("*.nc"))) == 1
    np.testing.assert_array_equal(S.shown(cfg, "cache_only")["sat"].values, check["sat"].values)
    assert S.shown(cfg.replace(check_arch=""), "auto") is None


def test_the_section_does_not_change_the_chapters_key(smoke):
    cfg, ds, _, _ = smoke
    assert chapter_result(cfg.replace(check_arch=""), "cache_only").attrs["cache_key"] == ds.attrs["cache_key"]


@pytest.mark.parametrize("arch,message", [("tiny_vit", "not one of 'archs'"), ("tiny_cnnn", "tiny_cnnn")])
def test_a_bad_check_arch_is_named(arch, message):
    cfg = resolve_params("sat-training", "smoke")
    with pytest.raises((ValueError, KeyError), match=message):
        S.from_chapter(cfg.replace(check_arch=arch))
