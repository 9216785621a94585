"""The sat-matrix chapter's attack checks (``sat_lib.experiments.sat_matrix_checks``): how far the SAT of the checked
pairs moves when the attack runs in float32 or for twice the steps, with intervals over the attacked images, and
the two gates every SAT claim rests on."""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import torch
import xarray as xr

from sat_lib.claims.verdict import Gate
from sat_lib.measures import sat_matrix
from sat_lib.stats import Estimate, correlation, resample

# SAT is log(percent): 0.1 is a 10 % relative change of a pair's two-sided transfer rate, small against the spread of
# the zoo's pairs that the chapter's clusters and claims read (the gate states that spread beside it)
TOLERANCE = 0.1

GATES = {  # variant: the gate it decides, and what a failure means
    "fp32": ("bf16 and fp32 gradients give the same SAT", "the fast precision changes SAT"),
    "steps_x2": ("attack converged (SAT at twice the steps)", "the attack had not converged"),
    "apgd": ("a step-size-free attack (APGD) gives the same SAT", "PGD's examples are not the strongest the "
             "gradients give (gradient masking, or a step size that does not suit these models)"),
}
DEFAULT = ("fp32", "steps_x2")   # the sat-matrix section's variants: its gates read "not computed" without it


def checked_variants(check: xr.Dataset) -> list[str]:
    """The variants of a stored check other than the chapter's own attack, in their order."""
    return [str(v) for v in check["variant"].values if v != "chapter"]


def _pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(n, 1)


def _arrays(check: xr.Dataset, variant: str) -> tuple[torch.Tensor, torch.Tensor]:
    return (torch.from_numpy(check["fooled"].sel(variant=variant).values),
            torch.from_numpy(check["correct"].sel(variant=variant).values))


_SHIFTS: dict[tuple, Estimate] = {}
"""``shift`` by the check's content, variant, resamples and seed: a page reads each variant's shift in its table,
its summary and its gates, and each costs a bootstrap of SAT matrices."""


def _content(check: xr.Dataset) -> str:
    h = hashlib.sha256(repr((list(check["variant"].values), check.attrs["eps_s"])).encode())
    for name in ("fooled", "correct"):
        v = check[name]
        h.update(repr((v.dims, v.shape, str(v.dtype))).encode())
        h.update(np.ascontiguousarray(v.values).tobytes())
    return h.hexdigest()


def shift(check: xr.Dataset, variant: str, n_boot: int = 1000, seed: int = 0) -> Estimate:
    """``_shift``, computed once per check content, variant, ``n_boot`` and ``seed``."""
    key = (_content(check), variant, n_boot, seed)
    if key not in _SHIFTS:
        _SHIFTS[key] = _shift(check, variant, n_boot, seed)
    return _SHIFTS[key]


def _shift(check: xr.Dataset, variant: str, n_boot: int, seed: int) -> Estimate:
    """Mean absolute change of the checked pairs' SAT from the chapter's attack to ``variant``, over the pairs
    among the checked models, with a percentile interval over the attacked images (resampled jointly for both
    attacks). Resampling adds noise to every pair's change and a mean of absolute values only grows with noise, so
    the interval lies above the observed value: its upper end, which the gates read, is conservative."""
    i, j = _pairs(check.sizes["model"])
    eps_s = float(check.attrs["eps_s"])
    (fv, cv), (fc, cc) = _arrays(check, variant), _arrays(check, "chapter")

    def stat(idx):
        idx = torch.from_numpy(np.asarray(idx))
        a = sat_matrix(fv[..., idx], cv[:, idx], eps_s=eps_s)[0].numpy()
        b = sat_matrix(fc[..., idx], cc[:, idx], eps_s=eps_s)[0].numpy()
        return float(np.nanmean(np.abs(a - b)[i, j]))

    return resample(stat, check.sizes["sample"], unit="images", n_resamples=n_boot, seed=seed)


def _attack(check: xr.Dataset, variant: str) -> str:
    """A variant's attack by name (results stored before APGD was a variant hold PGD only)."""
    kind = str(check["attack_kind"].sel(variant=variant).item()) if "attack_kind" in check.coords else "pgd"
    return "APGD-CE, then APGD-T" if kind == "autoattack" else "PGD"


def _precision(p: str) -> str:
    """A variant's precision as a reader reads it: ``auto`` is each model's own layout, as the chapter attacked."""
    return "each model's layout (as the chapter)" if p == "auto" else p


def variant_table(check: xr.Dataset, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """One row per variant: its attack, clean accuracy change, mean signed and absolute SAT change of the checked
    pairs against the chapter's attack (interval over images) and the rank correlation of the pairs' SAT."""
    i, j = _pairs(check.sizes["model"])
    base = check["sat"].sel(variant="chapter").values[i, j]
    rows = []
    for v in checked_variants(check):
        sat = check["sat"].sel(variant=v).values[i, j]
        est = shift(check, v, n_boot, seed)
        acc = (check["accuracy"].sel(variant=v) - check["accuracy"].sel(variant="chapter")).values * 100
        rows.append({"variant": v, "attack": _attack(check, v),
                     "steps": int(check["steps"].sel(variant=v)),
                     "precision": _precision(str(check["precision"].sel(variant=v).item())),
                     "pairs": len(base), "mean SAT change": float(np.nanmean(sat - base)),
                     "mean |SAT change|": est.value, "low": est.low, "high": est.high,
                     "largest |SAT change|": float(np.nanmax(np.abs(sat - base))),
                     "Spearman of pairs' SAT": correlation(base, sat, "spearman"),
                     "largest accuracy change (pp)": float(np.abs(acc).max())})
    return pd.DataFrame(rows).set_index("variant")


def gates(check: xr.Dataset | None, claims=(), n_boot: int = 1000, seed: int = 0,
          spread: float | None = None) -> list[Gate]:
    """The two attack gates of every SAT claim: the checked pairs' SAT within ``TOLERANCE`` of the chapter's attack
    under fp32 and under twice the steps (the interval's upper end, over images); not computed without a check.
    ``spread``: the standard deviation of the zoo's off-diagonal SAT, stated beside the tolerance."""
    if check is None:
        return [Gate(GATES[v][0], None, "not computed: the sat-matrix chapter's attack-check section (check_models) "
                                        "is not stored for this profile", tuple(claims)) for v in DEFAULT]
    out = []
    n = check.sizes["model"]
    for v in checked_variants(check):
        name, failure = GATES[v]
        est = shift(check, v, n_boot, seed)
        passed = bool(est.high <= TOLERANCE)
        out.append(Gate(f"{name}: SAT within {TOLERANCE:g}", passed,
                        f"mean |SAT change| over the {n * (n - 1) // 2} pairs of {n} checked models "
                        f"{est.text('.3f')} (images resampled); tolerance {TOLERANCE:g} log-percent, a 10 % "
                        f"relative change of the transfer rate"
                        + ("" if spread is None else f" (the zoo's pairs: SAT std {spread:.2f})")
                        + ("" if passed else f": {failure}"), tuple(claims)))
    return out


def pair_spread(zoo: xr.Dataset) -> float:
    """The standard deviation of the zoo's off-diagonal SAT (each unordered pair once)."""
    i, j = _pairs(zoo.sizes["model"])
    return float(np.nanstd(zoo["sat"].values[i, j]))


def same_as_stored(check: xr.Dataset, zoo: xr.Dataset) -> float:
    """The largest |SAT difference| between the section's redone chapter attack and the stored matrix, over the
    checked pairs (0: the section attacked the stored models with the stored attack, bit for bit)."""
    models = list(check["model"].values)
    stored = zoo["sat"].sel(model=models, model_b=models).values
    i, j = _pairs(len(models))
    return float(np.nanmax(np.abs(check["sat"].sel(variant="chapter").values - stored)[i, j]))


def summary(check: xr.Dataset, zoo: xr.Dataset, n_boot: int = 1000, seed: int = 0) -> str:
    """What the checks show, in words: each variant against the tolerance, and whether the redone chapter attack
    reproduced the stored matrix."""
    n = check.sizes["model"]
    layouts = [str(x) for x in check["layout"].values]
    low = sum(x.startswith("bf16") for x in layouts)
    parts = [f"{n} models checked, {n * (n - 1) // 2} pairs; the chapter attacked "
             + (f"all {n}" if low == n else f"{low} of them") + " in bf16"
             + ("." if low == n else f" and the other {n - low} already in fp32 (their fp32 attack is the chapter's).")]
    for v in checked_variants(check):
        failure = GATES[v][1]
        est = shift(check, v, n_boot, seed)
        verdict = ("within the tolerance" if est.high <= TOLERANCE else
                   "beyond the tolerance" if est.low > TOLERANCE else "not shown within the tolerance")
        precision = str(check["precision"].sel(variant=v).item())
        parts.append(f"**{v}** ({_attack(check, v)}, {int(check['steps'].sel(variant=v))} steps, "
                     f"{'each model in its layout' if precision == 'auto' else precision}): mean |SAT change| {est.text('.3f')}, "
                     f"{verdict} ({TOLERANCE:g})" + ("." if est.high <= TOLERANCE else f": {failure}."))
    d = same_as_stored(check, zoo)
    parts.append("The redone chapter attack reproduces the stored matrix's SAT for every checked pair exactly."
                 if d == 0 else
                 f"The redone chapter attack differs from the stored matrix's SAT by up to {d:.3f} on a checked "
                 "pair: the weights cache held other copies of these models (retrained elsewhere); the checks "
                 "compare attacks on one set of copies.")
    return " ".join(parts)
