"""The components chapter on the smoke zoo: its result, claims and bad parameters."""
import numpy as np
import pytest

from sat_lib.analysis import sat_components as C
from sat_lib.experiments import resolve_params, sat_components
from sat_lib.params import ParameterError
from tests._env import project_dirs


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    with project_dirs(tmp_path_factory, "components") as (tmp, mp):
        cfg = resolve_params("sat-components", "smoke")
        yield cfg, sat_components.run(cfg)


def test_result_holds_importances_with_bootstrap_and_spectral_features(smoke):
    cfg, ds = smoke
    assert ds.sizes["component"] == 13 and ds["importance_boot"].shape == (cfg.n_boot, 13)
    assert ds["spectral"].shape == (ds.sizes["model"], cfg.n_spectral)
    assert np.isfinite(ds.attrs["fit_r2"]) and "held_out_r2" in ds.attrs
    table = C.claims_table(ds)
    assert list(table["key"]) == ["base_architecture_first", "stem_as_much_as_basics", "efficient_convs_least",
                                  "efficient_convs_least"]  # depth-wise and group conv one by one
    assert len(C.importance_table(ds)) == 13


def test_held_out_r2_gets_its_intervals_from_the_stored_result(smoke):
    import matplotlib.pyplot as plt

    from sat_lib.plots import sat_components as figures

    cfg, ds = smoke
    r2 = C.held_out_r2_estimates(ds, cfg.gbr, n_refit=20, n_boot=50, seed=cfg.seed)
    assert r2["refit"].value == r2["fixed"].value == ds.attrs["held_out_r2"]
    fig = figures.held_out(ds, r2["refit"])
    assert r2["refit"].text() in fig.axes[0].get_title()
    plt.close(fig)
    assert "held-out" in C.discussion(ds, C.claims_table(ds), r2)


def test_a_rerun_reads_the_stored_result(smoke):
    cfg, ds = smoke
    again = sat_components.run(cfg, mode="cache_only")
    np.testing.assert_array_equal(again["importance"].values, ds["importance"].values)


@pytest.mark.parametrize("override, message", [({"min_samples": 1}, "min_samples"),
                                               ({"learning_rate": 0}, "learning_rate"),
                                               ({"n_spectral": 0}, "n_spectral")])
def test_bad_parameters_are_named(override, message):
    with pytest.raises(ParameterError, match=message):
        resolve_params("sat-components", "smoke", override)
