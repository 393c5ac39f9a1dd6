r"""Baselines of the online comparison: trending items, a frozen model, periodic retraining.

What real-time updates are measured against: :class:`RecencyPopularity` (the same list for
everyone, of what is popular *now*), :class:`FrozenModel` (trained once on the warm-up) and
:class:`PeriodicRetrain` (refitted from scratch every ``period`` events).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from coursekit._validation import CourseKitError, check_positive_int
from coursekit.interactions import Interactions
from coursekit.models.base import Recommender
from coursekit.stream.online import OnlineRecommender, check_half_life

__all__ = ["RecencyPopularity", "FrozenModel", "PeriodicRetrain"]


class RecencyPopularity(OnlineRecommender):
    r"""Online popularity with exponentially decayed counts: what is trending *now*.

    .. math:: n_i(t) = \sum_{e \text{ on } i} 2^{-(t - t_e)/h}

    Instead of decaying every count at each event (:math:`O(|I|)`), counts are kept in a
    moving unit: an event at time :math:`t` adds :math:`2^{(t - t_0)/h}` to its item, and
    :math:`n_i(t) = 2^{-(t-t_0)/h}\,\tilde n_i`, a factor common to all items that does not
    change the ranking. (The reference :math:`t_0` is moved, rescaling all counts once,
    before the factor overflows.) An update is :math:`O(1)`.

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({"user_id": [1, 2, 3], "item_id": [5, 5, 6], "timestamp": [0, 0, 0]})
    >>> rec = RecencyPopularity(half_life=10.0).initialize(Interactions.from_frame(log))
    >>> rec.update(3, 6, timestamp=10)     # item 5: 2 * 1/2 = 1 now; item 6: 1/2 + 1 = 1.5
    >>> rec.recommend(1, k=1)[0].tolist()
    [6]
    """

    def __init__(self, half_life: float = 7 * 86400.0):
        self.half_life = half_life

    def _init(self, train: Interactions) -> None:
        h = check_half_life(self.half_life)
        if not np.isfinite(h):
            raise CourseKitError("RecencyPopularity needs a finite half_life (inf is plain MostPopular).")
        t = train.timestamps.astype(np.float64) if len(train) else np.zeros(0)
        self._t0 = float(t.max()) if t.size else 0.0
        self._counts = np.bincount(train.item_index, weights=np.exp2((t - self._t0) / h), minlength=train.n_items)

    def _update(self, u: int, i: int, t: float, value: float | None) -> None:
        e = (t - self._t0) / self.half_life
        if e > 500:  # rescale to a new reference time
            self._counts *= 2.0 ** (-e)
            self._t0, e = t, 0.0
        self._counts[i] += 2.0 ** e

    def _scores(self, u: int) -> np.ndarray:
        return self._counts.copy()

    def _cold_scores(self) -> np.ndarray:
        return self._counts.copy()




class FrozenModel(OnlineRecommender):
    """A coursekit ``Recommender`` trained once on the warm-up; updates only extend the seen lists.

    The static baseline of the prequential comparison. If ``model`` is unfitted, ``initialize``
    fits it on the warm-up.
    """

    def __init__(self, model: Recommender):
        self.model = model

    def _init(self, train: Interactions) -> None:
        if not isinstance(self.model, Recommender):
            raise CourseKitError(f"FrozenModel wraps a coursekit Recommender, got {type(self.model).__name__}.")
        if not hasattr(self.model, "seen_"):
            self.model.fit(train)

    def _update(self, u: int, i: int, t: float, value: float | None) -> None:
        pass

    def _scores(self, u: int) -> np.ndarray:
        return self.model.score_indices(np.array([u]))[0]

    def score_index(self, u: int) -> np.ndarray:
        return self._scores(u)  # the model's own cold-user rule (training popularity)


class PeriodicRetrain(OnlineRecommender):
    """A ``Recommender`` refitted from scratch on every event seen so far, every ``period`` events.

    Between refits it behaves like :class:`FrozenModel`. ``factory()`` returns a new unfitted model.
    """

    def __init__(self, factory: Callable[[], Recommender], period: int = 5000):
        self.factory = factory
        self.period = period

    def _init(self, train: Interactions) -> None:
        check_positive_int(self.period, "period")
        self._base = train
        self._new: list[tuple[int, int, float, float]] = []
        self.n_refits_ = 0
        self._fit(train)

    def _fit(self, data: Interactions) -> None:
        self.model_ = self.factory()
        self.model_.fit(data)

    def _update(self, u: int, i: int, t: float, value: float | None) -> None:
        self._new.append((u, i, t, np.nan if value is None else float(value)))
        if len(self._new) % self.period == 0:
            self._fit(self.data_so_far())
            self.n_refits_ += 1

    def data_so_far(self) -> Interactions:
        """Warm-up plus every streamed event so far, over the same universe."""
        u, i, t, v = (np.array(c) for c in zip(*self._new)) if self._new else (np.zeros(0, int),) * 4
        extra = pd.DataFrame({"user_id": self.users_.ids[u.astype(np.int64)],
                              "item_id": self.items_.ids[i.astype(np.int64)],
                              "timestamp": t.astype(np.int64), "rating": v.astype(float)})
        cols = [c for c in ("user_id", "item_id", "timestamp", "rating") if c in self._base.frame.columns]
        frame = pd.concat([self._base.frame[cols], extra[cols]], ignore_index=True)
        return Interactions.from_frame(frame, users=self.users_, items=self.items_)

    def _scores(self, u: int) -> np.ndarray:
        return self.model_.score_indices(np.array([u]))[0]

    def score_index(self, u: int) -> np.ndarray:
        return self._scores(u)
