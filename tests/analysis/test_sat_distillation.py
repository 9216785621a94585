"""Correlations of the distillation chapter on a hand-made result with known relations."""
import numpy as np
import xarray as xr

from sat_lib.analysis import sat_distillation as D
from sat_lib.stats import correlation


def result(sat, student, teacher, kind):
    n = len(sat)
    return xr.Dataset(
        {"sat": ("teacher", np.asarray(sat, float)), "student_accuracy": ("teacher", np.asarray(student, float)),
         "teacher_accuracy": ("teacher", np.asarray(teacher, float)), "agreement": ("teacher", np.full(n, 0.8)),
         "train_seconds": ("teacher", np.ones(n))},
        coords={"teacher": [f"t{i}" for i in range(n)], "family": ("teacher", ["CNN"] * n),
                "student_kind": ("teacher", np.asarray(kind, bool))},
        attrs={"student_alone_accuracy": 0.5, "student": "s"})


def test_a_perfect_negative_relation_gives_r_minus_one_and_the_direction_verdicts():
    rng = np.random.default_rng(0)
    sat = rng.uniform(2, 4, 12)
    kind = np.arange(12) < 6
    ds = result(sat, 0.9 - 0.1 * sat, rng.uniform(0.6, 0.8, 12), kind)
    table = D.claims_table(ds, n_boot=200)
    row = table.loc["r(SAT, student accuracy), all teachers"]
    assert row["ours [95 % CI]"].startswith("-1.00")
    other = table[table["key"] == "dissimilar_teacher_helps_other_kind"]
    same = table[table["key"] == "similar_teacher_helps_same_kind"]
    assert len(other) == len(same) == 2  # the raw r and the r with teacher accuracy partialled out
    assert other["verdict"].iloc[0] == "agrees" and same["verdict"].iloc[0] == "disagrees"


def test_gain_is_student_minus_the_student_alone_in_points():
    ds = result([1, 2, 3], [0.52, 0.47, 0.5], [0.7, 0.7, 0.8], [True, False, False])
    f = D.frame(ds)
    np.testing.assert_allclose(f["gain"], [2, -3, 0], atol=1e-9)
    gains = D.gain_table(ds, n_boot=50)
    assert gains.loc["all teachers", "best teacher"].startswith("t0")


def test_partial_correlation_removes_a_shared_driver():
    rng = np.random.default_rng(1)
    acc = rng.uniform(0.6, 0.8, 40)
    sat = 10 * acc + rng.normal(0, 0.01, 40)          # SAT follows teacher accuracy
    student = 0.5 * acc + rng.normal(0, 0.01, 40)     # and so does the student; no direct link
    f = D.frame(result(sat, student, acc, np.zeros(40, bool)))
    assert correlation(f["sat"].to_numpy(), f["student_accuracy"].to_numpy()) > 0.5
    assert abs(D.partial_pearson(f, "sat", "student_accuracy", "teacher_accuracy")) < 0.4


def test_seed_copies_come_from_the_training_chapters_initialization_group():
    tr = xr.Dataset({"accuracy": ("model", [0.6, 0.62, 0.7, 0.61])},
                    coords={"model": list("abcd"), "arch": ("model", ["s", "s", "s", "r"]),
                            "kind": ("model", ["initialization", "initialization", "regime", "initialization"])})
    np.testing.assert_allclose(D.seed_copies(tr, "s"), [0.6, 0.62])
    assert D.seed_copies(tr, "r") is None and D.seed_copies(None, "s") is None


def test_cost_table_counts_a_cached_student_outside_the_run():
    from sat_lib.analysis.sat_distillation import cost_table

    ds = xr.Dataset({"train_seconds": ("teacher", [100.0, 120.0, 600.0, 90.0]),
                     "weights_from_cache": ("teacher", [False, False, False, True])},
                    coords={"teacher": list("abcd")}, attrs={"duration_s": 900.0})
    table = cost_table(ds)
    assert table.loc["training the students", "minutes"] == 820 / 60
    assert table.loc["the rest (logits, SAT, evaluation)", "minutes"] == 80 / 60
    assert table.loc["students from the weights cache (earlier run)", "minutes"] == 90 / 60
    assert table.loc["training the students", "slowest s"] == 600 and table.loc["training the students",
                                                                                 "students"] == 3
