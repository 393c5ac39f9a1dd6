"""Tests of coursekit.splits: partitions, time order, tie-break, determinism, cold splits."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coursekit import CourseKitError, Interactions
from coursekit.splits import (
    LeakageError,
    Split,
    check_no_leakage,
    check_partition,
    cold_item_split,
    cold_user_split,
    global_temporal_split,
    leave_last_out,
    random_split,
    split_summary,
    user_temporal_split,
)

ALL_SPLITS = {
    "random": lambda i, **kw: random_split(i, test_frac=0.2, seed=kw.get("seed", 0), valid_frac=0.1),
    "global": lambda i, **kw: global_temporal_split(i, test_frac=0.2, valid_frac=0.1),
    "user": lambda i, **kw: user_temporal_split(i, test_frac=0.2, valid_frac=0.1),
    "llo": lambda i, **kw: leave_last_out(i, n_test=1, n_valid=1),
    "cold_item": lambda i, **kw: cold_item_split(i, test_frac=0.2, seed=kw.get("seed", 0), valid_frac=0.1),
    "cold_user": lambda i, **kw: cold_user_split(i, test_frac=0.2, seed=kw.get("seed", 0), valid_frac=0.1),
}


def make_log(n_users=40, n_items=30, n_events=600, seed=0, n_times=50) -> Interactions:
    """A random log with many timestamp ties and a row id column to track events."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "user_id": rng.integers(100, 100 + n_users, n_events),
        "item_id": rng.integers(1000, 1000 + n_items, n_events),
        "rating": rng.integers(1, 6, n_events).astype(float),
        "timestamp": rng.integers(0, n_times, n_events) * 60,
    })
    frame["row"] = np.arange(n_events)
    # universe with an extra user and item without events
    return Interactions.from_frame(frame, users=np.arange(100, 101 + n_users), items=np.arange(1000, 1001 + n_items))


@pytest.fixture(scope="module")
def log() -> Interactions:
    return make_log()


def rows(part: Interactions | None) -> set[int]:
    return set() if part is None else set(part.frame["row"].tolist())


# ------------------------------------------------------------------ partition + universe
@pytest.mark.parametrize("name", list(ALL_SPLITS))
def test_parts_are_disjoint_and_cover_all_rows(log, name):
    s = ALL_SPLITS[name](log)
    assert isinstance(s, Split) and s.valid is not None
    tr, te, va = rows(s.train), rows(s.test), rows(s.valid)
    assert not (tr & te) and not (tr & va) and not (te & va)
    assert tr | te | va == set(range(len(log)))
    assert len(s.train) + len(s.test) + len(s.valid) == len(log)
    assert len(s.test) > 0 and len(s.train) > 0
    check_partition(s, log)
    for part in s:
        assert part.users is log.users and part.items is log.items
        assert part.matrix().shape == (log.n_users, log.n_items)


@pytest.mark.parametrize("name", list(ALL_SPLITS))
def test_deterministic(log, name):
    a, b = ALL_SPLITS[name](log), ALL_SPLITS[name](log)
    for pa, pb in zip(a, b):
        pd.testing.assert_frame_equal(pa.frame, pb.frame)


@pytest.mark.parametrize("name", ["random", "cold_item", "cold_user"])
def test_different_seeds_differ(log, name):
    a, b = ALL_SPLITS[name](log, seed=0), ALL_SPLITS[name](log, seed=1)
    assert rows(a.test) != rows(b.test)


def test_without_valid_is_none(log):
    for s in (random_split(log), global_temporal_split(log), user_temporal_split(log), leave_last_out(log),
              cold_item_split(log), cold_user_split(log)):
        assert s.valid is None
        assert len(s.train) + len(s.test) == len(log)


def test_split_unpacks_as_tuple(log):
    train, test, valid = random_split(log)
    assert valid is None and len(train) + len(test) == len(log)


# ------------------------------------------------------------------ sizes
def test_random_split_sizes(log):
    s = random_split(log, test_frac=0.25, valid_frac=0.1, seed=3)
    assert len(s.test) == 150 and len(s.valid) == 60 and len(s.train) == 390


def test_cold_split_counts_items_and_users(log):
    s = cold_item_split(log, test_frac=0.2, seed=0)
    assert s.test.n_active_items == round(0.2 * log.n_active_items)
    s = cold_user_split(log, test_frac=0.25, seed=0)
    assert s.test.n_active_users == 10  # 40 active users


# ------------------------------------------------------------------ time
def test_global_temporal_respects_time(log):
    s = global_temporal_split(log, test_frac=0.2, valid_frac=0.1)
    assert s.train.timestamps.max() < s.valid.timestamps.min()
    assert s.valid.timestamps.max() < s.test.timestamps.min()
    check_no_leakage(s, temporal="global")
    # everything at/after the cut is test; the share is >= the asked one (ties go to test)
    assert len(s.test) >= 0.2 * len(log) - 0.5


def test_global_temporal_explicit_cut(log):
    s = global_temporal_split(log, cut_time=40 * 60, valid_cut_time=30 * 60)
    ts = log.timestamps
    assert len(s.test) == (ts >= 2400).sum() and len(s.valid) == ((ts >= 1800) & (ts < 2400)).sum()
    assert s.test.timestamps.min() >= 2400 and s.train.timestamps.max() < 1800


@pytest.mark.parametrize("split", [lambda i: user_temporal_split(i, 0.3, 0.2), lambda i: leave_last_out(i, 2, 1)])
def test_per_user_time_order(log, split):
    s = split(log)
    check_no_leakage(s, temporal="user")
    f = {n: p.frame for n, p in zip(("train", "test", "valid"), s)}
    last_train = f["train"].groupby("user_id")["timestamp"].max()
    first_valid = f["valid"].groupby("user_id")["timestamp"].min()
    first_test = f["test"].groupby("user_id")["timestamp"].min()
    for early, late in ((last_train, first_valid), (first_valid, first_test), (last_train, first_test)):
        common = early.index.intersection(late.index)
        assert len(common) > 0
        assert (early[common] <= late[common]).all()


def test_user_temporal_sizes_follow_the_rule(log):
    s = user_temporal_split(log, test_frac=0.3, valid_frac=0.2)
    n = pd.Series(log.user_counts(), index=log.users.ids)
    n = n[n > 0]
    exp_test = np.minimum(np.floor(0.3 * n + 0.5), n - 1)
    exp_valid = np.minimum(np.floor(0.2 * n + 0.5), n - 1 - exp_test)
    got_test = s.test.frame.groupby("user_id").size().reindex(n.index, fill_value=0)
    got_valid = s.valid.frame.groupby("user_id").size().reindex(n.index, fill_value=0)
    np.testing.assert_array_equal(got_test.to_numpy(), exp_test.to_numpy())
    np.testing.assert_array_equal(got_valid.to_numpy(), exp_valid.to_numpy())


def test_user_temporal_hand_example():
    frame = pd.DataFrame({"user_id": [1] * 5 + [2] * 2 + [3],
                          "item_id": [5, 4, 3, 2, 1, 7, 8, 9],
                          "timestamp": [10, 20, 30, 40, 50, 1, 2, 3]})
    s = user_temporal_split(Interactions.from_frame(frame), test_frac=0.5)
    # user 1: n=5 -> floor(3.0) = 3 test (latest: items 3, 2, 1); user 2: n=2 -> 1 test (item 8);
    # user 3: n=1 -> min(1, 0) = 0 test
    assert sorted(s.test.frame["item_id"]) == [1, 2, 3, 8]
    assert sorted(s.train.frame["item_id"]) == [4, 5, 7, 9]


# ------------------------------------------------------------------ leave-last-out + tie-break
def test_leave_last_out_tie_break_hand_example():
    # user 1 rates items 30, 10, 20 in the same second (rows in "random" file order), then item 5 earlier
    frame = pd.DataFrame({"user_id": [1, 1, 1, 1, 2, 2, 3],
                          "item_id": [30, 10, 20, 5, 8, 9, 4],
                          "timestamp": [100, 100, 100, 50, 7, 7, 1]})
    inter = Interactions.from_frame(frame)
    s = leave_last_out(inter, n_test=1, n_valid=1)
    # among equal timestamps the larger item_id counts as later
    assert s.test.frame.sort_values("user_id")[["user_id", "item_id"]].values.tolist() == [[1, 30]]
    assert s.valid.frame[["user_id", "item_id"]].values.tolist() == [[1, 20]]
    # user 2 (2 events < 1 + 1 + 1) and user 3 (1 event) stay entirely in train
    assert sorted(s.train.frame["item_id"]) == [4, 5, 8, 9, 10]
    # same answer whatever the row order of the file
    shuffled = Interactions.from_frame(frame.sample(frac=1, random_state=4))
    s2 = leave_last_out(shuffled, n_test=1, n_valid=1)
    assert s2.test.frame["item_id"].tolist() == [30] and s2.valid.frame["item_id"].tolist() == [20]
    s3 = leave_last_out(inter, n_test=2)
    assert sorted(s3.test.frame["item_id"]) == [20, 30] and sorted(s3.train.frame["item_id"]) == [4, 5, 8, 9, 10]


def test_leave_last_out_sizes(log):
    s = leave_last_out(log, n_test=2, n_valid=1)
    counts = s.train.frame.groupby("user_id").size() + s.test.frame.groupby("user_id").size().reindex(
        s.train.frame["user_id"].unique(), fill_value=0)
    per_user_test = s.test.frame.groupby("user_id").size()
    assert (per_user_test == 2).all()
    n = pd.Series(log.user_counts(), index=log.users.ids)
    assert set(per_user_test.index) == set(n[n >= 4].index)
    assert counts.sum() + len(s.valid) == len(log)


def test_tie_break_is_checked_by_check_no_leakage():
    frame = pd.DataFrame({"user_id": [1, 1], "item_id": [1, 2], "timestamp": [5, 5]})
    inter = Interactions.from_frame(frame)
    wrong = Split(inter.subset(np.array([False, True])), inter.subset(np.array([True, False])))
    with pytest.raises(LeakageError, match="per-user temporal leakage"):
        check_no_leakage(wrong, temporal="user")
    check_no_leakage(wrong, temporal="global")  # equal timestamps are fine for the global rule


# ------------------------------------------------------------------ cold
def test_cold_items_have_no_training_events(log):
    s = cold_item_split(log, test_frac=0.3, seed=2, valid_frac=0.1)
    train_counts = s.train.item_counts()
    assert (train_counts[np.unique(s.test.item_index)] == 0).all()
    assert (train_counts[np.unique(s.valid.item_index)] == 0).all()
    assert not set(s.test.frame["item_id"]) & set(s.valid.frame["item_id"])
    check_no_leakage(s, cold="item")
    summ = split_summary(s)
    assert summ.loc["test", "cold_items"] == summ.loc["test", "items"]


def test_cold_users_have_no_training_events(log):
    s = cold_user_split(log, test_frac=0.3, seed=2)
    assert (s.train.user_counts()[np.unique(s.test.user_index)] == 0).all()
    check_no_leakage(s, cold="user")
    with pytest.raises(LeakageError, match="cold-user leakage"):
        check_no_leakage(random_split(log, seed=0), cold="user")


def test_random_split_detected_as_temporal_leak(log):
    with pytest.raises(LeakageError):
        check_no_leakage(random_split(log, seed=0), temporal="global")


def test_check_partition_detects_a_lost_event(log):
    s = random_split(log)
    broken = Split(s.train.subset(np.arange(len(s.train)) > 0), s.test)
    with pytest.raises(LeakageError, match="not a partition"):
        check_partition(broken, log)


# ------------------------------------------------------------------ summary
def test_split_summary(log):
    s = user_temporal_split(log, test_frac=0.2, valid_frac=0.1)
    summ = split_summary(s)
    assert list(summ.index) == ["train", "valid", "test"]
    assert summ["events"].sum() == len(log)
    assert np.isclose(summ["share"].sum(), 1.0)
    assert summ.loc["train", "cold_users"] == 0 and summ.loc["test", "cold_users"] == 0
    assert {"users", "items", "time_min", "time_max"} <= set(summ.columns)
    assert summ.loc["train", "time_min"] == log.timestamps.min()


# ------------------------------------------------------------------ errors
def no_ts():
    return Interactions.from_frame(pd.DataFrame({"user_id": [1, 1, 2], "item_id": [1, 2, 3]}))


@pytest.mark.parametrize("fn", [global_temporal_split, user_temporal_split, leave_last_out])
def test_temporal_split_without_timestamps_names_the_fix(fn):
    with pytest.raises(CourseKitError, match="timestamp.*random_split"):
        fn(no_ts())


@pytest.mark.parametrize("kwargs, match", [
    ({"test_frac": 0}, "test_frac"), ({"test_frac": 1.2}, "test_frac"), ({"test_frac": "a"}, "test_frac"),
    ({"valid_frac": -0.1}, "valid_frac"), ({"test_frac": 0.6, "valid_frac": 0.5}, "< 1"),
])
@pytest.mark.parametrize("fn", [random_split, global_temporal_split, user_temporal_split,
                                cold_item_split, cold_user_split])
def test_bad_fractions(log, fn, kwargs, match):
    with pytest.raises(CourseKitError, match=match):
        fn(log, **kwargs)


def test_other_errors(log):
    with pytest.raises(CourseKitError, match="Interactions"):
        random_split(pd.DataFrame({"user_id": [1], "item_id": [1]}))
    with pytest.raises(CourseKitError, match="n_test"):
        leave_last_out(log, n_test=0)
    with pytest.raises(CourseKitError, match="n_valid"):
        leave_last_out(log, n_valid=1.5)
    with pytest.raises(CourseKitError, match="valid_cut_time"):
        global_temporal_split(log, cut_time=100, valid_frac=0.1)
    with pytest.raises(CourseKitError, match="no event at or after"):
        global_temporal_split(log, cut_time=10**9)
    with pytest.raises(CourseKitError, match="0 events"):
        random_split(Interactions.from_frame(pd.DataFrame({"user_id": [1, 2], "item_id": [1, 2]})), test_frac=0.1)
    with pytest.raises(CourseKitError, match="leaves none"):
        cold_user_split(Interactions.from_frame(pd.DataFrame({"user_id": [1, 2], "item_id": [1, 2]})),
                        test_frac=0.6, valid_frac=0.3)
    nan_ts = Interactions.from_frame(pd.DataFrame({"user_id": [1, 1], "item_id": [1, 2], "timestamp": [1.0, np.nan]}))
    with pytest.raises(CourseKitError, match="missing timestamp"):
        leave_last_out(nan_ts)
    with pytest.raises(CourseKitError, match="temporal"):
        check_no_leakage(random_split(log), temporal="sometimes")


# ------------------------------------------------------------------ properties on random logs
@st.composite
def logs(draw):
    n = draw(st.integers(5, 80))
    users = draw(st.lists(st.integers(0, 6), min_size=n, max_size=n))
    items = draw(st.lists(st.integers(0, 9), min_size=n, max_size=n))
    times = draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))  # many ties
    frame = pd.DataFrame({"user_id": users, "item_id": items, "timestamp": times, "row": np.arange(n)})
    return Interactions.from_frame(frame)


FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _assert_partition(s, inter):
    parts = [p for p in s if p is not None]
    assert sorted(r for p in parts for r in p.frame["row"]) == list(range(len(inter)))
    check_partition(s, inter)


@FAST
@given(logs(), st.floats(0.1, 0.6), st.floats(0.0, 0.3))
def test_property_user_temporal(inter, test_frac, valid_frac):
    try:
        s = user_temporal_split(inter, test_frac=test_frac, valid_frac=valid_frac)
    except CourseKitError as e:          # only allowed when no user can give a test event
        assert "no test event" in str(e) or "gives no user" in str(e)
        return
    _assert_partition(s, inter)
    check_no_leakage(s, temporal="user")
    # every active user keeps at least one training event
    assert ((s.train.user_counts() > 0) == (inter.user_counts() > 0)).all()


@FAST
@given(logs(), st.integers(1, 3), st.integers(0, 2))
def test_property_leave_last_out(inter, n_test, n_valid):
    try:
        s = leave_last_out(inter, n_test=n_test, n_valid=n_valid)
    except CourseKitError:
        assert inter.user_counts().max() < n_test + n_valid + 1
        return
    _assert_partition(s, inter)
    check_no_leakage(s, temporal="user")
    counts = inter.user_counts()
    tested = counts >= n_test + n_valid + 1
    np.testing.assert_array_equal(s.test.user_counts(), np.where(tested, n_test, 0))
    if s.valid is not None:
        np.testing.assert_array_equal(s.valid.user_counts(), np.where(tested, n_valid, 0))


@FAST
@given(logs(), st.floats(0.1, 0.5), st.integers(0, 5))
def test_property_global_and_random(inter, test_frac, seed):
    try:
        g = global_temporal_split(inter, test_frac=test_frac)
    except CourseKitError:
        return
    _assert_partition(g, inter)
    check_no_leakage(g, temporal="global")
    r1, r2 = random_split(inter, test_frac=test_frac, seed=seed), random_split(inter, test_frac=test_frac, seed=seed)
    _assert_partition(r1, inter)
    assert rows(r1.test) == rows(r2.test)


@FAST
@given(logs(), st.floats(0.1, 0.5), st.integers(0, 5))
def test_property_cold(inter, test_frac, seed):
    for fn, kind in ((cold_item_split, "item"), (cold_user_split, "user")):
        try:
            s = fn(inter, test_frac=test_frac, seed=seed)
        except CourseKitError:
            continue
        _assert_partition(s, inter)
        check_no_leakage(s, cold=kind)
