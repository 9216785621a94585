"""What each chapter's stored results cost: a run's wall time counts once with the parts inside it, work several
chapters record counts once, and README.md carries the table of the committed results."""
import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from sat_lib import cost
from sat_lib.cost import ChapterWork, Work
from sat_lib.experiments import CHAPTERS, book_chapters

README = Path(__file__).resolve().parents[1] / "README.md"
ZOO = {"dataset": "cifar10", "zoo": "cifar-cpu", "train_size": 0, "epochs": 3, "batch_size": 256,
       "label_smoothing": 0.2, "translate": 2, "warmup": 0.2, "n_images": 2000, "norm": "linf", "eps": 8 / 255,
       "step_size": 2 / 255, "steps": 50, "seed": 0, "precision": "auto"}


def zoo_result(train, attack, cached, wall, evaluate=10.0, **params) -> xr.Dataset:
    """A sat-matrix-like result: per-model training and PGD seconds, a run that evaluated every pair."""
    names = [f"m{i}" for i in range(len(train))]
    return xr.Dataset({"train_seconds": ("model", np.array(train, float)),
                       "attack_seconds": ("model", np.array(attack, float)),
                       "weights_from_cache": ("model", np.array(cached, bool))}, coords={"model": names},
                      attrs={"params_json": json.dumps({**ZOO, **params}), "evaluate_seconds": evaluate,
                             "duration_s": wall, "device": "cpu (test)"})


def total(work) -> float:
    return sum(w.seconds for w in work)


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


def test_a_chapter_without_timings_says_so_instead_of_zero():
    (c, d) = cost.count_once([ChapterWork("c", (Work("train", float("nan")),), {}), "d"])
    assert c.state == "not recorded" and np.isnan(c.seconds)
    rows = cost.rows([c, d])
    assert rows[0]["parts"] == "not recorded" and rows[0]["minutes"] is None
    assert rows[1]["parts"] == "not stored at this profile"


# ------------------------------------------------------------------------------------------------ the registry

def test_every_chapter_and_section_of_the_book_has_its_cost():
    for name in book_chapters():
        assert name in cost.COSTS or name in cost.READS_ONLY, name
        for section in CHAPTERS[name].sections:
            assert section in cost.SECTIONS, f"{name}: section {section} has no reader in sat_lib.cost.SECTIONS"
            assert cost.SECTIONS[section] is None or section in cost.COSTS, section


def test_put_table_replaces_only_what_lies_between_the_markers():
    text = "a\n<!-- cost:begin -->\nold\n<!-- cost:end -->\nb\n"
    assert cost.put_table(text, "| new |") == "a\n<!-- cost:begin -->\n| new |\n<!-- cost:end -->\nb\n"
    with pytest.raises(ValueError, match="expected one"):
        cost.put_table("no markers", "| new |")


# ------------------------------------------------------------------------------------------------ the README

def test_the_readme_carries_the_table_of_the_committed_results():
    """README.md's table is the committed results' (regenerate it with ``sat-companion cost --markdown``)."""
    costs = cost.book_cost()
    text = README.read_text()
    assert cost.put_table(text, cost.markdown(costs)) == text, \
        "README.md's cost table is stale: paste `sat-companion cost --markdown` between its cost markers"
    rows = {r["chapter"]: r for r in cost.rows(costs)}
    assert all(rows[n]["minutes"] for n in book_chapters() if n not in cost.READS_ONLY)   # every chapter is stored
    assert "sat-matrix (train" in rows["similarity-atlas"]["reuses"]   # the zoo counted once, by sat-matrix
