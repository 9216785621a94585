"""The universality chapter's pair measures on one set of images (``universality_cross.group_job`` calls it once per
source of inverted images, ``universality.assemble`` once on the regular test images).

Agreement and JSDSim on the models' logits, linear CKA, ProcrustesSim and k-NN Jaccard on their penultimate
features; beside them each model's output confidence (mean max-softmax, mean entropy) and JSDSim of the outputs
rescaled to one mean entropy (``MATCHED_ENTROPY`` of ln C, ``measures.confidence.entropy_matched``): near-uniform
outputs make JSDSim near 1 whatever the models do, so a rise that survives the rescaling is not that.
"""
from __future__ import annotations

import numpy as np
import torch

MATCHED_ENTROPY = 0.5
# result name → (registered measure, scored on penultimate features (True) or on logits)
PAIR_MEASURES = {"agreement": ("agreement", False), "jsd": ("jsd_similarity", False),
                 "cka": ("linear_cka", True), "procrustes": ("procrustes_similarity", True)}
SOURCE_SCORES = (*PAIR_MEASURES, "jsd_matched", "jaccard", "confidence", "entropy")


def pairs(measure: str, items, **kwargs) -> np.ndarray:
    """``measures.pairwise`` of every two models' outputs, as an array with NaN on the diagonal (no pair)."""
    from sat_lib.measures import pairwise

    m = pairwise(measure, list(items), **kwargs).values
    np.fill_diagonal(m, np.nan)
    return m


def source_scores(feats, outs, ks) -> dict[str, np.ndarray]:
    """Every measure of every pair of models on one set of images, from each model's features and logits on it:
    (m, m) per measure, (m, m, len(ks)) k-NN Jaccard (NaN where k is not below the number of images), (m,)
    confidence and entropy."""
    n_images = outs[0].shape[0]
    res = {name: pairs(measure, feats if on_features else outs) for name, (measure, on_features) in
           PAIR_MEASURES.items()}
    res["jaccard"] = np.stack([pairs("knn_jaccard", feats, k=k) if k < n_images else np.full((len(outs),) * 2, np.nan)
                               for k in ks], -1)
    res.update(_confidence(outs))
    return res


def _confidence(outs) -> dict[str, np.ndarray]:
    from sat_lib.measures.confidence import entropy_matched, mean_entropy, mean_max_softmax

    target = MATCHED_ENTROPY * np.log(outs[0].shape[1])
    return {"confidence": np.array([mean_max_softmax(o) for o in outs]),
            "entropy": np.array([mean_entropy(o) for o in outs]),
            "jsd_matched": pairs("jsd_similarity", [entropy_matched(o, target) for o in outs])}


def regular_pairs(logit_sets: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Agreement and JSDSim of every two models on the regular test images (their stored logits)."""
    items = [torch.from_numpy(v.astype(np.float32)) for v in logit_sets]
    return {name: pairs(PAIR_MEASURES[name][0], items) for name in ("agreement", "jsd")}
