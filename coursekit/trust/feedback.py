r"""Feedback: "not interested" applied through the real-time updater, effective at once.

:class:`NotInterested` wraps an online recommender of :mod:`coursekit.stream` and adds
:meth:`~NotInterested.dismiss`. A dismissal does two things, both before the next request:

1. **Hide** the item from this user for good (its score becomes :math:`-\infty`).
2. **Push the user's state away from it**, so that *similar* items drop too, with the negative
   counterpart of the updater's own positive update (:meth:`OnlineRecommender.push_away
   <coursekit.stream.OnlineRecommender.push_away>`, documented with each updater):

   * :class:`~coursekit.stream.DecayedProfile` (sums :math:`S_u, W_u`, profile :math:`p_u = S_u/W_u`):
     a negative event of weight :math:`w`,

     .. math:: S_u \leftarrow S_u - w\, v_i \quad (W_u \text{ unchanged}), \qquad
               \Delta s_{uj} = -\frac{w}{W_u}\, v_j^\top v_i ,

     so every item's score falls in proportion to its similarity to the dismissed one (cosine with
     ``normalize=True``). The negative event is counted as of the user's latest event and decays
     with the rest of the profile afterwards.
   * :class:`~coursekit.stream.FoldInUpdater` of an iALS model: an observation of preference
     :math:`p_{ui} = 0` with extra confidence :math:`w` (in iALS every unobserved item already has
     :math:`p = 0` at confidence 1; "not interested" makes that zero credible):

     .. math:: A_u \leftarrow A_u + w\, y_i y_i^\top, \quad b_u \text{ unchanged}, \quad x_u = A_u^{-1} b_u .

     By Sherman-Morrison the scores move by
     :math:`\Delta s_{uj} = -\frac{w\,(y_j^\top A_u^{-1} y_i)(y_i^\top x_u)}{1 + w\, y_i^\top A_u^{-1} y_i}`:
     items similar to :math:`i` (in the :math:`A_u^{-1}` metric) drop when :math:`i` was scored high.

Updaters without a negative update (``supports_push_away`` false) can still hide items (``push=False``).

Example
-------
>>> import pandas as pd
>>> from coursekit.interactions import Interactions
>>> from coursekit.stream import DecayedProfile
>>> V = np.array([[1.0, 0.0], [0.9, 0.1], [0.8, 0.2], [0.0, 1.0]])     # items 0-2 alike, 3 apart
>>> log = pd.DataFrame({"user_id": [1, 1], "item_id": [0, 3], "timestamp": [0, 1]})
>>> rec = NotInterested(DecayedProfile(V, half_life=np.inf)).initialize(Interactions.from_frame(log, items=range(4)))
>>> rec.recommend(1, k=2)[0].tolist()
[2, 1]
>>> before = rec.score(1)[1]
>>> rec.dismiss(1, 2)
>>> rec.recommend(1, k=2)[0].tolist()          # 2 is gone at once (padding: nothing else unseen)
[1, -1]
>>> print(f"{before:.3f} -> {rec.score(1)[1]:.3f}")   # and its look-alike 1 falls
0.552 -> 0.057
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from coursekit._validation import CourseKitError, check_positive_int
from coursekit.interactions import Interactions
from coursekit.stream import OnlineRecommender

__all__ = ["NotInterested", "dismissal_effect"]


class NotInterested(OnlineRecommender):
    """An online recommender with a "not interested" button (see the module docstring).

    Parameters
    ----------
    updater : OnlineRecommender
        Not yet initialised; :meth:`initialize` initialises it. ``DecayedProfile`` and
        ``FoldInUpdater`` (iALS) support pushing away; any other works with ``push=False``.
    weight : float, optional
        :math:`w`. Default: 1 (one event's weight) for ``DecayedProfile``, the iALS model's
        :math:`\\alpha` (one event's confidence) for ``FoldInUpdater``.
    push : bool
        Also move the user's state away from the dismissed item (else only hide it).
    """

    def __init__(self, updater: OnlineRecommender, weight: float | None = None, push: bool = True):
        self.updater = updater
        self.weight = weight
        self.push = push

    def _init(self, train: Interactions) -> None:
        if not isinstance(self.updater, OnlineRecommender):
            raise CourseKitError(f"NotInterested wraps an OnlineRecommender (coursekit.stream), "
                                 f"got {type(self.updater).__name__}.")
        if self.push and not self.updater.supports_push_away:
            what = type(self.updater).__name__
            if hasattr(self.updater, "model"):
                what += f"({type(self.updater.model).__name__})"
            raise CourseKitError(f"pushing away is defined for DecayedProfile and FoldInUpdater(IALS), not "
                                 f"{what}; use NotInterested(..., push=False) to only hide items.")
        if self.weight is not None and not float(self.weight) >= 0:
            raise CourseKitError(f"weight must be >= 0, got {self.weight!r}.")
        self.updater.initialize(train)
        self._blocked: dict[int, list[int]] = {}

    def _update(self, u: int, i: int, t: float, value: float | None) -> None:
        self.updater.update_index(u, i, t, value)

    def score_index(self, u: int) -> np.ndarray:
        s = np.array(self.updater.score_index(u), dtype=np.float64)
        if u in self._blocked:
            s[self._blocked[u]] = -np.inf
        return s

    # ------------------------------------------------------------------ the button
    def dismiss(self, user: int, item: int) -> None:
        """User ``user`` is not interested in ``item`` (external ids): effective for the next request."""
        self._check_ready()
        self.dismiss_index(int(self.users_.index([user])[0]), int(self.items_.index([item])[0]))

    def dismiss_index(self, u: int, i: int) -> None:
        """:meth:`dismiss` for internal indices."""
        self._blocked.setdefault(u, []).append(i)
        if self.push:
            self.updater.push_away_index(u, i, self.weight)

    def dismissed(self, user: int) -> np.ndarray:
        """External ids of the items ``user`` dismissed, in order."""
        self._check_ready()
        return self.items_.ids[np.asarray(self._blocked.get(int(self.users_.index([user])[0]), []), dtype=np.int64)]

    def _vectors(self) -> np.ndarray:
        return self.updater.scoring_vectors()


def dismissal_effect(rec: NotInterested, user: int, item: int | None = None, k: int = 10,
                     n_similar: int = 5) -> dict:
    r"""Press "not interested" once and report how the list changes (a demo for the lesson).

    Dismisses ``item`` (default: the user's current top-1) and compares, before and after: the top-``k``
    lists; the score drop :math:`s^{before}_j - s^{after}_j` of the ``n_similar`` items most similar to
    the dismissed one (cosine of the updater's ``scoring_vectors()``, unseen items only) against the mean
    drop of every other unseen item.

    Returns
    -------
    dict with ``dismissed`` (id), ``before``, ``after`` (id lists), ``dismissed_in_after`` (bool),
    ``similar`` (ids), ``similar_drop``, ``other_drop`` (mean score drops), ``similar_drops``,
    ``other_drops`` (the drops item by item, for a standard error), ``n_replaced`` (items of the
    old top-``k`` no longer in the new one), ``table`` (DataFrame: rank, before, after).
    """
    k = check_positive_int(k, "k")
    before, _ = rec.recommend(user, k)
    if item is None:
        item = before[0]
    u = int(rec.users_.index([user])[0])
    i = int(rec.items_.index([item])[0])
    s0 = rec.score_index(u)
    rec.dismiss_index(u, i)
    after, _ = rec.recommend(user, k)
    s1 = rec.score_index(u)
    V = rec.scoring_vectors()
    norms = np.linalg.norm(V, axis=1)
    sim = V @ V[i] / np.where(norms > 0, norms, 1.0) / max(norms[i], 1e-12)
    candidates = np.ones(rec.n_items, bool)
    candidates[rec.seen_items(u)] = False
    candidates[i] = False
    candidates &= np.isfinite(s0) & np.isfinite(s1)
    cand = np.flatnonzero(candidates)
    similar = cand[np.argsort(-sim[cand], kind="stable")[:n_similar]]
    drop = s0 - s1
    other = np.setdiff1d(cand, similar)
    return {
        "dismissed": item, "before": before.tolist(), "after": after.tolist(),
        "dismissed_in_after": bool(item in after.tolist()),
        "similar": rec.items_.ids[similar].tolist(),
        "similar_drop": float(drop[similar].mean()), "other_drop": float(drop[other].mean()) if len(other) else np.nan,
        "similar_drops": drop[similar].astype(np.float64), "other_drops": drop[other].astype(np.float64),
        "n_replaced": int(len(set(before.tolist()) - set(after.tolist()))),
        "table": pd.DataFrame({"rank": np.arange(1, k + 1), "before": before, "after": after}),
    }
