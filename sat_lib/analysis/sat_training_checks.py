"""Why one architecture's seeds look dissimilar (``sat_lib.experiments.sat_training_checks``): the attack on its seeds
redone in float32, with twice the steps and with APGD (``sat_lib.analysis.sat_matrix_checks`` reads those against
the chapter's attack), and the transfer in each direction — among the seeds, and between the zoo's model of that
architecture and the rest of the zoo (from the sat-matrix chapter's stored ``fooled``)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import xarray as xr

from sat_lib.analysis import sat_matrix_checks
from sat_lib.claims.verdict import Gate
from sat_lib.measures import sat_matrix
from sat_lib.stats import Estimate, resample


def one_sided(fooled: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """Transfer rate (percent) of source s's examples to target t, entry [s, t], over the images both classify
    correctly (the diagonal: the white-box success)."""
    return sat_matrix(torch.from_numpy(fooled), torch.from_numpy(correct), one_sided=True)[2].numpy()


def _off(n: int) -> np.ndarray:
    """The off-diagonal entries of an ``n × n`` pair matrix."""
    return ~np.eye(n, dtype=bool)


def direction_table(check: xr.Dataset) -> pd.DataFrame:
    """One row per seed and variant: white-box success, mean transfer of its examples to the other seeds (as
    source) and of theirs to it (as target), in percent."""
    rows = []
    for v in check["variant"].values:
        rate = one_sided(check["fooled"].sel(variant=v).values, check["correct"].sel(variant=v).values)
        off = np.where(_off(len(rate)), rate, np.nan)
        for k, m in enumerate(check["model"].values):
            rows.append({"variant": str(v), "model": str(m), "white-box success (%)": rate[k, k],
                         "transfer to the other seeds (%)": np.nanmean(off[k]),
                         "transfer from the other seeds (%)": np.nanmean(off[:, k])})
    return pd.DataFrame(rows).set_index(["variant", "model"])


def seed_transfer(check: xr.Dataset, variant: str, n_boot: int = 1000, seed: int = 0) -> Estimate:
    """Mean one-sided transfer rate (percent) between different seeds under ``variant``'s attack, with a percentile
    interval over the attacked images."""
    fooled = torch.from_numpy(check["fooled"].sel(variant=variant).values)
    correct = torch.from_numpy(check["correct"].sel(variant=variant).values)
    off = _off(check.sizes["model"])

    def stat(idx):
        idx = torch.from_numpy(np.asarray(idx))
        rate = sat_matrix(fooled[..., idx], correct[:, idx], one_sided=True)[2].numpy()
        return float(np.nanmean(rate[off]))

    return resample(stat, check.sizes["sample"], unit="images", n_resamples=n_boot, seed=seed)


def zoo_directions(zoo: xr.Dataset) -> pd.DataFrame:
    """Every zoo model's mean one-sided transfer to the other models (as source) and from them (as target), in
    percent, from the sat-matrix chapter's stored ``fooled`` and ``correct``."""
    rate = one_sided(zoo["fooled"].values, zoo["correct"].values)
    off = np.where(_off(len(rate)), rate, np.nan)
    return pd.DataFrame({"as source (%)": np.nanmean(off, 1), "as target (%)": np.nanmean(off, 0)},
                        index=pd.Index([str(m) for m in zoo["model"].values], name="model"))


def zoo_direction_rank(zoo: xr.Dataset, arch: str) -> dict[str, float]:
    """``arch``'s transfer as source and as target in the zoo, and the share of the zoo's models below it in each
    (0: the lowest of the zoo)."""
    frame = zoo_directions(zoo)
    row = frame.loc[arch]
    return {"as source (%)": float(row["as source (%)"]), "as target (%)": float(row["as target (%)"]),
            "source rank": float((frame["as source (%)"] < row["as source (%)"]).mean()),
            "target rank": float((frame["as target (%)"] < row["as target (%)"]).mean()),
            "zoo median as source (%)": float(frame["as source (%)"].median()),
            "zoo median as target (%)": float(frame["as target (%)"].median())}


def gates(check: xr.Dataset | None, arch: str, claims=(), n_boot: int = 1000, seed: int = 0) -> list[Gate]:
    """The attack gates of ``arch``'s rows: its seeds' SAT under fp32, twice the steps and APGD against the chapter's
    attack (``sat_matrix_checks.gates`` on the seeds); not computed without the section."""
    if check is None:
        return [Gate(f"{arch}'s seeds attacked again (fp32, twice the steps, APGD)", None,
                     "not computed: the sat-training chapter's attack-check section (check_arch) is not stored for "
                     "this profile", tuple(claims))]
    return [Gate(f"{arch}'s seeds: {g.name}", g.passed, g.detail, g.claims)
            for g in sat_matrix_checks.gates(check, claims, n_boot, seed)]


def summary(check: xr.Dataset, zoo: xr.Dataset, n_boot: int = 1000, seed: int = 0) -> str:
    """Why the seeds look as they do, in words: the transfer among them under each attack, and the architecture's
    place in the zoo as source and as target."""
    arch = str(check.attrs.get("check_arch", ""))
    chapter = seed_transfer(check, "chapter", n_boot, seed)
    parts = [f"Between {check.sizes['model']} seeds of {arch}, the chapter's attack transfers on "
             f"{chapter.text('.1f')} % of the images (one-sided, mean over ordered pairs; images resampled)."]
    for v in sat_matrix_checks.checked_variants(check):
        est = seed_transfer(check, v, n_boot, seed)
        parts.append(f"{v}: {est.text('.1f')} %.")
    if arch in [str(m) for m in zoo["model"].values]:
        r = zoo_direction_rank(zoo, arch)
        parts.append(f"In the zoo, {arch}'s examples fool the other models on {r['as source (%)']:.1f} % of the images "
                     f"(zoo median {r['zoo median as source (%)']:.1f} %; {100 * r['source rank']:.0f} % of the zoo "
                     f"below it) and theirs fool it on {r['as target (%)']:.1f} % (median "
                     f"{r['zoo median as target (%)']:.1f} %; {100 * r['target rank']:.0f} % below it).")
    return " ".join(parts)
