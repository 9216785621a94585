"""The SAT chapter's computation on the tiny zoo and digits (seconds on a CPU)."""
import numpy as np
import pytest
import torch

from sat_lib.experiments import resolve_params
from sat_lib.attacks import PGDConfig, pgd
from sat_lib.experiments.sat_matrix import Config, compute, stability_scores
from sat_lib.zoo import attack_correct
from sat_lib.measures import sat_score
from tests._env import project_dirs


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    with project_dirs(tmp_path_factory, "sat") as (tmp, mp):
        cfg = resolve_params("sat-matrix", "smoke")
        yield cfg, compute(cfg)


def test_dims_and_coordinates(smoke):
    cfg, ds = smoke
    m = ds.sizes["model"]
    assert m >= 2 and ds["sat"].dims == ("model", "model_b")
    assert ds["fooled"].shape == (m, m, cfg.n_images) and ds["fooled"].dtype == bool
    assert set(ds["family"].values) and all(str(c) in ds.coords for c in ds.dims)
    assert ds["stability_rate"].shape == (len(cfg.stability_sizes), cfg.stability_repeats)


def test_matrix_is_eq1_on_the_stored_indicators(smoke):
    _, ds = smoke
    names = list(ds["model"].values)
    f, c = ds["fooled"].values, ds["correct"].values
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            if not (c[i] & c[j]).any():
                assert np.isnan(ds["sat"].values[i, j])
                continue
            want = sat_score(f[j, i], f[i, j], c[i], c[j], eps_s=0.01)
            assert ds["sat"].sel(model=a, model_b=b).item() == pytest.approx(want)
    np.testing.assert_allclose(ds["sat"].values, ds["sat"].values.T, equal_nan=True)


def test_white_box_attack_beats_transfer(smoke):
    _, ds = smoke
    sat = ds["sat"].values
    off = sat[~np.eye(len(sat), dtype=bool)]
    assert np.nanmean(np.diag(sat)) >= np.nanmean(off)


def test_weights_are_reused_when_only_the_attack_changes(smoke, monkeypatch):
    cfg, _ = smoke
    ds = compute(cfg.replace(steps=1, n_images=60))
    assert ds["weights_from_cache"].values.all()


def test_attacks_only_what_the_source_gets_right_with_the_whole_sample_starts():
    """Images the source misclassifies keep their clean pixels; the others are exactly a whole-sample PGD's."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 3)).eval()
    x = torch.randint(0, 256, (12, 3, 4, 4), dtype=torch.uint8)
    y = torch.randint(0, 3, (12,))
    with torch.no_grad():
        logits = model(x.float() / 255)
    sample = np.array([0, 2, 3, 5, 7, 8, 9, 11])
    spec = {"attack": dict(PGDConfig(steps=3).__dict__), "attack_batch_size": 3, "precision": "fp32", "name": "m"}
    out = attack_correct(model, x, y, logits, sample, spec)
    right = (logits[sample].argmax(1) == y[sample]).numpy()
    assert 0 < right.sum() < len(sample)
    clean = x[sample].float() / 255
    torch.testing.assert_close(out[~right], clean[~right], rtol=0, atol=0)
    full = pgd(model, clean, y[sample], PGDConfig(steps=3), batch_size=3, precision="fp32")
    torch.testing.assert_close(out[right], full[right])
    assert (out[right] != clean[right]).any()


def test_stability_scores_shapes_and_nan_for_oversized():
    g = torch.Generator().manual_seed(0)
    fooled = torch.rand(2, 2, 100, generator=g) < 0.5
    correct = torch.ones(2, 100, dtype=torch.bool)
    out = stability_scores(fooled, correct, [10, 50, 200], repeats=4, seed=0, eps_s=0.01)
    assert out.shape == (3, 4) and np.isnan(out[2]).all() and np.isfinite(out[:2]).all()
    assert (out[:2] >= 0).all() and (out[:2] <= 100).all()


def test_config_validation():
    with pytest.raises(ValueError, match="n_images"):
        Config(n_images=0)
    with pytest.raises(KeyError, match="linf"):
        Config(norm="lin")


def test_dask_cluster_equals_serial(serial_and_local):
    """Every model trained, attacked and evaluated on a 2-worker LocalCluster gives the serial run's result.

    Each run trains its own models (separate caches); they share the layout calibration file, as a cluster
    shares its cache folder, and both run with one torch thread per job."""
    cfg = resolve_params("sat-matrix", "smoke").replace(stability_pool=0, epochs=1, n_images=60, steps=2)
    runs = serial_and_local(lambda: compute(cfg))
    serial, local = runs["serial"], runs["local"]
    assert serial.attrs["executor"] == "serial" and local.attrs["executor"] == "local"
    assert not local["weights_from_cache"].values.any()
    for name in ("accuracy", "correct", "fooled", "sat", "test_logits"):
        np.testing.assert_array_equal(serial[name].values, local[name].values, err_msg=name)
