"""The measure registry: one frozen metadata record per measure.

Metadata is data, so tests are generated from it (declared invariances, ranges, maximum on identical inputs) and the
book renders its appendix table from :func:`measure_table`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sat_lib.registry import Registry

KINDS: tuple[str, ...] = ("functional", "representational", "gradient", "ensemble")  # also the table's order

#: Fixed invariance vocabulary. Each transformation is applied to the *second* input only, except ``sample_order``
#: and ``member_order`` which reorder every input the same way. A measure is invariant if its value does not change.
INVARIANCES: dict[str, str] = {
    "orthogonal": "b -> b Q for an orthogonal Q (rotation or reflection of the feature space)",
    "isotropic_scaling": "b -> c b for a scalar c > 0",
    "translation": "b -> b + t, the same vector t added to every sample",
    "permutation": "b -> b P, a permutation of the features (neurons)",
    "logit_shift": "b -> b + c_i 1, a per-sample constant added to all logits",
    "sample_order": "every input reordered by the same permutation of the samples",
    "member_order": "every input reordered by the same permutation of the ensemble members",
}

#: What a measure's positional arguments are. Those of ``PAIR_INPUTS`` compare two models and work with :func:`pairwise`.
INPUTS: dict[str, str] = {
    "activations": "a, b: float (n, d_a), (n, d_b) activations of the same inputs",
    "logits": "a, b: float (n, C) logits of the same inputs",
    "correctness": "a, b: bool (n,) vectors, True where the model is correct",
    "gradients": "a, b: float (n, ...) input gradients of the same inputs",
    "transfer": "four bool (n,) vectors: A(x_B)!=y, B(x_A)!=y, A(x)=y, B(x)=y",
    "member_logits": "float (M, n, C) member logits and int (n,) labels",
    "member_correct": "bool (M, n), True where member m is correct on sample i",
    "member_predictions": "int (M, n) predicted labels of the members",
    "attributions": "float (M, n, ...) attribution maps of the members",
    "label_maps": "a, b: int (t, R, R) predicted classes of two models on the same t planes of R × R points",
}
PAIR_INPUTS: frozenset[str] = frozenset({"activations", "logits", "correctness", "gradients", "label_maps"})


@dataclass(frozen=True)
class MeasureRecord:
    """Metadata of one measure.

    ``prepare(x, **kw)`` / ``from_prepared(pa, pb, **kw)`` (optional) split a pair measure into per-item preprocessing
    (centring, norms, neighbour lists) and a cheap pair step; ``pairwise`` uses them. ``from_prepared`` may return a
    0-dim tensor or a float.
    """

    name: str
    fn: Callable[..., Any]
    kind: str
    higher_is_similar: bool
    range: tuple[float, float]
    invariances: frozenset[str]
    symmetric: bool
    source: str
    formula: str
    inputs: str
    prepare: Callable[..., Any] | None = field(default=None, compare=False)
    from_prepared: Callable[..., Any] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        where = f"MeasureRecord({self.name!r})"
        if self.kind not in KINDS:
            raise ValueError(f"{where}: kind {self.kind!r} is not one of {list(KINDS)}")
        unknown = set(self.invariances) - set(INVARIANCES)
        if unknown:
            raise ValueError(f"{where}: invariances {sorted(unknown)} are not in the vocabulary {sorted(INVARIANCES)}")
        if self.inputs not in INPUTS:
            raise ValueError(f"{where}: inputs {self.inputs!r} is not one of {sorted(INPUTS)}")
        lo, hi = self.range
        if not lo < hi:
            raise ValueError(f"{where}: range {self.range} must satisfy lo < hi")
        if (self.prepare is None) != (self.from_prepared is None):
            raise ValueError(f"{where}: give both prepare and from_prepared, or neither")

    @property
    def is_pair(self) -> bool:
        """True if the measure compares two models' outputs item by item (usable with ``pairwise``)."""
        return self.inputs in PAIR_INPUTS

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)


MEASURES: Registry[MeasureRecord] = Registry("measure")


def register_measure(record: MeasureRecord) -> MeasureRecord:
    """Add ``record`` to :data:`MEASURES` and return it."""
    return MEASURES.register(record.name, record)


def find_record(fn: Callable[..., Any]) -> MeasureRecord | None:
    """The record whose ``fn`` is ``fn``, or None."""
    for record in MEASURES._entries.values():  # noqa: SLF001 - same package
        if record.fn is fn:
            return record
    return None


def measure_table():
    """Metadata of every registered measure as a pandas DataFrame (one row per measure, grouped by kind in the order
    of :data:`KINDS`, then in registration order), for the book's appendix."""
    import pandas as pd

    rows = []
    for name, r in sorted(MEASURES.items(), key=lambda item: KINDS.index(item[1].kind)):
        rows.append(
            {
                "name": name,
                "kind": r.kind,
                "inputs": r.inputs,
                "higher_is_similar": r.higher_is_similar,
                "range_lo": float(r.range[0]),
                "range_hi": float(r.range[1]),
                "invariances": ", ".join(sorted(r.invariances)),
                "symmetric": r.symmetric,
                "source": r.source,
                "formula": r.formula,
            }
        )
    return pd.DataFrame(rows).set_index("name")
