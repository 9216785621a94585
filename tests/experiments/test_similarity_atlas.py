"""The similarity atlas on the tiny zoo and digits (the smoke profile: seconds of work on a CPU, after the SAT
chapter's smoke zoo is trained): one stored result per model, every measure for every pair, SAT read from the
SAT chapter's result, targets on held-out images, resumable model by model."""
import numpy as np
import pytest
import torch

from sat_lib.claims import paper_claims
from sat_lib.experiments import chapter_result, resolve_params
from sat_lib.experiments import similarity_atlas as S
from sat_lib.measures import agreement, error_reduction_rate, jsd_similarity
from sat_lib.params import ParameterError
from sat_lib.zoo.atlas import PARTS, atlas_images
from sat_lib.zoo.atlas_pairs import ATLAS_MEASURES, TARGETS
from tests._env import project_dirs


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    with project_dirs(tmp_path_factory, "atlas", SAT_PROGRESS="0") as (tmp, mp):
        cfg = resolve_params("similarity-atlas", "smoke")
        ds = S.run(cfg)
        yield cfg, ds, tmp


def test_every_measure_for_every_pair(smoke):
    cfg, ds, _ = smoke
    zoo = chapter_result(S.matrix_config(cfg))
    assert list(ds["measure"].values) == list(ATLAS_MEASURES) and list(ds["target"].values) == list(TARGETS)
    assert list(ds["model"].values) == list(zoo["model"].values)
    # SAT is the SAT chapter's stored matrix, read, not recomputed
    np.testing.assert_array_equal(ds["similarity"].sel(measure="sat").values, zoo["sat"].values)
    sim = ds["similarity"].values
    assert np.allclose(np.nan_to_num(sim), np.nan_to_num(sim.transpose(0, 2, 1)))
    assert np.isfinite(ds["similarity"].sel(measure=["agreement", "jsd_similarity", "decision_regions"])).all()
    t = ds["pair_target"].values
    assert np.isnan(np.diagonal(t, axis1=1, axis2=2)).all()
    assert set(ds["part"].values) == set(PARTS) and (ds["atlas_seconds"].values >= 0).all()


def test_the_atlas_models_are_the_sat_chapters(smoke):
    """The atlas's copies (reloaded from the weights cache) predict as the sat-matrix result's copies did."""
    _, ds, _ = smoke
    assert (ds["same_predictions"].values >= 0.99).all()
    assert ds["same_predictions"].values.min() <= 1.0


def test_one_stored_result_per_model_with_compact_artifacts(smoke):
    cfg, ds, tmp = smoke
    files = sorted((tmp / "results" / S.MODEL_RESULTS).glob("*.nc"))
    assert len(files) == ds.sizes["model"]
    arts = S.model_artifacts_of(cfg, list(ds["model"].values))  # read back, not recomputed
    a = arts["tiny_cnn"]
    assert a["logits"].dtype == np.float16 and a.sizes["image"] == cfg.n_images
    assert a.sizes["feature_image"] == cfg.feature_images and a.sizes["feature"] <= cfg.feature_images
    assert a["gradient"].shape[1:] == (1, cfg.fingerprint_size, cfg.fingerprint_size)
    norms = np.linalg.norm(a["integrated_gradients"].values.reshape(cfg.gradient_images, -1).astype(float), axis=1)
    assert np.all((np.abs(norms - 1) < 1e-2) | (norms == 0))  # unit-normalised fingerprints
    assert a["regions"].dtype == np.int8 and a["regions"].shape == (cfg.n_triplets, cfg.resolution, cfg.resolution)
    assert a["corrupted"].shape == (len(S.atlas_spec(cfg)["corrupted"]), cfg.n_images)
    assert a.attrs["model"] == "tiny_cnn" and a.attrs["weights"].startswith("tiny_cnn-")


def test_the_atlas_images_are_the_corruptions_chapters(smoke):
    cfg, _, _ = smoke
    from sat_lib.zoo import image_sample
    from sat_lib.config import project_config

    spec = S.atlas_spec(cfg)
    data = atlas_images(spec)
    cc = S.corruptions_config(cfg)
    draw = image_sample(len(project_config().load_data("digits", "test")), cc.n_images, cc.seed)
    assert set(data.index) <= set(draw) and len(data.corrupted) == len(cc.sets())
    assert len(set(data.labels[data.triplets[0]])) == 3  # each plane through images of three classes


def test_measures_and_targets_are_the_registered_functions(smoke):
    cfg, ds, _ = smoke
    arts = S.model_artifacts_of(cfg, ["tiny_cnn", "tiny_resnet"])
    la, lb = (torch.from_numpy(arts[n]["logits"].values.astype(np.float32)) for n in ("tiny_cnn", "tiny_resnet"))
    pair = dict(model="tiny_cnn", model_b="tiny_resnet")
    assert ds["similarity"].sel(measure="agreement", **pair).item() == pytest.approx(agreement(la, lb))
    assert ds["similarity"].sel(measure="jsd_similarity", **pair).item() == pytest.approx(jsd_similarity(la, lb))
    zoo = chapter_result(S.matrix_config(cfg))
    held = S.heldout_images(zoo.sizes["test_sample"], arts["tiny_cnn"])
    assert not set(held) & set(arts["tiny_cnn"]["image"].values)  # targets on images the measures never saw
    from sat_lib.config import project_config

    y = project_config().load_data("digits", "test").labels[held]
    logits = zoo["test_logits"].sel(model=["tiny_cnn", "tiny_resnet"]).values[:, held].astype(np.float32)
    assert ds["pair_target"].sel(target="err", **pair).item() == pytest.approx(error_reduction_rate(logits, y))


def test_resumable_model_by_model(smoke):
    cfg, ds, tmp = smoke
    folder = tmp / "results" / S.MODEL_RESULTS
    files = sorted(folder.glob("*.nc"))
    stamps = {f: f.stat().st_mtime_ns for f in files}
    files[0].unlink()
    for f in (tmp / "results" / "similarity-atlas").glob("*.nc"):
        f.unlink()
    again = S.run(cfg)
    assert sorted(folder.glob("*.nc")) == files
    assert all(f.stat().st_mtime_ns == stamps[f] for f in files[1:])  # the others were only read
    np.testing.assert_allclose(again["similarity"].values, ds["similarity"].values, equal_nan=True)


def test_claims_are_the_projects_hypotheses(smoke):
    cfg, _, _ = smoke
    table, where = S.CHAPTER.claims(cfg, "cache_only")
    assert list(table["key"]) == list(paper_claims("similarity-atlas")["claims"])
    assert set(table["source"]) == {"project"} and "commit" in where


@pytest.mark.parametrize("override,message", [
    ({"knn_k": 60}, "knn_k"),
    ({"feature_images": 500}, "more than n_images"),
    ({"n_images": 121}, "more than the 120 images"),
    ({"corruptions_profile": "quick"}, "scores the sat-matrix profile 'quick'"),
    ({"n_folds": 1}, "n_folds"),
])
def test_bad_parameters_are_named(override, message):
    with pytest.raises((ParameterError, ValueError), match=message):
        resolve_params("similarity-atlas", "smoke", overrides=override)
