r"""Bandit problems for the exploration section of lesson 06: arms with content vectors, true expected rewards.

A :class:`BanditProblem` holds ``R`` independent *runs* (one per seed). In run :math:`r` a user arrives
and stays for the whole horizon; the arms are :math:`K` candidate items with content vectors
:math:`x_{rk} \in \mathbb{R}^d` (fixed for the run) and a Bernoulli reward with **known** mean
:math:`\mu_{rk}` (a purchase, a click). Knowing :math:`\mu` is what makes the pseudo-regret of
:mod:`coursekit.coldstart.bandits` computable:

.. math:: \mathrm{Regret}_r(T) = \sum_{t=1}^{T} \big(\max_k \mu_{rk} - \mu_{r a_t}\big).

Where the means come from
-------------------------
* :func:`shop_problem`: **ground truth**. The shop's simulator knows every user's taste
  :math:`\theta_u` and every item's attributes :math:`x_i`, and the purchase probability of a user
  looking at an item is :math:`\mu_{ui} = \sigma(\theta_u^\top x_i - c_2)`
  (:func:`coursekit.datasets.shop.purchase_probability`). The arms are, by default, the shop's
  late-released (new) items; their content vectors are their true attributes (or any item vectors
  you pass, e.g. MiniLM text embeddings): content that exists the moment an item is listed.
* :func:`movielens_problem`: **a model, not the truth.** MovieLens has no ground truth, so the mean
  reward of a (user, movie) pair is the score of an iALS model fitted on *all* ratings, clipped to
  :math:`[0, 1]`. A bandit that does well here does well against that model's opinion; conclusions
  carry over to real users only as far as the model is right. Content vectors: genres and decade.
* :func:`bernoulli_problem`: any means you choose (tests, toy examples).

>>> p = bernoulli_problem([[0.1, 0.5, 0.2]], seeds=[7])
>>> p.n_runs, p.n_arms, p.dim, p.best_means.tolist()
(1, 3, 3, [0.5])
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from coursekit._validation import CourseKitError, check_positive_int

__all__ = ["BanditProblem", "bernoulli_problem", "shop_problem", "movielens_problem", "movielens_item_features"]


@dataclass(frozen=True)
class BanditProblem:
    """``R`` independent runs of a ``K``-armed Bernoulli bandit whose arms carry content vectors.

    Attributes
    ----------
    features : array (R, K, d)
        Content vector of every arm in every run.
    means : array (R, K)
        True expected reward :math:`\\mu_{rk} \\in [0, 1]` (the regret needs it; policies never see it).
    seeds : tuple of int, length R
        The seed of each run (the run's user and candidates, its reward noise and the policies' draws).
    name : str
    runs : DataFrame
        One row per run: ``seed`` and whatever the builder adds (``user_id``, ``best_item``, ``best_mean``).
    item_ids : array (R, K)
        Item id of every arm (``arange(K)`` for toy problems).
    """

    features: np.ndarray
    means: np.ndarray
    seeds: tuple
    name: str = "bernoulli"
    runs: pd.DataFrame = field(default=None, repr=False)
    item_ids: np.ndarray = field(default=None, repr=False)

    def __post_init__(self) -> None:
        means = np.asarray(self.means, dtype=np.float64)
        feats = np.asarray(self.features, dtype=np.float64)
        if means.ndim != 2 or means.shape[1] == 0 or means.shape[0] == 0:
            raise CourseKitError(f"means must have shape (n_runs, n_arms) with at least one run and one arm, "
                                 f"got shape {means.shape}. An empty list of arms cannot be played.")
        if not np.all(np.isfinite(means)) or means.min() < 0 or means.max() > 1:
            raise CourseKitError("means must be Bernoulli reward probabilities in [0, 1].")
        if feats.ndim != 3 or feats.shape[:2] != means.shape or feats.shape[2] == 0:
            raise CourseKitError(f"features must have shape (n_runs, n_arms, d) = {means.shape + ('d',)}, "
                                 f"got {feats.shape}.")
        if not np.all(np.isfinite(feats)):
            raise CourseKitError("features must be finite numbers.")
        seeds = tuple(int(s) for s in self.seeds)
        if len(seeds) != means.shape[0]:
            raise CourseKitError(f"one seed per run is needed: {means.shape[0]} runs, {len(seeds)} seeds.")
        object.__setattr__(self, "means", means)
        object.__setattr__(self, "features", feats)
        object.__setattr__(self, "seeds", seeds)
        if self.item_ids is None:
            object.__setattr__(self, "item_ids", np.tile(np.arange(means.shape[1]), (means.shape[0], 1)))
        if self.runs is None:
            object.__setattr__(self, "runs", pd.DataFrame({"seed": list(seeds)}))

    @property
    def n_runs(self) -> int:
        return self.means.shape[0]

    @property
    def n_arms(self) -> int:
        return self.means.shape[1]

    @property
    def dim(self) -> int:
        return self.features.shape[2]

    @property
    def best_means(self) -> np.ndarray:
        """:math:`\\mu^*_r = \\max_k \\mu_{rk}`, shape (R,)."""
        return self.means.max(axis=1)

    def gaps(self, arms: np.ndarray) -> np.ndarray:
        """Per-round pseudo-regret :math:`\\mu^*_r - \\mu_{r a_r}` of one arm per run (arms shape (R,))."""
        arms = np.asarray(arms)
        return self.best_means - self.means[np.arange(self.n_runs), arms]

    def select_runs(self, which: ArrayLike) -> BanditProblem:
        """The problem restricted to some runs (positions)."""
        which = np.atleast_1d(np.asarray(which, dtype=np.int64))
        return BanditProblem(self.features[which], self.means[which], tuple(np.asarray(self.seeds)[which]),
                             self.name, self.runs.iloc[which].reset_index(drop=True), self.item_ids[which])


def _check_seeds(seeds) -> tuple:
    seeds = tuple(seeds)
    if not seeds:
        raise CourseKitError("seeds must hold at least one seed (one run per seed).")
    for s in seeds:
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)) or s < 0:
            raise CourseKitError(f"seeds must be non-negative integers, got {s!r}.")
    if len(set(seeds)) != len(seeds):
        raise CourseKitError(f"seeds must be distinct, got {list(seeds)}.")
    return tuple(int(s) for s in seeds)


def bernoulli_problem(means: ArrayLike, features: ArrayLike | None = None, seeds: Iterable[int] | None = None,
                      name: str = "bernoulli") -> BanditProblem:
    """A Bernoulli bandit with the given means; ``features`` default to one-hot arm indicators.

    ``means`` of shape (K,) is one run (or repeated for every seed); shape (R, K) gives R runs.

    >>> bernoulli_problem([0.2, 0.9], seeds=[0, 1]).means.tolist()
    [[0.2, 0.9], [0.2, 0.9]]
    """
    m = np.asarray(means, dtype=np.float64)
    if m.ndim == 1:
        m = m[None, :]
    if m.ndim != 2 or m.shape[1] == 0:
        raise CourseKitError(f"means must be a non-empty list of arm means (or n_runs x n_arms), got shape "
                             f"{np.shape(means)}; a bandit needs at least one arm.")
    seeds = _check_seeds(range(m.shape[0]) if seeds is None else seeds)
    if m.shape[0] == 1 and len(seeds) > 1:
        m = np.repeat(m, len(seeds), axis=0)
    if features is None:
        features = np.broadcast_to(np.eye(m.shape[1]), (m.shape[0], m.shape[1], m.shape[1]))
    else:
        features = np.asarray(features, dtype=np.float64)
        if features.ndim == 2:
            features = np.broadcast_to(features, (m.shape[0],) + features.shape)
    return BanditProblem(np.array(features), m, seeds, name)


def _item_vector_lookup(item_vectors, item_ids: np.ndarray, all_ids: np.ndarray) -> np.ndarray:
    """Rows of ``item_vectors`` (DataFrame indexed by item id, or array aligned with ``all_ids``) for ``item_ids``."""
    if isinstance(item_vectors, pd.DataFrame):
        missing = ~np.isin(item_ids, item_vectors.index.to_numpy())
        if missing.any():
            raise CourseKitError(f"item_vectors has no row for item id(s) {item_ids[missing][:5].tolist()}.")
        return item_vectors.loc[item_ids].to_numpy(dtype=np.float64)
    V = np.asarray(item_vectors, dtype=np.float64)
    if V.ndim != 2 or V.shape[0] != len(all_ids):
        raise CourseKitError(f"item_vectors must be a DataFrame indexed by item id or an array with one row per "
                             f"item ({len(all_ids)} rows, item-id order), got shape {V.shape}.")
    pos = pd.Index(all_ids).get_indexer(item_ids)
    return V[pos]


def shop_problem(data: Any, n_arms: int = 50, seeds: Iterable[int] = range(5), candidates: str = "late",
                 item_vectors: ArrayLike | None = None) -> BanditProblem:
    r"""Runs on the shop with **ground-truth** rewards :math:`\mu_{ui} = \sigma(\theta_u^\top x_i - c_2)`.

    Run ``seed``: ``numpy.random.default_rng(seed)`` draws a user (uniformly) and ``n_arms`` candidate
    items without replacement from the pool: the late-released items (``candidates="late"``, the shop's
    new products) or the whole catalogue (``"all"``). Arm content vectors: the items' true binary
    attributes (category, brand, price band, three words; :math:`d = 71`), or rows of ``item_vectors``
    (e.g. MiniLM embeddings of the descriptions; DataFrame indexed by item id, or an array in item-id order).

    >>> from coursekit.datasets import make_shop
    >>> shop = make_shop(n_users=30, n_items=60, n_events=300, seed=0, late_item_frac=0.5)
    >>> p = shop_problem(shop, n_arms=10, seeds=[0, 1])
    >>> p.features.shape, bool((p.means > 0).all() and (p.means < 1).all())
    ((2, 10, 71), True)
    """
    from coursekit.datasets.shop import purchase_probability

    n_arms = check_positive_int(n_arms, "n_arms")
    seeds = _check_seeds(seeds)
    truth = getattr(data, "truth", None) or {}
    if "item_attributes" not in truth:
        raise CourseKitError("shop_problem needs the shop's ground truth (data.truth); load it with "
                             "coursekit.load_dataset('shop'). For MovieLens use movielens_problem.")
    attrs = truth["item_attributes"]
    all_ids = attrs.index.to_numpy()
    if candidates == "late":
        release = truth["release_time"]
        pool = release.index[release.to_numpy() > release.min()].to_numpy()
    elif candidates == "all":
        pool = all_ids
    else:
        raise CourseKitError(f"candidates must be 'late' or 'all', got {candidates!r}.")
    if n_arms > len(pool):
        raise CourseKitError(f"n_arms={n_arms} is more than the {len(pool)} candidate items "
                             f"(candidates={candidates!r}); ask for fewer arms or use candidates='all'.")
    user_pool = truth["user_tastes"].index.to_numpy()
    users, items = [], []
    for s in seeds:
        rng = np.random.default_rng(s)
        users.append(int(rng.choice(user_pool)))
        items.append(np.sort(rng.choice(pool, size=n_arms, replace=False)))
    items = np.array(items)
    # taste at time 0 for every run's user (drift is not part of this problem)
    means = np.vstack([purchase_probability(truth, [u], it)[0] for u, it in zip(users, items)])
    if item_vectors is None:
        feats = attrs.to_numpy(dtype=np.float64)[pd.Index(all_ids).get_indexer(items.ravel())]
    else:
        feats = _item_vector_lookup(item_vectors, items.ravel(), all_ids)
    feats = feats.reshape(len(seeds), n_arms, -1)
    best = means.argmax(axis=1)
    runs = pd.DataFrame({"seed": list(seeds), "user_id": users, "best_item": items[np.arange(len(seeds)), best],
                         "best_mean": means.max(axis=1), "mean_of_arms": means.mean(axis=1)})
    return BanditProblem(feats, means, seeds, "shop (ground truth)", runs, items)


def movielens_item_features(items: pd.DataFrame) -> pd.DataFrame:
    """Content that exists when a film is released: genre indicators and decade one-hot (no user tags).

    >>> items = pd.DataFrame({"item_id": [1, 2], "genres": [["Comedy"], ["Drama", "Comedy"]], "year": [1995, 2003]})
    >>> movielens_item_features(items).to_numpy().tolist()
    [[1.0, 0.0, 1.0, 0.0], [1.0, 1.0, 0.0, 1.0]]
    """
    genres = items["genres"].map(lambda g: [x for x in g if x != "(no genres listed)"])
    names = sorted({g for gs in genres for g in gs})
    G = np.zeros((len(items), len(names)))
    col = {g: j for j, g in enumerate(names)}
    rows = np.repeat(np.arange(len(items)), genres.map(len).to_numpy())
    cols = np.array([col[g] for gs in genres for g in gs], dtype=np.int64)
    G[rows, cols] = 1.0
    year = pd.to_numeric(items["year"], errors="coerce")
    decade = (year // 10 * 10).fillna(-1).astype(int)
    dec = pd.get_dummies(decade.map(lambda d: f"decade={d}" if d >= 0 else "decade=unknown")).astype(float)
    out = pd.concat([pd.DataFrame(G, columns=[f"genre={g}" for g in names]), dec.reset_index(drop=True)], axis=1)
    out.index = pd.Index(items["item_id"].to_numpy(), name="item_id")
    return out


def movielens_problem(data: Any, n_arms: int = 50, seeds: Iterable[int] = range(5), min_ratings: int = 20,
                      factors: int = 32, iterations: int = 8, model: Any = None,
                      item_vectors: ArrayLike | None = None) -> BanditProblem:
    r"""Runs on MovieLens whose mean rewards come from **a model fitted on all data, not from the truth**.

    An :class:`~coursekit.models.IALS` (``factors``, ``iterations``, seed 0) is fitted on every rating
    (or pass a fitted ``model``); the mean reward of user :math:`u` and film :math:`i` is its score
    clipped to :math:`[0, 1]`, :math:`\mu_{ui} = \min(1, \max(0, x_u^\top y_i))` (iALS fits 0/1
    preferences, so its scores live near that range). Run ``seed`` draws a user and ``n_arms`` films
    among those with at least ``min_ratings`` ratings. Content vectors: :func:`movielens_item_features`
    (genres and decade) unless ``item_vectors`` are given.
    """
    from coursekit.models import IALS

    n_arms = check_positive_int(n_arms, "n_arms")
    seeds = _check_seeds(seeds)
    inter = data.to_interactions()
    if model is None:
        model = IALS(factors=factors, iterations=iterations, seed=0).fit(inter)
    counts = inter.frame["item_id"].value_counts()
    pool = np.sort(counts.index[counts.to_numpy() >= min_ratings].to_numpy())
    if n_arms > len(pool):
        raise CourseKitError(f"n_arms={n_arms} is more than the {len(pool)} films with >= {min_ratings} ratings.")
    user_pool = model.users_.ids
    users, items = [], []
    for s in seeds:
        rng = np.random.default_rng(s)
        users.append(rng.choice(user_pool))
        items.append(np.sort(rng.choice(pool, size=n_arms, replace=False)))
    items = np.array(items)
    means = np.vstack([model.score([u], items=it)[0] for u, it in zip(users, items)])
    means = np.clip(means, 0.0, 1.0)
    if item_vectors is None:
        item_vectors = movielens_item_features(data.items)
    feats = _item_vector_lookup(item_vectors, items.ravel(), data.items["item_id"].to_numpy())
    feats = feats.reshape(len(seeds), n_arms, -1)
    best = means.argmax(axis=1)
    runs = pd.DataFrame({"seed": list(seeds), "user_id": users, "best_item": items[np.arange(len(seeds)), best],
                         "best_mean": means.max(axis=1), "mean_of_arms": means.mean(axis=1)})
    return BanditProblem(feats, means, seeds, "MovieLens (rewards from an all-data iALS model)", runs, items)
