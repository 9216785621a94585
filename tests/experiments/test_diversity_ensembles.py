"""The diversity-ensembles chapter on the tiny zoo and digits (seconds on a CPU)."""
import math
from collections import Counter
from itertools import combinations

import numpy as np
import pytest
import torch

from sat_lib.analysis import diversity_ensembles as A
from sat_lib.claims import paper_claims
from sat_lib.experiments import diversity_ensembles as D
from sat_lib.experiments import resolve_params
from sat_lib.measures import majority_vote
from sat_lib.params import ParameterError
from sat_lib.zoo import ensembles
from tests._env import project_dirs


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """The smoke profile run twice: once computing, once recomputing the ensembles from the cached per-model
    outputs; captum's ``attribute`` calls are counted (the jobs run serially in this process)."""
    from captum.attr import IntegratedGradients, Saliency

    with project_dirs(tmp_path_factory, "diversity-ensembles", SAT_SCHEDULER="serial") as (tmp, mp):
        calls = Counter()
        for cls in (Saliency, IntegratedGradients):
            def counted(self, *args, _original=cls.attribute, _name=cls.__name__, **kwargs):
                calls[_name] += 1
                return _original(self, *args, **kwargs)
            mp.setattr(cls, "attribute", counted)
        cfg = resolve_params("diversity-ensembles", "smoke")
        ds = D.run(cfg)
        first = Counter(calls)
        again = D.run(cfg, mode="recompute")
        yield cfg, ds, again, first, calls, tmp


def test_every_combination_of_the_pool_on_every_set(smoke):
    cfg, ds, *_ = smoke
    assert ds.sizes["ensemble"] == math.comb(6, 3) == 20
    assert ds["accuracy"].dims == ("ensemble", "set", "consensus")
    assert ds["accuracy"].shape == (20, len(cfg.sets), 2)
    assert list(ds["set"].values) == list(cfg.sets)
    named = [tuple(m) for m in ds["members"].values]
    assert named == list(combinations(cfg.pool, 3))
    assert list(ds["ensemble"].values) == ["+".join(m) for m in named]
    assert ds.sizes["pair"] == 15 and list(ds["method"].values) == ["saliency", "ig@2", "ig@5"]


def test_attributions_are_computed_once_per_model(smoke):
    cfg, ds, again, first, calls, tmp = smoke
    files = sorted((tmp / "cache" / "attributions" / "digits").glob("*.pt"))
    assert len(files) == len(cfg.pool)
    assert sorted(f.name.split("-")[0] for f in files) == sorted(cfg.pool)
    batches = math.ceil(cfg.attribution_images / ensembles.ATTRIBUTION_BATCH)
    # per model and set (and one warm-up call per model), never per ensemble
    assert first["Saliency"] == len(cfg.pool) * (len(cfg.sets) * batches + 1)
    assert first["IntegratedGradients"] == len(cfg.pool) * len(cfg.ig_steps) * batches
    assert calls == first and again.attrs["attributions_computed"] == 0  # the ensembles again, from the cache
    assert ds.attrs["attributions_computed"] == len(cfg.pool)
    for name in ("accuracy", "attribution_diversity", "disagreement", "pair_diversity"):
        np.testing.assert_array_equal(again[name].values, ds[name].values)


def _cached_outputs(tmp, model: str) -> dict:
    (path,) = (tmp / "cache" / "attributions" / "digits").glob(f"{model}-*.pt")
    return torch.load(path, weights_only=True)


def test_scores_match_a_direct_recomputation_for_one_ensemble(smoke):
    cfg, ds, _, _, _, tmp = smoke
    y = ds["label"].values
    clean = list(ds["set"].values).index("clean")
    e = int(np.flatnonzero(ds["attribution_samples"].sel(set="clean").values == cfg.attribution_images)[0])
    names = list(ds["members"].values[e])
    out = [_cached_outputs(tmp, n) for n in names]
    logits = np.stack([o["logits"][clean].numpy() for o in out])  # (3, n, C)
    pred = logits.argmax(-1)
    member_acc = 100 * (pred == y).mean(1)
    averaging = 100 * (logits.mean(0).argmax(-1) == y).mean()
    row = ds.isel(ensemble=e).sel(set="clean")
    assert row["accuracy"].sel(consensus="averaging") == pytest.approx(averaging)
    np.testing.assert_array_equal(row["averaged_correct"].values, logits.mean(0).argmax(-1) == y)  # per image
    np.testing.assert_allclose(100 * ds["averaged_correct"].mean("image"),
                               ds["accuracy"].sel(consensus="averaging"))                         # every ensemble
    assert row["improvement"].sel(consensus="averaging") == pytest.approx(averaging - member_acc.max())
    assert row["member_accuracy"] == pytest.approx(member_acc.mean())
    # majority vote: decided wherever two members agree; the three-way ties are broken at random (seeded)
    agree = [(pred[a] == pred[b]) for a, b in combinations(range(3), 2)]
    decided = np.where(agree[0] | agree[1], pred[0], pred[2])
    tie = ~(agree[0] | agree[1] | agree[2])
    lo, hi = 100 * ((decided == y) & ~tie).mean(), 100 * (((decided == y) & ~tie) | (tie & (pred == y).any(0))).mean()
    vote = row["accuracy"].sel(consensus="vote").item()
    assert lo <= vote <= hi
    expected = majority_vote(torch.from_numpy(pred), seed=cfg.seed).numpy()
    assert vote == pytest.approx(100 * (expected == y).mean())
    correct = pred == y
    assert row["disagreement"] == pytest.approx(np.mean([(correct[a] != correct[b]).mean()
                                                         for a, b in combinations(range(3), 2)]))
    maps = np.stack([o["saliency"][clean].numpy().reshape(cfg.attribution_images, -1) for o in out]).astype(float)
    assert row["attribution_variance"] == pytest.approx(maps.var(0).sum(-1).mean())
    unit = maps / np.linalg.norm(maps, axis=-1, keepdims=True)
    assert row["attribution_diversity"] == pytest.approx((1 - (unit.mean(0) ** 2).sum(-1)).mean())


def test_zero_maps_leave_only_the_normalised_score_undefined():
    rng = np.random.default_rng(0)
    maps = rng.normal(size=(4, 5, 1, 3, 3))
    maps[2] = 0  # a model whose output ignores its input
    members = np.array(list(combinations(range(4), 3)))
    norm, raw, used = ensembles.attribution_scores(maps, members)
    with_dead = (members == 2).any(1)
    assert np.isnan(norm[with_dead]).all() and np.isfinite(norm[~with_dead]).all()
    assert np.isfinite(raw).all() and list(used) == [0 if d else 5 for d in with_dead]


def test_claims_keys_match_the_yaml(smoke):
    cfg, ds, *_ = smoke
    table = A.claims_table(ds, n_boot=30)
    assert list(dict.fromkeys(table["key"])) == list(paper_claims("diversity-ensembles")["claims"])
    assert all(v in {"agrees", "disagrees", "inconclusive", "—"} or v.startswith("not tested (gate: ")
               for v in table["verdict"])
    corrupted = len(cfg.sets) - 1
    assert (table["key"] == "trend_holds_under_corruption").sum() == corrupted
    claims_table, provenance = D.claims(cfg, "cache_only")
    assert len(claims_table) == len(table) and "commit" in provenance


@pytest.mark.parametrize("override,message", [
    ({"pool": ("tiny_cnn", "tiny_vit", "resnet99")}, "resnet99"),
    ({"size": 7}, "an ensemble needs 2 to 6 members"),
    ({"size": 1}, "an ensemble needs 2 to 6 members"),
    ({"sets": ("clean", "fog@2")}, "fog"),
    ({"sets": ("clean", "lines@12")}, "outside its valid range"),
    ({"sets": ("clean", "lines")}, "neither 'clean' nor corruption@severity"),
    ({"sets": ("lines@1.6",)}, "must include 'clean'"),
    ({"consensus": ("averaging", "median")}, "median"),
    ({"attribution_images": 500}, "exceeds n_images"),
    ({"ig_steps": (0,)}, "ig_steps"),
])
def test_bad_parameters_are_named(override, message):
    with pytest.raises((ParameterError, ValueError, KeyError), match=message):
        resolve_params("diversity-ensembles", "smoke", overrides=override)
