r"""Beyond-accuracy metrics: what the recommendation lists look like as a whole.

All take ``topk``, the int array ``(n_users, k)`` of recommended item indices (``-1`` =
padding, ignored everywhere). Accuracy asks "did we hit the test items?"; these ask how much
of the catalogue is used (coverage), how unequally (Gini), how obscure the items are
(novelty), how varied each list is (intra-list diversity) and how different the users'
lists are from each other (personalization).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from coursekit._validation import CourseKitError, check_positive_int
from coursekit.metrics._checks import PAD, as_topk

__all__ = ["catalog_coverage", "gini_index", "novelty", "intra_list_diversity", "personalization"]


def _counts(topk: np.ndarray, n_items: int) -> np.ndarray:
    items = topk[topk != PAD]
    return np.bincount(items, minlength=n_items).astype(np.float64)


def catalog_coverage(topk: ArrayLike, n_items: int) -> float:
    r"""Share of the catalogue that appears in at least one list.

    .. math:: \mathrm{Coverage} = \frac{|\bigcup_u \mathrm{top}_k(u)|}{|I|}

    >>> catalog_coverage(np.array([[0, 1], [1, -1]]), n_items=4)   # {0, 1} of 4 items
    0.5
    """
    n_items = check_positive_int(n_items, "n_items")
    top = as_topk(topk, n_items, check_duplicates=False)
    return float((_counts(top, n_items) > 0).sum() / n_items)


def gini_index(topk: ArrayLike, n_items: int) -> float:
    r"""Gini index of how often each item is recommended (0 = all equally, 1 = one item only).

    With :math:`c_{(1)} \le \dots \le c_{(n)}` the recommendation counts of all :math:`n` items
    (never-recommended items count 0) sorted ascending and :math:`p_{(j)} = c_{(j)} / \sum c`,

    .. math:: G = \frac{1}{n - 1} \sum_{j=1}^{n} (2j - n - 1)\, p_{(j)}

    (Shani & Gunawardana 2011). The :math:`1/(n-1)` normalisation makes "every slot holds the
    same item" score exactly 1; the textbook Gini of a population uses :math:`1/n` and tops out at
    :math:`(n-1)/n`. ``NaN`` when there is no recommendation at all; 0 for a single-item catalogue.

    >>> gini_index(np.array([[0], [0]]), n_items=3)        # counts (0, 0, 2): (-2*0 + 0*0 + 2*1) / 2
    1.0
    >>> gini_index(np.array([[0, 1, 2]]), n_items=3)       # equal counts
    0.0
    """
    n_items = check_positive_int(n_items, "n_items")
    top = as_topk(topk, n_items, check_duplicates=False)
    c = np.sort(_counts(top, n_items))
    if c.sum() == 0:
        return float("nan")
    if n_items == 1:
        return 0.0
    j = np.arange(1, n_items + 1)
    return float(((2 * j - n_items - 1) * c).sum() / (c.sum() * (n_items - 1)))


def novelty(topk: ArrayLike, item_popularity: ArrayLike, n_users: int,
            per_user: bool = False) -> float | np.ndarray:
    r"""Mean self-information of the recommended items (higher = more obscure items).

    .. math::

        \mathrm{novelty}(u) = \frac{1}{|L_u|} \sum_{i \in L_u} -\log_2 \frac{\mathrm{pop}_i}{N},
        \qquad \mathrm{Novelty} = \frac{1}{|U'|} \sum_{u \in U'} \mathrm{novelty}(u)

    where :math:`\mathrm{pop}_i` is the number of (training) users who interacted with item
    :math:`i`, :math:`N` = ``n_users`` the number of those users, :math:`L_u` the non-padding
    items of the list and :math:`U'` the users with a non-empty list. An item everybody knows
    has novelty 0. Items with :math:`\mathrm{pop}_i = 0` (never seen in training, e.g. cold
    items) are counted as if seen once, :math:`\log_2 N`, the largest finite value, rather
    than :math:`+\infty`.

    Parameters
    ----------
    item_popularity : array (n_items,)
        Number of users per item, each in ``[0, n_users]``.
    per_user : bool
        Return the per-user values (``NaN`` for empty lists) instead of their mean.

    >>> pop = np.array([4, 2, 1, 0])                  # N = 4 users
    >>> novelty(np.array([[0, 1], [2, 3]]), pop, 4, per_user=True)   # [(0+1)/2, (2+2)/2]
    array([0.5, 2. ])
    >>> novelty(np.array([[0, 1], [2, 3]]), pop, 4)
    1.25
    """
    n_users = check_positive_int(n_users, "n_users")
    pop = np.asarray(item_popularity, dtype=np.float64)
    if pop.ndim != 1:
        raise CourseKitError(f"item_popularity must be 1-D (one count per item), got shape {pop.shape}.")
    if (pop < 0).any() or (pop > n_users).any() or not np.isfinite(pop).all():
        raise CourseKitError(
            f"item_popularity must count users per item, within [0, n_users={n_users}]; got values in "
            f"[{pop.min()}, {pop.max()}]. Use train.matrix().getnnz(axis=0) and the number of training users."
        )
    top = as_topk(topk, len(pop), check_duplicates=False)
    info = -np.log2(np.maximum(pop, 1.0) / n_users)
    valid = top != PAD
    per = np.where(valid, info[np.maximum(top, 0)], 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per = per / valid.sum(axis=1)
    if per_user:
        return per
    return float(np.nanmean(per)) if np.isfinite(per).any() else float("nan")


def intra_list_diversity(topk: ArrayLike, item_vectors: ArrayLike) -> np.ndarray:
    r"""Per user: the mean pairwise cosine distance between the items of the list.

    .. math::

        \mathrm{ILD}(u) = \frac{1}{m(m-1)} \sum_{i \in L_u} \sum_{j \in L_u, j \ne i}
        \left(1 - \frac{v_i^\top v_j}{\lVert v_i\rVert\,\lVert v_j\rVert}\right)

    with :math:`L_u` the :math:`m` non-padding items and :math:`v_i` the rows of
    ``item_vectors`` (e.g. genre indicators or text embeddings). A zero vector has cosine 0 with
    everything. ``NaN`` for lists with fewer than 2 items.

    >>> vecs = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> # list 0: items 0, 1 orthogonal -> distance 1; list 1: items 0, 2 at 45 deg -> 1 - 0.7071
    >>> intra_list_diversity(np.array([[0, 1], [0, 2]]), vecs).round(4)
    array([1.    , 0.2929])
    """
    v = np.asarray(item_vectors, dtype=np.float64)
    if v.ndim != 2:
        raise CourseKitError(f"item_vectors must be 2-D (n_items, dim), got shape {v.shape}.")
    top = as_topk(topk, v.shape[0])
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    unit = v / np.where(norms == 0, 1.0, norms)
    valid = (top != PAD).astype(np.float64)
    u = unit[np.maximum(top, 0)] * valid[:, :, None]           # (n, k, d), padding rows zeroed
    sim = np.einsum("nkd,nld->nkl", u, u)                      # pairwise cosine
    pair = valid[:, :, None] * valid[:, None, :]
    m = valid.sum(axis=1)
    off_diag_sim = (sim * pair).sum(axis=(1, 2)) - np.einsum("nkk->n", sim * pair)
    with np.errstate(invalid="ignore", divide="ignore"):
        ild = ((m * (m - 1)) - off_diag_sim) / (m * (m - 1))
    ild[m < 2] = np.nan
    return ild


def personalization(topk: ArrayLike, n_items: int) -> float:
    r"""How different the users' lists are: 1 minus the mean pairwise cosine similarity.

    Each list is a binary vector :math:`x_u \in \{0,1\}^{|I|}` over the items; for two lists
    :math:`A, B` the cosine (Ochiai) similarity is :math:`|A \cap B| / \sqrt{|A|\,|B|}`, which is
    the overlap fraction :math:`|A \cap B| / k` when both hold :math:`k` items (not Jaccard's
    :math:`|A\cap B|/|A\cup B|`). Over the :math:`n` users with a non-empty list,

    .. math::

        \mathrm{Personalization} = 1 - \frac{1}{n(n-1)} \sum_{u \ne v}
        \frac{x_u^\top x_v}{\lVert x_u\rVert\,\lVert x_v\rVert}

    0 = everybody gets the same list, 1 = no two lists share an item. Computed in
    :math:`O(nk)` from :math:`\sum_{u \ne v} \hat x_u^\top \hat x_v = \lVert\sum_u \hat x_u\rVert^2 - n`,
    without the :math:`n \times n` similarity matrix. ``NaN`` with fewer than two lists.
    (Same definition as the ``recmetrics`` package.)

    >>> round(personalization(np.array([[0, 1], [0, 1]]), 4), 12)    # identical lists
    0.0
    >>> round(personalization(np.array([[0, 1], [1, 2]]), 4), 12)    # overlap 1 of 2 -> 1 - 0.5
    0.5
    """
    n_items = check_positive_int(n_items, "n_items")
    top = as_topk(topk, n_items)
    valid = top != PAD
    m = valid.sum(axis=1)
    keep = m > 0
    n = int(keep.sum())
    if n < 2:
        return float("nan")
    rows = np.repeat(np.arange(top.shape[0]), valid.sum(axis=1))
    x = sp.csr_matrix((1.0 / np.sqrt(m[rows]), (rows, top[valid])), shape=(top.shape[0], n_items))
    s = np.asarray(x.sum(axis=0)).ravel()
    mean_sim = (s @ s - n) / (n * (n - 1))
    return float(np.clip(1.0 - mean_sim, 0.0, 1.0))
