"""Figures of the SAT chapter: they draw on a small synthetic zoo and on the stored result, colour every family
as the palette says, keep legends off the data and cut no model name."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from sat_lib.analysis.sat_matrix import hierarchical_order, spectral_clusters
from sat_lib.plots import family_color, sat_matrix as F
from tests.plots._checks import assert_polished, band_colors, legend_colors, rgb

RESULTS = Path(__file__).resolve().parents[2] / "data" / "results" / "sat-matrix"


def zoo(families=("CNN", "NAS", "Transformer", "MLP-Mixer", "Hybrid"), per_family: int = 2, seed: int = 0):
    """A zoo whose SAT is high within a family; long model names, as the real zoo has."""
    rng = np.random.default_rng(seed)
    fam = np.repeat(families, per_family)
    names = [f"{f.lower().replace('-', '')}_model_number_{i}_s1" for i, f in enumerate(fam)]
    n = len(names)
    sat = 2.5 + 1.2 * (fam[:, None] == fam[None, :]) + 0.2 * rng.standard_normal((n, n))
    np.fill_diagonal(sat, np.log(100))
    sizes = [250, 500, 1000]
    return xr.Dataset(
        {"sat": (("model", "model_b"), sat), "accuracy": ("model", rng.uniform(0.55, 0.8, n)),
         "stability_rate": (("size", "repeat"), 40 + rng.standard_normal((3, 10)) / np.sqrt(sizes)[:, None])},
        coords={"model": names, "model_b": names, "family": ("model", fam), "size": sizes, "repeat": np.arange(10)},
        attrs={"stability_pair": f"{names[0]},{names[-1]}", "dataset_source": "/data/cifar10/test.tar.gz",
               "params_json": json.dumps({"stability_pool": 2000})})


def stored():
    files = sorted(RESULTS.glob("*.nc"))
    for f in files:
        try:
            return xr.load_dataset(f)
        except (FileNotFoundError, OSError):  # replaced by a run while we read
            continue
    pytest.skip("no stored sat-matrix result")


FIGURES = ["accuracy", "sat_heatmap", "tsne", "stability", "sat_vs_accuracy"]


def draw(name: str, ds: xr.Dataset):
    clusters = spectral_clusters(ds["sat"], n_clusters=3) if name in ("sat_heatmap", "tsne") else None
    if name in ("sat_heatmap", "tsne"):
        return getattr(F, name)(ds, clusters=clusters)
    return getattr(F, name)(ds)


@pytest.mark.parametrize("name", FIGURES)
def test_every_figure_draws_polished_on_a_synthetic_zoo(name):
    assert_polished(draw(name, zoo()))


@pytest.mark.parametrize("name", FIGURES)
def test_every_figure_draws_polished_on_the_stored_result(name):
    assert_polished(draw(name, stored()))


@pytest.mark.parametrize("families", [("CNN", "NAS", "Transformer", "MLP-Mixer", "Hybrid"), ("Hybrid", "CNN"),
                                      ("Transformer",)])
def test_accuracy_bars_have_their_family_colour(families):
    ds = zoo(families, per_family=3)
    fig = F.accuracy(ds)
    ax = fig.axes[0]
    fam = dict(zip(ds["model"].values, ds["family"].values))
    bars = sorted((p for p in ax.patches if np.isfinite(p.get_width()) and p.get_width() > 0),
                  key=lambda p: p.get_y())
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert len(bars) == len(names) == ds.sizes["model"]
    for bar, name in zip(bars, names):
        assert rgb(bar.get_facecolor()) == rgb(family_color(fam[name]))
    assert legend_colors(ax.get_legend()) == {f: rgb(family_color(f)) for f in families}


def test_tsne_points_have_their_family_colour_and_every_name_shows_in_full():
    ds = zoo()
    fig = F.tsne(ds, clusters=spectral_clusters(ds["sat"], n_clusters=3))
    ax = fig.axes[0]
    (points,) = [c for c in ax.collections if len(c.get_offsets()) == ds.sizes["model"]]
    assert [rgb(c) for c in points.get_facecolors()] == [rgb(family_color(f)) for f in ds["family"].values]
    renderer = fig.canvas.get_renderer()
    box = ax.get_window_extent(renderer)
    labels = [t for t in ax.texts]
    assert sorted(t.get_text() for t in labels) == sorted(ds["model"].values)
    for t in labels:  # inside the axes: neither cut by its edge nor under the legend
        e = t.get_window_extent(renderer)
        assert box.x0 - 1 <= e.x0 and e.x1 <= box.x1 + 1 and box.y0 - 1 <= e.y0 and e.y1 <= box.y1 + 1, t.get_text()


def _overlap(a, b) -> float:
    return max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0)) * max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))


@pytest.mark.parametrize("source", ["synthetic", "stored"])
def test_tsne_names_do_not_overlap(source):
    """No two model names of the t-SNE overlap (``label_points``), on a synthetic zoo and on the stored one."""
    ds = zoo(per_family=4) if source == "synthetic" else stored()
    fig = F.tsne(ds, clusters=spectral_clusters(ds["sat"], n_clusters=3))
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in fig.axes[0].texts]
    assert sorted(n for n, _ in boxes) == sorted(ds["model"].values)
    overlapping = [(n, m) for i, (n, a) in enumerate(boxes) for m, b in boxes[i + 1:] if _overlap(a, b) > 1]
    assert not overlapping, overlapping


def test_heatmap_bands_follow_the_rows_and_the_palette():
    ds = zoo(("NAS", "CNN", "Hybrid"), per_family=3)
    order = hierarchical_order(ds["sat"])
    fig = F.sat_heatmap(ds, clusters=spectral_clusters(ds["sat"], n_clusters=3))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == order  # full names, in the heat map's order
    assert [t.get_text() for t in ax.get_xticklabels()] == order
    fam = dict(zip(ds["model"].values, ds["family"].values))
    want = [rgb(family_color(fam[m])) for m in order]
    bands = [a for a in fig.axes if len(a.images) == 1]
    assert len(bands) == 2 and all(band_colors(b) == want for b in bands)


def test_same_family_pairs_take_the_family_colour_and_mixed_pairs_grey():
    ds = zoo(("CNN", "Transformer", "Hybrid"), per_family=3)
    fig = F.sat_vs_accuracy(ds)
    points = fig.axes[0].collections[-1]
    colors = [rgb(c) for c in points.get_facecolors()]
    n_same = 3 * 3  # three families, three pairs within each
    assert colors.count(rgb(F.OTHER_COLOR)) == len(colors) - n_same
    assert set(colors) - {rgb(F.OTHER_COLOR)} == {rgb(family_color(f)) for f in ("CNN", "Transformer", "Hybrid")}


def test_tsne_and_accuracy_agree_on_the_colours():
    ds = zoo()
    acc = legend_colors(F.accuracy(ds).axes[0].get_legend())
    ts = {k: v for k, v in legend_colors(F.tsne(ds).axes[0].get_legend()).items() if k in acc}
    assert acc == ts == {f: rgb(family_color(f)) for f in ds["family"].values}
