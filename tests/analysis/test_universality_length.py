"""The training-length section's analysis: the strong subset, the attack gap, the training effect, the gate."""
import json

import numpy as np
import pytest
import xarray as xr

from sat_lib.analysis.universality import claims as C
from sat_lib.analysis.universality import length as L

ATTACKS = ["pgd", "pgd_strong", "apgd_ce"]


def _length(robust: dict[tuple[int, str], float], n_images: int = 100, strong: int = 60, budgets=(2, 20),
            models=("a", "b", "c"), seed: int = 0) -> xr.Dataset:
    """A section result where each model keeps ``robust[(budget, attack)]`` of the images (each attack's robust
    images a subset of the weaker attack's, as a stronger attack finds every example a weaker one does)."""
    rng = np.random.default_rng(seed)
    correct = np.zeros((len(models), len(budgets), len(ATTACKS), n_images), dtype=bool)
    for i in range(len(models)):
        order = rng.permutation(n_images)
        for j, b in enumerate(budgets):
            for k, a in enumerate(ATTACKS):
                correct[i, j, k, order[:round(robust[(b, a)] * n_images)]] = True
    correct[:, :, 1:, strong:] = True  # strong attacks did not run there
    shape = (len(models), len(budgets))
    return xr.Dataset(
        {"accuracy": (("model", "budget"), np.full(shape, 0.8)),
         "epochs": (("model", "budget"), np.tile(np.array(budgets, float), (len(models), 1))),
         "train_seconds": (("model", "budget"), np.ones(shape)),
         "n_params": (("model", "budget"), np.ones(shape)),
         "correct": (("model", "budget", "attack", "image"), correct)},
        coords={"model": list(models), "budget": list(budgets), "attack": ATTACKS, "image": np.arange(n_images)},
        attrs={"strong_images": strong, "params_json": json.dumps({"eps": 0.25})})


def _robust(short: float, long: float, gap: float = 0.0) -> dict:
    return {(b, a): level - (gap if a == "apgd_ce" else 0.0)
            for b, level in ((2, short), (20, long)) for a in ATTACKS}


def test_the_worst_case_counts_an_image_robust_only_when_every_attack_failed_and_only_on_the_strong_subset():
    ls = _length(_robust(0.4, 0.1, gap=0.1))
    s = L.strong(ls)
    assert s.sizes["image"] == 60 and list(s["attack"].values) == [*ATTACKS, "worst"]
    assert (s.sel(attack="worst") == s.sel(attack=ATTACKS).all("attack")).all()


def test_training_effect_reads_the_longest_budget_minus_the_shortest_in_points():
    ls = _length(_robust(0.4, 0.1))
    worst = ls["correct"].isel(image=slice(0, 60)).all("attack").mean(["model", "image"])
    est = L.training_effect(ls, n_boot=200)
    assert est.value == pytest.approx(100 * float(worst.sel(budget=20) - worst.sel(budget=2)))
    assert est.value < -20 and est.high < 0 and est.unit == L.UNIT


def test_the_attack_gate_passes_when_stronger_attacks_add_nothing_and_fails_when_they_do():
    ds = xr.Dataset(attrs={"params_json": json.dumps({"epochs": 2})})
    converged = C.attack_gate(ds, _length(_robust(0.4, 0.1)))
    assert converged.passed is True and "0.0" in converged.detail
    weak = C.attack_gate(ds, _length(_robust(0.4, 0.1, gap=0.1)))
    assert weak.passed is False
    assert C.attack_gate(ds, None).passed is None
    other_budget = xr.Dataset(attrs={"params_json": json.dumps({"epochs": 3})})
    assert C.attack_gate(other_budget, _length(_robust(0.4, 0.1))).passed is None


def test_an_incomplete_section_is_not_read():
    ls = _length(_robust(0.4, 0.1))
    assert L.complete(ls) and not L.complete(None)
    ls["accuracy"][0, 1] = np.nan
    assert not L.complete(ls)
    assert list(L.length_table(ls).index.get_level_values("model")).count("a") == 1


def test_the_progress_text_says_how_far_the_grid_is_and_reads_the_effect_only_when_complete():
    ls = _length(_robust(0.4, 0.1))
    assert "6 of 6 models computed" in L.progress_text(ls, n_boot=50) and "20 epochs minus 2" in \
        L.progress_text(ls, n_boot=50)
    ls["accuracy"][0, 1] = np.nan
    text = L.progress_text(ls, n_boot=50)
    assert "5 of 6 models computed** so far" in text and "epochs minus" not in text and "2 epochs" in text


@pytest.mark.parametrize("short, long, meaning", [
    (0.4, 0.1, "longer training lowers it"),
    (0.1, 0.4, "longer training raises it, so short training is not why"),
    (0.3, 0.3, "no change is detected")])
def test_the_chapters_text_says_what_the_training_effect_means(short, long, meaning):
    from sat_lib.analysis.universality import report

    ds = xr.Dataset(attrs={"params_json": json.dumps({"epochs": 2})})
    text = " ".join(report._tested_reasons(ds, _length(_robust(short, long)), n_boot=200, seed=0))
    assert meaning in text


def test_the_question_is_put_in_the_chapters_own_numbers():
    dims = ("setting", "eps", "model")
    one = lambda v: np.full((1, 2, 3), v)  # noqa: E731 — full setting, ε ∈ {0, 0.25}, three architectures
    ds = xr.Dataset({"accuracy": (dims, one(0.8)), "adv_accuracy": (dims, one(0.3)),
                     "adversarial_eval_eps": (dims, one(0.25)),
                     "epochs": (dims, np.array([[[10, 10, 13], [10, 10, 13]]]))},
                    coords={"setting": ["full"], "eps": [0.0, 0.25], "model": ["a", "b", "c"]})
    text = L.question_text(ds, n_boot=50)
    assert "(80.0 [80.0, 80.0] % clean accuracy" in text and "keep 30.0 [30.0, 30.0] % accuracy" in text
    assert "trained for 10–13 epochs where the paper trains about 90" in text and "keep 1.3 % (Table 4)" in text
    attacked_elsewhere = ds.assign(adversarial_eval_eps=(dims, one(0.5)))
    assert "were not attacked at Table 4's radius" in L.question_text(attacked_elsewhere, n_boot=50)
    without_standard = ds.sel(eps=[0.25])
    assert "trained no standard (ε = 0) models" in L.question_text(without_standard, n_boot=50)
