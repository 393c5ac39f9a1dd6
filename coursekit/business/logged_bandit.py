r"""The logged one-slot bandit that off-policy evaluation reads: requests, candidates, propensities, rewards.

:class:`LoggedBandit` holds a log of a stochastic *logging* policy :math:`\mu` (and, on the shop, the exact
expected reward of every candidate, which real logs never have); :func:`simulate_log` draws one from the
shop's ground truth. :func:`softmax_probs`, :func:`greedy_probs` and :func:`uniform_probs` turn scores into
the per-request distributions over candidates that policies are (logging and target alike). The estimators
that read a log are in :mod:`coursekit.business.ope`.

>>> probs = softmax_probs([[1.0, 0.0, -1.0]], temperature=1.0)
>>> probs.shape, bool(np.isclose(probs.sum(), 1.0))
((1, 3), True)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from coursekit._validation import CourseKitError, check_choice, check_positive_int, check_positive_number, check_seed

__all__ = ["LoggedBandit", "simulate_log", "popularity_scores", "gather_scores", "softmax_probs", "greedy_probs",
           "uniform_probs", "check_probabilities"]


# ---------------------------------------------------------------------------- the log
@dataclass(frozen=True)
class LoggedBandit:
    """A logged one-slot bandit: ``n`` requests, ``K`` candidates each.

    Attributes
    ----------
    user_ids : int array (n,)
        Who made each request.
    candidates : int array (n, K)
        The item ids that could be shown.
    logging : array (n, K)
        :math:`\\mu(k \\mid x_i)`, the logging policy's probabilities (rows sum to 1).
    actions : int array (n,)
        The shown candidate, an index ``0..K-1`` into ``candidates``.
    rewards : array (n,)
        The observed reward of the shown item.
    expected : array (n, K) or None
        The TRUE expected reward :math:`q(x_i, k)` of every candidate (simulations only; an
        estimator must never look at it).
    """

    user_ids: np.ndarray
    candidates: np.ndarray
    logging: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    expected: np.ndarray | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "user_ids", np.asarray(self.user_ids, dtype=np.int64))
        set_(self, "candidates", np.asarray(self.candidates, dtype=np.int64))
        set_(self, "logging", np.asarray(self.logging, dtype=np.float64))
        set_(self, "actions", np.asarray(self.actions, dtype=np.int64))
        set_(self, "rewards", np.asarray(self.rewards, dtype=np.float64))
        if self.candidates.ndim != 2:
            raise CourseKitError(f"candidates must be 2-D (n, K), got shape {self.candidates.shape}.")
        n, k = self.candidates.shape
        for name in ("user_ids", "actions", "rewards"):
            if getattr(self, name).shape != (n,):
                raise CourseKitError(f"{name} must have shape ({n},) like candidates' rows, "
                                     f"got {getattr(self, name).shape}.")
        check_probabilities(self.logging, (n, k), "logging")
        if n and (self.actions.min() < 0 or self.actions.max() >= k):
            raise CourseKitError(f"actions must be candidate positions 0..{k - 1}, got values in "
                                 f"[{self.actions.min()}, {self.actions.max()}].")
        if n and (self.logging[np.arange(n), self.actions] <= 0).any():
            raise CourseKitError("the logging probability of a logged action is 0: that action could not have "
                                 "been shown. Log the probabilities the policy really used.")
        if not np.isfinite(self.rewards).all():
            raise CourseKitError("rewards must be finite numbers (0/1 clicks or purchases, or revenue).")
        if self.expected is not None:
            set_(self, "expected", np.asarray(self.expected, dtype=np.float64))
            if self.expected.shape != (n, k):
                raise CourseKitError(f"expected must have shape {(n, k)}, got {self.expected.shape}.")

    @property
    def n(self) -> int:
        """Number of requests."""
        return len(self.actions)

    @property
    def propensities(self) -> np.ndarray:
        """:math:`\\mu(a_i \\mid x_i)`, the logging probability of each shown item."""
        return self.logging[np.arange(self.n), self.actions]

    def head(self, n: int) -> LoggedBandit:
        """The first ``n`` requests (an i.i.d. log's prefix is an i.i.d. log)."""
        n = min(check_positive_int(n, "n"), self.n)
        exp = None if self.expected is None else self.expected[:n]
        return LoggedBandit(self.user_ids[:n], self.candidates[:n], self.logging[:n], self.actions[:n],
                            self.rewards[:n], exp)


def check_probabilities(p: np.ndarray, shape: tuple[int, int], name: str) -> None:
    """Raise a :class:`CourseKitError` naming ``name`` unless ``p`` is a (n, K) array of distributions over K."""
    if p.shape != shape:
        raise CourseKitError(f"{name} must have shape {shape} (one probability per request and candidate), "
                             f"got {p.shape}.")
    if p.size and (not np.isfinite(p).all() or p.min() < 0):
        raise CourseKitError(f"{name} must hold probabilities >= 0, got min {np.nanmin(p)!r}.")
    sums = p.sum(axis=1)
    if p.size and not np.allclose(sums, 1.0, atol=1e-6):
        bad = int(np.argmax(np.abs(sums - 1.0)))
        raise CourseKitError(f"each row of {name} must sum to 1 (a distribution over the K candidates); "
                             f"row {bad} sums to {sums[bad]:.6g}.")


# ---------------------------------------------------------------------------- policies over candidates
def softmax_probs(scores: ArrayLike, temperature: float = 1.0) -> np.ndarray:
    r"""A softmax policy over each row's candidates, on row-standardised scores.

    .. math:: \pi(k \mid x) = \frac{\exp(z_{xk}/\tau)}{\sum_j \exp(z_{xj}/\tau)}, \qquad
              z_{xk} = \frac{s_{xk} - \bar s_x}{\operatorname{sd}(s_x)}

    Standardising makes :math:`\tau` mean the same for any score scale (iALS dot products,
    log counts); a row of equal scores gives the uniform policy. Small :math:`\tau` is nearly greedy.

    >>> softmax_probs([[0.0, 0.0], [1.0, 3.0]], temperature=1.0).round(3).tolist()
    [[0.5, 0.5], [0.119, 0.881]]
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2 or not np.isfinite(s).all():
        raise CourseKitError(f"scores must be a finite 2-D array (n, K), got shape {s.shape}.")
    tau = check_positive_number(temperature, "temperature")
    sd = s.std(axis=1, keepdims=True)
    z = (s - s.mean(axis=1, keepdims=True)) / np.where(sd > 0, sd, 1.0)
    e = np.exp((z - z.max(axis=1, keepdims=True)) / tau)
    return e / e.sum(axis=1, keepdims=True)


def greedy_probs(scores: ArrayLike) -> np.ndarray:
    """The deterministic policy that shows each row's best candidate (ties: the first).

    >>> greedy_probs([[0.2, 0.9, 0.9]]).tolist()
    [[0.0, 1.0, 0.0]]
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] == 0:
        raise CourseKitError(f"scores must be a 2-D array (n, K) with K >= 1, got shape {s.shape}.")
    out = np.zeros_like(s)
    out[np.arange(len(s)), np.argmax(s, axis=1)] = 1.0
    return out


def uniform_probs(n: int, k: int) -> np.ndarray:
    """The uniformly random policy, ``1/K`` for every candidate.

    >>> uniform_probs(1, 4).tolist()
    [[0.25, 0.25, 0.25, 0.25]]
    """
    return np.full((check_positive_int(n, "n"), check_positive_int(k, "k")), 1.0 / k)


# ---------------------------------------------------------------------------- the shop simulator
def popularity_scores(data) -> np.ndarray:
    """``log(1 + events)`` per item of the shop's log, as a ``(n_users, n_items)`` score matrix (all rows equal).

    Rows follow ``data.truth["user_tastes"].index``, columns ``data.truth["item_attributes"].index``.
    """
    items = data.truth["item_attributes"].index
    counts = data.interactions["item_id"].value_counts().reindex(items, fill_value=0).to_numpy(dtype=np.float64)
    return np.broadcast_to(np.log1p(counts), (len(data.truth["user_tastes"]), len(items)))


def gather_scores(data, scores: ArrayLike, log: LoggedBandit) -> np.ndarray:
    """A ``(n_users, n_items)`` score matrix (truth order) read at each request's candidates: ``(n, K)``."""
    s = np.asarray(scores, dtype=np.float64)
    users, items = data.truth["user_tastes"].index, data.truth["item_attributes"].index
    if s.shape != (len(users), len(items)):
        raise CourseKitError(f"scores must have shape {(len(users), len(items))} (rows: truth users, columns: truth "
                             f"items, in id order), got {s.shape}. Build it with "
                             "model.score(user_ids, items=item_ids).")
    return s[users.get_indexer(log.user_ids)[:, None], items.get_indexer(log.candidates.ravel()).reshape(
        log.candidates.shape)]


def simulate_log(data, n: int, scores: ArrayLike | None = None, k: int = 20, temperature: float = 1.0,
                 candidate_scores: ArrayLike | None = None, reward: str = "click", time: int | None = None,
                 seed: int = 0) -> LoggedBandit:
    r"""A logged banner bandit on the shop, with its exact expected rewards.

    Requests: users drawn with probability proportional to ``truth["user_activity"]``. Candidates:
    each user's top ``k`` items by ``candidate_scores`` (a retriever; default ``scores``). Logging
    policy: :func:`softmax_probs` of ``scores`` over the candidates at ``temperature`` (stochastic,
    every candidate possible). Reward of item :math:`j`: Bernoulli with the shop's own event model,
    :math:`q = \sigma(a_{uj}(t) - c)`, :math:`c` the ``click_cut`` (a click or a purchase) or the
    ``purchase_cut``.

    Parameters
    ----------
    data : Dataset
        The shop (``coursekit.datasets.load_dataset("shop")`` or ``make_shop(...)``).
    n : int
        Number of requests.
    scores, candidate_scores : array (n_users, n_items) or None
        Rows ``data.truth["user_tastes"].index``, columns ``data.truth["item_attributes"].index``
        (e.g. ``model.score(user_ids, items=item_ids)``). None: :func:`popularity_scores`.
    k : int
        Candidates per request.
    temperature : float
        Of the logging softmax (on standardised scores: 1 is moderately peaked).
    reward : "click" or "purchase"
    time : int or None
        Taste time (drift users switch); None = one second after the last logged event.
    seed : int

    >>> from coursekit.datasets.shop import make_shop
    >>> shop = make_shop(n_users=30, n_items=40, n_events=300, seed=0)
    >>> log = simulate_log(shop, 100, k=5, seed=1)
    >>> log.candidates.shape, bool(np.allclose(log.logging.sum(axis=1), 1.0))
    ((100, 5), True)
    """
    from coursekit.datasets.shop.truth import affinity

    n = check_positive_int(n, "n")
    k = check_positive_int(k, "k")
    reward = check_choice(reward, "reward", ["click", "purchase"])
    rng = np.random.default_rng(check_seed(seed))
    truth = data.truth
    users, items = truth["user_tastes"].index, truth["item_attributes"].index
    if k > len(items):
        raise CourseKitError(f"k must be at most the number of items ({len(items)}), got {k}.")
    shape = (len(users), len(items))
    s = popularity_scores(data) if scores is None else np.asarray(scores, dtype=np.float64)
    c = s if candidate_scores is None else np.asarray(candidate_scores, dtype=np.float64)
    for name, m in (("scores", s), ("candidate_scores", c)):
        if m.shape != shape or not np.isfinite(m).all():
            raise CourseKitError(f"{name} must be a finite array of shape {shape} (rows: truth users, columns: "
                                 f"truth items, in id order), got shape {m.shape}.")
    # per user: candidate columns, logging policy and exact expected rewards (users x K)
    cand = np.argsort(-c, axis=1, kind="stable")[:, :k]
    rows = np.arange(len(users))[:, None]
    mu = softmax_probs(s[rows, cand], temperature)
    t = int(data.interactions["timestamp"].max()) + 1 if time is None else int(time)
    cut = truth["params"]["click_cut" if reward == "click" else "purchase_cut"]
    q = 1.0 / (1.0 + np.exp(-(affinity(truth, users.to_numpy(), None, t)[rows, cand] - cut)))
    # requests
    activity = truth["user_activity"].reindex(users).to_numpy(dtype=np.float64)
    u = rng.choice(len(users), size=n, p=activity / activity.sum())
    cdf = np.cumsum(mu[u], axis=1)
    a = np.minimum((rng.random((n, 1)) > cdf).sum(axis=1), k - 1)     # inverse-CDF draw per request
    exp = q[u]
    r = (rng.random(n) < exp[np.arange(n), a]).astype(np.float64)
    return LoggedBandit(users.to_numpy()[u], items.to_numpy()[cand[u]], mu[u], a, r, exp)
