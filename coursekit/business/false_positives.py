r"""Is the test honest? A/A false-positive rates, the cost of peeking, and always-valid p-values.

A test at level :math:`\alpha` should reject a true null (an A/A test: both arms get the same
thing) :math:`\alpha` of the time. These functions measure that by simulation, re-randomising
users into arms (and re-drawing outcomes) many times, vectorised over the repeats:

* :func:`aa_false_positive_rate` -- one look at the end with
  :func:`~coursekit.business.abtest.difference`'s z-test: close to :math:`\alpha`
  (:func:`~coursekit.business.abtest.binomial_ci` says how close is close enough).
* :func:`bernoulli_outcomes` -- re-draw per-user outcomes from fixed per-impression probabilities
  (e.g. ``p_click`` of :meth:`~coursekit.business.environment.OnlineShop.serve`).
* :func:`peeking_false_positive_rate` -- look every day and stop at the first :math:`p < \alpha`:
  the false-positive rate climbs far above :math:`\alpha` (Johari et al. 2017, "Peeking at A/B
  tests", KDD); with :func:`msprt_p_values`, always-valid p-values, it stays below :math:`\alpha`
  however often one looks.

>>> y = np.random.default_rng(0).poisson(1.0, size=(400, 10))        # 400 users, 10 days
>>> once, _ = aa_false_positive_rate(y.sum(axis=1), n_repeats=300)
>>> peek, _ = peeking_false_positive_rate(y, n_repeats=300)
>>> bool(peek > once)
True
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import ndtri

from coursekit._validation import CourseKitError, check_fraction, check_positive_int, check_seed
from coursekit.business.abtest import binomial_ci

__all__ = ["aa_false_positive_rate", "bernoulli_outcomes", "peeking_false_positive_rate", "msprt_p_values"]

Outcomes = ArrayLike | Callable[[np.random.Generator, int], np.ndarray]


def _vector(values: ArrayLike, name: str) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or not np.isfinite(v).all():
        raise CourseKitError(f"{name} must be a 1-D array of finite per-user values, got shape {v.shape}; "
                             "drop or fill NaN first.")
    return v


def _alpha(alpha: float) -> float:
    return check_fraction(alpha, "alpha")


def bernoulli_outcomes(p: ArrayLike, unit: ArrayLike, n_units: int,
                       values: ArrayLike | None = None) -> Callable[[np.random.Generator, int], np.ndarray]:
    r"""A re-draw of per-unit outcomes from fixed expectations, for :func:`aa_false_positive_rate`.

    Event :math:`j` (an impression) happens with probability :math:`p_j` and belongs to unit
    ``unit[j]`` (a user index in ``0..n_units-1``); a draw is :math:`y_u = \sum_{j: u_j = u} v_j B_j`,
    :math:`B_j \sim \text{Bernoulli}(p_j)`, :math:`v_j` = ``values`` (default 1: counts; prices: revenue).
    The returned function maps ``(rng, n_repeats)`` to an array (n_repeats, n_units).

    >>> draw = bernoulli_outcomes([1.0, 0.0, 1.0], [0, 0, 1], n_units=2)
    >>> draw(np.random.default_rng(0), 2).tolist()
    [[1.0, 1.0], [1.0, 1.0]]
    """
    from scipy.sparse import csr_matrix

    p = _vector(p, "p")
    if ((p < 0) | (p > 1)).any():
        raise CourseKitError("p must hold probabilities in [0, 1].")
    unit = np.asarray(unit, dtype=np.int64)
    n_units = check_positive_int(n_units, "n_units")
    if unit.shape != p.shape or (len(unit) and (unit.min() < 0 or unit.max() >= n_units)):
        raise CourseKitError(f"unit must give, for each of the {len(p)} events, a unit index in 0..{n_units - 1}.")
    v = np.ones_like(p) if values is None else _vector(values, "values")
    if v.shape != p.shape:
        raise CourseKitError(f"values must have one entry per event ({len(p)}), got {v.shape}.")
    to_units = csr_matrix((v, (unit, np.arange(len(p)))), shape=(n_units, len(p)))

    def draw(rng: np.random.Generator, n_repeats: int) -> np.ndarray:
        hits = (rng.random((len(p), n_repeats), dtype=np.float32) < p[:, None]).astype(np.float64)
        return np.asarray(to_units @ hits).T

    return draw


def _chunks(n_repeats: int, n_cells: int) -> list[int]:
    """Split ``n_repeats`` so that each block holds at most ~4 million numbers per repeat-cell."""
    size = max(1, int(4_000_000 // max(n_cells, 1)))
    return [min(size, n_repeats - s) for s in range(0, n_repeats, size)]


def _arm_stats(mask: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per repeat: count, mean and variance of ``y`` over the users in ``mask`` (R, n); ``y`` (n, D) or (R, n, D)."""
    m = mask.astype(np.float64)
    if y.ndim == 2:
        s, ss = m @ y, m @ (y * y)
    else:
        s, ss = np.einsum("rn,rnd->rd", m, y), np.einsum("rn,rnd->rd", m, y * y)
    n = m.sum(axis=1)[:, None]
    mean = s / np.maximum(n, 1)
    var = (ss - n * mean * mean) / np.maximum(n - 1, 1)
    return n, mean, np.maximum(var, 0.0)


def _z_and_se(mask: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    na, ma, va = _arm_stats(~mask, y)
    nb, mb, vb = _arm_stats(mask, y)
    se = np.sqrt(va / np.maximum(na, 1) + vb / np.maximum(nb, 1))
    return mb - ma, se


def _draw_outcomes(outcomes: Outcomes, rng: np.random.Generator, r: int, name: str) -> np.ndarray:
    if callable(outcomes):
        y = np.asarray(outcomes(rng, r), dtype=np.float64)
        if y.ndim < 2 or y.shape[0] != r:
            raise CourseKitError(f"{name} as a function must return an array with n_repeats={r} rows, got {y.shape}.")
        return y
    return np.asarray(outcomes, dtype=np.float64)


def _check_repeats(n_repeats: int, alpha: float, share: float, seed: int) -> tuple[int, float, float, int]:
    return (check_positive_int(n_repeats, "n_repeats"), _alpha(alpha), check_fraction(share, "share"),
            check_seed(seed))


def aa_false_positive_rate(outcomes: Outcomes, n_repeats: int = 200, alpha: float = 0.05, share: float = 0.5,
                           seed: int = 0) -> tuple[float, tuple[float, float]]:
    r"""Share of ``n_repeats`` A/A tests (:func:`difference`) with :math:`p < \alpha`, and its Wilson CI.

    Each repeat puts every user in B with probability ``share`` (fresh randomisation) and, if
    ``outcomes`` is a function (e.g. :func:`bernoulli_outcomes`), re-draws the outcomes; a 1-D array
    of fixed per-user outcomes is only re-randomised. Both arms get the same treatment, so a
    correct test rejects :math:`\alpha` of the time. Vectorised over repeats (blocks of them).

    Parameters
    ----------
    outcomes : array (n_users,) or callable ``(rng, n_repeats) -> (n_repeats, n_users)``

    Returns
    -------
    (rate, (ci_low, ci_high))

    >>> y = np.random.default_rng(0).exponential(size=500)
    >>> rate, (low, high) = aa_false_positive_rate(y, n_repeats=400, seed=1)
    >>> low <= 0.05 <= high
    True
    """
    n_repeats, alpha, share, seed = _check_repeats(n_repeats, alpha, share, seed)
    if not callable(outcomes):
        outcomes = _vector(outcomes, "outcomes")
    rng = np.random.default_rng(seed)
    z_crit = ndtri(1.0 - alpha / 2.0)
    hits = 0
    n_users = None if callable(outcomes) else len(outcomes)
    for r in _chunks(n_repeats, n_users or 10_000):
        y = _draw_outcomes(outcomes, rng, r, "outcomes")
        if callable(outcomes) and y.ndim != 2:
            raise CourseKitError(f"outcomes as a function must return (n_repeats, n_users), got shape {y.shape}.")
        y = y[:, :, None] if callable(outcomes) else y[:, None]
        mask = rng.random((r, y.shape[-2])) < share
        diff, se = _z_and_se(mask, y)
        hits += int((np.abs(diff[:, 0]) > z_crit * se[:, 0]).sum())
    return hits / n_repeats, binomial_ci(hits, n_repeats, alpha=0.05)


def msprt_p_values(diff: ArrayLike, se: ArrayLike, tau: ArrayLike) -> np.ndarray:
    r"""Always-valid p-values of the mixture sequential probability ratio test (Johari et al. 2017).

    At look :math:`t` the estimate :math:`\hat\Delta_t` has variance :math:`V_t = \mathrm{SE}_t^2`; mixing
    the normal likelihood ratio over effects :math:`\Delta \sim N(0, \tau^2)` gives

    .. math::

        \Lambda_t = \sqrt{\frac{V_t}{V_t + \tau^2}}\,
                    \exp\!\Bigl(\frac{\tau^2 \hat\Delta_t^2}{2 V_t (V_t + \tau^2)}\Bigr), \qquad
        p_t = \min\bigl(p_{t-1}, 1/\Lambda_t\bigr), \quad p_0 = 1.

    :math:`\Lambda_t` is a martingale under :math:`\Delta = 0`, so (Ville's inequality)
    :math:`P(\exists t: p_t < \alpha) \le \alpha`: one may look after every day and stop at the first
    :math:`p_t < \alpha`. ``tau`` is the effect size the test is tuned to (e.g. the planned final SE
    or the minimum detectable effect). Looks run along the last axis.

    >>> msprt_p_values([0.0, 0.5, 0.2], [0.2, 0.1, 0.1], tau=0.1).round(4).tolist()
    [1.0, 0.0027, 0.0027]
    """
    d = np.asarray(diff, dtype=np.float64)
    v = np.asarray(se, dtype=np.float64) ** 2
    tau = np.asarray(tau, dtype=np.float64)
    if d.shape != v.shape or d.ndim == 0:
        raise CourseKitError(f"diff and se must have the same shape with looks along the last axis, got "
                             f"{d.shape} and {v.shape}.")
    if not (np.isfinite(tau).all() and (tau > 0).all()):
        raise CourseKitError(f"tau must be a positive effect size (e.g. the final standard error), got {tau!r}.")
    t2 = tau * tau
    with np.errstate(divide="ignore", invalid="ignore"):
        log_lr = 0.5 * np.log(v / (v + t2)) + t2 * d * d / (2.0 * v * (v + t2))
    log_lr = np.where(v > 0, log_lr, 0.0)
    p = np.minimum(1.0, np.exp(-log_lr))
    return np.minimum.accumulate(p, axis=-1)


def peeking_false_positive_rate(increments: Outcomes, n_repeats: int = 200, alpha: float = 0.05,
                                share: float = 0.5, seed: int = 0, test: str = "z",
                                tau: float | None = None) -> tuple[float, tuple[float, float]]:
    r"""False-positive rate of an A/A test looked at after every period, stopped at the first :math:`p < \alpha`.

    ``increments[u, t]`` is user :math:`u`'s outcome in period :math:`t` (e.g. clicks per day); after
    period :math:`t` the test compares the cumulative per-user outcomes :math:`\sum_{s \le t} y_{us}`.
    ``test="z"``: :func:`difference`'s z-test at every look -- each look has level :math:`\alpha`, the
    chance that *some* look rejects is much larger. ``test="msprt"``: :func:`msprt_p_values`, with
    ``tau`` default the planned final SE :math:`s_T \sqrt{1/n_A + 1/n_B}` (:math:`s_T` the pooled SD of
    the final cumulative outcome, :math:`n_A, n_B` the expected arm sizes).

    Parameters
    ----------
    increments : array (n_users, n_periods) or callable ``(rng, n_repeats) -> (n_repeats, n_users, n_periods)``

    Returns
    -------
    (rate, (ci_low, ci_high)) over ``n_repeats`` randomisations (and re-draws).

    >>> y = np.random.default_rng(0).poisson(1.0, size=(400, 10))
    >>> peeking_false_positive_rate(y, n_repeats=300)[0] > 0.05
    True
    """
    n_repeats, alpha, share, seed = _check_repeats(n_repeats, alpha, share, seed)
    if test not in ("z", "msprt"):
        raise CourseKitError(f"test must be 'z' (a z-test at every look) or 'msprt' (always-valid), got {test!r}.")
    if not callable(increments):
        increments = np.asarray(increments, dtype=np.float64)
        if increments.ndim != 2 or not np.isfinite(increments).all():
            raise CourseKitError(f"increments must be a finite array (n_users, n_periods), got shape "
                                 f"{increments.shape}.")
    rng = np.random.default_rng(seed)
    z_crit = ndtri(1.0 - alpha / 2.0)
    hits = 0
    cells = None if callable(increments) else increments.size
    for r in _chunks(n_repeats, cells or 100_000):
        y = np.cumsum(_draw_outcomes(increments, rng, r, "increments"), axis=-1)
        n_users = y.shape[-2]
        mask = rng.random((r, n_users)) < share
        diff, se = _z_and_se(mask, y)
        if test == "z":
            reject = (np.abs(diff) > z_crit * se).any(axis=1)
        else:
            t = tau
            if t is None:
                final = y[..., -1]
                sd = final.std(axis=-1, ddof=1)
                t = sd * np.sqrt(1.0 / (share * n_users) + 1.0 / ((1 - share) * n_users))
                t = np.broadcast_to(t, (r,))[:, None]
            reject = msprt_p_values(diff, se, np.broadcast_to(t, (r, 1)) if np.ndim(t) == 0 else t)[:, -1] < alpha
        hits += int(reject.sum())
    return hits / n_repeats, binomial_ci(hits, n_repeats, alpha=0.05)
