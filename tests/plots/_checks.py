"""What every figure must satisfy: legends off the data, no text cut off by the figure's edge."""
from __future__ import annotations

import numpy as np
from matplotlib.colors import to_rgb


def rgb(color) -> tuple[float, float, float]:
    return tuple(np.round(to_rgb(color), 4))


def _data_axes(fig):
    return [ax for ax in fig.axes if ax.get_visible() and (ax.lines or ax.collections or ax.patches or ax.images)]


def legends(fig):
    out = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    return out + list(fig.legends)


def assert_legends_off_the_data(fig):
    """No legend overlaps the data area of any axes that holds data (heat-map bands included)."""
    renderer = fig.canvas.get_renderer()
    for leg in legends(fig):
        box = leg.get_window_extent(renderer)
        for ax in _data_axes(fig):
            area = ax.get_window_extent(renderer)
            overlap_w = min(box.x1, area.x1) - max(box.x0, area.x0)
            overlap_h = min(box.y1, area.y1) - max(box.y0, area.y0)
            assert overlap_w <= 1 or overlap_h <= 1, (
                f"legend {[t.get_text() for t in leg.get_texts()][:3]} covers axes {ax.get_title()!r}")


def assert_text_inside_the_figure(fig):
    """Everything drawn (tick labels, titles, annotations, legends) lies within the figure: nothing is cut off."""
    renderer = fig.canvas.get_renderer()
    page = fig.bbox
    boxes = [(ax.get_title() or ax.get_label(), ax.get_tightbbox(renderer)) for ax in fig.axes if ax.get_visible()]
    boxes += [(t.get_text(), t.get_window_extent(renderer)) for t in fig.texts if t.get_text()]
    boxes += [("figure legend", leg.get_window_extent(renderer)) for leg in fig.legends]
    for what, box in boxes:
        assert box.x0 >= page.x0 - 1 and box.x1 <= page.x1 + 1 and box.y0 >= page.y0 - 1 and box.y1 <= page.y1 + 1, (
            f"{what!r} reaches beyond the figure's edge: {box} vs {page}")


def handle_color(handle):
    """The colour a legend handle shows (a patch's face, a marker's face, or a line's colour)."""
    for attr in ("get_facecolor", "get_markerfacecolor", "get_color"):
        if hasattr(handle, attr):
            c = getattr(handle, attr)()
            c = c[0] if np.ndim(c) == 2 else c
            return rgb(c)
    raise TypeError(handle)


def legend_colors(leg) -> dict:
    return {t.get_text(): handle_color(h) for t, h in zip(leg.get_texts(), leg.legend_handles)}


def assert_polished(fig):
    fig.canvas.draw()
    assert_legends_off_the_data(fig)
    assert_text_inside_the_figure(fig)


def band_colors(ax) -> list[tuple]:
    """The colours of a family band (an axes holding one 1×n or n×1 image), in order."""
    (img,) = ax.images
    arr = np.asarray(img.get_array())
    return [rgb(c) for c in arr.reshape(-1, arr.shape[-1])]
