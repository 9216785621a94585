"""Figures for the book: one function per figure, taking a results Dataset, returning a matplotlib Figure."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg", force=False)

import seaborn as sns  # noqa: E402


def use_style() -> None:
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
