"""``sat-companion place``'s outputs: the result file (netCDF with the provenance every result carries, validated
and written atomically) and a page — markdown beside a figure of the placed model in each measure's map — written
atomically into the same folder."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from sat_lib._files import atomic_path
from sat_lib.provenance import default_device, provenance_attrs
from sat_lib.results import SCHEMA_VERSION, cache_key, save


def stamped(ds: xr.Dataset, params: dict, duration_s: float) -> xr.Dataset:
    """The placed model's result with the provenance every result carries (params, commit, versions, device,
    time, key), ready for ``sat_lib.results.save`` (validated, atomic)."""
    ds = ds.copy()
    ds.attrs.update(provenance_attrs(params, device=default_device(), duration_s=duration_s))
    ds.attrs.update(chapter="place", cache_key=cache_key("place", params), schema_version=SCHEMA_VERSION)
    return ds


def write_result(ds: xr.Dataset, path: Path) -> Path:
    return save(ds, path)


def write_figure(fig, path: Path) -> Path:
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    return path


def _table(df: pd.DataFrame, digits: int = 3) -> str:
    return df.round(digits).to_markdown()


def page_markdown(placed: xr.Dataset, atlas: xr.Dataset, params: dict, figure: str) -> str:
    """The page: what was placed and with which settings, its SAT cluster, its place among the zoo's models by
    every measure, its nearest zoo models by SAT, the targets of its pairs, provenance."""
    from sat_lib.analysis.similarity_atlas import placement_table

    name = placed.attrs["placed"]
    cluster = int(placed.attrs["sat_cluster"])
    members = [str(m) for m, c in zip(placed["model"].values, placed["cluster"].values) if int(c) == cluster]
    sat = pd.DataFrame({"two-sided SAT": placed["similarity"].sel(measure="sat").values,
                        "one-sided SAT (its examples only)": placed["sat_one_sided"].values,
                        "|X_AB|": placed["n_both"].values, "cluster": placed["cluster"].values},
                       index=pd.Index(placed["model"].values, name="zoo model")).sort_values("two-sided SAT",
                                                                                             ascending=False)
    targets = placed["pair_target"].to_pandas().T
    targets.index.name = "zoo model"
    lines = [
        f"# Where {name} sits in the similarity atlas", "",
        f"`sat-companion place --model {params['model']} --weights {params['weights']} --profile {params['profile']}`"
        + (" --normalize" if params.get("normalize") else ""), "",
        f"- weights: `{params['weights']}` (sha256 `{params['weights_sha256'][:16]}…`)",
        f"- the zoo: the `{params['matrix_profile']}` profile of the SAT chapter ({placed.sizes['model']} models); "
        f"atlas result `{placed.attrs['atlas_result']}`, SAT result `{placed.attrs['matrix_result']}`",
        f"- accuracy on the held-out test images: {100 * placed.attrs['accuracy']:.1f} % (the zoo: "
        f"{100 * float(np.min(placed['zoo_accuracy'])):.1f}–{100 * float(np.max(placed['zoo_accuracy'])):.1f} %)",
        f"- **SAT cluster {cluster}** of {placed.attrs['n_clusters']} (the SAT chapters' spectral clusters; the cluster "
        f"whose members it shares the highest mean two-sided SAT with): {', '.join(members)}", "",
        "## Its place by every measure", "",
        "Higher is more alike for every measure here (disagreement is shown as 1 − disagreement). *Percentile*: the "
        "share of the zoo's models that are, on average, less alike to the rest of the zoo than this model is to "
        "the zoo.", "",
        _table(placement_table(atlas, placed["similarity"], name)), "",
        f"![{name} in each measure's map of the zoo]({figure})", "",
        "## SAT with each zoo model", "", _table(sat), "",
        "## Its pairs' targets", "",
        "ERR: error reduction of the two-model ensemble on the held-out test images; coincident failures: share of "
        "corrupted images both get wrong; accuracy difference in points.", "", _table(targets), "",
        "## Provenance", "",
        f"{placed.attrs.get('device', '')} · commit {str(placed.attrs.get('git_commit', ''))[:8]} · "
        f"{placed.attrs.get('created_at', '')} · {placed.attrs.get('duration_s', '')} s", "",
        "```json", json.dumps(params, indent=1, sort_keys=True), "```", ""]
    return "\n".join(lines)


def write_page(text: str, path: Path) -> Path:
    with atomic_path(path, suffix=".md") as tmp:
        tmp.write_text(text)
    return path
