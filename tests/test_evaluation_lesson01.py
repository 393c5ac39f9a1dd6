"""Helpers added for lessons 00/01: per-user sampled metrics, complete periods, integer log bins."""
from __future__ import annotations

import numpy as np
import pytest

from coursekit import CourseKitError
from coursekit.evaluation import WARM, evaluate_sampled, evaluate_sampled_per_user
from coursekit.models import MostPopular, RandomRecommender
from coursekit.plotting import events_per_period, integer_log_bins, plot_activity_over_time
from tests.test_evaluation import synthetic, tiny


# ------------------------------------------------------------------ evaluate_sampled_per_user
@pytest.mark.parametrize("metric", ["ndcg", "hit_rate", "mrr"])
def test_sampled_per_user_means_match_evaluate_sampled(metric):
    train, test = synthetic(n_items=300, n_events=4000)
    model = RandomRecommender(seed=1).fit(train)
    per_user = evaluate_sampled_per_user(model, train, test, metric=metric, k=10, n_negatives=50, seed=3)
    table = evaluate_sampled(model, train, test, n_negatives=50, ks=(10,), seed=3)
    row = table[(table.metric == metric) & (table.group == WARM)]
    assert per_user.mean() == pytest.approx(row["value"].item(), abs=1e-12)
    assert len(per_user) == row["users"].item()
    assert per_user.index.name == "user_id" and per_user.between(0, 1).all()
    # only warm users: the cold ones (test events only) are not in the index
    cold = set(train.users.ids[train.user_counts() == 0])
    assert cold and not cold & set(per_user.index)


def test_sampled_per_user_hand_values_and_errors():
    train, test = tiny()
    s = np.zeros((train.n_users, train.n_items))      # ties broken by lower item index
    hr = evaluate_sampled_per_user(s, train, test, "hit_rate", k=1, n_negatives=2)
    # u1: positive 30 vs {40, 50} -> rank 1; u2: 20 -> rank 1, 40 -> rank 2 -> 0.5 (u4 is cold, u5 seen)
    assert hr.to_dict() == {1: 1.0, 2: 0.5}
    with pytest.raises(CourseKitError, match="exceeds"):
        evaluate_sampled_per_user(s, train, test, k=5, n_negatives=2)
    with pytest.raises(CourseKitError, match="metric"):
        evaluate_sampled_per_user(s, train, test, metric="map", k=1, n_negatives=2)
    with pytest.raises(CourseKitError, match="n_negatives"):
        evaluate_sampled_per_user(MostPopular().fit(train), train, test, k=1, n_negatives=3)


# ------------------------------------------------------------------ events_per_period
def test_events_per_period_drops_partial_first_and_last_periods():
    day = 86_400
    wed = 1_735_689_600                      # Wednesday 2025-01-01 00:00 UTC
    ts = wed + day * np.array([0, 1, 5, 6, 19, 20, 21])
    full = events_per_period(ts, freq="W")
    assert full["events"].tolist() == [2, 2, 0, 3] and full.attrs["dropped"] == []
    complete = events_per_period(ts, freq="W", complete_only=True)
    assert complete["events"].tolist() == [2, 0]
    assert [str(t.date()) for t in complete.attrs["dropped"]] == ["2024-12-30", "2025-01-20"]
    # a log from a Monday to a Sunday has no partial week
    mon_to_sun = wed + day * np.array([5, 8, 18])
    assert events_per_period(mon_to_sun, freq="W", complete_only=True)["events"].tolist() == [2, 1]
    # groups are columns; the plot draws the same numbers and labels the x axis
    by_group = events_per_period(ts, groups=list("aabbaab"), freq="W", complete_only=True)
    assert by_group.to_dict(orient="list") == {"a": [0, 0], "b": [2, 0]}
    ax = plot_activity_over_time(ts, freq="W", complete_only=True)
    assert ax.get_lines()[0].get_ydata().tolist() == [2, 0] and "complete" in ax.get_xlabel()
    with pytest.raises(CourseKitError, match="one label per event"):
        events_per_period(ts, groups=["a"])


# ------------------------------------------------------------------ integer_log_bins
@pytest.mark.parametrize("top", [1, 2, 7, 50, 999, 12_345])
def test_integer_log_bins_hold_whole_integers(top):
    edges = integer_log_bins(top, n_bins=40)
    assert edges[0] == 0.5 and edges[-1] == top + 0.5
    assert np.all(np.diff(edges) >= 1) and np.allclose(edges % 1, 0.5)
    counts, _ = np.histogram(np.arange(1, top + 1), bins=edges)
    assert counts.sum() == top and (counts >= 1).all()      # no empty bin: no comb
    assert len(counts) <= 40


def test_integer_log_bins_bad_input():
    for bad in (0, 2.5, -3, True):
        with pytest.raises(CourseKitError, match="max_value"):
            integer_log_bins(bad)
    with pytest.raises(CourseKitError, match="n_bins"):
        integer_log_bins(10, n_bins=0)
