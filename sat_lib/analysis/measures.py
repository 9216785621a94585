"""Tables of the "Measures" appendix: the registry, and the invariance checks on real activations."""
from __future__ import annotations

import pandas as pd
import xarray as xr

from sat_lib.measures import MEASURES, measure_table


def registry_markdown() -> str:
    """The measure registry as a Markdown table (formulas rendered as LaTeX)."""
    t = measure_table()
    lines = ["| measure | kind | formula | range | higher = similar | invariant to | source |",
             "|---|---|---|---|---|---|---|"]
    for name, r in t.iterrows():
        rng = f"[{r.range_lo:.3g}, {r.range_hi:.3g}]".replace("inf", "∞")
        cells = [f"`{name}`", r.kind, f"${r.formula}$", rng, "yes" if r.higher_is_similar else "no",
                 r.invariances or "—", r.source]
        # a `|` inside a cell (|x|, the norm \|x\|) would split it: pipe tables take it escaped as `\|`
        lines.append("| " + " | ".join(str(c).replace("|", r"\|") for c in cells) + " |")
    return "\n".join(lines)


def invariance_table(ds: xr.Dataset) -> pd.DataFrame:
    return ds["representational"].to_pandas()


def invariance_summary(ds: xr.Dataset, tol: float = 1e-4) -> str:
    """Which declared invariances held on these activations, and which undeclared ones changed the value."""
    vals = ds["representational"]
    lines = []
    for m in vals["measure"].values:
        base = float(vals.sel(measure=m, transform="none"))
        held, broke, changed = [], [], []
        for t in vals["transform"].values:
            if t in ("none", "self"):
                continue
            diff = abs(float(vals.sel(measure=m, transform=t)) - base)
            declared = bool(ds["declared_invariant"].sel(measure=m, transform=t))
            if declared:
                (held if diff <= tol else broke).append(t)
            elif diff > tol:
                changed.append(t)
        self_max = float(vals.sel(measure=m, transform="self")) >= max(MEASURES[m].range[1] - 1e-6, base)
        text = f"* `{m}` = {base:.4f} between the two models; invariant as declared to {', '.join(held) or '—'}"
        text += f"; **declared but not held: {', '.join(broke)}**" if broke else ""
        text += f"; not invariant to {', '.join(changed)}" if changed else ""
        text += "; self-similarity is the maximum." if self_max else "; **self-similarity is not the maximum**."
        lines.append(text)
    return "\n".join(lines)


def functional_table(ds: xr.Dataset) -> pd.DataFrame:
    rows = {str(m): float(v) for m, v in zip(ds["functional_measure"].values, ds["functional"].values)}
    rows["gradient_cosine (full resolution)"] = float(ds["gradient_cosine"].sel(resolution="full"))
    rows["gradient_cosine (8×8 area-downsampled)"] = float(ds["gradient_cosine"].sel(resolution="8x8"))
    df = pd.DataFrame({"value": rows}).rename_axis(f"{ds['model'].values[0]} vs {ds['model'].values[1]}")
    df["higher = similar"] = [MEASURES[n.split(" ")[0]].higher_is_similar for n in df.index]
    return df
