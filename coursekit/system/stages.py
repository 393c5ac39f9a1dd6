r"""Pure array helpers of the system's stages: content vectors of cold items, explanations, padded histories.

* :func:`content_item_vectors` -- stage 4: cold items get :math:`\hat y_i = W^\top a_i`, the ridge map from
  content attributes :math:`a_i` to the factors of the warm items.
* :func:`most_similar_history` -- stage 5: for each recommended item, the history item of largest cosine.
* :func:`padded` -- ragged per-user histories as one ``(n_users, size)`` array, ``-1`` pads.
"""
from __future__ import annotations

import numpy as np

from coursekit._validation import CourseKitError
from coursekit.models.ranking import PAD_ID

__all__ = ["content_item_vectors", "most_similar_history", "padded"]


def content_item_vectors(factors: np.ndarray, features: np.ndarray, warm: np.ndarray, reg: float = 1.0) -> np.ndarray:
    r"""Factors with cold rows replaced by the ridge map from content features, :math:`\hat Y = A W`.

    :math:`W = (A_w^\top A_w + \mu I)^{-1} A_w^\top Y_w` is fitted on the warm rows (``warm`` True).

    >>> A = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]); Y = np.array([[2.0], [3.0], [0.0]])
    >>> content_item_vectors(Y, A, np.array([True, True, False]), reg=0.0).ravel().tolist()
    [2.0, 3.0, 2.0]
    """
    Y = np.array(factors, dtype=np.float64)
    A = np.asarray(features, dtype=np.float64)
    if A.ndim != 2 or len(A) != len(Y):
        raise CourseKitError(f"item features need one row per item ({len(Y)}), got shape {A.shape}.")
    if warm.all() or not warm.any():
        return Y
    Aw = A[warm]
    W = np.linalg.solve(Aw.T @ Aw + reg * np.eye(A.shape[1]), Aw.T @ Y[warm])
    Y[~warm] = A[~warm] @ W
    return Y


def most_similar_history(items: np.ndarray, hist: np.ndarray, unit: np.ndarray) -> np.ndarray:
    r"""Per recommended item :math:`i`, the history item :math:`\arg\max_{h \in H_u} \cos(y_i, y_h)`.

    Parameters
    ----------
    items : int array (n, k)
        Recommended item indices (``-1`` pads).
    hist : int array (n, H)
        History item indices per row (``-1`` pads).
    unit : array (n_items, d)
        Unit-length item vectors.

    Returns
    -------
    int array (n, k)
        History item indices; ``-1`` for padding and for rows without history. Ties go to the
        earlier (more recent) history item.

    >>> U = np.array([[1.0, 0.0], [0.0, 1.0], [0.8, 0.6]])
    >>> most_similar_history(np.array([[2, -1]]), np.array([[1, 0]]), U).tolist()
    [[0, -1]]
    """
    sim = np.einsum("nkd,nhd->nkh", unit[np.maximum(items, 0)], unit[np.maximum(hist, 0)])
    sim = np.where((hist >= 0)[:, None, :], sim, -np.inf)
    best = np.take_along_axis(np.broadcast_to(hist[:, None, :], sim.shape), sim.argmax(axis=2)[..., None],
                              axis=2)[..., 0]
    return np.where((items >= 0) & (hist >= 0).any(axis=1, keepdims=True), best, PAD_ID)


def padded(rows: list[np.ndarray], size: int) -> np.ndarray:
    """Ragged integer rows as an ``(len(rows), size)`` array, each cut to ``size`` and padded with ``-1``.

    >>> padded([np.array([4, 5, 6]), np.array([], dtype=int)], 2).tolist()
    [[4, 5], [-1, -1]]
    """
    out = np.full((len(rows), size), PAD_ID, dtype=np.int64)
    lens = np.array([min(len(r), size) for r in rows], dtype=np.int64)
    if lens.sum():
        r = np.repeat(np.arange(len(rows)), lens)
        c = np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens)
        out[r, c] = np.concatenate([np.asarray(x[:size], dtype=np.int64) for x in rows])
    return out
