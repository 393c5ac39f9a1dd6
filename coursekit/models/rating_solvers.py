r"""Building blocks of the explicit-rating models: the rated events of a log, fold-in ratings,
the batched ALS half-step and the row-summing update of mini-batch SGD.

Used by :class:`coursekit.models.BiasedMF` (:mod:`coursekit.models.factorization`) and
:class:`coursekit.models.BaselineOnly` (:mod:`coursekit.models.baselines`).
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from coursekit._validation import CourseKitError
from coursekit.interactions import Interactions

__all__ = ["rated_events", "required_ratings", "als_half_step", "add_rows"]


def rated_events(train: Interactions, model: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(user_index, item_index, rating)`` of the events that carry a rating; raise if none do."""
    if not train.has_ratings:
        raise CourseKitError(
            f"{model} learns from explicit ratings, but these interactions have no ratings. "
            "Use an implicit-feedback model (iALS, BPR, EASE, ItemKNN) for clicks or views."
        )
    r = train.ratings
    keep = ~np.isnan(r)
    if not np.isfinite(r[keep]).all():
        raise CourseKitError(f"{model}: ratings must be finite numbers; found infinity in the training ratings.")
    return train.user_index[keep], train.item_index[keep], r[keep]


def required_ratings(values: ArrayLike | None, n: int, model: str) -> np.ndarray:
    """The ratings of a fold-in history: required, one finite number per item."""
    if values is None:
        raise CourseKitError(f"{model} folds in ratings: pass values= with one rating per item "
                             "(values=None is only for implicit-feedback models).")
    ratings = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if ratings.shape != (n,):
        raise CourseKitError(f"values must hold one rating per item: got {n} items and {ratings.size} values.")
    if not np.isfinite(ratings).all():
        raise CourseKitError("values (ratings) must be finite numbers (no NaN); drop unrated items first.")
    return ratings


def als_half_step(rows: np.ndarray, cols: np.ndarray, targets: np.ndarray, fixed: np.ndarray,
                  n_rows: int, reg: float, block_elements: int = 1 << 22) -> np.ndarray:
    r"""One ALS half-step: a weighted-:math:`\lambda` ridge regression per row entity, all rows at once.

    For every row entity :math:`r` (a user, or an item) with rated columns
    :math:`J_r = \{j : (r, j) \text{ rated}\}`, :math:`n_r = |J_r|`, solve

    .. math:: x_r = \arg\min_x \sum_{j \in J_r} (t_{rj} - x^\top y_j)^2 + \lambda n_r \lVert x\rVert^2
              = (Y_r^\top Y_r + \lambda n_r I)^{-1} Y_r^\top t_r

    where :math:`y_j` are the rows of ``fixed``. Rows without ratings get :math:`x_r = 0`.
    Rows are grouped by count into padded blocks of about ``block_elements`` numbers, so the
    Gram matrices are batched matrix products and the solves one :func:`numpy.linalg.solve`
    per block (no Python loop over rows).

    Parameters
    ----------
    rows, cols : int arrays (n_ratings,)
        Row entity and column entity of each rating (duplicates count as separate terms).
    targets : float array (n_ratings,)
        :math:`t_{rj}`.
    fixed : array (n_cols, d)
        The fixed vectors :math:`y_j`.
    n_rows : int
        Number of row entities.
    reg : float
        :math:`\lambda \ge 0` (with ``reg=0`` a row needs at least ``d`` independent ratings).

    Returns
    -------
    array (n_rows, d)

    Examples
    --------
    >>> Y = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> x = als_half_step(np.array([0, 0, 0]), np.array([0, 1, 2]), np.array([1.0, 2.0, 3.0]), Y, 1, 0.0)
    >>> np.round(x, 6).tolist()   # exact least squares: y = x0 * a + x1 * b
    [[1.0, 2.0]]
    """
    d = fixed.shape[1]
    out = np.zeros((n_rows, d))
    if len(rows) == 0:
        return out
    order = np.argsort(rows, kind="stable")
    rows_s, cols_s, t_s = rows[order], cols[order], targets[order]
    counts = np.bincount(rows_s, minlength=n_rows)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    active = np.flatnonzero(counts)
    active = active[np.argsort(counts[active], kind="stable")]  # group rows with similar counts
    padded = np.vstack([fixed, np.zeros((1, d))])  # row n_cols is the zero vector used for padding
    pad_col = fixed.shape[0]
    eye = np.eye(d)
    pos = 0
    while pos < len(active):
        # largest block whose padded size (rows x max count x d) fits the budget (at least one row)
        max_n = counts[active[pos:]]  # ascending
        fits = np.flatnonzero(np.arange(1, len(max_n) + 1) * max_n * d <= block_elements)
        size = int(fits[-1]) + 1 if fits.size else 1
        block = active[pos:pos + size]
        m = int(counts[block[-1]])
        offs = np.arange(m)[None, :]
        valid = offs < counts[block][:, None]
        idx = np.minimum(start[block][:, None] + offs, len(rows_s) - 1)
        col_idx = np.where(valid, cols_s[idx], pad_col)
        tgt = np.where(valid, t_s[idx], 0.0)
        Yb = padded[col_idx]  # (b, m, d); padding rows are zero and add nothing
        YbT = Yb.transpose(0, 2, 1)
        gram = YbT @ Yb + (reg * counts[block])[:, None, None] * eye
        rhs = YbT @ tgt[..., None]
        try:
            out[block] = np.linalg.solve(gram, rhs)[..., 0]
        except np.linalg.LinAlgError:
            raise CourseKitError(
                f"ALS: a least-squares system is singular (an entity with fewer than {d} ratings and reg={reg}); "
                "use reg > 0."
            ) from None
        pos += size
    return out


def add_rows(target: np.ndarray, index: np.ndarray, rows: np.ndarray) -> None:
    """``target[index[j]] += rows[j]`` for every ``j``, summing repeated indices (like :func:`numpy.add.at`, faster).

    >>> t = np.zeros((2, 1)); add_rows(t, np.array([1, 1, 0]), np.ones((3, 1))); t.ravel().tolist()
    [1.0, 2.0]
    """
    order = np.argsort(index, kind="stable")
    sorted_index = index[order]
    starts = np.flatnonzero(np.r_[True, sorted_index[1:] != sorted_index[:-1]])
    target[sorted_index[starts]] += np.add.reduceat(rows[order], starts, axis=0)
