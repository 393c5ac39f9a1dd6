"""Business objectives: revenue-aware re-ranking (coursekit.business.revenue) and guardrails (.guardrails)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coursekit._validation import CourseKitError
from coursekit.business.guardrails import guardrails
from coursekit.business.revenue import RevenueReranker, revenue_rerank
from coursekit.interactions import Interactions
from coursekit.metrics import intra_list_diversity
from coursekit.models import IALS, MostPopular


# ---------------------------------------------------------------------------- revenue_rerank
def test_gamma_zero_keeps_the_base_order_and_large_gamma_sorts_by_price():
    rng = np.random.default_rng(0)
    prices = rng.uniform(5, 100, 50)
    items = np.array([rng.permutation(50)[:12] for _ in range(6)])
    scores = np.sort(rng.normal(size=(6, 12)), axis=1)[:, ::-1]     # base order: best first
    np.testing.assert_array_equal(revenue_rerank(items, scores, prices, gamma=0.0, k=12), items)
    by_price = revenue_rerank(items, scores, prices, gamma=1e6, k=5)
    expected = np.take_along_axis(items, np.argsort(-prices[items], axis=1, kind="stable")[:, :5], axis=1)
    np.testing.assert_array_equal(by_price, expected)
    cheap = revenue_rerank(items, scores, prices, gamma=-1e6, k=1)
    np.testing.assert_array_equal(cheap[:, 0], items[np.arange(6), np.argmin(prices[items], axis=1)])


def test_rerank_by_hand_and_padding():
    prices = np.array([10.0, 100.0, 20.0, 1.0])
    items, scores = np.array([[0, 1, 2]]), np.array([[3.0, 2.0, 1.0]])
    z_s = (scores[0] - 2.0) / np.std([3.0, 2.0, 1.0])
    lp = np.log(prices[[0, 1, 2]])
    z_p = (lp - lp.mean()) / lp.std()
    for gamma in (0.3, 1.0, 3.0):
        mine = items[0][np.argsort(-(z_s + gamma * z_p), kind="stable")]
        np.testing.assert_array_equal(revenue_rerank(items, scores, prices, gamma, k=3)[0], mine)
    # padding stays last; a row with one candidate is unchanged; scaling prices changes nothing
    padded = revenue_rerank(np.array([[3, -1, -1], [2, 0, -1]]), np.array([[5.0, -np.inf, -np.inf],
                                                                           [1.0, 0.0, -np.inf]]), prices, 5.0, k=3)
    np.testing.assert_array_equal(padded, [[3, -1, -1], [2, 0, -1]])
    np.testing.assert_array_equal(revenue_rerank(items, scores, prices * 7.3, 1.0, k=3),
                                  revenue_rerank(items, scores, prices, 1.0, k=3))


def test_rerank_bad_inputs():
    with pytest.raises(CourseKitError, match="same shape"):
        revenue_rerank([[0, 1]], [[1.0]], [1.0, 2.0])
    with pytest.raises(CourseKitError, match="prices"):
        revenue_rerank([[0, 1]], [[1.0, 0.5]], [1.0, 0.0])
    with pytest.raises(CourseKitError, match="no price"):
        revenue_rerank([[0, 5]], [[1.0, 0.5]], [1.0, 2.0])
    with pytest.raises(CourseKitError, match="gamma"):
        revenue_rerank([[0, 1]], [[1.0, 0.5]], [1.0, 2.0], gamma="high")
    with pytest.raises(CourseKitError, match="k must be"):
        revenue_rerank([[0, 1]], [[1.0, 0.5]], [1.0, 2.0], k=0)


# ---------------------------------------------------------------------------- RevenueReranker
@pytest.fixture(scope="module")
def shop_small():
    from coursekit.business.prices import item_prices
    from coursekit.datasets.shop import make_shop

    shop = make_shop(n_users=80, n_items=60, n_events=2000, seed=1)
    return shop, shop.to_interactions(), item_prices(shop.items, seed=0)


def test_reranker_lifts_the_price_and_matches_the_function(shop_small):
    shop, train, prices = shop_small
    users = train.users.ids[:40]
    base = IALS(factors=8, iterations=5, seed=0).fit(train)
    plain = RevenueReranker(IALS(factors=8, iterations=5, seed=0), prices, gamma=0.0, n_candidates=20).fit(train)
    rich = RevenueReranker(IALS(factors=8, iterations=5, seed=0), prices, gamma=2.0, n_candidates=20).fit(train)
    np.testing.assert_array_equal(plain.recommend(users, k=10)[0], base.recommend(users, k=10)[0])
    top_plain, top_rich = plain.recommend(users, k=5)[0], rich.recommend(users, k=5)[0]
    assert prices.reindex(top_rich.ravel()).mean() > prices.reindex(top_plain.ravel()).mean()
    # the recommender equals revenue_rerank on the base model's candidates
    cand, cand_s = base.recommend_indices(train.users.index(users), 20)
    mine = revenue_rerank(cand, cand_s, prices.reindex(train.items.ids).to_numpy(), 2.0, k=5)
    np.testing.assert_array_equal(train.items.ids[mine], top_rich)
    # items beyond the candidates follow the base order
    np.testing.assert_array_equal(rich.recommend(users, k=25)[0][:, 20:], base.recommend(users, k=25)[0][:, 20:])


def test_reranker_fit_does_not_touch_the_base_and_needs_prices():
    log = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "item_id": [10, 20, 10, 30, 40]})
    train = Interactions.from_frame(log)
    base = MostPopular()
    RevenueReranker(base, {10: 1.0, 20: 2.0, 30: 3.0, 40: 4.0}).fit(train)
    assert not hasattr(base, "seen_")
    with pytest.raises(CourseKitError, match="no price for item id"):
        RevenueReranker(MostPopular(), {10: 1.0, 20: 2.0}).fit(train)
    with pytest.raises(CourseKitError, match="needs prices"):
        RevenueReranker(MostPopular()).fit(train)
    with pytest.raises(CourseKitError, match="prices must be"):
        RevenueReranker(MostPopular(), {10: 1.0, 20: -2.0, 30: 3.0, 40: 4.0}).fit(train)
    with pytest.raises(CourseKitError, match="wraps a coursekit Recommender"):
        RevenueReranker("popular", {10: 1.0, 20: 2.0, 30: 3.0, 40: 4.0}).fit(train)


# ---------------------------------------------------------------------------- guardrails
def _catalogue():
    return pd.DataFrame({"item_id": [1, 2, 3, 4, 5, 6], "category": ["a", "a", "b", "b", "c", "c"],
                         "release_time": [0, 0, 0, 0, 50, 60],
                         "price_band": ["budget", "mid", "mid", "premium", "budget", "premium"]})


def test_guardrails_by_hand():
    slates = np.array([[1, 2, 3], [1, 5, 6], [4, -1, -1]])
    g = guardrails(slates, _catalogue(), new_since=50)
    assert g["n_slates"] == 3 and g["n_impressions"] == 7
    assert g["coverage"] == pytest.approx(6 / 6)
    assert g["new_item_share"] == pytest.approx(2 / 7)
    assert g["intra_list_diversity"] == pytest.approx(((1 - 1 / 3) + (1 - 1 / 3)) / 2)   # slate 3 has one item
    assert g["price_band_shares"] == pytest.approx({"budget": 3 / 7, "mid": 2 / 7, "premium": 2 / 7})
    assert guardrails(np.array([[1, 1]]), _catalogue(), n_items=10)["coverage"] == pytest.approx(0.1)
    assert guardrails(np.array([[1, 3, 5]] * 4), _catalogue())["gini"] > guardrails(
        np.array([[1, 3, 5], [2, 4, 6]] * 2), _catalogue())["gini"]


def test_guardrails_ild_matches_the_metric_with_one_hot_categories():
    rng = np.random.default_rng(0)
    items = pd.DataFrame({"item_id": np.arange(100, 140), "category": rng.choice(list("abcdef"), 40),
                          "release_time": 0})
    slates = np.array([rng.choice(np.arange(100, 140), 8, replace=False) for _ in range(30)])
    onehot = pd.get_dummies(items["category"]).to_numpy(dtype=float)
    ild = intra_list_diversity(slates - 100, onehot)
    assert guardrails(slates, items)["intra_list_diversity"] == pytest.approx(np.nanmean(ild))


def test_guardrails_bad_inputs():
    cat = _catalogue()
    with pytest.raises(CourseKitError, match="not in items"):
        guardrails(np.array([[1, 99]]), cat)
    with pytest.raises(CourseKitError, match="2-D integer"):
        guardrails(np.array([1, 2]), cat)
    with pytest.raises(CourseKitError, match="category"):
        guardrails(np.array([[1, 2]]), cat.drop(columns="category"))
    with pytest.raises(CourseKitError, match="release_time"):
        guardrails(np.array([[1, 2]]), cat.drop(columns="release_time"), new_since=5)
    with pytest.raises(CourseKitError, match="n_items"):
        guardrails(np.array([[1, 2]]), cat, n_items=3)
