"""The universality chapter on the tiny zoo and digits (seconds on a CPU)."""
import numpy as np
import pytest

from sat_lib.analysis import universality as A
from sat_lib.claims import paper_claims
from sat_lib.experiments import resolve_params, universality as U
from sat_lib.params import ParameterError
from tests._env import project_dirs


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    with project_dirs(tmp_path_factory, "universality") as (tmp, mp):
        cfg = resolve_params("universality", "smoke")
        ds = U.run(cfg)
        yield cfg, ds, tmp


def test_one_stored_result_per_model_and_one_for_the_chapter(smoke):
    cfg, ds, tmp = smoke
    n_models = len(cfg.eps) * (len(cfg.archs) + len(cfg.subset_names()))
    assert len(list((tmp / "results" / U.MODEL_RESULTS).glob("*.nc"))) == n_models
    assert len(list((tmp / "results" / "universality").glob("*.nc"))) == 1
    robust = list((tmp / "cache" / "weights" / "digits").glob("*-robust-*.pt"))
    assert len(robust) == (len([e for e in cfg.eps if e > 0])) * (len(cfg.archs) + len(cfg.subset_names()))
    assert list(ds["setting"].values) == ["full", "subset", "ood"]


def test_the_subset_setting_holds_its_architectures_only(smoke):
    cfg, ds, _ = smoke
    assert A.members(ds, "subset") == cfg.subset_names()
    missing = [a for a in cfg.archs if a not in cfg.subset_names()]
    assert np.isnan(ds["accuracy"].sel(setting="subset", model=missing).values).all()
    assert len(np.asarray(__import__("json").loads(ds.attrs["subset_classes_drawn"]))) == cfg.subset_classes


def test_pairs_are_scored_on_both_members_inverted_images(smoke):
    cfg, ds, _ = smoke
    v = ds["inverted_cka"].sel(setting="full", eps=cfg.eps[0]).values  # (source, model, model_b)
    n = len(cfg.archs)
    for s in range(n):
        for a in range(n):
            for b in range(n):
                if a != b:
                    assert np.isfinite(v[s, a, b]) and v[s, a, b] == v[s, b, a]
    assert np.isnan(v[:, range(n), range(n)]).all()  # no pair of a model with itself


def test_inversion_moves_toward_the_target(smoke):
    _, ds, _ = smoke
    assert (ds["final_distance"] < ds["start_distance"]).sum() >= 0.8 * np.isfinite(ds["final_distance"]).sum()


def test_a_rerun_reads_every_model_from_its_stored_result(smoke, monkeypatch):
    cfg, ds, _ = smoke
    monkeypatch.setattr(U, "model_job", lambda spec: pytest.fail("a stored model was recomputed"))
    again = U.compute(cfg)
    np.testing.assert_array_equal(again["accuracy"].values, ds["accuracy"].values)
    np.testing.assert_allclose(again["inverted_cka"].values, ds["inverted_cka"].values, equal_nan=True)
    assert again.attrs["redone_seconds"] == 0  # every weight and inverted image from the cache


def test_models_the_cache_lost_are_redone_by_the_pair_stage_and_counted_apart(smoke, monkeypatch, tmp_path):
    """A machine whose cache lacks the weights and inverted images behind a stored per-model result: the pair stage
    trains and inverts that model again, the same scores, and records that time apart from its own."""
    import shutil

    cfg, ds, tmp = smoke
    lost = tmp_path / "lost"
    shutil.copytree(tmp / "cache", lost)  # the module's cache, kept for the other tests
    try:
        weights = sorted((tmp / "cache" / "weights").rglob("*-robust-*.pt"))[0]  # one model's weights and images
        for path in [weights, *(tmp / "cache" / "inversions").glob(f"{weights.stem}-*.pt")]:
            path.unlink()
        again = U.compute(cfg)
    finally:
        shutil.rmtree(tmp / "cache")
        shutil.copytree(lost, tmp / "cache")
    assert again.attrs["redone_seconds"] > 0 and np.isfinite(again.attrs["pairs_seconds"])
    assert again.attrs["pairs_seconds"] < again.attrs["wall_seconds"] - again.attrs["redone_seconds"] + 1e-6
    np.testing.assert_allclose(again["inverted_cka"].values, ds["inverted_cka"].values, equal_nan=True)


def test_claims_table_has_the_claims_files_keys(smoke):
    _, ds, _ = smoke
    table = A.claims_table(ds, n_boot=50)
    assert list(table["key"]) == list(paper_claims("universality")["claims"])
    assert all(v in {"agrees", "disagrees", "inconclusive"} or v.startswith("not tested (gate")
               for v in table["verdict"])
    assert {g.name for g in A.checks(ds)} >= {"every full model above twice chance accuracy",
                                              "regular-image agreement within Fort et al.'s bounds"}
    text = A.discussion(ds, table)
    assert "Verdicts" in text and "where we fall short of the paper" in text and "hypotheses" in text
    assert "label_smoothing = 0" in text  # the smoke profile trains with plain cross-entropy: ruled out, said so
    assert len(A.summary(ds, n_boot=20)) > 0
    assert set(A.model_table(ds).index.get_level_values("architecture")) == set(A.members(ds, "full"))
    cost = A.throughput_table(ds)
    assert len(cost) == len(ds["setting"]) * len(ds["eps"]) and (cost["inversion images / s"] > 0).all()


# the smoke profile: digits (360 test images, 10 classes), n_images 60, subset_images 40 on 5 classes, ood_images 40
@pytest.mark.parametrize("override,message", [
    ({"eps": (0.0, -0.5)}, "must list L2 radii >= 0"),
    ({"eps": (0.5, 0.5)}, "radius twice"),
    ({"archs": ("tiny_cnn", "tiny_nope")}, "tiny_nope"),
    ({"ood_dataset": "sat6"}, "sat6"),
    ({"ood_dataset": "digits"}, "is the training dataset"),
    ({"ks": (5, 60)}, "k = 60 needs more than n_images = 60"),
    # every k, not only the first, must fit the subset's and the OOD setting's image sets
    ({"ks": (5, 50)}, "k = 50 is more than subset_images = 40"),
    ({"ks": (5, 50), "subset_classes": 0}, "k = 50 is more than ood_images = 40"),
    ({"ks": (40, 5)}, r"k = 40 \(the first, Figs. 5 and 6\) needs more than subset_images = 40"),
    ({"subset_classes": 1}, "subset_classes"),
    ({"subset_classes": 10}, "'subset_classes' = 10 must be below the 10 classes of digits"),
    ({"subset_classes": 12}, "'subset_classes' = 12 must be below the 10 classes of digits"),
    ({"n_images": 361}, "'n_images' = 361 is more than the 360 images of the digits test split"),
    ({"ood_images": 10001}, "'ood_images' = 10001 is more than the 10000 images of the fashion_mnist test split"),
    ({"subset_images": 300}, "'subset_images' = 300 is more than the 18[0-9] test images of the 5 drawn classes"),
])
def test_bad_parameters_are_named(override, message):
    with pytest.raises((ParameterError, ValueError, KeyError), match=message):
        resolve_params("universality", "smoke", overrides=override)


def test_a_k_equal_to_a_settings_image_count_is_accepted_and_left_empty_there():
    """The committed quick profile scores k = 500 on 500 subset and OOD images: allowed (that Jaccard stays NaN in
    those settings, Fig. 7 reads the full setting); a larger k is refused above."""
    cfg = resolve_params("universality", "smoke", overrides={"ks": (5, 40)})
    assert cfg.ks == (5, 40)


def test_subset_class_draw_needs_classes_left_out():
    cfg = resolve_params("universality", "smoke")
    with pytest.raises(ValueError, match="must be below the 5 classes"):
        U.subset_class_indices(cfg, 5)


@pytest.mark.parametrize("dataset", ["digits", "fashion_mnist"])
def test_known_split_sizes_match_the_loaded_test_splits(smoke, dataset):
    """The table the parameters are checked against at parse time is the test split the chapter loads."""
    from sat_lib.config import project_config

    test = project_config().load_data(dataset, "test")
    counts = np.bincount(test.labels, minlength=test.num_classes)
    assert tuple(counts.tolist()) == U.TEST_SPLIT_CLASS_COUNTS[dataset]


def test_a_dataset_of_unknown_size_is_checked_before_anything_is_trained(smoke, monkeypatch):
    """Without a known size, parsing cannot refuse n_images beyond the split; compute refuses it once the test
    split is loaded, before the first model job."""
    monkeypatch.setattr(U, "TEST_SPLIT_CLASS_COUNTS", {})
    cfg = resolve_params("universality", "smoke", overrides={"n_images": 400})  # digits' test split holds 360
    monkeypatch.setattr(U, "stored_model_job", lambda spec: pytest.fail("a model job ran"))
    with pytest.raises(ValueError, match="'n_images' = 400 is more than the 360 images"):
        U.compute(cfg)
    cfg = resolve_params("universality", "smoke", overrides={"subset_classes": 10})
    with pytest.raises(ValueError, match="must be below the 10 classes"):
        U.compute(cfg)


def test_every_similarity_figure_shows_the_summary_tables_intervals(smoke):
    """Figs. 1 and 3–7 overlay each box with the pairs' mean and its 95 % interval — the summary table's numbers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.container import ErrorbarContainer

    from sat_lib.plots import universality as F

    cfg, ds, _ = smoke
    table = A.summary(ds, n_boot=50)
    figures = {"regular": F.regular(ds, n_boot=50), "inverted": F.inverted_predictions(ds, n_boot=50),
               "fig4": F.representations(ds, n_boot=50),
               "fig5": F.representations(ds, ("full", "subset"), "Fig. 5", n_boot=50),
               "fig6": F.representations(ds, ("full", "ood"), "Fig. 6", n_boot=50), "fig7": F.jaccard_k(ds, n_boot=50)}
    for name, fig in figures.items():
        bars = [c for ax in fig.axes for c in ax.containers if isinstance(c, ErrorbarContainer)]
        assert bars, name
        means = np.concatenate([c.lines[0].get_ydata() for c in bars])
        assert np.isin(np.round(means, 10), np.round(table["mean"].to_numpy(), 10)).all(), name
        assert fig.legends, name  # the interval is explained in the figure's legend
        plt.close(fig)
    # Fig. 1, agreement, ε = 0: the drawn interval is the summary's
    row = table.query("setting == 'full' and images == 'regular' and measure == 'agreement'").iloc[0]
    fig = F.regular(ds, n_boot=50)
    (bar,) = [c for c in fig.axes[0].containers if isinstance(c, ErrorbarContainer)]
    segs = bar.lines[2][0].get_segments()
    assert segs[0][:, 1] == pytest.approx([row["low"], row["high"]])
    plt.close(fig)


def test_subset_text_names_its_pairs_and_the_accuracies_cover_every_eps(smoke):
    cfg, ds, _ = smoke
    n = len(cfg.subset_names())
    text = A.subset_text(ds, n_boot=50)
    assert f"{n} architectures, {n * (n - 1) // 2} pairs" in text
    acc = A.subset_accuracy(ds)
    assert len(acc) == 2 * n and acc.shape[1] == 2 * len(cfg.eps) and np.isfinite(acc.to_numpy()).all()


def test_inversion_text_and_recipes_are_read_from_the_result(smoke):
    cfg, ds, _ = smoke
    text = A.inversion_text(ds, n_boot=50)
    assert f"after {cfg.invert_steps} steps" in text and "near 1" not in text
    recipes = A.training_recipes(ds)
    assert set(cfg.archs) <= set(recipes.index) and "paper (A.4)" in recipes.index
    assert "weight decay" in A.recipe_text(ds)


def test_seeds_come_from_another_class():
    labels = np.repeat(np.arange(4), 25)
    targets, seeds = U.seed_target_pairs(labels, 60, seed=3)
    assert len(set(targets)) == 60 and (labels[targets] != labels[seeds]).all()
    again = U.seed_target_pairs(labels, 60, seed=3)
    np.testing.assert_array_equal(again[0], targets)
    np.testing.assert_array_equal(again[1], seeds)


def test_the_pair_job_keeps_output_confidence_and_jsd_at_one_entropy(smoke):
    cfg, ds, _ = smoke
    conf = ds["inverted_confidence"].sel(setting="full").values   # (eps, source, model)
    ent = ds["inverted_entropy"].sel(setting="full").values
    n_classes = ds.sizes["class"] if "class" in ds.sizes else 10
    assert np.isfinite(conf).all() and ((conf >= 1 / n_classes - 1e-9) & (conf <= 1)).all()
    assert np.isfinite(ent).all() and (ent >= 0).all()
    matched = ds["inverted_jsd_matched"].sel(setting="full").values
    off = ~np.eye(len(cfg.archs), dtype=bool)
    assert np.isfinite(matched[:, :, off]).all() and ((matched[:, :, off] > 0) & (matched[:, :, off] <= 1)).all()
    assert ds.attrs["matched_entropy"] == 0.5
    gate = next(g for g in A.checks(ds) if "one entropy" in g.name)
    assert gate.passed in (True, False) and gate.claims == ("inverted_jsd_rises",) and "max-softmax" in gate.detail
