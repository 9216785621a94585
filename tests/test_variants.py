"""Training-procedure variants (SAT paper Table 4, appendix D): what each kind changes, and nothing else."""
import dataclasses

import pytest

from sat_lib.train import RECIPES, TrainConfig
from sat_lib.variants import DIVERSITY, HPARAM_GRIDS, REGIMES, variants

BASE = TrainConfig(epochs=3, batch_size=256, seed=0)


def test_the_three_kinds_of_the_paper_are_registered():
    assert list(DIVERSITY) == ["initialization", "hyperparameter", "regime"]


def test_initialization_starts_with_the_zoos_own_model_and_changes_only_the_seed():
    vs = DIVERSITY["initialization"]("m", BASE, "sgd", 4, 0)
    assert vs[0].train == BASE and vs[0].recipe == "sgd"  # same TrainConfig: same weights key as the zoo's model
    assert [v.train.seed for v in vs] == [0, 1, 2, 3]
    for v in vs:
        assert dataclasses.replace(v.train, seed=0) == BASE


@pytest.mark.parametrize("recipe", list(HPARAM_GRIDS))
def test_hyperparameters_are_distinct_grid_points_scaled_from_the_recipe(recipe):
    vs = DIVERSITY["hyperparameter"]("m", BASE, recipe, 5, 0)
    rec = RECIPES[recipe]
    points = {(v.train.lr / rec.lr, v.train.weight_decay / rec.weight_decay) for v in vs}
    assert len(points) == 5
    grid = HPARAM_GRIDS[recipe]
    for lr, wd in points:
        assert min(abs(lr - g) for g in grid["lr"]) < 1e-9 and min(abs(wd - g) for g in grid["weight_decay"]) < 1e-9
    assert len({v.train.seed for v in vs}) == 5 and BASE.seed not in {v.train.seed for v in vs}
    assert vs == DIVERSITY["hyperparameter"]("m", BASE, recipe, 5, 0)  # seeded: the same draw every time


def test_regimes_edit_one_thing_each():
    vs = DIVERSITY["regime"]("m", BASE, "sgd", len(REGIMES), 0)
    by = {v.label.split("/")[1]: v for v in vs}
    assert by["no-augmentation"].train.augment is False
    assert by["no-smoothing"].train.label_smoothing == 0.0
    assert by["other-optimizer"].recipe == "adamw" and by["other-optimizer"].train == dataclasses.replace(
        BASE, seed=by["other-optimizer"].train.seed)
    assert by["small-batch"].train.batch_size == BASE.batch_size // 2


@pytest.mark.parametrize("kind, n, message", [("hyperparameter", 99, "combinations"), ("regime", 99, "regimes")])
def test_asking_for_more_variants_than_a_kind_has_says_how_many_there_are(kind, n, message):
    with pytest.raises(ValueError, match=message):
        DIVERSITY[kind]("m", BASE, "adamw", n, 0)


def test_labels_are_unique_across_kinds_and_unknown_kinds_are_named():
    vs = variants("m", BASE, "sgd", list(DIVERSITY), 5)
    assert len({v.label for v in vs}) == len(vs) == 15
    with pytest.raises(KeyError, match="did you mean 'regime'"):
        variants("m", BASE, "sgd", ["regim"], 2)
