"""The diversity-ensembles figures on a hand-made result: every panel drawn, legends off the data, nothing cut off."""
import pytest

from sat_lib.plots import diversity_ensembles as F
from tests.analysis.test_diversity_ensembles import SETS, fake_result
from tests.plots._checks import assert_polished


@pytest.mark.parametrize("m", [6, 14])  # 15 pairs are labelled in Fig. 9, 91 are not
def test_figures_are_polished(m):
    ds = fake_result(m=m)
    for fig in (F.fig5(ds), F.fig6(ds), F.fig7(ds), F.fig9(ds)):
        assert_polished(fig)


def test_fig7_has_a_panel_per_metric_and_set_and_fig5_two_with_a_colour_bar():
    ds = fake_result(m=6)
    fig = F.fig7(ds)
    assert len([ax for ax in fig.axes if ax.collections]) == len(F.METRICS) * len(SETS)
    fig = F.fig5(ds)
    assert len(fig.axes) == 3 and fig.axes[-1].get_ylabel() == "ensemble accuracy (%)"
    assert [t.get_text() for t in fig.legends[0].get_texts()][0].endswith(" M")
