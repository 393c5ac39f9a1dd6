"""The course's matplotlib look, and the one helper that gives a plot its Axes.

Every ``plot_*`` function of coursekit draws on a matplotlib ``Axes`` and returns it: the one
passed as ``ax``, or a new one from :func:`get_axes`, so a lesson can place several plots in one
figure. matplotlib is imported inside the functions (``import coursekit`` stays fast), and nothing
needs a display: the functions work under the ``Agg`` backend that the tests and CI use.

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> ax = get_axes(figsize=(3, 2))
>>> get_axes(ax) is ax, ax.figure.get_size_inches().tolist()
(True, [3.0, 2.0])
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["use_course_style", "get_axes"]


def use_course_style() -> None:
    """Set a few matplotlib defaults shared by the lessons (figure size, grid, font sizes)."""
    import matplotlib as mpl

    mpl.rcParams.update({
        "figure.figsize": (7, 4), "figure.dpi": 100, "axes.grid": True, "grid.alpha": 0.3,
        "axes.spines.top": False, "axes.spines.right": False, "axes.titlesize": 11,
        "axes.labelsize": 10, "legend.fontsize": 8, "xtick.labelsize": 9, "ytick.labelsize": 9,
    })


def get_axes(ax: Axes | None = None, figsize: tuple[float, float] = (6, 4)) -> Axes:
    """``ax`` itself, or (when ``ax`` is None) the Axes of a new figure of size ``figsize`` (inches)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax
