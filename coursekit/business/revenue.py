r"""Revenue-aware re-ranking: trade relevance for the price of what is shown.

A recommender ranks by how likely a user is to want an item; a shop is paid by what the
purchase is worth. :func:`revenue_rerank` re-orders each user's ``C`` candidates by

.. math:: s'_{ui} = z_u(s_{ui}) + \gamma\, z_u(\log p_i),
          \qquad z_u(v_i) = \frac{v_i - \bar v_u}{\operatorname{sd}_u(v)}

where :math:`s_{ui}` is the base model's score, :math:`p_i` the item's price, and both are
standardised over the user's candidates (so :math:`\gamma` means the same for every model,
user and currency; a constant column standardises to 0). :math:`\gamma = 0` keeps the base
order; :math:`\gamma > 0` lifts expensive items, :math:`\gamma < 0` cheap ones. Ties go to the
better base rank. The log makes the boost depend on price *ratios*: 90 vs 30 counts like 30 vs 10.

Whether it pays is an empirical question (more revenue per purchase, fewer purchases):
measure it with :mod:`coursekit.business.ope` offline or an A/B test online, and watch the
guardrails (:mod:`coursekit.business.guardrails`).

* :func:`revenue_rerank` -- the rule over ``(items, scores)`` candidate lists, vectorised.
* :class:`RevenueReranker` -- the same as a coursekit ``Recommender`` wrapping a base model.

Example
-------
>>> prices = np.array([10.0, 100.0, 20.0])
>>> revenue_rerank(np.array([[0, 1, 2]]), np.array([[3.0, 2.0, 1.0]]), prices, gamma=0.0, k=3).tolist()
[[0, 1, 2]]
>>> revenue_rerank(np.array([[0, 1, 2]]), np.array([[3.0, 2.0, 1.0]]), prices, gamma=1.0, k=3).tolist()
[[1, 0, 2]]
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from coursekit._validation import CourseKitError
from coursekit.interactions import Interactions
from coursekit.models.base import Recommender
from coursekit.models.candidate_rerank import CandidateReranker, check_candidates

__all__ = ["revenue_rerank", "RevenueReranker"]


def _check_gamma(gamma) -> float:
    if isinstance(gamma, (bool, np.bool_)):
        raise CourseKitError(f"gamma must be a finite number (0 = relevance only), got {gamma!r}.")
    try:
        g = float(gamma)
    except (TypeError, ValueError):
        raise CourseKitError(f"gamma must be a finite number (0 = relevance only), got {gamma!r}.") from None
    if not np.isfinite(g):
        raise CourseKitError(f"gamma must be a finite number (0 = relevance only), got {gamma!r}.")
    return g


def _check_prices(prices: ArrayLike, name: str = "prices") -> np.ndarray:
    p = np.asarray(prices, dtype=np.float64)
    if p.ndim != 1 or not np.isfinite(p).all() or (p.size and p.min() <= 0):
        raise CourseKitError(f"{name} must be a 1-D array of finite prices > 0 (one per item index), "
                             f"got shape {p.shape}" + (f" with min {np.nanmin(p)!r}." if p.size else "."))
    return p


def _row_z(v: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Standardise each row over its valid entries (0 where a row's valid entries are constant)."""
    cnt = np.maximum(valid.sum(axis=1, keepdims=True), 1)
    mean = np.where(valid, v, 0.0).sum(axis=1, keepdims=True) / cnt
    sd = np.sqrt(np.where(valid, (v - mean) ** 2, 0.0).sum(axis=1, keepdims=True) / cnt)
    return np.where(valid & (sd > 0), (v - mean) / np.where(sd > 0, sd, 1.0), 0.0)


def revenue_rerank(items: ArrayLike, scores: ArrayLike, prices: ArrayLike, gamma: float = 0.5,
                   k: int = 10) -> np.ndarray:
    r"""Re-rank each row's candidates by :math:`z(s) + \gamma\, z(\log p)` (see the module docstring).

    Parameters
    ----------
    items : int array (n, C)
        Candidate item indices per user, best first by the base model; ``-1`` = padding.
    scores : array (n, C)
        The base model's scores of the candidates (ignored where ``items`` is ``-1``).
    prices : array (n_items,)
        Price of every item index, > 0.
    gamma : float
        Weight of the (standardised log) price.
    k : int
        Length of the result (at most ``C``).

    Returns
    -------
    int array (n, min(k, C)): the re-ranked item indices, ``-1`` where a user has fewer candidates.

    >>> revenue_rerank(np.array([[2, 0, -1]]), np.array([[1.0, 0.5, -np.inf]]), [5.0, 1.0, 1.0], 10.0, k=3).tolist()
    [[0, 2, -1]]
    """
    items, scores, k = check_candidates(items, scores, k)
    gamma = _check_gamma(gamma)
    p = _check_prices(prices)
    if items.size and items.max() >= len(p):
        raise CourseKitError(f"item index {items.max()} has no price: prices has {len(p)} entries.")
    valid = items >= 0
    if not np.isfinite(scores[valid]).all():
        raise CourseKitError("scores must be finite for every candidate (items >= 0).")
    s = np.where(valid, scores, 0.0)
    obj = _row_z(s, valid) + gamma * _row_z(np.log(p[np.maximum(items, 0)]), valid)
    obj = np.where(valid, obj, -np.inf)
    order = np.argsort(-obj, axis=1, kind="stable")[:, :k]     # stable: ties keep the base order
    return np.take_along_axis(items, order, axis=1)


# ---------------------------------------------------------------------------- as a recommender
class RevenueReranker(CandidateReranker):
    r"""A base recommender whose top ``n_candidates`` are re-ranked by :func:`revenue_rerank`.

    Parameters
    ----------
    base : Recommender
        The model whose candidates are re-ranked; :meth:`fit` fits a clone of it (``base_``).
    prices : pandas Series (index: item id) or mapping
        The price of every item of the training universe (e.g.
        :func:`coursekit.business.prices.item_prices` of the shop's items), > 0.
    gamma : float
        :math:`\gamma`, the weight of the standardised log price.
    n_candidates : int
        :math:`C`, how many of the base model's unseen items are re-ranked.

    Notes
    -----
    ``score`` returns minus the final rank: the re-ranked order for the candidates, then every other
    item in the base model's order. So ``recommend`` gives the re-ranked list.

    Examples
    --------
    >>> from coursekit.models import MostPopular
    >>> log = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3], "item_id": [10, 20, 10, 30, 20, 40]})
    >>> prices = pd.Series({10: 5.0, 20: 5.0, 30: 5.0, 40: 80.0})
    >>> model = RevenueReranker(MostPopular(), prices, gamma=2.0, n_candidates=3)
    >>> model.fit(Interactions.from_frame(log)).recommend([2], k=2)[0].tolist()   # 20 is more popular, 40 dearer
    [[40, 20]]
    """

    def __init__(self, base: Recommender, prices: pd.Series | dict | None = None, gamma: float = 0.5,
                 n_candidates: int = 50):
        self.base = base
        self.prices = prices
        self.gamma = gamma
        self.n_candidates = n_candidates

    def _aligned_prices(self, train: Interactions) -> np.ndarray:
        if self.prices is None:
            raise CourseKitError("RevenueReranker needs prices: a Series of prices indexed by item id "
                                 "(e.g. coursekit.business.prices.item_prices(data.items)).")
        prices = pd.Series(self.prices, dtype=np.float64) if not isinstance(self.prices, pd.Series) \
            else self.prices.astype(np.float64)
        aligned = prices.reindex(train.items.ids)
        missing = train.items.ids[aligned.isna().to_numpy()]
        if len(missing):
            raise CourseKitError(f"prices has no price for item id(s) {missing[:10].tolist()}: give a price for every "
                                 "item of the training universe.")
        return _check_prices(aligned.to_numpy(), "prices")

    _reranker_state = ("price_",)

    def _check_params(self) -> None:
        super()._check_params()
        _check_gamma(self.gamma)

    def _check_settings(self, train: Interactions) -> None:
        self.price_ = self._aligned_prices(train)

    def _rerank(self, candidates: np.ndarray, scores: np.ndarray) -> np.ndarray:
        return revenue_rerank(candidates, scores, self.price_, self.gamma, k=candidates.shape[1])

    def _saved_params(self) -> dict:
        return {"gamma": self.gamma, "n_candidates": self.n_candidates}

    @classmethod
    def _params_from_saved(cls, params: dict, state: dict, base: Recommender) -> dict:
        return {**params, "prices": pd.Series(state["price_"], index=base.items_.ids, name="price")}
