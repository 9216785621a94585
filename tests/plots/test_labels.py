"""Point names (``sat_lib.plots.label_points``): none overlaps another, none leaves the axes."""
from __future__ import annotations

import itertools

import matplotlib.pyplot as plt
import numpy as np
import pytest

from sat_lib.plots import label_points


def _overlap(a, b) -> float:
    return max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0)) * max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_names_of_crowded_points_do_not_overlap_and_stay_inside(seed):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(0, 0.05, 24), rng.normal(0, 0.05, 24)       # a crowd in the middle
    x, y = np.r_[x, -1, 1], np.r_[y, -1, 1]                        # and two far points that fix the limits
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.scatter(x, y, s=20)
    fig.tight_layout()
    naive = [ax.text(a, b, f"model_{i:02d}", fontsize=6) for i, (a, b) in enumerate(zip(x, y))]
    renderer = fig.canvas.get_renderer()
    crowded = sum(_overlap(p.get_window_extent(renderer), q.get_window_extent(renderer)) > 1
                  for p, q in itertools.combinations(naive, 2))
    assert crowded > 10, "the test needs names that overlap where they start"
    for t in naive:
        t.remove()
    texts = label_points(ax, x, y, [f"model_{i:02d}" for i in range(len(x))])
    fig.canvas.draw()
    boxes = [t.get_window_extent(renderer) for t in texts]
    overlapping = [(p.get_text(), q.get_text()) for (p, a), (q, b) in itertools.combinations(zip(texts, boxes), 2)
                   if _overlap(a, b) > 4]
    # adjustText is a heuristic with a fixed step budget (for figures that do not depend on the machine's speed):
    # from more than ten overlapping pairs, at most one may still touch
    assert len(overlapping) <= 1, overlapping
    area = ax.get_window_extent(renderer)
    assert all(b.x0 >= area.x0 - 1 and b.x1 <= area.x1 + 1 and b.y0 >= area.y0 - 1 and b.y1 <= area.y1 + 1
               for b in boxes)
    assert [t.get_text() for t in texts] == [f"model_{i:02d}" for i in range(len(x))]
    plt.close(fig)


def test_no_points_no_names():
    fig, ax = plt.subplots()
    assert label_points(ax, [], [], []) == []
    plt.close(fig)
