"""Tests of coursekit.evaluation: the full-ranking harness and the sampled-metrics protocol."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from coursekit import CourseKitError, Interactions, NotFittedError
from coursekit.evaluation import COLD, WARM, evaluate, evaluate_sampled
from coursekit.interactions import sample_negatives
from coursekit.metrics import ndcg_at_k, precision_at_k
from coursekit.models import MostPopular, RandomRecommender
from coursekit.models.ranking import top_k


# ------------------------------------------------------------------------------------ fixtures
def tiny():
    """5 users, 5 items (ids 10..50), a hand-checkable split.

    train: u1 {10, 20}, u2 {10}, u3 {10, 30}, u5 {20}      (u4 is cold)
    test:  u1 {30},     u2 {20, 40}, u4 {10}, u5 {20}       (u5's test item is seen in train)
    u3 has no test item.
    popularity in train: 10 -> 3, 20 -> 2, 30 -> 1, 40 -> 0, 50 -> 0
    """
    rows = [(1, 10, "tr"), (1, 20, "tr"), (2, 10, "tr"), (3, 10, "tr"), (3, 30, "tr"), (5, 20, "tr"),
            (1, 30, "te"), (2, 20, "te"), (2, 40, "te"), (4, 10, "te"), (5, 20, "te")]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "part"])
    frame["rating"] = [4.0, 5, 3, 2, 4, 5, 5, 2, 4, 3, 5]
    inter = Interactions.from_frame(frame, items=[10, 20, 30, 40, 50])
    is_train = (frame["part"] == "tr").to_numpy()
    return inter.subset(is_train), inter.subset(~is_train)


def synthetic(seed=0, n_users=120, n_items=80, n_events=2500, n_cold=6):
    """Popularity-skewed random log, a random 80/20 split, plus a few cold users (test only)."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, n_items + 1) ** 1.1
    items = rng.choice(n_items, size=n_events, p=p / p.sum())
    users = rng.integers(0, n_users, n_events)
    frame = pd.DataFrame({"user_id": users, "item_id": items}).drop_duplicates().reset_index(drop=True)
    inter = Interactions.from_frame(frame, users=np.arange(n_users), items=np.arange(n_items))
    is_test = rng.random(len(frame)) < 0.2
    is_test |= frame["user_id"].to_numpy() < n_cold  # the first users have test events only
    return inter.subset(~is_test), inter.subset(is_test)


def value(df, metric, k=None, group=WARM):
    sel = (df.metric == metric) & (df.group == group)
    sel &= df.k.isna() if k is None else (df.k == k)
    assert sel.sum() == 1, (metric, k, group)
    return df.loc[sel, "value"].item(), df.loc[sel, "users"].item()


# ------------------------------------------------------------------------------------ hand-computed
def test_tiny_hand_computed():
    train, test = tiny()
    model = MostPopular().fit(train)
    df = evaluate(model, train, test, ks=(1, 2), beyond=True)
    assert list(df.columns) == ["metric", "k", "value", "users", "group"]
    # evaluated warm users: u1 (R={30}), u2 (R={20, 40}); u5's only test item 20 is in its training
    # items, so it has no relevant item; u3 has no test event; u4 is cold.
    assert df.attrs["n_warm_users"] == 2 and df.attrs["n_cold_users"] == 1
    assert df.attrs["n_test_users_without_relevant"] == 1          # u5
    assert df.attrs["n_test_pairs_seen_in_train"] == 1             # (u5, 20)
    # MostPopular ranks 10 > 20 > 30 > 40 = 50 (ties: lower index first), training items excluded:
    #   u1 (seen 10, 20): [30, 40]  -> rel [1, 0]
    #   u2 (seen 10):     [20, 30]  -> rel [1, 0], |R| = 2
    #   u4 (cold, seen nothing): [10, 20] -> rel [1, 0]
    assert value(df, "precision", 1) == (1.0, 2)                   # (1 + 1) / 2
    assert value(df, "precision", 2)[0] == pytest.approx(0.5)      # (1/2 + 1/2) / 2
    assert value(df, "recall", 2)[0] == pytest.approx(0.75)        # (1/1 + 1/2) / 2
    assert value(df, "hit_rate", 2)[0] == 1.0
    assert value(df, "mrr", 2)[0] == 1.0
    # AP@2: u1 = 1/min(2,1) = 1 ; u2 = 1/min(2,2) = 0.5 -> 0.75
    assert value(df, "map", 2)[0] == pytest.approx(0.75)
    # NDCG@2: u1 = 1 ; u2 = 1 / (1 + 1/log2(3)) -> mean
    assert value(df, "ndcg", 2)[0] == pytest.approx((1 + 1 / (1 + 1 / math.log2(3))) / 2)
    # the cold user is its own group
    assert value(df, "precision", 1, COLD) == (1.0, 1)
    assert value(df, "recall", 2, COLD) == (1.0, 1)
    # beyond accuracy over the warm lists at k=2: {30, 40} and {20, 30}
    assert value(df, "coverage", 2)[0] == pytest.approx(3 / 5)
    # counts (10..50) = (0, 1, 2, 1, 0) sorted (0,0,1,1,2), p=c/4: sum (2j-6)p = (0+0+0+2+8)/4 = 2.5 ; /4
    assert value(df, "gini", 2)[0] == pytest.approx(2.5 / 4)
    # novelty: 4 training users, users per item 10:3, 20:2, 30:1, 40:0 (counted as 1)
    #   u1: (-log2(1/4) - log2(1/4)) / 2 = 2 ; u2: (-log2(2/4) - log2(1/4)) / 2 = 1.5
    assert value(df, "novelty", 2)[0] == pytest.approx(1.75)
    # personalization: overlap {30}: cosine 1/2 -> 0.5
    assert value(df, "personalization", 2)[0] == pytest.approx(0.5)
    assert not (df[df.group == COLD].metric.isin(["coverage", "gini"])).any()


def test_tiny_rating_relevance():
    train, test = tiny()
    model = MostPopular().fit(train)
    # min_rating=3: u2's test item 20 (rated 2) is not relevant; R(u2) = {40}, R(u1) = {30}
    df = evaluate(model, train, test, ks=(2,), beyond=False, min_rating=3)
    assert value(df, "recall", 2)[0] == pytest.approx(0.5)        # u1 hit, u2 list [20, 30] misses 40
    # graded NDCG with the ratings as gains: u1 R={30: 5}; u2 R={20: 2, 40: 4}
    df = evaluate(model, train, test, ks=(2,), beyond=False, relevance="rating")
    # u2: list [20, 30]: DCG = 2 ; IDCG = 4 + 2/log2(3)
    u2 = 2 / (4 + 2 / math.log2(3))
    assert value(df, "ndcg", 2)[0] == pytest.approx((1 + u2) / 2)
    assert value(df, "recall", 2)[0] == pytest.approx(0.75)       # binary: as without ratings


# ------------------------------------------------------------------------------------ paths agree
@pytest.mark.parametrize("model", [MostPopular(), RandomRecommender(seed=1)], ids=["pop", "random"])
def test_score_array_path_equals_model_path(model):
    train, test = synthetic()
    model.fit(train)
    scores = model.score_indices(np.arange(train.n_users))
    metrics = ("precision", "recall", "ndcg", "map", "mrr", "hit_rate", "auc")
    a = evaluate(model, train, test, ks=(1, 5, 10), metrics=metrics, item_vectors=np.eye(train.n_items))
    b = evaluate(scores, train, test, ks=(1, 5, 10), metrics=metrics, item_vectors=np.eye(train.n_items),
                 batch_size=7)
    pd.testing.assert_frame_equal(a, b)
    assert a.attrs == b.attrs
    assert (a.group == COLD).any() and a.attrs["n_cold_users"] == 6


def test_values_equal_mean_of_metric_functions():
    train, test = synthetic(seed=3)
    model = RandomRecommender(seed=0).fit(train)
    df = evaluate(model, train, test, ks=(5,), beyond=False)
    rel = test.matrix().astype(float) - test.matrix().multiply(train.matrix())
    rel = sp.csr_matrix(rel)
    rel.eliminate_zeros()
    warm = np.nonzero((np.diff(rel.indptr) > 0) & (train.user_counts() > 0))[0]
    s = model.score_indices(warm)
    s[train.matrix()[warm].nonzero()] = -np.inf
    top, _ = top_k(s, 5)
    assert value(df, "precision", 5) == (pytest.approx(precision_at_k(top, rel[warm], 5).mean()), len(warm))
    assert value(df, "ndcg", 5)[0] == pytest.approx(ndcg_at_k(top, rel[warm], 5).mean())


def test_pairs_seen_in_train_are_not_relevant():
    # a repeated (user, item) pair in train and test: the item is excluded from ranking, so it
    # cannot be relevant; the user with only such items is counted, not evaluated
    train, test = tiny()
    df = evaluate(MostPopular().fit(train), train, test, ks=(5,))
    assert df.attrs["n_test_pairs_seen_in_train"] == 1
    assert value(df, "recall", 5)[1] == 2


# ------------------------------------------------------------------------------------ errors
def test_mismatched_universe_errors():
    train, test = tiny()
    other = Interactions.from_frame(test.frame)  # universe derived from test events only
    with pytest.raises(CourseKitError, match="coursekit.splits"):
        evaluate(MostPopular().fit(train), train, other)
    with pytest.raises(CourseKitError, match="universe"):
        evaluate(MostPopular().fit(other), train, test)


def test_bad_arguments():
    train, test = tiny()
    model = MostPopular().fit(train)
    for ks in [(0,), (5, -1), ("10",), (), 2.5]:
        with pytest.raises(CourseKitError, match="k"):
            evaluate(model, train, test, ks=ks)
    with pytest.raises(CourseKitError, match="metric"):
        evaluate(model, train, test, metrics=("ndcg", "f1"))
    with pytest.raises(CourseKitError, match="shape"):
        evaluate(np.zeros((3, 3)), train, test)
    with pytest.raises(CourseKitError, match="NaN"):
        evaluate(np.full((train.n_users, train.n_items), np.nan), train, test)
    with pytest.raises(NotFittedError):
        evaluate(MostPopular(), train, test)
    with pytest.raises(CourseKitError, match="item_vectors"):
        evaluate(model, train, test, item_vectors=np.ones((3, 2)))
    with pytest.raises(CourseKitError, match="relevance"):
        evaluate(model, train, test, relevance="graded")
    with pytest.raises(CourseKitError, match="Interactions"):
        evaluate(model, train.frame, test)


def test_k_larger_than_catalogue_and_int_ks():
    train, test = tiny()
    df = evaluate(MostPopular().fit(train), train, test, ks=10, beyond=False)
    # u1 R={30}, list [30, 40, 50] padded to 10 -> precision 1/10 ; u2 R={20,40}: [20, 30, 40, 50] -> 2/10
    assert value(df, "precision", 10)[0] == pytest.approx(0.15)
    assert value(df, "recall", 10)[0] == 1.0


def test_ild_rows_only_with_vectors():
    train, test = synthetic()
    model = MostPopular().fit(train)
    assert "intra_list_diversity" not in set(evaluate(model, train, test, ks=(5,)).metric)
    df = evaluate(model, train, test, ks=(5,), item_vectors=np.random.default_rng(0).normal(size=(80, 4)))
    v, n = value(df, "intra_list_diversity", 5)
    assert 0 <= v <= 2 and n == df.attrs["n_warm_users"]


# ------------------------------------------------------------------------------------ sampled
def test_sample_negatives_are_unknown_and_distinct():
    train, test = synthetic()
    known = ((train.matrix() + test.matrix()) > 0).tocsr()
    known.sort_indices()
    pair_users = np.repeat(np.arange(train.n_users), 3)
    neg = sample_negatives(pair_users, known, 60, np.random.default_rng(0))
    dense = known.toarray()
    assert not dense[pair_users[:, None], neg].any()
    assert all(len(set(row)) == 60 for row in neg)


def test_sampled_hand():
    train, test = tiny()
    n_users, n_items = train.n_users, train.n_items
    # scores that put every test item first: perfect on the sampled protocol
    s = np.zeros((n_users, n_items))
    s[test.user_index, test.item_index] = 10.0
    # u1 knows {10, 20, 30}, so only 40, 50 are unknown: n_negatives=2 is the most possible
    df = evaluate_sampled(s, train, test, n_negatives=2, ks=(1,))
    assert set(df.metric) == {"hit_rate", "ndcg", "mrr"}
    assert (df.value == 1.0).all()
    # all-equal scores: ties broken by lower item index. u1's positive 30 vs negatives {40, 50}:
    # rank 1; u2 (knows 10, 20, 40): positives 20, 40 vs negatives {30, 50}: 20 -> rank 1, 40 -> rank 2
    df = evaluate_sampled(np.zeros((n_users, n_items)), train, test, n_negatives=2, ks=(1, 2))
    # HR@1: u1 = 1, u2 = (1 + 0)/2 = 0.5 -> 0.75 ; MRR@2: u1 = 1, u2 = (1 + 1/2)/2 -> 0.875
    assert value(df, "hit_rate", 1)[0] == pytest.approx(0.75)
    assert value(df, "mrr", 2)[0] == pytest.approx(0.875)
    assert value(df, "hit_rate", 1, COLD)[0] == 1.0   # u4's positive 10 has the lowest index
    with pytest.raises(CourseKitError, match="n_negatives"):
        evaluate_sampled(s, train, test, n_negatives=3)
    with pytest.raises(CourseKitError, match="exceeds"):
        evaluate_sampled(s, train, test, n_negatives=2, ks=(5,))


def leave_one_out(train, test):
    """Keep one test event per user (the first), so full and sampled metrics are per pair alike."""
    first = ~pd.Series(test.user_index).duplicated().to_numpy()
    return train, test.subset(first)


@pytest.mark.parametrize("model", [MostPopular(), RandomRecommender(seed=2)], ids=["pop", "random"])
def test_sampled_is_never_harder_than_full_and_is_deterministic(model):
    # the sampled negatives are a subset of the full candidates, so a test item's sampled rank is
    # at most its full rank: with one test item per user every sampled metric >= the full one
    train, test = leave_one_out(*synthetic(n_items=1000, n_events=6000))
    model.fit(train)
    full = evaluate(model, train, test, ks=(10,), beyond=False)
    a = evaluate_sampled(model, train, test, n_negatives=100, ks=(10,), seed=1)
    b = evaluate_sampled(model, train, test, n_negatives=100, ks=(10,), seed=1)
    pd.testing.assert_frame_equal(a, b)
    for m in ("hit_rate", "ndcg", "mrr"):
        assert value(a, m, 10)[0] >= value(full, m, 10)[0], m
    # and by far: top 10 of 101 is much easier than top 10 of ~1000
    assert value(a, "hit_rate", 10)[0] > value(full, "hit_rate", 10)[0] + 0.05
    c = evaluate_sampled(model, train, test, n_negatives=100, ks=(10,), seed=2)
    assert not c["value"].equals(a["value"])


def test_nothing_to_evaluate_warns_and_counts():
    train, test = tiny()
    only_u5 = test.subset(test.frame["user_id"].to_numpy() == 5)   # its one test item is seen in train
    with pytest.warns(UserWarning, match="nothing was evaluated"):
        df = evaluate(MostPopular().fit(train), train, only_u5)
    assert df.empty and list(df.columns) == ["metric", "k", "value", "users", "group"]
    assert df.attrs["n_test_users_without_relevant"] == 1
