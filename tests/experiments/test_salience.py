"""The salience chapter's computation on digits at the smoke profile (seconds on a CPU)."""
import numpy as np
import pytest
import torch

from sat_lib.experiments import resolve_params
from sat_lib.experiments.salience import Config, Unit, compute_unit, run, unit_params, units
from sat_lib.measures import gradient_cosine
from sat_lib.params import ParameterError
from tests._env import project_dirs


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    with project_dirs(tmp_path_factory, "salience") as (tmp, mp):
        cfg = resolve_params("salience", "smoke").replace(seeds=3)
        yield cfg, run(cfg), tmp


def test_one_result_per_population_and_batch_size(smoke):
    cfg, pops, tmp = smoke
    assert list(pops) == [u.name for u in units(cfg)]
    assert len(list((tmp / "results" / "salience").glob("*.nc"))) == len(pops)
    roles = {n: ds.attrs["role"] for n, ds in pops.items()}
    assert roles["digits:cnn_small@32"] == "batch-study" and roles["digits:cnn_small@64"] == "main"


def test_similarities_are_consistent(smoke):
    cfg, pops, _ = smoke
    ds = pops["digits:cnn_small@64"]
    m = ds.sizes["model"]
    assert m == len(cfg.widths) * cfg.seeds
    for res in ds["resolution"].values:
        p = ds["p_ind"].sel(resolution=res).values
        np.testing.assert_allclose(np.diag(p), 1, atol=1e-6)
        np.testing.assert_allclose(p, p.T, atol=1e-12)
    # the stored fingerprints reproduce the downsampled p_ind (up to float16)
    fp = torch.from_numpy(ds["fingerprint"].values.astype(np.float32))
    small = ds["p_ind"].sel(resolution=ds["resolution"].values[1]).values
    assert gradient_cosine(fp[0], fp[1]) == pytest.approx(small[0, 1], abs=2e-3)
    t = ds["t"].values
    assert np.all((t >= -1) & (t <= 1))
    norms = np.linalg.norm(ds["fingerprint"].values.reshape(m, ds.sizes["sample"], -1).astype(np.float32), axis=2)
    np.testing.assert_allclose(norms, 1, atol=2e-3)


def test_attacks_and_ensembles(smoke):
    _, pops, _ = smoke
    ds = pops["digits:cnn_small@64"]
    alpha = ds["alpha"].values
    assert np.isfinite(alpha).all() and (alpha > 0).all()
    # white-box (the diagonal) hurts more than the average transfer
    assert np.diag(alpha).mean() < alpha[~np.eye(len(alpha), dtype=bool)].mean()
    assert np.isfinite(ds["alpha_mean"].values).all()
    ens = ds["ensemble_loss"].sel(members=1).values
    k = ds["k"].values
    for a, w in enumerate(ds["width"].values):  # 1-member ensembles are the single models
        np.testing.assert_allclose(np.sort(ens[a][np.isfinite(ens[a])]), np.sort(ds["loss"].values[k == w]),
                                   rtol=1e-5)
    assert ds["accuracy"].values.mean() > 0.5  # digits: the models learn


def test_unit_key_ignores_which_other_populations_run(smoke):
    cfg, _, _ = smoke
    unit = units(cfg)[0]
    assert unit_params(cfg, unit) == unit_params(cfg.replace(populations=cfg.populations[:1]), unit)
    assert unit_params(cfg, unit) != unit_params(cfg.replace(epochs=cfg.epochs + 1), unit)


def test_rerun_reads_stored_results(smoke):
    cfg, pops, _ = smoke
    again = run(cfg, mode="cache_only")
    assert again.keys() == pops.keys()
    assert all(again[n].attrs["cache_key"] == pops[n].attrs["cache_key"] for n in pops)


@pytest.mark.parametrize("changes,message", [
    ({"populations": ["digits-cnn_small"]}, "dataset:family"),
    ({"populations": ["digits:cnn_tiny"]}, "unknown width family"),
    ({"populations": ["mnist:cnn_small"]}, "unknown dataset"),
    ({"salience": "prob"}, "'logit' or 'loss'"),
    ({"widths": [0, 4]}, "positive integers"),
    ({"seeds": 0}, ">= 1"),
])
def test_bad_parameters_are_named(changes, message):
    with pytest.raises(ParameterError, match=message):
        Config.from_mapping({**Config.defaults(), **changes}, where="test")


def test_more_test_images_than_exist(tmp_path, monkeypatch):
    monkeypatch.setenv("SAT_RESULTS_DIR", str(tmp_path))
    cfg = resolve_params("salience", "smoke").replace(n_salience=10_000)
    with pytest.raises(ValueError, match="n_salience"):
        compute_unit(cfg, Unit("digits", "cnn_small", (2,), 64))
    assert not list(tmp_path.rglob("*.nc"))


def test_loss_salience_option(tmp_path, monkeypatch):
    monkeypatch.setenv("SAT_RESULTS_DIR", str(tmp_path))
    cfg = resolve_params("salience", "smoke").replace(salience="loss", seeds=2, ensemble_draws=1)
    ds = compute_unit(cfg, Unit("digits", "cnn_small", (2,), 64))
    assert ds.attrs["salience"] == "loss"
    assert np.isfinite(ds["p_ind"].values).all() and np.isfinite(ds["t"].values).all()


def test_populations_never_share_seeds():
    from sat_lib.experiments.salience import population_seeds

    units_ = [Unit("cifar10", f, (4, 8), bs) for f in ("cnn_small", "cnn_large") for bs in (64, 128)]
    seeds = [s for u in units_ for k in u.widths for s in population_seeds(0, u, k, 5)]
    assert len(set(seeds)) == len(seeds)
    assert population_seeds(0, units_[0], 4, 5) == population_seeds(0, units_[0], 4, 5)  # reproducible
    assert population_seeds(1, units_[0], 4, 5) != population_seeds(0, units_[0], 4, 5)


def test_stored_models_of_different_widths_start_differently(smoke):
    _, pops, _ = smoke
    ds = pops["digits:cnn_small@64"]
    assert len(set(ds["init_seed"].values.tolist())) == ds.sizes["model"]


def test_populations_on_a_dask_cluster_equal_the_serial_run(tmp_path, monkeypatch, serial_and_local):
    """Each population is one executor job: two populations on a 2-worker LocalCluster give the serial run's
    results, each stored once by the worker that made it (one torch thread per job in both runs)."""
    cfg = resolve_params("salience", "smoke").replace(
        populations=("digits:cnn_small", "digits:resnet_small"), widths=(2,), seeds=2, epochs=1, n_salience=20,
        batch_sizes=(), official_models=False)
    from sat_lib.executor import Executor

    on_dask = []
    real = Executor._map_dask
    monkeypatch.setattr(Executor, "_map_dask", lambda self, fn, specs, *a: on_dask.append(len(specs)) or
                        real(self, fn, specs, *a))
    runs = serial_and_local(lambda: run(cfg))
    for scheduler in runs:
        assert len(list((tmp_path / scheduler / "results" / "salience").glob("*.nc"))) == 2
    serial, local = runs["serial"], runs["local"]
    assert on_dask == [2]  # the local run sent both populations to the cluster, the serial run none
    assert list(serial) == list(local) == [u.name for u in units(cfg)]
    for name in serial:
        for var in ("accuracy", "fingerprint", "p_ind", "alpha"):
            np.testing.assert_array_equal(serial[name][var].values, local[name][var].values, err_msg=f"{name} {var}")
