"""The diversity-nas chapter on digits (seconds on a CPU): a super-network, its size-matched pool, the ensembles."""
import json
import math
from itertools import combinations

import numpy as np
import pytest
import torch

from sat_lib.experiments import diversity_nas as N
from sat_lib.experiments import resolve_params
from sat_lib.models.supernet import SubnetConfig, count_parameters
from sat_lib.params import ParameterError
from tests._env import project_dirs


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    with project_dirs(tmp_path_factory, "diversity-nas", SAT_SCHEDULER="serial") as (tmp, mp):
        cfg = resolve_params("diversity-nas", "smoke")
        ds = N.run(cfg)
        again = N.run(cfg, mode="recompute")
        yield cfg, ds, again, tmp


def test_one_supernet_and_a_pool_of_near_equal_size(smoke):
    cfg, ds, _, tmp = smoke
    weights = sorted((tmp / "cache" / "weights" / "digits").glob("*.pt"))
    assert [w.name.split("-")[0] for w in weights] == [N.ENTRY_NAME] and "-supernet-" in weights[0].name
    assert ds.sizes["model"] == cfg.n_subnets and list(ds["family"].values) == [N.FAMILY] * cfg.n_subnets
    configs = [SubnetConfig.from_dict(json.loads(c)) for c in ds["subnet_config"].values]
    assert len(set(configs)) == cfg.n_subnets
    sizes = [count_parameters(cfg.space(), c, num_classes=10, in_chans=1) for c in configs]
    assert sizes == list(ds["model_params"].values)
    assert ds.sizes["ensemble"] == math.comb(cfg.n_subnets, cfg.size)
    assert [tuple(m) for m in ds["member_index"].values] == list(combinations(range(cfg.n_subnets), cfg.size))
    assert ds.attrs["supernet_train_seconds"] > 0 and ds.attrs["supernet_from_cache"] == 0


def test_rerun_reads_the_supernet_and_outputs_from_the_cache(smoke):
    cfg, ds, again, _ = smoke
    assert again.attrs["supernet_from_cache"] == 1 and again.attrs["attributions_computed"] == 0
    for name in ("accuracy", "attribution_diversity", "disagreement", "pair_diversity", "unadapted_accuracy"):
        np.testing.assert_array_equal(again[name].values, ds[name].values)


def test_scores_are_those_of_the_recalibrated_subnetwork(smoke):
    cfg, ds, _, tmp = smoke
    spec = N._spec_train(cfg)
    sup = N.trained_supernet(spec)
    assert sup.from_cache
    config = SubnetConfig.from_dict(json.loads(str(ds["subnet_config"].values[0])))
    sub = N.subnetwork(sup.model, config, {**spec, "bn_images": cfg.bn_images})
    from sat_lib.config import project_config
    from sat_lib.train import predict

    test = project_config().load_data("digits", "test")
    x = torch.from_numpy(test.images[ds["image"].values]).permute(0, 3, 1, 2)
    pred = predict(sub, x, precision="auto").numpy()  # the layout the job measured (the same calibration)
    np.testing.assert_array_equal(pred, ds["pred"].sel(set="clean").values[0])


def test_bad_parameters_are_named():
    for override, match in (({"size": 9}, "size"), ({"n_subnets": 1}, "n_subnets"),
                            ({"candidates": 2}, "candidates"), ({"sets": ["lines@1.6"]}, "clean"),
                            ({"stage_widths": [4, 8, 8, 8]}, "widths")):
        with pytest.raises(ParameterError, match=match):
            resolve_params("diversity-nas", "smoke", override)
