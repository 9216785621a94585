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


def _rows(key_verdicts, source="paper"):
    return pd.DataFrame([{"key": k, "verdict": v, "source": source, "kind": "direction"} for k, v in key_verdicts])


def test_an_items_verdicts_come_from_its_own_chapters_table():
    table4 = next(i for i in status.inventory()["papers"]["sat"]["items"] if i["id"] == "Table 4")
    keys = list(table4["claims"])
    tables = {"sat-matrix": _rows([("mean_off_diagonal", "disagrees")]),
              "sat-training": _rows([(k, "agrees") for k in keys])}
    items = status.items_table("sat", tables).set_index("item")
    assert items.loc["Table 4", "verdicts"] == f"agrees {len(keys)}"
    assert items.loc["Table 4", "where"].startswith("sat-training §")
    view = status.overview(tables)
    row = view.loc[status.short_title("sat")]
    assert row["chapters"].startswith("sat-matrix") and row["statements"] == f"agrees {len(keys)} · disagrees 1"
    done = status.runs({"sat-training": "run B", "sat-matrix": "run A", "salience": "run C"})
    assert list(done.index) == ["sat-matrix", "sat-training", "salience"], "book order"
    assert list(done["computed by"]) == ["run A", "run B", "run C"]
    assert done.loc["salience", "paper"] == status.short_title("salience")


def test_verdicts_count_statements_not_rows_and_leave_out_the_projects_hypotheses():
    table = pd.concat([_rows([("a", "agrees"), ("a", "disagrees"), ("b", "agrees"), ("b", "agrees"),
                              ("c", "inconclusive"), ("d", "not tested (gate: g)")]),
                       _rows([("p", "agrees")], source="project")])
    assert status.verdict_counts(["a"], table) == "disagrees 1"
    assert status.verdict_counts(["a", "b"], table) == "agrees 1 · disagrees 1"
    assert status.verdict_counts(["a", "b", "c", "d", "p"], table) == \
        "agrees 1 · disagrees 1 · inconclusive 1 · not tested 1"
    assert status.verdict_counts(["z"], table) == "—" and status.verdict_counts([], table) == "—"
    assert status.verdict_counts(["p"], table) == "—"
    shown = pd.concat([table, _rows([("ctx", "—")])])
    assert status.verdict_counts(["b", "ctx"], shown) == "agrees 1 · context 1"
    assert status.verdict_counts(["a"], None) == "—"
    hyp = status.project_hypotheses({"diversity-training": table})
    assert list(hyp["key"]) == ["p"] and list(hyp["verdict"]) == ["agrees"]


def test_two_chapters_keys_of_one_name_are_two_statements():
    tables = {"sat-training": _rows([("regime_vs_initialization", "agrees")]),
              "sat-ensembles": _rows([("regime_vs_initialization", "disagrees")])}
    assert status.overview(tables).loc[status.short_title("sat"), "statements"] == "agrees 1 · disagrees 1"


def test_claims_long_is_every_chapters_rows_with_the_export_fields():
    from sat_lib.claims.verdict import Estimate, claim_row

    row = claim_row("x", {"kind": "equivalence", "value": 1.0, "margin": 0.1, "reason": "r"},
                    Estimate(1.0, 0.95, 1.05, "models", 24), key="k")
    long = status.claims_long({"sat-matrix": pd.DataFrame([row]), "salience": None})
    assert list(long.columns) == ["chapter", *status.EXPORT] and long["chapter"].tolist() == ["sat-matrix"]
    assert long["verdict"].tolist() == ["agrees"] and long["decided against"].iloc[0].startswith("± 0.1")


def test_items_table_and_not_reproduced_list_follow_the_inventory():
    items = status.items_table("salience")
    assert len(items) == len(status.inventory()["papers"]["salience"]["items"])
    assert set(items["state"]) <= set(status.STATES)
    text = status.not_reproduced_markdown("sat-matrix")
    open_items = [i for i in status.inventory()["papers"]["sat"]["items"] if i["state"] in status.OPEN_STATES]
    assert all(f"**{i['id']}**" in text for i in open_items)


def test_overview_has_one_row_per_paper_and_blank_verdicts_without_results():
    view = status.overview({})
    assert len(view) == 4 and (view["statements"] == "—").all()
