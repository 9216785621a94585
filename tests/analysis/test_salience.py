"""Analyses of the salience chapter on synthetic populations with known answers."""
import numpy as np
import pytest
import xarray as xr
from scipy import integrate, stats

from sat_lib.analysis import salience as A


def population(family="CNNSmall", dataset="toy", widths=(2, 4), seeds=3, noise=(3.0, 0.5), shared=None, n=64,
               d=48, rng=0):
    """Fingerprints = a shared direction per sample + noise shrinking with width (so similarity rises with k)."""
    rng = np.random.default_rng(rng)
    base = shared if shared is not None else rng.standard_normal((n, d))
    k = np.repeat(widths, seeds)
    fps = np.stack([base + s * rng.standard_normal((n, d)) for s in np.repeat(noise[:len(widths)], seeds)])
    fps /= np.linalg.norm(fps, axis=2, keepdims=True)
    p = np.einsum("and,bnd->ab", fps, fps) / n
    names = [f"k{a}-s{b}" for a, b in zip(k, np.tile(range(seeds), len(widths)))]
    return xr.Dataset(
        {"fingerprint": (("model", "sample", "channel", "row", "col"), fps.reshape(len(k), n, 3, 4, 4)),
         "p_ind": (("resolution", "model", "model_b"), np.stack([p, p])),
         "alpha": (("model", "model_b"), 1 - p / 2), "adv_accuracy": (("model", "model_b"), 0.5 - p / 4),
         "salience_accuracy": ("model", np.full(len(k), 0.9))},
        coords={"model": names, "model_b": names, "k": ("model", k),
                "seed": ("model", np.tile(range(seeds), len(widths))), "width": list(widths),
                "resolution": ["full", "4x4"]},
        attrs={"family_label": family, "family_short": family[:2], "dataset": dataset, "batch_size": 128,
               "role": "main"})


def test_width_similarity_rises_when_noise_falls():
    p = A.width_similarity(population())
    assert p.dims == ("k1", "k2")
    assert p.sel(k1=4, k2=4) > p.sel(k1=2, k2=4) > p.sel(k1=2, k2=2)


def test_width_similarity_leaves_out_a_model_with_itself():
    ds = population(widths=(2,), seeds=2)
    assert float(A.width_similarity(ds).item()) == pytest.approx(ds["p_ind"].values[0, 0, 1])


def test_uniform_baseline_is_the_cosine_of_random_directions():
    d = 50
    val, _ = integrate.quad(lambda t: np.exp(A.uniform_logpdf(t, d)), -1, 1)
    assert val == pytest.approx(1, abs=1e-6)
    g = np.random.default_rng(0).standard_normal((4000, d))
    cos = g[:, 0] / np.linalg.norm(g, axis=1)
    cdf = lambda t: stats.beta((d - 1) / 2, (d - 1) / 2, loc=-1, scale=2).cdf(t)
    assert stats.kstest(cos, cdf).pvalue > 0.01


@pytest.mark.parametrize("kappa", [20.0, 200.0])
def test_saw_fit_recovers_kappa(kappa):
    d = 100
    grid = A.core._GRID
    dens = np.exp(A.core._saw_log_density(grid, kappa, d)) * np.gradient(grid)
    cdf = np.cumsum(dens) / dens.sum()
    t = np.interp(np.random.default_rng(1).random(3000), cdf, grid)
    fit = A.fit_saw(t, d)
    assert fit["kappa"] == pytest.approx(kappa, rel=0.1)
    assert fit["ks_pvalue"] > 0.01


def test_saw_fit_rejects_a_bimodal_t():
    rng = np.random.default_rng(2)
    t = np.concatenate([rng.normal(0.1, 0.02, 1500), rng.normal(0.7, 0.02, 1500)])
    assert A.fit_saw(t, 100)["ks_pvalue"] < 1e-6


def test_cross_family_is_high_for_a_shared_direction_and_low_otherwise():
    shared = np.random.default_rng(5).standard_normal((64, 48))
    pops = {"a": population("A", shared=shared, rng=1), "b": population("B", shared=shared, rng=2),
            "c": population("C", rng=3)}
    cf = A.cross_family(pops, "toy")
    big = cf.sel(k=4)
    want = np.sqrt(float(big.sel(family="A", family_b="A")) * float(big.sel(family="B", family_b="B")))
    assert float(big.sel(family="A", family_b="B")) == pytest.approx(want, rel=0.1) and want > 0.7
    assert abs(float(big.sel(family="A", family_b="C"))) < 0.15
    assert float(cf.sel(k=4, family="A", family_b="A")) > float(cf.sel(k=2, family="A", family_b="A"))
    with pytest.raises(ValueError, match="no population"):
        A.cross_family(pops, "cifar10")


def test_wasserstein_table_is_small_within_a_homogeneous_family():
    table = A.wasserstein_table({"a": population()})
    assert list(table.columns) == ["k=2", "k=4"]
    mean = float(table.loc["CN · toy", "k=4"].split("±")[0])
    assert 0 <= mean < 0.1


def test_transfer_matrix_excludes_a_model_attacking_itself():
    ds = population(widths=(2,), seeds=2)
    m = A.transfer_matrix(ds)
    assert float(m.item()) == pytest.approx(ds["alpha"].values[0, 1])
    drop = A.transfer_matrix(ds, "accuracy_drop")
    assert float(drop.item()) == pytest.approx(0.9 - ds["adv_accuracy"].values[0, 1])
    with pytest.raises(ValueError, match="'alpha' or 'accuracy_drop'"):
        A.transfer_matrix(ds, "rate")


def test_trend_is_spearman_and_needs_three_widths():
    assert A.trend([0.1, 0.2, 0.3], [10, 20, 40]) == pytest.approx(1)
    assert np.isnan(A.trend([0.1, 0.2], [10, 20]))


def test_mean_direction_similarity_is_symmetric_and_high_for_a_shared_direction():
    m = A.mean_direction_similarity(population(seeds=4))
    np.testing.assert_allclose(m.sel(k1=2, k2=4), m.sel(k1=4, k2=2))
    assert float(m.sel(k1=4, k2=4)) > float(m.sel(k1=2, k2=2))
    # one shared direction under noise: the cross-width value is the geometric mean of the two split-half ones
    want = np.sqrt(float(m.sel(k1=2, k2=2)) * float(m.sel(k1=4, k2=4)))
    assert float(m.sel(k1=2, k2=4)) == pytest.approx(want, rel=0.1)


def test_uniform_tail_matches_the_density():
    d = 30
    val, _ = integrate.quad(lambda t: np.exp(A.uniform_logpdf(t, d)), 0.2, 1)
    assert A.uniform_tail(0.2, d) == pytest.approx(val, rel=1e-6)
    assert A.uniform_tail(0.0, d) == pytest.approx(0.5)


def test_seed_splits_are_disjoint_halves():
    splits = A.seed_splits(range(5))
    assert splits and all(len(a) == len(b) == 2 and not set(a) & set(b) for a, b in splits)
    assert all(0 in a for a, _ in splits)  # each split once, not also mirrored


def test_constant_share_sees_a_uniform_colour_salience():
    ds = population()
    assert A.constant_share(ds) < 0.2
    flat = ds.copy()
    fp = np.ones_like(ds["fingerprint"].values)
    flat["fingerprint"] = (ds["fingerprint"].dims, fp / np.sqrt(fp[0, 0].size))
    assert A.constant_share(flat) == pytest.approx(1)


def test_pair_similarity_per_image_averages_distinct_pairs_to_the_stored_p_ind():
    ds = population(seeds=3)
    per_image = A.pair_similarity_per_image(ds, 4)
    assert per_image.shape == (ds.sizes["sample"],)
    assert per_image.mean() == pytest.approx(float(A.width_similarity(ds, "4x4").sel(k1=4, k2=4)))


def test_width_trend_claim_agrees_when_similarity_rises_and_disagrees_when_it_falls():
    from sat_lib.claims import scored_claims
    from sat_lib.claims.verdict import decide

    claim = scored_claims("salience")["width_trend"]
    rising = {"a": population(rng=1), "b": population("B", rng=2)}
    what, est = A.claims._width_trend(rising, "4x4", 300)
    assert est.unit == "test images" and decide(claim, est) == "agrees"
    falling = {"a": population(noise=(0.5, 3.0), rng=1)}
    assert decide(claim, A.claims._width_trend(falling, "4x4", 300)[1]) == "disagrees"


def test_cross_family_ratio_is_near_one_for_one_shared_direction():
    from sat_lib.claims import scored_claims
    from sat_lib.claims.verdict import decide

    claim = scored_claims("salience")["cross_family_level"]
    shared = np.random.default_rng(5).standard_normal((64, 48))
    pops = {f: population(f, shared=shared, seeds=4, rng=i) for i, f in enumerate(("A", "B"))}
    for ds, fam in zip(pops.values(), ("cnn_small", "resnet_small")):
        ds.attrs["family"] = fam
    what, est = A.claims._cross_family_level(pops, 300)
    assert est.value == pytest.approx(1, abs=0.1) and decide(claim, est) == "agrees"
    pops["b"] = population("C", seeds=4, rng=7)        # an unrelated direction: far below one
    pops["b"].attrs["family"] = "resnet_small"
    pops = {"a": pops["A"], "b": pops["b"]}
    assert A.claims._cross_family_level(pops, 300)[1].high < 0.5
    assert decide(claim, A.claims._cross_family_level(pops, 300)[1]) == "disagrees"


def test_cost_text_sums_each_populations_duration_by_role():
    pops = {"a": xr.Dataset(attrs={"duration_s": 600.0, "role": "main"}),
            "b": xr.Dataset(attrs={"duration_s": 300.0, "role": "main"}),
            "c": xr.Dataset(attrs={"duration_s": 120.0, "role": "batch-study"})}
    assert A.cost_text(pops) == ("the whole computation took 17 minutes (15 for the width populations, "
                                       "2 for the batch-size study)")
    assert A.cost_text({"a": pops["a"]}) == "the whole computation took 10 minutes"


def test_cross_family_rise_is_like_for_like():
    """Two families that share one direction and both sharpen with k: the raw cross-family cosine rises, but as a
    fraction of the within-family cosine it does not — the claim row reads the fraction."""
    shared = np.random.default_rng(5).standard_normal((64, 48))
    pops = {f: population(f, shared=shared, seeds=4, rng=i) for i, f in enumerate(("A", "B"))}
    for ds, fam in zip(pops.values(), ("cnn_small", "resnet_small")):
        ds.attrs["family"] = fam
    fams = list(pops.values())
    assert A.claims._cross_per_image(fams, 4).mean() > A.claims._cross_per_image(fams, 2).mean() + 0.1
    what, est = A.claims._cross_family_rise(pops, 300)
    assert "÷" in what and est.low < 0 < est.high and abs(est.value) < 0.1


def _with_accuracy(ds, acc, dataset="cifar10"):
    ds = ds.assign(accuracy=("model", np.asarray(acc, float)))
    ds.attrs["dataset"] = dataset
    return ds


def test_a_population_with_a_model_at_twice_chance_fails_the_gate_and_its_claims_read_not_tested():
    from sat_lib.claims import scored_claims
    from sat_lib.claims.verdict import NOT_TESTED, claim_row

    good = _with_accuracy(population(rng=1), np.full(6, 0.6))
    weak = _with_accuracy(population("B", rng=2), [0.6, 0.6, 0.2, 0.6, 0.6, 0.6])  # 20 %: twice chance of 10
    assert A.checks({"a": good})[0].passed is True
    gate = A.checks({"a": good, "b": weak})[0]
    assert gate.passed is False and "12 population models" in gate.detail and "B · cifar10, k2-s2 20.0 %" in gate.detail
    assert "official_width_trend" not in gate.claims  # the authors' checkpoints have their own gate
    est = A.claims._width_trend({"a": good}, "4x4", 200)[1]
    claim = scored_claims("salience")["width_trend"]
    assert claim_row("x", claim, est, key="width_trend", gates=[gate])["verdict"].startswith(NOT_TESTED)
    assert claim_row("x", claim, est, key="width_trend", gates=A.checks({"a": good}))["verdict"] == "agrees"
    unknown = _with_accuracy(population(rng=1), np.full(6, 0.6), dataset="toy")
    assert A.checks({"a": unknown})[0].passed is None  # not computed: shown, does not block


def test_rows_of_one_statement_get_one_verdict():
    import pandas as pd

    table = pd.DataFrame({"claim": ["a", "b", "c"], "key": ["transfer", "transfer", "width_trend"],
                          "source": "paper", "kind": "direction", "verdict": ["agrees", "inconclusive", "agrees"]})
    assert A.verdicts(table) == {"inconclusive": ["transfer"], "agrees": ["width_trend"]}


def test_every_claim_declares_a_kind_and_the_unnumbered_readings_are_the_projects():
    from sat_lib.claims import scored_claims

    claims = scored_claims("salience")
    assert {c["kind"] for c in claims.values()} <= {"direction", "equivalence"}
    for key in ("cross_family_level", "saw_fit"):
        assert claims[key]["source"] == "project" and claims[key]["reason"]
