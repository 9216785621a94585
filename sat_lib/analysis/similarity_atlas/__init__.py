"""Analyses of the similarity atlas (beyond the four papers): the pairs and how the measures agree (``core``), what
each measure predicts held out by models (``prediction``), the project's hypotheses (``claims``), costs and a placed
model's position (``report``)."""
from sat_lib.analysis.similarity_atlas.claims import checks, claims_table, same_models_gate
from sat_lib.analysis.similarity_atlas.core import (cluster_agreement, embedding, measure_agreement, measure_clusters,
                                                    measures_of, model_clusters, oriented, pair_frame, pair_spearman,
                                                    similarity)
from sat_lib.analysis.similarity_atlas.prediction import (group_difference, heldout_frame, measure_estimate,
                                                          model_folds, prediction_table)
from sat_lib.analysis.similarity_atlas.report import (cluster_table, cost_table, costs_text, measure_table,
                                                      own_minutes, placement_table, prediction_display)

__all__ = ["checks", "claims_table", "same_models_gate", "cluster_agreement", "cluster_table", "cost_table", "costs_text", "embedding", "group_difference",
           "heldout_frame", "measure_agreement", "measure_clusters", "measure_estimate", "measure_table", "measures_of",
           "model_clusters", "model_folds", "oriented", "own_minutes", "pair_frame", "pair_spearman", "placement_table",
           "prediction_display", "prediction_table", "similarity"]
