r"""Per-user AUC: how often a relevant item is scored above a non-relevant one.

Unlike the metrics at ``k``, AUC looks at the whole ranking: it is the probability that a
randomly drawn relevant item outranks a randomly drawn non-relevant item,

.. math::

    AUC(u) = \frac{1}{|R_u|\,|N_u|} \sum_{i \in R_u} \sum_{j \in N_u}
             \left( \mathbb{1}[s_{ui} > s_{uj}] + \tfrac12 \mathbb{1}[s_{ui} = s_{uj}] \right)

where :math:`N_u` are the candidate items that are not relevant. It is computed without the
double sum, from ranks (Mann-Whitney U): with :math:`\rho_i` the average (tie-aware) rank of
item :math:`i` among the candidates, ascending by score,

.. math:: AUC(u) = \frac{\sum_{i \in R_u} \rho_i - |R_u|(|R_u|+1)/2}{|R_u|\,|N_u|}.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike
from scipy.stats import rankdata

from coursekit._validation import CourseKitError, check_positive_int
from coursekit.metrics._checks import as_relevant

__all__ = ["auc"]


def auc(scores: ArrayLike, relevant: sp.spmatrix | np.ndarray, exclude: sp.spmatrix | np.ndarray | None = None,
        batch_size: int = 2048) -> np.ndarray:
    r"""Per-user AUC of a score matrix against sparse relevance (formula in the module docstring).

    Parameters
    ----------
    scores : array (n_users, n_items)
        Higher means ranked higher. Must be free of NaN.
    relevant : sparse (n_users, n_items)
        Nonzeros are the relevant items (values are ignored).
    exclude : sparse (n_users, n_items), optional
        Items that are not candidates, typically each user's training items. They are removed
        from both the relevant and the non-relevant set.
    batch_size : int
        Users ranked at a time (memory: ``batch_size * n_items`` floats).

    Returns
    -------
    ndarray (n_users,)
        ``NaN`` for users with no relevant or no non-relevant candidate.

    Examples
    --------
    >>> rel = sp.csr_matrix(np.array([[1, 0, 0, 1]]))
    >>> # pairs (relevant, non-relevant): (0,1) win, (0,2) tie, (3,1) loss, (3,2) loss -> 1.5/4
    >>> auc(np.array([[0.5, 0.1, 0.5, 0.0]]), rel, exclude=None)
    array([0.375])
    """
    batch_size = check_positive_int(batch_size, "batch_size")
    s = np.asarray(scores, dtype=np.float64)
    rel = as_relevant(relevant)
    if s.ndim != 2 or s.shape != rel.shape:
        raise CourseKitError(f"scores has shape {s.shape} but relevant has {rel.shape}; they must match.")
    if np.isnan(s).any():
        raise CourseKitError("scores contain NaN; AUC needs a full ordering of the items.")
    rel = rel.astype(bool).astype(np.float64)
    excl = None
    if exclude is not None:
        excl = as_relevant(exclude, name="exclude")
        if excl.shape != rel.shape:
            raise CourseKitError(f"exclude has shape {excl.shape} but relevant has {rel.shape}; they must match.")
        excl = excl.astype(bool)
        rel = (rel - rel.multiply(excl)).tocsr()
        rel.eliminate_zeros()
    n_users, n_items = s.shape
    out = np.full(n_users, np.nan)
    n_excl = np.zeros(n_users) if excl is None else np.diff(excl.indptr).astype(np.float64)
    n_pos = np.diff(rel.indptr).astype(np.float64)
    n_neg = n_items - n_excl - n_pos
    for start in range(0, n_users, batch_size):
        stop = min(start + batch_size, n_users)
        block = s[start:stop].copy()
        if excl is not None:
            r, c = excl[start:stop].nonzero()
            block[r, c] = np.nan  # not a candidate: left out of the ranking
        ranks = rankdata(block, axis=1, nan_policy="omit")
        pos_rank_sum = np.asarray(rel[start:stop].multiply(np.nan_to_num(ranks)).sum(axis=1)).ravel()
        p, q = n_pos[start:stop], n_neg[start:stop]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start:stop] = (pos_rank_sum - p * (p + 1) / 2) / (p * q)
    out[(n_pos == 0) | (n_neg == 0)] = np.nan
    return out
