r"""Off-policy evaluation (OPE): the value of a new policy from the log of the old one.

The setting is a one-slot *banner* (a contextual bandit): for request :math:`i` a user
:math:`x_i` arrives, the shop has :math:`K` candidate items, the **logging** policy
:math:`\mu` shows one of them, :math:`a_i \sim \mu(\cdot \mid x_i)`, and the reward
:math:`r_i \in \{0, 1\}` (click or purchase) is seen for that item only. The value of a
**target** policy :math:`\pi` is :math:`V(\pi) = E_x \sum_k \pi(k \mid x)\, q(x, k)` with
:math:`q(x, k) = E[r \mid x, k]`. With the importance weight
:math:`w_i = \pi(a_i \mid x_i) / \mu(a_i \mid x_i)` and a reward model :math:`\hat q`:

.. math::

    \hat V_{\mathrm{IPS}} &= \frac1n \sum_i w_i r_i
        \qquad\text{(unbiased when } \mu > 0 \text{ wherever } \pi > 0\text{)} \\
    \hat V_{\mathrm{SNIPS}} &= \frac{\sum_i w_i r_i}{\sum_i w_i}
        \qquad\text{(self-normalised: slightly biased, much less variance)} \\
    \hat V_{\mathrm{clip}} &= \frac1n \sum_i \min(w_i, M)\, r_i
        \qquad\text{(biased down, bounded variance)} \\
    \hat V_{\mathrm{DM}} &= \frac1n \sum_i \sum_k \pi(k \mid x_i)\, \hat q(x_i, k)
        \qquad\text{(no weights; as good as } \hat q\text{)} \\
    \hat V_{\mathrm{DR}} &= \frac1n \sum_i \Bigl[\sum_k \pi(k \mid x_i)\, \hat q(x_i, k)
        + w_i \bigl(r_i - \hat q(x_i, a_i)\bigr)\Bigr]
        \qquad\text{(unbiased if either } \mu \text{ or } \hat q \text{ is right)}

(Horvitz & Thompson 1952; Swaminathan & Joachims 2015 for SNIPS; Dudík, Langford & Li 2011 for DR).
Every estimator returns ``(estimate, se)``, the standard error from the per-request terms
(for SNIPS by the delta method).

On the shop the truth is known: :func:`simulate_log` draws requests from
``data.truth`` (rewards :math:`\sim \mathrm{Bernoulli}(\sigma(a_{ui} - c))`) and keeps the exact
:math:`q(x_i, k)` in ``LoggedBandit.expected``, so :func:`true_value` and :func:`ope_study`
measure each estimator's bias and spread against it.

Example
-------
>>> log = LoggedBandit(user_ids=np.array([1, 2]), candidates=np.array([[10, 11], [10, 11]]),
...                    logging=np.array([[0.5, 0.5], [0.8, 0.2]]), actions=np.array([0, 1]),
...                    rewards=np.array([1.0, 1.0]))
>>> target = np.array([[1.0, 0.0], [0.0, 1.0]])
>>> ips(log, target)[0]                          # (1/0.5 * 1 + 1/0.2 * 1) / 2
3.5
>>> snips(log, target)[0]                        # (2 + 5) / (2 + 5)
1.0
"""
from __future__ import annotations

import time as _time
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from coursekit._validation import CourseKitError, check_positive_int, check_positive_number, check_seed
from coursekit.business.logged_bandit import (
    LoggedBandit,
    check_probabilities,
    gather_scores,
    greedy_probs,
    popularity_scores,
    simulate_log,
    softmax_probs,
    uniform_probs,
)

__all__ = ["LoggedBandit", "simulate_log", "popularity_scores", "gather_scores", "softmax_probs", "greedy_probs",
           "uniform_probs", "importance_weights", "ips", "snips", "clipped_ips", "direct_method",
           "doubly_robust", "true_value", "reward_model", "ESTIMATORS", "ope_study"]


# ---------------------------------------------------------------------------- estimators
def _target(log: LoggedBandit, target_probs: ArrayLike) -> np.ndarray:
    if not isinstance(log, LoggedBandit):
        raise CourseKitError(f"log must be a LoggedBandit, got {type(log).__name__}.")
    p = np.asarray(target_probs, dtype=np.float64)
    check_probabilities(p, log.logging.shape, "target_probs")
    return p


def _reward_hat(log: LoggedBandit, reward_hat: ArrayLike) -> np.ndarray:
    q = np.asarray(reward_hat, dtype=np.float64)
    if q.shape != log.logging.shape or not np.isfinite(q).all():
        raise CourseKitError(f"reward_hat must be a finite array of shape {log.logging.shape} (a predicted reward "
                             f"per request and candidate), got shape {q.shape}.")
    return q


def _mean_se(terms: np.ndarray) -> tuple[float, float]:
    n = len(terms)
    se = float(terms.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    return float(terms.mean()), se


def importance_weights(log: LoggedBandit, target_probs: ArrayLike) -> np.ndarray:
    r""":math:`w_i = \pi(a_i \mid x_i) / \mu(a_i \mid x_i)` per logged request."""
    p = _target(log, target_probs)
    return p[np.arange(log.n), log.actions] / log.propensities


def ips(log: LoggedBandit, target_probs: ArrayLike) -> tuple[float, float]:
    r"""Inverse propensity scoring, :math:`\frac1n\sum_i w_i r_i`, and its standard error."""
    return _mean_se(importance_weights(log, target_probs) * log.rewards)


def snips(log: LoggedBandit, target_probs: ArrayLike) -> tuple[float, float]:
    r"""Self-normalised IPS, :math:`\sum_i w_i r_i / \sum_i w_i`.

    Standard error by the delta method: :math:`\sqrt{\sum_i w_i^2 (r_i - \hat V)^2} / \sum_i w_i`.

    >>> log = LoggedBandit([1, 1], [[5, 6], [5, 6]], [[0.5, 0.5], [0.5, 0.5]], [0, 1], [1.0, 0.0])
    >>> snips(log, [[1.0, 0.0], [1.0, 0.0]])[0]        # only request 0 matches the target
    1.0
    """
    w = importance_weights(log, target_probs)
    total = w.sum()
    if total <= 0:
        raise CourseKitError("SNIPS is undefined: the target policy gives probability 0 to every logged action "
                             "(no logged request says anything about it).")
    v = float((w * log.rewards).sum() / total)
    return v, float(np.sqrt((w ** 2 * (log.rewards - v) ** 2).sum()) / total)


def clipped_ips(log: LoggedBandit, target_probs: ArrayLike, max_weight: float = 10.0) -> tuple[float, float]:
    r"""IPS with weights clipped at :math:`M`: :math:`\frac1n\sum_i \min(w_i, M)\, r_i`.

    >>> log = LoggedBandit([1], [[5, 6]], [[0.95, 0.05]], [1], [1.0])
    >>> clipped_ips(log, [[0.0, 1.0]], max_weight=10.0)[0]          # w = 20 clipped to 10
    10.0
    """
    m = check_positive_number(max_weight, "max_weight")
    return _mean_se(np.minimum(importance_weights(log, target_probs), m) * log.rewards)


def direct_method(log: LoggedBandit, target_probs: ArrayLike, reward_hat: ArrayLike) -> tuple[float, float]:
    r"""Direct method, :math:`\frac1n\sum_i\sum_k \pi(k \mid x_i)\hat q(x_i, k)` (the se ignores the model's error)."""
    p = _target(log, target_probs)
    return _mean_se((p * _reward_hat(log, reward_hat)).sum(axis=1))


def doubly_robust(log: LoggedBandit, target_probs: ArrayLike, reward_hat: ArrayLike) -> tuple[float, float]:
    r"""Doubly robust: the direct method plus an IPS correction of the model's residual on the shown item.

    >>> log = LoggedBandit([1], [[5, 6]], [[0.5, 0.5]], [0], [1.0])
    >>> doubly_robust(log, [[1.0, 0.0]], [[0.4, 0.1]])[0]            # 0.4 + 2 * (1 - 0.4)
    1.6
    """
    p = _target(log, target_probs)
    q = _reward_hat(log, reward_hat)
    rows = np.arange(log.n)
    w = p[rows, log.actions] / log.propensities
    return _mean_se((p * q).sum(axis=1) + w * (log.rewards - q[rows, log.actions]))


def true_value(log: LoggedBandit, target_probs: ArrayLike) -> float:
    r"""The exact value of the target policy on the log's requests.

    .. math:: V = \frac1n\sum_i\sum_k \pi(k \mid x_i)\, q(x_i, k)


    Needs ``log.expected`` (a simulated log).
    """
    p = _target(log, target_probs)
    if log.expected is None:
        raise CourseKitError("this log has no true expected rewards (log.expected is None): the truth is known "
                             "only for a simulated log (simulate_log).")
    return float((p * log.expected).sum(axis=1).mean())


# ---------------------------------------------------------------------------- a reward model
def reward_model(log: LoggedBandit, features: ArrayLike, l2: float = 1.0, iterations: int = 25) -> np.ndarray:
    r"""A logistic regression :math:`\hat q(x, k) = \sigma(\beta_0 + \beta^\top f_{xk})` fitted on the shown items.

    Fitted by Newton's method (IRLS) on :math:`(f_{x_i a_i}, r_i)` with an L2 penalty
    :math:`\tfrac{\lambda}{2}\lVert\beta\rVert^2` (not on the intercept); features are standardised
    first. Returns :math:`\hat q` for every candidate, ``(n, K)``: what :func:`direct_method` and
    :func:`doubly_robust` need.

    Parameters
    ----------
    features : array (n, K, d) or (n, K)
        Per request and candidate, e.g. a model's score and the item's log popularity
        (:func:`gather_scores`).
    """
    f = np.asarray(features, dtype=np.float64)
    if f.ndim == 2:
        f = f[:, :, None]
    if f.ndim != 3 or f.shape[:2] != log.logging.shape or not np.isfinite(f).all():
        raise CourseKitError(f"features must be a finite array of shape {log.logging.shape} + (d,), got {f.shape}.")
    lam = float(l2)
    if not lam >= 0:
        raise CourseKitError(f"l2 must be a number >= 0, got {l2!r}.")
    iterations = check_positive_int(iterations, "iterations")
    shown = f[np.arange(log.n), log.actions]
    mean, sd = shown.mean(axis=0), shown.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    X = np.hstack([np.ones((log.n, 1)), (shown - mean) / sd])
    y = log.rewards
    penalty = lam * np.eye(X.shape[1])
    penalty[0, 0] = 0.0
    beta = np.zeros(X.shape[1])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(X @ beta)))
        grad = X.T @ (p - y) + penalty @ beta
        hess = (X * (p * (1 - p))[:, None]).T @ X + penalty + 1e-9 * np.eye(X.shape[1])
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-10:
            break
    z = beta[0] + ((f - mean) / sd) @ beta[1:]
    return 1.0 / (1.0 + np.exp(-z))


# ---------------------------------------------------------------------------- the bias / variance study
ESTIMATORS = ("IPS", "SNIPS", "clipped IPS", "DM", "DR")


def ope_study(make_log: Callable[[int, int], LoggedBandit],
              policies: Mapping[str, Callable[[LoggedBandit], np.ndarray]], log_sizes: Sequence[int],
              repeats: int = 20, seed: int = 0, reward_hat: Callable[[LoggedBandit], np.ndarray] | None = None,
              max_weight: float = 10.0) -> pd.DataFrame:
    r"""Bias, spread and RMSE of every estimator against the truth, by log size.

    For each repeat :math:`r` one log of the largest size is drawn, ``make_log(max(log_sizes), seed + r)``,
    and each size :math:`n` uses its first :math:`n` requests. The truth of a log is the policy's
    exact value on that log's requests (:func:`true_value`), so the error
    :math:`e_r = \hat V_r - V_r` measures the estimator, not which users happened to come.

    Parameters
    ----------
    make_log : callable ``(n, seed) -> LoggedBandit`` with ``expected`` set (e.g. a ``lambda`` over
        :func:`simulate_log`).
    policies : ``{name: callable(log) -> target probabilities (n, K)}``.
    reward_hat : callable ``(log) -> (n, K)``, the reward model for DM and DR (fitted on that log, e.g.
        with :func:`reward_model`); None leaves DM and DR out.

    Returns
    -------
    DataFrame with ``estimator, policy, n, estimate, truth, bias, sd, rmse, coverage, seconds``:
    means over repeats of the estimate and the truth, :math:`\bar e`, :math:`\operatorname{sd}(e)`,
    :math:`\sqrt{\overline{e^2}}`, the share of repeats whose 95% interval (estimate :math:`\pm 1.96`
    se) holds the truth, and the mean time of one estimate.
    """
    sizes = sorted({check_positive_int(n, "log_sizes") for n in log_sizes})
    if not sizes:
        raise CourseKitError("log_sizes must hold at least one positive integer, got none.")
    repeats = check_positive_int(repeats, "repeats")
    seed = check_seed(seed)
    if not policies:
        raise CourseKitError("policies must name at least one target policy: {name: callable(log) -> (n, K)}.")
    rows = []
    for r in range(repeats):
        full = make_log(sizes[-1], seed + r)
        for n in sizes:
            log = full.head(n)
            q_hat = None if reward_hat is None else reward_hat(log)
            for name, policy in policies.items():
                target = np.asarray(policy(log), dtype=np.float64)
                v = true_value(log, target)
                for est in ESTIMATORS:
                    if est in ("DM", "DR") and q_hat is None:
                        continue
                    start = _time.perf_counter()
                    value, se = _estimates_one(est, log, target, q_hat, max_weight)
                    rows.append((est, name, n, value, se, v, _time.perf_counter() - start))
    raw = pd.DataFrame(rows, columns=["estimator", "policy", "n", "estimate", "se", "truth", "seconds"])
    raw["error"] = raw["estimate"] - raw["truth"]
    raw["covered"] = (raw["error"].abs() <= 1.96 * raw["se"]).astype(float)
    g = raw.groupby(["estimator", "policy", "n"], sort=False)
    table = g.agg(estimate=("estimate", "mean"), truth=("truth", "mean"), bias=("error", "mean"),
                  sd=("error", "std"), coverage=("covered", "mean"), seconds=("seconds", "mean")).reset_index()
    table.insert(table.columns.get_loc("sd") + 1, "rmse", g["error"].apply(lambda e: np.sqrt(np.mean(e ** 2))).values)
    table.attrs["raw"] = raw
    return table


def _estimates_one(est: str, log, target, q_hat, max_weight) -> tuple[float, float]:
    if est == "IPS":
        return ips(log, target)
    if est == "SNIPS":
        return snips(log, target) if importance_weights(log, target).sum() > 0 else (np.nan, np.nan)
    if est == "clipped IPS":
        return clipped_ips(log, target, max_weight)
    if est == "DM":
        return direct_method(log, target, q_hat)
    return doubly_robust(log, target, q_hat)
