"""The corruptions chapter on the tiny zoo and digits (seconds on a CPU)."""
import numpy as np
import pytest

from sat_lib.analysis import corruptions as A
from sat_lib.claims import paper_claims
from sat_lib import zoo
from sat_lib.experiments import corruptions as C
from sat_lib.experiments import resolve_params
from sat_lib.params import ParameterError
from tests._env import project_dirs


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    with project_dirs(tmp_path_factory, "corruptions") as (tmp, mp):
        cfg = resolve_params("corruptions", "smoke")
        ds = C.run(cfg)
        yield cfg, ds, tmp


def test_every_model_on_the_clean_and_every_corrupted_set(smoke):
    cfg, ds, tmp = smoke
    assert list(ds["set"].values) == ["clean"] + [f"{n}@{s:g}" for n, s, _ in cfg.sets()]
    assert ds["pred"].shape == (ds.sizes["model"], len(cfg.sets()) + 1, cfg.n_images)
    cached = list((tmp / "cache" / "corrupted" / "digits").glob("*.npy"))
    assert len(cached) == len(cfg.sets())  # one cached corrupted set per (corruption, severity)


def test_corrupted_sets_change_the_images_and_are_reused(smoke):
    cfg, ds, tmp = smoke
    idx = ds["image"].values
    name, sev, _ = cfg.sets()[-1]
    first = zoo.corrupted_set("digits", name, sev, cfg.seed, idx)
    assert first.shape[-1] == 1 and first.dtype == np.uint8  # grey in, grey out
    from sat_lib.config import project_config
    clean = project_config().load_data("digits", "test").images[idx]
    assert np.abs(first.astype(int) - clean).mean() > 0
    np.testing.assert_array_equal(zoo.corrupted_set("digits", name, sev, cfg.seed, idx), first)


def test_claims_and_tables(smoke):
    _, ds, _ = smoke
    table = A.claims_table(ds, n_boot=30)
    assert list(dict.fromkeys(table["key"])) == list(paper_claims("corruptions")["claims"])
    assert all(v in {"agrees", "disagrees", "inconclusive", "—"} or v.startswith("not tested (gate: ")
               for v in table["verdict"])
    assert (table["key"] == "baseline_drops_under_corruption").sum() == 4  # one row per paper corruption
    f = A.frame(ds)
    assert {"clean (%)", "relative resilience", "lines@1.6 (%)"} <= set(f.columns)
    assert len(A.explained_table(ds, n_boot=20)) == 3
    assert len(A.by_corruption(ds)) == ds.sizes["set"]


@pytest.mark.parametrize("override,message", [
    ({"cbar": ("linez",)}, "linez"),
    ({"cbar": ("water_drop",)}, "not in CIFAR-10-C-bar"),
    ({"levels": (0, 6)}, "outside the C-bar set's severity levels"),
    ({"paper_set": False, "cbar": ()}, "nothing to evaluate"),
])
def test_bad_parameters_are_named(override, message):
    with pytest.raises((ParameterError, ValueError, KeyError), match=message):
        resolve_params("corruptions", "smoke", overrides=override)
