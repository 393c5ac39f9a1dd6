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

import json
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from coursekit._validation import CourseKitError, check_positive_int
from coursekit.interactions import Interactions
from coursekit.models.base import Recommender, clone
from coursekit.models.ranking import top_k

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
    items = np.asarray(items, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    if items.ndim != 2 or items.shape != scores.shape:
        raise CourseKitError("items and scores must be 2-D arrays of the same shape, "
                             f"got {items.shape} and {scores.shape}.")
    k = min(check_positive_int(k, "k"), items.shape[1])
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
class RevenueReranker(Recommender):
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

    capabilities = frozenset({"save"})

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

    def _fit(self, train: Interactions) -> None:
        if not isinstance(self.base, Recommender):
            raise CourseKitError(f"RevenueReranker wraps a coursekit Recommender, got {type(self.base).__name__}.")
        _check_gamma(self.gamma)
        check_positive_int(self.n_candidates, "n_candidates")
        self.price_ = self._aligned_prices(train)
        self.base_ = clone(self.base).fit(train)

    def _score(self, user_index: np.ndarray) -> np.ndarray:
        s = np.array(self.base_.score_indices(user_index), dtype=np.float64)
        seen = s.copy()
        r, c = self.seen_[user_index].nonzero()
        seen[r, c] = -np.inf
        cand, cand_s = top_k(seen, min(self.n_candidates, self.n_items))
        order = revenue_rerank(cand, np.where(cand >= 0, cand_s, 0.0), self.price_, self.gamma, k=cand.shape[1])
        rows_all = np.arange(len(user_index))[:, None]
        base_rank = np.empty(s.shape, dtype=np.int64)
        base_rank[rows_all, np.argsort(-s, axis=1, kind="stable")] = np.arange(s.shape[1])
        final = (self.n_candidates + base_rank).astype(np.float64)       # non-candidates after all candidates
        rows = np.broadcast_to(rows_all, order.shape)
        ok = order >= 0
        final[rows[ok], order[ok]] = np.broadcast_to(np.arange(order.shape[1]), order.shape)[ok]
        return -final

    # ------------------------------------------------------------------ persistence (base model in a subfolder)
    def save(self, folder: str | PathLike) -> Path:
        """Write the base model to ``folder/base`` and the prices and settings beside it."""
        from safetensors.numpy import save_file

        self._require("save", "save")
        self.check_fitted()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.base_.save(folder / "base")
        save_file({"price_": np.ascontiguousarray(self.price_)}, str(folder / "arrays.safetensors"))
        meta = {"class": type(self).__name__, "module": type(self).__module__,
                "params": {"gamma": self.gamma, "n_candidates": self.n_candidates}, "cold_users": self.cold_users}
        (folder / "params.json").write_text(json.dumps(meta, indent=1))
        return folder

    @classmethod
    def _load_folder(cls, folder, meta: dict) -> RevenueReranker:
        from safetensors.numpy import load_file

        folder = Path(folder)
        base = Recommender.load(folder / "base")
        price = load_file(str(folder / "arrays.safetensors"))["price_"]
        model = cls(base, pd.Series(price, index=base.items_.ids, name="price"), **meta["params"])
        model.cold_users = meta.get("cold_users", "popular")
        for name in ("users_", "items_", "seen_", "user_counts_", "item_popularity_"):
            setattr(model, name, getattr(base, name))
        model.base_ = base
        model.price_ = price
        return model
