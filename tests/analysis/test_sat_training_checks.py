"""The seed-check analysis on synthetic checks: one-sided transfer in each direction, the seeds' transfer under each
variant with an interval over images, the zoo's per-direction ranks, and the gates of the checked architecture."""
import numpy as np
import pytest
import xarray as xr

from sat_lib.analysis import sat_training_checks as T
from tests.analysis.test_sat_matrix_checks import MODELS, synthetic


def with_apgd(extra_fooled: float) -> xr.Dataset:
    """The synthetic check with an APGD variant that fools ``extra_fooled`` more of the images."""
    base = synthetic(extra_fooled=extra_fooled)
    apgd = base.sel(variant=["steps_x2"]).assign_coords(variant=["apgd"])
    out = xr.concat([base.sel(variant=["chapter", "fp32"]), apgd], dim="variant")
    return out.assign_attrs(check_arch="a")


def test_one_sided_reads_each_direction():
    fooled = np.zeros((2, 2, 4), dtype=bool)
    fooled[0, 1] = [True, True, False, False]   # a's examples fool b on half the images
    correct = np.ones((2, 4), dtype=bool)
    rate = T.one_sided(fooled, correct)
    assert rate[0, 1] == 50 and rate[1, 0] == 0


def test_direction_table_has_every_seed_and_variant():
    check = with_apgd(0.0)
    table = T.direction_table(check)
    assert len(table) == 3 * len(MODELS)
    row = table.loc[("chapter", "a")]
    rate = T.one_sided(check["fooled"].sel(variant="chapter").values, check["correct"].sel(variant="chapter").values)
    assert row["transfer to the other seeds (%)"] == pytest.approx(np.mean(rate[0, 1:]))
    assert row["transfer from the other seeds (%)"] == pytest.approx(np.mean(rate[1:, 0]))


def test_a_stronger_apgd_raises_the_seeds_transfer_and_fails_its_gate():
    check = with_apgd(0.4)
    assert T.seed_transfer(check, "apgd", n_boot=50).low > T.seed_transfer(check, "chapter", n_boot=50).high
    gates = {g.name: g for g in T.gates(check, "a", claims=("x",), n_boot=50)}
    apgd = next(g for name, g in gates.items() if "APGD" in name)
    assert apgd.passed is False and apgd.claims == ("x",) and apgd.name.startswith("a's seeds")
    assert next(g for name, g in gates.items() if "fp32" in name).passed is True


def test_without_a_check_the_seed_gate_is_not_computed():
    (gate,) = T.gates(None, "levit", claims=("x",))
    assert gate.passed is None and "check_arch" in gate.detail


def test_zoo_direction_rank_places_the_architecture():
    n = 200
    fooled = np.zeros((3, 3, n), dtype=bool)
    fooled[0, 1:, :20] = True      # a's examples fool the others on 10 %
    fooled[1:, 0, :100] = True     # theirs fool a on 50 %
    fooled[1, 2, :60] = fooled[2, 1, :60] = True
    zoo = xr.Dataset({"fooled": (("model", "model_b", "sample"), fooled),
                      "correct": (("model", "sample"), np.ones((3, n), dtype=bool))},
                     coords={"model": ["a", "b", "c"], "model_b": ["a", "b", "c"]})
    r = T.zoo_direction_rank(zoo, "a")
    assert r["as source (%)"] == pytest.approx(10) and r["as target (%)"] == pytest.approx(50)
    assert r["source rank"] == 0 and "a's examples fool" in T.summary(with_apgd(0.0), zoo, n_boot=20)
