"""Analyses of the diversity-training chapter (design-diversity paper, Sec. 4.3 and the Littlewood–Miller model).

**Which ensembles.** One per training heuristic and seed (the ``method`` and ``seed`` coordinates) plus the
heterogeneous ensemble of stored zoo models. An ensemble is scored under its own consensus rule (``own_rule``:
the rule its training used, averaging for the others), as the paper's Fig. 10 scores each heuristic.

**What an interval covers.** Accuracy and equitability differences resample the *seeds* of each method (its
independently trained ensembles) and the *test images* together — one image draw shared by both sides of a
difference (paired) — so an interval covers both training noise and the finite test set
(``sat_lib.stats.seeds_images``). Several quantities of the same ensembles (equitability and correctness) are drawn together and count once. The
heterogeneous ensemble is one ensemble: only its images are resampled. CKA maps have no image axis: seeds only.
The Littlewood–Miller statistics hold the models fixed and resample images (``lm_estimates``, ``lm_deviation``),
since a difficulty function θ(x) is a function of the input.

The modules: ``selection`` (which ensembles, their correctness), ``accuracy`` (Fig. 10, cost), ``diversity``
(Table 2, Figs. 11, 12), ``littlewood_miller`` (the LM quantities and their intervals), ``checks`` (members above
chance, diversity losses that diversified: the gates of the claims), ``lambda_search`` (GNCL's λ searched: the
section ``diversity-lambda``), ``claims`` (the claims table and
discussion). Every public name is importable from this package.
"""
from sat_lib.analysis.diversity_training.accuracy import (accuracy_frame, accuracy_table, cost_minutes, cost_text,
                                                          difference, resilience_ratio, resilience_table,
                                                          training_table, versus_table)
from sat_lib.analysis.diversity_training.checks import (checks, collapse_bar, diversity_change,
                                                        diversity_change_table, member_accuracy, members_table)
from sat_lib.analysis.diversity_training.claims import claim_estimates, claims_table, discussion, \
    intervention_text, lm_discussion, table2_note
from sat_lib.analysis.diversity_training.diversity import (attribution_diversity, attribution_table, cka_means,
                                                           cka_table, equitability, equitability_table,
                                                           seed_difference, split_mean)
from sat_lib.analysis.diversity_training import lambda_search
from sat_lib.analysis.diversity_training.littlewood_miller import (BCA_KEYS, blocks_of, coincidence_frame,
                                                                   difficulty_frame, lm_deviation, lm_estimates,
                                                                   lm_point, lm_table, method_failures,
                                                                   methodologies, one_blas_thread, zoo_failures)
from sat_lib.analysis.diversity_training.selection import (CHAPTER, CLEAN, HETEROGENEOUS, corrupted_sets,
                                                           ensemble_correct, ensemble_of, member_correct, methods,
                                                           nan_mean, own_rule, params, role_method)
from sat_lib.measures.theory import LMStats
from sat_lib.stats import SEEDS_IMAGES, bca_interval, seeds_images

__all__ = ["lambda_search", "accuracy_table", "accuracy_frame", "versus_table", "training_table", "equitability_table",
           "attribution_table", "cka_table", "lm_table", "coincidence_frame", "difficulty_frame", "claims_table",
           "claim_estimates", "seeds_images", "difference", "LMStats", "lm_estimates", "own_rule", "methods",
           "discussion", "lm_discussion", "lm_deviation", "bca_interval", "resilience_table", "cost_minutes",
           "cost_text", "CHAPTER", "CLEAN", "HETEROGENEOUS", "SEEDS_IMAGES", "BCA_KEYS", "attribution_diversity",
           "blocks_of", "cka_means", "corrupted_sets", "ensemble_correct", "ensemble_of", "equitability",
           "lm_point", "member_correct", "method_failures", "methodologies", "nan_mean", "one_blas_thread", "params",
           "resilience_ratio", "role_method", "seed_difference", "split_mean", "zoo_failures", "checks",
           "collapse_bar", "diversity_change", "diversity_change_table", "member_accuracy", "members_table",
           "intervention_text", "table2_note"]
