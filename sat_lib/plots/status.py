"""The book's scorecard (the status page's headline, pasted on the landing page): per paper, its tables and figures
by state and its statements by verdict, both read from ``sat_lib.claims.status.overview`` — the table the status
page prints, so the figure and the page never disagree."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sat_lib.claims.status import STATES, TALLY
from sat_lib.plots import legend_outside

VERDICT_COLORS = {"agrees": "#029e73", "disagrees": "#d55e00", "inconclusive": "#949494",
                  "not tested": "#d9d9d9", "context": "#ffffff"}
"""Verdict (as a tally names it, ``TALLY``) → colour: green and vermillion (Okabe–Ito) for the decided ones, greys
for the undecided, white (outlined) for context rows that are shown and never judged."""
STATE_COLORS = {"reproduced": "#0173b2", "partly": "#56b4e9", "not yet": "#d9d9d9", "not applicable": "#ffffff"}


def tally_of(text: str) -> dict[str, int]:
    """``"agrees 9 · not tested 10"`` (what ``status.verdict_counts`` writes) → ``{"agrees": 9, …}``; "—" → {}."""
    out = {}
    for part in str(text).split(" · "):
        name, _, count = part.rpartition(" ")
        if name and count.isdigit():
            out[name] = int(count)
    return out


def verdict_table(overview: pd.DataFrame) -> pd.DataFrame:
    """Statements per paper (rows, the overview's order) and verdict (columns, ``TALLY``'s order)."""
    rows = {paper: tally_of(text) for paper, text in overview["statements"].items()}
    names = list(TALLY.values())
    return pd.DataFrame.from_dict(rows, orient="index").reindex(index=overview.index, columns=names).fillna(0) \
        .astype(int)


def _stacked(ax, table: pd.DataFrame, colors: dict[str, str]) -> None:
    y = np.arange(len(table))[::-1]
    left = np.zeros(len(table))
    for name in table.columns:
        n = table[name].to_numpy()
        ax.barh(y, n, left=left, color=colors[name], edgecolor="0.35", linewidth=0.6, label=name, height=0.6)
        for yi, l, v in zip(y, left, n):
            if v:
                ax.text(l + v / 2, yi, str(v), ha="center", va="center", fontsize=8,
                        color="white" if name in ("agrees", "disagrees", "reproduced") else "0.15")
        left += n
    ax.set_yticks(y, table.index)
    ax.set_xlim(0, max(1, left.max()) * 1.02)
    ax.grid(axis="y", visible=False)


def scorecard(overview: pd.DataFrame):
    """Per paper, two stacked bars: its tables and figures by state (reproduced, partly, not yet, not applicable)
    and its statements by verdict (one per claim key; the project's own hypotheses left out). ``overview``:
    ``sat_lib.claims.status.overview(claims)``."""
    verdicts = verdict_table(overview)
    states = overview.reindex(columns=list(STATES)).fillna(0).astype(int)
    fig, axes = plt.subplots(2, 1, figsize=(9, 1.1 * len(overview) + 3.2))
    _stacked(axes[0], states, STATE_COLORS)
    axes[0].set_title("the papers' tables and figures, by state")
    axes[0].set_xlabel("tables and figures")
    _stacked(axes[1], verdicts, VERDICT_COLORS)
    axes[1].set_title("the papers' statements, by verdict")
    axes[1].set_xlabel("statements")
    for ax, title in zip(axes, ("state", "verdict")):
        legend_outside(ax, title=title)
    fig.tight_layout()
    return fig
