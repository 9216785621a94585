"""The family palette: one fixed, distinct colour per family, whatever subset a figure shows."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from matplotlib.colors import to_rgb

from sat_lib import plots
from sat_lib.models import FAMILIES
from sat_lib.models.widths import WIDTH_FAMILIES
from sat_lib.plots import (FAMILY_PALETTE, SAT_FAMILY_ORDER, WIDTH_FAMILY_ORDER, family_color, family_colors,
                           family_key, family_order, width_colors)

CHAPTERS = {"sat": tuple(FAMILIES), "salience": tuple(WIDTH_FAMILIES)}


def test_every_family_of_both_chapters_has_a_colour():
    assert set(SAT_FAMILY_ORDER) == set(FAMILIES)
    assert set(WIDTH_FAMILY_ORDER) == set(WIDTH_FAMILIES)
    for name in WIDTH_FAMILIES:  # the salience results name a family by key, label or abbreviation
        fam = WIDTH_FAMILIES[name]
        assert family_color(fam.label) == family_color(fam.short) == family_color(name) == FAMILY_PALETTE[name]
    assert family_color("MLP") == FAMILY_PALETTE["MLP-Mixer"]
    assert family_color("NAS (CNN)") == FAMILY_PALETTE["NAS"]  # a base architecture with its qualifier


# Simulated colour-vision deficiencies (Machado, Oliveira & Fernandes 2009, severity 1), on linear RGB.
VISION = {
    "normal": np.eye(3),
    "protanopia": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
}


def _lab(color, vision) -> np.ndarray:
    """CIELAB (D65) of a colour as seen with the given vision."""
    c = np.asarray(to_rgb(color))
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    lin = np.clip(VISION[vision] @ lin, 0, 1)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ lin
    xyz /= np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


@pytest.mark.parametrize("vision", list(VISION))
@pytest.mark.parametrize("chapter", list(CHAPTERS))
def test_colours_are_distinct_within_a_chapter_also_for_colour_blind_readers(chapter, vision):
    labs = {f: _lab(FAMILY_PALETTE[f], vision) for f in CHAPTERS[chapter]}
    for a, b in itertools.combinations(labs, 2):
        # CIE76 ΔE: 2 is a just-noticeable difference; 15 tells two markers apart at a glance
        assert np.linalg.norm(labs[a] - labs[b]) > 15, (a, b)


@pytest.mark.parametrize("chapter", list(CHAPTERS))
def test_a_family_keeps_its_colour_in_every_subset(chapter):
    names = CHAPTERS[chapter]
    for r in range(1, len(names) + 1):
        for subset in itertools.combinations(names, r):
            for order in (subset, subset[::-1]):
                assert family_colors(order) == {n: FAMILY_PALETTE[n] for n in subset}
                assert family_order(order) == [n for n in FAMILY_PALETTE if n in subset]


def test_the_palette_is_one_read_only_object():
    assert plots.FAMILY_PALETTE is FAMILY_PALETTE
    with pytest.raises(TypeError):
        FAMILY_PALETTE["CNN"] = "red"  # type: ignore[index]
    full = family_colors()
    full["CNN"] = "red"  # a copy: changing it changes no figure
    assert FAMILY_PALETTE["CNN"] != "red"


def test_an_unknown_family_is_an_error_not_a_silent_colour():
    with pytest.raises(KeyError, match="no colour for family"):
        family_key("Capsule")


def test_width_colours_depend_on_k_and_the_scale_only():
    scale = [4, 8, 16, 32]
    full = width_colors(scale)
    assert width_colors([8, 16], scale) == {8: full[8], 16: full[16]}
    assert len(set(full.values())) == len(scale)
    lightness = [np.mean(to_rgb(full[k][:3])) for k in scale]
    assert lightness == sorted(lightness)  # sequential: wider is lighter
    assert len(width_colors([16])) == 1  # one width alone still gets a colour
