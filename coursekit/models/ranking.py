r"""Row-wise top-``k`` of score matrices: the one ranking rule every list in the course follows.

* best first; **ties** broken by the lower column (item) index, so results are deterministic;
* a score of ``-inf`` (an excluded item) is never chosen over a finite one, and when a row has
  fewer than ``k`` finite scores the rest is **padded** with index ``-1`` (:data:`PAD_ID`).
"""
from __future__ import annotations

import numpy as np

from coursekit._validation import check_positive_int

__all__ = ["PAD_ID", "top_k"]

#: the id (and index) that pads a list shorter than ``k``
PAD_ID = -1


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Row-wise top-``k`` of a score matrix, best first, ties broken by lower column index.

    Runs in :math:`O(nm)` with :func:`numpy.argpartition` (no full sort). Columns with
    score ``-inf`` are never chosen over a finite score; when fewer than ``k`` finite
    scores exist in a row, the rest of that row is padded with index ``-1``.

    >>> idx, val = top_k(np.array([[0.1, 0.5, 0.5, -np.inf]]), 3)
    >>> idx.tolist(), val.tolist()
    ([[1, 2, 0]], [[0.5, 0.5, 0.1]])
    """
    k = check_positive_int(k, "k")
    scores = np.asarray(scores)
    n, m = scores.shape
    k = min(k, m)
    if n == 0 or m == 0:
        return np.zeros((n, k), np.int64), np.zeros((n, k), scores.dtype)
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    thr = np.take_along_axis(scores, part, axis=1).min(axis=1, keepdims=True)  # k-th largest value
    above = scores > thr
    tie = scores == thr
    need = k - above.sum(axis=1, keepdims=True)
    chosen = above | (tie & (np.cumsum(tie, axis=1) <= need))
    idx = np.nonzero(chosen)[1].reshape(n, k)  # ascending column index within each row
    val = np.take_along_axis(scores, idx, axis=1)
    order = np.argsort(-val, axis=1, kind="stable")  # stable: ties keep lower index first
    idx = np.take_along_axis(idx, order, axis=1)
    val = np.take_along_axis(val, order, axis=1)
    idx[np.isneginf(val)] = PAD_ID
    return idx, val
