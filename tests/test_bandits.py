"""Bandits of lesson 06 (coursekit.coldstart: bandit_policies, bandits, simulator): policies, regret, bad input."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coursekit._validation import CourseKitError
from coursekit.coldstart.bandit_policies import (
    UCB1,
    BetaThompson,
    EpsilonGreedy,
    LinearThompson,
    LinUCB,
    OraclePolicy,
    RandomPolicy,
    default_policies,
)
from coursekit.coldstart.bandits import plot_regret, regret_summary, run_bandits
from coursekit.coldstart.simulator import (
    BanditProblem,
    bernoulli_problem,
    movielens_item_features,
    movielens_problem,
    shop_problem,
)

EASY = [0.1, 0.2, 0.3, 0.9]


def _final(curves: pd.DataFrame, column: str = "regret") -> pd.Series:
    return curves[curves.t == curves.t.max()].groupby("policy", observed=True)[column].mean()


# ------------------------------------------------------------------ policies find the best arm
@pytest.mark.parametrize("policy", [UCB1(), BetaThompson(), LinUCB(), LinearThompson()], ids=lambda p: p.name)
def test_policies_find_the_best_arm_on_an_easy_problem(policy):
    problem = bernoulli_problem(EASY, seeds=range(4))
    curves = run_bandits(problem, [policy], horizon=600)
    last = curves[curves.t == 600]
    assert (last.best_arm_share > 0.75).all(), last
    # a policy that has found the arm adds little regret in the last 100 rounds (random adds ~ 0.55 per round)
    per_seed = curves.pivot_table(index="t", columns="seed", values="regret")
    assert ((per_seed.loc[600] - per_seed.loc[500]) < 15).all()


def test_random_and_epsilon_greedy_keep_losing_linearly():
    problem = bernoulli_problem(EASY, seeds=range(4))
    curves = run_bandits(problem, [RandomPolicy(), EpsilonGreedy(0.2), UCB1()], horizon=800)
    summary = regret_summary(curves)
    assert 0.9 < summary.loc["random", "second_half_ratio"] < 1.1
    # epsilon-greedy still pays about eps * mean gap per round: (0.8 + 0.7 + 0.6) / 4 * 0.2 = 0.105
    eg = curves[curves.policy == "epsilon-greedy (0.2)"].groupby("t").regret.mean()
    assert 0.05 < (eg.loc[800] - eg.loc[400]) / 400 < 0.2
    assert summary.loc["UCB1", "final_regret"] < summary.loc["random", "final_regret"] / 3


def test_linucb_uses_shared_content_to_beat_ucb1_when_arms_outnumber_dimensions():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))                    # 200 arms, 5-dim content, linear truth
    theta = np.array([1.0, -0.5, 0.3, 0.0, 0.2])
    means = 1 / (1 + np.exp(-(X @ theta - 1.0)))
    problem = bernoulli_problem(means, features=X, seeds=range(3))
    summary = regret_summary(run_bandits(problem, [UCB1(), LinUCB(), LinearThompson()], horizon=500))
    assert summary.loc["LinUCB", "final_regret"] < 0.5 * summary.loc["UCB1", "final_regret"]
    assert summary.loc["Thompson (linear)", "final_regret"] < 0.5 * summary.loc["UCB1", "final_regret"]


# ------------------------------------------------------------------ regret is defined correctly
def test_oracle_regret_is_exactly_zero_and_regret_is_non_decreasing():
    problem = bernoulli_problem(np.random.default_rng(1).random((3, 7)), seeds=[3, 4, 5])
    curves = run_bandits(problem, [OraclePolicy(problem.means), *default_policies()], horizon=150)
    assert (curves.loc[curves.policy == "oracle", "regret"] == 0).all()
    assert (curves.loc[curves.policy == "oracle", "best_arm_share"] == 1).all()
    for (_, _), g in curves.groupby(["policy", "seed"], observed=True):
        assert (np.diff(g.sort_values("t").regret.to_numpy()) >= -1e-12).all()
        assert (np.diff(g.sort_values("t").reward.to_numpy()) >= 0).all()


def test_regret_is_pseudo_regret_by_hand():
    class Fixed(RandomPolicy):
        name = "always arm 0"

        def select(self, t, features):
            return np.zeros(self.n_runs, dtype=np.int64)

    problem = bernoulli_problem([[0.2, 0.5], [0.7, 0.4]], seeds=[0, 1])
    curves = run_bandits(problem, [Fixed()], horizon=10)
    reg = curves.pivot_table(index="t", columns="seed", values="regret")
    np.testing.assert_allclose(reg[0].to_numpy(), 0.3 * np.arange(1, 11))   # 0.5 - 0.2 each round
    np.testing.assert_allclose(reg[1].to_numpy(), 0.0)                      # arm 0 is best in run 1


def test_regret_summary_sublinearity_measures():
    t = np.arange(1, 1001)
    curves = pd.concat([pd.DataFrame({"policy": "linear", "seed": 0, "t": t, "regret": 0.3 * t}),
                        pd.DataFrame({"policy": "sqrt", "seed": 0, "t": t, "regret": 2 * np.sqrt(t)}),
                        pd.DataFrame({"policy": "sqrt", "seed": 1, "t": t, "regret": 4 * np.sqrt(t)})])
    s = regret_summary(curves)
    assert s.loc["linear", "second_half_ratio"] == pytest.approx(1.0)
    assert s.loc["sqrt", "second_half_ratio"] == pytest.approx(np.sqrt(2) - 1, abs=1e-9)
    assert s.loc["sqrt", "loglog_slope"] == pytest.approx(0.5, abs=1e-9)
    assert s.loc["sqrt", "final_regret"] == pytest.approx(3 * np.sqrt(1000))
    assert s.loc["sqrt", "std"] == pytest.approx(np.std([2 * np.sqrt(1000), 4 * np.sqrt(1000)], ddof=1))


# ------------------------------------------------------------------ internals against independent computations
def test_linucb_statistics_match_ridge_regression_and_direct_widths():
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(2)
    X = rng.normal(size=(1, 30, 6))
    policy = LinUCB(alpha=0.7, reg=2.0).reset(1, 30, 6, [np.random.default_rng(0)])
    arms, rewards = [], []
    for t in range(40):
        a = policy.select(t + 1, X)
        r = rng.integers(0, 2, 1).astype(float)
        policy.update(a, r, X)
        arms.append(int(a[0]))
        rewards.append(float(r[0]))
    Xa = X[0, arms]
    ridge = Ridge(alpha=2.0, fit_intercept=False, solver="cholesky").fit(Xa, rewards)
    np.testing.assert_allclose(policy.theta[0], ridge.coef_, atol=1e-8)
    A = 2.0 * np.eye(6) + Xa.T @ Xa
    np.testing.assert_allclose(policy.A_inv[0], np.linalg.inv(A), atol=1e-10)
    direct = np.einsum("kd,de,ke->k", X[0], np.linalg.inv(A), X[0])
    np.testing.assert_allclose(policy.widths(X)[0], direct, atol=1e-10)   # the Sherman-Morrison-updated cache


def test_ucb1_plays_every_arm_once_then_uses_the_total_count():
    policy = UCB1().reset(1, 3, 1, [np.random.default_rng(0)])
    X = np.zeros((1, 3, 1))
    first = []
    for t in range(3):
        a = policy.select(t + 1, X)
        first.append(int(a[0]))
        policy.update(a, np.array([1.0 if a[0] == 0 else 0.0]), X)
    assert sorted(first) == [0, 1, 2]
    # means (1, 0, 0), pulls (1, 1, 1), t = 3: scores 1 + sqrt(2 ln 3) vs sqrt(2 ln 3): arm 0
    assert policy.select(4, X)[0] == 0
    policy.n[0] = [50, 1, 1]
    policy.s[0] = [25, 0, 0]         # mean 0.5 + sqrt(2 ln 52 / 50) < 0 + sqrt(2 ln 52)
    assert policy.select(53, X)[0] in (1, 2)


# ------------------------------------------------------------------ seeds reproduce
def test_seeds_reproduce_and_runs_do_not_depend_on_each_other():
    means = np.random.default_rng(3).random((3, 6))
    a = run_bandits(bernoulli_problem(means, seeds=[10, 11, 12]), default_policies(), horizon=120)
    b = run_bandits(bernoulli_problem(means, seeds=[10, 11, 12]), default_policies(), horizon=120)
    pd.testing.assert_frame_equal(a, b)
    alone = run_bandits(bernoulli_problem(means[1:2], seeds=[11]), default_policies(), horizon=120)
    pd.testing.assert_frame_equal(a[a.seed == 11].reset_index(drop=True), alone.reset_index(drop=True),
                                  check_categorical=False)
    c = run_bandits(bernoulli_problem(means, seeds=[20, 21, 22]), default_policies(), horizon=120)
    assert not np.allclose(a.regret.to_numpy(), c.regret.to_numpy())


# ------------------------------------------------------------------ bad input
def test_bad_input_errors():
    with pytest.raises(CourseKitError, match="at least one arm"):
        bernoulli_problem([])
    with pytest.raises(CourseKitError, match="n_arms"):
        UCB1().reset(1, 0, 1, [np.random.default_rng(0)])
    with pytest.raises(CourseKitError, match="n_arms"):
        LinUCB().reset(1, -3, 2, [np.random.default_rng(0)])
    with pytest.raises(CourseKitError, match=r"\[0, 1\]"):
        bernoulli_problem([0.5, 1.5])
    with pytest.raises(CourseKitError, match="horizon"):
        run_bandits(bernoulli_problem(EASY), horizon=0)
    with pytest.raises(CourseKitError, match="empty"):
        run_bandits(bernoulli_problem(EASY), [], horizon=5)
    with pytest.raises(CourseKitError, match="distinct"):
        run_bandits(bernoulli_problem(EASY), [UCB1(), UCB1()], horizon=5)
    with pytest.raises(CourseKitError, match="BanditProblem"):
        run_bandits(EASY, horizon=5)
    with pytest.raises(CourseKitError, match="epsilon"):
        EpsilonGreedy(1.5)
    with pytest.raises(CourseKitError, match="features"):
        BanditProblem(np.zeros((1, 3, 2)), np.zeros((1, 4)), (0,))
    with pytest.raises(CourseKitError, match="seeds"):
        bernoulli_problem(EASY, seeds=[1, 1])


# ------------------------------------------------------------------ simulators
@pytest.fixture(scope="module")
def small_shop():
    from coursekit.datasets import make_shop

    return make_shop(n_users=200, n_items=300, n_events=3000, seed=5, late_item_frac=0.3)


def test_shop_problem_uses_the_ground_truth(small_shop):
    from coursekit.datasets.shop import purchase_probability

    p = shop_problem(small_shop, n_arms=40, seeds=[0, 1, 2])
    assert p.features.shape == (3, 40, 71)
    late = small_shop.items.loc[small_shop.items.release_time > small_shop.items.release_time.min(), "item_id"]
    for r in range(3):
        user, items = p.runs.user_id[r], p.item_ids[r]
        assert set(items) <= set(late)                               # the new (late-released) items
        np.testing.assert_allclose(p.means[r], purchase_probability(small_shop.truth, [user], items)[0])
        np.testing.assert_array_equal(p.features[r], small_shop.truth["item_attributes"].loc[items].to_numpy())
    vec = pd.DataFrame(np.random.default_rng(0).normal(size=(300, 8)), index=small_shop.items.item_id)
    q = shop_problem(small_shop, n_arms=40, seeds=[0, 1, 2], item_vectors=vec)
    np.testing.assert_array_equal(q.means, p.means)
    np.testing.assert_array_equal(q.features[1], vec.loc[p.item_ids[1]].to_numpy())
    with pytest.raises(CourseKitError, match="n_arms"):
        shop_problem(small_shop, n_arms=0)
    with pytest.raises(CourseKitError, match="candidate items"):
        shop_problem(small_shop, n_arms=1000)
    with pytest.raises(CourseKitError, match="truth"):
        shop_problem(type("D", (), {"truth": {}})(), n_arms=3)


def test_movielens_problem_is_a_model_on_a_tiny_log():
    from coursekit.interactions import Interactions

    rng = np.random.default_rng(0)
    log = pd.DataFrame({"user_id": rng.integers(1, 40, 1500), "item_id": rng.integers(1, 60, 1500)}).drop_duplicates()
    items = pd.DataFrame({"item_id": np.arange(1, 60), "year": rng.integers(1950, 2010, 59),
                          "genres": [["Drama"] if i % 2 else ["Comedy", "Drama"] for i in range(59)]})

    class Data:
        def __init__(self):
            self.items = items

        def to_interactions(self):
            return Interactions.from_frame(log)

    p = movielens_problem(Data(), n_arms=10, seeds=[0, 1], min_ratings=5, factors=4, iterations=2)
    assert p.means.shape == (2, 10) and p.means.min() >= 0 and p.means.max() <= 1
    assert "model" in p.name
    feats = movielens_item_features(items)
    assert feats.shape[0] == 59 and {"genre=Drama", "genre=Comedy"} <= set(feats.columns)


def test_bar_on_the_shop_linucb_beats_epsilon_greedy_and_random(small_shop):
    """A small version of benchmarks/bench_bandits.py (the full bar is measured there)."""
    problem = shop_problem(small_shop, n_arms=60, seeds=range(5), candidates="all")
    summary = regret_summary(run_bandits(problem, [RandomPolicy(), EpsilonGreedy(0.1), LinUCB()], horizon=1500))
    fin = summary["final_regret"]
    assert fin["LinUCB"] < fin["epsilon-greedy (0.1)"] and fin["LinUCB"] < 0.5 * fin["random"]
    assert summary.loc["LinUCB", "second_half_ratio"] < 0.6 < 0.9 < summary.loc["random", "second_half_ratio"]


def test_plot_regret_draws_one_line_per_policy():
    import matplotlib

    matplotlib.use("Agg")
    curves = run_bandits(bernoulli_problem(EASY, seeds=[0, 1]), [UCB1(), RandomPolicy()], horizon=50)
    ax = plot_regret(curves, band="std")
    assert len(ax.get_lines()) == 2 and [t.get_text() for t in ax.get_legend().get_texts()] == ["UCB1", "random"]
    with pytest.raises(CourseKitError, match="band"):
        plot_regret(curves, band="iqr")
