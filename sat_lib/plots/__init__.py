"""Figures for the book: one function per figure, taking a results Dataset, returning a matplotlib Figure."""
from __future__ import annotations

import matplotlib.pyplot as plt
import seaborn as sns


def use_style() -> None:
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")


def show(fig) -> None:
    """Display a figure in the notebook's output (whatever the matplotlib backend) and free it."""
    from IPython.display import display

    display(fig)
    plt.close(fig)
