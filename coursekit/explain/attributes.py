r"""Attribute explanations ("recommended for its brand and price band"), checked on the shop's truth.

A recommender's scores for user :math:`u` over the catalogue, :math:`s_{u\cdot}`, are regressed on
the items' binary attributes :math:`x_i \in \{0,1\}^F` (category, brand, price band, words):

.. math:: \hat w_u = \arg\min_w \sum_i \big(s_{ui} - \bar s_u - (x_i - \bar x)^\top w\big)^2 + \lambda\lVert w\rVert^2
          = (\tilde X^\top \tilde X + \lambda I)^{-1} \tilde X^\top \tilde s_u ,

one ridge solve for all users at once (a *global surrogate* of the model per user). The
attribute explanation of item :math:`i` is :math:`\hat w_u \odot x_i` (its active attributes,
largest first). On the shop the truth is known: affinities are :math:`a_{ui} = \theta_u^\top x_i`, so
:math:`\theta_u \odot x_i` is the true attribute decomposition, and we measure how well
:math:`\hat w_u` recovers :math:`\theta_u` (Spearman over the attributes) and whether the top
attribute named for the recommended item is one the user truly likes (:math:`\theta > 0`).

>>> X = np.array([[1, 0], [0, 1], [1, 1], [0, 0]], dtype=float)
>>> S = np.array([[2.0, 0.0, 2.0, 0.0]])                 # scores = 2 * attribute 0
>>> attribute_weights(S, X, reg=1e-9).round(3).tolist()
[[2.0, 0.0]]
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    from coursekit.models.base import Recommender

__all__ = ["attribute_weights", "attribute_explanation", "attribute_recovery"]


def attribute_weights(scores: np.ndarray, X: np.ndarray, reg: float = 1.0) -> np.ndarray:
    """Ridge weights ``(n_users, F)`` of each user's score row on the item attributes ``X`` ``(n_items, F)``."""
    Xc = X - X.mean(0, keepdims=True)
    Sc = scores - scores.mean(1, keepdims=True)
    A = Xc.T @ Xc + reg * np.eye(X.shape[1])
    return np.linalg.solve(A, Xc.T @ Sc.T).T


def attribute_explanation(weights: np.ndarray, x_item: np.ndarray, names: Sequence[str]) -> pd.DataFrame:
    """The item's active attributes with their weight for this user, largest first."""
    from coursekit.explain.contributions import contributions_frame

    active = np.nonzero(np.asarray(x_item) > 0)[0]
    return contributions_frame(np.asarray(names)[active], np.asarray(weights)[active], method="attributes")


def attribute_recovery(model: Recommender, truth: dict, users: ArrayLike, reg: float = 1.0) -> pd.DataFrame:
    """Per user: Spearman(:math:`\\hat w_u`, :math:`\\theta_u`) and whether the top attribute named
    for the user's top-1 item is truly liked (``top_attribute_liked``), plus a random-attribute baseline.
    """
    from coursekit.datasets.shop import taste_at
    from coursekit.explain.faithfulness import spearman

    users = np.asarray(users)
    X = truth["item_attributes"].loc[model.items_.ids].to_numpy(dtype=np.float64)
    S = model.score(users)
    W = attribute_weights(S, X, reg)
    theta = taste_at(truth, users)
    ids, _ = model.recommend(users, k=1)
    top = model.items_.index(ids[:, 0])
    xt = X[top]
    best = np.argmax(np.where(xt > 0, W, -np.inf), axis=1)
    rng = np.random.default_rng(0)
    rand = np.array([rng.choice(np.nonzero(r)[0]) for r in xt])
    return pd.DataFrame({
        "user_id": users,
        "taste_spearman": [spearman(w, t) for w, t in zip(W, theta)],
        "top_attribute": np.asarray(truth["attribute_names"])[best],
        "top_attribute_liked": theta[np.arange(len(users)), best] > 0,
        "random_attribute_liked": theta[np.arange(len(users)), rand] > 0,
    })
