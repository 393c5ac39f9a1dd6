r"""The one model API that every recommender in the course shares.

A recommender is fitted on :class:`~coursekit.interactions.Interactions` and then
answers two questions about users given by their *external* ids:

``score(users, items=None)``
    A matrix of scores, one row per user, one column per item (all items of the
    universe, or the ``items`` asked for). Higher means more recommended.
``recommend(users, k=10, exclude_seen=True)``
    The top-``k`` items per user as ``(item_ids, scores)``, two arrays of shape
    ``(n_users, min(k, n_items))``, best first. Items the user interacted with in
    training are excluded unless ``exclude_seen=False``.

Rules every model follows (and :mod:`coursekit.models.contract` tests):

* **Unknown ids** (not in the universe of the training data) raise
  :class:`~coursekit.UnknownIdError` naming the id.
* **Cold users** (in the universe but with no training event) have nothing to be
  personalised from. The named fallback ``cold_users="popular"`` scores them by
  training popularity (event counts); ``model.cold_users = "error"`` raises instead.
  :func:`coursekit.evaluate` reports cold users in a separate row.
* **Padding**: when a user has fewer than ``k`` unseen items, the list is filled with
  item id ``-1`` and score ``-inf``.
* **Ties** are broken by item index (lower first), so results are deterministic.
* Scores are finite; a model that produces NaN raises instead of ranking garbage.

Subclasses implement ``_fit(train)`` and ``_score(user_index)``; everything else
(validation, exclusion, top-k, padding, batching) lives here once.

Example
-------
>>> import pandas as pd
>>> from coursekit.interactions import Interactions
>>> from coursekit.models import MostPopular
>>> log = pd.DataFrame({"user_id": [1, 1, 2, 3], "item_id": [10, 20, 10, 30]})
>>> model = MostPopular().fit(Interactions.from_frame(log))
>>> ids, scores = model.recommend([2], k=2)
>>> ids.tolist()
[[20, 30]]
"""
from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from coursekit._validation import CourseKitError, NotFittedError, check_choice, check_positive_int
from coursekit.interactions import Interactions

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


class Recommender:
    """Base class of every coursekit recommender (see the module docstring for the rules)."""

    #: what to do for users without training events: "popular" (named fallback) or "error"
    cold_users: str = "popular"

    # ------------------------------------------------------------------ sklearn-style params
    def get_params(self) -> dict[str, Any]:
        """The constructor arguments of this model, read back from attributes of the same name."""
        sig = inspect.signature(type(self).__init__)
        return {p: getattr(self, p) for p in sig.parameters if p != "self" and hasattr(self, p)}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # ------------------------------------------------------------------ fitting
    def fit(self, train: Interactions) -> Recommender:
        """Fit on training interactions and return ``self``."""
        if not isinstance(train, Interactions):
            raise CourseKitError(
                f"fit expects coursekit Interactions, got {type(train).__name__}. "
                "Build one with Interactions.from_frame(frame) or dataset.to_interactions()."
            )
        if len(train) == 0:
            raise CourseKitError("fit got an empty interaction log; there is nothing to learn from.")
        self.users_ = train.users
        self.items_ = train.items
        self.seen_ = train.matrix()
        self.user_counts_ = train.user_counts()
        self.item_popularity_ = train.item_counts().astype(np.float64)
        self._fit(train)
        return self

    def _fit(self, train: Interactions) -> None:
        raise NotImplementedError

    def _score(self, user_index: np.ndarray) -> np.ndarray:
        """Scores of shape ``(len(user_index), n_items)`` for internal user indices."""
        raise NotImplementedError

    def _check_fitted(self) -> None:
        if not hasattr(self, "seen_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet: call .fit(train) first.")

    @property
    def n_items(self) -> int:
        self._check_fitted()
        return len(self.items_)

    # ------------------------------------------------------------------ scoring
    def score_indices(self, user_index: np.ndarray) -> np.ndarray:
        """Scores for internal user indices, with the cold-user rule applied."""
        self._check_fitted()
        user_index = np.asarray(user_index, dtype=np.int64)
        cold = self.user_counts_[user_index] == 0
        if cold.any() and check_choice(self.cold_users, "cold_users", ["popular", "error"]) == "error":
            bad = self.users_.ids[user_index[cold]][:10].tolist()
            raise CourseKitError(
                f"user(s) {bad} have no training events, so {type(self).__name__} cannot score them. "
                "Set model.cold_users = 'popular' to fall back to popularity."
            )
        scores = np.asarray(self._score(user_index), dtype=np.float64)
        if scores.shape != (len(user_index), self.n_items):
            raise RuntimeError(f"{type(self).__name__}._score returned shape {scores.shape}, "
                               f"expected {(len(user_index), self.n_items)}")
        if cold.any():
            scores[cold] = self.item_popularity_
        if np.isnan(scores).any():
            raise FloatingPointError(
                f"{type(self).__name__} produced NaN scores (diverged training?). "
                "Lower the learning rate or raise regularization, then fit again."
            )
        return scores

    def score(self, users, items=None) -> np.ndarray:
        """Score matrix ``(len(users), len(items))``; ``items=None`` means every item."""
        self._check_fitted()
        u = self.users_.index(users)
        scores = self.score_indices(u)
        if items is not None:
            scores = scores[:, self.items_.index(items)]
        return scores

    # ------------------------------------------------------------------ ranking
    def recommend_indices(self, user_index, k: int = 10, exclude_seen: bool = True,
                          batch_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` internal item indices and scores for internal user indices (``-1`` pads)."""
        k = check_positive_int(k, "k")
        self._check_fitted()
        user_index = np.asarray(user_index, dtype=np.int64)
        k_eff = min(k, self.n_items)
        batch = batch_size or max(1, int(2e7 // max(self.n_items, 1)))
        out_idx = np.empty((len(user_index), k_eff), dtype=np.int64)
        out_val = np.empty((len(user_index), k_eff), dtype=np.float64)
        for start in range(0, len(user_index), batch):
            rows = user_index[start:start + batch]
            s = self.score_indices(rows)
            if exclude_seen:
                r, c = self.seen_[rows].nonzero()
                s[r, c] = -np.inf
            out_idx[start:start + len(rows)], out_val[start:start + len(rows)] = top_k(s, k_eff)
        return out_idx, out_val

    def recommend(self, users, k: int = 10, exclude_seen: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` item ids and scores per user, best first (see the module docstring).

        Parameters
        ----------
        users : int or array of int
            External user ids.
        k : int
            List length (>= 1). Larger than the catalogue means the whole catalogue.
        exclude_seen : bool
            Leave out items the user interacted with in training.

        Returns
        -------
        item_ids, scores : arrays of shape (n_users, min(k, n_items))
            Padded with id ``-1`` / score ``-inf`` where a user has too few unseen items.
        """
        k = check_positive_int(k, "k")
        self._check_fitted()
        u = self.users_.index(users)
        idx, val = self.recommend_indices(u, k, exclude_seen)
        ids = np.where(idx >= 0, self.items_.ids[np.maximum(idx, 0)], PAD_ID)
        return ids, val

