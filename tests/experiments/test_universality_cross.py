"""The universality pair stage's check on models it trains again (one tiny model on digits, seconds on a CPU)."""
import dataclasses

import pytest
import torch

from sat_lib.experiments import resolve_params, universality as U, universality_cross as X
from tests._env import project_dirs


@pytest.fixture(scope="module")
def one_model(tmp_path_factory):
    """One adversarially trained model of the smoke profile, its per-model result stored, its weights cached."""
    with project_dirs(tmp_path_factory, "universality-cross") as (tmp, mp):
        cfg = resolve_params("universality", "smoke")
        spec = next(sp for (setting, _, eps), sp in U.model_specs(cfg).items() if setting == "full" and eps > 0)
        U.stored_model_job(spec)
        yield spec


def test_the_model_its_stored_result_measured_is_accepted(one_model):
    t = U.trained(one_model)
    assert t.from_cache
    X.check_retrained(one_model, t)


def test_a_retrained_model_that_differs_is_refused_and_the_fix_named(one_model):
    t = U.trained(one_model)
    with torch.no_grad():
        next(t.model.parameters()).add_(1e-2)
    with pytest.raises(X.RetrainedModelDiffers, match=r"training it again gave another model.*"
                                                      r"Restore the weights cache .* or recompute"):
        X.check_retrained(one_model, t)


def test_the_pair_stage_checks_only_the_models_it_trained_again(one_model, monkeypatch):
    checked = []
    monkeypatch.setattr(X, "check_retrained", lambda spec, t: checked.append(spec["name"]))
    group = {"members": [one_model], "images": "test", "ks": [5]}
    assert X.group_job(group)["redone_seconds"] == 0 and checked == []
    cached = U.trained(one_model)
    monkeypatch.setattr(U, "trained", lambda spec: dataclasses.replace(cached, from_cache=False))
    X.group_job(group)
    assert checked == [one_model["name"]]
