"""The oracle (coursekit.models.oracle): ranks by the shop's true choice probabilities.

It needs the shop's ground truth for the ids it is fitted on, so it is not in the shared
contract suite (whose data has other ids); these tests check the same rules on a small shop,
plus what makes it an oracle (its scores are the simulator's probabilities, it is a ceiling).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coursekit import CourseKitError
from coursekit._validation import NotFittedError, UnknownIdError
from coursekit.datasets import shop as sh
from coursekit.evaluation import evaluate_per_user
from coursekit.interactions import Interactions
from coursekit.models import EASE, PAD_ID, MostPopular, Recommender
from coursekit.models.oracle import Oracle
from coursekit.splits import user_temporal_split


@pytest.fixture(scope="module")
def shop():
    return sh.make_shop(n_users=300, n_items=150, n_events=24_000, seed=2)


@pytest.fixture(scope="module")
def split(shop):
    return user_temporal_split(shop.to_interactions(), test_frac=0.2)[:2]


@pytest.fixture(scope="module")
def fitted(shop, split):
    return Oracle(shop.truth).fit(split[0])


def test_fit_returns_self_and_rejects_bad_input(shop, split):
    model = Oracle(shop.truth)
    assert model.fit(split[0]) is model
    with pytest.raises(NotFittedError):
        Oracle(shop.truth).recommend([1], k=3)
    with pytest.raises(CourseKitError, match="Interactions"):
        Oracle(shop.truth).fit(split[0].frame)
    with pytest.raises(CourseKitError, match="ground truth"):
        Oracle().fit(split[0])
    with pytest.raises(CourseKitError, match="ground truth"):
        Oracle({}).fit(split[0])
    with pytest.raises(CourseKitError, match="time must be"):
        Oracle(shop.truth, time="now").fit(split[0])
    with pytest.raises(CourseKitError, match="respect_release"):
        Oracle(shop.truth, respect_release="yes").fit(split[0])


def test_ids_must_come_from_the_same_shop(shop):
    frame = pd.DataFrame({"user_id": [1, 2], "item_id": [1, 999]})
    with pytest.raises(CourseKitError, match=r"item id\(s\) \[999\]"):
        Oracle(shop.truth).fit(Interactions.from_frame(frame.assign(timestamp=sh.EPOCH)))
    frame = pd.DataFrame({"user_id": [1, 5000], "item_id": [1, 2], "timestamp": sh.EPOCH})
    with pytest.raises(CourseKitError, match=r"user id\(s\) \[5000\]"):
        Oracle(shop.truth).fit(Interactions.from_frame(frame))


def test_scores_are_the_true_choice_probabilities(shop, split, fitted):
    train = split[0]
    last = train.frame.groupby("user_id")["timestamp"].max()
    users = last.index.to_numpy()[:40]
    # with respect_release the scores are exactly choice_probabilities at the last training event
    strict = Oracle(shop.truth, respect_release=True).fit(train)
    np.testing.assert_allclose(strict.score(users), sh.choice_probabilities(shop.truth, users, last.loc[users]),
                               rtol=1e-12, atol=1e-15)
    # by default every item is scored by the unrestricted softmax (rows sum to 1, none is 0)
    s = fitted.score(users)
    np.testing.assert_allclose(s.sum(axis=1), 1.0)
    assert (s > 0).all()
    released = shop.truth["release_time"].to_numpy()[None, :] <= last.loc[users].to_numpy()[:, None]
    ratio = s[:, :] / np.where(released, strict.score(users), np.nan)
    row = np.nanmax(ratio, axis=1) / np.nanmin(ratio, axis=1)
    np.testing.assert_allclose(row, 1.0)  # same ranking among released items


def test_taste_at_the_last_training_event(shop, split):
    """A drift user whose last training event is after its drift is scored with the new taste."""
    train = user_temporal_split(shop.to_interactions(), test_frac=0.6)[0]  # drift falls 35-65% into a window
    drift = shop.truth["drift"].set_index("user_id")["drift_time"]
    last = train.frame.groupby("user_id")["timestamp"].max()
    switched = [u for u in drift.index if u in last.index and last[u] >= drift[u]]
    before = [u for u in drift.index if u in last.index and last[u] < drift[u]]
    assert switched and before
    model = Oracle(shop.truth).fit(train)
    for u in (switched[0], before[0]):
        taste = sh.taste_at(shop.truth, [u], last[u])
        q = shop.truth["item_quality"].to_numpy()
        logits = shop.truth["params"]["taste_scale"] * (taste @ shop.truth["item_attributes"].to_numpy().T)[0] \
            + shop.truth["params"]["popularity_weight"] * q
        expected = np.exp(logits - logits.max())
        np.testing.assert_allclose(model.score([u])[0], expected / expected.sum())
    # a fixed time for everyone
    at_start = Oracle(shop.truth, time=sh.EPOCH).fit(train)
    assert not np.allclose(at_start.score([switched[0]]), model.score([switched[0]]))
    assert (at_start.reference_time_ == sh.EPOCH).all()


def test_recommend_rules(shop, split, fitted):
    train = split[0]
    users = train.users.ids[:30]
    ids, scores = fitted.recommend(users, k=7)
    assert ids.shape == scores.shape == (30, 7)
    assert (scores[:, 1:] <= scores[:, :-1]).all() and np.isfinite(scores).all()
    seen = train.matrix()
    for row, u in enumerate(train.users.index(users)):
        assert not np.isin(ids[row], train.items.ids[seen[u].indices]).any()
        assert len(set(ids[row].tolist())) == 7
    ids_all, scores_all = fitted.recommend(users[:2], k=10_000)
    n_unseen = train.n_items - seen[train.users.index(users[:1])].nnz
    assert ids_all.shape == (2, train.n_items) and (ids_all[0] != PAD_ID).sum() == n_unseen
    assert np.isneginf(scores_all[0][ids_all[0] == PAD_ID]).all()
    for k in (0, -1, 2.5, True, "10"):
        with pytest.raises(CourseKitError):
            fitted.recommend([1], k=k)
    with pytest.raises(UnknownIdError):
        fitted.recommend([123456789], k=3)
    with pytest.raises(UnknownIdError):
        fitted.score([1], items=[123456789])
    some = train.items.ids[[3, 0, 7]]
    np.testing.assert_allclose(fitted.score(users[:5], items=some), fitted.score(users[:5])[:, [3, 0, 7]])


def test_cold_user_gets_the_popular_fallback(shop):
    inter = shop.to_interactions()
    train = inter.subset(inter.frame["user_id"].to_numpy() != 1)  # user 1 stays in the universe, without events
    model = Oracle(shop.truth).fit(train)
    ids, _ = model.recommend([1], k=5)
    expected = train.items.ids[np.argsort(-train.item_counts(), kind="stable")[:5]]
    np.testing.assert_array_equal(ids[0], expected)
    model.cold_users = "error"
    with pytest.raises(CourseKitError, match="no training events"):
        model.recommend([1], k=5)


def test_deterministic_and_save_load(shop, split, fitted, tmp_path):
    again = Oracle(shop.truth).fit(split[0])
    np.testing.assert_array_equal(again.score(split[0].users.ids), fitted.score(split[0].users.ids))
    fitted.save(tmp_path)
    loaded = Recommender.load(tmp_path)  # loaded without the truth: the probabilities are saved
    assert type(loaded) is Oracle and loaded.truth is None
    np.testing.assert_array_equal(loaded.score(split[0].users.ids), fitted.score(split[0].users.ids))
    assert "truth" not in repr(loaded)
    with pytest.raises(CourseKitError):  # ranking only
        fitted.predict_rating([1], [1])


def test_oracle_is_a_ceiling(shop, split, fitted):
    train, test = split
    oracle = evaluate_per_user(fitted, train, test, "ndcg", k=10)
    for model in (MostPopular(), EASE(reg=100.0)):
        other = evaluate_per_user(model.fit(train), train, test, "ndcg", k=10)
        d = oracle.to_numpy() - other.to_numpy()
        assert d.mean() > 2 * d.std(ddof=1) / np.sqrt(d.size), type(model).__name__
