r"""Evaluation metrics: pure functions on arrays that know nothing of models.

Ranking metrics take ``topk`` (int array ``(n_users, k)`` of item indices, best first, ``-1`` =
padding) and ``relevant`` (sparse ``(n_users, n_items)``, nonzeros = relevant items, values =
gains) and return one value per user, ``NaN`` for users without relevant items; averaging,
and over which users, is left to the caller (:func:`coursekit.evaluation.evaluate`).

Modules: :mod:`~coursekit.metrics.ranking` (precision, recall, NDCG, AP, RR, hit rate),
:mod:`~coursekit.metrics.auc`, :mod:`~coursekit.metrics.rating` (RMSE, MAE),
:mod:`~coursekit.metrics.beyond` (coverage, Gini, novelty, intra-list diversity,
personalization).

>>> import numpy as np, scipy.sparse as sp
>>> rel = sp.csr_matrix(np.array([[1, 0, 1, 0], [0, 0, 0, 0]]))
>>> precision_at_k(np.array([[0, 1], [2, 3]]), rel, k=2)
array([0.5, nan])
"""
from coursekit.metrics.auc import auc
from coursekit.metrics.beyond import catalog_coverage, gini_index, intra_list_diversity, novelty, personalization
from coursekit.metrics.ranking import (
    average_precision_at_k,
    gains_at_k,
    hit_rate_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    reciprocal_rank_at_k,
)
from coursekit.metrics.rating import mae, rmse

__all__ = [
    "precision_at_k", "recall_at_k", "ndcg_at_k", "average_precision_at_k", "reciprocal_rank_at_k",
    "hit_rate_at_k", "gains_at_k", "auc", "rmse", "mae", "catalog_coverage", "gini_index", "novelty",
    "intra_list_diversity", "personalization",
]
