r"""Neighbourhood collaborative filtering: :class:`ItemKNN` and :class:`UserKNN`.

Similarities come from :mod:`coursekit.models.similarity` (cosine, adjusted cosine, Pearson,
Jaccard; shrinkage; minimum support). Notation: :math:`I_u` the items user ``u`` interacted
with (implicit) or rated (explicit), :math:`U_i` the users of item ``i``, :math:`s_{ij}` a
similarity, :math:`N_k(i)` the ``k`` items most similar to ``i`` (its stored neighbours,
``neighbors_``: row ``i`` of a sparse matrix, diagonal never included).

**Implicit feedback** (``feedback="implicit"``, similarities on the binary matrix of
training interactions). The ranking score is additive over the user's history:

.. math:: \text{ItemKNN:}\quad s_{ui} = \sum_{j \in I_u \cap N_k(i)} s_{ij}
          \qquad\qquad
          \text{UserKNN:}\quad s_{ui} = \sum_{v \in N_k(u),\ i \in I_v} s_{uv}

computed for a batch of users as one sparse product, ``seen[users] @ neighbors_.T``
(ItemKNN) or ``neighbors_[users] @ seen`` (UserKNN). Because the score is a sum,
:meth:`ItemKNN.contributions` splits it exactly into "because you liked X" shares.
The centred measures (``adjusted_cosine``, ``pearson``) are all zero on binary data and
are refused in implicit mode.

**Explicit ratings** (``feedback="explicit"``, similarities on the training ratings; events
without a rating are ignored). The classic mean-centred weighted average over the ``k``
most similar neighbours *that rated what is asked* (chosen per prediction from the full,
unpruned similarities; largest signed similarity first, zero similarities never count):

.. math:: \text{ItemKNN:}\quad \hat r_{ui} = \bar r_i +
          \frac{\sum_{j \in N^k_u(i)} s_{ij}\,(r_{uj} - \bar r_j)}{\sum_{j \in N^k_u(i)} |s_{ij}|},
          \qquad N^k_u(i) = \text{the } k \text{ items of } I_u \text{ most similar to } i

.. math:: \text{UserKNN:}\quad \hat r_{ui} = \bar r_u +
          \frac{\sum_{v \in N^k_i(u)} s_{uv}\,(r_{vi} - \bar r_v)}{\sum_{v \in N^k_i(u)} |s_{uv}|},
          \qquad N^k_i(u) = \text{the } k \text{ users of } U_i \text{ most similar to } u

The baseline is the item mean :math:`\bar r_i` (ItemKNN) or the user mean :math:`\bar r_u`
(UserKNN); means of items or users without training ratings are the global mean
:math:`\mu`. **Fallback**: when no neighbour with a non-zero similarity exists, the
prediction is the baseline alone. In explicit mode ``score``/``recommend`` rank by the
predicted rating (one user at a time, since every user has their own neighbourhoods;
slow on large catalogues, and rating predictions rank poorly -- use implicit mode for
top-k). ``neighbors_`` is still the pruned top-``k`` graph (for inspection and
``contributions``-style explanations).

>>> import pandas as pd
>>> from coursekit.interactions import Interactions
>>> log = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "item_id": [10, 20, 10, 20, 10]})
>>> model = ItemKNN(k=5).fit(Interactions.from_frame(log))
>>> model.recommend([3], k=1)[0].tolist()
[[20]]
>>> round(float(model.score([3], items=[20])[0, 0]), 4)  # cos(10, 20) = 2 / sqrt(3 * 2)
0.8165
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import ArrayLike

from coursekit._validation import CourseKitError, check_choice, check_id_array, check_positive_int
from coursekit.interactions import Interactions
from coursekit.models.base import Recommender
from coursekit.models.ranking import PAD_ID, top_k
from coursekit.models.similarity import CENTRED, MEASURES, ColumnSimilarity, check_shrinkage

FEEDBACK = ("implicit", "explicit")


def _weighted_deviation(sim: np.ndarray, dev: np.ndarray, k: int) -> np.ndarray:
    r"""Per row, :math:`\sum s\,d / \sum |s|` over the ``k`` largest non-zero ``sim`` (0 if none).

    ``sim`` and ``dev`` have the same shape; zero (or ``-inf``) similarities never count.
    Ties at the boundary are broken by lower column index.

    >>> sim, dev = np.array([[0.5, 0.0, 1.0, 0.2]]), np.array([[2.0, 9.0, -1.0, 4.0]])
    >>> _weighted_deviation(sim, dev, 3).round(4).tolist()  # (1.0 * -1 + 0.5 * 2 + 0.2 * 4) / 1.7
    [0.4706]
    """
    if sim.shape[1] == 0:
        return np.zeros(sim.shape[0])
    masked = np.where(sim == 0, -np.inf, sim)
    idx, val = top_k(masked, min(k, sim.shape[1]))
    ok = idx >= 0
    w = np.where(ok, val, 0.0)
    d = np.take_along_axis(dev, np.maximum(idx, 0), axis=1)
    num = (w * d).sum(axis=1)
    den = np.abs(w).sum(axis=1)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


class _NeighborhoodModel(Recommender):
    """Shared parameters, validation, fitting and baselines of ItemKNN and UserKNN."""

    #: "item" (columns of R are compared) or "user" (rows of R are compared)
    _compare = "item"
    _always: frozenset[str] = frozenset({"save"})  # explicit mode adds "ratings"

    @property
    def capabilities(self) -> frozenset[str]:  # type: ignore[override]
        """What this model supports; ``"ratings"`` only with ``feedback="explicit"``."""
        return self._always | ({"ratings"} if self.feedback == "explicit" else frozenset())

    def __init__(self, k: int = 100, similarity: str = "cosine", shrinkage: float = 0.0,
                 feedback: str = "implicit", min_support: int = 1):
        self.k = k
        self.similarity = similarity
        self.shrinkage = shrinkage
        self.feedback = feedback
        self.min_support = min_support

    # ------------------------------------------------------------------ fitting
    def _check_params(self) -> None:
        check_positive_int(self.k, "k")
        check_choice(self.similarity, "similarity", MEASURES)
        check_shrinkage(self.shrinkage)
        check_choice(self.feedback, "feedback", FEEDBACK)
        check_positive_int(self.min_support, "min_support")
        if self.feedback == "implicit" and self.similarity in CENTRED:
            raise CourseKitError(
                f"similarity={self.similarity!r} centres ratings, and on implicit (binary) feedback every "
                "centred value is 0. Use feedback='explicit' on rated data, or similarity='cosine' or 'jaccard'."
            )

    def _fit(self, train: Interactions) -> None:
        self._check_params()
        self._sim_cache = None  # caches derived from the training data (not saved; rebuilt lazily)
        self._raters_cache = None
        if self.feedback == "explicit":
            if not train.has_ratings:
                raise CourseKitError(
                    f"{type(self).__name__}(feedback='explicit') needs ratings, but the training data has none. "
                    "Use feedback='implicit', or train on rated events."
                )
            R = train.matrix("rating", dtype=np.float64)
            self.ratings_ = R
            self.mu_ = float(R.data.mean())
            self.user_mean_ = self._means(R)
            self.item_mean_ = self._means(R.T.tocsr())
        else:
            self.ratings_ = None
            self.mu_ = None
            self.user_mean_ = None
            self.item_mean_ = None
        self.neighbors_ = self._sim().top_k(self.k)

    def _means(self, M: sp.csr_matrix) -> np.ndarray:
        """Row means over stored entries; the global mean for empty rows."""
        cnt = np.diff(M.indptr)
        s = np.asarray(M.sum(axis=1)).ravel()
        return np.where(cnt > 0, s / np.maximum(cnt, 1), self.mu_)

    def _data(self) -> sp.csr_matrix:
        """The user x item matrix the similarities are computed on."""
        return self.ratings_ if self.feedback == "explicit" else self.seen_

    def _sim(self) -> ColumnSimilarity:
        """Similarity engine over the compared axis (rebuilt lazily, e.g. after ``load``)."""
        if getattr(self, "_sim_cache", None) is None:
            X = self._data()
            X = X if self._compare == "item" else X.T
            self._sim_cache = ColumnSimilarity(X, self.similarity, self.shrinkage, self.min_support)
        return self._sim_cache

    def _unsupported_hint(self, capability: str) -> str:
        if capability == "ratings":
            return "Fit with feedback='explicit' on rated data for predict_rating."
        return super()._unsupported_hint(capability)

    # ------------------------------------------------------------------ scoring
    def _score(self, user_index: np.ndarray) -> np.ndarray:
        if self.feedback == "implicit":
            return self._implicit_scores(user_index)
        items = np.arange(self.n_items)
        return np.stack([self._predict_user(int(u), items) for u in user_index]) if len(user_index) \
            else np.zeros((0, self.n_items))

    def _predict_rating(self, user_index: np.ndarray, item_index: np.ndarray) -> np.ndarray:
        out = np.empty(len(user_index), dtype=np.float64)
        order = np.argsort(user_index, kind="stable")
        users, starts = np.unique(user_index[order], return_index=True)
        for u, pos in zip(users, np.split(order, starts[1:])):
            out[pos] = self._predict_user(int(u), item_index[pos])
        return out

    def _implicit_scores(self, user_index: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _predict_user(self, u: int, items: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # ------------------------------------------------------------------ explanations
    def contributions(self, user: int, item: int) -> pd.DataFrame:
        """How each neighbour adds to the score of ``item`` for ``user`` (external ids).

        Returns a DataFrame with the neighbour id (``item_id`` for ItemKNN, ``user_id`` for
        UserKNN), its ``similarity`` and its ``contribution``, largest contribution first.
        Implicit mode: the contributions sum to ``score(user, item)``. Explicit mode: the
        ``baseline`` (in ``frame.attrs``) plus the contributions is ``predict_rating``.
        """
        self.check_fitted()
        u = int(self.users_.index([user])[0])
        i = int(self.items_.index([item])[0])
        idx, sim, contrib, baseline = self._history_contributions(u, i)
        ids = (self.items_ if self._compare == "item" else self.users_).ids[idx]
        frame = pd.DataFrame({f"{self._compare}_id": ids, "similarity": sim, "contribution": contrib})
        frame = frame.sort_values("contribution", ascending=False, kind="stable").reset_index(drop=True)
        frame.attrs["baseline"] = baseline
        frame.attrs["score"] = baseline + float(contrib.sum())
        return frame

    def _history_contributions(self, user_index: int, item_index: int):
        raise NotImplementedError


class ItemKNN(_NeighborhoodModel):
    r"""Item-based neighbourhood CF (see the module docstring for the formulas).

    Parameters
    ----------
    k : int
        Neighbourhood size: neighbours kept per item (implicit ranking), or the most similar
        rated items used per prediction (explicit). The default 100 (no shrinkage) ranked well on
        the validation parts of both course data sets; tune it per data set (lesson 02).
    similarity : {"cosine", "adjusted_cosine", "pearson", "jaccard"}
        Item-item measure; adjusted cosine centres by the user mean, Pearson by each item's
        mean over the co-rating users (:mod:`coursekit.models.similarity`).
    shrinkage : float
        :math:`\lambda` in :math:`s_{ij}\, n_{ij} / (n_{ij} + \lambda)`; 0 = none.
    feedback : {"implicit", "explicit"}
        Binary interactions and additive ranking, or ratings and mean-centred prediction.
    min_support : int
        Item pairs with fewer common users get similarity 0.

    Examples
    --------
    >>> import pandas as pd
    >>> from coursekit.interactions import Interactions
    >>> log = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "item_id": [10, 20, 10, 20, 10]})
    >>> model = ItemKNN(k=5).fit(Interactions.from_frame(log))
    >>> model.similar_items([10], k=1)[0].tolist()
    [[20]]
    """

    _compare = "item"
    _always = frozenset({"similar_items", "fold_in", "save"})

    def _implicit_scores(self, user_index: np.ndarray) -> np.ndarray:
        return np.asarray((self.seen_[user_index] @ self.neighbors_.T).toarray(), dtype=np.float64)

    def _predict_user(self, u: int, items: np.ndarray) -> np.ndarray:
        row = self.ratings_[u]
        return self._predict_history(row.indices, row.data, items)

    def _predict_history(self, rated: np.ndarray, ratings: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Explicit prediction for the items ``items`` of a user who rated ``rated`` (sorted) with ``ratings``."""
        base = self.item_mean_[items]
        if rated.size == 0:
            return base.astype(np.float64)
        sim = self._sim().block(items, rated)  # (len(items), |I_u|), 0 where items == rated
        dev = np.broadcast_to(ratings - self.item_mean_[rated], sim.shape)
        return base + _weighted_deviation(sim, dev, self.k)

    def _fold_in(self, item_index: np.ndarray, values: np.ndarray | None) -> np.ndarray:
        r"""Implicit: :math:`s = h S^\top` for the binary history row :math:`h` (presence: counts do not
        matter); explicit: the prediction formula, ``values`` = ratings (the last of a repeated item counts).
        """
        if self.feedback == "implicit":
            if values is not None and not (values > 0).all():
                raise CourseKitError("ItemKNN fold-in values must be positive event counts, one per item.")
            uniq = np.unique(item_index)
            h = sp.csr_matrix((np.ones(uniq.size, dtype=self.seen_.dtype), uniq, [0, uniq.size]),
                              shape=(1, self.n_items))
            return np.asarray((h @ self.neighbors_.T).toarray(), dtype=np.float64)[0]
        if values is None:
            raise CourseKitError("ItemKNN(feedback='explicit') folds in ratings: pass values= with one rating "
                                 "per item.")
        last = len(item_index) - 1 - np.unique(item_index[::-1], return_index=True)[1]  # last rating per item
        rated = item_index[last]
        order = np.argsort(rated)
        return self._predict_history(rated[order], values[last][order], np.arange(self.n_items))

    def _item_similarity(self, item_index: np.ndarray) -> np.ndarray:
        return self._sim().block(np.asarray(item_index, dtype=np.int64))

    def history_contributions(self, user: int, item: int) -> tuple[np.ndarray, np.ndarray]:
        r"""Each history item's share of the score of ``item`` for ``user`` (external ids).

        Returns
        -------
        history, shares : arrays
            External ids of the history items that contribute (implicit: those in the target's
            neighbourhood, :math:`s_{ij} \ne 0`; explicit: the ``k`` neighbours chosen) and their
            shares. Implicit: the shares sum to ``score(user, item)``; explicit: the item mean
            plus the shares is ``predict_rating(user, item)`` (see :meth:`contributions`).
        """
        self.check_fitted()
        u = int(self.users_.index(check_id_array(user, "user"))[0])
        i = int(self.items_.index(check_id_array(item, "item"))[0])
        idx, _, contrib, _ = self._history_contributions(u, i)
        return self.items_.ids[idx], np.asarray(contrib, dtype=np.float64)

    def _history_contributions(self, user_index: int, item_index: int):
        """``(item indices, similarities, contributions, baseline)`` of ``user``'s history for ``item``.

        Implicit: contribution of history item ``j`` is :math:`s_{ij}` for :math:`j \\in N_k(i)`,
        summing to the score; baseline 0. Explicit: :math:`s_{ij}(r_{uj}-\\bar r_j)/\\sum|s|`
        over the ``k`` chosen neighbours; baseline :math:`\\bar r_i`.
        """
        self.check_fitted()
        if self.feedback == "implicit":
            hist = self.seen_[user_index].indices
            sims = self.neighbors_[item_index].toarray().ravel()[hist]
            keep = sims != 0
            return hist[keep], sims[keep], sims[keep].copy(), 0.0
        row = self.ratings_[user_index]
        base = float(self.item_mean_[item_index])
        if row.nnz == 0:
            return np.zeros(0, np.int64), np.zeros(0), np.zeros(0), base
        sims = self._sim().block(np.array([item_index]), row.indices)[0]
        dev = row.data - self.item_mean_[row.indices]
        idx, val = top_k(np.where(sims == 0, -np.inf, sims)[None, :], min(self.k, len(sims)))
        idx, val = idx[0][idx[0] >= 0], val[0][idx[0] >= 0]
        den = np.abs(val).sum()
        contrib = val * dev[idx] / den if den > 0 else np.zeros(0)
        return row.indices[idx], val, contrib, base


class UserKNN(_NeighborhoodModel):
    r"""User-based neighbourhood CF (see the module docstring for the formulas).

    Parameters are those of :class:`ItemKNN`, with users compared instead of items:
    ``k`` users kept per user (implicit) or the ``k`` most similar raters per prediction
    (explicit); adjusted cosine centres by the item mean, Pearson by each user's mean over
    the items both users rated.

    Examples
    --------
    >>> import pandas as pd
    >>> from coursekit.interactions import Interactions
    >>> log = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "item_id": [10, 20, 10, 20, 10]})
    >>> model = UserKNN(k=5).fit(Interactions.from_frame(log))
    >>> model.similar_users([3], k=2)[0].tolist()
    [[1, 2]]
    """

    _compare = "user"

    def _implicit_scores(self, user_index: np.ndarray) -> np.ndarray:
        return np.asarray((self.neighbors_[user_index] @ self.seen_).toarray(), dtype=np.float64)

    def _raters(self) -> sp.csr_matrix:
        """Item x user rating matrix (cached)."""
        if getattr(self, "_raters_cache", None) is None:
            self._raters_cache = self.ratings_.T.tocsr()
        return self._raters_cache

    def _predict_user(self, u: int, items: np.ndarray) -> np.ndarray:
        base = np.full(len(items), self.user_mean_[u], dtype=np.float64)
        s_u = self._sim().block(np.array([u]))[0]  # similarity of u to every user, 0 to itself
        sub = self._raters()[items].tocoo()  # who rated each asked item
        sim = np.zeros((len(items), len(s_u)))
        dev = np.zeros_like(sim)
        sim[sub.row, sub.col] = s_u[sub.col]
        dev[sub.row, sub.col] = sub.data - self.user_mean_[sub.col]
        return base + _weighted_deviation(sim, dev, self.k)

    def _history_contributions(self, user_index: int, item_index: int):
        """``(user indices, similarities, contributions, baseline)`` of the neighbours of ``user`` for ``item``."""
        self.check_fitted()
        if self.feedback == "implicit":
            row = self.neighbors_[user_index]
            has = np.asarray(self.seen_[row.indices, item_index].todense()).ravel() > 0
            v, s = row.indices[has], row.data[has]
            return v, s, s.copy(), 0.0
        base = float(self.user_mean_[user_index])
        s_u = self._sim().block(np.array([user_index]))[0]
        col = self._raters()[item_index]
        sims = s_u[col.indices]
        idx, val = top_k(np.where(sims == 0, -np.inf, sims)[None, :], max(1, min(self.k, len(sims)))) \
            if len(sims) else (np.full((1, 0), -1), np.zeros((1, 0)))
        idx, val = idx[0][idx[0] >= 0], val[0][idx[0] >= 0]
        den = np.abs(val).sum()
        dev = col.data - self.user_mean_[col.indices]
        contrib = val * dev[idx] / den if den > 0 else np.zeros(0)
        return col.indices[idx], val, contrib, base

    def similar_users(self, users: ArrayLike, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` most similar users to each of ``users`` (never the user itself), as ``(ids, scores)``."""
        k = check_positive_int(k, "k")
        self.check_fitted()
        u = self.users_.index(users)
        sim = self._sim().block(u)
        sim[np.arange(len(u)), u] = -np.inf
        idx, val = top_k(sim, min(k, max(len(self.users_) - 1, 1)))
        ids = np.where(idx >= 0, self.users_.ids[np.maximum(idx, 0)], PAD_ID)
        return ids, val
