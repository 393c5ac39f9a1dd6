r"""Rating-prediction errors: RMSE and MAE over (user, item) pairs with a known rating.

.. math::

    \mathrm{RMSE} = \sqrt{\frac{1}{n} \sum_{(u,i)} (r_{ui} - \hat r_{ui})^2}, \qquad
    \mathrm{MAE} = \frac{1}{n} \sum_{(u,i)} |r_{ui} - \hat r_{ui}|

Both average over rating *events*, not users: heavy raters weigh more. RMSE punishes large
errors more than MAE (it squares them) and is always :math:`\ge` MAE.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from coursekit._validation import CourseKitError

__all__ = ["rmse", "mae"]


def _pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Both inputs as flat float arrays; they must have the same shape (one prediction per rating)."""
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    if t.shape != p.shape:
        raise CourseKitError(
            f"y_true has shape {t.shape} ({t.size} values) but y_pred has shape {p.shape} ({p.size} values); "
            "pass one prediction per rating, "
            "aligned (same shape, e.g. two 1-D arrays of the same length). A transposed or differently "
            "shaped matrix compares different pairs."
        )
    t, p = t.ravel(), p.ravel()
    if t.size == 0:
        raise CourseKitError("no ratings to compare (empty y_true); the error of nothing is undefined.")
    if not (np.isfinite(t).all() and np.isfinite(p).all()):
        raise CourseKitError("y_true or y_pred holds NaN or infinity; drop unrated pairs before computing the error.")
    return t, p


def rmse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    r"""Root mean squared error :math:`\sqrt{\frac1n \sum (r - \hat r)^2}`.

    >>> rmse([4, 3, 5], [3.5, 3, 4])     # sqrt((0.25 + 0 + 1) / 3)
    0.6454972243679028
    """
    t, p = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((t - p) ** 2)))


def mae(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    r"""Mean absolute error :math:`\frac1n \sum |r - \hat r|`.

    >>> mae([4, 3, 5], [3.5, 3, 4])      # (0.5 + 0 + 1) / 3
    0.5
    """
    t, p = _pair(y_true, y_pred)
    return float(np.mean(np.abs(t - p)))
