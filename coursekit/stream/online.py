r"""The online interface: update a user's state after every event, recommend at once.

One interface, :class:`OnlineRecommender`:

``initialize(train)``
    Start from the warm-up interactions (fit what needs fitting, build the users' states).
``update(user, item, timestamp, value=None)``
    One new event (external ids); the user's state changes *now*, no retraining.
``recommend(user, k=10, exclude_seen=True)``
    Top-``k`` ``(item_ids, scores)`` for one user from the current state (1-d arrays,
    padded with id ``-1`` / score ``-inf`` like :meth:`Recommender.recommend`).

Implementations (each documents its update rule with the formula):

=========================================================  ==============================================
:class:`~coursekit.stream.profile.DecayedProfile`          exponentially decayed mean of the item vectors
                                                           a user touched
:class:`~coursekit.stream.foldin.FoldInUpdater`            exact iALS / BiasedMF fold-in of the user
                                                           vector, item factors fixed
:class:`~coursekit.stream.sgd.OnlineSGD`                   per-event SGD on the user (optionally item)
                                                           factors
:class:`~coursekit.stream.sequence.SequenceUpdater`        a sequence model (SASRec / BERT4Rec) over the
                                                           user's last N items
:class:`~coursekit.stream.baselines.RecencyPopularity`     decayed item counts, the same list for everyone
:class:`~coursekit.stream.baselines.FrozenModel`           any coursekit ``Recommender`` trained once (the
                                                           static baseline)
:class:`~coursekit.stream.baselines.PeriodicRetrain`       a ``Recommender`` refitted on everything seen
                                                           every ``period`` events
=========================================================  ==============================================

Single-user operations are vectorised over items (one matrix-vector product for the
scores) and cost :math:`O(f^2)` or less per update where the maths allows it. Internally,
users and items are indices of the universe of ``initialize``'s interactions; the
``*_index`` methods take indices and skip the id lookup (what the prequential loop and the
latency benchmark call).

Updaters whose state is a vector in item space may also support a *negative* update,
:meth:`OnlineRecommender.push_away` (what :class:`coursekit.trust.NotInterested` builds on),
and expose the item vectors they score with, :meth:`OnlineRecommender.scoring_vectors`.

Example
-------
>>> import numpy as np, pandas as pd
>>> from coursekit.interactions import Interactions
>>> from coursekit.stream import DecayedProfile
>>> log = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [10, 11, 12], "timestamp": [0, 5, 9]})
>>> V = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])   # item vectors of items 10, 11, 12
>>> rec = DecayedProfile(V, half_life=10.0).initialize(Interactions.from_frame(log))
>>> rec.update(2, 10, timestamp=19)
>>> rec.recommend(2, k=1)[0].tolist()     # item 12 is seen: 11 is the only candidate left
[11]
"""
from __future__ import annotations

import numpy as np

from coursekit._validation import CourseKitError, NotFittedError, check_positive_int
from coursekit.interactions import Interactions
from coursekit.models.base import Recommender
from coursekit.models.ranking import PAD_ID, top_k

__all__ = ["OnlineRecommender", "top_k_1d", "check_half_life"]


def top_k_1d(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` of one score vector, best first, ties by lower index, ``-inf`` padded as ``-1``.

    The one-row version of :func:`coursekit.models.ranking.top_k` (same result), for latency.

    >>> top_k_1d(np.array([0.1, 0.5, 0.5, -np.inf]), 4)[0].tolist()
    [1, 2, 0, -1]
    """
    n = scores.shape[0]
    k = min(k, n)
    if k < n:
        part = np.argpartition(-scores, k - 1)[:k]
        kth = scores[part].min()
        # all candidates >= the k-th value, so that ties are resolved by index, not by argpartition
        cand = np.flatnonzero(scores >= kth)
        if cand.size > 4 * k + 64:  # a huge tie: fall back to the exact 2-d routine
            idx, val = top_k(scores[None, :], k)
            return idx[0], val[0]
    else:
        cand = np.arange(n)
    order = np.lexsort((cand, -scores[cand]))[:k]
    idx = cand[order]
    val = scores[idx]
    idx = np.where(np.isneginf(val), PAD_ID, idx)
    return idx, val


class OnlineRecommender:
    """Base class: the online interface; subclasses implement ``_init``, ``_update`` and ``_scores``.

    Attributes set by :meth:`initialize`: ``users_``, ``items_`` (the universe), ``n_items``,
    ``item_popularity_`` (event counts, updated online; the fallback for users without any
    event), ``last_time_`` (per user, time of the latest event, or ``-inf``).

    Subclasses that can take a negative event set ``supports_push_away = True`` and implement
    ``_push_away``; those that score with item vectors implement ``_vectors``.
    """

    #: whether :meth:`push_away` is defined for this updater
    supports_push_away: bool = False

    def initialize(self, train: Interactions) -> OnlineRecommender:
        """Build every user's state from ``train`` (the warm-up events) and return ``self``."""
        if not isinstance(train, Interactions):
            raise CourseKitError(f"initialize expects coursekit Interactions, got {type(train).__name__}.")
        self.users_, self.items_ = train.users, train.items
        self.n_items = train.n_items
        self.item_popularity_ = train.item_counts().astype(np.float64)
        self._n_events = train.user_counts().astype(np.int64)
        seen = train.matrix()
        self._seen = [list(r) for r in np.split(seen.indices, seen.indptr[1:-1])]
        self.last_time_ = np.full(train.n_users, -np.inf)
        if len(train) and train.has_timestamps:
            np.maximum.at(self.last_time_, train.user_index, train.timestamps.astype(np.float64))
        self._init(train)
        return self

    def _check_ready(self) -> None:
        if not hasattr(self, "items_"):
            raise NotFittedError(f"{type(self).__name__} has no state yet: call .initialize(train) first.")

    # ------------------------------------------------------------------ public, external ids
    def update(self, user: int, item: int, timestamp: float, value: float | None = None) -> None:
        """Apply one event ``(user, item, timestamp[, value])`` given by external ids."""
        self._check_ready()
        u = int(self.users_.index([user])[0])
        i = int(self.items_.index([item])[0])
        self.update_index(u, i, timestamp, value)

    def recommend(self, user: int, k: int = 10, exclude_seen: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` external item ids and scores for one user (1-d arrays, best first)."""
        self._check_ready()
        u = int(self.users_.index([user])[0])
        idx, val = self.recommend_index(u, k, exclude_seen)
        return np.where(idx >= 0, self.items_.ids[np.maximum(idx, 0)], PAD_ID), val

    def score(self, user: int) -> np.ndarray:
        """Scores of every item for one user, from the current state."""
        self._check_ready()
        return self.score_index(int(self.users_.index([user])[0]))

    # ------------------------------------------------------------------ internal indices
    def update_index(self, u: int, i: int, timestamp: float, value: float | None = None) -> None:
        """:meth:`update` for internal indices (no id lookup)."""
        t = float(timestamp)
        if t < self.last_time_[u]:
            raise CourseKitError(f"event at time {timestamp} is older than user {u}'s last event "
                                 f"({self.last_time_[u]:.0f}); replay events in time order (coursekit.stream.Replay).")
        self._update(u, i, t, value)
        self.last_time_[u] = t
        self._n_events[u] += 1
        self._seen[u].append(i)
        self.item_popularity_[i] += 1.0

    def score_index(self, u: int) -> np.ndarray:
        """:meth:`score` for an internal user index (training popularity for a user without events)."""
        if self._n_events[u] == 0:
            return self._cold_scores()
        return self._scores(u)

    def _cold_scores(self) -> np.ndarray:
        return self.item_popularity_.copy()

    def recommend_index(self, u: int, k: int = 10, exclude_seen: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` internal item indices (``-1`` pads) and scores for internal user ``u``."""
        k = check_positive_int(k, "k")
        s = np.array(self.score_index(u), dtype=np.float64)
        if exclude_seen and self._seen[u]:
            s[self._seen[u]] = -np.inf
        if np.isnan(s).any():
            raise FloatingPointError(f"{type(self).__name__} produced NaN scores; lower the learning rate.")
        return top_k_1d(s, k)

    def seen_items(self, u: int) -> np.ndarray:
        """Internal indices of the items user ``u`` has touched: training items once each, then every streamed event."""
        return np.asarray(self._seen[u], dtype=np.int64)

    # ------------------------------------------------------------------ negative events, item vectors
    def push_away(self, user: int, item: int, weight: float | None = None) -> None:
        """Move ``user``'s state away from ``item`` (external ids): a negative event of weight ``weight``.

        Each updater that supports it (``supports_push_away``) documents its rule; ``weight=None``
        is the weight of one ordinary event. The item is not hidden: that is up to the caller.
        """
        self._check_ready()
        self.push_away_index(int(self.users_.index([user])[0]), int(self.items_.index([item])[0]), weight)

    def push_away_index(self, u: int, i: int, weight: float | None = None) -> None:
        """:meth:`push_away` for internal indices."""
        if not self.supports_push_away:
            raise CourseKitError(f"{type(self).__name__} has no negative ('not interested') update; "
                                 "DecayedProfile and FoldInUpdater(IALS) have one.")
        if weight is not None and not float(weight) >= 0:
            raise CourseKitError(f"weight must be >= 0, got {weight!r}.")
        self._push_away(u, i, None if weight is None else float(weight))

    def scoring_vectors(self) -> np.ndarray:
        """The item vectors this updater scores with, one row per item index (read-only)."""
        self._check_ready()
        vectors = self._vectors()
        if vectors is None:
            raise CourseKitError(f"{type(self).__name__} exposes no item vectors.")
        view = vectors.view()
        view.setflags(write=False)
        return view

    # ------------------------------------------------------------------ to implement
    def _init(self, train: Interactions) -> None:
        raise NotImplementedError

    def _update(self, u: int, i: int, t: float, value: float | None) -> None:
        raise NotImplementedError

    def _scores(self, u: int) -> np.ndarray:
        raise NotImplementedError

    def _push_away(self, u: int, i: int, weight: float | None) -> None:
        raise NotImplementedError

    def _vectors(self) -> np.ndarray | None:
        return None

    def __repr__(self) -> str:
        params = {k: v for k, v in vars(self).items() if not k.startswith("_") and not k.endswith("_")
                  and k != "n_items" and not isinstance(v, (np.ndarray, Recommender))}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in params.items())})"




def check_half_life(h: float) -> float:
    """``h`` as a positive float (``np.inf``: never forget), or a clear error.

    >>> check_half_life(3600)
    3600.0
    """
    try:
        h = float(h)
    except (TypeError, ValueError):
        raise CourseKitError(f"half_life must be a positive number of seconds (or inf), got {h!r}.") from None
    if not h > 0:
        raise CourseKitError(f"half_life must be > 0 seconds (np.inf: no forgetting), got {h!r}.")
    return h
