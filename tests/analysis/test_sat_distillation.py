"""Correlations of the distillation chapter on a hand-made result with known relations."""
import numpy as np
import xarray as xr

from sat_lib.analysis import sat_distillation as D
from sat_lib.stats import correlation


def result(sat, student, teacher, kind, student_arch="s"):
    n = len(sat)
    return xr.Dataset(
        {"sat": ("teacher", np.asarray(sat, float)), "student_accuracy": ("teacher", np.asarray(student, float)),
         "teacher_accuracy": ("teacher", np.asarray(teacher, float)), "agreement": ("teacher", np.full(n, 0.8)),
         "train_seconds": ("teacher", np.ones(n))},
        coords={"teacher": [f"t{i}" for i in range(n)], "family": ("teacher", ["CNN"] * n),
                "student_kind": ("teacher", np.asarray(kind, bool))},
        attrs={"student_alone_accuracy": 0.5, "student": student_arch})


def test_a_perfect_negative_relation_gives_r_minus_one_and_the_direction_verdicts():
    rng = np.random.default_rng(0)
    sat = rng.uniform(2, 4, 24)
    kind = np.arange(24) < 12
    ds = result(sat, 0.9 - 0.1 * sat, rng.uniform(0.6, 0.8, 24), kind)
    table = D.claims_table(ds, n_boot=200).set_index("claim")
    row = table.loc["r(SAT, student accuracy | teacher accuracy), all teachers"]
    assert row["ours [95 % CI]"].startswith("-1.00")
    other = table[table["key"] == "dissimilar_teacher_helps_other_kind"]
    same = table[table["key"] == "similar_teacher_helps_same_kind"]
    assert len(other) == len(same) == 1  # decided on the partial r; the raw r is context
    assert other["verdict"].iloc[0] == "agrees" and same["verdict"].iloc[0] == "disagrees"
    assert (table[table["kind"] == "context"]["verdict"] == "—").all()


def test_student_accuracy_that_follows_the_teachers_is_read_partialled():
    rng = np.random.default_rng(2)
    acc = rng.uniform(0.55, 0.75, 24)
    sat = 3 - 5 * (acc - 0.65) + rng.normal(0, 0.02, 24)   # SAT follows teacher accuracy, no direct link
    student = 0.5 * acc + rng.normal(0, 0.002, 24)
    table = D.claims_table(result(sat, student, acc, np.arange(24) < 12), n_boot=300).set_index("claim")
    raw = table.loc["the raw r(SAT, student accuracy), other kinds"]
    assert raw["high"] < 0 and raw["verdict"] == "—"   # the raw r would "agree"; it is not scored
    assert table.loc["the same partial r: direction (other kinds)", "verdict"] != "agrees"


def test_gates_a_small_group_and_a_stand_in_that_sees_too_few_tokens():
    rng = np.random.default_rng(0)
    sat = rng.uniform(2, 4, 24)
    small = D.claims_table(result(sat, 0.9 - 0.1 * sat, rng.uniform(0.6, 0.8, 24), np.arange(24) < 5), n_boot=100).set_index("claim")
    assert small.loc["the same partial r: direction (the student's kind)", "verdict"].startswith(
        "not tested (gate: enough teachers to resample")
    assert not small.loc["the same partial r: direction (other kinds)", "verdict"].startswith("not tested")
    levit = D.claims_table(result(sat, 0.9 - 0.1 * sat, rng.uniform(0.6, 0.8, 24), np.arange(24) < 12,
                                  student_arch="levit_128s_32"), n_boot=100)
    assert levit[levit["key"].isin(D.FIG8)]["verdict"].str.contains("stand-in sees enough tokens").all()


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
