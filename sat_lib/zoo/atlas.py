"""The similarity atlas's per-model work: one model's outputs on one image set, compact enough to store per model,
from which every pair measure of the atlas is computed (``sat_lib.zoo.atlas_pairs``). The ``similarity-atlas``
chapter stores them for each zoo model; ``sat-companion place`` computes them for a reader's model with the same
spec, so both sides of every pair come from this one function.

The image set is a seeded subset of the corruptions chapter's test-image draw (``image_sample`` with its size and
seed), so its corrupted copies are that chapter's cached sets. Per model:

- ``logits`` on every image of the set (float16) and penultimate ``features`` on a subset, stored as their exact
  row-space rotation (``sat_lib.measures.row_space``: CKA, ProcrustesSim and k-NN Jaccard are unchanged by it);
- fingerprints of three attribution maps of the true-class logit on a further subset — captum ``Saliency``
  signed (the input gradient, per channel), its absolute value maximised over channels (the saliency map) and
  ``IntegratedGradients`` summed over channels — each area-downsampled to ``fingerprint_size``² and
  unit-normalised per image (float16), as the salience chapter keeps its fingerprints;
- predicted classes on a grid in planes through triplets of the set's images (Somepalli et al.: the triangle
  widened by ``margin``, not clamped to the pixel range; ``sat_lib.boundary``), int8;
- predicted classes on every corrupted copy of the set, int8;
- the seconds each part took.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
import xarray as xr

from sat_lib.activations import penultimate
from sat_lib.boundary import draw_triplets, label_maps
from sat_lib.config import project_config
from sat_lib.measures import downsample_gradients, row_space
from sat_lib.measures.salience import unit_directions
from sat_lib.train import predict
from sat_lib.zoo.ensembles import attribute
from sat_lib.zoo.images import corrupted_set, image_sample, subset_positions

ATLAS_VERSION = 1
PARTS = ("outputs", "gradients", "integrated_gradients", "regions", "corrupted")
SPEC_KEYS = ("dataset", "draw", "draw_seed", "n_images", "feature_images", "gradient_images", "fingerprint_size",
             "ig_steps", "n_triplets", "resolution", "margin", "corrupted", "seed", "batch_size")


@dataclass(frozen=True)
class AtlasImages:
    """The atlas's images, as every model sees them: the set (uint8 (n, C, H, W)), its labels and test indices,
    the positions (into the set) of the feature and gradient subsets, the planes' corner positions (T, 3) and
    the corrupted copies of the set (uint8 (n, C, H, W) each, in the spec's order)."""

    images: torch.Tensor
    labels: np.ndarray
    index: np.ndarray
    features: np.ndarray
    gradients: np.ndarray
    triplets: np.ndarray
    corrupted: tuple[torch.Tensor, ...]


def check_spec(spec: dict) -> None:
    missing = [k for k in SPEC_KEYS if k not in spec]
    if missing:
        raise ValueError(f"atlas spec: missing {missing} (a spec has {list(SPEC_KEYS)})")


def set_labels(spec: dict) -> list[str]:
    """The corrupted sets' names, ``corruption@severity``, as the corruptions chapter names them."""
    return [f"{name}@{float(sev):g}" for name, sev in spec["corrupted"]]


def atlas_images(spec: dict) -> AtlasImages:
    """The images of an atlas spec (see the module doc), read from the test split and the corrupted-set cache
    (made where missing)."""
    check_spec(spec)
    test = project_config().load_data(spec["dataset"], "test")
    draw = image_sample(len(test), spec["draw"], spec["draw_seed"])
    pos = subset_positions(len(draw), spec["n_images"], spec["seed"])
    idx = draw[pos]
    labels = np.asarray(test.labels)[idx]
    nchw = lambda a: torch.from_numpy(np.ascontiguousarray(a)).permute(0, 3, 1, 2).contiguous()  # noqa: E731
    corrupted = tuple(nchw(corrupted_set(spec["dataset"], name, float(sev), spec["draw_seed"], draw)[pos])
                      for name, sev in spec["corrupted"])
    return AtlasImages(
        images=nchw(test.images[idx]), labels=labels, index=idx,
        features=subset_positions(len(idx), spec["feature_images"], spec["seed"]),
        gradients=subset_positions(len(idx), spec["gradient_images"], spec["seed"] + 1),
        triplets=draw_triplets(labels, spec["n_triplets"], seed=spec["seed"]),
        corrupted=corrupted)


def fingerprint(maps: torch.Tensor, size: int) -> np.ndarray:
    """Attribution maps (n, C, H, W) area-downsampled to ``size``², unit-normalised per image, float16 (n, C, s, s)
    (an all-zero map stays zero)."""
    small = downsample_gradients(maps, size)
    return unit_directions(small[None])[0].view(small.shape).to(torch.float16).numpy()


def _timed(seconds: dict, part: str, fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    seconds[part] = time.perf_counter() - t0
    return out


def model_artifacts(model: torch.nn.Module, spec: dict, data: AtlasImages, precision: str = "fp32") -> dict:
    """One model's artifacts on the atlas images (module doc). Logits, features and attributions are computed in
    float32; the many forward passes of the planes and corrupted sets in ``precision`` (the model's layout)."""
    seconds: dict[str, float] = {}
    feats, out = _timed(seconds, "outputs", penultimate, model, data.images, precision="fp32")
    features = row_space(feats[torch.from_numpy(data.features)]).to(torch.float16).numpy()
    x = data.images[torch.from_numpy(data.gradients)]
    y = torch.from_numpy(data.labels[data.gradients].astype(np.int64))
    grads = _timed(seconds, "gradients", attribute, model, x, y)  # captum Saliency, signed
    ig = _timed(seconds, "integrated_gradients", attribute, model, x, y, spec["ig_steps"])
    regions = _timed(seconds, "regions", label_maps, model, data.images, data.triplets, resolution=spec["resolution"],
                     margin=spec["margin"], batch_size=spec["batch_size"], precision=precision, clamp=False)
    corrupted = _timed(seconds, "corrupted", lambda: [predict(model, c, batch_size=spec["batch_size"],
                                                              precision=precision).cpu() for c in data.corrupted])
    size = spec["fingerprint_size"]
    return {
        "logits": out.cpu().numpy().astype(np.float16), "features": features,
        "gradient": fingerprint(grads, size),
        "saliency": fingerprint(grads.abs().amax(1, keepdim=True), size)[:, 0],
        "integrated_gradients": fingerprint(ig.sum(1, keepdim=True), size)[:, 0],
        "regions": regions.numpy().astype(np.int8),
        "corrupted": (np.stack([c.numpy() for c in corrupted]) if corrupted
                      else np.zeros((0, len(data.labels)))).astype(np.int8),
        "seconds": np.array([seconds[p] for p in PARTS]),
    }


def artifact_dataset(arts: dict, spec: dict, data: AtlasImages, attrs: dict | None = None) -> xr.Dataset:
    """A model's artifacts as a Dataset (the per-model stored result), every dim with its coordinate."""
    n_sets = arts["corrupted"].shape[0]
    size = spec["fingerprint_size"]
    return xr.Dataset(
        data_vars={
            "logits": (("image", "class"), arts["logits"], {"long_name": "logits on the atlas images (float16)"}),
            "label": ("image", data.labels.astype(np.int8)),
            "features": (("feature_image", "feature"), arts["features"],
                         {"long_name": "penultimate features, exact row-space rotation (float16)"}),
            "gradient": (("gradient_image", "channel", "row", "col"), arts["gradient"],
                         {"long_name": "input gradient of the true-class logit (captum Saliency, signed), "
                                       f"area-downsampled to {size}x{size}, unit-normalised"}),
            "saliency": (("gradient_image", "row", "col"), arts["saliency"],
                         {"long_name": "saliency map (|gradient|, channel maximum), downsampled, unit-normalised"}),
            "integrated_gradients": (("gradient_image", "row", "col"), arts["integrated_gradients"],
                                     {"long_name": f"Integrated Gradients ({spec['ig_steps']} steps, black "
                                                   "baseline), channel sum, downsampled, unit-normalised"}),
            "regions": (("triplet", "grid_row", "grid_col"), arts["regions"],
                        {"long_name": "predicted class on each plane's grid (not clamped to the pixel range)"}),
            "corrupted": (("set", "image"), arts["corrupted"], {"long_name": "predicted class on corrupted copies"}),
            "seconds": ("part", arts["seconds"]),
        },
        coords={"image": data.index, "class": np.arange(arts["logits"].shape[1]),
                "feature_image": data.index[data.features], "feature": np.arange(arts["features"].shape[1]),
                "gradient_image": data.index[data.gradients], "channel": np.arange(arts["gradient"].shape[1]),
                "row": np.arange(size), "col": np.arange(size), "triplet": np.arange(len(data.triplets)),
                "grid_row": np.arange(spec["resolution"]), "grid_col": np.arange(spec["resolution"]),
                "set": set_labels(spec)[:n_sets], "part": list(PARTS)},
        attrs=dict(attrs or {}))
