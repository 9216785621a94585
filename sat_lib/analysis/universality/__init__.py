"""Analyses of the universality chapter (robustness-and-universality paper, CIFAR-10 part).

The unit of every interval is the *architecture*: pairs share architectures, so a bootstrap resample draws
architectures with replacement and keeps the pairs of two different drawn ones (``pair_mean``); a difference
between two ε levels is paired — the same drawn architectures at both levels. On inverted images a pair (A, B) is
scored on A's and on B's inverted images, as the paper does; a pair's value is the mean of the two.

The modules: ``core`` (pair measures, their estimates, Table 4's models), ``claims`` (Checks, claims table),
``report`` (texts, training recipes, cost tables); every public name is importable from this package. The
analysis reads the chapter's parameters from the stored result (``report.Setup``), never the chapter's config.
"""
from sat_lib.analysis.universality.claims import (ATTACK_CLAIMS, CONFIDENCE_CLAIMS, REGULAR_CLAIMS, accuracy_gate,
                                                 checks, claims_table, confidence_gate, estimates, fort_gate, inversion_gate,
                                                 pair_spread, params, spread_change, standard_adversarial_accuracy,
                                                 with_table4_value)
from sat_lib.analysis.universality.core import (INVERTED, LABELS, REGULAR, UNIT, accuracy_by_eps, accuracy_estimate,
                                               at_effect, chance_jaccard, difference_estimate, fort_bounds,
                                               inverted_images, mean_estimate, members, model_table, ood_difference, pair_estimates,
                                               pair_matrix, pair_mean, pair_values, pairs_long, paper_accuracy,
                                               paper_table4, robustness_change, summary)
from sat_lib.analysis.universality.report import (Setup, adversarial_gap_text, cost_table,
                                                 throughput_table, discussion, inversion_text, recipe_text,
                                                 subset_accuracy, subset_text, training_recipes)

__all__ = ["INVERTED", "LABELS", "REGULAR", "UNIT", "Setup", "accuracy_by_eps", "accuracy_estimate",
           "adversarial_gap_text", "at_effect", "chance_jaccard", "checks", "claims_table", "estimates", "pair_spread",
           "spread_change", "ATTACK_CLAIMS", "CONFIDENCE_CLAIMS", "REGULAR_CLAIMS", "accuracy_gate", "confidence_gate",
           "fort_gate",
           "inversion_gate", "cost_table", "throughput_table",
           "difference_estimate", "discussion", "fort_bounds", "inversion_text", "inverted_images", "mean_estimate",
           "members", "model_table", "ood_difference", "pair_estimates", "pair_matrix", "pair_mean", "pair_values",
           "pairs_long", "paper_accuracy", "paper_table4", "params", "recipe_text", "robustness_change",
           "standard_adversarial_accuracy", "subset_accuracy", "subset_text", "summary", "training_recipes",
           "with_table4_value"]
