"""``sat-companion place``: a reader's own CIFAR-10 classifier placed into the similarity atlas's zoo.

Everything the command is given is checked before any work (``inputs``: the model name, a weights file read
without running code, weights that fit, one image in → one logit per class out); then the model is attacked
and evaluated against the zoo both ways and scored by every atlas measure (``compute``, with the atlas's own
functions), and a result file and a page are written (``page``) into ``out`` (default: ``<cache>/placed/``).
"""
from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import Path

import xarray as xr

from sat_lib.place.inputs import InputShape, PlaceInputError, checked_model, model_builder, read_state_dict

__all__ = ["InputShape", "PlaceInputError", "Placed", "input_shape", "place"]


@dataclass(frozen=True)
class Placed:
    result: Path
    page: Path
    figure: Path
    dataset: xr.Dataset


def input_shape(cfg) -> InputShape:
    """The zoo's inputs: its dataset's test images (channels, size), classes, mean and std."""
    from sat_lib.config import project_config
    from sat_lib.experiments.similarity_atlas import matrix_config

    dataset = matrix_config(cfg).dataset
    test = project_config().load_data(dataset, "test")
    return InputShape(dataset, test.channels, test.image_size, test.num_classes, tuple(test.mean), tuple(test.std))


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "placed"


def _check_name(name: str, zoo: list[str], out: Path) -> None:
    if not name.strip():
        raise PlaceInputError("--name: empty; give the placed model a name")
    if name in zoo:
        raise PlaceInputError(f"--name {name!r}: a model of the zoo has that name; give the placed model another "
                              "(--name)")
    if out.exists() and not out.is_dir():
        raise PlaceInputError(f"--out {str(out)!r}: a file, not a folder")


def place(model: str, weights: str | Path, *, profile: str | None = None, normalize: bool = False,
          name: str | None = None, out: str | Path | None = None, mode: str = "auto") -> Placed:
    """Check the inputs (nothing is written when they are wrong), place the model, write its result and page."""
    from sat_lib.config import project_config
    from sat_lib.experiments import resolve_params
    from sat_lib.experiments.similarity_atlas import matrix_config
    from sat_lib.place.compute import place_model
    from sat_lib.place.page import page_markdown, stamped, write_figure, write_page, write_result
    from sat_lib.plots.similarity_atlas import placement_maps
    from sat_lib.zoo import zoo_specs

    t0 = time.perf_counter()
    config = project_config()
    cfg = resolve_params("similarity-atlas", profile)
    profile = profile or config.default_profile
    name = name or Path(weights).stem
    out_dir = Path(out) if out else config.cache_dir / "placed"
    _check_name(name, [s["label"] for s in zoo_specs(matrix_config(cfg))], out_dir)
    build = model_builder(model)
    state = read_state_dict(weights)
    net = checked_model(model, build, state, weights, input_shape(cfg), normalize)
    # every input is good: the work starts here
    from sat_lib.experiments import chapter_result

    ds = place_model(net, name, cfg, mode)
    params = {"model": model, "weights": str(weights), "weights_sha256": hashlib.sha256(Path(weights).read_bytes())
              .hexdigest(), "normalize": normalize, "name": name, "profile": profile,
              "matrix_profile": cfg.matrix_profile, "atlas": cfg.as_dict()}
    ds = stamped(ds, params, time.perf_counter() - t0)
    stem = slug(name)
    result = write_result(ds, out_dir / f"{stem}.nc")
    atlas = chapter_result(cfg, "cache_only")
    clusters = ds["cluster"].to_series()
    figure = write_figure(placement_maps(atlas, ds["similarity"], name, clusters),
                          out_dir / f"{stem}-maps.png")
    page = write_page(page_markdown(ds, atlas, params, figure.name), out_dir / f"{stem}.md")
    return Placed(result, page, figure, ds)
