"""The status page: the inventory of every paper's tables and figures, checked, and verdicts collected by key."""
import pandas as pd
import pytest

from sat_lib.claims import status


def test_the_inventory_covers_the_four_papers_and_is_valid():
    inv = status.inventory()
    assert set(inv["papers"]) == {"sat", "robustness", "salience", "diversity"}
    for paper in inv["papers"].values():
        assert paper["items"], "every paper lists its tables and figures"
    assert status.paper_of("sat-matrix") == "sat" and status.paper_of("salience") == "salience"
    assert status.paper_of("sat-training") == "sat"


@pytest.mark.parametrize("item, message", [
    ({"id": "Fig. 1", "what": "x", "state": "done"}, "is none of"),
    ({"id": "Fig. 1", "what": "x", "state": "reproduced", "claims": ["nope"]}, "not claims of chapter"),
    ({"id": "Fig. 1", "state": "not yet"}, "missing 'what'"),
])
def test_a_bad_inventory_item_is_named(item, message):
    data = {"papers": {"sat": {"title": "t", "chapters": ["sat-matrix"], "items": [item]}}}
    with pytest.raises(ValueError, match=message):
        status.check_inventory(data)
    data = {"papers": {"x": {"title": "t", "chapters": [],
                             "items": [{"id": "Fig. 2", "what": "y", "state": "reproduced"}]}}}
    with pytest.raises(ValueError, match="has no chapter"):
        status.check_inventory(data)


def test_an_item_names_its_chapter_among_the_papers_and_its_keys_are_that_chapters():
    item = {"id": "Table 4", "what": "x", "state": "reproduced", "chapter": "sat-training", "claims": ["all"]}
    status.check_inventory({"papers": {"sat": {"title": "t", "chapters": ["sat-matrix", "sat-training"],
                                               "items": [item]}}})
    with pytest.raises(ValueError, match="not claims of chapter 'sat-matrix'"):  # 'all' is sat-training's key
        status.check_inventory({"papers": {"sat": {"title": "t", "chapters": ["sat-matrix", "sat-training"],
                                                   "items": [{**item, "chapter": None}]}}})
    with pytest.raises(ValueError, match="not one of the paper's chapters"):
        status.check_inventory({"papers": {"sat": {"title": "t", "chapters": ["sat-matrix"], "items": [item]}}})


def test_an_items_verdicts_come_from_its_own_chapters_table():
    tables = {"sat-matrix": pd.DataFrame({"key": ["mean_off_diagonal"], "verdict": ["disagrees"]}),
              "sat-training": pd.DataFrame({"key": ["all", "same_architecture"], "verdict": ["agrees", "agrees"]})}
    items = status.items_table("sat", tables).set_index("item")
    assert items.loc["Table 4", "verdicts"] == "agrees 2"
    assert items.loc["Table 4", "where"].startswith("sat-training §")
    view = status.overview(tables)
    row = view.loc[status.short_title("sat")]
    assert row["chapters"].startswith("sat-matrix") and row["verdicts"] == "agrees 2 · disagrees 1"
    done = status.runs({"sat-training": "run B", "sat-matrix": "run A", "salience": "run C"})
    assert list(done.index) == ["sat-matrix", "sat-training", "salience"], "book order"
    assert list(done["computed by"]) == ["run A", "run B", "run C"]
    assert done.loc["salience", "paper"] == status.short_title("salience")


def test_verdicts_are_counted_over_the_rows_of_an_items_claims():
    table = pd.DataFrame({"key": ["a", "a", "b", "c"], "verdict": ["agrees", "disagrees", "agrees", "inconclusive"]})
    assert status.verdict_counts(["a"], table) == "agrees 1 · disagrees 1"
    assert status.verdict_counts(["a", "b"], table) == "agrees 2 · disagrees 1"
    assert status.verdict_counts(["z"], table) == "—" and status.verdict_counts([], table) == "—"
    assert status.verdict_counts(["a"], None) == "—"


def test_items_table_and_not_reproduced_list_follow_the_inventory():
    items = status.items_table("salience")
    assert len(items) == len(status.inventory()["papers"]["salience"]["items"])
    assert set(items["state"]) <= set(status.STATES)
    text = status.not_reproduced_markdown("sat-matrix")
    open_items = [i for i in status.inventory()["papers"]["sat"]["items"] if i["state"] in status.OPEN_STATES]
    assert all(f"**{i['id']}**" in text for i in open_items)


def test_overview_has_one_row_per_paper_and_blank_verdicts_without_results():
    view = status.overview({})
    assert len(view) == 4 and (view["verdicts"] == "—").all()
