"""coursekit.business.abtest and .false_positives: tests, sample size, A/A and peeking rates, mSPRT, CUPED."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from coursekit._validation import CourseKitError
from coursekit.business import (
    aa_false_positive_rate,
    assign_arms,
    bernoulli_outcomes,
    binomial_ci,
    cuped,
    difference,
    msprt_p_values,
    peeking_false_positive_rate,
    per_user,
    power,
    ratio_difference,
    sample_size,
)


# ---------------------------------------------------------------------------- assignment and aggregation
def test_assign_arms_deterministic_balanced_and_salted():
    ids = np.arange(1, 20_001)
    a = assign_arms(ids, salt="exp")
    assert np.array_equal(a, assign_arms(ids, salt="exp"))
    assert np.array_equal(a[[5, 7]], assign_arms(ids[[5, 7]], salt="exp"))      # per user, not per call
    assert abs(a.mean() - 0.5) < 4 * np.sqrt(0.25 / len(ids))
    b = assign_arms(ids, salt="other")
    assert abs((a == b).mean() - 0.5) < 0.03                                      # independent experiments
    assert abs(assign_arms(ids, salt="exp", share=0.1).mean() - 0.1) < 0.01
    assert not assign_arms(ids, share=0).any() and assign_arms(ids, share=1).all()
    with pytest.raises(CourseKitError, match="share"):
        assign_arms(ids, share=1.5)
    with pytest.raises(CourseKitError, match="salt"):
        assign_arms(ids, salt=3)
    with pytest.raises(CourseKitError, match="integers"):
        assign_arms(["a", "b"])


def test_per_user_sums_and_zero_rows():
    log = pd.DataFrame({"request": [0, 0, 1, 2], "user_id": [1, 1, 1, 2], "clicked": [1, 0, 1, 0],
                        "purchased": [1, 0, 0, 0], "revenue": [5.0, 0.0, 0.0, 0.0]})
    t = per_user(log, [2, 1, 3]).set_index("user_id")
    assert t.loc[1].tolist() == [2, 3, 2, 1, 5.0]
    assert t.loc[2].tolist() == [1, 1, 0, 0, 0.0]
    assert t.loc[3].tolist() == [0, 0, 0, 0, 0.0]
    assert t.index.tolist() == [2, 1, 3]
    with pytest.raises(CourseKitError, match="clicked"):
        per_user(log.drop(columns="clicked"), [1])


# ---------------------------------------------------------------------------- the tests
def test_difference_hand_computed_and_against_welch():
    r = difference([1, 2, 3], [2, 4, 6, 8])
    se = np.sqrt(1.0 / 3 + (20.0 / 3) / 4)          # var(a) = 1, var(b) = 20/3
    assert r["diff"] == pytest.approx(3.0) and r["se"] == pytest.approx(se)
    assert r["z"] == pytest.approx(3 / se) and r["p_value"] == pytest.approx(2 * stats.norm.sf(3 / se))
    assert r["ci_low"] == pytest.approx(3 - 1.959964 * se, rel=1e-5) and r["lift"] == pytest.approx(1.5)
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 300), rng.normal(0.2, 2, 500)
    welch = stats.ttest_ind(b, a, equal_var=False)
    assert difference(a, b)["z"] == pytest.approx(welch.statistic)


def test_ratio_difference_delta_method():
    clicks_a, imps_a = np.array([1.0, 2, 0, 5]), np.array([10.0, 10, 5, 20])
    clicks_b, imps_b = np.array([3.0, 1, 4]), np.array([10.0, 5, 10])
    r = ratio_difference(clicks_a, imps_a, clicks_b, imps_b)

    def var(x, d):
        rr = x.sum() / d.sum()
        n = len(x)
        resid = x - rr * d                          # linearisation of the ratio
        return rr, resid.var(ddof=1) / (n * d.mean() ** 2)

    ra, va = var(clicks_a, imps_a)
    rb, vb = var(clicks_b, imps_b)
    assert r["mean_a"] == pytest.approx(ra) and r["mean_b"] == pytest.approx(rb)
    assert r["se"] == pytest.approx(np.sqrt(va + vb))
    # equal denominators: the same test as the per-user rates
    x, y = np.array([1.0, 3, 2, 4]), np.array([2.0, 5, 3, 6])
    assert ratio_difference(x, np.full(4, 10.0), y, np.full(4, 10.0))["se"] == pytest.approx(
        difference(x / 10, y / 10)["se"])
    with pytest.raises(CourseKitError, match="den_a"):
        ratio_difference([1, 2], [1, 2, 3], [1, 2], [1, 2])
    with pytest.raises(CourseKitError, match="denominator"):
        ratio_difference([0, 0], [0, 0], [1, 2], [1, 2])


def test_sample_size_formula_and_simulated_power():
    assert sample_size(1.0, 0.1) == 1570
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    assert sample_size(2.0, 0.1) == int(np.ceil(2 * z * z * 4.0 / 0.01))
    assert sample_size(1.0, 0.1, power=0.9) > sample_size(1.0, 0.1)
    n = sample_size(sd=1.0, mde=0.5)
    assert power(n, 1.0, 0.5) >= 0.8 > power(n - 2, 1.0, 0.5)
    rng = np.random.default_rng(0)
    repeats = 2000
    a, b = rng.normal(0, 1, (repeats, n)), rng.normal(0.5, 1, (repeats, n))
    se = np.sqrt(a.var(axis=1, ddof=1) / n + b.var(axis=1, ddof=1) / n)
    rejected = int((np.abs(b.mean(axis=1) - a.mean(axis=1)) / se > 1.959964).sum())
    low, high = binomial_ci(rejected, repeats, alpha=0.01)
    assert low <= power(n, 1.0, 0.5) <= high


def test_binomial_ci_wilson():
    k, n, z = 10, 200, stats.norm.ppf(0.975)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert binomial_ci(k, n) == pytest.approx((centre - half, centre + half))
    assert binomial_ci(0, 50)[0] == 0.0 and binomial_ci(50, 50)[1] == 1.0
    with pytest.raises(CourseKitError, match="k must"):
        binomial_ci(51, 50)


# ---------------------------------------------------------------------------- repeated tests
def _impressions(seed=0, n_users=600):
    rng = np.random.default_rng(seed)
    per = rng.poisson(rng.lognormal(2.0, 0.8, n_users))               # impressions per user, heavy-tailed
    unit = np.repeat(np.arange(n_users), per)
    p = rng.beta(1, 8, len(unit))                                     # per-impression click probability
    return p, unit, n_users


def test_aa_false_positive_rate_is_alpha():
    p, unit, n_users = _impressions()
    rate, (low, high) = aa_false_positive_rate(bernoulli_outcomes(p, unit, n_users), n_repeats=400, seed=0)
    assert low <= 0.05 <= high
    fixed = np.bincount(unit, weights=p, minlength=n_users)
    rate, (low, high) = aa_false_positive_rate(fixed, n_repeats=1000, seed=1)
    assert low <= 0.05 <= high
    assert aa_false_positive_rate(fixed, n_repeats=200, seed=1) == aa_false_positive_rate(fixed, n_repeats=200, seed=1)


def test_bernoulli_outcomes_means():
    p, unit, n_users = _impressions(1, 50)
    values = np.linspace(1, 2, len(p))
    draws = bernoulli_outcomes(p, unit, n_users, values)(np.random.default_rng(0), 4000)
    assert draws.shape == (4000, n_users)
    expected = np.bincount(unit, weights=p * values, minlength=n_users)
    assert np.allclose(draws.mean(axis=0), expected, atol=0.15)
    with pytest.raises(CourseKitError, match="probabilities"):
        bernoulli_outcomes([1.5], [0], 1)
    with pytest.raises(CourseKitError, match="unit"):
        bernoulli_outcomes([0.5], [3], 2)


def test_peeking_inflates_and_msprt_controls_the_false_positive_rate():
    rng = np.random.default_rng(0)
    rates = rng.lognormal(0, 0.7, 1000)
    daily = rng.poisson(rates[:, None] * 0.7, (1000, 14)).astype(float)
    once, _ = aa_false_positive_rate(daily.sum(axis=1), n_repeats=1000, seed=2)
    peek, (peek_low, _) = peeking_false_positive_rate(daily, n_repeats=1000, seed=2)
    assert peek_low > 0.1 and peek > 2 * once
    msprt, (m_low, _) = peeking_false_positive_rate(daily, n_repeats=1000, seed=2, test="msprt")
    assert m_low <= 0.05
    # with a re-draw of the daily outcomes from fixed rates
    def redraw(g, r):
        return g.poisson(rates[None, :, None] * 0.7, (r, 1000, 14)).astype(float)
    peek2, (low2, _) = peeking_false_positive_rate(redraw, n_repeats=300, seed=3)
    assert low2 > 0.05
    assert peeking_false_positive_rate(redraw, n_repeats=300, seed=3, test="msprt")[1][0] <= 0.05


def test_msprt_detects_a_real_effect():
    rng = np.random.default_rng(1)
    daily = rng.poisson(1.0, (2000, 14)).astype(float)
    b = assign_arms(np.arange(2000), salt="effect")
    daily[b] += rng.poisson(0.15, (b.sum(), 14))
    y = daily.cumsum(axis=1)
    diffs, ses = [], []
    for t in range(14):
        r = difference(y[~b, t], y[b, t])
        diffs.append(r["diff"])
        ses.append(r["se"])
    p = msprt_p_values(diffs, ses, tau=ses[-1])
    assert np.all(np.diff(p) <= 0) and p[-1] < 0.05


def test_msprt_hand_value_and_errors():
    v, t2, d = 0.04, 0.09, 0.5
    lam = np.sqrt(v / (v + t2)) * np.exp(t2 * d * d / (2 * v * (v + t2)))
    assert msprt_p_values([d], [0.2], tau=0.3)[0] == pytest.approx(1 / lam)
    assert msprt_p_values([0.0], [0.2], tau=0.3)[0] == 1.0
    with pytest.raises(CourseKitError, match="tau"):
        msprt_p_values([0.1], [0.1], tau=0)
    with pytest.raises(CourseKitError, match="same shape"):
        msprt_p_values([0.1, 0.2], [0.1], tau=1)


# ---------------------------------------------------------------------------- CUPED
def test_cuped_reduces_variance_and_keeps_the_difference():
    rng = np.random.default_rng(0)
    n = 4000
    x = rng.gamma(2.0, 2.0, n)                       # pre-period clicks
    arm = assign_arms(np.arange(n), salt="cuped")
    y = 0.8 * x + rng.normal(0, 2, n) + 0.3 * arm
    y_adj, theta, reduction = cuped(y, x)
    rho = np.corrcoef(x, y)[0, 1]
    assert theta == pytest.approx(np.cov(x, y)[0, 1] / x.var(ddof=1))
    assert reduction == pytest.approx(rho ** 2) and reduction > 0.3
    raw, adj = difference(y[~arm], y[arm]), difference(y_adj[~arm], y_adj[arm])
    assert adj["se"] < raw["se"] and abs(adj["diff"] - 0.3) < 3 * adj["se"]
    assert y_adj.mean() == pytest.approx(y.mean())
    _, _, none = cuped(rng.normal(size=n), rng.normal(size=n))
    assert abs(none) < 0.01


# ---------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("call, match", [
    (lambda: difference([1.0], [1.0, 2.0]), "at least 2"),
    (lambda: difference([[1.0, 2.0]], [1.0, 2.0]), "1-D"),
    (lambda: difference([1.0, np.nan], [1.0, 2.0]), "NaN"),
    (lambda: difference([1.0, 2.0], [1.0, 2.0], alpha=0), "alpha"),
    (lambda: sample_size(-1.0, 0.1), "sd"),
    (lambda: sample_size(1.0, 0.0), "mde"),
    (lambda: sample_size(1.0, 0.1, power=1.0), "power"),
    (lambda: power(0, 1.0, 0.1), "n must"),
    (lambda: aa_false_positive_rate([1.0, 2.0, 3.0], n_repeats=0), "n_repeats"),
    (lambda: aa_false_positive_rate([1.0, 2.0, 3.0], share=0), "share"),
    (lambda: peeking_false_positive_rate(np.ones((5, 3)), test="bayes"), "test"),
    (lambda: peeking_false_positive_rate(np.ones(5)), "n_periods"),
    (lambda: aa_false_positive_rate(lambda g, r: np.ones((r + 1, 4))), "n_repeats"),
    (lambda: aa_false_positive_rate(lambda g, r: np.ones((r, 4, 2))), "n_users"),
    (lambda: cuped([1.0, 2.0], [3.0, 3.0]), "constant"),
    (lambda: cuped([1.0, 2.0], [1.0, 2.0, 3.0]), "one value per user"),
])
def test_bad_inputs(call, match):
    with pytest.raises(CourseKitError, match=match):
        call()
