"""The authors' checkpoints measured by our pipeline: shapes, invariants, and a clean skip without them."""
import numpy as np
import pytest
import torch

from sat_lib.config import ProjectConfig
from sat_lib.experiments import salience_official as so
from tests.models.test_official import _trained_like


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    folder = tmp_path_factory.mktemp("official")
    for k in (2, 4):
        torch.save(_trained_like(k).state_dict(), folder / f"CNNSmall_K{k}")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SAT_MODELS_SALIENCE_OFFICIAL", str(folder))
        mp.setenv("SAT_RESULTS_DIR", str(tmp_path_factory.mktemp("results")))
        cfg = so.Config(n_images=40, n_salience=30)
        yield cfg, so.run(cfg)


def test_maps_per_image_with_unit_diagonal(official):
    cfg, ods = official
    assert list(ods["k"].values) == [2, 4]
    assert ods["cosine"].shape == (2, 2, 2, cfg.n_images) and ods["alpha"].shape == (2, 2, cfg.n_images)
    np.testing.assert_allclose(ods["cosine"].values[:, [0, 1], [0, 1]], 1.0, atol=1e-5)
    assert np.isfinite(ods["alpha"].values).all() and (ods["alpha"].values > 0).all()
    assert ((ods["accuracy"] >= 0) & (ods["accuracy"] <= 1)).all()
    fp = ods["pixel_fingerprint"].values.reshape(2, cfg.n_salience, -1)
    np.testing.assert_allclose(np.linalg.norm(fp, axis=-1), 1.0, atol=1e-5)


def test_the_subset_is_class_balanced(official):
    from sat_lib.config import project_config

    _, ods = official
    labels = np.asarray(project_config().load_data("cifar10", "test").labels)[ods["image"].values]
    counts = np.bincount(labels, minlength=10)
    assert counts.max() - counts.min() <= 1


def test_stored_and_read_back(official):
    cfg, ods = official
    again = so.run(cfg, mode="cache_only")
    np.testing.assert_array_equal(again["cosine"].values, ods["cosine"].values)


def test_without_the_folder_the_section_skips(tmp_path, monkeypatch):
    monkeypatch.delenv("SAT_MODELS_SALIENCE_OFFICIAL", raising=False)
    monkeypatch.setattr(ProjectConfig, "models_dir", lambda self, name: tmp_path / "not-there")
    assert so.run(so.Config(n_images=40, n_salience=30)) is None


def test_an_environment_variable_pointing_nowhere_is_an_error(monkeypatch, tmp_path):
    from sat_lib.config import ConfigError, project_config

    monkeypatch.setenv("SAT_MODELS_SALIENCE_OFFICIAL", str(tmp_path / "typo"))
    with pytest.raises(ConfigError, match="SAT_MODELS_SALIENCE_OFFICIAL"):
        project_config().models_dir("salience_official")
