"""Analyses of the salience chapter, all from stored population results (``{unit name: Dataset}``); CPU only.

Every function returns an xarray object or a DataFrame; the figures in ``sat_lib.plots.salience`` draw them. The
modules: ``core`` (the measures), ``claims`` (the Checks, the claims table and its intervals), ``report`` (setting, cost,
discussion); every public name is importable from this package.
"""
from sat_lib.analysis.salience.claims import (accuracy_gate, checks, claims_table, pair_similarity_per_image,
                                              resolutions, t_per_image, verdicts)
from sat_lib.analysis.salience.core import (PAPER_FAMILIES, PAPER_GROUP, Populations, accuracy_table, batch_effect,
                                            cross_family, datasets, diagonal_trend_table, dimension, fit_saw, label,
                                            loss_t_correlation, loss_vs_t, main_populations, mean_direction,
                                            mean_direction_similarity, model_table, models_per_minute, params,
                                            saw_linearity, seed_splits, split_cosine_per_image, t_marginals,
                                            t_samples, transfer_curves, transfer_matrix, trend, uniform_logpdf,
                                            uniform_tail, wasserstein_pairs, wasserstein_table, width_similarity)
from sat_lib.analysis.salience.report import cost_text, constant_share, discussion, setting_markdown

__all__ = ["PAPER_FAMILIES", "PAPER_GROUP", "Populations", "accuracy_gate", "accuracy_table", "batch_effect", "checks",
           "claims_table",
           "cost_text", "constant_share", "cross_family", "datasets", "diagonal_trend_table", "dimension",
           "discussion", "fit_saw", "label", "loss_t_correlation", "loss_vs_t", "main_populations", "mean_direction",
           "mean_direction_similarity", "model_table", "models_per_minute", "pair_similarity_per_image", "params",
           "resolutions", "saw_linearity", "seed_splits", "setting_markdown", "split_cosine_per_image",
           "t_marginals", "t_per_image", "t_samples", "transfer_curves", "transfer_matrix", "trend",
           "uniform_logpdf", "uniform_tail", "verdicts", "wasserstein_pairs", "wasserstein_table",
           "width_similarity"]
