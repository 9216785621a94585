"""Analyses of the diversity-training chapter: the Littlewood–Miller statistics against brute force, the
seeds × images bootstrap, the consensus rule of each method."""
import math

import numpy as np
import pytest

from sat_lib.analysis import diversity_training as A


def brute_force(fails, groups, blocks=None):
    """The LM quantities pair by pair: a pair of one group is predicted from the pairs of *other* models of its
    group from different blocks, a pair of two groups from the other models of each."""
    f = fails.astype(float)
    m = len(groups)
    blocks = blocks or [str(i) for i in range(m)]
    p = f.mean(1)
    same, diff, obs, lm, ind = [], [], [], [], []
    for i in range(m):
        for j in range(i + 1, m):
            if blocks[i] == blocks[j]:
                continue
            e = (f[i] * f[j]).mean() - p[i] * p[j]
            (same if groups[i] == groups[j] else diff).append(e)
            a = [k for k in range(m) if groups[k] == groups[i] and k not in (i, j)]
            b = [k for k in range(m) if groups[k] == groups[j] and k not in (i, j)]
            if groups[i] == groups[j]:
                cross = [(k, l) for k in a for l in a if k != l and blocks[k] != blocks[l]]
                if not cross:
                    continue
                pred = np.mean([(f[k] * f[l]).mean() for k, l in cross])
                indep = np.mean([p[k] * p[l] for k, l in cross])
            else:
                if not a or not b:
                    continue
                pred = (f[a].mean(0) * f[b].mean(0)).mean()
                indep = p[a].mean() * p[b].mean()
            obs.append((f[i] * f[j]).mean())
            lm.append(pred)
            ind.append(indep)
    obs, lm, ind = map(np.array, (obs, lm, ind))
    labels = list(dict.fromkeys(groups))
    theta = {g: f[[k for k in range(m) if groups[k] == g]].mean(0) for g in labels}
    covs = [np.mean((theta[a] - theta[a].mean()) * (theta[b] - theta[b].mean()))
            for ia, a in enumerate(labels) for b in labels[ia + 1:]]
    return {"excess_gap": 100 * (np.mean(diff) - np.mean(same)), "cov_between": np.mean(covs),
            "prediction_gain": 100 * (np.abs(obs - ind).mean() - np.abs(obs - lm).mean()),
            "lm_error": 100 * np.abs(obs - lm).mean(), "independence_error": 100 * np.abs(obs - ind).mean(),
            "lm_bias": 100 * (obs - lm).mean(), "independence_bias": 100 * (obs - ind).mean()}


@pytest.mark.parametrize("blocks", [None, ["a0", "a0", "a1", "b0", "b0", "b1", "c0", "c1"],
                                    ["a0", "a1", "a2", "b0", "b0", "b1", "c0", "c1"]])
def test_littlewood_miller_statistics_match_brute_force(blocks):
    rng = np.random.default_rng(0)
    hard = rng.random(400) < 0.3  # shared difficulty: failures correlate across models
    fails = (rng.random((8, 400)) < np.where(hard, 0.6, 0.15))
    groups = ["a", "a", "a", "b", "b", "b", "c", "c"]
    lm = A.LMStats(groups, blocks)
    got = lm.stats(lm.vectors(fails))
    want = brute_force(fails, groups, blocks)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=1e-9), key


def test_shared_difficulty_shows_as_positive_covariance_and_lm_beats_independence():
    rng = np.random.default_rng(1)
    hard = rng.random(3000) < 0.3
    fails = rng.random((9, 3000)) < np.where(hard, 0.7, 0.1)
    est = A.lm_estimates(fails[:, None], ["x"] * 3 + ["y"] * 3 + ["z"] * 3, n_boot=100)
    assert est["cov_between"].low > 0  # the same inputs are hard for every design
    assert est["prediction_gain"].low > 0  # and the covariance term, not independence, predicts coincident failures
    assert est["excess_gap"].low < 0 < est["excess_gap"].high  # no design is more diverse than another here


def test_seeds_images_counts_each_ensemble_once_and_keeps_its_arrays_together():
    """Two arrays of one group (e.g. equitability and correctness of the same ensembles) share their seed draw
    and count once: 1 heterogeneous ensemble against 3 of another method is 4 ensembles, not 8."""
    rng = np.random.default_rng(1)
    h1, h3 = rng.random((1, 300)), rng.random((3, 300))
    c1, c3 = h1.copy(), h3.copy()  # "correctness" equal to "equitability": paired draws keep them equal
    est = A.seeds_images([h1, c1, h3, c3], lambda x: float(np.abs(x[2] - x[3]).max() + np.abs(x[0] - x[1]).max()),
                         n_boot=100, groups=["het", "het", "gncl", "gncl"])
    assert est.n == 4 and est.low == est.high == 0.0
    unpaired = A.seeds_images([h3, c3], lambda x: float(np.abs(x[0] - x[1]).max()), n_boot=100)
    assert unpaired.n == 6 and unpaired.high > 0  # independent draws of the same ensembles: the old count and drift
    with pytest.raises(ValueError, match="number of seeds"):
        A.seeds_images([h1, h3], lambda x: 0.0, groups=[0, 0])


def test_seeds_images_resamples_both_and_pairs_the_images():
    rng = np.random.default_rng(0)
    a = (rng.random((3, 500)) < 0.8).astype(float)
    est = A.seeds_images([a, a], lambda x: 100 * (x[0].mean() - x[1].mean()), n_boot=200)
    assert est.value == 0 and est.unit == A.SEEDS_IMAGES and est.n == 6
    same = A.difference(a, a.copy(), n_boot=200)
    assert same.value == 0
    b = (rng.random((3, 500)) < 0.6).astype(float)
    d = A.difference(a, b, n_boot=200)
    assert d.value == pytest.approx(100 * (a.mean() - b.mean())) and d.low > 0
    with pytest.raises(ValueError, match="number of images"):
        A.seeds_images([a, b[:, :10]], lambda x: 0.0)


def test_each_method_is_scored_with_its_training_consensus():
    assert A.own_rule("gncl@median") == "median"
    assert A.own_rule("balanced@average") == "average"
    assert A.own_rule("independent") == A.own_rule("attribution") == A.own_rule(A.HETEROGENEOUS) == "average"


def test_split_mean_is_nan_for_an_empty_group():
    h = np.array([0.2, 0.4])
    assert A.split_mean(h, np.array([1.0, 1.0]), True) == pytest.approx(0.3)
    assert math.isnan(A.split_mean(h, np.array([1.0, 1.0]), False))


def test_block_structure_matches_brute_force_with_same_group_predictions():
    rng = np.random.default_rng(2)
    hard = rng.random(300) < 0.3
    fails = rng.random((12, 300)) < np.where(hard, 0.6, 0.15)
    groups = ["a"] * 6 + ["b"] * 6
    blocks = [f"{g}{k // 2}" for g, k in zip(groups, range(12))]  # three ensembles of two members per group
    lm = A.LMStats(groups, blocks)
    assert lm.predictable[lm.same].any()
    got = lm.stats(lm.vectors(fails))
    for key, value in brute_force(fails, groups, blocks).items():
        assert got[key] == pytest.approx(value, abs=1e-9), key


def test_lm_prediction_is_unbiased_when_models_are_draws_of_their_methodology():
    """Members of one ensemble share a perturbation of their methodology's θ (they fail together more than two
    independent draws): the LM prediction from pairs of *other* ensembles' models stays unbiased; counting a
    model with itself or with its ensemble-mates (θ'² from every other model) would over-predict."""
    rng = np.random.default_rng(3)
    n = 8_000
    theta = {g: rng.beta(0.5, 2.0, n) for g in "ab"}
    rows, groups, blocks = [], [], []
    for g in "ab":
        for s in range(4):
            delta = rng.choice([-1.0, 1.0], n) * 0.5 * np.minimum(theta[g], 1 - theta[g])
            for _ in range(3):
                rows.append(rng.random(n) < theta[g] + delta)
                groups.append(g)
                blocks.append(f"{g}{s}")
    est = A.lm_estimates(np.array(rows)[:, None], groups, n_boot=200, blocks=blocks)
    assert est["lm_bias"].low < 0 < est["lm_bias"].high
    assert est["independence_bias"].low > 0  # Var θ_A > 0: two models of one group fail together more
    assert est["prediction_gain"].low > 0


def test_reported_lm_intervals_contain_their_estimates():
    """The LM table's signed errors (percentile) and the claims' gain in mean absolute error (BCa) cover their
    own point estimates, where a percentile interval of a mean absolute error need not: sampling noise inflates
    |observed − predicted|, the bootstrap's replicates more than the estimate."""
    rng = np.random.default_rng(4)
    n = 2_000
    theta = rng.beta(0.5, 2.0, n)
    fails = np.array([rng.random(n) < theta for _ in range(12)])[:, None]
    groups = ["a"] * 6 + ["b"] * 6
    est = A.lm_estimates(fails, groups, n_boot=300)
    for key in ("lm_bias", "independence_bias", "prediction_gain", "excess_gap", "cov_between"):
        assert est[key].low <= est[key].value <= est[key].high, key
    pct = A.lm_estimates(fails, groups, n_boot=300, bca=())["lm_error"]
    # the defect: every model is a draw of one θ (true error ~0), and the estimate sits at the interval's edge
    assert pct.value - pct.low < 0.1 * (pct.high - pct.low)


def test_bca_interval_matches_scipy():
    from scipy import stats

    rng = np.random.default_rng(5)
    x = rng.exponential(1.0, 40)
    boots = [np.var(x[rng.integers(0, 40, 40)]) for _ in range(20_000)]
    jack = [np.var(np.delete(x, i)) for i in range(40)]
    ours = A.bca_interval(boots, float(np.var(x)), jack, "values", 40)
    ref = stats.bootstrap((x,), np.var, n_resamples=20_000, method="BCa", random_state=np.random.default_rng(6))
    width = ref.confidence_interval.high - ref.confidence_interval.low
    assert ours.low == pytest.approx(ref.confidence_interval.low, abs=0.03 * width)
    assert ours.high == pytest.approx(ref.confidence_interval.high, abs=0.03 * width)
    assert ours.low > np.percentile(boots, 2.5)  # the variance's plug-in is biased low: BCa shifts the interval up


def test_pair_deviations_average_to_the_lm_error():
    rng = np.random.default_rng(6)
    f = rng.random((11, 400)) < rng.random((11, 1)) * rng.random(400)
    groups = ["a"] * 5 + ["b"] * 4 + ["c"] * 2
    blocks = ["a0", "a0", "a1", "a2", "a2", "b0", "b1", "b1", "b1", "c0", "c1"]
    lm = A.LMStats(groups, blocks)
    dev = lm.deviations(f).astype(float).mean(1)
    want = brute_force(f, groups, blocks)
    assert 100 * dev.mean() == pytest.approx(want["lm_bias"], abs=1e-4)
    assert 100 * np.abs(dev).mean() == pytest.approx(want["lm_error"], abs=1e-4)


def _draws(n, rng, split=0.0):
    """Two methodologies, four ensembles of three members each; with ``split`` the ensembles of each methodology
    come in two kinds whose difficulty differs (pairs of one kind fail together more than the LM predicts)."""
    theta = {g: rng.beta(0.5, 2.0, n) for g in "ab"}
    shift = rng.choice([-1.0, 1.0], n) * split
    rows, groups, blocks = [], [], []
    for g in "ab":
        for s in range(4):
            t = np.clip(theta[g] + (shift if s % 2 else -shift) * np.minimum(theta[g], 1 - theta[g]), 0, 1)
            for _ in range(3):
                rows.append(rng.random(n) < t)
                groups.append(g)
                blocks.append(f"{g}{s}")
    return np.array(rows)[:, None], groups, blocks


def test_lm_deviation_is_noise_for_exchangeable_models_and_finds_pair_structure():
    rng = np.random.default_rng(7)
    fails, groups, blocks = _draws(4000, rng)
    est, noise = A.lm_deviation(fails, groups, n_boot=200, blocks=blocks)
    assert est.low <= est.value <= est.high and noise > 0
    assert est.low == 0.0  # nothing beyond the test set's noise
    mae = A.lm_estimates(fails, groups, n_boot=20, blocks=blocks)["lm_error"].value
    assert mae > est.value  # the mean |obs − LM| is noise
    fails, groups, blocks = _draws(4000, rng, split=0.6)
    est, _ = A.lm_deviation(fails, groups, n_boot=200, blocks=blocks)
    assert est.low > 0 and est.low <= est.value <= est.high


def test_resilience_is_the_ratio_of_mean_accuracies_with_paired_sets():
    rng = np.random.default_rng(8)
    clean = (rng.random((3, 400)) < 0.8).astype(float)
    corrupted = clean * (rng.random((3, 400)) < 0.75)  # only clean-correct images survive: paired by image
    x = np.stack([clean, corrupted], 1)
    assert A.resilience_ratio(x) == pytest.approx(100 * corrupted.mean() / clean.mean())
    est = A.seeds_images([x], lambda a: A.resilience_ratio(a[0]), n_boot=200)
    assert est.low <= est.value <= est.high and est.high - est.low < 10


def fake_training(diverse: bool = False, collapse: bool = False, n: int = 400, seed: int = 0):
    """A result shaped like the chapter's (clean set only): independent, gncl@average and attribution ensembles of
    three seeds and a heterogeneous one, each member right on about 75 % of the images. ``diverse``: the GNCL
    members' errors fall on disjoint images (Eq. 4 disagreement 0.5 against about 0.375, and lower CKA);
    ``collapse``: one attribution-loss member predicts class 0 everywhere (about chance)."""
    import json

    import xarray as xr

    rng = np.random.default_rng(seed)
    methods = ["independent"] * 3 + ["gncl@average"] * 3 + ["attribution"] * 3 + ["heterogeneous"]
    seeds = [0, 1, 2] * 3 + [0]
    label = rng.integers(0, 10, n)
    wrong = (label + rng.integers(1, 10, n)) % 10
    pred = np.empty((len(methods), 3, 1, n), dtype=np.int8)
    for e, m in enumerate(methods):
        for i in range(3):
            right = (np.arange(n) + e) % 4 != i if (diverse and m.startswith("gncl")) else rng.random(n) < 0.75
            pred[e, i, 0] = np.where(right, label, wrong)
    if collapse:
        pred[7, 1, 0] = 0
    ens = np.array([np.array([np.bincount(p[:, j], minlength=10).argmax() for j in range(n)])
                    for p in pred[:, :, 0]])[:, None, None, :].repeat(4, 1)
    cka = rng.normal(0.6, 0.005, (len(methods), 4, 4))
    if diverse:
        cka[3:6] -= 0.2
    names = [f"{m}/seed{s}" for m, s in zip(methods, seeds)]
    return xr.Dataset(
        {"pred": (("ensemble", "member", "set", "image"), pred),
         "ens_pred": (("ensemble", "rule", "set", "image"), ens.astype(np.int8)),
         "label": ("image", label.astype(np.int8)),
         "attribution_variance": (("ensemble", "norm", "attr_image"), rng.uniform(0.3, 0.4, (len(methods), 2, 50))),
         "cka": (("ensemble", "layer_a", "layer_b"), cka),
         "diverged": ("ensemble", np.zeros(len(methods), np.int8)),
         "epoch_loss": (("ensemble", "epoch"), np.tile([4.1, 2.5], (len(methods), 1))),
         "zoo_pred": (("model", "set", "image"), pred[:3, :, :, :].reshape(9, 1, n))},
        coords={"ensemble": names, "method": ("ensemble", methods), "seed": ("ensemble", seeds), "set": ["clean"],
                "rule": ["average", "median", "geometric", "vote"], "norm": ["unit", "raw"],
                "model": [f"z{i}" for i in range(9)], "family": ("model", ["CNN"] * 5 + ["ViT"] * 4)},
        attrs={"params_json": json.dumps({"prediction_method": "gncl@average", "attribution_method": "attribution"})})


def _gate(gates, name):
    return next(g for g in gates if g.name == name)


def test_a_gncl_loss_that_did_not_diversify_leaves_its_claims_not_tested():
    from sat_lib.claims import scored_claims
    from sat_lib.claims.verdict import claim_row
    from sat_lib.stats import Estimate

    from sat_lib.analysis.diversity_training.checks import applies

    gates = A.checks(fake_training(diverse=False), n_boot=200)
    gate = _gate(gates, "gncl@average changed member diversity")
    assert gate.passed is False and "Δ Eq. 4 disagreement" in gate.detail
    claims = scored_claims("diversity-training")
    ours = Estimate(0.2, -0.3, 0.7, "seeds × images", 6)
    for key, where in (("gncl_no_resilience_gain", "gncl@average"), ("hetero_more_prediction_diversity", "all sets"),
                       ("balanced_more_resilient", "mean of the corruptions")):
        row = claim_row("x", claims[key], ours, key=key, gates=[g for g in gates if applies(g, key, where)])
        assert row["verdict"] == "not tested (gate: gncl@average changed member diversity)", key
    # another GNCL variant's row is not gated by gncl@average's check
    assert not applies(gate, "gncl_no_resilience_gain", "gncl@median")
    # the project's zoo hypotheses rest on no trained ensemble
    assert not any(applies(g, "lm_negative_covariance", "zoo families, all sets") for g in gates if g.passed is False)


def test_a_gncl_loss_that_diversified_passes_and_the_table_says_so():
    ds = fake_training(diverse=True)
    gate = _gate(A.checks(ds, n_boot=200), "gncl@average changed member diversity")
    assert gate.passed is True
    d = A.diversity_change(ds, "gncl@average", n_boot=200)
    assert d["disagreement"].low > 0.05 and d["cka"].high < 0
    table = A.diversity_change_table(ds, n_boot=200)
    assert table.loc["gncl@average", "diversity changed"] == "yes"
    assert "independently trained one" not in A.table2_note(ds, A.checks(ds, n_boot=200))


def test_a_collapsed_member_is_named_and_its_heuristics_claims_are_not_tested():
    ds = fake_training(collapse=True)
    gates = A.checks(ds, n_boot=200)
    chance = _gate(gates, "every member above twice chance accuracy (attribution)")
    assert chance.passed is False and "attribution/seed1#2" in chance.detail
    assert "attribution_loss_costs_accuracy" in chance.claims and "gncl_no_resilience_gain" not in chance.claims
    members = A.members_table(ds)
    assert members.loc["attribution/seed1", "collapsed"] == "member 2 (≤ twice chance)"
    assert (members.drop(index="attribution/seed1")["collapsed"] == "—").all()
    # the attribution loss's diversity is measured without the collapsed seed
    assert A.diversity_change_table(ds, n_boot=100).loc["attribution", "seeds used"] == "2 of 3"
    assert _gate(A.checks(fake_training(), n_boot=100), "every member above twice chance accuracy").passed is True


def test_a_heuristic_whose_every_ensemble_diverged_blocks_its_own_row_only():
    from sat_lib.analysis.diversity_training.checks import POOLED_KEYS, applies, left_out

    ds = fake_training(diverse=True)
    gncl = ds["method"].values == "gncl@average"
    ds["pred"][gncl] = -1
    ds["diverged"][gncl] = 1
    ds["epoch_loss"][gncl] = np.nan
    assert left_out(ds, "gncl@average") and not left_out(ds, "independent")
    gates = A.checks(ds, n_boot=100)
    chance = _gate(gates, "every member above twice chance accuracy (gncl@average)")
    assert chance.passed is False and "gncl@average/seed0#1 diverged" in chance.detail and "nan" not in chance.detail
    assert not set(POOLED_KEYS) & set(chance.claims)              # left out of the rows that pool the heuristics
    assert applies(chance, "gncl_no_resilience_gain", "gncl@average")
    assert not applies(chance, "gncl_no_resilience_gain", "gncl@median")
    assert "—/—" in _gate(gates, "gncl@average changed member diversity").detail
    members = A.members_table(ds)
    assert members.loc["gncl@average/seed0", "collapsed"].count("diverged") == 3
    assert members.loc["gncl@average/seed0", "ensemble"] == "—"


# --- GNCL's λ search ------------------------------------------------------------------------------------------


def lambda_section(n: int = 400, seed: int = 0):
    """A search result by hand: the baseline's members disagree on ~20 % of the images; λ 0.2 copies it, λ 1
    disagrees on ~40 %, λ 2 has a member at chance."""
    import xarray as xr

    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)

    def members(flip: float, chance_member: bool = False):
        pred = np.stack([np.where(rng.random(n) < flip, (y + 1) % 10, y) for _ in range(3)])
        if chance_member:
            pred[2] = rng.integers(0, 10, n)
        return pred

    base = members(0.1)
    pred = np.stack([base, members(0.25), members(0.25, chance_member=True)])
    return xr.Dataset(
        {"pred": (("lam", "member", "image"), pred), "baseline_pred": (("member", "image"), base),
         "label": ("image", y), "cka": (("lam", "layer_a", "layer_b"), np.full((3, 2, 2), 0.5)),
         "baseline_cka": (("layer_a", "layer_b"), np.full((2, 2), 0.6)),
         "epoch_loss": (("lam", "epoch"), np.ones((3, 2))), "baseline_epoch_loss": ("epoch", np.ones(2)),
         "diverged": ("lam", np.zeros(3, np.int8)), "from_chapter": ("lam", np.array([1, 0, 0], np.int8))},
        coords={"lam": [0.2, 1.0, 2.0]},
        attrs={"method": "gncl@average", "arch": "tiny_cnn", "seed": 0, "chapter_lam": 0.2})


def test_the_lambda_search_reads_disagreement_against_independent_training_and_members_that_learned():
    sec = lambda_section()
    est = A.lambda_search.disagreement_change(sec, n_boot=200)
    assert est[0].value == pytest.approx(0.0) and est[0].low == pytest.approx(0.0)   # the baseline itself
    assert est[1].low > 0.1                                                         # ~0.35 against ~0.19
    frame = A.lambda_search.search_frame(sec, n_boot=200)
    assert list(frame["diversified"]) == ["no", "yes", "no"]     # λ 2 disagrees more, but a member is at chance
    assert A.lambda_search.first_diversifying(frame) == 1.0
    assert frame.loc[1.0, "Δ mean CKA"] == pytest.approx(-0.1)
    text = A.lambda_search.search_text(sec, frame)
    assert "is 1**" in text and "twice chance (or diverged) at λ = 2" in text and "[0, 1]" in text
    assert "_low" not in A.lambda_search.shown_frame(frame).columns


def test_a_search_where_nothing_diversified_says_the_claims_stay_not_tested():
    sec = lambda_section()
    sec["pred"][1] = sec["baseline_pred"]
    frame = A.lambda_search.search_frame(sec, n_boot=100)
    assert A.lambda_search.first_diversifying(frame) is None
    assert "stay *not tested*" in A.lambda_search.search_text(sec, frame)


@pytest.mark.parametrize("chapter_lam,reads", [(0.2, "rerunning the chapter with `-p lam 1`"),
                                               (1.0, "scored where GNCL diversifies")])
def test_the_search_text_says_where_the_chapters_lambda_stands(chapter_lam, reads):
    sec = lambda_section()
    if chapter_lam == 1.0:   # the chapter's own ensemble is the one at λ 1, searched around it
        sec = sec.assign_coords(lam=[0.2, 1.0, 2.0]).assign(from_chapter=("lam", np.array([0, 1, 0], np.int8)))
    sec.attrs["chapter_lam"] = chapter_lam
    frame = A.lambda_search.search_frame(sec.isel(lam=[2, 0, 1]), n_boot=100)
    assert list(frame.index) == [0.2, 1.0, 2.0]          # rows in increasing λ whatever the stored order
    text = A.lambda_search.search_text(sec, frame)
    assert reads in text and f"chapter's λ = {chapter_lam:g}" in text
