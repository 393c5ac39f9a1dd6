"""Plotting helpers of the lessons, each drawing on a matplotlib ``Axes`` that it returns.

Modules: :mod:`~coursekit.plotting.style` (:func:`use_course_style`, :func:`get_axes`),
:mod:`~coursekit.plotting.data` (long tail, ratings, activity over time, matrix fill),
:mod:`~coursekit.plotting.results` (metric bars, sweeps, learning curves, confidence intervals)
and :mod:`~coursekit.plotting.items` (similarity heat maps, item maps, group labels).
matplotlib is imported only when a function draws.

>>> top_share([5, 3, 1, 1], frac=0.25)
0.5
"""
from coursekit.plotting.data import (
                                     events_per_period,
                                     integer_log_bins,
                                     plot_activity_over_time,
                                     plot_interaction_density,
                                     plot_long_tail,
                                     plot_rating_histogram,
                                     top_share,
)
from coursekit.plotting.items import group_column, item_group_labels, plot_item_map, plot_matrix
from coursekit.plotting.results import plot_ci, plot_learning_curves, plot_metric_bars, plot_sweep
from coursekit.plotting.style import get_axes, use_course_style

__all__ = ["use_course_style", "get_axes", "top_share", "plot_long_tail", "plot_rating_histogram",
           "events_per_period", "plot_activity_over_time", "integer_log_bins", "plot_interaction_density",
           "plot_metric_bars", "plot_sweep", "plot_learning_curves", "plot_ci", "group_column",
           "item_group_labels", "plot_item_map", "plot_matrix"]
