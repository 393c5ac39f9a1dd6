"""Off-policy evaluation (coursekit.business.ope): hand cases, unbiasedness on the shop, obp agreement, bad input."""
from __future__ import annotations

import numpy as np
import pytest

from coursekit._validation import CourseKitError
from coursekit.business.ope import (
    LoggedBandit,
    clipped_ips,
    direct_method,
    doubly_robust,
    gather_scores,
    greedy_probs,
    importance_weights,
    ips,
    ope_study,
    popularity_scores,
    reward_model,
    simulate_log,
    snips,
    softmax_probs,
    true_value,
    uniform_probs,
)
from coursekit.datasets.shop import make_shop


@pytest.fixture(scope="module")
def shop():
    return make_shop(n_users=60, n_items=80, n_events=1500, seed=3)


@pytest.fixture(scope="module")
def taste_scores(shop):
    """A personalised score matrix (the true affinity plus noise): a stand-in for a fitted model."""
    from coursekit.datasets.shop.truth import affinity

    a = affinity(shop.truth, shop.truth["user_tastes"].index.to_numpy())
    return a + np.random.default_rng(0).normal(0, 1.0, a.shape)


def _hand_log():
    return LoggedBandit(user_ids=[1, 2, 3, 4], candidates=[[10, 11, 12]] * 4,
                        logging=[[0.5, 0.25, 0.25], [0.5, 0.25, 0.25], [0.2, 0.2, 0.6], [0.1, 0.8, 0.1]],
                        actions=[0, 1, 2, 0], rewards=[1.0, 0.0, 1.0, 1.0],
                        expected=[[0.5, 0.2, 0.4]] * 4)


TARGET = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.5, 0.5], [0.5, 0.5, 0.0]])
Q_HAT = np.array([[0.6, 0.1, 0.3]] * 4)


# ---------------------------------------------------------------------------- hand-computed
def test_estimators_by_hand():
    log = _hand_log()
    w = np.array([1 / 0.5, 1 / 0.25, 0.5 / 0.6, 0.5 / 0.1])          # 2, 4, 5/6, 5
    np.testing.assert_allclose(importance_weights(log, TARGET), w)
    wr = w * log.rewards                                              # 2, 0, 5/6, 5
    assert ips(log, TARGET)[0] == pytest.approx(wr.mean())
    assert ips(log, TARGET)[1] == pytest.approx(wr.std(ddof=1) / 2)
    assert snips(log, TARGET)[0] == pytest.approx(wr.sum() / w.sum())
    assert clipped_ips(log, TARGET, max_weight=3.0)[0] == pytest.approx((2 + 0 + 5 / 6 + 3) / 4)
    dm_rows = (TARGET * Q_HAT).sum(axis=1)                           # .6, .1, .2, .35
    assert direct_method(log, TARGET, Q_HAT)[0] == pytest.approx(dm_rows.mean())
    resid = log.rewards - Q_HAT[np.arange(4), log.actions]           # .4, -.1, .7, .4
    assert doubly_robust(log, TARGET, Q_HAT)[0] == pytest.approx((dm_rows + w * resid).mean())
    assert true_value(log, TARGET) == pytest.approx(((TARGET * np.array([0.5, 0.2, 0.4])).sum(axis=1)).mean())


def test_snips_se_delta_method_and_logging_policy_is_its_own_baseline():
    log = _hand_log()
    w = importance_weights(log, TARGET)
    v = snips(log, TARGET)[0]
    assert snips(log, TARGET)[1] == pytest.approx(np.sqrt((w ** 2 * (log.rewards - v) ** 2).sum()) / w.sum())
    # evaluating the logging policy itself: all weights 1, IPS = SNIPS = the mean reward
    assert ips(log, log.logging)[0] == snips(log, log.logging)[0] == pytest.approx(log.rewards.mean())


def test_dr_equals_dm_with_perfect_residuals_and_ips_with_zero_model():
    log = _hand_log()
    assert doubly_robust(log, TARGET, np.zeros((4, 3)))[0] == pytest.approx(ips(log, TARGET)[0])
    exact = np.zeros((4, 3))
    exact[np.arange(4), log.actions] = log.rewards                   # the model is right on every shown item
    assert doubly_robust(log, TARGET, exact)[0] == pytest.approx(direct_method(log, TARGET, exact)[0])


def test_policies():
    p = softmax_probs([[1.0, 2.0, 3.0]], temperature=0.5)
    z = np.array([-1.0, 0.0, 1.0]) / np.std([1, 2, 3])
    np.testing.assert_allclose(p[0], np.exp(z / 0.5) / np.exp(z / 0.5).sum())
    np.testing.assert_allclose(softmax_probs([[5.0, 5.0]]), [[0.5, 0.5]])
    assert softmax_probs([[0.0, 1.0]], 1e-3)[0, 1] == pytest.approx(1.0)
    np.testing.assert_array_equal(greedy_probs([[0.0, 3.0, 3.0], [1.0, 0.0, 0.0]]), [[0, 1, 0], [1, 0, 0]])
    np.testing.assert_allclose(uniform_probs(2, 5).sum(axis=1), 1.0)


def test_head_is_a_prefix():
    log = _hand_log().head(2)
    assert log.n == 2 and log.expected.shape == (2, 3)
    np.testing.assert_array_equal(log.actions, [0, 1])


# ---------------------------------------------------------------------------- on the shop
def test_simulate_log_matches_the_truth(shop, taste_scores):
    from coursekit.datasets.shop.truth import affinity

    log = simulate_log(shop, 4000, scores=taste_scores, k=6, temperature=1.0, seed=1)
    assert log.candidates.shape == (4000, 6) and log.n == 4000
    np.testing.assert_allclose(log.logging.sum(axis=1), 1.0)
    assert log.logging.min() > 0
    # candidates are each user's top 6 by the candidate scores
    users = shop.truth["user_tastes"].index
    top = np.argsort(-taste_scores, axis=1, kind="stable")[:, :6] + 1
    np.testing.assert_array_equal(log.candidates, top[users.get_indexer(log.user_ids)])
    # expected rewards are sigma(a - click_cut) at the end of the log
    t = int(shop.interactions["timestamp"].max()) + 1
    a = affinity(shop.truth, log.user_ids[:50], None, t)
    q = 1 / (1 + np.exp(-(a[np.arange(50)[:, None], log.candidates[:50] - 1] - shop.truth["params"]["click_cut"])))
    np.testing.assert_allclose(log.expected[:50], q)
    # the logged actions follow the logging policy and the rewards their expectation (within ~4 se)
    emp = np.bincount(log.actions, minlength=6) / log.n
    assert np.abs(emp - log.logging.mean(axis=0)).max() < 4 * np.sqrt(0.25 / log.n)
    shown = log.expected[np.arange(log.n), log.actions]
    assert abs(log.rewards.mean() - shown.mean()) < 4 * np.sqrt(shown.mean() * (1 - shown.mean()) / log.n)
    assert simulate_log(shop, 10, k=3, reward="purchase", seed=0).expected.max() < log.expected.max()


def test_simulate_log_is_deterministic(shop):
    a, b = simulate_log(shop, 200, k=4, seed=7), simulate_log(shop, 200, k=4, seed=7)
    np.testing.assert_array_equal(a.actions, b.actions)
    np.testing.assert_array_equal(a.rewards, b.rewards)


def test_ips_snips_dr_are_unbiased_and_dm_is_not(shop, taste_scores):
    """Over 200 logs, IPS / SNIPS / DR errors average to 0 (within 4 se); a poor reward model biases DM."""
    pop = popularity_scores(shop)

    def make_log(n, seed):
        return simulate_log(shop, n, scores=pop, candidate_scores=taste_scores, k=5, temperature=1.0, seed=seed)

    policies = {"greedy taste": lambda log: greedy_probs(gather_scores(shop, taste_scores, log))}
    table = ope_study(make_log, policies, [300, 1000], repeats=200, seed=0,
                      reward_hat=lambda log: reward_model(log, gather_scores(shop, pop, log)))
    assert set(table["estimator"]) == {"IPS", "SNIPS", "clipped IPS", "DM", "DR"}
    big = table[table["n"] == 1000].set_index("estimator")
    for est in ("IPS", "SNIPS", "DR"):
        assert abs(big.loc[est, "bias"]) < 4 * big.loc[est, "sd"] / np.sqrt(200), est
        assert big.loc[est, "coverage"] > 0.85, est
    assert abs(big.loc["DM", "bias"]) > 4 * big.loc["DM", "sd"] / np.sqrt(200)
    # the error shrinks with the log size
    ips_rows = table[table["estimator"] == "IPS"].set_index("n")
    assert ips_rows.loc[1000, "sd"] < ips_rows.loc[300, "sd"]
    np.testing.assert_allclose(table["rmse"] ** 2, table["bias"] ** 2 + table["sd"] ** 2 * 199 / 200, rtol=1e-9)


def test_reward_model_recovers_a_logistic_truth():
    rng = np.random.default_rng(0)
    n, k = 20000, 4
    f = rng.normal(size=(n, k))
    q = 1 / (1 + np.exp(-(-0.5 + 1.5 * f)))
    logging = np.full((n, k), 0.25)
    actions = rng.integers(0, k, n)
    rewards = (rng.random(n) < q[np.arange(n), actions]).astype(float)
    log = LoggedBandit(np.arange(n), np.tile(np.arange(k), (n, 1)), logging, actions, rewards, q)
    q_hat = reward_model(log, f, l2=0.0)
    assert np.abs(q_hat - q).max() < 0.03
    target = greedy_probs(f)
    assert direct_method(log, target, q_hat)[0] == pytest.approx(true_value(log, target), abs=0.01)


# ---------------------------------------------------------------------------- agreement with Open Bandit Pipeline
def test_agrees_with_obp(shop, taste_scores):
    obp_ope = pytest.importorskip("obp.ope", reason="Open Bandit Pipeline (pip install obp) is not installed")
    log = simulate_log(shop, 3000, scores=popularity_scores(shop), candidate_scores=taste_scores, k=5, seed=2)
    target = softmax_probs(gather_scores(shop, taste_scores, log), 0.5)
    q_hat = reward_model(log, gather_scores(shop, taste_scores, log))
    args = dict(reward=log.rewards, action=log.actions, pscore=log.propensities, action_dist=target[:, :, None],
                position=np.zeros(log.n, dtype=int))
    assert ips(log, target)[0] == pytest.approx(obp_ope.InverseProbabilityWeighting().estimate_policy_value(**args))
    assert snips(log, target)[0] == pytest.approx(
        obp_ope.SelfNormalizedInverseProbabilityWeighting().estimate_policy_value(**args))
    extra = dict(estimated_rewards_by_reg_model=q_hat[:, :, None])
    assert doubly_robust(log, target, q_hat)[0] == pytest.approx(
        obp_ope.DoublyRobust().estimate_policy_value(**args, **extra))
    assert direct_method(log, target, q_hat)[0] == pytest.approx(obp_ope.DirectMethod().estimate_policy_value(
        position=args["position"], action_dist=args["action_dist"], **extra))


# ---------------------------------------------------------------------------- bad input
def test_bad_inputs(shop):
    log = _hand_log()
    with pytest.raises(CourseKitError, match="sum to 1"):
        ips(log, np.full((4, 3), 0.5))
    with pytest.raises(CourseKitError, match="shape"):
        ips(log, np.full((4, 2), 0.5))
    with pytest.raises(CourseKitError, match="max_weight"):
        clipped_ips(log, TARGET, max_weight=0)
    with pytest.raises(CourseKitError, match="reward_hat"):
        direct_method(log, TARGET, np.zeros((3, 3)))
    with pytest.raises(CourseKitError, match="probability 0"):
        snips(log, [[0, 1, 0], [1, 0, 0], [1, 0, 0], [0, 1, 0]])      # never the logged action
    with pytest.raises(CourseKitError, match="could not have been shown"):
        LoggedBandit([1], [[1, 2]], [[1.0, 0.0]], [1], [1.0])
    with pytest.raises(CourseKitError, match="actions"):
        LoggedBandit([1], [[1, 2]], [[0.5, 0.5]], [2], [1.0])
    with pytest.raises(CourseKitError, match="simulated log"):
        true_value(LoggedBandit([1], [[1, 2]], [[0.5, 0.5]], [0], [1.0]), [[1.0, 0.0]])
    with pytest.raises(CourseKitError, match="reward"):
        simulate_log(shop, 10, reward="revenue")
    with pytest.raises(CourseKitError, match="scores must be"):
        simulate_log(shop, 10, scores=np.zeros((3, 3)))
    with pytest.raises(CourseKitError, match="k must be at most"):
        simulate_log(shop, 10, k=1000)
    with pytest.raises(CourseKitError, match="temperature"):
        softmax_probs([[1.0, 2.0]], temperature=0)
    with pytest.raises(CourseKitError, match="log_sizes"):
        ope_study(lambda n, s: log, {"t": lambda lg: TARGET}, [0])
