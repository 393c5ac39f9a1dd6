r"""An online shop to run experiments in: arrivals, slates, clicks, purchases and revenue from the truth.

Offline metrics say which model ranks held-out events higher; a business asks what a model
*earns* when it is shown to customers. :class:`OnlineShop` plays the customers of the synthetic
shop (:func:`coursekit.datasets.load_dataset` ``("shop")``) against any policy, with a
**position-based click model** (Craswell et al. 2008) on the shop's ground truth. A request of user
:math:`u` at time :math:`t` shows a slate of :math:`K` items; the item at position :math:`p`
(:math:`p = 0, \dots, K-1`) is

.. math::

    P(\text{examined}) = e_p = \frac{1}{\log_2(p + 2)}, \qquad
    P(\text{click} \mid \text{examined}) = \sigma(a_{ui}(t) - c_1), \qquad
    P(\text{purchase} \mid \text{examined}) = \sigma(a_{ui}(t) - c_2),

with :math:`a_{ui}(t)` the true affinity (:func:`coursekit.datasets.shop.affinity`) and
:math:`c_1 < c_2` the shop's ``click_cut`` and ``purchase_cut``: the ordered logit that generated
the historical log, so a purchase implies a click. Revenue is price times purchase
(:func:`~coursekit.business.prices.item_prices`). Items not released by :math:`t` and padding
(item id ``-1``) are never clicked.

* :meth:`OnlineShop.arrivals` -- requests of a time window: each user arrives as a Poisson process
  with rate proportional to their true activity.
* :meth:`OnlineShop.expected` -- the exact per-slot probabilities and expected revenue.
* :meth:`OnlineShop.serve` -- one sampled impression log: a row per (request, position).
* Policies are callables ``policy(user_ids, times) -> slates`` (or ``(slates, propensities)``):
  :func:`recommender_policy` wraps a fitted model, :func:`random_policy` shows uniform random items.

>>> from coursekit.datasets import make_shop
>>> shop = OnlineShop(make_shop(n_users=30, n_items=20, n_events=300, seed=0))
>>> requests = shop.arrivals(days=7, seed=1)
>>> log = shop.serve(random_policy(shop.item_ids, k=5, seed=0), requests, seed=0)
>>> log.columns.tolist()[:6]
['request', 'user_id', 'time', 'position', 'item_id', 'propensity']
>>> bool(((log["p_click"] >= 0) & (log["p_click"] <= 1)).all())
True
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from coursekit._validation import (
    CourseKitError,
    UnknownIdError,
    check_id_array,
    check_positive_int,
    check_positive_number,
    check_seed,
)
from coursekit.business.prices import item_prices
from coursekit.datasets.shop.params import DAY
from coursekit.datasets.shop.truth import taste_at

__all__ = ["OnlineShop", "examination_probabilities", "recommender_policy", "random_policy", "fixed_policy"]

Policy = Callable[[np.ndarray, np.ndarray], Any]


def examination_probabilities(k: int) -> np.ndarray:
    r"""The position bias :math:`e_p = 1/\log_2(p + 2)` for positions :math:`p = 0, \dots, k-1`.

    The same discount as DCG: the top slot is always looked at, the tenth about 29 % of the time.

    >>> examination_probabilities(3).round(3).tolist()
    [1.0, 0.631, 0.5]
    """
    k = check_positive_int(k, "k")
    return 1.0 / np.log2(np.arange(k) + 2.0)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


class OnlineShop:
    r"""The shop's customers, answering slates with clicks and purchases drawn from the ground truth.

    Parameters
    ----------
    data : Dataset
        A shop (``load_dataset("shop")`` or ``make_shop(...)``); it must carry ``truth``.
    prices : Series, optional
        Price per item id; default :func:`~coursekit.business.prices.item_prices` ``(data.items, seed)``.
    seed : int
        Default seed of :meth:`arrivals` and :meth:`serve` and the seed of the default prices.
    examination : array, optional
        :math:`P(\text{examined})` per position (at least as long as the slates served); default
        :func:`examination_probabilities`.

    Attributes
    ----------
    item_ids, user_ids : int arrays
        The catalogue and the customers.
    prices : Series
        Price per item id.
    start : int
        Default start of :meth:`arrivals`: one second after the last logged event.
    """

    def __init__(self, data: Any, prices: pd.Series | None = None, seed: int = 0,
                 examination: ArrayLike | None = None) -> None:
        truth = getattr(data, "truth", None)
        if not isinstance(truth, dict) or "user_tastes" not in truth:
            raise CourseKitError("data has no shop ground truth (data.truth); OnlineShop needs the synthetic shop: "
                                 "data = coursekit.datasets.load_dataset('shop') or make_shop(...).")
        self.data = data
        self.truth = truth
        self.seed = check_seed(seed)
        self.item_ids = truth["item_attributes"].index.to_numpy(dtype=np.int64)
        self.user_ids = truth["user_tastes"].index.to_numpy(dtype=np.int64)
        self._x = truth["item_attributes"].to_numpy(dtype=np.float64)
        self._release = truth["release_time"].reindex(self.item_ids).to_numpy(dtype=np.int64)
        prices = item_prices(data.items, seed=self.seed) if prices is None else prices
        if not isinstance(prices, pd.Series):
            raise CourseKitError(f"prices must be a pandas Series indexed by item_id, got {type(prices).__name__}; "
                                 "e.g. prices=coursekit.business.item_prices(data.items).")
        price = prices.reindex(self.item_ids).to_numpy(dtype=np.float64)
        if np.isnan(price).any() or (price < 0).any():
            missing = self.item_ids[np.isnan(price) | (price < 0)][:5].tolist()
            raise CourseKitError(f"prices has no valid (>= 0) price for item id(s) {missing}; "
                                 "give every catalogue item a price.")
        self.prices = pd.Series(price, index=pd.Index(self.item_ids, name="item_id"), name="price")
        self._price = price
        self.examination = None if examination is None else self._check_examination(examination)
        self.start = int(data.interactions["timestamp"].max()) + 1 if len(data.interactions) else int(
            truth["params"]["epoch"])

    @staticmethod
    def _check_examination(examination: ArrayLike) -> np.ndarray:
        e = np.asarray(examination, dtype=np.float64)
        if e.ndim != 1 or len(e) == 0 or not np.isfinite(e).all() or (e < 0).any() or (e > 1).any():
            raise CourseKitError(f"examination must be a 1-D array of probabilities in [0, 1], one per position, "
                                 f"got {examination!r}; e.g. examination=examination_probabilities(10).")
        return e

    def _positions(self, k: int) -> np.ndarray:
        if self.examination is None:
            return examination_probabilities(k)
        if len(self.examination) < k:
            raise CourseKitError(f"slates have {k} positions but examination gives only {len(self.examination)}; "
                                 f"pass an examination probability for every position.")
        return self.examination[:k]

    # ------------------------------------------------------------------ traffic
    def arrivals(self, start: int | None = None, days: float = 14, requests_per_user_day: float | None = None,
                 users: ArrayLike | None = None, seed: int | None = None) -> pd.DataFrame:
        r"""The requests of a time window: user :math:`u` arrives :math:`N_u \sim \text{Poisson}(\lambda_u D)` times.

        :math:`\lambda_u = r\, \alpha_u / \bar\alpha` per day, :math:`\alpha_u` the true activity of the
        user (``truth["user_activity"]``, :math:`\bar\alpha` its mean over all users), :math:`r` =
        ``requests_per_user_day`` (default 1: the default shop's 2000 users make about 28 000 requests in
        two weeks), :math:`D` = ``days``; the times are uniform over the window.

        Parameters
        ----------
        start : int, optional
            First second of the window; default :attr:`start` (just after the historical log).
        days : float
            Length of the window in days.
        requests_per_user_day : float, optional
            Mean requests per user and day :math:`r`.
        users : array, optional
            Only these users arrive (default: every user).
        seed : int, optional
            Default: the shop's seed. Draws use ``np.random.default_rng([seed, 1])``.

        Returns
        -------
        DataFrame ``request`` (0, 1, ...), ``user_id``, ``time`` (int seconds), sorted by time.
        """
        start = self.start if start is None else int(start)
        days = check_positive_number(days, "days")
        rate = 1.0 if requests_per_user_day is None else check_positive_number(requests_per_user_day,
                                                                                "requests_per_user_day")
        seed = self.seed if seed is None else check_seed(seed)
        activity = self.truth["user_activity"]
        if users is None:
            user_ids = self.user_ids
        else:
            user_ids = check_id_array(users, "users").astype(np.int64)
            unknown = ~np.isin(user_ids, self.user_ids)
            if unknown.any():
                raise UnknownIdError(f"unknown shop user id(s) {user_ids[unknown][:5].tolist()} in users; "
                                     f"ids run {self.user_ids.min()}..{self.user_ids.max()}.")
        lam = rate * days * activity.reindex(user_ids).to_numpy(dtype=np.float64) / float(activity.mean())
        rng = np.random.default_rng([seed, 1])
        counts = rng.poisson(lam)
        who = np.repeat(user_ids, counts)
        times = start + np.floor(rng.random(len(who)) * days * DAY).astype(np.int64)
        order = np.lexsort((who, times))
        return pd.DataFrame({"request": np.arange(len(who), dtype=np.int64), "user_id": who[order],
                             "time": times[order]})

    # ------------------------------------------------------------------ the click model
    def _item_index(self, slates: np.ndarray) -> np.ndarray:
        """Row of each slate item in the catalogue (``-1`` for padding); unknown ids raise."""
        idx = np.searchsorted(self.item_ids, slates)
        idx = np.minimum(idx, len(self.item_ids) - 1)
        pad = slates == -1
        unknown = ~pad & (self.item_ids[idx] != slates)
        if unknown.any():
            raise UnknownIdError(f"slates hold unknown item id(s) {np.unique(slates[unknown])[:5].tolist()}; "
                                 f"shop item ids run {self.item_ids.min()}..{self.item_ids.max()} (-1 = padding).")
        return np.where(pad, -1, idx)

    def expected(self, user_ids: ArrayLike, times: ArrayLike, slates: ArrayLike) -> dict[str, np.ndarray]:
        r"""Exact per-slot probabilities: :math:`e_p\,\sigma(a_{ui}(t) - c)` and expected revenue.

        Parameters
        ----------
        user_ids : int array (n,)
        times : int scalar or array (n,)
            Time of each request (the truth's tastes drift).
        slates : int array (n, K)
            Item ids shown, best first; ``-1`` = empty slot.

        Returns
        -------
        dict with ``click``, ``purchase`` (probabilities) and ``revenue`` (price times purchase
        probability), each (n, K); 0 for padding and for items not released at the request's time.
        """
        users = check_id_array(user_ids, "user_ids").astype(np.int64)
        slates = np.asarray(slates)
        if slates.ndim != 2 or slates.shape[0] != len(users) or not np.issubdtype(slates.dtype, np.integer):
            raise CourseKitError(f"slates must be an int array (n_requests, K) with one row per user id, got shape "
                                 f"{slates.shape} and dtype {slates.dtype} for {len(users)} user ids.")
        times = np.broadcast_to(np.asarray(times, dtype=np.int64), users.shape)
        idx = self._item_index(slates.astype(np.int64))
        theta = taste_at(self.truth, users, times)
        safe = np.maximum(idx, 0)
        a = np.empty(slates.shape, dtype=np.float64)
        for p in range(slates.shape[1]):  # K columns, vectorised over requests
            a[:, p] = np.einsum("nf,nf->n", theta, self._x[safe[:, p]])
        shown = (idx >= 0) & (self._release[safe] <= times[:, None])
        exam = self._positions(slates.shape[1])[None, :] * shown
        params = self.truth["params"]
        click = exam * _sigmoid(a - params["click_cut"])
        purchase = exam * _sigmoid(a - params["purchase_cut"])
        return {"click": click, "purchase": purchase, "revenue": purchase * self._price[safe]}

    # ------------------------------------------------------------------ serving
    def serve(self, policy: Policy, requests: pd.DataFrame, seed: int | None = None) -> pd.DataFrame:
        """Show ``policy``'s slates to ``requests`` and draw what the customers do.

        One uniform :math:`U` per slot gives ``clicked = U < P(click)`` and ``purchased = U <
        P(purchase)``, so a purchase is always a click (``np.random.default_rng([seed, 2])``).

        Parameters
        ----------
        policy : callable
            ``policy(user_ids, times) -> slates`` (n, K) item ids, or ``(slates, propensities)`` with the
            probability that the policy shows each item at its slot (for off-policy evaluation).
        requests : DataFrame
            ``request, user_id, time``, e.g. from :meth:`arrivals`.
        seed : int, optional
            Default: the shop's seed.

        Returns
        -------
        DataFrame, one row per shown (request, position) (padding dropped): ``request, user_id, time,
        position, item_id, propensity`` (NaN for a deterministic policy), ``p_click, p_purchase,
        clicked, purchased, revenue``.
        """
        from coursekit._validation import check_columns

        check_columns(requests, ["request", "user_id", "time"], "requests")
        seed = self.seed if seed is None else check_seed(seed)
        users = requests["user_id"].to_numpy(dtype=np.int64)
        times = requests["time"].to_numpy(dtype=np.int64)
        out = policy(users, times)
        slates, prop = out if isinstance(out, tuple) else (out, None)
        slates = np.asarray(slates)
        if slates.ndim != 2 or slates.shape[0] != len(users):
            raise CourseKitError(f"policy must return slates of shape (n_requests, K) = ({len(users)}, K), got "
                                 f"{slates.shape}.")
        prop = np.full(slates.shape, np.nan) if prop is None else np.asarray(prop, dtype=np.float64)
        if prop.shape != slates.shape:
            raise CourseKitError(f"policy propensities must have the slates' shape {slates.shape}, got {prop.shape}.")
        ex = self.expected(users, times, slates)
        u = np.random.default_rng([seed, 2]).random(slates.shape)
        clicked, purchased = u < ex["click"], u < ex["purchase"]
        keep = slates.ravel() != -1
        n, k = slates.shape
        safe = self._item_index(slates.astype(np.int64)).clip(0)
        frame = pd.DataFrame({
            "request": np.repeat(requests["request"].to_numpy(), k), "user_id": np.repeat(users, k),
            "time": np.repeat(times, k), "position": np.tile(np.arange(k, dtype=np.int64), n),
            "item_id": slates.ravel().astype(np.int64), "propensity": prop.ravel(),
            "p_click": ex["click"].ravel(), "p_purchase": ex["purchase"].ravel(),
            "clicked": clicked.ravel(), "purchased": purchased.ravel(),
            "revenue": np.where(purchased, self._price[safe], 0.0).ravel(),
        })
        return frame.loc[keep].reset_index(drop=True)

    def serve_ab(self, policy_a: Policy, policy_b: Policy, requests: pd.DataFrame, salt: str = "exp",
                 share: float = 0.5, seed: int | None = None) -> pd.DataFrame:
        """An A/B test: users in arm B (:func:`~coursekit.business.abtest.assign_arms`) get ``policy_b``.

        Returns the :meth:`serve` log of both arms with a column ``arm`` ("A" or "B"); each arm's
        requests are served by its policy only.
        """
        from coursekit.business.abtest import assign_arms

        in_b = assign_arms(requests["user_id"].to_numpy(), salt=salt, share=share)
        seed = self.seed if seed is None else check_seed(seed)
        logs = []
        for arm, policy, mask in (("A", policy_a, ~in_b), ("B", policy_b, in_b)):
            if mask.any():
                log = self.serve(policy, requests.loc[mask], seed=seed + (arm == "B"))
                logs.append(log.assign(arm=arm))
        log = pd.concat(logs, ignore_index=True) if logs else self.serve(policy_a, requests.iloc[:0]).assign(arm="A")
        return log.sort_values(["request", "position"], kind="stable").reset_index(drop=True)


def recommender_policy(model: Any, k: int = 10) -> Policy:
    """A fitted coursekit model as a deterministic policy: its top-``k`` unseen items per user.

    Seen items are those of the model's training data (the policy does not learn during the test).
    Each distinct user is scored once per call, whatever their number of requests.
    """
    k = check_positive_int(k, "k")
    if not hasattr(model, "recommend"):
        raise CourseKitError(f"model must be a fitted coursekit Recommender, got {type(model).__name__}.")

    def policy(user_ids: np.ndarray, times: np.ndarray) -> np.ndarray:
        unique, inverse = np.unique(np.asarray(user_ids, dtype=np.int64), return_inverse=True)
        if len(unique) == 0:
            return np.empty((0, k), dtype=np.int64)
        ids, _ = model.recommend(unique, k=k)
        return np.asarray(ids, dtype=np.int64)[inverse]

    return policy


def random_policy(item_ids: ArrayLike, k: int = 10, seed: int = 0) -> Policy:
    r"""Uniformly random slates of ``k`` distinct items; propensity :math:`1/N` for every slot.

    Each call draws with ``np.random.default_rng([seed, len(user_ids)])``; rows with a repeated item are redrawn.

    >>> slates, prop = random_policy([1, 2, 3, 4], k=2, seed=0)(np.array([1, 2]), np.array([0, 0]))
    >>> slates.shape, prop[0, 0]
    ((2, 2), np.float64(0.25))
    """
    items = np.unique(check_id_array(item_ids, "item_ids").astype(np.int64))
    k = check_positive_int(k, "k")
    seed = check_seed(seed)
    if k > len(items):
        raise CourseKitError(f"k={k} is larger than the {len(items)} items to draw from; use k <= {len(items)}.")

    def policy(user_ids: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = len(user_ids)
        rng = np.random.default_rng([seed, n])
        if 4 * k * k > len(items):  # many collisions expected: a random permutation prefix per row
            idx = np.argsort(rng.random((n, len(items))), axis=1)[:, :k]
            return items[idx], np.full((n, k), 1.0 / len(items))
        idx = rng.integers(0, len(items), size=(n, k))
        while True:  # redraw the (few) rows that repeat an item
            s = np.sort(idx, axis=1)
            dup = (s[:, 1:] == s[:, :-1]).any(axis=1)
            if not dup.any():
                break
            idx[dup] = rng.integers(0, len(items), size=(int(dup.sum()), k))
        return items[idx], np.full((n, k), 1.0 / len(items))

    return policy


def fixed_policy(user_ids: ArrayLike, slates: ArrayLike) -> Policy:
    """A policy that shows each user a slate computed beforehand (e.g. once per user by an expensive model).

    ``slates[j]`` is user ``user_ids[j]``'s slate; every request of that user gets it. A request from
    a user without a slate raises, naming the user.

    >>> policy = fixed_policy([7, 9], [[1, 2], [3, 4]])
    >>> policy(np.array([9, 7, 9]), np.array([0, 0, 5])).tolist()
    [[3, 4], [1, 2], [3, 4]]
    """
    users = check_id_array(user_ids, "user_ids").astype(np.int64)
    table = np.asarray(slates)
    if table.ndim != 2 or len(table) != len(users) or not np.issubdtype(table.dtype, np.integer):
        raise CourseKitError(f"slates must be an int array (n_users, K) with one row per user id, got shape "
                             f"{table.shape} and dtype {table.dtype} for {len(users)} user ids.")
    if len(np.unique(users)) != len(users):
        raise CourseKitError("user_ids must not repeat: give each user one slate.")
    order = np.argsort(users)
    users, table = users[order], table[order].astype(np.int64)

    def policy(request_users: np.ndarray, times: np.ndarray) -> np.ndarray:
        req = np.asarray(request_users, dtype=np.int64)
        pos = np.minimum(np.searchsorted(users, req), max(len(users) - 1, 0))
        missing = (len(users) == 0) | (users[pos] != req) if len(req) else np.zeros(0, dtype=bool)
        if np.any(missing):
            raise UnknownIdError(f"no slate for user id(s) {np.unique(req[missing])[:5].tolist()}; "
                                 "fixed_policy serves only the users it was given.")
        return table[pos]

    return policy
