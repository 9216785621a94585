"""The book's status page and each chapter's "not reproduced here" list.

Two sources, one page: ``inventory.yaml`` lists every table and figure of the four papers with its state (kept by
hand: which chapter and section reproduces it, or why not yet), and the chapters' claims tables give the verdicts
(computed from the stored results, never typed). An item's verdicts are those of the claims-table rows of its
chapter whose ``key`` the item names. A paper may be spread over several chapters (``chapters:``, in book order);
an item names its own ``chapter`` when it is not the paper's first.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from functools import lru_cache

import pandas as pd
import yaml

from sat_lib.claims import HERE, paper_claims
from sat_lib.claims.verdict import (AGREES, DISAGREES, INCONCLUSIVE, NO_VERDICT, NOT_TESTED,
                                    statements, tally)

STATES = ("reproduced", "partly", "not yet", "not applicable")
OPEN_STATES = ("partly", "not yet")
TALLY = {AGREES: AGREES, DISAGREES: DISAGREES, INCONCLUSIVE: INCONCLUSIVE, NOT_TESTED: NOT_TESTED,
         NO_VERDICT: "context"}  # a verdict → how a tally names it
EXPORT = ["claim", "key", "source", "kind", "paper", "decided against", "ours [95 % CI]", "estimate", "low", "high",
          "resampled", "gate", "verdict", "paper source"]


@lru_cache(maxsize=None)
def inventory() -> dict:
    """``inventory.yaml``, checked: every item has an id, a description and a known state, and names only
    claim keys its chapter's claims file defines."""
    path = HERE / "inventory.yaml"
    data = yaml.safe_load(path.read_text())
    check_inventory(data, where=str(path))
    return data


def check_inventory(data: Mapping, where: str = "inventory") -> None:
    papers = data.get("papers") if isinstance(data, Mapping) else None
    if not isinstance(papers, Mapping) or not papers:
        raise ValueError(f"{where}: expected a mapping 'papers:' of paper key → {{title, chapter, items}}")
    for key, paper in papers.items():
        at = f"{where}: papers.{key}"
        for field in ("title", "items"):
            if field not in paper:
                raise ValueError(f"{at}: missing '{field}'")
        chapters = list(paper.get("chapters") or ())
        for i, item in enumerate(paper["items"]):
            it = f"{at}.items[{i}] ({item.get('id', '?')})"
            for field in ("id", "what", "state"):
                if not item.get(field):
                    raise ValueError(f"{it}: missing '{field}'")
            if item["state"] not in STATES:
                raise ValueError(f"{it}: state {item['state']!r} is none of {STATES}")
            chapter = item_chapter(paper, item)
            if item.get("chapter") and item["chapter"] not in chapters:
                raise ValueError(f"{it}: chapter {item['chapter']!r} is not one of the paper's chapters {chapters}")
            known = set(paper_claims(chapter)["claims"]) if chapter else set()
            unknown = set(item.get("claims") or ()) - known
            if unknown:
                raise ValueError(f"{it}: claim keys {sorted(unknown)} are not claims of chapter {chapter!r} "
                                 f"(known: {sorted(known)})")
            if item["state"] in ("reproduced", "partly") and not chapter:
                raise ValueError(f"{it}: state {item['state']!r} but the paper has no chapter")


def item_chapter(paper: Mapping, item: Mapping) -> str | None:
    """The chapter that reproduces ``item``: its own ``chapter``, else the paper's first chapter (None: none)."""
    chapters = paper.get("chapters") or ()
    return item.get("chapter") or (chapters[0] if chapters else None)


def paper_of(chapter: str) -> str:
    """The inventory key of the paper a chapter reproduces."""
    for key, paper in inventory()["papers"].items():
        if chapter in (paper.get("chapters") or ()):
            return key
    raise KeyError(f"no paper in the inventory has chapter {chapter!r}")


def verdict_counts(keys, table: pd.DataFrame | None) -> str:
    """"agrees 2 · inconclusive 1" over the paper's *statements* (claim keys) among ``keys`` — rows that test one
    statement count once, by ``statement_verdict`` — leaving out the project's own hypotheses; "—" when none."""
    if table is None or not keys:
        return "—"
    rows = table[table["key"].isin(list(keys)) & (table["source"] == "paper")]
    if rows.empty:
        return "—"
    counts = tally(statements(rows)["verdict"])
    return " · ".join(f"{name} {counts[v]}" for v, name in TALLY.items() if counts[v]) or "—"


def claims_long(claims: Mapping[str, pd.DataFrame | None]) -> pd.DataFrame:
    """Every claim of every chapter as one table (what ``sat-companion claims`` prints and the status page counts):
    chapter, statement tested, key, source (paper | project), kind, the paper's side and what the verdict was
    decided against (margin or band with its reason), our estimate and interval, the unit resampled, the gates and
    the verdict. ``claims`` is keyed by chapter (None: not computed at this profile)."""
    tables = [t.assign(chapter=name) for name, t in claims.items() if t is not None and not t.empty]
    if not tables:
        return pd.DataFrame(columns=["chapter", *EXPORT])
    out = pd.concat(tables, ignore_index=True)
    return out.reindex(columns=["chapter", *EXPORT])


def project_hypotheses(claims: Mapping[str, pd.DataFrame | None]) -> pd.DataFrame:
    """The project's own hypotheses (``source: project``), one row per statement, apart from the papers' tally."""
    rows = claims_long(claims)
    rows = rows[rows["source"] == "project"]
    return statements(rows).reindex(columns=["chapter", "key", "kind", "rows", "verdict"])


def items_table(paper: str, claims: Mapping[str, pd.DataFrame | None] | None = None) -> pd.DataFrame:
    """One row per table/figure of ``paper``: what it shows, its state, where the book reproduces it (chapter
    and section), and the verdicts of the claims that speak for it (``claims``: tables keyed by chapter)."""
    p = inventory()["papers"][paper]
    claims = claims or {}
    rows = []
    for item in p["items"]:
        chapter = item_chapter(p, item)
        where = f"{chapter} § {item['section']}" if item.get("section") else "—"
        rows.append({"item": item["id"], "what": item["what"], "state": item["state"], "where": where,
                     "verdicts": verdict_counts(item.get("claims") or (), claims.get(chapter)),
                     "note": item.get("note", "")})
    return pd.DataFrame(rows)


def short_title(paper: str) -> str:
    """The paper's short name (``short`` in the inventory; its title where none is given)."""
    p = inventory()["papers"][paper]
    return p.get("short") or p["title"]


def overview(claims: Mapping[str, pd.DataFrame | None]) -> pd.DataFrame:
    """Per paper (by its short name): its chapters, how many items are in each state, and the verdicts of its
    statements (one per claim key; the project's hypotheses left out). ``claims`` is keyed by chapter."""
    rows = []
    for key, p in inventory()["papers"].items():
        chapters = list(p.get("chapters") or ())
        states = Counter(item["state"] for item in p["items"])
        tables = [claims[c].assign(chapter=c) for c in chapters if claims.get(c) is not None]
        table = pd.concat(tables) if tables else None
        rows.append({"paper": short_title(key), "chapters": ", ".join(chapters) or "— (not yet)",
                     **{s: states[s] for s in STATES},
                     "statements": verdict_counts(set(table["key"]), table) if table is not None else "—"})
    return pd.DataFrame(rows).set_index("paper")


def runs(provenance: Mapping[str, str]) -> pd.DataFrame:
    """Per chapter with a stored result, in book order: the paper it belongs to and the run (profile, device,
    commit, date) that computed it. ``provenance`` is keyed by chapter."""
    rows = [{"chapter": c, "paper": short_title(key), "computed by": provenance[c]}
            for key, p in inventory()["papers"].items() for c in (p.get("chapters") or ()) if c in provenance]
    return pd.DataFrame(rows, columns=["chapter", "paper", "computed by"]).set_index("chapter")


def not_reproduced_markdown(chapter: str) -> str:
    """The chapter's closing list: every item of its paper that is only partly reproduced or not yet, and why."""
    p = inventory()["papers"][paper_of(chapter)]
    items = [i for i in p["items"] if i["state"] in OPEN_STATES]
    if not items:
        return "Every table and figure of the paper is reproduced in this book."
    results = [i for i in p["items"] if i["state"] != "not applicable"]
    lines = [f"Of the paper's {len(results)} tables and figures that show results, these are not (or only partly) "
             "reproduced here; the book's status page lists all of them."]
    for i in items:
        note = f" — {i['note']}" if i.get("note") else ""
        lines.append(f"- **{i['id']}** ({i['state']}): {i['what']}{note}")
    return "\n".join(lines)
