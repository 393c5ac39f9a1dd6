"""Smoke tests of coursekit.plotting: each helper draws the data it was given, on the Axes it returns."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from coursekit import CourseKitError  # noqa: E402
from coursekit.plotting import (  # noqa: E402
    plot_activity_over_time,
    plot_interaction_density,
    plot_long_tail,
    plot_metric_bars,
    plot_rating_histogram,
    top_share,
    use_course_style,
)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_top_share_by_hand():
    assert top_share([5, 3, 1, 1], frac=0.25) == pytest.approx(0.5)
    assert top_share([5, 3, 1, 1], frac=0.5) == pytest.approx(0.8)
    assert top_share([1, 1, 1, 1, 1, 1, 1, 1, 1, 1], frac=0.1) == pytest.approx(0.1)
    assert top_share([0, 0, 7], frac=0.01) == 1.0           # at least one item
    assert top_share([2, 2], frac=1.0) == 1.0
    with pytest.raises(CourseKitError, match="frac"):
        top_share([1, 2], frac=0)
    with pytest.raises(CourseKitError, match="sum to 0"):
        top_share([0, 0])
    with pytest.raises(CourseKitError, match="1-D"):
        top_share(np.ones((2, 2)))


def test_long_tail_draws_sorted_counts_and_states_the_share():
    counts = np.array([1, 50, 0, 7, 3, 20, 2, 2, 9, 1])
    ax = plot_long_tail(counts, frac=0.1)
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_ydata(), np.sort(counts)[::-1])
    np.testing.assert_array_equal(line.get_xdata(), np.arange(1, 11))
    labels = ax.get_legend_handles_labels()[1]
    assert any("top 10% of items: 53% of interactions" in t for t in labels)   # 50 / 95
    assert ax.get_yscale() == "symlog"


def test_rating_histogram_one_bar_per_value_ignoring_nan():
    ratings = np.array([4, 5, 5, np.nan, 0.5, 4, 5])
    ax = plot_rating_histogram(ratings)
    heights = [p.get_height() for p in ax.patches]
    assert heights == [1, 2, 3]
    assert "n = 6" in ax.get_title()
    with pytest.raises(CourseKitError, match="implicit"):
        plot_rating_histogram([np.nan, np.nan])


def test_activity_over_time_counts_events_per_period_and_group():
    day = 86_400
    ts = np.array([0, 1, 2 * day, 2 * day + 5, 4 * day]) + 1_700_000_000
    ax = plot_activity_over_time(ts, freq="D")
    (line,) = ax.get_lines()
    assert line.get_ydata().tolist() == [2, 0, 2, 0, 1]       # empty days are drawn as 0
    ax = plot_activity_over_time(ts, groups=["a", "b", "a", "a", "b"], freq="D")
    lines = {ln.get_label(): ln.get_ydata().tolist() for ln in ax.get_lines()}
    assert lines == {"a": [1, 0, 2, 0, 0], "b": [1, 0, 0, 0, 1]}
    assert sum(sum(v) for v in lines.values()) == len(ts)
    with pytest.raises(CourseKitError, match="one label per event"):
        plot_activity_over_time(ts, groups=["a"])


def test_interaction_density_fill_rates():
    # 4 users x 4 items; user 0 has everything, the others one item each
    m = sp.csr_matrix(np.array([[1, 1, 1, 1], [1, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0]]))
    ax = plot_interaction_density(m, bins=4)
    (im,) = ax.get_images()
    fill = np.ma.filled(im.get_array(), np.nan)
    assert fill.shape == (4, 4)
    assert np.nansum(fill) == m.nnz                          # one cell per pixel: the pixels are the cells
    assert fill[0].tolist() == [1, 1, 1, 1]                   # most active user first
    np.testing.assert_array_equal(fill[:, 0], [1, 1, 1, np.nan])   # most popular item first; empty = NaN
    np.testing.assert_array_equal(fill[3], [np.nan, 1, np.nan, np.nan])
    assert "density 43.75%" in ax.get_title()
    ax = plot_interaction_density(sp.random(300, 200, density=0.05, random_state=0, format="csr"), bins=20)
    assert ax.get_images()[0].get_array().shape == (20, 20)


def test_metric_bars_one_container_per_column():
    table = pd.DataFrame({"full": [0.1, 0.2, np.nan], "sampled": [0.3, 0.4, 0.5]}, index=["A", "B", "C"])
    ax = plot_metric_bars(table, title="t")
    assert len(ax.containers) == 2
    assert [b.get_height() for b in ax.containers[1]] == [0.3, 0.4, 0.5]
    assert [b.get_height() for b in ax.containers[0]] == [0.1, 0.2, 0.0]   # NaN draws no bar
    assert [t.get_text() for t in ax.get_xticklabels()] == ["A", "B", "C"]
    assert ax.get_legend_handles_labels()[1] == ["full", "sampled"]
    with pytest.raises(CourseKitError, match="non-empty DataFrame"):
        plot_metric_bars(pd.DataFrame())


def test_use_course_style_sets_defaults():
    use_course_style()
    assert matplotlib.rcParams["axes.grid"] is True
    fig, ax = plt.subplots()
    assert plot_long_tail([3, 2, 1], ax=ax) is ax              # draws on the given Axes
