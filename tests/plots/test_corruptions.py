"""The corruption gallery: one row per corruption, the clean image then three severities."""
import numpy as np

from sat_lib.plots.corruptions import gallery


def test_gallery_has_a_row_per_corruption_and_a_column_per_severity():
    images = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    fig = gallery(images, ["lines", "plasma_noise"])
    assert len(fig.axes) == 2 * 2 * 4
    titles = [ax.get_title() for ax in fig.axes[:8] if ax.get_title()]
    assert titles[0] == "clean" and len(titles) == 4
