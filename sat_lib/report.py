"""What every chapter page shows besides its results: the command that regenerates it and what that costs at each
profile (``rerun``), the parameters and provenance of the result it renders, and how its tables print
(``use_display``: rounded, readable column names, a scroll bar of their own when wider than the page).

It sits above the chapter registry (``sat_lib.experiments``), which it reads to find a profile's stored result;
only notebooks import it.
"""
from __future__ import annotations

import json
import math
import re
import shlex
from collections.abc import Callable, Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from sat_lib.config import PROFILES, overlay_path, project_config
from sat_lib.experiments import CHAPTERS, resolve_params
from sat_lib.params import ChapterConfig
from sat_lib.results import CacheMiss

Result = xr.Dataset | Mapping[str, xr.Dataset]
"""What a chapter's compute returns: one stored result, or one per population (the salience chapter)."""


# ------------------------------------------------------------------------------------------------ rerun

def cli_value(value: Any) -> str:
    """A parameter value as ``-p NAME VALUE`` takes it back (``sat_lib.params.coerce``): ``8/255`` for a float
    that is a short fraction but a long decimal, lists comma-joined, ``none`` for None; shell-quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, float):
        text = repr(value)
        if len(text) > 8:
            frac = Fraction(value).limit_denominator(1000)
            if frac.denominator > 1 and float(frac) == value:
                text = f"{frac.numerator}/{frac.denominator}"
        return text
    if isinstance(value, (list, tuple)):
        return shlex.quote(",".join(cli_value(v) for v in value)) if value else '""'
    return shlex.quote(str(value))


def _results(result: Result) -> list[xr.Dataset]:
    """The stored results behind a chapter's result (an ``xr.Dataset`` is a Mapping too: of its variables)."""
    return [result] if isinstance(result, xr.Dataset) else list(result.values())


def stored_minutes(result: Result) -> float:
    """The computation behind a stored result, in minutes: the run time it records (``duration_s``; summed over
    the results of a chapter stored population by population). A chapter whose result reuses work made earlier
    (models from the weights cache) passes its own cost to ``rerun`` instead."""
    return sum(float(r.attrs.get("duration_s", math.nan)) for r in _results(result)) / 60


def total_minutes(cost_table: Callable[[xr.Dataset], pd.DataFrame]) -> Callable[[xr.Dataset], float]:
    """A chapter's cost table (rows of work in ``minutes``, the last named ``total``) as the cost ``rerun`` takes:
    the minutes of its total row."""
    def minutes(ds: xr.Dataset) -> float:
        return float(cost_table(ds).loc["total", "minutes"])

    minutes.__doc__ = f"The total row of {getattr(cost_table, '__qualname__', 'the cost table')}."
    return minutes


def _devices(result: Result) -> str:
    return ", ".join(sorted({str(r.attrs.get("device", "an unrecorded device")) for r in _results(result)}))


def duration_text(minutes: float) -> str:
    """``"40 s"``, ``"87 min"``, ``"4.2 h"``."""
    if not math.isfinite(minutes):
        return "not recorded"
    if minutes < 1.5:
        return f"{minutes * 60:.0f} s"
    return f"{minutes:.0f} min" if minutes < 180 else f"{minutes / 60:.1f} h"


def profile_of(cfg: ChapterConfig) -> tuple[str, dict[str, Any]]:
    """The profile whose parameters ``cfg`` has, with no overrides; else the book's default profile and the
    parameters that differ from it (what ``-p`` must set)."""
    name = cfg.chapter
    for profile in PROFILES:
        if resolve_params(name, profile) == cfg:
            return profile, {}
    base = project_config().default_profile
    ref = resolve_params(name, base).as_dict()
    return base, {k: v for k, v in cfg.as_dict().items() if ref[k] != v}


def command(cfg: ChapterConfig) -> str:
    """The command that regenerates a chapter page with ``cfg``: ``sat-companion run <chapter> --profile <profile>``
    and a ``-p NAME VALUE`` for each parameter that differs from the profile, after ``SAT_CONFIG_OVERLAY=<file>``
    where an overlay is in force (its values are then part of the profile)."""
    profile, overrides = profile_of(cfg)
    extra = "".join(f" -p {k} {cli_value(v)}" for k, v in overrides.items())
    overlay = overlay_path(project_config().root)
    prefix = "" if overlay is None else f"SAT_CONFIG_OVERLAY={_shown_path(overlay)} "
    return f"{prefix}sat-companion run {cfg.chapter} --profile {profile}{extra}"


def _shown_path(path: Path) -> str:
    root = project_config().root
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def stored(name: str, profile: str) -> Result | None:
    """A chapter's stored result at a profile's parameters (nothing is computed); None when it is not stored."""
    try:
        return CHAPTERS[name].compute(resolve_params(name, profile), mode="cache_only")
    except CacheMiss:
        return None


def cost_lines(cfg: ChapterConfig, result: Result,
               cost: Callable[[Result], float] = stored_minutes) -> list[str]:
    """One line per profile: the minutes ``cost`` reads from that profile's stored result and the device that
    computed it, or "not run here"; ``result`` is this page's (its profile, or its own line when overridden)."""
    name = cfg.chapter
    here, overrides = profile_of(cfg)
    lines = []
    for profile in PROFILES:
        found = result if (profile == here and not overrides) else stored(name, profile)
        mark = " (this page)" if found is result else ""
        took = (f"{duration_text(cost(found))} on {_devices(found)}" if found is not None
                else "not run here (no stored result)")
        lines.append(f"`{profile}`{mark}: {took}")
    if overrides:
        lines.append(f"these parameters (this page): {duration_text(cost(result))} on {_devices(result)}")
    return lines


def rerun(cfg: ChapterConfig, result: Result | None,
          cost: Callable[[Result], float] = stored_minutes) -> str:
    """Markdown for the top of a chapter page: the exact command that regenerates it, how to change one parameter,
    and how long the computation took at each profile — read from the stored results (``cost(result)`` minutes,
    default ``stored_minutes``), "not run here" for a profile with none. ``result``: the page's result (None for
    a page that computes nothing of its own)."""
    name = cfg.chapter
    chapter = CHAPTERS[name]
    cmd = command(cfg)
    example = (f"`{cmd} -p seed {cfg.seed + 1}`" if isinstance(getattr(cfg, "seed", None), int)
               else f"`{cmd} -p NAME VALUE`")
    if chapter.reads_all_results:
        body = [f"`{cmd}` regenerates this page. It computes nothing: it reads the stored results of every other "
                "chapter at the profile it is run at (their pages say what those cost)."]
    else:
        body = [f"`{cmd}` regenerates this page: it reuses every stored result and trained model it finds and "
                "computes only what is missing (`--recompute` computes everything again). "
                f"To change a parameter add `-p NAME VALUE`, e.g. {example}; `sat-companion list` names every "
                "parameter and each profile's values."]
    if result is not None and not chapter.reads_all_results:
        ups = sorted({up.chapter for up in chapter.upstream(cfg)})
        reads = (f" It reads the stored results of {', '.join(f'`{u}`' for u in ups)} (their pages say what those "
                 "cost)." if ups else "")
        body.append(f"\nHow long its computation took, from each profile's stored result (the work behind the "
                    f"result, on the device that did it).{reads}\n")
        body += [f"- {line}" for line in cost_lines(cfg, result, cost)]
    return ":::{admonition} Rerun this page\n:class: tip\n\n" + "\n".join(body) + "\n:::\n"


# ------------------------------------------------------------------------------------------ setting tables

def provenance(ds: xr.Dataset) -> pd.DataFrame:
    """Where the result came from: commit, device, time, package versions."""
    versions = json.loads(ds.attrs.get("versions_json", "{}"))
    rows = {
        "git commit": ds.attrs.get("git_commit"),
        "device": ds.attrs.get("device"),
        "computed at": ds.attrs.get("created_at"),
        "compute time (s)": ds.attrs.get("duration_s"),
        "cache key": ds.attrs.get("cache_key"),
        **{f"version: {k}": v for k, v in versions.items()},
    }
    return pd.DataFrame({"value": list(map(str, rows.values()))}, index=pd.Index(list(rows), name="provenance"))


def parameters(ds: xr.Dataset) -> pd.DataFrame:
    """The parameters of the result, each value written as ``-p NAME VALUE`` takes it."""
    params = json.loads(ds.attrs.get("params_json", "{}"))
    return pd.DataFrame({"value": [v if isinstance(v, str) else str(v) if isinstance(v, dict) else cli_value(v)
                                   for v in params.values()]},
                        index=pd.Index(list(params), name="parameter"))


# ------------------------------------------------------------------------------------------ table display

MISSING = "—"
"""How a table cell without a value (NaN: a correlation of a constant, a p-value a test does not give) prints."""
MAX_ROWS = 300
MAX_DECIMALS = 4
READABLE = {"sat": "SAT", "err": "ERR", "cka": "CKA", "jsd": "JSD"}
"""Column names that are a field's raw name and read better otherwise (beside snake_case → words)."""
_FIELD = re.compile(r"[a-z]+(?:_[a-z]+)+")


def column_label(label: Any) -> Any:
    """A readable column name: ``train_seconds`` → ``train (s)``, ``student_accuracy`` → ``student accuracy``,
    ``sat`` → ``SAT``. Only lower-case field names (letters and ``_``) change: a model's name
    (``vgg_c32``), a corrupted set's (``water_drop@7``) or anything already readable stays as it is."""
    if not isinstance(label, str):
        return label
    if label in READABLE:
        return READABLE[label]
    if _FIELD.fullmatch(label):
        words = label.split("_")
        if words[-1] == "seconds":
            return " ".join(words[:-1]) + " (s)"
        return " ".join(READABLE.get(w, w) for w in words)
    return label


def _carried(v: float) -> int:
    """The decimals ``v`` carries: the fewest (up to ``MAX_DECIMALS``) that give it back exactly, or as float32 (a
    value rounded while stored in float32 prints as 75.809998)."""
    for d in range(MAX_DECIMALS + 1):
        text = f"{v:.{d}f}"
        if float(text) == v or np.float32(text) == np.float32(v):
            return d
    return MAX_DECIMALS


def typical(values: np.ndarray) -> float:
    """The median absolute value of the finite, non-zero ``values`` (1 when there are none)."""
    nonzero = np.abs(values[np.isfinite(values) & (values != 0)])
    return float(np.median(nonzero)) if nonzero.size else 1.0


def decimals(values: np.ndarray, interval: float | None = None) -> int:
    """How many decimals a column of numbers prints with: two significant digits of the width of the table's
    95 % intervals (``interval``: the median width of its ``low``–``high``) for a column of that scale, else three
    significant digits of the column's typical value — never more than the values carry (a column of whole
    numbers prints none)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0
    scale, digits = (interval, 2) if interval else (typical(finite), 3)
    wanted = int(np.clip(digits - 1 - math.floor(math.log10(scale)), 0, MAX_DECIMALS))
    return min(wanted, max(_carried(float(v)) for v in finite))


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _numbers(col: pd.Series) -> np.ndarray | None:
    """A column's values as floats when it holds floats (a float column, or an object column of numbers of which
    some are floats or missing); None for integers, bools, text and mixed columns, which print as they are."""
    if pd.api.types.is_float_dtype(col):
        return col.to_numpy(dtype=float, na_value=np.nan)
    if col.dtype == object and len(col) and all(v is None or _is_number(v) for v in col) \
            and any(v is None or isinstance(v, (float, np.floating)) for v in col):
        return np.array([np.nan if v is None else float(v) for v in col])
    return None


def _format(v: float, d: int) -> str:
    if not np.isfinite(v):
        return MISSING
    if v != 0 and abs(v) < 0.5 * 10 ** -d:  # would print as zero: two significant digits instead
        return f"{v:.1e}"
    return f"{v:.{d}f}"


def readable(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` for display (the numbers of ``df`` are untouched): numbers as text rounded by ``decimals``
    (the same decimals down a column), missing values as ``MISSING``, field-name columns by ``column_label``."""
    out = df.copy()
    interval, scale = None, None
    if out.columns.is_unique and {"low", "high"} <= set(out.columns) and all(
            _numbers(out[c]) is not None for c in ("low", "high")):
        width = _numbers(out["high"]) - _numbers(out["low"])
        width = width[np.isfinite(width) & (width > 0)]
        interval = float(np.median(width)) if width.size else None
        scale = typical(_numbers(out["high"]))
    for i in range(out.shape[1]):
        values = _numbers(out.iloc[:, i])
        if values is not None:
            # the intervals' precision holds for the columns on their scale (an estimate, its ends, min and max)
            same_scale = interval is not None and abs(math.log10(typical(values) / scale)) <= 1
            d = decimals(values, interval if same_scale else None)
            out.isetitem(i, pd.Series([_format(v, d) for v in values], index=out.index, dtype=object))
    if out.columns.name is None or isinstance(out.columns, pd.MultiIndex):  # not a coordinate's values (pivoted)
        out = out.rename(columns=column_label)
    out.index = out.index.set_names([column_label(n) for n in out.index.names])
    if isinstance(out.columns, pd.MultiIndex) or out.columns.name is not None:
        out.columns = out.columns.set_names([column_label(n) for n in out.columns.names])
    return out


def frame_html(df: pd.DataFrame) -> str:
    """A DataFrame as a chapter shows it (``readable``), in a box that scrolls sideways when the table is wider
    than the page."""
    html = readable(df).to_html(na_rep=MISSING, notebook=True, max_rows=pd.get_option("display.max_rows"),
                                max_cols=pd.get_option("display.max_columns"), show_dimensions=False)
    return f'<div class="table-scroll" style="overflow-x: auto; max-width: 100%;">\n{html}\n</div>'


def use_display() -> None:
    """Tables in a chapter print whole: no cell cut at 50 characters, no rows or columns elided (up to
    ``MAX_ROWS`` rows), rounded and named by ``readable``, and scrolled sideways when wider than the page. Call
    once per notebook, after the imports."""
    pd.set_option("display.max_colwidth", None)
    pd.set_option("display.max_rows", MAX_ROWS)
    pd.set_option("display.max_columns", None)
    pd.set_option("display.width", None)
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with the notebook stack
        return
    shell = get_ipython()
    if shell is not None:
        shell.display_formatter.formatters["text/html"].for_type(pd.DataFrame, frame_html)
