r"""Content-based recommendation from fixed item vectors (frozen BERT, TF-IDF, attributes).

Each item :math:`i` has a vector :math:`v_i` (e.g. the MiniLM embedding of its text). A user's
**profile** is the weighted mean of the unit vectors of the items they interacted with,

.. math:: p_u = \frac{\sum_{i \in I_u} w_{ui}\, \hat v_i}{\sum_{i \in I_u} |w_{ui}|},
   \qquad \hat v_i = v_i / \lVert v_i \rVert,

and an item is scored by cosine similarity, :math:`s_{ui} = \cos(p_u, v_i) = \hat p_u^\top \hat v_i`.
The weights:

``"uniform"``
    :math:`w_{ui} = 1` for every item the user touched (any number of times).
``"rating"``
    rating-centred, :math:`w_{ui} = r_{ui} - \bar r_u` (last rating of the pair, :math:`\bar r_u` the
    user's mean rating): liked items pull the profile towards them, disliked items push it away.
    Unrated events get weight 0; a user whose weights are all 0 falls back to uniform.
``"recency"``
    :math:`w_{ui} = 2^{-(t_u^{\max} - t_{ui}) / h}` with half-life :math:`h` (days) and
    :math:`t_{ui}` the latest event of the pair: recent taste counts more.

Nothing is learned from other users: the model works for an item the moment its text exists
(cold items), but cannot know that two dissimilar texts are liked by the same people.

>>> import pandas as pd
>>> from coursekit.interactions import Interactions
>>> log = pd.DataFrame({"user_id": [1], "item_id": [10]})
>>> vectors = pd.DataFrame([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]], index=[10, 11, 12])
>>> inter = Interactions.from_frame(log, items=[10, 11, 12])
>>> model = ProfileRecommender(vectors).fit(inter)
>>> model.recommend([1], k=2)[0].tolist()
[[11, 12]]
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import ArrayLike

from coursekit._validation import CourseKitError, check_choice
from coursekit.interactions import IdMap, Interactions
from coursekit.models.base import Recommender

__all__ = ["ProfileRecommender", "align_item_vectors", "unit_rows"]


def align_item_vectors(item_vectors: pd.DataFrame | tuple, items: IdMap,
                       what: str = "item_vectors") -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``item_vectors`` in the order of ``items``; items without a vector get zeros.

    ``item_vectors`` is a DataFrame indexed by item id (one column per dimension) or a pair
    ``(ids, array)``. Returns ``(matrix (n_items, d) float32, has_vector bool (n_items,))``.

    >>> m, ok = align_item_vectors(([20, 10], np.array([[2.0], [1.0]])), IdMap.from_ids([10, 20, 30]))
    >>> m.ravel().tolist(), ok.tolist()
    ([1.0, 2.0, 0.0], [True, True, False])
    """
    if isinstance(item_vectors, pd.DataFrame):
        ids, arr = item_vectors.index.to_numpy(), item_vectors.to_numpy(dtype=np.float32)
    elif isinstance(item_vectors, (tuple, list)) and len(item_vectors) == 2:
        ids, arr = np.asarray(item_vectors[0]), np.asarray(item_vectors[1], dtype=np.float32)
    else:
        raise CourseKitError(f"{what} must be a DataFrame indexed by item_id or a pair (ids, array), "
                             f"got {type(item_vectors).__name__}.")
    if arr.ndim != 2 or len(ids) != arr.shape[0]:
        raise CourseKitError(f"{what}: need one vector (row) per id, got {len(ids)} ids and an array of shape "
                             f"{arr.shape}.")
    if not np.issubdtype(ids.dtype, np.integer):
        raise CourseKitError(f"{what}: item ids must be integers, got dtype {ids.dtype}.")
    if len(np.unique(ids)) != len(ids):
        raise CourseKitError(f"{what}: item ids must be unique (one vector per item).")
    if not np.isfinite(arr).all():
        raise CourseKitError(f"{what} contains NaN or infinite values.")
    pos = np.searchsorted(items.ids, ids)
    pos_c = np.minimum(pos, max(len(items) - 1, 0))
    known = (pos < len(items)) & (items.ids[pos_c] == ids)
    out = np.zeros((len(items), arr.shape[1]), dtype=np.float32)
    out[pos[known]] = arr[known]
    has = np.zeros(len(items), dtype=bool)
    has[pos[known]] = True
    return out, has


def unit_rows(x: np.ndarray) -> np.ndarray:
    r"""Each row divided by its Euclidean norm, :math:`\hat v_i = v_i / \lVert v_i \rVert`; zero rows stay zero.

    >>> unit_rows(np.array([[3.0, 4.0], [0.0, 0.0]])).tolist()
    [[0.6, 0.8], [0.0, 0.0]]
    """
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, n, out=np.zeros_like(x), where=n > 0)


class ProfileRecommender(Recommender):
    """Content-based recommender: cosine between a weighted-mean user profile and item vectors.

    Parameters
    ----------
    item_vectors : DataFrame indexed by item_id, or (ids, array)
        One vector per item (frozen text embeddings, TF-IDF rows, ...). Kept out of
        ``get_params`` (and ``params.json``): after ``fit`` they live in ``item_vectors_``.
    weighting : "uniform", "rating" or "recency"
        How the user's items are weighted in the profile (module docstring).
    half_life_days : float
        Half-life of the ``"recency"`` weights.
    """

    capabilities = frozenset({"similar_items", "fold_in", "save"})

    def __init__(self, item_vectors: pd.DataFrame | tuple | None = None, weighting: str = "uniform",
                 half_life_days: float = 30.0):
        self.item_vectors = item_vectors
        self.weighting = weighting
        self.half_life_days = half_life_days

    def get_params(self) -> dict[str, Any]:
        params = super().get_params()
        params.pop("item_vectors", None)  # arrays, not hyperparameters; saved as item_vectors_
        return params

    # ------------------------------------------------------------------ fitting
    def _weights(self, train: Interactions) -> sp.csr_matrix:
        kind = check_choice(self.weighting, "weighting", ["uniform", "rating", "recency"])
        if kind == "uniform":
            return train.matrix("binary", dtype=np.float64)
        if kind == "rating":
            if not train.has_ratings:
                raise CourseKitError("weighting='rating' needs ratings; these interactions have none. "
                                     "Use weighting='uniform' or 'recency'.")
            r = train.matrix("rating", dtype=np.float64)
            sums = np.asarray(r.sum(axis=1)).ravel()
            counts = np.diff(r.indptr)
            means = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
            w = r.copy()
            w.data = w.data - np.repeat(means, counts)
            w.eliminate_zeros()
            flat = np.diff(w.indptr) == 0  # no rated item, or all ratings equal: uniform
            if flat.any():
                b = train.matrix("binary", dtype=np.float64)
                w = w + sp.diags(flat.astype(np.float64)) @ b
            return sp.csr_matrix(w)
        if not train.has_timestamps:
            raise CourseKitError("weighting='recency' needs timestamps.")
        if not self.half_life_days > 0:
            raise CourseKitError(f"half_life_days must be > 0, got {self.half_life_days}.")
        t = train.timestamps.astype(np.float64)
        frame = pd.DataFrame({"u": train.user_index, "i": train.item_index, "t": t})
        last = frame.groupby(["u", "i"], sort=False)["t"].max().reset_index()
        t_user = frame.groupby("u")["t"].max()
        age_days = (t_user.reindex(last["u"]).to_numpy() - last["t"].to_numpy()) / 86400.0
        w = np.power(2.0, -age_days / float(self.half_life_days))
        return sp.csr_matrix((w, (last["u"].to_numpy(), last["i"].to_numpy())),
                             shape=(train.n_users, train.n_items))

    def _fit(self, train: Interactions) -> None:
        if self.item_vectors is None and not hasattr(self, "item_vectors_"):
            raise CourseKitError("ProfileRecommender needs item_vectors: ProfileRecommender(item_vectors=df) "
                                 "with a DataFrame indexed by item_id (e.g. TextEncoder vectors).")
        if self.item_vectors is not None:
            vectors, has = align_item_vectors(self.item_vectors, train.items)
            missing = int((~has).sum())
            if missing:
                warnings.warn(f"{missing} of {len(has)} items have no vector; they get zeros (score 0).",
                              stacklevel=3)
            self.item_vectors_ = vectors
        unit = unit_rows(self.item_vectors_.astype(np.float64))
        W = self._weights(train)
        norm = np.asarray(abs(W).sum(axis=1)).ravel()
        profile = (W @ unit) / np.maximum(norm, 1e-12)[:, None]
        self.user_vectors_ = unit_rows(profile).astype(np.float32)

    # ------------------------------------------------------------------ scoring
    def _score(self, user_index: np.ndarray) -> np.ndarray:
        unit = unit_rows(self.item_vectors_)
        return self.user_vectors_[user_index] @ unit.T

    def _item_vectors(self) -> np.ndarray:
        return self.item_vectors_

    def _fold_in(self, item_index: np.ndarray, values: np.ndarray | None) -> np.ndarray:
        r"""Cosine of every item to the profile of the history (:meth:`profile`).

        ``weighting="rating"``: ``values`` are ratings, centred by their mean (all equal or none:
        uniform); otherwise each distinct item counts once (a fold-in history has no timestamps,
        so ``"recency"`` weights it uniformly too).
        """
        uniq, inv = np.unique(item_index, return_inverse=True)
        w = np.ones(uniq.size)
        if self.weighting == "rating" and values is not None:
            last = np.zeros(uniq.size)
            last[inv] = values  # the last rating of a repeated item wins, as in training
            centred = last - last.mean()
            if np.any(centred != 0):
                w = centred
        p = (w[:, None] * unit_rows(self.item_vectors_[uniq].astype(np.float64))).sum(axis=0)
        p = unit_rows(p[None, :])[0].astype(np.float32)
        return unit_rows(self.item_vectors_) @ p

    def profile(self, item_ids: ArrayLike, weights: ArrayLike | None = None) -> np.ndarray:
        """Unit profile vector of a new user from item ids (and optional weights), no refit needed."""
        self.check_fitted()
        idx = self.items_.index(item_ids)
        w = np.ones(len(idx)) if weights is None else np.asarray(weights, dtype=np.float64)
        p = (w[:, None] * unit_rows(self.item_vectors_[idx].astype(np.float64))).sum(axis=0)
        return unit_rows(p[None, :])[0].astype(np.float32)
