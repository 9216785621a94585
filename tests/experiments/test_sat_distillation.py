"""The distillation chapter on the tiny zoo and digits (seconds on a CPU)."""
import numpy as np
import pytest

from sat_lib.analysis import sat_distillation as D
from sat_lib.experiments import resolve_params, sat_distillation, sat_matrix
from sat_lib.params import ParameterError
from tests._env import project_dirs


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    with project_dirs(tmp_path_factory, "sat-distillation") as (tmp, mp):
        cfg = resolve_params("sat-distillation", "smoke")
        zoo = sat_matrix.run(sat_distillation.matrix_config(cfg))
        ds = sat_distillation.run(cfg)
        yield cfg, zoo, ds, tmp


def test_one_student_per_teacher_scored_against_the_zoos_sat(smoke):
    cfg, zoo, ds, _ = smoke
    teachers = cfg.teacher_names()
    assert list(ds["teacher"].values) == teachers and cfg.student not in teachers
    for t in teachers:  # the SAT and the teacher's accuracy are the zoo's
        want = (zoo["sat"].sel(model=t, model_b=cfg.student) + zoo["sat"].sel(model=cfg.student, model_b=t)) / 2
        assert float(ds["sat"].sel(teacher=t)) == pytest.approx(float(want))
        assert float(ds["teacher_accuracy"].sel(teacher=t)) == pytest.approx(float(zoo["accuracy"].sel(model=t)))
    assert ds.attrs["student_alone_accuracy"] == pytest.approx(float(zoo["accuracy"].sel(model=cfg.student)))
    assert ds["test_logits"].shape[:2] == (len(teachers), zoo.sizes["test_sample"])
    kinds = dict(zip(ds["teacher"].values, ds["student_kind"].values))
    assert kinds["tiny_swin"] and not kinds["tiny_cnn"]


def test_students_of_different_teachers_are_different_models_and_are_cached(smoke):
    _, _, ds, tmp = smoke
    files = sorted((tmp / "cache" / "weights" / "digits").glob("*-distilled-*.pt"))
    assert len(files) == ds.sizes["teacher"]  # one weights file per teacher: the teacher is in the key
    assert not ds["weights_from_cache"].values.any()
    assert len({ds["test_logits"].values[i].tobytes() for i in range(ds.sizes["teacher"])}) == ds.sizes["teacher"]


def test_a_rerun_loads_every_student(smoke):
    cfg, _, ds, _ = smoke
    again = sat_distillation.compute(cfg)  # not the stored result: the students themselves come from the cache
    assert again["weights_from_cache"].values.all()
    np.testing.assert_array_equal(again["student_accuracy"].values, ds["student_accuracy"].values)


def test_claims_and_tables_have_the_claims_files_keys(smoke):
    _, _, ds, _ = smoke
    table = D.claims_table(ds, n_boot=50)
    from sat_lib.claims import scored_claims
    assert set(table["key"]) == set(scored_claims("sat-distillation"))
    assert all(v in {"agrees", "disagrees", "inconclusive", "—"} or v.startswith("not tested (gate: ") for v in table["verdict"])
    assert len(D.correlation_table(ds, n_boot=50)) >= 6
    gains = D.gain_table(ds, seed_accuracies=np.array([0.5, 0.52, 0.49]), n_boot=50)
    assert "seed_noise" in gains.attrs
    assert "Fig. 8a" in D.discussion(ds, table, gains)


@pytest.mark.parametrize("override, message", [
    ({"student": "no_such_model"}, "no_such_model"),
    ({"teachers": "tiny_vit,tiny_cnn,tiny_mixer"}, "names the student"),
    ({"teachers": "tiny_cnn,tiny_mixer"}, "at least 3 teachers"),
    ({"teachers": "tiny_cnn,tiny_cnn,tiny_mixer"}, "twice"),
    ({"teacher_weight": 0}, "teacher_weight"),
])
def test_bad_parameters_are_named_before_anything_runs(override, message):
    with pytest.raises(ParameterError, match=message):
        resolve_params("sat-distillation", "smoke", override)
