"""Tests of coursekit.stream: replay order, online updaters, prequential evaluation."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coursekit._validation import CourseKitError, NotFittedError, UnknownIdError
from coursekit.interactions import Interactions, time_order, user_time_order
from coursekit.models import IALS, BiasedMF, MostPopular, top_k
from coursekit.splits import leave_last_out
from coursekit.stream import (
    DecayedProfile,
    FoldInUpdater,
    FrozenModel,
    OnlineRecommender,
    OnlineSGD,
    PeriodicRetrain,
    RecencyPopularity,
    Replay,
    prequential,
    sliding_mean,
    summary,
    top_k_1d,
)


def random_log(seed=0, n_users=25, n_items=30, n_events=400, ties=True, ratings=False) -> Interactions:
    rng = np.random.default_rng(seed)
    u = rng.integers(1, n_users + 1, n_events)
    i = rng.integers(100, 100 + n_items, n_events)
    t = rng.integers(0, 60 if ties else 10**9, n_events) * 100 + 1_600_000_000
    frame = pd.DataFrame({"user_id": u, "item_id": i, "timestamp": t})
    if ratings:
        frame["rating"] = rng.integers(1, 6, n_events).astype(float)
    return Interactions.from_frame(frame)


# ---------------------------------------------------------------------------- replay
@given(seed=st.integers(0, 10_000), warmup=st.floats(0.0, 0.9))
@settings(max_examples=25, deadline=None)
def test_replay_never_shows_an_event_before_its_time(seed, warmup):
    inter = random_log(seed, n_events=120)
    rp = Replay(inter, warmup=warmup)
    ts = [e.timestamp for e in rp.events()]
    assert ts == sorted(ts)                                    # a clock that never goes back
    assert len(ts) == rp.n_stream and rp.n_warmup + rp.n_stream == len(inter)
    assert min(ts) == rp.cut_time
    if rp.n_warmup:
        assert rp.warmup.timestamps.max() < rp.cut_time        # warm-up strictly before the stream
    for b in rp.batches(size=7):
        assert b.released_at >= b.timestamp.max() and (np.diff(b.timestamp) >= 0).all()
    seen = 0
    for b in rp.batches(window=3600):
        window = (b.timestamp - rp.cut_time) // 3600
        assert len(b) > 0 and (window == window[0]).all()
        seen += len(b)
    assert seen == rp.n_stream


def test_replay_tie_order_matches_the_split_rule():
    inter = random_log(3, n_events=300)  # many equal timestamps
    order = time_order(inter)
    # per user, the replay order is exactly user_time_order's (larger item_id later on ties)
    ordered_users = inter.user_index[order]
    uorder, _, _ = user_time_order(inter)
    for u in np.unique(inter.user_index):
        np.testing.assert_array_equal(order[ordered_users == u], uorder[inter.user_index[uorder] == u])
    # so the last replayed event of a user is its leave_last_out test event
    split = leave_last_out(inter)
    last_item = {}
    for row in order:
        last_item[int(inter.user_index[row])] = int(inter.item_index[row])
    for u, i in zip(split.test.user_index, split.test.item_index):
        assert last_item[int(u)] == int(i)


def test_replay_cut_time_and_history():
    log = pd.DataFrame({"user_id": [1, 2, 1, 2, 3], "item_id": [5, 6, 7, 5, 5], "timestamp": [10, 30, 20, 20, 40]})
    rp = Replay(Interactions.from_frame(log), cut_time=20)
    assert rp.n_warmup == 1 and rp.n_stream == 4
    assert [int(rp.items.ids[e.item]) for e in rp.events()] == [5, 7, 6, 5]
    assert len(rp.history(3)) == 3 and rp.history(3).timestamps.max() == 20
    with pytest.raises(CourseKitError):
        Replay(Interactions.from_frame(log), warmup=1.0)
    with pytest.raises(CourseKitError):
        Replay(Interactions.from_frame(log), cut_time=41)
    with pytest.raises(CourseKitError):
        list(rp.batches())


# ---------------------------------------------------------------------------- decayed profile
@given(seed=st.integers(0, 10_000), n=st.integers(1, 12))
@settings(max_examples=30, deadline=None)
def test_decayed_profile_infinite_half_life_is_the_plain_mean(seed, n):
    rng = np.random.default_rng(seed)
    V = rng.normal(size=(6, 3))
    items = rng.integers(0, 6, n)
    times = np.sort(rng.integers(0, 10**6, n))
    log = pd.DataFrame({"user_id": [1, 2], "item_id": [0, 1], "timestamp": [0, 0]})
    rec = DecayedProfile(V, half_life=np.inf, normalize=False).initialize(
        Interactions.from_frame(log, items=np.arange(6)).subset(np.array([False, True])))
    for i, t in zip(items, times):
        rec.update(1, int(i), int(t))
    np.testing.assert_allclose(rec.profile(1), V[items].mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(rec.score(1), V @ V[items].mean(axis=0), atol=1e-12)


def test_decayed_profile_formula_and_initialize_agree_with_updates():
    rng = np.random.default_rng(1)
    V = rng.normal(size=(8, 4))
    h = 50.0
    items, times = np.array([0, 3, 3, 5, 7, 1]), np.array([0, 10, 30, 31, 100, 160])
    expected = (np.exp2(-(times[-1] - times) / h)[:, None] * V[items]).sum(0) / np.exp2(-(times[-1] - times) / h).sum()
    frame = pd.DataFrame({"user_id": 1, "item_id": items, "timestamp": times})
    inter = Interactions.from_frame(frame, items=np.arange(8))
    online = DecayedProfile(V, half_life=h, normalize=False).initialize(inter.subset(np.arange(6) < 1))
    for i, t in zip(items[1:], times[1:]):
        online.update(1, int(i), int(t))
    batch = DecayedProfile(V, half_life=h, normalize=False).initialize(inter)   # vectorised warm-up
    np.testing.assert_allclose(online.profile(1), expected, atol=1e-12)
    np.testing.assert_allclose(batch.profile(1), expected, atol=1e-12)


def test_decayed_profile_errors():
    inter = random_log(0)
    with pytest.raises(CourseKitError, match="one row per item"):
        DecayedProfile(np.ones((3, 2))).initialize(inter)
    with pytest.raises(CourseKitError, match="half_life"):
        DecayedProfile(np.ones((inter.n_items, 2)), half_life=0).initialize(inter)
    with pytest.raises(NotFittedError):
        DecayedProfile(np.ones((inter.n_items, 2))).recommend(1)
    rec = DecayedProfile(np.ones((inter.n_items, 2))).initialize(inter)
    with pytest.raises(UnknownIdError):
        rec.update(123456, 100, 2_000_000_000)
    with pytest.raises(CourseKitError, match="older"):
        rec.update(1, 100, 0)                                   # before the user's last event


# ---------------------------------------------------------------------------- fold-in
@pytest.mark.parametrize("confidence", ["linear", "log"])
def test_foldin_updater_reproduces_ials_fold_in(confidence):
    inter = random_log(5, n_users=20, n_items=25, n_events=500)
    rp = Replay(inter, warmup=0.6)
    model = IALS(factors=6, iterations=8, solver="cholesky", reg=0.5, alpha=4.0, confidence=confidence,
                 seed=0).fit(rp.warmup)
    rec = FoldInUpdater(model).initialize(rp.warmup)
    # a training user's vector is its ALS vector before any new event (converged cholesky sweep)
    warm = rp.warmup
    np.testing.assert_allclose(model.user_factors(warm.items.ids[warm.item_index[warm.user_index == 0]]),
                               model.user_factors_[0], atol=1e-8)
    hist = {u: (list(warm.item_index[warm.user_index == u]), [1.0] * int((warm.user_index == u).sum()))
            for u in range(inter.n_users)}
    rng = np.random.default_rng(0)
    for e in rp.events():
        value = float(rng.choice([1.0, 2.0]))            # counts > 1 exercise the confidence rule
        rec.update_index(e.user, e.item, e.timestamp, value)
        hist[e.user][0].append(e.item)
        hist[e.user][1].append(value)
    users = np.unique(rp.stream_arrays().user)
    for u in users:
        x = model.user_factors(rp.items.ids[np.array(hist[u][0], dtype=np.int64)], np.array(hist[u][1]))
        np.testing.assert_allclose(rec.user_vector(rp.users.ids[u]), x, atol=1e-6)
    assert len(users) > 10


def test_foldin_updater_biased_mf_matches_fold_in():
    inter = random_log(2, n_users=15, n_items=20, n_events=300, ratings=True)
    rp = Replay(inter, warmup=0.5)
    model = BiasedMF(factors=3, n_epochs=6, solver="als", reg=0.1, seed=0).fit(rp.warmup)
    rec = FoldInUpdater(model).initialize(rp.warmup)
    for e in rp.events():
        rec.update_index(e.user, e.item, e.timestamp, e.value)
    full = rp.history(len(inter))
    for u in np.unique(rp.stream_arrays().user):
        rows = full.user_index == u
        p, b = model.user_factors(full.items.ids[full.item_index[rows]], full.ratings[rows])
        np.testing.assert_allclose(rec.user_vector(rp.users.ids[u]), np.r_[p, b], atol=1e-6)
    with pytest.raises(CourseKitError, match="rating"):
        rec.update_index(0, 0, 2_000_000_000, None)


def test_foldin_update_changes_recommendations_at_once():
    inter = random_log(4, n_events=500)
    model = IALS(factors=8, iterations=5, reg=1.0, alpha=10.0, seed=0).fit(inter)   # one event weighs alpha = 10
    rec = FoldInUpdater(model).initialize(inter)
    before = rec.score(1).copy()
    j = int(np.argsort(before)[len(before) // 4])               # an item the user is not into
    rec.update_index(rec.users_.index([1])[0], j, 2_000_000_000)
    after = rec.score(1)
    assert (after > after[j]).sum() < (before > before[j]).sum()   # it moves up the list at once


# ---------------------------------------------------------------------------- SGD, popularity, wrappers
@pytest.mark.parametrize("loss,lr", [("bpr", 0.5), ("squared", 0.02)])
def test_online_sgd_moves_the_user_towards_the_item(loss, lr):
    inter = random_log(6, n_events=500)
    model = IALS(factors=8, iterations=5, seed=0).fit(inter)
    rec = OnlineSGD(model, lr=lr, n_negatives=16, loss=loss, update_items=True, seed=1).initialize(inter)
    j = int(rec.items_.index([107])[0])
    gap0 = rec.score(2)[j] - rec.score(2).mean()
    for t in range(5):
        rec.update(2, 107, 2_000_000_000 + t)
    assert rec.score(2)[j] - rec.score(2).mean() > gap0
    assert not np.array_equal(rec.scoring_vectors(), model.item_factors_)   # items moved, the model's did not
    with pytest.raises(CourseKitError):
        OnlineSGD(model, loss="hinge").initialize(inter)


def test_recency_popularity_equals_decayed_counts():
    inter = random_log(7, n_events=300, ties=False)
    rp = Replay(inter, warmup=0.5)
    h = 5e7
    rec = RecencyPopularity(half_life=h).initialize(rp.warmup)
    for e in rp.events():
        rec.update_index(e.user, e.item, e.timestamp)
    t = inter.timestamps.astype(float)
    expected = np.bincount(inter.item_index, weights=np.exp2(-(t.max() - t) / h), minlength=inter.n_items)
    got = rec.score(inter.users.ids[0])
    np.testing.assert_allclose(got / got.sum(), expected / expected.sum(), rtol=1e-9)


def test_frozen_and_periodic_retrain():
    inter = random_log(8, n_events=300)
    rp = Replay(inter, warmup=0.5)
    frozen = FrozenModel(MostPopular()).initialize(rp.warmup)
    pr = PeriodicRetrain(MostPopular, period=50).initialize(rp.warmup)
    for e in rp.events():
        frozen.update_index(e.user, e.item, e.timestamp)
        pr.update_index(e.user, e.item, e.timestamp)
    assert pr.n_refits_ == rp.n_stream // 50
    np.testing.assert_array_equal(frozen.score_index(0), rp.warmup.item_counts())
    refit_at = (rp.n_stream // 50) * 50
    np.testing.assert_array_equal(pr.score_index(0), rp.history(rp.n_warmup + refit_at).item_counts())


@given(st.lists(st.integers(-3, 3), min_size=1, max_size=40), st.integers(1, 45))
@settings(max_examples=60, deadline=None)
def test_top_k_1d_equals_top_k(values, k):
    s = np.array(values, dtype=float)
    s[s == -3] = -np.inf
    i1, v1 = top_k_1d(s, k)
    i2, v2 = top_k(s[None, :], k)
    np.testing.assert_array_equal(i1, i2[0])
    np.testing.assert_array_equal(v1, v2[0])


# ---------------------------------------------------------------------------- prequential
class Spy(OnlineRecommender):
    """Records the order of calls; scores put the items of the *next* events nowhere special."""

    def _init(self, train):
        self.calls = []

    def _update(self, u, i, t, value):
        self.calls.append(("update", u, i))

    def _scores(self, u):
        return np.zeros(self.n_items)

    def recommend_index(self, u, k=10, exclude_seen=True):
        self.calls.append(("recommend", u))
        return super().recommend_index(u, k, exclude_seen)


class LastItemOracle(OnlineRecommender):
    """Scores the user's most recently *updated* item highest: if prequential updated before
    scoring, every event would be a hit (with exclude_seen off)."""

    def _init(self, train):
        self.last = {}

    def _update(self, u, i, t, value):
        self.last[u] = i

    def _scores(self, u):
        s = np.full(self.n_items, -np.inf)   # nothing else can be hit by chance
        if u in self.last:
            s[self.last[u]] = 1.0
        return s

    def score_index(self, u):
        return self._scores(u)

    def recommend_index(self, u, k=10, exclude_seen=True):
        return super().recommend_index(u, k, exclude_seen=False)


def test_prequential_tests_before_it_trains():
    inter = random_log(9, n_events=200)
    rp = Replay(inter, warmup=0.5)
    spy = Spy()
    res = prequential(spy, rp, k=5, skip_repeats=False)
    kinds = [c[0] for c in spy.calls]
    assert kinds[0::2] == ["recommend"] * rp.n_stream and kinds[1::2] == ["update"] * rp.n_stream
    assert len(res) == rp.n_stream and res["scored"].all()
    # the oracle hits only when the item equals the user's previous streamed item
    res = prequential(LastItemOracle(), rp, k=1, skip_repeats=False)
    stream = rp.stream_arrays()
    prev, expect = {}, []
    for u, i in zip(stream.user, stream.item):
        expect.append(prev.get(u) == i)
        prev[u] = i
    np.testing.assert_array_equal(res["hit"].to_numpy(), np.array(expect))
    assert res["hit"].mean() < 0.5


def test_prequential_skips_repeats_and_hand_case():
    log = pd.DataFrame({"user_id": [1, 2, 3, 1, 3], "item_id": [7, 7, 8, 7, 7], "timestamp": [1, 2, 3, 4, 5]})
    res = prequential(RecencyPopularity(half_life=10.0), Replay(Interactions.from_frame(log), warmup=0.4), k=2)
    # stream: (3, 8) -> list [7, 8]: 8 at rank 1; (1, 7) repeat: not scored; (3, 7) -> 7 at rank 0
    assert res["scored"].tolist() == [True, False, True]
    assert res["rank"].tolist() == [1, -1, 0]
    np.testing.assert_allclose(res["ndcg"].to_numpy(), [1 / np.log2(3), np.nan, 1.0])
    assert summary(res.assign(method="pop"))["hit_rate"].item() == 1.0
    curve = sliding_mean(res, window=1)
    assert curve["hit"].tolist() == [1.0, 1.0]


def test_prequential_foldin_beats_frozen_model():
    inter = random_log(10, n_users=30, n_items=40, n_events=1500)
    # users with a stable taste: item = user-dependent block
    rng = np.random.default_rng(0)
    f = inter.frame.copy()
    f["item_id"] = 100 + (f["user_id"] % 4) * 10 + rng.integers(0, 10, len(f))
    inter = Interactions.from_frame(f)
    rp = Replay(inter, warmup=0.3)
    model = IALS(factors=8, iterations=5, seed=0).fit(rp.warmup)
    s = summary(pd.concat([prequential(FoldInUpdater(model), rp, k=5).assign(method="fold"),
                           prequential(FrozenModel(model), rp, k=5).assign(method="frozen")]))
    assert s.loc["fold", "hit_rate"] >= s.loc["frozen", "hit_rate"] - 0.02
    assert s.loc["fold", "hit_rate"] > 0.2


# ---------------------------------------------------------------------------- drift recovery
def test_drift_recovery_on_a_small_shop():
    from coursekit.datasets import make_shop
    from coursekit.stream.drift import drift_recovery, recovery_summary

    shop = make_shop(n_users=150, n_items=120, n_events=9000, seed=2, drift_user_frac=0.3)
    rp = Replay(shop.to_interactions(), warmup=0.3)
    X = shop.truth["item_attributes"].reindex(rp.items.ids).to_numpy(float)
    fast = drift_recovery(DecayedProfile(X, half_life=5 * 86400.0), rp, shop.truth, only_drift_users=True)
    slow = drift_recovery(DecayedProfile(X, half_life=np.inf), rp, shop.truth, only_drift_users=True)
    assert set(fast["user"]) <= set(shop.truth["drift"]["user_id"])
    assert (fast.groupby("user")["j"].min() >= -3).all()
    # before the drift lists serve the old taste; long after it a short memory serves the new one
    assert fast.loc[fast["j"] < 0, "alignment"].mean() < 0
    late = lambda r: r.loc[r["j"].between(8, 30), "alignment"].mean()  # noqa: E731
    assert late(fast) > 0 and late(fast) > late(slow)
    sf, ss = recovery_summary(fast), recovery_summary(slow)
    assert sf["users"] == ss["users"] > 5
    assert sf["recovered_within_10"] >= ss["recovered_within_10"]


def test_drift_recovery_limits():
    from coursekit.datasets import make_shop
    from coursekit.stream.drift import drift_recovery

    shop = make_shop(n_users=100, n_items=60, n_events=5000, seed=3, drift_user_frac=0.3)
    rp = Replay(shop.to_interactions(), warmup=0.3)
    X = shop.truth["item_attributes"].reindex(rp.items.ids).to_numpy(float)
    res = drift_recovery(DecayedProfile(X), rp, shop.truth, only_drift_users=True, after=4, max_users=7, before=2)
    assert res["user"].nunique() <= 7 and res["j"].between(-2, 4).all()
    with pytest.raises(CourseKitError):
        drift_recovery(DecayedProfile(X), rp, {**shop.truth, "drift": shop.truth["drift"].iloc[:0]})


def test_drift_window_mean_and_new_share():
    from coursekit.datasets import make_shop
    from coursekit.stream.drift import drift_recovery, drift_window_mean

    shop = make_shop(n_users=100, n_items=60, n_events=5000, seed=3, drift_user_frac=0.3)
    rp = Replay(shop.to_interactions(), warmup=0.3)
    X = shop.truth["item_attributes"].reindex(rp.items.ids).to_numpy(float)
    res = drift_recovery(DecayedProfile(X, half_life=5 * 86400.0), rp, shop.truth, only_drift_users=True, after=10)
    assert res["new_share"].between(0, 1).all()
    before, after = drift_window_mean(res, -3, -1), drift_window_mean(res, 5, 10, column="new_share")
    assert before.index.isin(shop.truth["drift"]["user_id"]).all()
    manual = res[res["j"].between(-3, -1)].groupby("user")["alignment"].mean()
    pd.testing.assert_series_equal(before, manual, check_names=False)
    assert after.mean() > drift_window_mean(res, -3, -1, column="new_share").mean()   # a short memory follows
    with pytest.raises(CourseKitError, match="column"):
        drift_window_mean(res, 0, 1, column="hit")
    with pytest.raises(CourseKitError, match="j_min"):
        drift_window_mean(res, 2, 1)


# ---------------------------------------------------------------------------- negative events, item vectors
def test_push_away_is_the_negative_update_where_defined():
    inter = random_log(12, n_events=400)
    V = np.random.default_rng(0).normal(size=(inter.n_items, 3))
    prof = DecayedProfile(V, half_life=np.inf, normalize=False).initialize(inter)
    u = int(prof.users_.index([1])[0])
    W = float(inter.user_counts()[u])
    s0 = prof.score(1)
    prof.push_away(1, 105, weight=2.0)
    np.testing.assert_allclose(prof.score(1), s0 - 2.0 * V @ V[inter.items.index([105])[0]] / W, atol=1e-12)

    model = IALS(factors=4, iterations=4, reg=0.5, alpha=5.0, seed=0).fit(inter)
    fold = FoldInUpdater(model).initialize(inter)
    assert fold.supports_push_away and prof.supports_push_away
    fold.update(1, 101, 2_000_000_000)
    history = np.r_[inter.items.ids[inter.item_index[inter.user_index == u]], 101]
    np.testing.assert_allclose(fold.score(1), model.fold_in(history), atol=1e-8)   # the model's own fold-in
    x0 = fold.user_vector(1)
    fold.push_away(1, 102)                                      # default weight: alpha, one event's confidence
    assert not np.allclose(fold.user_vector(1), x0)
    np.testing.assert_array_equal(fold.scoring_vectors(), model.item_factors_)
    with pytest.raises(ValueError):
        fold.scoring_vectors()[0, 0] = 1.0                      # read-only view

    rated = random_log(2, n_users=15, n_items=20, n_events=300, ratings=True)
    mf = FoldInUpdater(BiasedMF(factors=3, n_epochs=3, solver="als", seed=0)).initialize(rated)
    assert not mf.supports_push_away
    with pytest.raises(CourseKitError, match="no negative"):
        mf.push_away(1, 100)
    pop = RecencyPopularity(half_life=100.0).initialize(inter)
    with pytest.raises(CourseKitError, match="no item vectors"):
        pop.scoring_vectors()
    with pytest.raises(CourseKitError, match="weight"):
        prof.push_away(1, 105, weight=-1.0)
