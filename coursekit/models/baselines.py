r"""Baselines that give every other number in the course its meaning.

* :class:`RandomRecommender` -- uniform random scores (fixed per user and seed).
* :class:`MostPopular` -- :math:`s_{ui} = |\{v : (v, i) \in \mathcal{D}\}|`, the number of
  training events of item ``i``; the same list for everyone.
* :class:`RecencyPopular` -- popularity where each event counts
  :math:`2^{-(t_{\max} - t)/h}`, so with half-life :math:`h` an event from :math:`h`
  seconds before the end of training counts half as much as one at the end.
"""
from __future__ import annotations

import numpy as np

from coursekit._validation import CourseKitError, check_seed
from coursekit.interactions import Interactions
from coursekit.models.base import Recommender


class RandomRecommender(Recommender):
    """Uniformly random scores; a user's scores depend only on ``seed`` and the user index.

    >>> import pandas as pd
    >>> from coursekit.interactions import Interactions
    >>> train = Interactions.from_frame(pd.DataFrame({"user_id": [1, 2], "item_id": [5, 6]}))
    >>> RandomRecommender(seed=0).fit(train).score([1]).shape
    (1, 2)
    """

    def __init__(self, seed: int = 0):
        self.seed = seed

    def _fit(self, train: Interactions) -> None:
        check_seed(self.seed)

    def _score(self, user_index: np.ndarray) -> np.ndarray:
        # a counter-based hash (splitmix64) of (seed, user, item): batch-independent and vectorized
        with np.errstate(over="ignore"):
            key = (np.uint64(self.seed) * np.uint64(0x9E3779B97F4A7C15)
                   + np.asarray(user_index, np.uint64)[:, None] * np.uint64(0xBF58476D1CE4E5B9)
                   + np.arange(self.n_items, dtype=np.uint64)[None, :])
        return _splitmix64(key).astype(np.float64) / 2.0**64


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser: a bijective mixing of 64-bit integers (wraps around on overflow)."""
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


class MostPopular(Recommender):
    """Score = number of training events of the item, identical for every user."""

    def __init__(self):
        pass

    def _fit(self, train: Interactions) -> None:
        self.popularity_ = self.item_popularity_

    def _score(self, user_index: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.popularity_, (len(user_index), self.n_items)).copy()


class RecencyPopular(Recommender):
    r"""Popularity with exponentially decayed event weights :math:`w = 2^{-(t_{\max}-t)/h}`.

    Parameters
    ----------
    half_life_days : float
        Half-life :math:`h` in days (> 0). Small values follow what is trending now.
    """

    def __init__(self, half_life_days: float = 30.0):
        self.half_life_days = half_life_days

    def _fit(self, train: Interactions) -> None:
        if not self.half_life_days > 0:
            raise CourseKitError(f"half_life_days must be > 0, got {self.half_life_days!r}.")
        t = train.timestamps.astype(np.float64)
        age_days = (t.max() - t) / 86400.0
        w = np.exp2(-age_days / self.half_life_days)
        self.popularity_ = np.bincount(train.item_index, weights=w, minlength=self.n_items)

    def _score(self, user_index: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.popularity_, (len(user_index), self.n_items)).copy()
