"""What several chapters do to a zoo, with one home per idea: the images (``images``), the per-model jobs that
train, attack and evaluate (``jobs``), and the scoring of ensembles of stored models (``ensembles``, imported
from its module)."""
from sat_lib.zoo.images import (check_zoo_and_dataset, corrupted_path, corrupted_set, image_sample, one_per_class,
                                stored_corrupted_set, subset_positions, training_split)
from sat_lib.zoo.jobs import (SOURCE_ATTACKS, SourceAttack, ZooAttack, as_tensors, attack_and_evaluate,
                              attack_correct, attack_sample, attacked_jobs, autoattack_lite, cross_evaluate,
                              eval_job, job_spec, load_adversarial, model_job, norm_start,
                              sat_with_new, train_or_load, variant_spec, zoo_specs)

__all__ = ["SOURCE_ATTACKS", "SourceAttack", "ZooAttack", "as_tensors", "attack_and_evaluate", "attack_correct",
           "attack_sample", "attacked_jobs", "autoattack_lite", "check_zoo_and_dataset", "corrupted_path",
           "corrupted_set", "cross_evaluate", "eval_job", "image_sample", "job_spec", "load_adversarial",
           "model_job", "norm_start", "one_per_class", "sat_with_new", "stored_corrupted_set",
           "subset_positions", "train_or_load", "training_split", "variant_spec", "zoo_specs"]
