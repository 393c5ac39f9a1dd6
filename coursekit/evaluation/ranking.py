r"""Ranking under the harness's protocol: top-``k`` lists with training items excluded, metrics per user, tidy rows.

Every table of :mod:`coursekit.evaluation` has the columns ``metric, k, value, users, group``;
``group`` is :data:`WARM` (users with training events) or :data:`COLD` (users without).

>>> import numpy as np, scipy.sparse as sp
>>> seen = sp.csr_matrix(np.array([[1.0, 0.0, 0.0]]))
>>> top_lists(np.array([[0.9, 0.1, 0.5]]), np.array([0]), 2, seen, None).tolist()   # item 0 is seen
[[2, 1]]
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from coursekit.metrics import (
    auc,
    average_precision_at_k,
    hit_rate_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    reciprocal_rank_at_k,
)
from coursekit.models.base import Recommender
from coursekit.models.ranking import top_k

__all__ = ["WARM", "COLD", "DEFAULT_METRICS", "RANKING_METRICS"]

WARM, COLD = "warm users", "cold users"
DEFAULT_METRICS = ("precision", "recall", "ndcg", "map", "mrr", "hit_rate")
#: the ranking metrics by name, each ``f(topk, relevant, k) -> per-user values``
RANKING_METRICS = {
    "precision": precision_at_k, "recall": recall_at_k, "ndcg": ndcg_at_k,
    "map": average_precision_at_k, "mrr": reciprocal_rank_at_k, "hit_rate": hit_rate_at_k,
}
COLUMNS = ["metric", "k", "value", "users", "group"]


def ranking_at(metric: str, top: np.ndarray, rel: sp.csr_matrix, k: int, graded: bool = False) -> np.ndarray:
    """Per-user ``metric`` at cutoff ``k`` from lists clipped to the catalogue (``top.shape[1] <= n_items``).

    A list never holds more than ``n_items`` entries (``recommend`` clips ``k`` the same way), so for
    ``k > n_items`` every metric equals its value at ``n_items`` except precision, which divides by
    the requested ``k``; this gives the exact value at ``k`` without allocating ``k`` columns.
    """
    k_list = min(k, max(top.shape[1], 1))
    vals = ndcg_at_k(top, rel, k_list, graded=True) if graded else RANKING_METRICS[metric](top, rel, k_list)
    return vals * (k_list / k) if metric == "precision" else vals


def top_lists(model_or_scores: Recommender | np.ndarray, users: np.ndarray, kmax: int, seen: sp.csr_matrix,
               batch_size: int | None) -> np.ndarray:
    """Top-``kmax`` item indices (-1 padded, exactly ``kmax`` columns) with training items excluded."""
    n_items = seen.shape[1]
    out = np.full((len(users), kmax), -1, dtype=np.int64)
    if len(users) == 0:
        return out
    if isinstance(model_or_scores, Recommender):
        idx, _ = model_or_scores.recommend_indices(users, kmax, exclude_seen=True, batch_size=batch_size)
        out[:, :idx.shape[1]] = idx
        return out
    batch = batch_size or max(1, int(2e7 // max(n_items, 1)))
    for start in range(0, len(users), batch):
        rows = users[start:start + batch]
        s = np.array(model_or_scores[rows], dtype=np.float64)
        r, c = seen[rows].nonzero()
        s[r, c] = -np.inf
        idx, _ = top_k(s, min(kmax, n_items))
        out[start:start + len(rows), :idx.shape[1]] = idx
    return out


def score_rows(model_or_scores: Recommender | np.ndarray, users: np.ndarray) -> np.ndarray:
    if isinstance(model_or_scores, Recommender):
        return model_or_scores.score_indices(users)
    return np.asarray(model_or_scores[users], dtype=np.float64)


def auc_values(model_or_scores: Recommender | np.ndarray, users: np.ndarray, rel: sp.csr_matrix,
               seen: sp.csr_matrix, batch_size: int | None) -> np.ndarray:
    batch = batch_size or max(1, int(2e7 // max(rel.shape[1], 1)))
    parts = [auc(score_rows(model_or_scores, users[s:s + batch]), rel[users[s:s + batch]],
                 exclude=seen[users[s:s + batch]]) for s in range(0, len(users), batch)]
    return np.concatenate(parts) if parts else np.zeros(0)


def metric_row(metric: str, k: int | None, values: np.ndarray, group: str) -> dict:
    values = np.asarray(values, dtype=np.float64)
    n = int(np.isfinite(values).sum())
    return {"metric": metric, "k": k, "value": float(np.nanmean(values)) if n else np.nan,
            "users": n, "group": group}


def metric_table(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=COLUMNS)
    df["k"] = df["k"].astype("Int64")
    df["users"] = df["users"].astype(np.int64)
    return df
