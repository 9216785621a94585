"""One rule for every claims table: a paper's statement, our estimate with a 95 % interval, and a verdict decided
from the interval against the statement's *kind* — never from the point estimate, and never from "the paper's
value lies inside our interval" (a rule that rewards wide intervals and punishes tight ones).

Every entry of a claims file (``sat_lib/claims/<chapter>.yaml``) declares its ``kind``:

- ``direction`` (``sign: +1 | -1``): the sign of a difference or a correlation. *agrees* when the whole interval
  has the paper's sign, *disagrees* when the whole interval has the other sign, *inconclusive* when it holds 0.
- ``equivalence`` (``value``, ``margin``, ``reason``): a number the paper reports, with a margin declared beside
  it and why that margin ("close to 4.6": ±0.05). The band is paper ± margin, widened by the paper's own
  uncertainty where it rests on few units (``paper_uncertainty``: ``{proportion: [k, n]}`` — an exact binomial
  interval —, ``{correlation_n: n}`` — Fisher's z interval — or ``{interval: [low, high]}``). *agrees* when our
  whole interval lies inside the band, *disagrees* when it lies wholly outside, *inconclusive* otherwise.
- ``band`` (``band: [low, high]``, ``reason``): a range the paper says a quantity stays in; decided as above.
- ``context`` (``value`` or ``statement``): a number from a setting too different to compare (ImageNet ResNet-50
  levels beside small CIFAR-10 models): printed beside ours, never judged.

``source: project`` marks a hypothesis of this project (stated before it was computed), shown apart from the
paper's statements and never counted in a paper's tally (default: ``paper``).

**Gates.** A claim stands on interventions that must be shown to have worked (members above chance, a loss meant
to diversify that did diversify, an attack that converged). A ``Gate`` that failed makes the claim *not tested
(gate …)*; a gate not computed yet is shown in the chapter's Checks table and does not block the verdict.

**One score per statement.** Several rows may test one statement (ensemble sizes, corrupted sets): rows share
the statement's ``key`` and ``statement_verdict`` groups them — any row that disagrees → *disagrees*; every row
agrees → *agrees*; otherwise *inconclusive*; rows not tested are left out (all not tested → *not tested*).
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

# the estimates a verdict is decided from, and the resampling that gives their intervals (sat_lib.stats)
from sat_lib.stats import LEVEL, Estimate, bootstrap, interval, resample  # noqa: F401

AGREES, DISAGREES, INCONCLUSIVE = "agrees", "disagrees", "inconclusive"
NOT_TESTED = "not tested"
NO_VERDICT = "—"  # a context claim: shown, not judged
VERDICTS = (AGREES, DISAGREES, INCONCLUSIVE)
KINDS = ("direction", "equivalence", "band", "context")
SOURCES = ("paper", "project")


RULE = (
    "**How a row is decided** (`sat_lib.claims.verdict`, one rule for every chapter). Each claim declares its kind "
    "in the chapter's claims file (`sat_lib/claims/<chapter>.yaml`): a *direction* agrees when our whole 95 % "
    "interval has the paper's sign, disagrees when it has the other, and is inconclusive when it holds 0; an "
    "*equivalence* agrees when our whole interval lies within the paper's value ± a declared margin (widened by the "
    "paper's own uncertainty where its number rests on few units), disagrees when it lies wholly outside, and is "
    "inconclusive otherwise; a *band* is decided the same way against a range the paper states; a *context* number, "
    "from a setting too different to compare, is shown with no verdict (—). *decided against* prints the sign, "
    "margin or band and its reason, *resampled* the unit of the bootstrap, *gate* the checks a row rests on: a row "
    "whose check failed reads *not tested*. Rows that test one statement share its key and count once on the status "
    "page — any that disagrees → disagrees, all agree → agrees, else inconclusive (rows not tested left out). The "
    "project's own hypotheses are shown apart and never counted in a paper's tally.")


class ClaimError(ValueError):
    """A claims-file entry that does not declare what a verdict needs."""


@dataclass(frozen=True)
class Gate:
    """A check that what a claim rests on worked. ``passed``: True, False, or None (not computed)."""

    name: str
    passed: bool | None
    detail: str = ""
    claims: tuple[str, ...] = ()  # the claim keys it gates (empty: every claim of the chapter)

    @property
    def status(self) -> str:
        return {True: "passed", False: "failed", None: "not computed"}[self.passed]


def tally(verdicts: Iterable[str]) -> dict[str, int]:
    """How many of ``verdicts`` (rows' or statements') read each verdict: agrees, disagrees, inconclusive, not
    tested (whichever gate) and no verdict (context) — the one count every chapter's sentences and the status
    page use."""
    vs = [str(v) for v in verdicts]
    return {**{k: vs.count(k) for k in VERDICTS}, NOT_TESTED: sum(v.startswith(NOT_TESTED) for v in vs),
            NO_VERDICT: vs.count(NO_VERDICT)}


def tally_text(verdicts: Iterable[str]) -> str:
    """"2 agree, 1 disagrees, 0 inconclusive, 1 not tested (a gate failed)" — of ``verdicts`` (context left out)."""
    c = tally(verdicts)
    return (f"{c[AGREES]} agree, {c[DISAGREES]} disagree, {c[INCONCLUSIVE]} inconclusive, "
            f"{c[NOT_TESTED]} not tested (a gate failed)")


def classes_seen(*labels) -> int:
    """The number of classes a stored result's label (and prediction) arrays cover: one more than the largest
    index in any of them (a result that stores labels rather than its dataset's name)."""
    return max(int(np.max(np.asarray(a))) for a in labels) + 1


def chance_gate(accuracy: Mapping[str, float], n_classes: int | Mapping[str, int], what: str = "model",
                claims: Iterable[str] = ()) -> Gate:
    """"every {what} above twice chance accuracy", the gate every chapter that trains shows: ``accuracy`` (fraction
    correct on clean test images) per name; ``n_classes`` one count, or one per name where datasets differ. A
    collapsed model predicts about one class: it says nothing about similarity or diversity. Not computed where
    there is no model or a name's class count is unknown."""
    name = f"every {what} above twice chance accuracy"
    if not accuracy:
        return Gate(name, None, f"no {what}s", tuple(claims))
    classes = {k: (n_classes.get(k) if isinstance(n_classes, Mapping) else n_classes) for k in accuracy}
    unknown = [k for k, c in classes.items() if not c]
    if unknown:
        return Gate(name, None, f"number of classes unknown for {', '.join(unknown)}", tuple(claims))
    margin = {k: float(a) - 2.0 / classes[k] for k, a in accuracy.items()}
    worst = min(margin, key=margin.get)
    below = [k for k, m in margin.items() if not m > 0]
    detail = (f"{len(accuracy)} {what}s, lowest {100 * float(accuracy[worst]):.1f} % ({worst}; twice chance: "
              f"{200 / classes[worst]:.0f} %)")
    if below:
        detail += "; at or below it: " + ", ".join(f"{k} {100 * float(accuracy[k]):.1f} %" for k in below)
    return Gate(name, not below, detail, tuple(claims))


def check_claim(claim: Mapping, where: str = "claim") -> None:
    """Raise ``ClaimError`` naming ``where`` unless ``claim`` declares a kind and what that kind needs."""
    kind = claim.get("kind")
    if kind not in KINDS:
        raise ClaimError(f"{where}: 'kind' must be one of {KINDS}, got {kind!r}")
    if claim.get("source", "paper") not in SOURCES:
        raise ClaimError(f"{where}: 'source' must be one of {SOURCES}, got {claim.get('source')!r}")
    need = {"direction": ("sign",), "equivalence": ("value", "margin", "reason"), "band": ("band", "reason"),
            "context": ()}[kind]
    missing = [k for k in need if k not in claim]
    if missing:
        raise ClaimError(f"{where}: a {kind} claim needs {list(need)}; missing {missing}")
    if kind == "direction" and claim["sign"] not in (1, -1):
        raise ClaimError(f"{where}: 'sign' must be +1 or -1, got {claim['sign']!r}")
    if kind == "equivalence" and not float(claim["margin"]) > 0:
        raise ClaimError(f"{where}: 'margin' must be > 0, got {claim['margin']!r}")
    if kind == "band":
        low, high = claim["band"]
        if not low <= high:
            raise ClaimError(f"{where}: the band [{low}, {high}] is empty")
    if kind == "context" and not ("value" in claim or "statement" in claim or "values" in claim):
        raise ClaimError(f"{where}: a context claim shows the paper's 'value', 'values' or 'statement'")
    if kind in ("equivalence", "band") and not str(claim["reason"]).strip():
        raise ClaimError(f"{where}: say why the {kind} is what it is ('reason')")


def paper_interval(claim: Mapping, value: float | None = None) -> tuple[float, float]:
    """The paper's own value as an interval: the point, or its uncertainty where it rests on few units."""
    value = float(claim["value"] if value is None else value)
    unc = claim.get("paper_uncertainty") or {}
    if "interval" in unc:
        low, high = unc["interval"]
        return float(low), float(high)
    if "proportion" in unc:
        from scipy.stats import binomtest

        k, n = unc["proportion"]
        ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=LEVEL, method="exact")
        return float(ci.low), float(ci.high)
    if "correlation_n" in unc:
        from scipy.stats import norm

        n = int(unc["correlation_n"])
        z, half = math.atanh(max(min(value, 0.999999), -0.999999)), norm.ppf(0.5 + LEVEL / 2) / math.sqrt(n - 3)
        return math.tanh(z - half), math.tanh(z + half)
    return value, value


def equivalence_band(claim: Mapping, value: float | None = None) -> tuple[float, float]:
    """paper ± margin, the paper's own interval widened by the margin."""
    low, high = paper_interval(claim, value)
    margin = float(claim["margin"])
    return low - margin, high + margin


def band_verdict(low: float, high: float, ours: Estimate) -> str:
    """*agrees* when our whole interval lies in [``low``, ``high``], *disagrees* when it lies wholly outside,
    *inconclusive* when it straddles an edge or there is no interval."""
    if not low <= high:
        raise ValueError(f"band_verdict: the band [{low}, {high}] is empty")
    if not ours.has_interval:
        return INCONCLUSIVE
    if low <= ours.low and ours.high <= high:
        return AGREES
    if ours.high < low or ours.low > high:
        return DISAGREES
    return INCONCLUSIVE


def direction_verdict(sign: int, ours: Estimate) -> str:
    """``sign`` is the paper's direction (+1: positive, -1: negative) of a difference or correlation."""
    if sign not in (1, -1):
        raise ValueError(f"direction_verdict: sign must be +1 or -1, got {sign!r}")
    if not ours.has_interval:
        return INCONCLUSIVE
    if ours.low > 0 or ours.high < 0:
        return AGREES if (ours.low > 0) == (sign > 0) else DISAGREES
    return INCONCLUSIVE


def failed_gates(gates: Iterable[Gate], key: str = "") -> list[Gate]:
    """The gates among ``gates`` that failed and that gate the claim ``key`` (all of them where ``key`` is empty
    or the gate names no claims)."""
    return [g for g in gates if g.passed is False and (not g.claims or not key or key in g.claims)]


def decide(claim: Mapping, ours: Estimate, gates: Iterable[Gate] = (), *, key: str = "",
           value: float | None = None) -> str:
    """The verdict of one claims-file entry on our estimate: its kind's rule (module doc), *not tested (gate …)*
    when a gate it rests on failed, ``NO_VERDICT`` for context. ``value`` replaces the entry's ``value`` where one
    entry lists several (per size, per architecture)."""
    check_claim(claim, key or "claim")
    failed = failed_gates(gates, key)
    if failed:
        return f"{NOT_TESTED} (gate: {'; '.join(g.name for g in failed)})"
    kind = claim["kind"]
    if kind == "context":
        return NO_VERDICT
    if kind == "direction":
        return direction_verdict(int(claim["sign"]), ours)
    if kind == "band":
        return band_verdict(*map(float, claim["band"]), ours)
    return band_verdict(*equivalence_band(claim, value), ours)


def margin_text(claim: Mapping, value: float | None = None) -> str:
    """What a verdict was decided against, for the table: "± 0.05 → [4.55, 4.66]: reason"."""
    kind = claim["kind"]
    if kind == "equivalence":
        low, high = equivalence_band(claim, value)
        return f"± {float(claim['margin']):g} → [{low:.3g}, {high:.3g}]: {claim['reason']}"
    if kind == "band":
        low, high = claim["band"]
        return f"[{low:g}, {high:g}]: {claim['reason']}"
    if kind == "direction":
        return "sign " + ("> 0" if int(claim["sign"]) > 0 else "< 0")
    return "shown, not judged"


def decisive_format(paper: float, ours: Estimate, digits: int = 2, most: int = 4) -> str:
    """The fixed-point format with the fewest decimals (at least ``digits``, at most ``most``) at which neither end
    of ``ours``'s interval prints as the paper's value, so a reader sees on which side of each end the paper's
    value lies (``0.856 [0.823, 0.875]`` against 0.82, where two decimals would print ``0.86 [0.82, 0.87]``)."""
    if not ours.has_interval or not math.isfinite(paper):
        return f".{digits}f"
    for d in range(digits, most + 1):
        p = f"{paper:.{d}f}"
        if f"{ours.low:.{d}f}" != p and f"{ours.high:.{d}f}" != p:
            return f".{d}f"
    return f".{most}f"


def claim_row(text: str, claim: Mapping, ours: Estimate, *, key: str, gates: Iterable[Gate] = (),
              paper: str | None = None, value: float | None = None, fmt: str = ".2f") -> dict:
    """One row of a claims table, decided here: the statement tested (``text``), the claims-file entry behind it
    (``claim``, under ``key``; several rows may share a key), our estimate with its interval and unit. ``paper``
    is how the paper's side prints (default: its value or statement); ``value`` as in ``decide``."""
    gates = tuple(gates)
    verdict = decide(claim, ours, gates, key=key, value=value)
    if paper is None:
        shown = value if value is not None else claim.get("value")
        paper = f"{shown:g}" if isinstance(shown, (int, float)) else str(claim.get("statement", shown or ""))
    gated = [g for g in gates if not g.claims or key in g.claims]
    return {"claim": text, "key": key, "source": claim.get("source", "paper"), "kind": claim["kind"],
            "paper": paper, "decided against": margin_text(claim, value), "ours [95 % CI]": ours.text(fmt),
            "estimate": ours.value, "low": ours.low, "high": ours.high, "resampled": f"{ours.n} {ours.unit}",
            "gate": "; ".join(f"{g.name}: {g.status}" for g in gated) or "—", "verdict": verdict,
            "paper source": claim.get("where", "")}


DISPLAY = ["claim", "paper", "decided against", "ours [95 % CI]", "resampled", "gate", "verdict", "paper source"]


def display(table: pd.DataFrame) -> pd.DataFrame:
    """A claims table as a chapter shows it: the paper's statements first, then the project's own hypotheses,
    told apart by the first level of the index."""
    whose = table["source"].map({"paper": "the paper", "project": "this project (hypothesis)"})
    shown = table.assign(**{"statement of": whose}).sort_values("statement of", kind="stable")
    return shown.set_index(["statement of", "claim"])[DISPLAY[1:]]


def statement_verdict(verdicts: Iterable[str]) -> str:
    """One verdict for the rows that test one statement (module doc)."""
    vs = [v for v in verdicts if v != NO_VERDICT]
    if not vs:
        return NO_VERDICT
    tested = [v for v in vs if not v.startswith(NOT_TESTED)]
    if not tested:
        return NOT_TESTED
    if DISAGREES in tested:
        return DISAGREES
    return AGREES if all(v == AGREES for v in tested) else INCONCLUSIVE


def statements(table: pd.DataFrame) -> pd.DataFrame:
    """One row per statement of a claims table — a claim key, within its chapter where the table spans several
    (a ``chapter`` column: two chapters' keys never merge) — with its source, kind, how many rows test it, and its
    grouped verdict."""
    by = ["chapter", "key"] if table is not None and "chapter" in table else ["key"]
    if table is None or table.empty:
        return pd.DataFrame(columns=[*by, "source", "kind", "rows", "verdict"])
    return (table.groupby(by, sort=False)
            .agg(source=("source", "first"), kind=("kind", "first"), rows=("verdict", "size"),
                 verdict=("verdict", statement_verdict))
            .reset_index())


def checks_table(gates: Iterable[Gate]) -> pd.DataFrame:
    """A chapter's Checks table, shown before its claims: each gate, whether it passed, what was measured, and
    which claims it gates."""
    return pd.DataFrame([{"check": g.name, "status": g.status, "measured": g.detail,
                          "gates": ", ".join(g.claims) or "every claim"} for g in gates],
                        columns=["check", "status", "measured", "gates"])
