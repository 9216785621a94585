"""Figures of the salience chapter: they draw on small synthetic populations and on the stored results, colour
every family as the palette says and every width k by one sequential scale, keep legends off the data, and keep
the Saw-fit panels on the data."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from sat_lib.analysis import salience as A
from sat_lib.plots import family_color, salience as F, width_colors
from tests.plots._checks import assert_polished, band_colors, legend_colors, rgb

RESULTS = Path(__file__).resolve().parents[2] / "data" / "results" / "salience"
FAMILIES = {"cnn_small": ("CNNSmall", "CS"), "cnn_large": ("CNNLarge", "CL"), "resnet_small": ("ResNetSmall", "RS"),
            "resnet_large": ("ResNetLarge", "RL"), "vit": ("ViT", "ViT")}


def population(family="cnn_small", dataset="toy", widths=(4, 8, 16), seeds=3, batch_size=128, role="main", n=40,
               rng=0, shared=None):
    """Fingerprints = a shared direction per sample + noise shrinking with width; every variable the chapter's
    figures read, with the shapes a stored result has."""
    rng = np.random.default_rng(rng)
    d = 3 * 4 * 4
    base = shared if shared is not None else rng.standard_normal((n, d))
    k = np.repeat(widths, seeds)
    seed = np.tile(np.arange(seeds), len(widths))
    noise = dict(zip(widths, np.linspace(3.0, 0.7, len(widths))))
    fps = np.stack([base + noise[w] * rng.standard_normal((n, d)) for w in k])
    fps /= np.linalg.norm(fps, axis=2, keepdims=True)
    p = np.einsum("and,bnd->ab", fps, fps) / n
    t = np.empty((len(k), n))
    for i, w in enumerate(k):  # cosine with the mean direction of the width's other seeds
        others = fps[(k == w) & (np.arange(len(k)) != i)].mean(0)
        t[i] = (fps[i] * others).sum(1) / np.linalg.norm(others, axis=1)
    members = np.arange(1, seeds)
    ens_t = np.stack([[np.full(5, t[k == w].mean() + 0.02 * m) for m in members] for w in widths])
    names = [f"{family}-k{a}-s{b}" for a, b in zip(k, seed)]
    label, short = FAMILIES[family]
    alpha_mean = np.stack([np.where(k == w, 0.8, np.nan) for w in widths])
    return xr.Dataset(
        {"fingerprint": (("model", "sample", "channel", "row", "col"), fps.reshape(len(k), n, 3, 4, 4)),
         "p_ind": (("resolution", "model", "model_b"), np.stack([p, p])),
         "t": (("resolution", "model", "sample"), np.stack([t, t])),
         "alpha": (("model", "model_b"), 1 - p / 2), "adv_accuracy": (("model", "model_b"), 0.5 - p / 4),
         "salience_accuracy": ("model", np.full(len(k), 0.9)),
         "alpha_mean": (("source_width", "model_b"), alpha_mean),
         "adv_accuracy_mean": (("source_width", "model_b"), alpha_mean - 0.3),
         "accuracy": ("model", 0.5 + 0.01 * k), "loss": ("model", 1.5 - 0.01 * k),
         "ensemble_t": (("width", "members", "draw"), ens_t),
         "ensemble_loss": (("width", "members", "draw"), 1.6 - ens_t),
         "ensemble_accuracy": (("width", "members", "draw"), 0.5 + ens_t / 2)},
        coords={"model": names, "model_b": names, "k": ("model", k), "seed": ("model", seed), "width": list(widths),
                "source_width": list(widths), "members": members, "draw": np.arange(5),
                "resolution": ["full", "4x4"]},
        attrs={"family": family, "family_label": label, "family_short": short, "dataset": dataset,
               "batch_size": batch_size, "role": role,
               # nominal, CIFAR-sized: the uniform baseline is as narrow as the chapter's
               "dimension_full": 3072, "dimension_small": d})


def synthetic() -> A.Populations:
    shared = np.random.default_rng(9).standard_normal((40, 48))
    pops = {f"toy:{f}": population(f, widths=(4, 8) if f == "vit" else (4, 8, 16), rng=i, shared=shared)
            for i, f in enumerate(FAMILIES)}
    pops["other:cnn_small"] = population("cnn_small", dataset="other", rng=7)
    pops["toy:cnn_small:64"] = population("cnn_small", widths=(4, 8), batch_size=64, role="batch-study", rng=8,
                                          shared=shared)
    return pops


def stored() -> A.Populations:
    pops = {}
    for f in sorted(RESULTS.glob("*.nc")):
        try:
            ds = xr.load_dataset(f)
        except (FileNotFoundError, OSError):  # replaced by a run while we read
            continue
        if "role" not in ds.attrs:  # set by experiments.salience.run, in memory only: the default batch size
            ds.attrs["role"] = "main" if int(ds.attrs["batch_size"]) == 128 else "batch-study"
        pops[f.stem] = ds
    if not A.main_populations(pops):
        pytest.skip("no stored salience results")
    return pops


def official():
    rng = np.random.default_rng(0)
    k = np.array([8, 16, 32, 48])
    cos = np.clip((k[:, None] + k[None, :])[..., None] / 200 + 0.05 * rng.standard_normal((4, 4, 30)), -1, 1)
    return xr.Dataset({"cosine": (("resolution", "k", "k_b", "image"), np.stack([cos, cos])),
                       "alpha": (("k", "k_b", "image"), 1 - cos)},
                      coords={"k": k, "k_b": k, "resolution": ["full", "8x8"], "image": np.arange(30)})


def figures(pops: A.Populations) -> dict:
    main = A.main_populations(pops)
    first = next(iter(main.values()))
    widths = sorted({int(k) for ds in main.values() for k in ds["width"].values})
    dataset = max(A.datasets(main), key=lambda d: sum(ds.attrs["dataset"] == d for ds in main.values()))
    return {
        "width_heatmaps": lambda: F.width_heatmaps(pops),
        "mean_direction_heatmaps": lambda: F.mean_direction_heatmaps(pops),
        "cross_family": lambda: F.cross_family(A.cross_family(pops, dataset), dataset),
        "t_marginals": lambda: F.t_marginals(first, "full", widths=widths),
        "tail_probability": lambda: F.tail_probability(pops),
        "transfer_heatmaps": lambda: F.transfer_heatmaps(first),
        "transfer_curves": lambda: F.transfer_curves(pops),
        "loss_vs_t": lambda: F.loss_vs_t(A.loss_vs_t(pops)),
        "batch_effect": lambda: F.batch_effect(A.batch_effect(pops)),
    }


NAMES = list(figures(synthetic()))


@pytest.fixture(scope="module")
def toy():
    return synthetic()


@pytest.mark.parametrize("name", NAMES)
def test_every_figure_draws_polished_on_synthetic_populations(name, toy):
    assert_polished(figures(toy)[name]())


@pytest.mark.parametrize("name", NAMES)
def test_every_figure_draws_polished_on_the_stored_results(name):
    pops = stored()
    if name == "batch_effect" and not len(A.batch_effect(pops)):
        pytest.skip("no batch-size study among the stored results")
    assert_polished(figures(pops)[name]())


def test_official_maps_draw():
    assert_polished(F.official_maps(official()))


def test_loss_vs_t_points_have_their_family_colour(toy):
    df = A.loss_vs_t(toy)
    fig = F.loss_vs_t(df)
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        sub = df[df["dataset"] == ax.get_title()]
        (points,) = ax.collections
        assert [rgb(c) for c in points.get_facecolors()] == [rgb(family_color(f)) for f in sub["family"]]
        shown = {k: v for k, v in legend_colors(ax.get_legend()).items() if k in set(sub["family"])}
        assert shown == {f: rgb(family_color(f)) for f in sub["family"].unique()}


def test_tail_probability_lines_have_their_family_colour(toy):
    main = list(A.main_populations(toy).values())
    fig = F.tail_probability(toy)
    for ax in fig.axes:
        coloured = [rgb(line.get_color()) for line in ax.lines if rgb(line.get_color()) != rgb("k")]
        assert coloured == [rgb(family_color(ds.attrs["family"])) for ds in main]


def test_cross_family_bands_follow_the_labels_and_the_palette(toy):
    cf = A.cross_family(toy, "toy")
    fig = F.cross_family(cf, "toy")
    heatmaps = [ax for ax in fig.axes if ax.get_visible() and ax.collections]
    bands = [ax for ax in fig.axes if len(ax.images) == 1]
    assert len(bands) == 2 * len(heatmaps) == 2 * cf.sizes["k"]
    for ax in heatmaps:
        rows = [t.get_text() for t in ax.get_yticklabels()]
        cols = [t.get_text() for t in ax.get_xticklabels()]
        assert rows == cols == ["CNNSmall", "CNNLarge", "ResNetSmall", "ResNetLarge", "ViT"][:len(rows)]
    colours = {tuple(band_colors(b)) for b in bands}
    assert tuple(rgb(family_color(f)) for f in FAMILIES) in colours  # k = 4, 8: all five families


def test_a_width_has_one_colour_in_every_population(toy):
    widths = [4, 8, 16]
    want = {k: rgb(c) for k, c in width_colors(widths).items()}
    for key in ("toy:cnn_small", "toy:vit"):  # the ViT has no k = 16: its k = 8 keeps the colour of k = 8
        fig = F.t_marginals(toy[key], "full", widths=widths)
        ax = fig.axes[0]
        ks = [int(k) for k in toy[key]["width"].values]
        solid = [rgb(line.get_color()) for line in ax.lines if line.get_linestyle() == "-"]
        assert solid == [want[k] for k in ks]


def test_saw_panels_hold_the_data_not_the_empty_range(toy):
    ds = toy["toy:cnn_small"]
    fig = F.t_marginals(ds, "full")
    left, right = fig.axes[:2]
    m = A.t_marginals(ds, "full")
    lo, hi = left.get_xlim()
    assert hi - lo < np.ptp(m["t"].values)  # not the whole grid of t
    for line in left.lines:  # but all of each curve's mass above the floor of the log axis
        x, y = line.get_data()
        heavy = x[np.asarray(y) > 10 * left.get_ylim()[0]]
        assert heavy.size == 0 or (lo <= heavy.min() and heavy.max() <= hi)
    points = np.concatenate([np.column_stack(line.get_data()) for line in right.lines
                             if line.get_marker() == "."])  # the identity line is no data
    (x0, x1), (y0, y1) = right.get_xlim(), right.get_ylim()
    for (a, b), (v0, v1) in (((x0, x1), (points[:, 0].min(), points[:, 0].max())),
                             ((y0, y1), (points[:, 1].min(), points[:, 1].max()))):
        assert a <= v0 and v1 <= b  # every point shows
        assert (v1 - v0) >= 0.8 * (b - a)  # and the points fill the panel
