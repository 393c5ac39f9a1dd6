r"""Baselines that give every other number in the course its meaning.

* :class:`RandomRecommender` -- uniform random scores (fixed per user and seed).
* :class:`MostPopular` -- :math:`s_{ui} = |\{v : (v, i) \in \mathcal{D}\}|`, the number of
  training events of item ``i``; the same list for everyone.
* :class:`RecencyPopular` -- popularity where each event counts
  :math:`2^{-(t_{\max} - t)/h}`, so with half-life :math:`h` an event from :math:`h`
  seconds before the end of training counts half as much as one at the end.
* :class:`BaselineOnly` -- for ratings, :math:`\hat r_{ui} = \mu + b_u + b_i`: the global mean plus
  user and item biases, the baseline every rating model has to beat.
"""
from __future__ import annotations

import numpy as np

from coursekit._validation import CourseKitError, check_nonneg_number, check_positive_int, check_seed
from coursekit.interactions import Interactions
from coursekit.models.base import Recommender
from coursekit.models.rating_solvers import rated_events, required_ratings

__all__ = ["RandomRecommender", "MostPopular", "RecencyPopular", "BaselineOnly"]


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


class BaselineOnly(Recommender):
    r"""Global mean plus user and item biases, :math:`\hat r_{ui} = \mu + b_u + b_i`.

    Minimises :math:`\sum_{(u,i)} (r_{ui}-\mu-b_u-b_i)^2 + \lambda(\sum_u b_u^2 + \sum_i b_i^2)`
    by alternating closed-form updates (see the module docstring), items first.

    Parameters
    ----------
    reg : float
        :math:`\lambda \ge 0`, in units of "ratings": a bias estimated from :math:`n`
        ratings is shrunk by the factor :math:`n / (n + \lambda)`.
    n_epochs : int
        Alternating rounds (each round solves all items, then all users, exactly).
    seed : int
        Accepted for a uniform API; the fit is deterministic and uses no randomness.

    Examples
    --------
    >>> import pandas as pd
    >>> from coursekit.interactions import Interactions
    >>> log = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [10, 20, 10], "rating": [4.0, 2.0, 5.0]})
    >>> m = BaselineOnly(reg=0.0, n_epochs=50).fit(Interactions.from_frame(log))
    >>> np.round(m.predict_rating([1, 1, 2], [10, 20, 10]), 3).tolist()  # 3 parameters fit 3 ratings
    [4.0, 2.0, 5.0]
    """

    capabilities = frozenset({"ratings", "fold_in", "save"})

    def __init__(self, reg: float = 3.0, n_epochs: int = 10, seed: int = 0, clip: bool = True):
        self.reg = reg
        self.n_epochs = n_epochs
        self.seed = seed
        self.clip = clip

    def _fit(self, train: Interactions) -> None:
        check_seed(self.seed)
        reg = check_nonneg_number(self.reg, "reg")
        n_epochs = check_positive_int(self.n_epochs, "n_epochs")
        u, i, r = rated_events(train, type(self).__name__)
        n_users, n_items = train.n_users, train.n_items
        self.mu_ = float(r.mean())
        self.rating_min_, self.rating_max_ = float(r.min()), float(r.max())
        nu = np.bincount(u, minlength=n_users).astype(np.float64)
        ni = np.bincount(i, minlength=n_items).astype(np.float64)
        bu, bi = np.zeros(n_users), np.zeros(n_items)
        den_u, den_i = np.maximum(reg + nu, 1e-300), np.maximum(reg + ni, 1e-300)  # 0/0 -> 0 for cold rows
        for _ in range(n_epochs):
            bi = np.bincount(i, r - self.mu_ - bu[u], minlength=n_items) / den_i
            bu = np.bincount(u, r - self.mu_ - bi[i], minlength=n_users) / den_u
        self.user_bias_, self.item_bias_ = bu, bi

    def _raw(self, user_index: np.ndarray, item_index: np.ndarray) -> np.ndarray:
        return self.mu_ + self.user_bias_[user_index] + self.item_bias_[item_index]

    def _score(self, user_index: np.ndarray) -> np.ndarray:
        return self.mu_ + self.user_bias_[user_index][:, None] + self.item_bias_[None, :]

    def _predict_rating(self, user_index: np.ndarray, item_index: np.ndarray) -> np.ndarray:
        pred = self._raw(user_index, item_index)
        return np.clip(pred, self.rating_min_, self.rating_max_) if self.clip else pred

    def _fold_in(self, item_index: np.ndarray, values: np.ndarray | None) -> np.ndarray:
        r"""The user step for a new history: :math:`b_u = \sum_{i \in H} (r_{ui} - \mu - b_i) / (\lambda + |H|)`."""
        r = required_ratings(values, item_index.size, type(self).__name__)
        den = max(check_nonneg_number(self.reg, "reg") + item_index.size, 1e-300)
        b_u = float(np.sum(r - self.mu_ - self.item_bias_[item_index])) / den
        return self.mu_ + b_u + self.item_bias_
