r"""A/B tests done right: assignment, the difference test, sample size, A/A checks, peeking and CUPED.

An online experiment splits *users* (not requests: a user must always see the same arm) into a
control A and a treatment B, measures a per-user outcome :math:`y_u` (clicks, purchases, revenue
over the test) and asks whether the means differ. Everything here is plain statistics on arrays:

* :func:`assign_arms` -- a deterministic hash of (user id, experiment salt): stable, no table to store.
* :func:`per_user` -- an impression log (:meth:`~coursekit.business.environment.OnlineShop.serve`) to
  one row of sums per user (users without requests count, with zeros).
* :func:`difference` -- Welch's normal test of :math:`\bar y_B - \bar y_A`; :func:`ratio_difference`
  for ratio metrics such as CTR = clicks / impressions (delta method, the user is the unit).
* :func:`sample_size`, :func:`power` -- users per arm for a minimum detectable effect.
* :func:`binomial_ci` -- the Wilson interval of a rate (e.g. of the false-positive rate of
  :mod:`coursekit.business.false_positives`, the A/A and peeking checks of these tests).
* :func:`cuped` -- remove the part of :math:`y` predicted by a pre-experiment covariate
  (Deng et al. 2013): same expected difference, smaller variance.

>>> arms = assign_arms([1, 2, 3, 4, 5, 6], salt="demo")
>>> arms.dtype, bool((arms == assign_arms([1, 2, 3, 4, 5, 6], salt="demo")).all())
(dtype('bool'), True)
"""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import ndtr, ndtri

from coursekit._validation import (
    CourseKitError,
    check_columns,
    check_fraction,
    check_id_array,
    check_positive_int,
    check_positive_number,
)

__all__ = ["assign_arms", "per_user", "difference", "ratio_difference", "sample_size", "power", "binomial_ci",
           "cuped"]


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser (Steele et al. 2014), a bijective 64-bit mixer, on a uint64 array."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _vector(values: ArrayLike, name: str) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise CourseKitError(f"{name} must be a 1-D array of per-user values, got shape {v.shape}.")
    if not np.isfinite(v).all():
        raise CourseKitError(f"{name} holds NaN or infinite values; drop or fill them first (e.g. np.nan_to_num).")
    return v


def _alpha(alpha: float) -> float:
    return check_fraction(alpha, "alpha")


# ---------------------------------------------------------------------------- assignment and aggregation
def assign_arms(user_ids: ArrayLike, salt: str = "exp", share: float = 0.5) -> np.ndarray:
    r"""Arm of each user: True = treatment B, False = control A, from a hash of the id and the salt.

    :math:`h_u = \text{splitmix64}(u \oplus \text{blake2b}_{64}(\text{salt}))`, and the user is in B when
    :math:`\lfloor h_u / 2^{11} \rfloor / 2^{53} <` ``share``. The same user and salt always give the same
    arm (no assignment table); a new salt re-randomises, so consecutive experiments are independent.

    >>> assign_arms(np.arange(100_000), salt="exp").mean().round(2)
    np.float64(0.5)
    """
    ids = check_id_array(user_ids, "user_ids")
    if not np.issubdtype(ids.dtype, np.integer):
        raise CourseKitError(f"user_ids must be integers, got dtype {ids.dtype}; map ids to integers first.")
    if not isinstance(salt, str):
        raise CourseKitError(f"salt must be a string naming the experiment, got {salt!r}.")
    share = check_fraction(share, "share", allow_zero=True, allow_one=True)
    key = np.uint64(int.from_bytes(hashlib.blake2b(salt.encode(), digest_size=8).digest(), "little"))
    h = _splitmix64(ids.astype(np.int64).view(np.uint64) ^ key)
    return (h >> np.uint64(11)).astype(np.float64) * 2.0**-53 < share


def per_user(log: pd.DataFrame, user_ids: ArrayLike) -> pd.DataFrame:
    """Per-user sums of an impression log, one row per ``user_ids`` (zeros for users without a request).

    Columns ``user_id, requests, impressions, clicks, purchases, revenue``.

    >>> log = pd.DataFrame({"request": [0, 0, 1], "user_id": [7, 7, 8], "clicked": [True, False, True],
    ...                     "purchased": [False, False, True], "revenue": [0.0, 0.0, 9.5]})
    >>> per_user(log, [7, 8, 9])[["user_id", "requests", "clicks", "revenue"]].to_numpy().tolist()
    [[7.0, 1.0, 1.0, 0.0], [8.0, 1.0, 1.0, 9.5], [9.0, 0.0, 0.0, 0.0]]
    """
    check_columns(log, ["request", "user_id", "clicked", "purchased", "revenue"], "log")
    ids = check_id_array(user_ids, "user_ids")
    g = log.groupby("user_id", sort=False)
    table = pd.DataFrame({"requests": g["request"].nunique(), "impressions": g.size(),
                          "clicks": g["clicked"].sum(), "purchases": g["purchased"].sum(),
                          "revenue": g["revenue"].sum()})
    table = table.reindex(ids).fillna(0)
    for c in ("requests", "impressions", "clicks", "purchases"):
        table[c] = table[c].astype(np.int64)
    table.index.name = "user_id"
    return table.reset_index()


# ---------------------------------------------------------------------------- the test
def _moments(values: np.ndarray) -> tuple[float, float, int]:
    n = len(values)
    if n < 2:
        raise CourseKitError(f"each arm needs at least 2 users to estimate a variance, got {n}.")
    return float(values.mean()), float(values.var(ddof=1)), n


def _result(mean_a: float, mean_b: float, se: float, alpha: float, n_a: int, n_b: int) -> dict[str, float]:
    diff = mean_b - mean_a
    z_crit = float(ndtri(1.0 - alpha / 2.0))
    z = diff / se if se > 0 else (0.0 if diff == 0 else float(np.sign(diff)) * np.inf)
    return {"mean_a": mean_a, "mean_b": mean_b, "diff": diff, "se": se, "ci_low": diff - z_crit * se,
            "ci_high": diff + z_crit * se, "z": z, "p_value": float(2.0 * ndtr(-abs(z))),
            "lift": diff / mean_a if mean_a != 0 else float("nan"), "n_a": n_a, "n_b": n_b}


def difference(a: ArrayLike, b: ArrayLike, alpha: float = 0.05) -> dict[str, float]:
    r"""Welch's test of the difference of per-user means, with the normal approximation.

    .. math::

        \hat\Delta = \bar y_B - \bar y_A, \qquad
        \mathrm{SE} = \sqrt{s_A^2/n_A + s_B^2/n_B}, \qquad z = \hat\Delta / \mathrm{SE},

    two-sided :math:`p = 2\Phi(-|z|)`, CI :math:`\hat\Delta \pm z_{1-\alpha/2}\mathrm{SE}`, lift
    :math:`\hat\Delta / \bar y_A`.

    Returns
    -------
    dict ``mean_a, mean_b, diff, se, ci_low, ci_high, z, p_value, lift, n_a, n_b``.

    >>> r = difference([0, 1, 0, 1], [1, 1, 0, 1])
    >>> round(r["diff"], 3), round(r["se"], 3), round(r["p_value"], 3)
    (0.25, 0.382, 0.513)
    """
    alpha = _alpha(alpha)
    ma, va, na = _moments(_vector(a, "a"))
    mb, vb, nb = _moments(_vector(b, "b"))
    return _result(ma, mb, float(np.sqrt(va / na + vb / nb)), alpha, na, nb)


def _ratio(num: np.ndarray, den: np.ndarray, name: str) -> tuple[float, float, int]:
    if num.shape != den.shape:
        raise CourseKitError(f"num_{name} and den_{name} must have one value per user each, got shapes "
                             f"{num.shape} and {den.shape}.")
    n = len(num)
    if n < 2 or den.sum() <= 0:
        raise CourseKitError(f"arm {name.upper()} needs at least 2 users and a positive denominator sum, got "
                             f"{n} users and sum {den.sum()}.")
    mn, md = num.mean(), den.mean()
    r = mn / md
    c = np.cov(num, den, ddof=1)
    var = (c[0, 0] - 2 * r * c[0, 1] + r * r * c[1, 1]) / (n * md * md)
    return float(r), float(max(var, 0.0)), n


def ratio_difference(num_a: ArrayLike, den_a: ArrayLike, num_b: ArrayLike, den_b: ArrayLike,
                     alpha: float = 0.05) -> dict[str, float]:
    r"""Difference of two ratio metrics (CTR = clicks / impressions) with the delta method.

    The user is the randomised unit, so impressions of one user are not independent: the ratio
    :math:`R = \sum_u x_u / \sum_u d_u` (per-user sums :math:`x_u, d_u`) has, to first order,

    .. math:: \operatorname{Var}(R) \approx \frac{1}{n \bar d^2}
              \bigl(s_x^2 - 2R\, s_{xd} + R^2 s_d^2\bigr)

    (Deng, Knoblich & Lu 2018); the test is then :func:`difference`'s with
    :math:`\mathrm{SE} = \sqrt{\operatorname{Var}(R_A) + \operatorname{Var}(R_B)}`.

    >>> r = ratio_difference([1, 2, 0], [10, 10, 10], [3, 2, 4], [10, 10, 10])
    >>> round(r["mean_a"], 2), round(r["mean_b"], 2), round(r["diff"], 2)
    (0.1, 0.3, 0.2)
    """
    alpha = _alpha(alpha)
    ra, va, na = _ratio(_vector(num_a, "num_a"), _vector(den_a, "den_a"), "a")
    rb, vb, nb = _ratio(_vector(num_b, "num_b"), _vector(den_b, "den_b"), "b")
    return _result(ra, rb, float(np.sqrt(va + vb)), alpha, na, nb)


def _power_args(sd: float, mde: float, alpha: float) -> tuple[float, float, float]:
    sd = check_positive_number(sd, "sd")
    mde = abs(float(mde)) if np.isfinite(float(mde)) else float("nan")
    if not mde > 0:
        raise CourseKitError(f"mde (the minimum detectable difference) must be a non-zero finite number, got {mde!r}.")
    return sd, mde, _alpha(alpha)


def sample_size(sd: float, mde: float, alpha: float = 0.05, power: float = 0.8) -> int:
    r"""Users per arm to detect a difference ``mde`` with probability ``power`` (two-sided level ``alpha``).

    .. math:: n = \left\lceil \frac{2\,(z_{1-\alpha/2} + z_{\text{power}})^2\, \sigma^2}{\delta^2} \right\rceil

    with :math:`\sigma` = ``sd`` the per-user standard deviation (both arms) and :math:`\delta` = ``mde``.

    >>> sample_size(sd=1.0, mde=0.1)
    1570
    """
    sd, mde, alpha = _power_args(sd, mde, alpha)
    pw = check_fraction(power, "power")
    z = ndtri(1.0 - alpha / 2.0) + ndtri(pw)
    return int(np.ceil(2.0 * z * z * sd * sd / (mde * mde)))


def power(n: int, sd: float, mde: float, alpha: float = 0.05) -> float:
    r"""Probability that the two-sided test with ``n`` users per arm rejects when the true difference is ``mde``.

    .. math:: 1 - \beta = \Phi(\delta' - z_{1-\alpha/2}) + \Phi(-\delta' - z_{1-\alpha/2}), \qquad
              \delta' = \frac{\delta}{\sigma \sqrt{2/n}}

    >>> round(power(1570, sd=1.0, mde=0.1), 3)
    0.8
    """
    n = check_positive_int(n, "n")
    sd, mde, alpha = _power_args(sd, mde, alpha)
    d = mde / (sd * np.sqrt(2.0 / n))
    z = ndtri(1.0 - alpha / 2.0)
    return float(ndtr(d - z) + ndtr(-d - z))


def binomial_ci(k: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    r"""Wilson score interval for a proportion :math:`k/n`.

    .. math:: \frac{\hat p + \frac{z^2}{2n} \pm z\sqrt{\frac{\hat p(1-\hat p)}{n} + \frac{z^2}{4n^2}}}{1 + z^2/n}

    >>> [round(v, 3) for v in binomial_ci(10, 200)]
    [0.027, 0.09]
    """
    n = check_positive_int(n, "n")
    if not 0 <= k <= n:
        raise CourseKitError(f"k must be a count between 0 and n={n}, got {k!r}.")
    z = float(ndtri(1.0 - _alpha(alpha) / 2.0))
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low = 0.0 if k == 0 else max(centre - half, 0.0)
    return float(low), float(1.0 if k == n else min(centre + half, 1.0))


# ---------------------------------------------------------------------------- variance reduction
def cuped(y: ArrayLike, x: ArrayLike) -> tuple[np.ndarray, float, float]:
    r"""CUPED: adjust outcomes by a pre-experiment covariate (Deng, Xu, Kohavi & Walker 2013).

    .. math::

        \tilde y_u = y_u - \theta (x_u - \bar x), \qquad
        \theta = \frac{\operatorname{cov}(x, y)}{\operatorname{var}(x)},

    pooled over both arms (:math:`x` is measured before the experiment, so it cannot depend on the
    arm and :math:`E[\tilde y_B - \tilde y_A] = E[y_B - y_A]`). The variance shrinks by the factor
    :math:`1 - \rho_{xy}^2`; test :math:`\tilde y` with :func:`difference` as usual.

    Returns
    -------
    (y_adjusted, theta, variance_reduction), the last
    :math:`1 - \operatorname{var}(\tilde y)/\operatorname{var}(y)`.

    >>> y_adj, theta, vr = cuped([2.0, 4.0, 6.0, 9.0], [1.0, 2.0, 3.0, 4.0])
    >>> round(theta, 2), round(vr, 3)
    (2.3, 0.989)
    """
    y, x = _vector(y, "y"), _vector(x, "x")
    if y.shape != x.shape or len(y) < 2:
        raise CourseKitError(f"y and x must hold one value per user (at least 2), got shapes {y.shape} and {x.shape}.")
    vx = x.var(ddof=1)
    if vx <= 0:
        raise CourseKitError("x (the pre-period covariate) is constant, so it cannot explain any variance of y; "
                             "use a covariate that varies between users, e.g. pre-period clicks.")
    theta = float(np.cov(x, y, ddof=1)[0, 1] / vx)
    y_adj = y - theta * (x - x.mean())
    vy = y.var(ddof=1)
    reduction = 1.0 - y_adj.var(ddof=1) / vy if vy > 0 else 0.0
    return y_adj, theta, float(reduction)
