"""Property tests generated from the registry: metadata, declared invariances, maxima, ranges, symmetry."""
from __future__ import annotations

import math

import pytest
import torch

import sat_lib.measures as M
from sat_lib.measures import INVARIANCES, MEASURES, MeasureRecord, measure_table

from ._inputs import TRANSFORMS, make_inputs

RECORDS = [MEASURES[name] for name in MEASURES]
PAIR_RECORDS = [r for r in RECORDS if r.is_pair]
DECLARED = [(r.name, inv) for r in RECORDS for inv in sorted(r.invariances)]
# Transformations a pair measure does *not* claim invariance to, where they are meaningful: they must change it.
UNDECLARED = [
    (r.name, inv)
    for r in PAIR_RECORDS
    for inv in sorted(set(INVARIANCES) - r.invariances)
    if (inv, r.inputs) in TRANSFORMS and r.inputs != "correctness"
]


def _value(record: MeasureRecord, args: tuple) -> float:
    return float(record.fn(*args))


@pytest.fixture
def gen() -> torch.Generator:
    return torch.Generator().manual_seed(1234)


def test_every_public_measure_is_registered():
    fns = {r.fn for r in RECORDS}
    for name in ("agreement", "jsd_similarity", "disagreement", "q_statistic", "correlation_coefficient",
                 "error_consistency", "sat_score", "linear_cka", "procrustes_similarity", "knn_jaccard",
                 "gradient_cosine", "attribution_variance", "error_reduction_rate", "ensemble_gain",
                 "all_wrong_ratio", "shannon_equitability"):
        assert getattr(M, name) in fns, name


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r.name)
def test_record_metadata(record: MeasureRecord):
    assert record.kind in M.KINDS
    assert record.invariances <= set(INVARIANCES)
    assert record.inputs in M.INPUTS
    assert record.source and record.formula and "\\" in record.formula  # LaTeX
    assert record.range[0] < record.range[1]
    with pytest.raises(AttributeError):
        record.name = "x"  # frozen


def test_measure_table():
    table = measure_table()
    kinds = [M.KINDS.index(k) for k in table["kind"]]
    assert kinds == sorted(kinds)  # grouped by kind for the appendix
    assert set(table.index) == set(MEASURES)
    for col in ("kind", "higher_is_similar", "range_lo", "range_hi", "invariances", "symmetric", "source", "formula"):
        assert col in table.columns
    assert table.loc["linear_cka", "kind"] == "representational"
    assert "orthogonal" in table.loc["procrustes_similarity", "invariances"]


def test_unknown_measure_suggests_close_matches():
    with pytest.raises(KeyError, match="did you mean 'linear_cka'"):
        MEASURES["linear_ckaa"]


def test_bad_record_metadata_is_rejected():
    with pytest.raises(ValueError, match="not in the vocabulary"):
        MeasureRecord("x", abs, "functional", True, (0, 1), frozenset({"rotation"}), True, "s", "f", "logits")
    with pytest.raises(ValueError, match="kind"):
        MeasureRecord("x", abs, "magic", True, (0, 1), frozenset(), True, "s", "f", "logits")


@pytest.mark.parametrize(("name", "invariance"), DECLARED, ids=[f"{n}-{i}" for n, i in DECLARED])
def test_declared_invariance_holds(name: str, invariance: str, gen: torch.Generator):
    record = MEASURES[name]
    transform = TRANSFORMS[(invariance, record.inputs)]
    args = make_inputs(record.inputs, gen)
    before = _value(record, args)
    after = _value(record, transform(args, gen))
    assert after == pytest.approx(before, rel=1e-7, abs=1e-7)


@pytest.mark.parametrize(("name", "invariance"), UNDECLARED, ids=[f"{n}-{i}" for n, i in UNDECLARED])
def test_undeclared_transformation_changes_the_score(name: str, invariance: str, gen: torch.Generator):
    """Guards the metadata from over-claiming: a transformation not declared must be able to change the value."""
    record = MEASURES[name]
    args = make_inputs(record.inputs, gen)
    changed = _value(record, TRANSFORMS[(invariance, record.inputs)](args, gen))
    assert changed != pytest.approx(_value(record, args), rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("record", PAIR_RECORDS, ids=lambda r: r.name)
def test_identical_inputs_give_the_maximum(record: MeasureRecord, gen: torch.Generator):
    a, _ = make_inputs(record.inputs, gen)
    best = record.range[1] if record.higher_is_similar else record.range[0]
    assert _value(record, (a, a)) == pytest.approx(best, abs=1e-6)
    assert _value(record, (a, a.clone())) == pytest.approx(best, abs=1e-6)


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r.name)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_range_is_respected(record: MeasureRecord, seed: int):
    gen = torch.Generator().manual_seed(seed)
    lo, hi = record.range
    value = _value(record, make_inputs(record.inputs, gen))
    assert lo - 1e-12 <= value <= hi + 1e-12
    if record.is_pair:  # independent inputs as well
        a, _ = make_inputs(record.inputs, gen)
        _, b = make_inputs(record.inputs, gen)
        assert lo - 1e-12 <= _value(record, (a, b)) <= hi + 1e-12


@pytest.mark.parametrize("record", [r for r in RECORDS if r.is_pair or r.inputs == "transfer"], ids=lambda r: r.name)
def test_symmetry_flag(record: MeasureRecord, gen: torch.Generator):
    args = make_inputs(record.inputs, gen)
    swapped = (args[1], args[0]) if record.is_pair else (args[1], args[0], args[3], args[2])
    same = _value(record, swapped) == pytest.approx(_value(record, args), rel=1e-12, abs=1e-12)
    assert same == record.symmetric


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r.name)
def test_numpy_input_gives_the_same_value(record: MeasureRecord, gen: torch.Generator):
    args = make_inputs(record.inputs, gen)
    assert _value(record, tuple(a.numpy() for a in args)) == _value(record, args)


@pytest.mark.parametrize("record", [r for r in PAIR_RECORDS if r.prepare is not None], ids=lambda r: r.name)
def test_prepared_path_matches_the_function(record: MeasureRecord, gen: torch.Generator):
    a, b = make_inputs(record.inputs, gen)
    value = float(record.from_prepared(record.prepare(a), record.prepare(b)))
    assert value == pytest.approx(_value(record, (a, b)), rel=1e-12, abs=1e-12)


def test_sat_range_endpoints_are_logs():
    assert MEASURES["sat_score"].range == (math.log(0.01), math.log(100.0))
