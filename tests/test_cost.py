"""What each chapter's stored results cost: a run's wall time counts once with the parts inside it, work several
chapters record counts once, and README.md carries the table of the committed results."""
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from sat_lib import cost
from sat_lib.cost import ChapterWork, Work
from sat_lib.experiments import CHAPTERS, book_chapters, chapter_result, resolve_params
from sat_lib.experiments.diversity_training import HETEROGENEOUS
from sat_lib.variants import ZOO_MODEL

README = Path(__file__).resolve().parents[1] / "README.md"
ZOO = {"dataset": "cifar10", "zoo": "cifar-cpu", "train_size": 0, "epochs": 3, "batch_size": 256,
       "label_smoothing": 0.2, "translate": 2, "warmup": 0.2, "n_images": 2000, "norm": "linf", "eps": 8 / 255,
       "step_size": 2 / 255, "steps": 50, "seed": 0, "precision": "auto"}


def zoo_result(train, attack, cached, wall, evaluate=10.0, names=None, **params) -> xr.Dataset:
    """A sat-matrix-like result: per-model training and PGD seconds, a run that evaluated every pair."""
    names = names or [f"m{i}" for i in range(len(train))]
    return xr.Dataset({"train_seconds": ("model", np.array(train, float)),
                       "attack_seconds": ("model", np.array(attack, float)),
                       "weights_from_cache": ("model", np.array(cached, bool))}, coords={"model": names},
                      attrs={"params_json": json.dumps({**ZOO, **params}), "evaluate_seconds": evaluate,
                             "duration_s": wall, "device": "cpu (test)"})


def total(work) -> float:
    return sum(w.seconds for w in work)


def the_zoo(train=(100.0, 200.0, 300.0)) -> ChapterWork:
    """sat-matrix's work on models m0, m1, … (weights from the cache: the training is on top of its 60 s run)."""
    n = len(train)
    ds = zoo_result(train=list(train), attack=[10.0] * n, cached=[True] * n, wall=60.0)
    return ChapterWork("sat-matrix", tuple(cost.COSTS["sat-matrix"](ds, ds)), {})


def labels(work, kind="train") -> set[str]:
    """The model labels of the zoo-style identities (``zoo_training``/``zoo_attack``) of one kind among ``work``."""
    return {w.identity[1] for w in work if w.identity is not None and w.identity[0] == kind}


# ------------------------------------------------------------------------------------------------ wall and parts

def test_a_wall_time_counts_once_with_the_parts_it_contains():
    parts = [Work("train", 60.0), Work("attack", 30.0)]
    work = cost.run_work(100.0, parts)
    assert total(work) == pytest.approx(100.0)   # not 190: the wall holds train and attack
    assert [(w.part, w.seconds) for w in work][-1] == ("other", pytest.approx(10.0))


def test_work_done_before_the_run_comes_on_top_of_its_wall_time():
    work = cost.run_work(100.0, [Work("train", 500.0, in_run=False), Work("evaluate", 80.0)])
    assert total(work) == pytest.approx(600.0)
    assert work[-1].seconds == pytest.approx(20.0)


def test_parts_longer_than_the_wall_are_refused():
    with pytest.raises(ValueError, match="more than its wall time"):
        cost.run_work(100.0, [Work("train", 150.0)])


def test_a_zoo_result_counts_fresh_models_inside_its_run_and_cached_ones_on_top():
    ds = zoo_result(train=[100.0, 200.0], attack=[10.0, 20.0], cached=[True, False], wall=300.0, evaluate=50.0)
    work = cost.COSTS["sat-matrix"](ds, ds)
    # the run (300 s) trained and attacked m1 (220 s) and evaluated (50 s); m0 came from the cache (110 s)
    assert total(work) == pytest.approx(300.0 + 110.0)
    assert {w.part: w.seconds for w in work if w.part in ("evaluate", "other")} == {"evaluate": 50.0, "other": 30.0}


def test_a_zoo_result_whose_wall_cannot_hold_its_fresh_models_is_refused():
    ds = zoo_result(train=[100.0, 200.0], attack=[10.0, 20.0], cached=[False, False], wall=100.0)
    with pytest.raises(ValueError, match="wall time"):
        cost.COSTS["sat-matrix"](ds, ds)


# ------------------------------------------------------------------------------------------------ counted once

def test_the_zoo_trained_by_one_chapter_counts_once_and_the_other_names_it():
    zoo = zoo_result(train=[100.0, 200.0], attack=[10.0, 20.0], cached=[True, True], wall=60.0, evaluate=50.0)
    # another chapter reads the same models, timed on another machine (other seconds), and adds its own work
    other = zoo_result(train=[150.0, 250.0], attack=[15.0, 25.0], cached=[True, True], wall=40.0, evaluate=30.0)
    a, b = cost.count_once([ChapterWork("zoo", tuple(cost.COSTS["sat-matrix"](zoo, zoo)), {}),
                            ChapterWork("reader", tuple(cost.COSTS["sat-matrix"](other, other)), {})])
    assert a.seconds == pytest.approx(330.0 + 60.0)
    assert b.seconds == pytest.approx(40.0)   # its own run only
    assert cost.total_seconds([a, b]) == pytest.approx(430.0)
    assert list(b.reused) == ["zoo"] and total(b.reused["zoo"]) == pytest.approx(330.0)   # the zoo's seconds
    assert cost.reuse_text(b) == "zoo (train 5.0 · attack 0.5)"


def test_models_trained_another_way_are_not_counted_once():
    zoo = zoo_result(train=[100.0], attack=[10.0], cached=[True], wall=60.0)
    longer = zoo_result(train=[300.0], attack=[10.0], cached=[True], wall=60.0, epochs=9)
    a, b = cost.count_once([ChapterWork("zoo", tuple(cost.COSTS["sat-matrix"](zoo, zoo)), {}),
                            ChapterWork("longer", tuple(cost.COSTS["sat-matrix"](longer, longer)), {})])
    assert b.reused == {}   # 9 epochs, not 3: another model, and so another attack
    assert b.seconds == pytest.approx(300.0 + 10.0 + 60.0)


def test_work_a_chapter_records_twice_counts_once_without_a_reuse_note():
    same = ("attack", "m0", "chapter", ())
    (c,) = cost.count_once([ChapterWork("c", (Work("attack", 20.0, same, source="c"),
                                              Work("attack", 25.0, same, source="c-checks")), {})])
    assert c.seconds == 20.0 and c.reused == {}


def test_a_chapter_that_names_a_model_without_seconds_does_not_hold_its_training():
    """corruptions and diversity-ensembles name the zoo's models with NaN seconds (``_uses``): where sat-matrix is
    not stored, the first chapter with the seconds counts the training, and the naming chapter reuses it."""
    zoo = cost.zoo_training(ZOO, "m0")
    names, records = [ChapterWork("names", (Work("train", float("nan"), zoo, in_run=False), Work("corrupt", 10.0)), {}),
                      ChapterWork("records", (Work("train", 100.0, zoo, in_run=False), Work("pairs", 5.0)), {})]
    a, b = cost.count_once([names, records])
    assert b.seconds == pytest.approx(105.0) and b.reused == {}   # the training is counted, by the chapter timing it
    assert a.seconds == pytest.approx(10.0) and a.own == (names.work[1],)
    assert a.reused == {"records": (records.work[0],)}
    assert cost.total_seconds([a, b]) == pytest.approx(115.0)
    # where no chapter records seconds, the first that names it holds it (and counts nothing for it)
    c, d = cost.count_once([names, ChapterWork("names too", (Work("train", float("nan"), zoo),), {})])
    assert c.own == names.work and d.reused == {"names": (names.work[0],)} and d.state == "not recorded"


def test_a_chapter_without_timings_says_so_instead_of_zero():
    (c, d) = cost.count_once([ChapterWork("c", (Work("train", float("nan")),), {}), "d"])
    assert c.state == "not recorded" and np.isnan(c.seconds)
    rows = cost.rows([c, d])
    assert rows[0]["parts"] == "not recorded" and rows[0]["minutes"] is None
    assert rows[1]["parts"] == "not stored at this profile"


# ------------------------------------------------------------------------------------------------ identities

def test_sat_trainings_row_of_the_zoos_model_is_the_zoo_entry():
    ds = zoo_result(train=[100.0, 110.0], attack=[10.0, 11.0], cached=[True, True], wall=60.0,
                    names=["m0/seed-0", "m0/seed-1"])
    ds = ds.assign_coords(arch=("model", ["m0", "m0"]), description=("model", [ZOO_MODEL, "seed 1"]))
    training = ChapterWork("sat-training", tuple(cost.COSTS["sat-training"](ds, ds)), {})
    assert labels(training.work) == labels(training.work, "attack") == {"m0", "m0/seed-1"}
    # the attack checks of the zoo's row are sat-matrix-checks' attacks of the zoo entry
    checks = xr.Dataset({"attack_seconds": (("variant", "model"), [[10.0, 11.0], [20.0, 21.0]])},
                        coords={"variant": ["chapter", "fp32"], "model": ["m0/seed-0", "m0/seed-1"]},
                        attrs={"params_json": json.dumps(ZOO)})
    assert {w.identity for w in cost.COSTS["sat-training-checks"](checks, ds)} == {
        cost.zoo_attack(ZOO, "m0"), cost.zoo_attack(ZOO, "m0", "fp32"),
        cost.zoo_attack(ZOO, "m0/seed-1"), cost.zoo_attack(ZOO, "m0/seed-1", "fp32")}
    zoo, variants = cost.count_once([the_zoo(), training])
    assert labels(variants.reused["sat-matrix"]) == labels(variants.reused["sat-matrix"], "attack") == {"m0"}
    assert labels(variants.own) == labels(variants.own, "attack") == {"m0/seed-1"}


UNIVERSALITY_TRAIN = {"augment": True, "batch_size": 256, "epochs": 2, "label_smoothing": 0.0, "lr": None,
                      "precision": "auto", "seed": 0, "translate": 2, "warmup": 0.2, "weight_decay": None}


def universality_model(name, eps, seconds, classes=None) -> xr.Dataset:
    """A universality-model result: a net trained against an L2 adversary of ``eps`` (none at 0)."""
    adversary = None if eps == 0 else {"eps": eps, "norm": "l2", "random_start": False, "seed": 0,
                                       "step_size": eps * 2 / 3, "steps": 3}
    spec = {"zoo": "cifar-cpu", "dataset": "cifar10", "name": name, "seed": 0, "eps": eps, "adversary": adversary,
            "classes": classes, "train": UNIVERSALITY_TRAIN}
    return xr.Dataset(attrs={"params_json": json.dumps(spec), "train_seconds": seconds, "attack_seconds": 1.0,
                             "test_invert_seconds": 2.0, "from_cache": 0, "duration_s": seconds + 5.0})


def length_model(name, epochs, seconds) -> xr.Dataset:
    """A universality-length-model result: the standard (eps 0) net trained ``epochs`` epochs."""
    spec = {"zoo": "cifar-cpu", "dataset": "cifar10", "name": name, "budget": epochs,
            "train": {**UNIVERSALITY_TRAIN, "epochs": epochs}}
    return xr.Dataset(attrs={"params_json": json.dumps(spec), "train_seconds": seconds, "from_cache": 0,
                             "attack_seconds": json.dumps({"pgd": 1.0, "apgd_ce": 2.0}), "duration_s": seconds + 5.0})


def universality_work(monkeypatch, models, lengths=()) -> ChapterWork:
    """universality's work (and its training-length section's) from synthetic per-model results."""
    found = {"universality-model": list(models), "universality-length-model": list(lengths)}
    monkeypatch.setattr(cost, "model_results", lambda ds, folder: found[folder])
    ds = xr.Dataset(attrs={"pairs_seconds": 10.0})
    work = [dataclasses.replace(w, source="universality") for w in cost.COSTS["universality"](ds, ds)]
    work += [dataclasses.replace(w, source="universality-length")
             for w in cost.COSTS["universality-length"](ds, ds)]
    return ChapterWork("universality", tuple(work), {})


def test_universalitys_models_trained_against_other_adversaries_are_other_trainings(monkeypatch):
    cw = universality_work(monkeypatch, [universality_model("a", 0.0, 100.0), universality_model("a", 0.25, 200.0),
                                         universality_model("a", 1.0, 300.0),
                                         universality_model("a", 0.0, 50.0, classes=[2, 3])])
    trains = [w for w in cw.work if w.part == "train"]
    assert len({w.identity for w in trains}) == 4   # eps 0 (none), 0.25, 1 and eps 0 on 2 classes: four trainings
    (counted,) = cost.count_once([cw])
    assert total(w for w in counted.own if w.part == "train") == pytest.approx(650.0)


def test_the_length_sections_2_epoch_models_are_universalitys_standard_models(monkeypatch):
    cw = universality_work(monkeypatch, [universality_model("a", 0.0, 100.0), universality_model("a", 0.25, 200.0)],
                           [length_model("a", 2, 4000.0), length_model("a", 5, 250.0)])
    identity = {(w.source, w.seconds): w.identity for w in cw.work if w.part == "train"}
    assert identity["universality-length", 4000.0] == identity["universality", 100.0]   # the eps-0 model, 2 epochs
    assert len(set(identity.values())) == 3
    (counted,) = cost.count_once([cw])
    assert {w.seconds for w in counted.own if w.part == "train"} == {100.0, 200.0, 250.0}   # not the 4000 s again
    assert counted.reused == {}


def test_diversity_trainings_heterogeneous_members_are_the_zoos_models():
    members = [["m0#0", "m0#1", "m0#2"], ["m0#0", "m1#1", "m2#2"]]
    ds = xr.Dataset({"train_seconds": ("ensemble", [100.0, 300.0]), "eval_seconds": ("ensemble", [5.0, 6.0]),
                     "weights_from_cache": ("ensemble", np.array([0, 1], np.int8)),
                     "member_name": (("ensemble", "member"), members)},
                    coords={"ensemble": ["independent/seed0", "heterogeneous/seed0"],
                            "method": ("ensemble", ["independent", HETEROGENEOUS])},
                    attrs={"params_json": json.dumps(ZOO), "cache_key": "k", "duration_s": 150.0})
    work = cost.COSTS["diversity-training"](ds, ds)
    zoo_trains = [w for w in work if w.identity is not None and w.identity[0] == "train"]
    assert [w.identity for w in zoo_trains] == [cost.zoo_training(ZOO, m) for m in ("m0", "m1", "m2")]
    assert all(w.seconds == pytest.approx(100.0) and not w.in_run for w in zoo_trains)   # 300 s split among three
    zoo, diversity = cost.count_once([the_zoo(), ChapterWork("diversity-training", tuple(work), {})])
    assert labels(diversity.reused["sat-matrix"]) == {"m0", "m1", "m2"} and not labels(diversity.own)
    assert diversity.seconds == pytest.approx(150.0)   # its run only: the zoo's members are sat-matrix's


def test_sat_distillations_student_alone_is_the_zoos_model_trained_before_the_run():
    ds = xr.Dataset({"train_seconds": ("teacher", [100.0, 120.0]), "weights_from_cache": ("teacher", [True, False])},
                    coords={"teacher": ["m0", "m1"]},
                    attrs={"params_json": json.dumps(ZOO), "student": "m2", "student_alone_train_seconds": 90.0,
                           "duration_s": 200.0})
    work = cost.COSTS["sat-distillation"](ds, ds)
    (alone,) = [w for w in work if w.identity is not None]
    assert alone == Work("train", 90.0, cost.zoo_training(ZOO, "m2"), in_run=False)
    assert work[-1] == Work("other", 80.0)   # the 200 s run trained m1 (120 s); m0 and the student alone before it
    zoo, distillation = cost.count_once([the_zoo(), ChapterWork("sat-distillation", tuple(work), {})])
    (m2,) = [w for w in zoo.own if w.identity == alone.identity]   # sat-matrix's training of m2 (300 s)
    assert distillation.reused == {"sat-matrix": (m2,)}
    assert distillation.seconds == pytest.approx(100.0 + 200.0)


# ------------------------------------------------------------------------------------------------ the registry

def test_every_chapter_and_section_of_the_book_has_its_cost():
    for name in book_chapters():
        assert name in cost.COSTS or name in cost.READS_ONLY, name
        for section, stored in CHAPTERS[name].sections.items():
            assert stored is None or section in cost.COSTS, section


def test_put_table_replaces_only_what_lies_between_the_markers():
    text = "a\n<!-- cost:begin -->\nold\n<!-- cost:end -->\nb\n"
    assert cost.put_table(text, "| new |") == "a\n<!-- cost:begin -->\n| new |\n<!-- cost:end -->\nb\n"
    with pytest.raises(ValueError, match="expected one"):
        cost.put_table("no markers", "| new |")


# ------------------------------------------------------------------------------------------------ the stored results

@pytest.fixture(scope="module")
def stored():
    """The book's cost at the default profile (``book_cost``, read once) and each chapter's ``ChapterWork``."""
    works, read = {}, cost.chapter_work

    def recording(name, profile=None):
        works[name] = read(name, profile)
        return works[name]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cost, "chapter_work", recording)
        costs = cost.book_cost()
    return costs, works


def counted(stored, name: str) -> cost.ChapterCost:
    (c,) = [c for c in stored[0] if c.chapter == name]
    return c


def test_stored_sat_training_reuses_exactly_its_zoo_models_from_sat_matrix(stored):
    archs = set(resolve_params("sat-training").archs)
    reused = counted(stored, "sat-training").reused
    assert list(reused) == ["sat-matrix"] and archs == {"resnet10_c32", "levit_128s_32"}
    assert labels(reused["sat-matrix"]) == labels(reused["sat-matrix"], "attack") == archs
    own = counted(stored, "sat-training").own
    chapter_attacks = {w.identity[1] for w in own if w.part == "attack" and w.identity[2] == "chapter"}
    assert not (labels(own) | chapter_attacks) & archs   # (their checks' APGD is sat-training-checks' own)
    trains = [w for w in stored[1]["sat-training"].work if w.part == "train" and w.source == "sat-training"]
    assert len([w for w in own if w.part == "train" and w.source == "sat-training"]) == len(trains) - len(archs)


def test_stored_universality_trainings_against_other_adversaries_do_not_collide(stored):
    trains = [w for w in stored[1]["universality"].work if w.part == "train" and w.source == "universality"]
    eps = lambda adversary: 0.0 if adversary == "null" else json.loads(adversary)["eps"]   # noqa: E731
    by = {(w.identity[3], eps(w.identity[5]), w.identity[6]): w.identity for w in trains}   # name, eps, classes
    assert {e for _, e, _ in by} == {0.0, 0.25, 0.5, 1.0} and len(by) == len(trains)
    pairs = [(i, by[n, 0.25, c]) for (n, e, c), i in by.items() if e == 0.0 and (n, 0.25, c) in by]
    assert pairs and all(standard != robust for standard, robust in pairs)   # eps 0 is not eps 0.25
    assert len({w.identity for w in trains}) == len(trains)   # every model its own training, counted
    own = [w for w in counted(stored, "universality").own if w.part == "train" and w.source == "universality"]
    assert own == trains


def test_stored_universality_length_owns_only_its_longer_trainings(stored):
    work = stored[1]["universality"].work
    epochs = lambda w: json.loads(w.identity[4])["epochs"]   # noqa: E731
    section = [w for w in work if w.part == "train" and w.source == "universality-length"]
    standard = {w.identity for w in work if w.part == "train" and w.source == "universality"
                and w.identity[5] == "null" and w.identity[6] == "null"}   # eps 0, all classes
    budget = resolve_params("universality").epochs   # the chapter's standard models are the section's at its budget
    same = [w for w in section if epochs(w) == budget]
    assert len(same) == 5 and {w.identity for w in same} <= standard
    own = [w for w in counted(stored, "universality").own if w.part == "train" and w.source == "universality-length"]
    assert own and own == [w for w in section if epochs(w) != budget]   # the other budgets


def test_stored_diversity_trainings_heterogeneous_members_are_sat_matrixs_training(stored):
    ds = chapter_result(resolve_params("diversity-training"), "cache_only")
    members = {str(n).split("#")[0] for e in np.flatnonzero(ds["method"].values == HETEROGENEOUS)
               for n in ds["member_name"].values[e]}
    diversity = counted(stored, "diversity-training")
    assert len(members) == 3 and labels(diversity.reused["sat-matrix"]) == members
    assert not labels(diversity.own)   # its own training: its ensembles only
    matrix = {w.identity: w for w in counted(stored, "sat-matrix").own}
    assert all(matrix[w.identity] is w for w in diversity.reused["sat-matrix"])


def test_stored_sat_distillations_student_alone_is_sat_matrixs_training(stored):
    (alone,) = [w for w in stored[1]["sat-distillation"].work if w.identity is not None]
    matrix = {w.identity: w for w in stored[1]["sat-matrix"].work}
    assert alone.in_run is False and alone.identity[1] == "levit_128s_32"
    assert alone.seconds == matrix[alone.identity].seconds   # the student alone is sat-matrix's model
    distillation = counted(stored, "sat-distillation")
    assert distillation.reused == {"sat-matrix": (matrix[alone.identity],)}
    assert all(w.identity is None for w in distillation.own)


# ------------------------------------------------------------------------------------------------ the README

def test_the_readme_carries_the_table_of_the_committed_results(stored):
    """README.md's table is the committed results' (regenerate it with ``sat-companion cost --markdown``)."""
    costs = stored[0]
    text = README.read_text()
    assert cost.put_table(text, cost.markdown(costs)) == text, \
        "README.md's cost table is stale: paste `sat-companion cost --markdown` between its cost markers"
    rows = {r["chapter"]: r for r in cost.rows(costs)}
    assert all(rows[n]["minutes"] for n in book_chapters() if n not in cost.READS_ONLY)   # every chapter is stored
    assert "sat-matrix (train" in rows["similarity-atlas"]["reuses"]   # the zoo counted once, by sat-matrix
