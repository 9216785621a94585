"""``sat-companion place``'s computation: a reader's model against the similarity atlas's zoo, with the atlas's own
functions — SAT both ways with the SAT chapter's attack (the zoo's examples from the cache, attacked where missing;
``sat_lib.zoo.sat_with_new``), the model's atlas artifacts (``sat_lib.zoo.atlas.model_artifacts``) and every pair
measure and target against the zoo's stored artifacts (``sat_lib.zoo.atlas_pairs``), and its SAT cluster (the
SAT chapters' spectral clusters, appendix G's assignment)."""
from __future__ import annotations

import dataclasses
import time

import numpy as np
import xarray as xr
from torch import nn

from sat_lib.analysis.sat_matrix import nearest_cluster
from sat_lib.analysis.similarity_atlas import model_clusters
from sat_lib.config import project_config
from sat_lib.executor import Executor
from sat_lib.experiments import chapter_result
from sat_lib.experiments.similarity_atlas import (Config, atlas_spec, heldout_images, matrix_config,
                                                  model_artifacts_of)
from sat_lib.provenance import default_device
from sat_lib.train import logits, predict
from sat_lib.zoo import (as_tensors, attack_correct, attack_sample, cross_evaluate, load_adversarial, model_job,
                         sat_with_new, zoo_specs)
from sat_lib.zoo.atlas import artifact_dataset, atlas_images, model_artifacts
from sat_lib.zoo.atlas_pairs import pair_matrices, pair_targets

PRECISION = "fp32"   # a reader's model is evaluated and attacked in float32 (no layout is measured for it)


def sat_both_ways(model: nn.Module, name: str, cfg: Config, zoo: xr.Dataset, test) -> dict:
    """The model attacked by the SAT chapter's PGD on its images, every zoo model on those examples, the model on
    every zoo model's examples: one- and two-sided SAT with each zoo model, and the model's clean test logits."""
    mc = matrix_config(cfg)
    device = default_device()
    x_test, y_test = as_tensors(test, device)
    sample = attack_sample(mc, len(test))
    test_logits = logits(model, x_test, precision=PRECISION)
    t0 = time.perf_counter()
    spec = {"name": name, "label": name, "attack": dataclasses.asdict(mc.attack), "precision": PRECISION,
            "attack_batch_size": mc.attack_batch_size}
    adv = attack_correct(model, x_test, y_test, test_logits, sample, spec).cpu()
    attack_seconds = time.perf_counter() - t0
    specs = zoo_specs(mc)
    with Executor() as ex:  # the zoo's stored models and examples: loaded, or trained / attacked where missing
        rz = ex.map(model_job, [{**s, "sample": sample} for s in specs], desc="zoo examples",
                    names=[s["label"] for s in specs])
        zoo_on_new = cross_evaluate(ex, specs, rz, [{"adv": adv, "adv_path": ""}], f"the zoo on {name}'s examples")
    new_on_zoo = predict(model, load_adversarial(rz), batch_size=mc.attack_batch_size, precision=PRECISION)
    y = y_test.cpu().numpy()
    correct = (test_logits.argmax(1).cpu().numpy() == y)[sample]
    one, two, n_both = sat_with_new(zoo["fooled"].values, zoo["correct"].values, zoo_on_new,
                                    new_on_zoo.view(1, len(specs), -1).cpu().numpy(), correct[None], y[sample],
                                    mc.eps_s)
    return {"one_sided": one[0], "two_sided": two[0], "n_both": n_both[0], "attack_seconds": attack_seconds,
            "test_logits": test_logits.cpu().numpy()}


def place_model(model: nn.Module, name: str, cfg: Config, mode: str = "auto") -> xr.Dataset:
    """The placed model's result: every atlas measure and target with each zoo model, one-sided SAT, its SAT
    cluster and the zoo's clusters, its accuracy and the seconds each step took."""
    atlas = chapter_result(cfg, mode)
    zoo = chapter_result(matrix_config(cfg), mode)
    names = [str(n) for n in zoo["model"].values]
    test = project_config().load_data(matrix_config(cfg).dataset, "test")
    model = model.to(default_device()).eval()
    t0 = time.perf_counter()
    sat = sat_both_ways(model, name, cfg, zoo, test)
    t1 = time.perf_counter()
    spec = atlas_spec(cfg)
    data = atlas_images(spec)
    arts = artifact_dataset(model_artifacts(model, spec, data, precision=PRECISION), spec, data)
    every = {**model_artifacts_of(cfg, names), name: arts}
    t2 = time.perf_counter()
    sim = pair_matrices(every, cfg.knn_k).sel(model=name, model_b=names)
    held = heldout_images(len(test), arts)
    all_logits = np.concatenate([zoo["test_logits"].values.astype(np.float32), sat["test_logits"][None]])[:, held]
    wrong = np.stack([a["corrupted"].values != a["label"].values for a in every.values()])
    targets = pair_targets(all_logits, test.labels[held], wrong, list(every)).sel(model=name, model_b=names)
    clusters = model_clusters(atlas, "sat", cfg.n_clusters, cfg.seed).reindex(names)
    measures = [str(m) for m in atlas["measure"].values]
    similarity = np.stack([sat["two_sided"] if m == "sat" else sim.sel(measure=m).values for m in measures])
    return xr.Dataset(
        data_vars={
            "similarity": (("measure", "model"), similarity,
                           {"long_name": f"each atlas measure of ({name}, zoo model), as the measure is defined"}),
            "pair_target": (("target", "model"), targets.values),
            "sat_one_sided": ("model", sat["one_sided"], {"long_name": f"one-sided SAT: {name}'s examples only"}),
            "n_both": ("model", sat["n_both"]),
            "zoo_accuracy": ("model", atlas["accuracy"].sel(model=names).values),
            "seconds": ("step", np.array([sat["attack_seconds"], t1 - t0, t2 - t1, time.perf_counter() - t2])),
        },
        coords={"measure": atlas["measure"].values, "label": ("measure", atlas["label"].values),
                "group": ("measure", atlas["group"].values), "target": atlas["target"].values, "model": names,
                "family": ("model", atlas["family"].sel(model=names).values),
                "cluster": ("model", clusters.to_numpy()),
                "step": ["attack", "sat both ways", "artifacts", "pairs"]},
        attrs={"placed": name, "accuracy": float((sat["test_logits"][held].argmax(1) == test.labels[held]).mean()),
               "sat_cluster": nearest_cluster(sat["two_sided"], clusters.to_numpy()),
               "atlas_result": atlas.attrs.get("cache_key", ""), "matrix_result": zoo.attrs.get("cache_key", ""),
               "n_clusters": cfg.n_clusters, "precision": PRECISION},
    )
