"""The atlas's figures on a synthetic atlas: the headline (measures × targets with intervals), the agreement heat
map, and a placed model's maps."""
from sat_lib.analysis import similarity_atlas as A
from sat_lib.plots import similarity_atlas as figures
from sat_lib.zoo.atlas_pairs import ATLAS_MEASURES, TARGETS
from tests.analysis.test_similarity_atlas import synthetic

from ._checks import assert_legends_off_the_data


def test_headline_has_a_panel_per_target_and_a_row_per_measure():
    ds = synthetic(m=8)
    fig = figures.headline(A.prediction_table(ds, n_folds=2, n_boot=20))
    assert len(fig.axes) == len(TARGETS)
    assert len(fig.axes[0].get_yticklabels()) == len(ATLAS_MEASURES)
    assert_legends_off_the_data(fig)


def test_agreement_heatmap_in_cluster_order():
    ds = synthetic(m=8)
    ag = A.measure_agreement(ds, n_boot=20)
    clusters = A.measure_clusters(ag)
    fig = figures.agreement_heatmap(ag, clusters)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == list(clusters["measure"])


def test_placement_maps_one_panel_per_measure_with_the_placed_model():
    ds = synthetic(m=7)
    zoo = ds.isel(model=slice(1, None), model_b=slice(1, None))
    new = ds["similarity"].isel(model=0, drop=True).rename(model_b="model").isel(model=slice(1, None))
    clusters = A.model_clusters(zoo, "sat", 2)
    fig = figures.placement_maps(zoo, new, "new", clusters)
    drawn = [ax for ax in fig.axes if ax.collections]
    assert len(drawn) == len(ATLAS_MEASURES)
    assert all(any(t.get_text() == "new" for t in ax.texts) for ax in drawn)
