"""The attacks chapter on the tiny zoo and digits (seconds on a CPU)."""
import numpy as np
import pytest

from sat_lib.analysis import sat_attacks as A
from sat_lib.experiments import resolve_params, sat_attacks, sat_matrix, sat_training
from sat_lib.params import ParameterError
from tests._env import project_dirs


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    with project_dirs(tmp_path_factory, "sat-attacks") as (tmp, mp):
        cfg = resolve_params("sat-attacks", "smoke")
        zoo = sat_matrix.run(sat_attacks.matrix_config(cfg))
        training = sat_training.run(sat_attacks.training_config(cfg))
        stored = lambda: len(list((tmp / "cache" / "adversarial" / "digits").glob("*.pt")))  # noqa: E731
        before = stored()
        ds = sat_attacks.run(cfg)  # the chapter, then its Patch-Fool section
        yield cfg, zoo, training, ds, stored() - before


def test_autoattack_examples_are_stored_beside_pgds_not_over_them(smoke):
    cfg, zoo, _, ds, new_files = smoke
    # one file per re-attacked model and one for the Patch-Fool source; every PGD example was reused (the section's
    # targets are zoo models, attacked by the zoo's PGD already)
    assert new_files == len(cfg.attack_models) + 1
    np.testing.assert_array_equal(ds["sat_pgd"].values,
                                  zoo["sat"].sel(model=list(cfg.attack_models), model_b=list(cfg.attack_models)).values)


def test_autoattack_fools_its_own_model_at_least_as_often_as_pgd(smoke):
    _, zoo, _, ds, _ = smoke
    wb = A.white_box(ds, zoo)
    assert (wb["AutoAttack fools (%)"] >= wb["PGD fools (%)"] - 1e-9).all()


def test_new_models_are_the_retrained_ones_except_the_zoos_own(smoke):
    cfg, _, training, ds, _ = smoke
    own = f"{cfg.archs[0] if hasattr(cfg, 'archs') else 'tiny_cnn'}/seed-{cfg.seed}"
    assert own not in ds["new"].values
    assert set(ds["new"].values) == set(training["model"].values) - {own}


def test_two_sided_sat_of_a_new_model_matches_a_direct_computation(smoke):
    """Cross-check one (new, zoo) pair against Eq. 1 from the training chapter's own all-pairs result, which
    attacked and evaluated the new model and the zoo's sibling itself."""
    cfg, zoo, training, ds, _ = smoke
    new = ds["new"].values[0]
    sib = str(ds["new_arch"].values[0])
    own = f"{sib}/seed-{cfg.seed}"  # the zoo's model inside the training chapter's result
    want = training["sat"].sel(model=new, model_b=own).item()
    got = ds["new_sat_two_sided"].sel(new=new, model=sib).item()
    assert got == pytest.approx(want, nan_ok=True)


def test_decision_region_rates_are_means_of_the_per_plane_similarities(smoke):
    _, zoo, _, ds, _ = smoke
    per = ds["triplet_similarity"].values
    assert ((0 <= per) & (per <= 100)).all()
    lo, hi = per.min(), per.max()
    rates = ds["boundary_rate"].values
    assert ((rates >= lo - 1e-9) & (rates <= hi + 1e-9)).all()
    assert ds.attrs["forward_passes_per_triplet"] == 2 * 8 ** 2
    assert ds.attrs["boundary_clamped"] == 0                     # Somepalli et al.'s planes: not clamped
    gate = [g for g in A.checks(ds, zoo) if g.name.startswith("decision-region planes")][0]
    assert gate.passed is True


def test_claims_carry_every_key_of_the_claims_file_that_the_smoke_run_can_speak_for(smoke):
    cfg, zoo, _, ds, _ = smoke
    table = A.claims_table(ds, zoo, cfg, n_boot=50)
    assert {"pgd_vs_autoattack", "one_vs_two_sided", "new_model_cluster", "sat_more_stable"} <= set(table["key"])
    assert all(v in {"agrees", "disagrees", "inconclusive", "—"} or v.startswith("not tested (gate: ") for v in table["verdict"])
    a = A.assignment(ds, zoo, cfg.n_clusters)
    assert len(a) == ds.sizes["new"] and len(A.assignment_table(a, n_boot=50)) >= 2
    assert "Fig. G.1a" in A.discussion(ds, zoo, table)


def test_figure_titles_print_our_pearson_with_the_tables_interval(smoke):
    import matplotlib.pyplot as plt

    from sat_lib.plots import sat_attacks as figures

    _, zoo, _, ds, _ = smoke
    g1 = A.attack_estimates(ds, n_boot=50)
    fig = figures.pgd_vs_autoattack(ds, g1["pearson"])
    assert g1["pearson"].text(A.decisive_format(0.98, g1["pearson"])) in fig.axes[0].get_title()
    assert A.attack_table(ds, estimates=g1).iloc[0, 0] == g1["pearson"].text(A.decisive_format(0.98, g1["pearson"]))
    plt.close(fig)
    g2 = {k: A.sided_estimates(ds, zoo, n_boot=50, kind=k) for k in A.SIDED_STATS}
    fig = figures.one_vs_two_sided(ds, zoo, g2["pearson"])
    table = A.sided_table(ds, zoo, estimates=g2)
    for ax, what in zip(fig.axes, A.SIDED):
        assert table.loc[what, "Pearson r [95 % CI]"] in ax.get_title()
    plt.close(fig)
    assert "Spearman" in A.discussion(ds, zoo, A.claims_table(ds, zoo, n_boot=50), g2)


@pytest.mark.parametrize("override, message", [
    ({"attack_models": "tiny_cnn,tiny_vit"}, "at least 3"),
    ({"attack_models": "tiny_cnn,tiny_cnn,tiny_vit"}, "at least 3 different"),
    ({"triplet_sizes": "4,20"}, "triplet_pool"),
    ({"n_clusters": 1}, "n_clusters"),
    ({"attack_models": "tiny_cnn,tiny_vit,no_such_net"}, "no_such_net"),
])
def test_bad_parameters_are_named_before_anything_runs(override, message):
    with pytest.raises(ParameterError, match=message):
        resolve_params("sat-attacks", "smoke", override)


# --- Fig. G.1b: the Patch-Fool section ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def patch(smoke):
    cfg = smoke[0]
    return sat_attacks.patch_result(cfg, mode="cache_only")


def test_the_section_is_stored_on_its_own_and_reuses_the_zoos_models(smoke, patch):
    cfg, zoo, _, _, _ = smoke
    names = [cfg.patch_source, *cfg.patch_targets]
    assert list(patch["model"].values) == names
    # the same weights and PGD examples as the zoo's: SAT by PGD among them is the zoo's, bit for bit
    np.testing.assert_array_equal(patch["sat_pgd"].values, zoo["sat"].sel(model=names, model_b=names).values)
    np.testing.assert_array_equal(patch["correct"].values, zoo["correct"].sel(model=names).values)


@pytest.mark.parametrize("fooled, transfer, sat", [("fooled_patch", "transfer_patch", "sat_patch_one_sided"),
                                                    ("fooled_random", "transfer_random", "sat_random_one_sided")])
def test_patch_fool_and_control_transfer_match_a_brute_force_count(patch, fooled, transfer, sat):
    src = patch.attrs["source"]
    c_src = patch["correct"].sel(model=src).values
    for m in patch["model"].values:
        both = c_src & patch["correct"].sel(model=m).values
        rate = 100 * patch[fooled].sel(model=m).values[both].sum() / both.sum()
        assert patch[transfer].sel(model=m).item() == pytest.approx(rate)
        assert patch[sat].sel(model=m).item() == pytest.approx(np.log(max(rate, 0.01)))


def test_the_random_patch_control_gates_the_patch_fool_claim(smoke, patch):
    from sat_lib.analysis import sat_patch as P

    excess = P.control_excess(patch, n_boot=50)
    f = P.patch_frame(patch)
    assert excess.value == pytest.approx((f["Patch-Fool transfer (%)"] - f["random-patch transfer (%)"]).mean())
    gate = P.control_gate(patch, n_boot=50)
    assert gate.passed is bool(excess.low > 0) and gate.claims == ("pgd_vs_patchfool",)
    assert gate.name in [g.name for g in A.checks(smoke[3], smoke[1], patch)]
    rows = P.claim_rows(patch, n_boot=50)
    assert sum(r["key"] == "pgd_vs_patchfool" for r in rows) == 2    # accuracy partialled; control too


def test_patch_examples_change_one_patch_only(patch):
    changed = (patch["example_clean"] != patch["example_patch"]).any("channel").values   # (example, 8, 8)
    assert patch.sizes["example"] >= 1
    assert (changed.reshape(len(changed), -1).sum(1) <= 16).all()                     # tiny_vit: 4×4 patches


def test_patch_claims_table_figure_and_retrained_check(smoke, patch):
    import matplotlib.pyplot as plt

    from sat_lib.analysis import sat_patch as P
    from sat_lib.plots import sat_attacks as figures

    cfg, zoo, _, ds, _ = smoke
    table = A.claims_table(ds, zoo, cfg, n_boot=50, patch=patch)
    assert "pgd_vs_patchfool" in set(table["key"])
    assert "Fig. G.1b" in A.discussion(ds, zoo, table)
    est = P.patch_estimates(patch, n_boot=50)
    fig = figures.pgd_vs_patchfool(patch, est["pearson"])
    assert est["pearson"].text(A.decisive_format(0.91, est["pearson"])) in fig.axes[0].get_title()
    plt.close(fig)
    plt.close(figures.patch_examples(patch))
    assert len(P.patch_frame(patch)) == len(cfg.patch_targets)
    wb = P.white_box(patch)
    assert wb["pixels changed (% of the image)"].iloc[1] <= 100 * 16 / 64
    again = P.retrained(patch, zoo, n_boot=50)   # the same machine and cache: identical
    np.testing.assert_allclose(again.iloc[:, 2], again.iloc[:, 3])
    assert "same machine" in P.retrained_summary(again, patch, zoo)


def test_section_parameters_leave_the_chapters_key_alone_and_can_switch_it_off(smoke):
    from sat_lib.experiments._chapter import result_key_params

    cfg = smoke[0]
    assert result_key_params(cfg.replace(patch_steps=7)) == result_key_params(cfg)
    off = cfg.replace(patch_source="")
    assert sat_attacks.patch_result(off) is None and "empty" in sat_attacks.patch_skip_reason(off)
    missing = cfg.replace(patch_steps=7)
    assert sat_attacks.patch_result(missing, mode="cache_only") is None
    assert "sat-companion run sat-attacks" in sat_attacks.patch_skip_reason(missing)


@pytest.mark.parametrize("override, message", [
    ({"patch_targets": "tiny_cnn,tiny_vit,tiny_swin"}, "other than the source"),
    ({"patch_targets": "tiny_cnn,tiny_swin"}, "at least 3 targets"),
    ({"patch_source": "no_such_vit"}, "no_such_vit"),
])
def test_bad_patch_parameters_are_named_before_anything_runs(override, message):
    with pytest.raises(ParameterError, match=message):
        resolve_params("sat-attacks", "smoke", override)
