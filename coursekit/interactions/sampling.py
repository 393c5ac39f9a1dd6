r"""Negative sampling: items a user has no event with, drawn uniformly.

Sampled evaluation (:func:`coursekit.evaluation.evaluate_sampled`), pairwise training and
text fine-tuning all need "an item this user did not interact with". Drawing by rejection is
vectorised over all pairs at once; the rare pairs still unlucky after 100 rounds (users who
know nearly every item) are drawn exactly from their free items.

>>> import numpy as np, scipy.sparse as sp
>>> known = sp.csr_matrix(np.array([[1, 1, 0, 0], [0, 0, 0, 1]]))
>>> neg = sample_negatives(np.array([0, 1]), known, 2, np.random.default_rng(0))
>>> sorted(neg[0].tolist())
[2, 3]
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from coursekit._validation import CourseKitError


def _member(keys_sorted: np.ndarray, query: np.ndarray) -> np.ndarray:
    if keys_sorted.size == 0:
        return np.zeros(query.shape, bool)
    pos = np.minimum(np.searchsorted(keys_sorted, query), keys_sorted.size - 1)
    return keys_sorted[pos] == query


def _row_duplicates(a: np.ndarray) -> np.ndarray:
    """Mask of entries equal to an earlier-sorted entry of the same row (all but one copy)."""
    order = np.argsort(a, axis=1, kind="stable")
    s = np.take_along_axis(a, order, axis=1)
    dup_sorted = np.zeros_like(a, dtype=bool)
    dup_sorted[:, 1:] = s[:, 1:] == s[:, :-1]
    dup = np.zeros_like(dup_sorted)
    np.put_along_axis(dup, order, dup_sorted, axis=1)
    return dup


def sample_negatives(pair_users: np.ndarray, known: sp.csr_matrix, n_neg: int,
                     rng: np.random.Generator) -> np.ndarray:
    """For each pair, ``n_neg`` distinct items its user has no event with in ``known``.

    Parameters
    ----------
    pair_users : int array (n_pairs,)
        Internal user index of each pair.
    known : CSR (n_users, n_items)
        Non-zeros are the items never drawn for that user (e.g. train plus test events).
    n_neg : int
        Negatives per pair; every user must have at least ``n_neg`` free items.
    rng : numpy Generator

    Returns
    -------
    int array (n_pairs, n_neg)
        Internal item indices.
    """
    known = sp.csr_matrix(known)
    n_items = known.shape[1]
    pair_users = np.asarray(pair_users, dtype=np.int64)
    free = n_items - np.diff(known.indptr)[pair_users] if pair_users.size else np.zeros(0)
    if pair_users.size and free.min() < n_neg:
        raise CourseKitError(f"n_neg={n_neg} negatives per pair, but a user has only {int(free.min())} items "
                             "without an event; use a smaller n_neg.")
    known.sort_indices()
    rows = np.repeat(np.arange(known.shape[0], dtype=np.int64), np.diff(known.indptr))
    keys = rows * n_items + known.indices.astype(np.int64)
    neg = rng.integers(0, n_items, size=(len(pair_users), n_neg))
    todo = np.arange(len(pair_users))  # rows that may still hold a known item or a duplicate
    for _ in range(100):  # rejection rounds, vectorised over the rows still to fix
        sub = neg[todo]
        bad = _member(keys, pair_users[todo, None] * n_items + sub) | _row_duplicates(sub)
        rows_bad = bad.any(axis=1)
        if not rows_bad.any():
            return neg
        todo, sub, bad = todo[rows_bad], sub[rows_bad], bad[rows_bad]
        sub[bad] = rng.integers(0, n_items, size=int(bad.sum()))
        neg[todo] = sub
    for r in todo:  # rare fallback, bounded by the rows that failed 100 rounds
        u = pair_users[r]
        free_items = np.setdiff1d(np.arange(n_items), known.indices[known.indptr[u]:known.indptr[u + 1]])
        neg[r] = rng.choice(free_items, n_neg, replace=False)
    return neg
