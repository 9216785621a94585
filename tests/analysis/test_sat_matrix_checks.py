"""The sat-matrix attack checks' analysis on synthetic checks: an attack variant that fools the same images keeps
every pair's SAT (its gate passes), one that fools many more moves it beyond the tolerance (its gate fails and
every SAT claim reads not tested)."""
import numpy as np
import pytest
import torch
import xarray as xr

from sat_lib.analysis import sat_matrix as M
from sat_lib.analysis import sat_matrix_checks as C
from sat_lib.measures import sat_matrix

MODELS = ["a", "b", "c", "d"]


def synthetic(extra_fooled: float = 0.0, n: int = 400, seed: int = 0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    m = len(MODELS)
    correct = rng.random((m, n)) < 0.8
    fooled = rng.random((m, m, n)) < 0.4
    more = fooled | (rng.random((m, m, n)) < extra_fooled)
    variants = {"chapter": fooled, "fp32": fooled.copy(), "steps_x2": more}
    f = np.stack(list(variants.values()))
    c = np.stack([correct] * 3)
    sats = np.stack([sat_matrix(torch.from_numpy(a), torch.from_numpy(correct), eps_s=0.01)[0].numpy() for a in f])
    return xr.Dataset(
        {"fooled": (("variant", "model", "model_b", "sample"), f), "correct": (("variant", "model", "sample"), c),
         "sat": (("variant", "model", "model_b"), sats), "accuracy": (("variant", "model"), c.mean(-1))},
        coords={"variant": list(variants), "model": MODELS, "model_b": MODELS, "sample": np.arange(n),
                "layout": ("model", ["bf16+cl", "fp32", "bf16", "bf16+cl"]), "steps": ("variant", [50, 50, 100]),
                "precision": ("variant", ["auto", "fp32", "auto"])},
        attrs={"eps_s": 0.01})


def test_the_same_examples_keep_every_pair():
    check = synthetic()
    assert C.shift(check, "fp32", n_boot=50).value == 0
    assert all(g.passed for g in C.gates(check, n_boot=50))


def test_a_stronger_attack_moves_sat_beyond_the_tolerance():
    check = synthetic(extra_fooled=0.4)
    est = C.shift(check, "steps_x2", n_boot=50)
    assert est.low > C.TOLERANCE
    fp32, steps = C.gates(check, n_boot=50)
    assert fp32.passed is True and steps.passed is False and "had not converged" in steps.detail
    table = C.variant_table(check, n_boot=50)
    assert table.loc["steps_x2", "mean SAT change"] > 0 and table.loc["fp32", "largest |SAT change|"] == 0


def test_a_shift_is_bootstrapped_once_per_check_content(monkeypatch):
    calls = []
    monkeypatch.setattr(C, "_SHIFTS", {})
    real = C._shift
    monkeypatch.setattr(C, "_shift", lambda *a: calls.append(a[1:]) or real(*a))
    check = synthetic(extra_fooled=0.4)
    first = C.shift(check, "steps_x2", n_boot=50)
    assert C.shift(synthetic(extra_fooled=0.4), "steps_x2", n_boot=50) == first   # equal content: read back
    C.variant_table(check, n_boot=50), C.gates(check, n_boot=50)
    assert calls == [("steps_x2", 50, 0), ("fp32", 50, 0)]
    other = C.shift(synthetic(extra_fooled=0.2), "steps_x2", n_boot=50)           # other examples: computed
    assert other != first and len(calls) == 3


def test_without_a_check_the_gates_are_not_computed():
    gates = C.gates(None, claims=("x",))
    assert [g.passed for g in gates] == [None, None] and all(g.claims == ("x",) for g in gates)


def test_a_failed_check_stops_the_sat_claims():
    check = synthetic(extra_fooled=0.4)
    rng = np.random.default_rng(1)
    m = 6
    sat = rng.uniform(2, 4, (m, m))
    sat = (sat + sat.T) / 2
    np.fill_diagonal(sat, 4.6)
    names = [f"m{i}" for i in range(m)]
    zoo = xr.Dataset({"sat": (("model", "model_b"), sat), "accuracy": ("model", np.full(m, 0.7))},
                     coords={"model": names, "model_b": names})
    gates = M.checks(zoo, check)
    assert [g.passed for g in gates[1:]] == [True, False]
    assert "SAT std" in gates[1].detail


@pytest.mark.parametrize("same", [True, False])
def test_the_redone_attack_against_the_stored_matrix(same):
    check = synthetic()
    stored = check["sat"].sel(variant="chapter").drop_vars("variant").to_dataset(name="sat")
    if not same:
        stored["sat"] = stored["sat"] + 0.5
    assert (C.same_as_stored(check, stored) == 0) is same
    assert ("exactly" in C.summary(check, stored, n_boot=50)) is same
