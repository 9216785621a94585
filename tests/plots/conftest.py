"""Figures are drawn with matplotlib's Agg backend (no display), the book's theme, and closed after each test."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from sat_lib import plots  # noqa: E402


@pytest.fixture(autouse=True)
def _theme_and_cleanup():
    plots.use_style()
    yield
    plt.close("all")
