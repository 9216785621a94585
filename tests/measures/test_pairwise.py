"""The pairwise helper: one preprocessing per item, one computation per unordered pair, a labelled DataArray."""
from __future__ import annotations

import math

import pytest
import torch

from sat_lib.measures import MEASURES, MeasureRecord, linear_cka, pairwise

from ._inputs import make_inputs


def _items(n_items: int = 3, seed: int = 0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    base = torch.randn(30, 6, generator=gen, dtype=torch.float64)
    return [torch.tanh(base @ torch.randn(6, 4 + i, generator=gen, dtype=torch.float64)) for i in range(n_items)]


@pytest.mark.parametrize("name", [n for n in MEASURES if MEASURES[n].is_pair])
def test_pairwise_equals_direct_calls(name: str):
    record = MEASURES[name]
    gen = torch.Generator().manual_seed(0)
    items = [*make_inputs(record.inputs, gen), make_inputs(record.inputs, gen)[1]]
    out = pairwise(name, items)
    assert out.dims == ("model", "model_b") and out.shape == (3, 3)
    assert list(out["model"].values) == ["m0", "m1", "m2"] and list(out["model_b"].values) == ["m0", "m1", "m2"]
    assert out.attrs["measure"] == name
    for i in range(3):
        for j in range(3):
            assert float(out[i, j]) == pytest.approx(float(record.fn(items[i], items[j])), rel=1e-12, abs=1e-12)


def test_function_mapping_names_and_selection():
    items = dict(zip(["resnet", "vit", "convnext"], _items()))
    out = pairwise(linear_cka, items)
    assert out.attrs["measure"] == "linear_cka" and out.attrs["higher_is_similar"] == 1
    assert float(out.sel(model="vit", model_b="resnet")) == pytest.approx(linear_cka(items["vit"], items["resnet"]))
    assert float(out.sel(model="vit", model_b="vit")) == 1.0
    named = pairwise("linear_cka", list(items.values()), names=["a", "b", "c"])
    assert list(named["model"].values) == ["a", "b", "c"]


def test_kwargs_reach_prepare_and_pair_steps():
    items = _items()
    out = pairwise("knn_jaccard", items, k=3)
    from sat_lib.measures import knn_jaccard

    assert float(out[0, 1]) == pytest.approx(knn_jaccard(items[0], items[1], k=3))
    assert '"k": 3' in out.attrs["kwargs_json"]
    deb = pairwise("linear_cka_debiased", items)
    assert float(deb[0, 2]) == pytest.approx(linear_cka(items[0], items[2], debiased=True))


def test_each_item_prepared_once_and_each_unordered_pair_computed_once():
    calls = {"prepare": 0, "pair": 0}

    def prepare(x):
        calls["prepare"] += 1
        return x.sum()

    def from_prepared(a, b):
        calls["pair"] += 1
        return a * b

    record = MeasureRecord("product", lambda a, b: float(a.sum() * b.sum()), "functional", True, (-1e9, 1e9),
                           frozenset(), True, "test", r"\sum a \sum b", "activations", prepare, from_prepared)
    out = pairwise(record, _items(4))
    assert calls == {"prepare": 4, "pair": 4 * 5 // 2}
    assert torch.equal(torch.as_tensor(out.values), torch.as_tensor(out.values).T)


def test_plain_function_computes_all_ordered_pairs_unless_symmetric():
    calls = []

    def first_mean(a, b):
        calls.append(1)
        return float(a.mean() - b.mean())

    items = _items()
    out = pairwise(first_mean, items)
    assert len(calls) == 9 and out.attrs["measure"] == "first_mean" and out.attrs["symmetric"] == 0
    assert float(out[0, 1]) == pytest.approx(-float(out[1, 0]))
    calls.clear()
    pairwise(first_mean, items, symmetric=True)
    assert len(calls) == 6


def test_pairwise_errors():
    items = _items()
    with pytest.raises(KeyError, match="did you mean 'linear_cka'"):
        pairwise("linear_ckaa", items)
    with pytest.raises(ValueError, match="pairwise: measure 'sat_score' takes 'transfer' inputs.*sat_matrix"):
        pairwise("sat_score", items)
    with pytest.raises(ValueError, match="pairwise: got 2 names for 3 items"):
        pairwise("linear_cka", items, names=["a", "b"])
    with pytest.raises(ValueError, match="pairwise: argument 'names' has duplicates"):
        pairwise("linear_cka", items, names=["a", "a", "b"])
    with pytest.raises(ValueError, match=r"linear_cka: expected equal n_samples"):
        pairwise("linear_cka", [items[0], items[1][:20]])


def test_nan_free_and_netcdf_safe_attrs():
    out = pairwise("procrustes_similarity", _items())
    assert not any(math.isnan(v) for v in out.values.ravel())
    assert all(isinstance(v, (str, int, float)) for v in out.attrs.values())
