r"""Checks for the exercises of lesson 08 (recommenders in business).

``ex08_ips(rewards, logging_propensity, target_propensity)``
    The inverse propensity scoring (IPS) estimate of a target policy's value from a logged bandit:
    request :math:`i` showed an item with probability :math:`\mu_i` (``logging_propensity[i]``) under
    the logging policy, the target policy would show it with probability :math:`\pi_i`
    (``target_propensity[i]``), and the reward was :math:`r_i`:

    .. math:: \hat V_{\mathrm{IPS}} = \frac1n \sum_{i=1}^{n} \frac{\pi_i}{\mu_i}\, r_i .

``ex08_sample_size(sd, mde, alpha, power)``
    Users per arm of an A/B test (two-sided test at level :math:`\alpha`, power :math:`1-\beta`, a
    difference of means :math:`\delta` = ``mde``, outcome standard deviation :math:`\sigma` = ``sd``),
    rounded up:

    .. math:: n = \left\lceil \frac{2\,(z_{1-\alpha/2} + z_{1-\beta})^2\, \sigma^2}{\delta^2} \right\rceil .

``ex08_cuped(y, x)``
    CUPED-adjusted outcomes, :math:`\tilde y_u = y_u - \theta (x_u - \bar x)` with
    :math:`\theta = \operatorname{cov}(x, y) / \operatorname{var}(x)` over all users.

Expected answers come from reference implementations written here, independent of
:mod:`coursekit.business` (the tests check them against each other).
"""
from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from coursekit.exercises.checks import Case, Exercise, Mistake, register
from coursekit.exercises.compare import compare_array, compare_number, same_array, show_array

SEED = 20240808


# ---------------------------------------------------------------------------- references
def reference_ips(rewards, logging_propensity, target_propensity):
    """IPS estimate, by an explicit loop over the logged requests.

    >>> reference_ips([1, 0, 1], [0.5, 0.25, 0.2], [1.0, 1.0, 0.0])      # (2 * 1 + 4 * 0 + 0) / 3
    0.6666666666666666
    """
    total = 0.0
    for r, mu, pi in zip(rewards, logging_propensity, target_propensity):
        total += float(pi) / float(mu) * float(r)
    return total / len(rewards)


def reference_sample_size(sd, mde, alpha, power):
    """Users per arm, from the standard library's normal quantiles.

    >>> reference_sample_size(1.0, 0.2, 0.05, 0.8)      # 2 * (1.95996 + 0.84162)^2 / 0.04 = 392.4
    393
    """
    z = NormalDist().inv_cdf(1 - alpha / 2) + NormalDist().inv_cdf(power)
    return math.ceil(2 * z * z * sd * sd / (mde * mde))


def reference_cuped(y, x):
    """CUPED-adjusted outcomes, with sums written out.

    >>> reference_cuped([2.0, 4.0, 6.0], [1.0, 2.0, 3.0]).tolist()     # theta = 2: y is explained entirely
    [4.0, 4.0, 4.0]
    """
    n = len(y)
    mx, my = sum(x) / n, sum(y) / n
    cov = sum((a - mx) * (b - my) for a, b in zip(x, y))
    var = sum((a - mx) ** 2 for a in x)
    theta = cov / var
    return np.array([b - theta * (a - mx) for a, b in zip(x, y)], dtype=np.float64)


# ---------------------------------------------------------------------------- exercise 1: IPS
def _ips_cases() -> list[Case]:
    cases = [
        Case("hand: 3 requests", ([1, 0, 1], [0.5, 0.25, 0.2], [1.0, 1.0, 0.0]), 2 / 3,
             hint="Weights pi/mu = 2, 4, 0; weighted rewards 2, 0, 0; their mean over all 3 requests."),
        Case("hand: the target is the logging policy", ([1, 0, 1, 1], [0.3, 0.6, 0.1, 0.5], [0.3, 0.6, 0.1, 0.5]),
             0.75, hint="Every weight is 1: IPS of the logging policy is the plain mean reward."),
        Case("hand: a rare action weighs a lot", ([0, 0, 1], [0.9, 0.9, 0.05], [0.5, 0.5, 0.5]), 10 / 3,
             hint="The last request: weight 0.5 / 0.05 = 10. IPS may exceed 1 with 0/1 rewards."),
        Case("hand: requests the target never shows still count in n", ([1, 1], [0.5, 0.5], [1.0, 0.0]), 1.0,
             hint="Divide by n, the number of logged requests, not by the number the target would show."),
        Case("hand: revenue rewards", ([35.0, 0.0, 90.0], [0.5, 0.5, 0.25], [0.25, 1.0, 0.5]), (17.5 + 180) / 3),
    ]
    rng = np.random.default_rng(SEED)
    for n in (10, 100, 1000):
        mu = np.round(rng.uniform(0.02, 1.0, n), 4)
        pi = np.round(np.where(rng.random(n) < 0.3, 0.0, rng.uniform(0, 1, n)), 4)
        r = (rng.random(n) < 0.3).astype(int)
        args = (r.tolist(), mu.tolist(), pi.tolist())
        cases.append(Case(f"random: {n} requests", args, lambda args=args: reference_ips(*args)))
    return cases


def _ips_inverted(rewards, logging_propensity, target_propensity):
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.asarray(logging_propensity, float) / np.asarray(target_propensity, float)
        return float(np.nanmean(np.where(np.isfinite(w), w, 0.0) * np.asarray(rewards, float)))


def _ips_self_normalised(rewards, logging_propensity, target_propensity):
    w = np.asarray(target_propensity, float) / np.asarray(logging_propensity, float)
    return float((w * np.asarray(rewards, float)).sum() / w.sum())


def _ips_matching_only(rewards, logging_propensity, target_propensity):
    w = np.asarray(target_propensity, float) / np.asarray(logging_propensity, float)
    keep = w > 0
    return float((w * np.asarray(rewards, float))[keep].mean())


def _ips_no_weights(rewards, logging_propensity, target_propensity):
    return float(np.mean(rewards))


register(Exercise(
    name="ex08_ips",
    title="Inverse propensity scoring (IPS)",
    cases=_ips_cases,
    compare=compare_number,
    hint="w_i = target_propensity[i] / logging_propensity[i]; return the mean over ALL requests of w_i * rewards[i].",
    mistakes=[
        Mistake(_ips_inverted, "The weight is target / logging (pi / mu): a request the logging policy rarely made "
                               "but the target would often make must count MORE."),
        Mistake(_ips_self_normalised, "That is self-normalised IPS (SNIPS: divide by the sum of the weights). "
                                      "Plain IPS divides by n, the number of logged requests."),
        Mistake(_ips_matching_only, "Divide by all n logged requests, also those with weight 0 (the target never "
                                    "shows that item): they are evidence that the target earns nothing there."),
        Mistake(_ips_no_weights, "The mean logged reward is the value of the LOGGING policy; weight each reward "
                                 "by pi / mu to get the target's."),
    ],
))


# ---------------------------------------------------------------------------- exercise 2: sample size
def _size_cases() -> list[Case]:
    cases = [
        Case("hand: sd 1, mde 0.2, alpha .05, power .8", (1.0, 0.2, 0.05, 0.8), 393,
             hint="z_{0.975} = 1.96, z_{0.8} = 0.8416: 2 * 2.8016^2 * 1 / 0.04 = 392.4, rounded UP."),
        Case("hand: half the effect, four times the users", (1.0, 0.1, 0.05, 0.8), 1570,
             hint="n grows with 1 / mde^2: 1569.8 -> 1570."),
        Case("hand: power 0.9", (2.0, 0.5, 0.05, 0.9), 337,
             hint="z_{0.9} = 1.2816: 2 * (1.96 + 1.2816)^2 * 4 / 0.25 = 336.3."),
        Case("hand: alpha 0.01", (1.0, 0.25, 0.01, 0.8), 374,
             hint="Two-sided: use z_{1 - 0.01/2} = 2.5758, not z_{0.99}."),
        Case("hand: a conversion rate (sd of a Bernoulli)", (math.sqrt(0.05 * 0.95), 0.005, 0.05, 0.8), 29826,
             hint="sd^2 = p (1 - p) = 0.0475: 2 * 7.849 * 0.0475 / 0.005^2 = 29825.7."),
    ]
    rng = np.random.default_rng(SEED + 1)
    while len(cases) < 11:
        sd, mde = round(float(rng.uniform(0.5, 30)), 3), round(float(rng.uniform(0.05, 3)), 3)
        alpha, power = float(rng.choice([0.01, 0.05, 0.1])), float(rng.choice([0.8, 0.9, 0.95]))
        z = NormalDist().inv_cdf(1 - alpha / 2) + NormalDist().inv_cdf(power)
        exact = 2 * z * z * sd * sd / (mde * mde)
        if exact > 1e7 or abs(exact - round(exact)) < 1e-6:      # keep rounding unambiguous
            continue
        args = (sd, mde, alpha, power)
        cases.append(Case(f"random: sd={sd}, mde={mde}, alpha={alpha}, power={power}", args,
                          lambda args=args: reference_sample_size(*args)))
    return cases


def _z(q):
    return NormalDist().inv_cdf(q)


def _size_one_sided(sd, mde, alpha, power):
    z = _z(1 - alpha) + _z(power)
    return math.ceil(2 * z * z * sd * sd / (mde * mde))


def _size_no_factor_two(sd, mde, alpha, power):
    z = _z(1 - alpha / 2) + _z(power)
    return math.ceil(z * z * sd * sd / (mde * mde))


def _size_rounded(sd, mde, alpha, power):
    z = _z(1 - alpha / 2) + _z(power)
    return int(round(2 * z * z * sd * sd / (mde * mde)))


def _size_sd_not_squared(sd, mde, alpha, power):
    z = _z(1 - alpha / 2) + _z(power)
    return math.ceil(2 * z * z * sd / mde)


def _compare_size(expected, got):
    if isinstance(got, (bool, np.bool_)) or not isinstance(got, (int, np.integer, float, np.floating)):
        return f"expected a whole number of users (int), got {type(got).__name__}."
    if float(got) != int(expected):
        return "wrong number of users per arm."
    return None


register(Exercise(
    name="ex08_sample_size",
    title="Sample size of an A/B test",
    cases=_size_cases,
    compare=_compare_size,
    hint="z = NormalDist().inv_cdf(1 - alpha / 2) + NormalDist().inv_cdf(power) (from statistics); "
         "n = ceil(2 * z**2 * sd**2 / mde**2).",
    mistakes=[
        Mistake(_size_one_sided, "The test is two-sided: use z_{1 - alpha/2} (1.96 for alpha = 0.05), "
                                 "not z_{1 - alpha}."),
        Mistake(_size_no_factor_two, "The factor 2 is missing: the difference of two means has variance "
                                     "sd^2/n + sd^2/n = 2 sd^2 / n."),
        Mistake(_size_rounded, "Round UP (math.ceil): fewer users than the formula asks for gives less than the "
                               "promised power."),
        Mistake(_size_sd_not_squared, "Square sd / mde: n grows with the VARIANCE and with 1 / mde^2 (half the "
                                      "effect needs four times the users)."),
    ],
))


# ---------------------------------------------------------------------------- exercise 3: CUPED
def _cuped_cases() -> list[Case]:
    cases = [
        Case("hand: x explains y entirely", ([2.0, 4.0, 6.0], [1.0, 2.0, 3.0]), np.array([4.0, 4.0, 4.0]),
             hint="theta = cov / var = 2; every y_u - 2 (x_u - 2) = 4: no variance left."),
        Case("hand: uncorrelated x changes nothing", ([1.0, 3.0, 1.0, 3.0], [0.0, 0.0, 1.0, 1.0]),
             np.array([1.0, 3.0, 1.0, 3.0]), hint="cov(x, y) = 0, so theta = 0 and y is returned unchanged."),
        Case("hand: the mean of y is kept", ([3.0, 1.0, 5.0, 7.0], [0.0, 1.0, 2.0, 5.0]),
             lambda: reference_cuped([3.0, 1.0, 5.0, 7.0], [0.0, 1.0, 2.0, 5.0]),
             hint="Centre x (subtract its mean): then the adjustment averages to 0 and mean(y) is unchanged."),
        Case("hand: a negative correlation", ([5.0, 3.0, 1.0], [0.0, 1.0, 3.0]),
             lambda: reference_cuped([5.0, 3.0, 1.0], [0.0, 1.0, 3.0])),
    ]
    rng = np.random.default_rng(SEED + 2)
    for n, rho in [(20, 0.5), (200, 0.8), (2000, 0.3)]:
        x = rng.gamma(2.0, 1.0, n)
        y = rho * x + np.sqrt(1 - rho ** 2) * rng.gamma(2.0, 1.0, n)
        args = (np.round(y, 4).tolist(), np.round(x, 4).tolist())
        cases.append(Case(f"random: {n} users, correlation ~{rho}", args, lambda args=args: reference_cuped(*args)))
    return cases


def _cuped_var_y(y, x):
    y, x = np.asarray(y, float), np.asarray(x, float)
    theta = np.cov(x, y)[0, 1] / y.var(ddof=1)
    return y - theta * (x - x.mean())


def _cuped_not_centred(y, x):
    y, x = np.asarray(y, float), np.asarray(x, float)
    theta = np.cov(x, y)[0, 1] / x.var(ddof=1)
    return y - theta * x


def _cuped_plus(y, x):
    y, x = np.asarray(y, float), np.asarray(x, float)
    theta = np.cov(x, y)[0, 1] / x.var(ddof=1)
    return y + theta * (x - x.mean())


def _cuped_correlation(y, x):
    y, x = np.asarray(y, float), np.asarray(x, float)
    return y - np.corrcoef(x, y)[0, 1] * (x - x.mean())


register(Exercise(
    name="ex08_cuped",
    title="CUPED: variance reduction with a pre-period covariate",
    cases=_cuped_cases,
    compare=lambda e, g: compare_array(e, g, rtol=1e-7, atol=1e-9, what="a numpy array"),
    same=same_array,
    show=show_array,
    hint="theta = cov(x, y) / var(x) (same ddof in both, e.g. np.cov(x, y)[0, 1] / np.var(x, ddof=1)); "
         "return y - theta * (x - mean(x)).",
    mistakes=[
        Mistake(_cuped_var_y, "theta is the regression slope of y on x: divide cov(x, y) by var(x), not var(y)."),
        Mistake(_cuped_not_centred, "Subtract theta * (x - mean(x)): without centring x the mean of y shifts, and "
                                    "so would the measured effect if the arms' x differed."),
        Mistake(_cuped_plus, "SUBTRACT the part of y that x predicts: y - theta (x - mean(x)). Adding it increases "
                             "the variance."),
        Mistake(_cuped_correlation, "theta is cov(x, y) / var(x), the regression slope; the correlation equals it "
                                    "only when x and y have the same standard deviation."),
    ],
))
