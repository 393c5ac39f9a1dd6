r"""The AUC of a binary scorer and its standard error (validation of the cross-encoder).

The ROC AUC is the probability that a random positive scores above a random negative,
ties counting one half:

.. math:: \mathrm{AUC} = P(s^+ > s^-) + \tfrac12 P(s^+ = s^-).

>>> binary_auc(np.array([1, 0]), np.array([0.7, 0.2]))
1.0
"""
from __future__ import annotations

import math

import numpy as np

from coursekit._validation import CourseKitError

__all__ = ["binary_auc", "auc_standard_error", "group_auc"]


def binary_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    r"""ROC AUC: :math:`P(s^+ > s^-) + \tfrac12 P(s^+ = s^-)` over all positive/negative pairs.

    Computed from ranks (Mann-Whitney): :math:`(\sum_{+} \mathrm{rank} - n_+(n_+ + 1)/2) / (n_+ n_-)`.
    NaN when either class is empty.

    >>> binary_auc(np.array([1, 0, 1, 0]), np.array([0.9, 0.1, 0.4, 0.4]))
    0.875
    """
    from scipy.stats import rankdata

    labels = np.asarray(labels) > 0.5
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auc_standard_error(auc: float, n_pos: int, n_neg: int) -> float:
    r"""Standard error of an AUC from ``n_pos`` positives and ``n_neg`` negatives (Hanley & McNeil 1982).

    .. math::

        \mathrm{SE}^2 = \frac{A(1-A) + (n_+ - 1)(Q_1 - A^2) + (n_- - 1)(Q_2 - A^2)}{n_+ n_-},
        \qquad Q_1 = \frac{A}{2 - A}, \quad Q_2 = \frac{2A^2}{1 + A}.

    For a claim such as "the validation AUC is above chance", e.g.
    ``coursekit.claims.threshold(auc, auc_standard_error(auc, n_pos, n_neg), 0.5, "AUC", what="chance")``.
    NaN when ``auc`` is NaN or either count is zero.

    >>> round(auc_standard_error(0.5, 100, 300), 4)
    0.0334
    """
    a = float(auc)
    n_pos, n_neg = int(n_pos), int(n_neg)
    if not math.isfinite(a) or n_pos <= 0 or n_neg <= 0:
        return float("nan")
    if not 0.0 <= a <= 1.0:
        raise CourseKitError(f"auc must be in [0, 1], got {auc!r}.")
    q1, q2 = a / (2.0 - a), 2.0 * a * a / (1.0 + a)
    var = (a * (1 - a) + (n_pos - 1) * (q1 - a * a) + (n_neg - 1) * (q2 - a * a)) / (n_pos * n_neg)
    return float(math.sqrt(max(var, 0.0)))


def group_auc(scores: np.ndarray, group_size: int) -> np.ndarray:
    r"""Per-group AUC of scores laid out as groups of one positive followed by ``group_size - 1`` negatives.

    For group :math:`g` with positive score :math:`s_g^+` and negatives :math:`s_{g,j}^-`,

    .. math::

        \mathrm{AUC}_g = \frac{1}{m} \sum_{j=1}^{m} \Big( [s_g^+ > s_{g,j}^-] + \tfrac12 [s_g^+ = s_{g,j}^-] \Big),

    the share of its own negatives the positive beats: what a re-ranker needs (the same
    history, different candidates). The mean over groups is the grouped AUC; two scorers of the
    same pairs are compared *paired* over groups (``coursekit.claims.compare``). This is the
    layout of :func:`coursekit.finetune.with_negatives`.

    >>> group_auc(np.array([0.9, 0.1, 0.5, 0.2, 0.3, 0.2]), 3).tolist()
    [1.0, 0.25]
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    if isinstance(group_size, bool) or int(group_size) != group_size or group_size < 2:
        raise CourseKitError(f"group_size must be an integer >= 2 (one positive, at least one negative), "
                             f"got {group_size!r}.")
    if s.size % group_size:
        raise CourseKitError(f"scores has {s.size} values, not a multiple of group_size={group_size}.")
    g = s.reshape(-1, int(group_size))
    pos, neg = g[:, :1], g[:, 1:]
    return ((pos > neg).astype(np.float64) + 0.5 * (pos == neg)).mean(axis=1)
