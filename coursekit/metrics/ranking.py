r"""Ranking metrics at a cutoff :math:`k`, one value per user, vectorized over users.

Inputs shared by every function here:

``topk`` : int array ``(n_users, k')``
    Internal item indices of each user's recommendation list, best first. ``-1`` marks
    padding (no item), as :func:`coursekit.models.ranking.top_k` and
    ``Recommender.recommend_indices`` produce when a user has fewer than ``k`` candidates.
    A list may be shorter than ``k`` (``k' < k``, e.g. a catalogue smaller than ``k``):
    missing positions count as padding. An item may appear at most once per row.
``relevant`` : ``scipy.sparse`` matrix ``(n_users, n_items)``
    Its nonzeros are the relevant items :math:`R_u` of each user, its values the gains
    (1 for binary relevance). Row ``u`` is the user of row ``u`` of ``topk``.
``k`` : int
    The cutoff. Only the first ``k`` entries of each list are read.

Notation: :math:`\mathrm{rel}_j \in \{0, 1\}` says whether the item at rank :math:`j`
(1-based) is relevant; padding is never relevant. Users with no relevant item
(:math:`|R_u| = 0`) get ``NaN``: no ranking can be judged for them, and averaging a 0 in
would be a silent wrong answer. :func:`coursekit.evaluation.evaluate` leaves them out and
counts them. Use :func:`numpy.nanmean` to average.

Conventions (and how other libraries differ)
--------------------------------------------
* **Precision** divides by the requested ``k`` even when the list is shorter (padded):
  an empty slot is a wasted slot. ranx and trec_eval (``P_k``) do the same.
* **Average precision** is normalised by :math:`\min(k, |R_u|)`, so a perfect list scores 1
  even when a user has more than ``k`` relevant items. trec_eval's ``map_cut_k`` and ranx's
  ``map@k`` divide by :math:`|R_u|` instead; some code divides by the number of hits in the
  top ``k``; Kaggle's ``ml_metrics.apk`` uses :math:`\min(k, |R_u|)` like coursekit.
  All agree when :math:`|R_u| \le k`.
* **NDCG** uses linear gains :math:`g_j = \mathrm{rel}_j` by default (Järvelin & Kekäläinen;
  trec_eval's ``ndcg_cut`` and ranx's ``ndcg``). ``gain="exponential"`` uses
  :math:`2^{\mathrm{rel}_j} - 1` (Burges et al.; ranx's ``ndcg_burges``); the two coincide
  for binary relevance.
* **Reciprocal rank** is cut at ``k`` (0 if no hit in the top ``k``); trec_eval's
  ``recip_rank`` has no cutoff.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from coursekit._validation import check_choice
from coursekit.metrics._checks import PAD, as_relevant, as_topk, check_rows, cut

__all__ = [
    "gains_at_k", "precision_at_k", "recall_at_k", "hit_rate_at_k", "reciprocal_rank_at_k",
    "average_precision_at_k", "ndcg_at_k",
]


def _prepare(topk: ArrayLike, relevant: sp.spmatrix | np.ndarray, k: int) -> tuple[np.ndarray, sp.csr_matrix, int]:
    rel = as_relevant(relevant)
    top = as_topk(topk, rel.shape[1])
    check_rows(top, rel)
    top, k = cut(top, k)
    return top, rel, k


def _lookup(top: np.ndarray, rel: sp.csr_matrix) -> np.ndarray:
    r"""Gain of each listed item, ``(n_users, k)``; 0 for padding and non-relevant items.

    One sorted search over the keys ``u * n_items + i`` of the CSR nonzeros (row-major,
    hence sorted), so the cost is :math:`O(n k \log \mathrm{nnz})` with no loop over users.
    """
    n, k = top.shape
    out = np.zeros((n, k), dtype=np.float64)
    if rel.nnz == 0 or top.size == 0:
        return out
    n_items = rel.shape[1]
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(rel.indptr))
    keys = rows * n_items + rel.indices.astype(np.int64)
    query = np.arange(n, dtype=np.int64)[:, None] * n_items + top
    pos = np.searchsorted(keys, query)
    pos_c = np.minimum(pos, keys.size - 1)
    found = (keys[pos_c] == query) & (top != PAD)
    out[found] = rel.data[pos_c[found]]
    return out


def _n_relevant(rel: sp.csr_matrix) -> np.ndarray:
    return np.diff(rel.indptr).astype(np.float64)


def _nan_where_empty(values: np.ndarray, n_rel: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    values[n_rel == 0] = np.nan
    return values


def gains_at_k(topk: ArrayLike, relevant: sp.spmatrix | np.ndarray, k: int) -> np.ndarray:
    r"""The gain of the item at each of the first ``k`` ranks, shape ``(n_users, k)``.

    :math:`G_{uj} = \mathrm{relevant}[u, \mathrm{topk}[u, j]]`, 0 for padding. With binary
    relevance this is the hit matrix :math:`\mathrm{rel}_{uj}` every metric here builds on.

    >>> import scipy.sparse as sp
    >>> rel = sp.csr_matrix(np.array([[0, 1, 0, 1]]))
    >>> gains_at_k(np.array([[1, 2, -1]]), rel, 3).tolist()
    [[1.0, 0.0, 0.0]]
    """
    top, rel, k = _prepare(topk, relevant, k)
    return _lookup(top, rel)


def _hits(topk: ArrayLike, relevant: sp.spmatrix | np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, int]:
    top, rel, k = _prepare(topk, relevant, k)
    return (_lookup(top, rel) > 0).astype(np.float64), _n_relevant(rel), k


def precision_at_k(topk: ArrayLike, relevant: sp.spmatrix | np.ndarray, k: int) -> np.ndarray:
    r"""Precision at ``k``: the share of the ``k`` slots that hold a relevant item.

    .. math:: P@k(u) = \frac{|\mathrm{top}_k(u) \cap R_u|}{k}

    ``k`` is the requested cutoff even when the list is shorter (padded): an empty slot counts
    as a miss. Hence a perfect list scores 1 only when :math:`|R_u| \ge k`.

    Returns
    -------
    ndarray of shape (n_users,)
        ``NaN`` for users without relevant items.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> rel = sp.csr_matrix(np.array([[1, 0, 1, 0, 0]]))   # R = {0, 2}
    >>> precision_at_k(np.array([[2, 1, 0]]), rel, 3)       # hits at ranks 1 and 3: 2/3
    array([0.66666667])
    """
    hits, n_rel, k = _hits(topk, relevant, k)
    return _nan_where_empty(hits.sum(axis=1) / k, n_rel)


def recall_at_k(topk: ArrayLike, relevant: sp.spmatrix | np.ndarray, k: int) -> np.ndarray:
    r"""Recall at ``k``: the share of the user's relevant items found in the top ``k``.

    .. math:: R@k(u) = \frac{|\mathrm{top}_k(u) \cap R_u|}{|R_u|}

    A perfect list scores 1 only when :math:`|R_u| \le k`. (Some papers divide by
    :math:`\min(k, |R_u|)` instead, a "normalised recall"; coursekit does not.)

    >>> import scipy.sparse as sp
    >>> rel = sp.csr_matrix(np.array([[1, 0, 1, 0, 1]]))   # R = {0, 2, 4}
    >>> recall_at_k(np.array([[2, 1, 0]]), rel, 2)          # top-2 = {2, 1}: 1 of 3
    array([0.33333333])
    """
    hits, n_rel, _ = _hits(topk, relevant, k)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _nan_where_empty(hits.sum(axis=1) / n_rel, n_rel)


def hit_rate_at_k(topk: ArrayLike, relevant: sp.spmatrix | np.ndarray, k: int) -> np.ndarray:
    r"""Hit rate at ``k``: 1 if any relevant item is in the top ``k``, else 0.

    .. math:: HR@k(u) = \mathbb{1}\left[\,|\mathrm{top}_k(u) \cap R_u| > 0\,\right]

    (trec_eval calls it ``success_k``.)

    >>> import scipy.sparse as sp
    >>> rel = sp.csr_matrix(np.array([[0, 0, 1], [1, 0, 0]]))
    >>> hit_rate_at_k(np.array([[2, 1], [1, 2]]), rel, 2)
    array([1., 0.])
    """
    hits, n_rel, _ = _hits(topk, relevant, k)
    return _nan_where_empty(hits.any(axis=1).astype(np.float64), n_rel)


def reciprocal_rank_at_k(topk: ArrayLike, relevant: sp.spmatrix | np.ndarray, k: int) -> np.ndarray:
    r"""Reciprocal rank at ``k``: one over the rank of the first relevant item, 0 if none in the top ``k``.

    .. math:: RR@k(u) = \max_{j \le k} \frac{\mathrm{rel}_j}{j}

    Its mean over users is MRR@k.

    >>> import scipy.sparse as sp
    >>> rel = sp.csr_matrix(np.array([[0, 0, 1, 1]]))
    >>> reciprocal_rank_at_k(np.array([[0, 3, 2]]), rel, 3)   # first hit at rank 2
    array([0.5])
    """
    hits, n_rel, k = _hits(topk, relevant, k)
    return _nan_where_empty((hits / np.arange(1, k + 1)).max(axis=1, initial=0.0), n_rel)


def average_precision_at_k(topk: ArrayLike, relevant: sp.spmatrix | np.ndarray, k: int) -> np.ndarray:
    r"""Average precision at ``k``, normalised by :math:`\min(k, |R_u|)`.

    .. math::

        AP@k(u) = \frac{1}{\min(k, |R_u|)} \sum_{j=1}^{k} P@j(u)\,\mathrm{rel}_j

    the mean of the precisions at the ranks of the hits, counting the relevant items that
    could have fit in the list but were missed as precision 0. MAP@k is its mean over users.
    Any nonzero of ``relevant`` counts as relevant (gains are ignored).

    How other libraries normalise (they agree with this one when :math:`|R_u| \le k`):

    * trec_eval ``map_cut_k`` (pytrec_eval) and ranx ``map@k`` divide by :math:`|R_u|`, so a
      perfect list scores :math:`k / |R_u| < 1` for a user with more than ``k`` relevant items;
      ranx's value equals ``AP@k * min(k, |R_u|) / |R_u|``.
    * Some code divides by the number of hits in the top ``k`` (a perfect score from a single
      hit at rank 1, whatever else was missed).
    * Kaggle's ``ml_metrics.apk`` divides by :math:`\min(k, |R_u|)`, as here.

    A common mistake is to "average predicted scores times labels": that is not AP.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> rel = sp.csr_matrix(np.array([[1, 0, 1, 0, 1]]))   # R = {0, 2, 4}
    >>> # hits at ranks 1 and 3: (1/1 + 2/3) / min(3, 3) = 0.5556
    >>> average_precision_at_k(np.array([[0, 1, 2]]), rel, 3).round(4)
    array([0.5556])
    """
    hits, n_rel, k = _hits(topk, relevant, k)
    prec_at_j = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ap = (prec_at_j * hits).sum(axis=1) / np.minimum(k, n_rel)
    return _nan_where_empty(ap, n_rel)


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))


def _ideal_dcg(rel: sp.csr_matrix, k: int, gain_fn) -> np.ndarray:
    """DCG of each user's relevant gains sorted descending, truncated at ``k`` (vectorized)."""
    n = rel.shape[0]
    counts = np.diff(rel.indptr)
    rows = np.repeat(np.arange(n), counts)
    order = np.lexsort((-rel.data, rows))  # by row, then gain descending
    pos = np.arange(rel.nnz) - rel.indptr[rows]  # 0-based rank within the row after sorting
    keep = pos < k
    g = gain_fn(rel.data[order][keep])
    return np.bincount(rows[keep], weights=g * _discounts(k)[pos[keep]], minlength=n)


def ndcg_at_k(topk: ArrayLike, relevant: sp.spmatrix | np.ndarray, k: int, graded: bool = False,
              gain: Literal["linear", "exponential"] = "linear") -> np.ndarray:
    r"""Normalised discounted cumulative gain at ``k``.

    .. math::

        DCG@k(u) = \sum_{j=1}^{k} \frac{g_j}{\log_2(j + 1)}, \qquad
        NDCG@k(u) = \frac{DCG@k(u)}{IDCG@k(u)}

    where :math:`IDCG@k(u)` is the DCG of the ideal list: the user's relevant gains sorted
    descending, truncated at ``k``.

    Gains :math:`g_j` of the item at rank :math:`j`:

    * ``graded=False`` (default): binary, :math:`g_j = \mathrm{rel}_j \in \{0, 1\}`, so
      :math:`IDCG@k = \sum_{j=1}^{\min(k, |R_u|)} 1/\log_2(j+1)`;
    * ``graded=True, gain="linear"``: :math:`g_j = r_j`, the value stored in ``relevant``
      (e.g. a rating), as trec_eval's ``ndcg_cut`` and ranx's ``ndcg``;
    * ``graded=True, gain="exponential"``: :math:`g_j = 2^{r_j} - 1` (Burges et al. 2005,
      ranx's ``ndcg_burges``), which rewards the most relevant items more strongly.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> rel = sp.csr_matrix(np.array([[1, 0, 1, 0]]))    # R = {0, 2}
    >>> # DCG = 0/log2(2) + 1/log2(3) = 0.6309; IDCG = 1 + 0.6309 = 1.6309
    >>> ndcg_at_k(np.array([[1, 2, 3]]), rel, 3).round(4)
    array([0.3869])
    >>> graded = sp.csr_matrix(np.array([[3.0, 0, 1.0, 0]]))
    >>> # DCG = 1/log2(2) + 3/log2(3) = 2.8928; IDCG = 3 + 1/log2(3) = 3.6309
    >>> ndcg_at_k(np.array([[2, 0]]), graded, 2, graded=True).round(4)
    array([0.7967])
    """
    check_choice(gain, "gain", ["linear", "exponential"])
    top, rel, k = _prepare(topk, relevant, k)
    if not graded:
        rel = rel.copy()
        rel.data[:] = 1.0
    gain_fn = (lambda r: r) if gain == "linear" else (lambda r: np.exp2(r) - 1.0)
    g = _lookup(top, rel)
    g = np.where(g > 0, gain_fn(g), 0.0)
    dcg = g @ _discounts(k)
    idcg = _ideal_dcg(rel, k, gain_fn)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _nan_where_empty(dcg / idcg, _n_relevant(rel))
