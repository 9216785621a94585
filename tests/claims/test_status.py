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


@pytest.mark.parametrize("item, message", [
    ({"id": "Fig. 1", "what": "x", "state": "done"}, "is none of"),
    ({"id": "Fig. 1", "what": "x", "state": "reproduced", "claims": ["nope"]}, "not claims of chapter"),
    ({"id": "Fig. 1", "state": "not yet"}, "missing 'what'"),
])
def test_a_bad_inventory_item_is_named(item, message):
    data = {"papers": {"sat": {"title": "t", "chapter": "sat-matrix", "items": [item]}}}
    with pytest.raises(ValueError, match=message):
        status.check_inventory(data)
    data = {"papers": {"x": {"title": "t", "chapter": None,
                             "items": [{"id": "Fig. 2", "what": "y", "state": "reproduced"}]}}}
    with pytest.raises(ValueError, match="has no chapter"):
        status.check_inventory(data)


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
    view = status.overview({}, {})
    assert len(view) == 4 and (view["verdicts"] == "—").all()
