"""The training-procedure and ensembles chapters on the tiny zoo and digits (seconds on a CPU)."""
import numpy as np
import pytest

from sat_lib.analysis import sat_ensembles as E
from sat_lib.analysis import sat_training as T
from sat_lib.experiments import resolve_params
from sat_lib.experiments import sat_ensembles, sat_matrix, sat_training
from sat_lib.params import ParameterError
from tests._env import project_dirs


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    with project_dirs(tmp_path_factory, "sat-training") as (tmp, mp):
        cfg = resolve_params("sat-training", "smoke")
        zoo = sat_matrix.run(sat_training.matrix_config(cfg))
        ds = sat_training.run(cfg)
        ens = sat_ensembles.run(resolve_params("sat-ensembles", "smoke"))
        yield cfg, zoo, ds, ens


def test_every_variant_is_trained_attacked_and_scored(smoke):
    cfg, zoo, ds, _ = smoke
    n = len(cfg.archs) * len(cfg.kinds) * cfg.n_per_kind
    assert ds.sizes["model"] == n and ds["sat"].shape == (n, n)
    assert ds["test_logits"].shape[:2] == (n, zoo.sizes["test_sample"])
    assert set(ds["kind"].values) == set(cfg.kinds)
    np.testing.assert_array_equal(ds["sample"].values, zoo["sample"].values)  # the images the zoo was attacked on


def test_the_zoos_own_model_is_reused_not_retrained(smoke):
    cfg, zoo, ds, _ = smoke
    arch = cfg.archs[0]
    own = ds.sel(model=f"{arch}/seed-{cfg.seed}")
    assert bool(own["weights_from_cache"])
    np.testing.assert_array_equal(own["test_logits"].values, zoo["test_logits"].sel(model=arch).values)
    assert own["accuracy"].item() == pytest.approx(zoo["accuracy"].sel(model=arch).item())


def test_cost_table_leaves_out_the_zoos_own_models(smoke):
    cfg, _, ds, _ = smoke
    own = ds["description"].values != "the zoo's model"
    cost = T.cost_table(ds)
    assert cost.loc["training", "models"] == own.sum() == ds.sizes["model"] - len(cfg.archs)
    assert cost.loc["training", "minutes"] == pytest.approx(ds["train_seconds"].values[own].sum() / 60)
    assert cost.loc["total", "minutes"] == pytest.approx(cost["minutes"].drop("total").sum())


def test_table4_and_claims_have_a_row_per_group_and_keys_of_the_claims_file(smoke):
    cfg, zoo, ds, _ = smoke
    t4 = T.table4(ds, zoo, n_boot=50)
    assert len(t4) == len(cfg.archs) * len(cfg.kinds) + 1
    claims = T.claims_table(ds, zoo, n_boot=50)
    assert set(claims["key"]) == {"all", "same_architecture", "procedure_vs_architecture", "regime_vs_initialization"}
    assert all(v in {"agrees", "disagrees", "inconclusive", "—"} or v.startswith("not tested (gate: ") for v in claims["verdict"])


def test_group_means_are_the_mean_over_the_groups_pairs(smoke):
    _, zoo, ds, _ = smoke
    arch, kind = ds["arch"].values[0], "initialization"
    m = T.group_members(ds, arch, kind)
    sat = T.symmetric(ds["sat"])
    want = np.mean([sat[a, b] for i, a in enumerate(m) for b in m[i + 1:]])
    est, _ = T.group_estimate(ds, arch, kind, n_boot=50)
    assert est.value == pytest.approx(want)


def test_ensembles_from_the_stored_logits_match_a_brute_force_pair(smoke):
    _, zoo, _, ens = smoke
    y = zoo["test_logits"].values.argmax(-1)  # any labels will do for the cross-check: use the stored ones
    from sat_lib.config import project_config
    y = np.asarray(project_config().load_data("digits", "test").labels)
    lg = zoo["test_logits"].values.astype(np.float32)
    p = E.pair_frame(ens).iloc[3]
    m = [p["i"], p["j"]]
    member_err = (lg[m].argmax(-1) != y).mean()
    ens_err = (lg[m].mean(0).argmax(-1) != y).mean()
    assert p["err"] == pytest.approx(1 - ens_err / member_err)
    assert p["error"] == pytest.approx(ens_err)
    claims = E.claims_table(ens, n_boot=50)
    assert {"pearson_sat_err", "diversity_helps"} <= set(claims["key"])


def test_fig6_uses_only_feasible_cluster_draws(smoke):
    _, _, _, ens = smoke
    v = ens["clusters_err"]
    for n in ens["size"].values:
        for k in ens["k"].values:
            if k > n:
                assert np.isnan(v.sel(size=n, k=k).values).all()


def test_fig6_of_an_older_result_is_rescored_from_the_stored_logits_as_compute_scores_it(smoke):
    """A result stored before small cells were enumerated lacks the counts: ``fig6`` rescores it from the zoo's
    stored logits, and gets what a fresh compute stores."""
    _, _, _, ens = smoke
    cfg = resolve_params("sat-ensembles", "smoke")
    stored = sat_ensembles.fig6(cfg, ens)
    assert stored.attrs["source"].startswith("stored")
    old = ens.drop_vars(["clusters_ensembles", "clusters_scored"])
    with pytest.raises(ValueError, match="predate"):
        E.claims_table(old, n_boot=50)
    rescored = sat_ensembles.fig6(cfg, old)
    assert rescored.attrs["source"].startswith("rescored")
    for name in stored.data_vars:
        np.testing.assert_array_equal(rescored[name].values, stored[name].values)
    assert (stored["clusters_scored"] <= stored["clusters_ensembles"]).all()
    assert (stored["clusters_scored"] <= cfg.n_draws).all()
    claims = E.claims_table(old, n_boot=50, fig6=rescored)
    assert all(v in {"agrees", "disagrees", "inconclusive", "—"} or v.startswith("not tested (gate: ") for v in claims["verdict"])


def test_fig5_title_prints_the_tables_r(smoke):
    import matplotlib.pyplot as plt

    from sat_lib.plots import sat_ensembles as figures

    _, _, _, ens = smoke
    est = E.fig5_estimates(ens, n_boot=50)
    fig = figures.sat_vs_err(ens, est["Pearson r(SAT, ERR)"])
    text = E.fig5_table(ens, estimates=est).loc["Pearson r(SAT, ERR)", "value [95 % CI, models]"]
    assert text in fig.axes[0].get_title()
    plt.close(fig)


@pytest.mark.parametrize("override, message", [
    ({"archs": "no_such_model"}, "no_such_model"),
    ({"kinds": "seeds"}, "diversity kind"),
    ({"n_per_kind": 1}, ">= 2"),
    ({"n_per_kind": 40}, "at most"),
])
def test_bad_parameters_are_named_before_anything_runs(override, message):
    with pytest.raises(ParameterError, match=message):
        resolve_params("sat-training", "smoke", override)


def test_bad_ensemble_parameters_are_named():
    with pytest.raises(ParameterError, match="sizes"):
        resolve_params("sat-ensembles", "smoke", {"sizes": "1"})


def test_a_downstream_result_is_keyed_by_its_upstream_results(smoke, monkeypatch):
    """A changed zoo (here: another attack) gives sat-ensembles another key, never the old scores."""
    from sat_lib.experiments._chapter import upstream_keys

    ens_cfg = resolve_params("sat-ensembles", "smoke")
    keys = upstream_keys(sat_ensembles.matrix_config(ens_cfg), sat_ensembles.training_config(ens_cfg))
    _, _, ds, ens = smoke
    assert keys["sat-training"] == ds.attrs["cache_key"]
    assert ens.attrs["training_result"] == ds.attrs["cache_key"]
    other = upstream_keys(sat_ensembles.matrix_config(ens_cfg).replace(steps=2))
    assert other["sat-matrix"] != keys["sat-matrix"]
