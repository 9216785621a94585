"""Planes through image triplets and the decision-region similarity on them (Somepalli et al.; SAT Table 1)."""
import numpy as np
import pytest
import torch
import torch.nn as nn

from sat_lib.boundary import draw_triplets, label_maps, plane_points
from sat_lib.measures import decision_region_similarity


def test_the_three_images_lie_on_their_plane_at_their_coordinates():
    g = torch.Generator().manual_seed(0)
    x1, x2, x3 = (torch.rand(3, 4, 4, generator=g, dtype=torch.float64) * 0.5 + 0.25 for _ in range(3))
    pts, coords = plane_points(x1, x2, x3, resolution=11, margin=0.0)
    assert pts.shape == (121, 3, 4, 4) and pts.min() >= 0 and pts.max() <= 1
    # corners of a margin-free grid: the first image sits at the grid's (0, 0) corner of the a-axis range
    e1 = (x2 - x1).flatten() / (x2 - x1).flatten().norm()
    recon = x1.flatten() + coords[1, 0] * e1
    torch.testing.assert_close(recon.view_as(x2), x2)
    for c in coords:  # every image's coordinates lie inside the grid's box
        assert pts is not None and torch.isfinite(c).all()


def test_degenerate_triplets_are_named():
    x = torch.rand(3, 4, 4)
    with pytest.raises(ValueError, match="identical"):
        plane_points(x, x, torch.rand(3, 4, 4))
    with pytest.raises(ValueError, match="collinear"):
        plane_points(x, x * 0.5, x * 0.25)


def test_triplets_are_seeded_and_of_distinct_classes():
    labels = np.repeat(np.arange(5), 20)
    t = draw_triplets(labels, 30, seed=1)
    assert (t == draw_triplets(labels, 30, seed=1)).all()
    assert all(len(set(labels[row])) == 3 for row in t)
    with pytest.raises(ValueError, match="3 classes"):
        draw_triplets(np.zeros(10, dtype=int), 2)


class Threshold(nn.Module):
    """Class = which third of the mean brightness the image falls in: a model with known decision regions."""

    def __init__(self, cut=(1 / 3, 2 / 3)):
        super().__init__()
        self.cut = cut
        self.w = nn.Parameter(torch.zeros(1))  # a parameter, so the model has a device

    def forward(self, x):
        m = x.flatten(1).mean(1, keepdim=True)
        return torch.cat([-(m - 0.16).abs(), -(m - 0.5).abs(), -(m - 0.84).abs()], 1) + 0 * self.w


def test_identical_models_agree_everywhere_and_other_regions_less():
    g = torch.Generator().manual_seed(0)
    images = torch.stack([torch.full((1, 4, 4), v) for v in (0.1, 0.5, 0.9)]) + torch.rand(3, 1, 4, 4, generator=g) * 0.05
    trip = np.array([[0, 1, 2]])
    a = label_maps(Threshold(), images, trip, resolution=9, precision="fp32")
    assert a.shape == (1, 9, 9) and set(a.unique().tolist()) == {0, 1, 2}
    assert decision_region_similarity(a, a) == 1.0
    shifted = Threshold()
    shifted.forward = lambda x: Threshold.forward(shifted, x.clamp(0, 1) * 0.8)  # darker view: regions move
    b = label_maps(shifted, images, trip, resolution=9, precision="fp32")
    s = decision_region_similarity(a, b)
    assert 0 < s < 1
    per = decision_region_similarity(a, b, reduce="none")
    assert per.shape == (1,) and float(per[0]) == pytest.approx(s)


def test_maps_of_different_shapes_are_refused():
    with pytest.raises(ValueError, match="decision_region_similarity"):
        decision_region_similarity(torch.zeros(2, 3, 3, dtype=torch.long), torch.zeros(2, 4, 4, dtype=torch.long))


def test_unclamped_planes_extend_beyond_the_pixel_range_as_somepalli_draws_them():
    g = torch.Generator().manual_seed(1)
    x1, x2, x3 = (torch.rand(3, 4, 4, generator=g, dtype=torch.float64) for _ in range(3))
    clamped, coords = plane_points(x1, x2, x3, resolution=7, margin=0.5)
    free, coords_free = plane_points(x1, x2, x3, resolution=7, margin=0.5, clamp=False)
    assert clamped.min() >= 0 and clamped.max() <= 1
    assert free.min() < 0 or free.max() > 1  # the widened triangle leaves [0, 1]
    torch.testing.assert_close(coords, coords_free)
    torch.testing.assert_close(free.clamp(0, 1), clamped)  # the same plane, only the clamping differs
    images = torch.stack([x1, x2, x3]).float()
    maps = label_maps(Threshold(), images, np.array([[0, 1, 2]]), resolution=7, margin=0.5, precision="fp32",
                      clamp=False)
    assert maps.shape == (1, 7, 7)
