"""The diversity-training chapter on the tiny zoo and digits (seconds on a CPU)."""
import math

import numpy as np
import pytest

from sat_lib.analysis import diversity_training as A
from sat_lib.claims import paper_claims
from sat_lib.experiments import diversity_training as D
from sat_lib.experiments import resolve_params
from sat_lib.params import ParameterError
from tests._env import project_dirs


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """The smoke profile computed, then recomputed from the cached ensemble weights."""
    with project_dirs(tmp_path_factory, "diversity-training", SAT_SCHEDULER="serial") as (tmp, mp):
        cfg = resolve_params("diversity-training", "smoke")
        ds = D.run(cfg)
        again = D.run(cfg, mode="recompute")
        yield cfg, ds, again, tmp


def test_one_ensemble_per_method_and_seed_plus_the_heterogeneous_one(smoke):
    cfg, ds, _, tmp = smoke
    assert ds.sizes["ensemble"] == len(cfg.methods) * len(cfg.seeds) + 1
    assert list(ds["method"].values[-1:]) == [D.HETEROGENEOUS]
    assert ds["pred"].dims == ("ensemble", "member", "set", "image")
    assert list(ds["set"].values) == ["clean", "plasma_noise@4", "checkerboard_cutout@4", "water_drop@7", "lines@1.6"]
    assert list(ds["rule"].values) == list(D.RULES)
    assert (ds["pred"].values >= 0).all() and not ds["diverged"].any()
    files = sorted((tmp / "cache" / "weights" / "digits").glob("tiny_cnn-ens3-*.pt"))
    assert len(files) == len(cfg.methods) * len(cfg.seeds) + len(cfg.lambda_search)  # and the λ search's
    assert {f.name.split("-ens3-")[1].rsplit("-", 1)[0] for f in files} == {
        cfg.objective(m).name for m in cfg.methods}


def test_a_rerun_reads_every_ensemble_from_the_weights_cache(smoke):
    _, ds, again, _ = smoke
    trained = ds["method"] != D.HETEROGENEOUS
    assert not ds["weights_from_cache"].where(trained, drop=True).any()
    assert again["weights_from_cache"].all()
    np.testing.assert_array_equal(ds["pred"].values, again["pred"].values)
    np.testing.assert_array_equal(ds["ens_pred"].values, again["ens_pred"].values)


def test_images_and_zoo_predictions_are_the_corruptions_chapters(smoke):
    from sat_lib.experiments.corruptions import run as corruptions_run

    cfg, ds, _, _ = smoke
    zoo = corruptions_run(cfg.corruptions_config(), mode="cache_only")
    np.testing.assert_array_equal(ds["image"].values, zoo["image"].values)
    np.testing.assert_array_equal(ds["zoo_pred"].values, zoo["pred"].sel(set=list(ds["set"].values)).values)


def test_ensemble_predictions_follow_the_consensus_rules(smoke):
    import torch

    from sat_lib.ensemble_training import consensus_predictions

    _, ds, _, _ = smoke
    avg = ds["ens_pred"].sel(rule="average").values
    pred = ds["pred"].values
    agree = (pred[:, 0] == pred[:, 1]) & (pred[:, 1] == pred[:, 2])
    assert (avg[agree] == pred[:, 0][agree]).all()  # a unanimous ensemble predicts its members' class
    vote = ds["ens_pred"].sel(rule="vote").values
    two = (pred[:, 0] == pred[:, 1]) & (pred[:, 0] != pred[:, 2])
    assert (vote[two] == pred[:, 0][two]).all()  # a majority wins the vote
    h = torch.randn(3, 5, 10)
    assert consensus_predictions(h, "average").tolist() == h.mean(0).argmax(-1).tolist()


def test_attribution_scores_maps_and_cka(smoke):
    cfg, ds, _, _ = smoke
    v = ds["attribution_variance"]
    assert v.dims == ("ensemble", "norm", "attr_image") and v.sizes["attr_image"] == cfg.attribution_images
    unit = v.sel(norm="unit").values
    assert np.isfinite(unit).all() and (unit >= 0).all() and (unit <= 1 + 1e-9).all()
    assert ds["maps"].shape[1:3] == (3, cfg.shown_images)
    cka = ds["cka"].values
    assert np.nanmin(cka) >= -1e-6 and np.nanmax(cka) <= 1 + 1e-6
    assert np.isfinite(cka[0]).sum() > 0


def test_a_diverged_training_is_recorded_not_raised(smoke, monkeypatch):
    import sat_lib.weights

    cfg, _, _, tmp = smoke

    def diverge(*args, **kwargs):
        raise FloatingPointError("train: loss became nan")

    monkeypatch.setattr(sat_lib.weights, "trained_model", diverge)
    from sat_lib.experiments.corruptions import run as corruptions_run

    zoo = corruptions_run(cfg.corruptions_config(), mode="cache_only")
    spec = D.job_specs(cfg, zoo["image"].values, [None] * 5, ["clean"] * 5, zoo["label"].values)[0]
    out = D.ensemble_job(spec)
    assert out["diverged"] and (out["pred"] == -1).all() and math.isnan(out["train_seconds"])


def test_claims_table_lists_every_paper_claim(smoke):
    cfg, ds, _, _ = smoke
    table = A.claims_table(ds, cfg, n_boot=50)
    keys = set(paper_claims("diversity-training")["claims"])
    assert set(table["key"]) == keys
    assert all(v in {"agrees", "disagrees", "inconclusive", "—"} or v.startswith("not tested (gate: ")
               for v in table["verdict"])
    gates = A.checks(ds, n_boot=50)
    names = [g.name for g in gates]
    firsts = ("every member above twice chance accuracy", "no member collapsed beside its peers")
    assert names[0].startswith(firsts[0]) and any(n.startswith(firsts[1]) for n in names), names
    assert {m + " changed member diversity" for m in cfg.methods if m.startswith("gncl")} <= set(names)
    for row in table.itertuples():  # a row whose gate failed reads "not tested", naming it
        failed = [g.name for g in gates if g.passed is False and g.name in row.gate and f"{g.name}: failed" in row.gate]
        assert row.verdict.startswith("not tested") == bool(failed), (row.key, row.gate, row.verdict)
    assert set(table.loc[table["key"].str.startswith("lm_"), "source"]) == {"project"}
    gncl = [m for m in cfg.methods if m.startswith("gncl")]
    assert (table["key"] == "gncl_no_resilience_gain").sum() == len(gncl)
    assert (table["key"] == "balanced_more_resilient").sum() == 1  # the corruptions' mean: one row
    # each ensemble counted once: 1 heterogeneous against len(seeds) prediction-diversity ensembles, and so on
    resampled = dict(zip(table["key"], table["resampled"]))
    k = len(cfg.seeds)
    assert resampled["hetero_more_prediction_diversity"] == f"{1 + k} seeds × images"
    assert resampled["hetero_more_prediction_diversity_correct"] == f"{1 + k} seeds × images"
    assert resampled["attribution_loss_less_inco_equitability"] == f"{2 * k} seeds × images"
    assert resampled["attribution_loss_costs_accuracy"] == f"{2 * k} seeds × images"
    for text in table.loc[table["key"].str.startswith("lm_"), "ours [95 % CI]"]:
        if "[" in text:
            value, low, high = (float(x.strip("[],")) for x in text.split())
            assert low <= value <= high, text
    assert "LM rows of the claims table" in A.discussion(ds, table)
    claims_table, provenance = D.claims(cfg, "cache_only")
    assert len(claims_table) == len(table) and "commit" in provenance


def test_analysis_tables_render(smoke):
    cfg, ds, _, _ = smoke
    acc = A.accuracy_table(ds, n_boot=30)
    assert list(acc.index) == [*cfg.methods, D.HETEROGENEOUS]
    assert A.versus_table(ds, n_boot=30).shape[0] == len(cfg.methods) - 1
    eq = A.equitability_table(ds, n_boot=30)
    assert eq.shape[0] == 3 * ds.sizes["set"] and eq["H_corr paper"].notna().sum() == 3 * 5
    lm = A.lm_table(ds, n_boot=30)
    assert lm.shape[0] == 2 * ds.sizes["set"] and "obs − LM beyond test-set noise, RMS over pairs (pp)" in lm.columns
    res = A.resilience_table(ds, n_boot=30)
    assert list(res.index) == [*cfg.methods, D.HETEROGENEOUS] and res.shape[1] == 2 * (ds.sizes["set"] - 1)
    assert "resilience, corruptions' mean (pp)" in A.versus_table(ds, n_boot=30).columns
    assert f"to train the {len(cfg.methods) * len(cfg.seeds)} ensembles" in A.cost_text(ds)
    assert A.training_table(ds).shape[0] == len(cfg.methods) + 1
    assert len(A.cka_table(ds)) == len(cfg.methods) + 1


def test_subsets_of_the_draw_span_its_classes(smoke):
    cfg, ds, _, _ = smoke
    labels = ds["label"].values
    where = D.subsets(cfg, len(labels), labels)
    assert len(where["attribution"]) == cfg.attribution_images and len(where["cka"]) == cfg.cka_images
    assert set(where["shown"]) <= set(where["attribution"])
    shown = labels[where["shown"]]
    assert len(set(shown)) == min(cfg.shown_images, len(set(labels[where["attribution"]])))
    np.testing.assert_array_equal(ds["attr_image"].values, ds["image"].values[where["attribution"]])
    np.testing.assert_array_equal(ds["shown"].values, ds["image"].values[where["shown"]])


def test_the_shown_maps_are_those_of_the_shown_images(smoke):
    """Fig. 11's maps are the members' Saliency maps of the shown images (recomputed here for one member)."""
    import torch

    from sat_lib.zoo import job_spec, train_or_load
    from sat_lib.zoo.ensembles import attribute

    cfg, ds, _, _ = smoke
    het = ds.sel(ensemble=ds["ensemble"].values[-1])
    model = train_or_load(job_spec(cfg.matrix_config(), str(het["member_name"].values[0]))).model
    from sat_lib.config import project_config

    test = project_config().load_data(cfg.matrix_config().dataset, "test")
    x = torch.from_numpy(test.images[het["shown"].values]).permute(0, 3, 1, 2).contiguous()
    y = torch.as_tensor(test.labels[het["shown"].values], dtype=torch.int64)
    np.testing.assert_allclose(het["maps"].values[0].astype(np.float32), attribute(model, x, y).numpy(),
                               rtol=1e-2, atol=1e-3)


@pytest.mark.parametrize("override,message", [
    ({"methods": ("independent", "gncl@mode")}, "unknown consensus rule 'mode'"),
    ({"methods": ("independent", "gncl")}, "needs a consensus rule"),
    ({"methods": ("independent@average",)}, "uses no consensus rule"),
    ({"methods": ("independent", "independent")}, "different methods"),
    ({"prediction_method": "gncl@median", "methods": ("independent", "attribution")}, "is not one of 'methods'"),
    ({"balanced_lam": 1.5}, r"lam must be \[0, 1\]"),   # Eq. 3's λ is a share; GNCL's may exceed 1
    ({"lam": -0.5}, "lam must be >= 0"),
    ({"attribution_lam": -1.0}, "lam must be >= 0"),
    ({"size": 1}, "'size' must be >= 2"),
    ({"seeds": (0, 0)}, "different seeds"),
    ({"heterogeneous": ("tiny_cnn", "resnet99")}, "resnet99"),
    ({"heterogeneous": ("tiny_cnn",)}, "at least 2 different"),
    ({"shown_images": 50}, "exceeds attribution_images"),
    ({"arch": "resnet99"}, "resnet99"),
    ({"cka_images": 5000}, "exceeds the 120 test images"),
])
def test_bad_parameters_are_named(override, message):
    with pytest.raises((ParameterError, ValueError, KeyError), match=message):
        resolve_params("diversity-training", "smoke", overrides=override)


# --- the λ-search section ------------------------------------------------------------------------------------


def test_the_lambda_search_trains_each_lambda_once_beside_the_chapters_own_ensembles(smoke):
    from sat_lib.experiments import diversity_lambda as L
    from sat_lib.experiments._chapter import result_key_params

    cfg, ds, _, tmp = smoke
    sec = L.shown(cfg, "cache_only")                       # computed by the chapter's run
    assert [float(v) for v in sec["lam"].values] == [cfg.lam, *cfg.lambda_search]
    assert list(sec["from_chapter"].values) == [1] + [0] * len(cfg.lambda_search)
    own = ds.sel(ensemble=f"{cfg.prediction_method}/seed{cfg.seeds[0]}")["pred"].sel(set="clean").values
    np.testing.assert_array_equal(sec["pred"].values[0], own)
    base = ds.sel(ensemble=f"independent/seed{cfg.seeds[0]}")["pred"].sel(set="clean").values
    np.testing.assert_array_equal(sec["baseline_pred"].values, base)
    assert (sec["pred"].values[1:] >= 0).all()
    files = sorted((tmp / "cache" / "weights" / "digits").glob("tiny_cnn-ens3-gncl-average-*.pt"))
    assert len(files) == len(cfg.seeds) + len(cfg.lambda_search)   # the chapter's seeds, then one per λ
    frame = A.lambda_search.search_frame(sec, n_boot=50)
    assert len(frame) == 1 + len(cfg.lambda_search) and set(frame["diversified"]) <= {"yes", "no"}
    # a section parameter: the chapter's own result key does not move with it
    assert result_key_params(cfg.replace(lambda_search=(3.0,))) == result_key_params(cfg)
    assert L.shown(cfg.replace(lambda_search=()), "cache_only") is None
    assert L.shown(cfg.replace(lambda_search=(3.0,)), "cache_only") is None     # not computed: nothing claimed


@pytest.mark.parametrize("override, message", [
    ({"lambda_search": "1.0"}, "chapter's own"),
    ({"lambda_search": "1.0,1.0"}, "different"),
    ({"lambda_search": "-1"}, "λ > 0"),
])
def test_bad_lambda_searches_are_named(override, message):
    from sat_lib.experiments import diversity_lambda as L

    cfg = resolve_params("diversity-training", "smoke", override)
    with pytest.raises(ValueError, match=message):
        L.from_chapter(cfg)


def test_a_member_with_all_zero_maps_leaves_eq7_undefined_not_the_chapter_failed():
    import torch

    maps = torch.randn(3, 5, 1, 4, 4)
    maps[2] = 0.0                                     # a collapsed member: its output ignores the input
    assert np.isnan(D._variance(maps, True)).all()
    assert np.isfinite(D._variance(torch.randn(3, 5, 1, 4, 4), True)).all()


def test_the_balanced_loss_keeps_its_own_lambda():
    """GNCL (plain and masked) trains at ``lam``, the balanced loss (Eq. 3) at ``balanced_lam``: at λ = 1 Eq. 3
    would be the ensemble's own loss alone."""
    cfg = resolve_params("diversity-training", "quick")
    assert (cfg.lam, cfg.balanced_lam) == (1.0, 0.2)
    assert cfg.objective("balanced@average").lam == 0.2
    assert cfg.objective("gncl@median").lam == cfg.objective("gncl_masked@average").lam == 1.0
    assert cfg.replace(balanced_lam=0.5).objective("balanced@average").lam == 0.5
    assert resolve_params("diversity-training", "paper").lam == 0.2   # the paper's profile: the paper's λ
