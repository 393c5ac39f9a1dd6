r"""Decayed profiles: a user is a time-weighted mean of the vectors of the items they touched.

The simplest real-time updater that knows what items are like: with item vectors from any
source (text embeddings, factor models), one event moves the user's profile towards the
item's vector in :math:`O(d)`, and old events fade with a half-life.

Example
-------
>>> import numpy as np, pandas as pd
>>> from coursekit.interactions import Interactions
>>> log = pd.DataFrame({"user_id": [1, 1], "item_id": [0, 2], "timestamp": [0, 10]})
>>> rec = DecayedProfile(np.eye(3), half_life=np.inf).initialize(Interactions.from_frame(log, items=[0, 1, 2]))
>>> rec.profile(1).tolist()
[0.5, 0.0, 0.5]
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from coursekit._validation import CourseKitError
from coursekit.interactions import Interactions
from coursekit.models.base import Recommender
from coursekit.stream.online import OnlineRecommender, check_half_life

__all__ = ["DecayedProfile"]


def _item_vectors_of(source: np.ndarray | Recommender) -> np.ndarray:
    if isinstance(source, Recommender):
        return np.asarray(source.item_vectors(), dtype=np.float64)
    return np.asarray(source, dtype=np.float64)


class DecayedProfile(OnlineRecommender):
    r"""A user is the exponentially decayed mean of the vectors of the items they touched.

    With item vectors :math:`v_i` and half-life :math:`h`, an event :math:`(u, i, t, w)`
    (weight :math:`w`, default 1) updates the decayed sums

    .. math::

        S_u \leftarrow 2^{-\Delta t / h} S_u + w\, v_i, \qquad
        W_u \leftarrow 2^{-\Delta t / h} W_u + w, \qquad
        p_u = S_u / W_u, \qquad \Delta t = t - t_u^{\text{last}},

    so :math:`p_u = \sum_j 2^{-(t - t_j)/h} w_j v_{i_j} / \sum_j 2^{-(t - t_j)/h} w_j` is a
    weighted mean in which an event :math:`h` seconds old counts half. With
    :math:`h \to \infty` it is the plain mean of the history's vectors. Scores
    :math:`s_{ui} = v_i^\top p_u`. An update costs :math:`O(d)`, a recommendation
    :math:`O(|I| d)`.

    **Negative event** (:meth:`push_away`, "not interested"), weight :math:`w` (default 1):

    .. math:: S_u \leftarrow S_u - w\, v_i \quad (W_u \text{ unchanged}), \qquad
              \Delta s_{uj} = -\frac{w}{W_u}\, v_j^\top v_i ,

    so every item's score falls in proportion to its similarity to :math:`i`. It counts as of
    the user's latest event and decays with the rest of the profile afterwards; a user without
    events has no profile to move.

    Parameters
    ----------
    item_vectors : array (n_items, d) or fitted Recommender
        Vectors aligned with the item indices of the universe (MiniLM text vectors, MF
        factors, ...); a fitted model gives its ``item_vectors()``.
    half_life : float
        :math:`h` in seconds (``np.inf``: never forget).
    normalize : bool
        L2-normalise the item vectors first (cosine geometry; right for text embeddings).
    use_values : bool
        Weight each event by its ``value`` (e.g. the rating) instead of 1.

    Examples
    --------
    >>> import pandas as pd
    >>> from coursekit.interactions import Interactions
    >>> V = np.eye(3)
    >>> log = pd.DataFrame({"user_id": [1, 1], "item_id": [0, 1], "timestamp": [0, 10]})
    >>> rec = DecayedProfile(V, half_life=10.0, normalize=False).initialize(
    ...     Interactions.from_frame(log, items=[0, 1, 2]))
    >>> rec.profile(1).round(4).tolist()     # (0.5 e0 + e1) / 1.5
    [0.3333, 0.6667, 0.0]
    """

    supports_push_away = True

    def __init__(self, item_vectors: np.ndarray | Recommender, half_life: float = 7 * 86400.0,
                 normalize: bool = True, use_values: bool = False):
        self.item_vectors = item_vectors
        self.half_life = half_life
        self.normalize = normalize
        self.use_values = use_values

    def _init(self, train: Interactions) -> None:
        h = check_half_life(self.half_life)
        V = _item_vectors_of(self.item_vectors)
        if V.ndim != 2 or V.shape[0] != train.n_items:
            raise CourseKitError(f"item_vectors must have one row per item of the universe ({train.n_items}), "
                                 f"got shape {V.shape}. Align them with train.items.ids.")
        if self.normalize:
            norms = np.linalg.norm(V, axis=1, keepdims=True)
            V = V / np.where(norms > 0, norms, 1.0)
        self._V = np.ascontiguousarray(V)
        w = self._weights(train)
        if len(train) and train.has_timestamps and np.isfinite(h):
            age = self.last_time_[train.user_index] - train.timestamps.astype(np.float64)
            w = w * np.exp2(-age / h)
        Wm = sp.csr_matrix((w, (train.user_index, train.item_index)), shape=(train.n_users, train.n_items))
        self._S = np.asarray(Wm @ self._V)
        self._W = np.asarray(Wm.sum(axis=1)).ravel()

    def _weights(self, train: Interactions) -> np.ndarray:
        if not self.use_values:
            return np.ones(len(train))
        v = train.ratings
        if np.isnan(v).any():
            raise CourseKitError("use_values=True needs a value (rating) for every event; some are NaN.")
        return v

    def _update(self, u: int, i: int, t: float, value: float | None) -> None:
        w = 1.0
        if self.use_values:
            if value is None or not np.isfinite(value):
                raise CourseKitError("use_values=True: update needs a finite value (e.g. the rating).")
            w = float(value)
        last = self.last_time_[u]
        if np.isfinite(last) and np.isfinite(self.half_life):
            decay = 2.0 ** (-(t - last) / self.half_life)
            self._S[u] *= decay
            self._W[u] *= decay
        self._S[u] += w * self._V[i]
        self._W[u] += w

    def profile(self, user: int) -> np.ndarray:
        """:math:`p_u = S_u / W_u` for an external user id (zeros for a user without events)."""
        self._check_ready()
        u = int(self.users_.index([user])[0])
        return self._profile(u)

    def sums(self, user: int) -> tuple[np.ndarray, float]:
        """The decayed sums :math:`(S_u, W_u)` for an external user id, as of the user's latest event (copies)."""
        self._check_ready()
        u = int(self.users_.index([user])[0])
        return self._S[u].copy(), float(self._W[u])

    def _profile(self, u: int) -> np.ndarray:
        return self._S[u] / self._W[u] if self._W[u] > 0 else np.zeros(self._V.shape[1])

    def _scores(self, u: int) -> np.ndarray:
        return self._V @ self._profile(u)

    def _push_away(self, u: int, i: int, weight: float | None) -> None:
        if self._W[u] > 0:
            self._S[u] -= (1.0 if weight is None else weight) * self._V[i]

    def _vectors(self) -> np.ndarray:
        return self._V
