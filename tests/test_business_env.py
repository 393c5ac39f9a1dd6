"""coursekit.business: item prices, the online shop's position-based click model, policies and serving."""
from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from coursekit._validation import CourseKitError, UnknownIdError
from coursekit.business import (
    BAND_MEDIANS,
    OnlineShop,
    assign_arms,
    examination_probabilities,
    item_prices,
    random_policy,
    recommender_policy,
)
from coursekit.datasets import load_dataset, make_shop
from coursekit.datasets.shop import affinity
from coursekit.datasets.shop.params import DAY
from coursekit.models import IALS, MostPopular


@pytest.fixture(scope="module")
def small():
    return make_shop(n_users=60, n_items=40, n_events=1500, seed=3)


@pytest.fixture(scope="module")
def shop(small):
    return OnlineShop(small, seed=0)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# ---------------------------------------------------------------------------- prices
def test_prices_deterministic_positive_and_near_band_medians():
    data = load_dataset("shop")
    p = item_prices(data.items, seed=0)
    assert p.name == "price" and p.index.name == "item_id" and (p > 0).all()
    assert p.equals(item_prices(data.items.sample(frac=1.0, random_state=1), seed=0))   # row order irrelevant
    assert not p.equals(item_prices(data.items, seed=1))
    med = pd.concat([data.items.set_index("item_id")["price_band"], p], axis=1).groupby("price_band")["price"].median()
    for band, m in BAND_MEDIANS.items():
        assert med[band] == pytest.approx(m, rel=0.1)


def test_prices_sigma_zero_and_bad_inputs():
    items = pd.DataFrame({"item_id": [3, 1], "price_band": ["premium", "budget"]})
    assert item_prices(items, sigma=0).to_dict() == {1: 12.0, 3: 90.0}
    with pytest.raises(CourseKitError, match="luxury"):
        item_prices(pd.DataFrame({"item_id": [1], "price_band": ["luxury"]}))
    with pytest.raises(CourseKitError, match="sigma"):
        item_prices(items, sigma=-1)
    with pytest.raises(CourseKitError, match="price_band"):
        item_prices(items.drop(columns="price_band"))
    with pytest.raises(CourseKitError, match="medians"):
        item_prices(items, medians={"premium": 0.0, "budget": 1.0})


# ---------------------------------------------------------------------------- arrivals
def test_examination_is_the_dcg_discount():
    e = examination_probabilities(10)
    assert e[0] == 1.0 and np.all(np.diff(e) < 0)
    assert e[9] == pytest.approx(1 / np.log2(11))


def test_arrivals_default_shop_two_weeks():
    shop = OnlineShop(load_dataset("shop"))
    req = shop.arrivals(days=14, seed=0)
    assert 20_000 <= len(req) <= 40_000
    assert req["time"].min() >= shop.start and req["time"].max() < shop.start + 14 * DAY
    assert req["request"].tolist() == list(range(len(req))) and req["time"].is_monotonic_increasing
    # more active users arrive more often
    counts = req.groupby("user_id").size().reindex(shop.user_ids).fillna(0)
    activity = shop.truth["user_activity"].reindex(shop.user_ids)
    assert np.corrcoef(counts, activity)[0, 1] > 0.8


def test_arrivals_rate_users_seed_and_errors(shop):
    req = shop.arrivals(days=10, requests_per_user_day=2.0, seed=1)
    expected = 2.0 * 10 * len(shop.user_ids)
    assert abs(len(req) - expected) < 4 * np.sqrt(expected)
    assert req.equals(shop.arrivals(days=10, requests_per_user_day=2.0, seed=1))
    sub = shop.arrivals(users=[1, 2], days=30, seed=1)
    assert set(sub["user_id"]) <= {1, 2}
    assert shop.arrivals(start=5, days=1, seed=1)["time"].between(5, 5 + DAY - 1).all()
    with pytest.raises(UnknownIdError, match="99999"):
        shop.arrivals(users=[99999])
    with pytest.raises(CourseKitError, match="days"):
        shop.arrivals(days=0)
    with pytest.raises(CourseKitError, match="requests_per_user_day"):
        shop.arrivals(requests_per_user_day=-1)


# ---------------------------------------------------------------------------- the click model
def test_expected_matches_the_formula(small, shop):
    users, times = np.array([1, 5, 7]), np.full(3, shop.start)
    slates = np.array([[1, 2, 3], [4, 5, -1], [6, 7, 8]])
    ex = shop.expected(users, times, slates)
    a = affinity(small.truth, users, None, times)
    params = small.truth["params"]
    e = examination_probabilities(3)
    for r in range(3):
        for p in range(3):
            item = slates[r, p]
            if item == -1:
                assert ex["click"][r, p] == ex["purchase"][r, p] == ex["revenue"][r, p] == 0
                continue
            assert ex["click"][r, p] == pytest.approx(e[p] * _sigmoid(a[r, item - 1] - params["click_cut"]))
            assert ex["purchase"][r, p] == pytest.approx(e[p] * _sigmoid(a[r, item - 1] - params["purchase_cut"]))
            assert ex["revenue"][r, p] == pytest.approx(ex["purchase"][r, p] * shop.prices[item])
    assert (ex["purchase"] <= ex["click"]).all()


def test_expected_zero_for_unreleased_items_and_custom_examination(small):
    release = small.truth["release_time"]
    late = int(release.idxmax())
    assert release[late] > release.min()
    shop = OnlineShop(small, examination=[0.5, 0.5])
    before = shop.expected([1], [int(release[late]) - 1], np.array([[late, 1]]))
    after = shop.expected([1], [int(release[late])], np.array([[late, 1]]))
    assert before["click"][0, 0] == 0 and after["click"][0, 0] > 0
    assert before["click"][0, 1] == after["click"][0, 1] > 0
    assert after["click"][0, 0] <= 0.5
    with pytest.raises(CourseKitError, match="examination"):
        shop.expected([1], [0], np.array([[1, 2, 3]]))
    with pytest.raises(CourseKitError, match="examination"):
        OnlineShop(small, examination=[1.5])


def test_expected_bad_inputs(shop):
    with pytest.raises(UnknownIdError, match="12345"):
        shop.expected([1], [0], np.array([[12345]]))
    with pytest.raises(CourseKitError, match="slates"):
        shop.expected([1, 2], [0, 0], np.array([[1]]))
    with pytest.raises(CourseKitError, match="unknown shop user"):
        shop.expected([99999], [0], np.array([[1]]))
    with pytest.raises(CourseKitError, match="truth"):
        OnlineShop(object())
    with pytest.raises(CourseKitError, match="prices"):
        OnlineShop(make_shop(n_users=10, n_items=5, n_events=50, seed=0), prices=pd.Series({1: 2.0}))


# ---------------------------------------------------------------------------- serving
def test_serve_samples_the_expectations(shop):
    req = shop.arrivals(days=60, seed=2)
    log = shop.serve(random_policy(shop.item_ids, k=5, seed=1), req, seed=0)
    assert log.columns.tolist() == ["request", "user_id", "time", "position", "item_id", "propensity", "p_click",
                                    "p_purchase", "clicked", "purchased", "revenue"]
    assert len(log) == 5 * len(req)
    assert not (log["purchased"] & ~log["clicked"]).any()
    assert (log.loc[~log["purchased"], "revenue"] == 0).all()
    assert np.allclose(log.loc[log["purchased"], "revenue"], shop.prices[log.loc[log["purchased"], "item_id"]])
    for col, p in (("clicked", "p_click"), ("purchased", "p_purchase")):
        se = np.sqrt((log[p] * (1 - log[p])).sum()) / len(log)
        assert abs(log[col].mean() - log[p].mean()) < 4 * se
    assert np.allclose(log["propensity"], 1 / len(shop.item_ids))
    assert log.equals(shop.serve(random_policy(shop.item_ids, k=5, seed=1), req, seed=0))


def test_recommender_policy_and_padding(small, shop):
    model = MostPopular().fit(small.to_interactions())
    policy = recommender_policy(model, k=50)    # more than the 40 items: padded with -1
    users = np.array([3, 1, 3])
    slates = policy(users, np.zeros(3))
    assert np.array_equal(slates[0], slates[2])
    assert np.array_equal(slates[1], model.recommend([1], k=50)[0][0])
    req = pd.DataFrame({"request": [0, 1, 2], "user_id": users, "time": shop.start})
    log = shop.serve(policy, req, seed=0)
    assert (log["item_id"] != -1).all() and log["propensity"].isna().all()
    assert len(log) == (slates != -1).sum()
    with pytest.raises(CourseKitError, match="model"):
        recommender_policy(object())
    with pytest.raises(CourseKitError, match="k must"):
        recommender_policy(model, k=0)


def test_random_policy_distinct_items():
    items = np.arange(1, 31)
    slates, prop = random_policy(items, k=10, seed=0)(np.arange(500), np.zeros(500))
    assert slates.shape == (500, 10) and np.isin(slates, items).all()
    assert all(len(set(row)) == 10 for row in slates)
    full, _ = random_policy(items, k=30, seed=0)(np.arange(3), np.zeros(3))
    assert (np.sort(full, axis=1) == items).all()
    with pytest.raises(CourseKitError, match="k=31"):
        random_policy(items, k=31)


def test_serve_bad_policy(shop):
    req = shop.arrivals(days=1, seed=0)
    with pytest.raises(CourseKitError, match="slates of shape"):
        shop.serve(lambda u, t: np.ones((len(u) + 1, 3), dtype=int), req)
    with pytest.raises(CourseKitError, match="propensities"):
        shop.serve(lambda u, t: (np.ones((len(u), 3), dtype=int), np.ones((len(u), 2))), req)
    with pytest.raises(CourseKitError, match="requests"):
        shop.serve(random_policy(shop.item_ids, 3), req.drop(columns="time"))


def test_ab_test_on_the_default_shop_is_fast_and_personalisation_wins():
    data = load_dataset("shop")
    shop = OnlineShop(data)
    train = data.to_interactions()
    pop, ials = MostPopular().fit(train), IALS(seed=0).fit(train)
    req = shop.arrivals(days=14, seed=0)
    t0 = time.perf_counter()
    log = shop.serve_ab(recommender_policy(pop), recommender_policy(ials), req, salt="exp", seed=0)
    assert time.perf_counter() - t0 < 20
    arm = log.groupby("user_id")["arm"].first()
    assert ((arm == "B") == assign_arms(arm.index.to_numpy(), salt="exp")).all()
    ctr = log.groupby("arm")["clicked"].mean()
    assert 0.01 < ctr["A"] < ctr["B"] < 0.4     # per-impression CTR in a realistic range
    assert log.groupby("arm")["revenue"].sum()["B"] > log.groupby("arm")["revenue"].sum()["A"]


def test_import_business_does_not_import_torch():
    code = "import coursekit.business, sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_fixed_policy_serves_each_user_their_slate_and_refuses_others():
    from coursekit.business import fixed_policy

    policy = fixed_policy([9, 7], [[3, 4], [1, 2]])
    assert policy(np.array([7, 9, 7]), np.zeros(3)).tolist() == [[1, 2], [3, 4], [1, 2]]
    with pytest.raises(UnknownIdError, match="no slate for user id"):
        policy(np.array([8]), np.zeros(1))
    with pytest.raises(CourseKitError, match="must not repeat"):
        fixed_policy([1, 1], [[1], [2]])
    with pytest.raises(CourseKitError, match="one row per user"):
        fixed_policy([1, 2], [[1]])
