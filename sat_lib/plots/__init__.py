"""Figures for the book: one function per figure, taking a results Dataset, returning a matplotlib Figure.

The theme lives here, and so do the colours every figure shares:

* :data:`FAMILY_PALETTE`: one fixed colour per model family, by the family's key (``"CNN"``, ``"cnn_small"``);
  :func:`family_color` also takes the labels the results carry (``"CNNSmall"``, ``"CS"``, ``"MLP"``), and
  :func:`family_colors` gives the ``{name: colour}`` dict for a seaborn ``palette=``. The colour of a family never
  depends on which other families a figure shows.
* :func:`width_colors`: the sequential palette (:data:`WIDTH_CMAP`) for the width ``k``, on a log scale.
* :data:`BATCH_CMAP`: the sequential palette for batch sizes.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

# Five colours, shared by the two chapters: seaborn's "colorblind" (Okabe–Ito based) blue #0173b2, sky blue
# #56b4e9, orange #de8f05 and green #029e73, and a dark purple #7e3d78 (the palette's purple #cc78bc darkened).
# Chosen among the palette's entries for the largest smallest CIELAB distance between any two of them, for normal
# vision and simulated protan-, deutan- and tritanopia (tests/plots/test_palette.py checks it); vermillion beside
# orange, and purple beside blue, were too close. Kin share a hue where they can: the zoo's NAS models are CNNs
# (sky blue beside CNN's blue), CNNSmall/CNNLarge are sky blue/blue, ViT is a Transformer (orange).
_SAT_FAMILIES = {          # sat_lib.models.components.FAMILIES, the SAT chapter's zoo
    "CNN": "#0173b2",
    "NAS": "#56b4e9",
    "Transformer": "#de8f05",
    "MLP-Mixer": "#029e73",
    "Hybrid": "#7e3d78",
}
_WIDTH_FAMILIES = {        # sat_lib.models.widths.WIDTH_FAMILIES, the salience chapter's width families
    "cnn_small": "#56b4e9",
    "cnn_large": "#0173b2",
    "resnet_small": "#029e73",
    "resnet_large": "#7e3d78",
    "vit": "#de8f05",
}
FAMILY_PALETTE: Mapping[str, str] = MappingProxyType({**_SAT_FAMILIES, **_WIDTH_FAMILIES})
"""Family key → colour (hex), read-only; the one place a family's colour is defined."""

SAT_FAMILY_ORDER: tuple[str, ...] = tuple(_SAT_FAMILIES)
WIDTH_FAMILY_ORDER: tuple[str, ...] = tuple(_WIDTH_FAMILIES)

FAMILY_ALIASES: Mapping[str, str] = MappingProxyType({
    "MLP": "MLP-Mixer",
    # the labels and short names of WidthFamily (sat_lib.models.widths), as the salience results carry them
    "CNNSmall": "cnn_small", "CS": "cnn_small",
    "CNNLarge": "cnn_large", "CL": "cnn_large",
    "ResNetSmall": "resnet_small", "RS": "resnet_small",
    "ResNetLarge": "resnet_large", "RL": "resnet_large",
    "ViT": "vit",
})
"""Other names of a family (labels, abbreviations) → its key in :data:`FAMILY_PALETTE`."""

WIDTH_CMAP = "viridis"
"""The sequential colour map of the width k in every figure (its yellow end, pale on white, is left out)."""
BATCH_CMAP = "crest"
"""The sequential palette of batch sizes."""


def family_key(name: str) -> str:
    """The palette key of a family name: the key itself, a label (``"CNNSmall"``), an abbreviation (``"CS"``) or a
    base architecture with its qualifier (``"NAS (CNN)"``)."""
    name = str(name)
    if name in FAMILY_PALETTE:
        return name
    if name in FAMILY_ALIASES:
        return FAMILY_ALIASES[name]
    base = name.split(" (")[0]
    if base in FAMILY_PALETTE:
        return base
    raise KeyError(f"no colour for family {name!r}; known: {', '.join(FAMILY_PALETTE)} "
                   f"(or {', '.join(FAMILY_ALIASES)})")


def family_color(name: str) -> str:
    """The colour (hex) of one family, whatever name the results use for it."""
    return FAMILY_PALETTE[family_key(name)]


def family_colors(names: Iterable[str] | None = None) -> dict[str, str]:
    """``{name: colour}`` for the given family names (each spelled as the data spell it, in first-seen order), or
    for every family; pass it as seaborn's ``palette=``. A family's colour is the same whatever the subset."""
    if names is None:
        return dict(FAMILY_PALETTE)
    return {str(n): family_color(n) for n in dict.fromkeys(map(str, names))}


def family_order(names: Iterable[str]) -> list[str]:
    """The distinct names in the palette's fixed order (chapter by chapter), for ``hue_order=`` and legends."""
    rank = {k: i for i, k in enumerate(FAMILY_PALETTE)}
    return sorted(dict.fromkeys(map(str, names)), key=lambda n: rank[family_key(n)])


def family_handles(names: Iterable[str], **kwargs) -> list:
    """Legend handles (coloured patches) for the given families, in the palette's order."""
    from matplotlib.patches import Patch

    return [Patch(facecolor=family_color(n), label=n, **kwargs) for n in family_order(names)]


def width_colors(widths: Iterable[int], scale: Iterable[int] | None = None) -> dict[int, tuple]:
    """``{k: colour}`` from :data:`WIDTH_CMAP` on a log scale of k. ``scale`` is the set of widths the colours
    span (default: ``widths``); pass every width of the chapter and a given k has the same colour in every
    figure, whatever widths that figure shows."""
    widths = [int(k) for k in widths]
    span = [int(k) for k in (scale if scale is not None else widths)] or widths
    lo, hi = np.log2(min(span)), np.log2(max(span))
    cmap = plt.get_cmap(WIDTH_CMAP)
    out = {}
    for k in widths:
        x = 0.5 if hi == lo else (np.log2(k) - lo) / (hi - lo)
        out[k] = cmap(0.85 * float(np.clip(x, 0, 1)))
    return out


def legend_outside(ax, handles=None, labels=None, title=None, fontsize: float = 8, **kwargs):
    """A legend to the right of the axes, outside them (it never covers data)."""
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    elif labels is None:
        labels = [h.get_label() for h in handles]
    kwargs = {"loc": "upper left", "bbox_to_anchor": (1.02, 1.0), "borderaxespad": 0.0, **kwargs}
    return ax.legend(handles, labels, title=title, fontsize=fontsize, title_fontsize=fontsize, **kwargs)


def label_points(ax, xs, ys, names, fontsize: float = 6, color: str = "0.3") -> list:
    """Name each point (``xs``, ``ys`` in data units) so that no name overlaps another name or a point and none
    leaves the axes: adjustText moves the names apart and draws a thin line from a moved name to its point. Call it
    once the axes' limits are final (after fitting lines and ``tight_layout``)."""
    from adjustText import adjust_text

    xs, ys = [float(x) for x in xs], [float(y) for y in ys]
    texts = [ax.text(x, y, str(n), fontsize=fontsize, color=color) for x, y, n in zip(xs, ys, names)]
    if texts:
        # expand: the margin kept around each name (adjustText's default 1.05 x 1.2 leaves crowds overlapping);
        # iter_lim: a fixed number of steps at most, so the figure does not depend on the machine's speed
        # (adjustText's default stops after 1 s of wall time)
        adjust_text(texts, x=xs, y=ys, ax=ax, expand=(1.2, 1.5), iter_lim=1000,
                    arrowprops={"arrowstyle": "-", "color": "0.6", "lw": 0.4})
    return texts


@contextmanager
def seeded_jitter(seed: int = 0) -> Iterator[None]:
    """Seaborn's strip-plot jitter draws from numpy's global generator, which a notebook kernel seeds from the
    operating system: inside this block it is seeded (and restored after), so a figure is the same run to run."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def use_style() -> None:
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")


def show(fig) -> None:
    """Display a figure in the notebook's output (whatever the matplotlib backend) and free it."""
    from IPython.display import display

    display(fig)
    plt.close(fig)


HEADLINE = "headline"
"""The glue key (myst-nb) of a chapter's headline figure: the book's landing page pastes it from the chapter
(``{glue} headline`` with ``:doc: chapters/<chapter>.ipynb``)."""


def headline(fig) -> None:
    """Show a chapter's headline figure — the one its page opens with — and record it under :data:`HEADLINE` for
    the landing page (``myst_nb.glue``: the same image, shown here and pasted there), then free it."""
    from myst_nb import glue

    glue(HEADLINE, fig, display=True)
    plt.close(fig)


def family_bands(ax, rows: Iterable[str] | None = None, cols: Iterable[str] | None = None,
                 size: str = "2.5%", pad: float = 0.05) -> dict:
    """Colour strips beside a heat map (drawn by ``sns.heatmap``, cells at 0..n): one cell per row on the right
    (``rows``, top to bottom) and per column on top (``cols``), coloured by family. Returns the strip axes."""
    from matplotlib.colors import to_rgb
    from mpl_toolkits.axes_grid1 import make_axes_locatable

    div = make_axes_locatable(ax)
    out = {}
    if cols is not None:
        cols = list(cols)
        top = div.append_axes("top", size=size, pad=pad)
        top.imshow(np.array([[to_rgb(family_color(f)) for f in cols]]), aspect="auto", interpolation="nearest",
                   extent=(0, len(cols), 1, 0))
        top.set_xlim(ax.get_xlim())
        top.set_axis_off()
        out["top"] = top
    if rows is not None:
        rows = list(rows)
        right = div.append_axes("right", size=size, pad=pad)
        right.imshow(np.array([[to_rgb(family_color(f))] for f in rows]), aspect="auto", interpolation="nearest",
                     extent=(0, 1, len(rows), 0))
        right.set_ylim(ax.get_ylim())
        right.set_axis_off()
        out["right"] = right
    return out
