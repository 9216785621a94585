"""The scorecard (the status page's headline, pasted on the landing page): its counts are the status page's."""
from __future__ import annotations

import pandas as pd
import pytest

from sat_lib.claims import status
from sat_lib.plots import status as F
from tests.plots._checks import assert_polished, rgb


def _claims_table(rows) -> pd.DataFrame:
    return pd.DataFrame([{"key": k, "source": s, "kind": "direction", "verdict": v} for k, s, v in rows])


def overview() -> pd.DataFrame:
    """The status page's overview table for claims tables made up here (one chapter without a result)."""
    claims = {name: None for p in status.inventory()["papers"].values() for name in (p.get("chapters") or ())}
    claims["sat-matrix"] = _claims_table([("a", "paper", "agrees"), ("b", "paper", "disagrees"),
                                          ("b", "paper", "agrees"), ("c", "paper", "inconclusive"),
                                          ("d", "project", "agrees"), ("e", "paper", "—"),
                                          ("f", "paper", "not tested (gate x)")])
    return status.overview(claims)


@pytest.mark.parametrize("text, counts", [("agrees 9 · disagrees 1 · not tested 10 · context 9",
                                           {"agrees": 9, "disagrees": 1, "not tested": 10, "context": 9}),
                                          ("—", {}), ("inconclusive 13", {"inconclusive": 13})])
def test_tally_reads_verdict_counts_back(text, counts):
    assert F.tally_of(text) == counts


def test_the_figures_counts_are_the_status_pages():
    ov = overview()
    table = F.verdict_table(ov)
    assert list(table.columns) == list(status.TALLY.values()) and list(table.index) == list(ov.index)
    for paper, row in table.iterrows():   # written back as verdict_counts writes them: the same text
        text = " · ".join(f"{name} {n}" for name, n in row.items() if n) or "—"
        assert text == ov.loc[paper, "statements"]
    sat = table.iloc[0]
    assert (sat["agrees"], sat["disagrees"], sat["inconclusive"], sat["not tested"], sat["context"]) == (1, 1, 1, 1, 1)
    assert table.iloc[1:].to_numpy().sum() == 0, "papers without results have no verdicts"


def test_scorecard_draws_polished_with_a_bar_per_paper_and_the_verdict_colours():
    ov = overview()
    fig = F.scorecard(ov)
    assert_polished(fig)
    states, verdicts = fig.axes[:2]
    assert [t.get_text() for t in verdicts.get_yticklabels()] == list(ov.index)
    colours = {rgb(p.get_facecolor()) for p in verdicts.patches if p.get_width() > 0}
    assert colours == {rgb(F.VERDICT_COLORS[v]) for v in ("agrees", "disagrees", "inconclusive", "not tested",
                                                           "context")}
    widths = sum(p.get_width() for p in states.patches)
    assert widths == ov.reindex(columns=list(status.STATES)).to_numpy().sum()
