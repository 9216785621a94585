"""The similarity atlas's pair step: every measure of the atlas for every pair of models, from their stored
per-model artifacts (``sat_lib.zoo.atlas``), and the pair targets the measures are asked to predict.

``ATLAS_MEASURES`` lists the measures as data: which registered measure (``sat_lib.measures.MEASURES``) each is,
which artifact it reads, its group (transfer, functional, representational, gradient, attribution). SAT is the
one measure not computed from artifacts: it comes from the SAT chapter's stored attacks (or, for a placed model,
from attacking it and the zoo both ways), so its artifact is ``""``. ``pair_matrices`` computes the rest with
``sat_lib.measures.pairwise`` (each model prepared once, each unordered pair once).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
import xarray as xr

from sat_lib.measures import MEASURES, error_reduction_rate, pairwise
from sat_lib.registry import Registry

GROUPS = ("transfer", "functional", "representational", "gradient", "attribution")
TARGETS = {"err": "ensemble error reduction (ERR)", "coincident_failure": "coincident failures (corrupted)",
           "accuracy_difference": "accuracy difference"}


@dataclass(frozen=True)
class AtlasMeasure:
    """One measure of the atlas: the book's label, its group, the artifact it reads (``""``: SAT, from attacks),
    the registered measure that scores a pair, and keyword arguments (names of spec fields as values: ``k`` of
    k-NN Jaccard is the spec's ``knn_k``)."""

    label: str
    group: str
    artifact: str
    measure: str
    kwargs: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.group not in GROUPS:
            raise ValueError(f"AtlasMeasure {self.label!r}: group {self.group!r} is not one of {GROUPS}")
        MEASURES[self.measure]  # unknown measure: KeyError with close matches

    @property
    def higher_is_similar(self) -> bool:
        return MEASURES[self.measure].higher_is_similar


ATLAS_MEASURES: Registry[AtlasMeasure] = Registry("atlas measure")
for _name, _m in {
    "sat": AtlasMeasure("SAT", "transfer", "", "sat_score"),
    "agreement": AtlasMeasure("agreement", "functional", "logits", "agreement"),
    "error_consistency": AtlasMeasure("error consistency", "functional", "correct", "error_consistency"),
    "jsd_similarity": AtlasMeasure("JSDSim", "functional", "logits", "jsd_similarity"),
    "disagreement": AtlasMeasure("disagreement", "functional", "correct", "disagreement"),
    "decision_regions": AtlasMeasure("decision regions", "functional", "regions", "decision_region_similarity"),
    "linear_cka": AtlasMeasure("linear CKA", "representational", "features", "linear_cka"),
    "linear_cka_debiased": AtlasMeasure("linear CKA (debiased)", "representational", "features",
                                        "linear_cka_debiased"),
    "procrustes": AtlasMeasure("ProcrustesSim", "representational", "features", "procrustes_similarity"),
    "knn_jaccard": AtlasMeasure("k-NN Jaccard", "representational", "features", "knn_jaccard", {"k": "knn_k"}),
    "input_gradient": AtlasMeasure("input-gradient cosine", "gradient", "gradient", "gradient_cosine",
                                   {"zero": "zero"}),
    "saliency": AtlasMeasure("saliency-map cosine", "attribution", "saliency", "gradient_cosine", {"zero": "zero"}),
    "integrated_gradients": AtlasMeasure("Integrated Gradients cosine", "attribution", "integrated_gradients",
                                         "gradient_cosine", {"zero": "zero"}),
}.items():
    ATLAS_MEASURES.register(_name, _m)


def artifact_items(arts: xr.Dataset, artifact: str) -> torch.Tensor:
    """What a measure reads from one model's artifacts, as a tensor (``correct``: logits' argmax == label)."""
    if artifact == "correct":
        return torch.from_numpy(arts["logits"].values.astype(np.float32).argmax(1) == arts["label"].values)
    dtype = np.int64 if artifact == "regions" else np.float32
    return torch.from_numpy(arts[artifact].values.astype(dtype))


def measure_kwargs(m: AtlasMeasure, knn_k: int) -> dict:
    return {k: (knn_k if v == "knn_k" else v) for k, v in m.kwargs.items()}


def pairs_or_nan(measure: str, items: list[torch.Tensor], kwargs: dict) -> np.ndarray:
    """``pairwise`` of the items (self-similarity on the diagonal); a model the measure is undefined for (a
    collapsed model's constant features: ``ValueError``) gets NaN pairs instead of failing the others."""
    try:
        mat = pairwise(measure, items, **kwargs).values.copy()
    except ValueError:
        ok = []
        for k, x in enumerate(items):
            try:
                MEASURES[measure](x, x, **kwargs)
                ok.append(k)
            except ValueError:
                pass
        mat = np.full((len(items), len(items)), np.nan)
        if ok:
            mat[np.ix_(ok, ok)] = pairwise(measure, [items[k] for k in ok], **kwargs).values
    return mat


def pair_matrices(artifacts: Mapping[str, xr.Dataset], knn_k: int) -> xr.DataArray:
    """Every artifact measure (all of ``ATLAS_MEASURES`` but SAT) for every pair of the named models:
    (measure, model, model_b), each model's self-similarity on the diagonal."""
    names = list(artifacts)
    out = []
    measures = [n for n, m in ATLAS_MEASURES.items() if m.artifact]
    for name in measures:
        m = ATLAS_MEASURES[name]
        items = [artifact_items(a, m.artifact) for a in artifacts.values()]
        out.append(pairs_or_nan(m.measure, items, measure_kwargs(m, knn_k)))
    return xr.DataArray(np.stack(out), dims=("measure", "model", "model_b"),
                        coords={"measure": measures, "model": names, "model_b": names}, name="similarity")


def pair_targets(test_logits: np.ndarray, labels: np.ndarray, corrupted_wrong: np.ndarray,
                 names: list[str]) -> xr.DataArray:
    """The targets of every pair (module doc of ``sat_lib.analysis.similarity_atlas``): ``err`` — the error
    reduction rate of the two models' logit average over the mean member on held-out test images
    (``test_logits`` (M, n, C), ``labels`` (n,)); ``coincident_failure`` — the share of corrupted images both get
    wrong (``corrupted_wrong``: bool (M, sets, images)); ``accuracy_difference`` — |accuracy A − accuracy B| on
    the held-out images (points). (target, model, model_b), NaN on the diagonal."""
    m = len(names)
    logits = torch.from_numpy(np.asarray(test_logits, dtype=np.float32))
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    acc = 100 * (logits.argmax(2) == y).double().mean(1).numpy()
    wrong = np.asarray(corrupted_wrong, dtype=bool).reshape(m, -1)
    out = np.full((len(TARGETS), m, m), np.nan)
    for i in range(m):
        for j in range(i + 1, m):
            err = error_reduction_rate(logits[[i, j]], y) if acc[i] < 100 or acc[j] < 100 else np.nan
            both = float((wrong[i] & wrong[j]).mean()) if wrong.shape[1] else np.nan
            out[:, i, j] = out[:, j, i] = (err, both, abs(acc[i] - acc[j]))
    return xr.DataArray(out, dims=("target", "model", "model_b"),
                        coords={"target": list(TARGETS), "model": names, "model_b": names}, name="target")
