"""Plots of results: metric bars, parameter sweeps, learning curves, confidence intervals.

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> table = pd.DataFrame({"NDCG@10": [0.1, 0.2]}, index=["popular", "iALS"])
>>> len(plot_metric_bars(table).containers)
1
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from coursekit._validation import CourseKitError
from coursekit.plotting.style import get_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_metric_bars", "plot_sweep", "plot_learning_curves", "plot_ci"]


def plot_metric_bars(table: pd.DataFrame, ax: Axes | None = None, title: str = "", ylabel: str = "",
                     logy: bool = False, fmt: str | None = "{:.3f}", columns: Sequence[str] | None = None) -> Axes:
    """Grouped bars: one group per row of ``table`` (its index labels the groups), one bar per column.

    For example ``table`` = models x {"full ranking", "sampled"} of NDCG@10. NaN cells draw no bar.
    ``fmt`` writes each value above its bar (None: no labels). Returns the Axes (one container per column).
    """
    if not isinstance(table, pd.DataFrame) or table.empty:
        raise CourseKitError("table must be a non-empty DataFrame: rows = groups (x axis), columns = bars.")
    cols = list(columns) if columns is not None else list(table.columns)
    values = table[cols].to_numpy(dtype=np.float64)
    n_rows, n_cols = values.shape
    ax = get_axes(ax, (max(5, 1.1 * n_rows * max(n_cols, 1) ** 0.5 + 2), 3.8))
    width = 0.8 / n_cols
    x = np.arange(n_rows)
    for j, col in enumerate(cols):
        bars = ax.bar(x - 0.4 + width * (j + 0.5), np.nan_to_num(values[:, j], nan=0.0), width, label=str(col))
        if fmt:
            labels = ["" if np.isnan(v) else fmt.format(v) for v in values[:, j]]
            ax.bar_label(bars, labels=labels, fontsize=7, padding=1)
    ax.set_xticks(x, [str(i) for i in table.index], rotation=0 if n_rows <= 6 else 30,
                  ha="center" if n_rows <= 6 else "right")
    if logy:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if n_cols > 1:
        ax.legend()
    return ax


def plot_sweep(table: pd.DataFrame, x: str, y: str, hue: str | None = None, ax: Axes | None = None,
               logx: bool = False, title: str = "", ylabel: str | None = None, marker: str = "o") -> Axes:
    """Line plot of ``y`` against ``x`` from a tidy table, one line per value of ``hue``.

    With ``logx`` (and at most 12 distinct positive ``x``), the ticks are the ``x`` values tried.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> t = pd.DataFrame({"k": [10, 100, 400] * 2, "NDCG": [.1, .2, .15, .1, .1, .1], "beta": [0] * 3 + [10] * 3})
    >>> ax = plot_sweep(t, x="k", y="NDCG", hue="beta", logx=True)
    >>> [tick.get_text() for tick in ax.get_xticklabels()], len(ax.get_lines())
    (['10', '100', '400'], 2)
    """
    ax = get_axes(ax)
    groups = [(None, table)] if hue is None else table.groupby(hue, sort=True)
    for key, part in groups:
        part = part.sort_values(x)
        ax.plot(part[x], part[y], marker=marker, label=None if key is None else f"{hue}={key}")
    if logx:
        from matplotlib.ticker import NullFormatter

        ax.set_xscale("log")
        values = np.unique(np.asarray(table[x], dtype=float))
        if 0 < len(values) <= 12 and (values > 0).all():   # label the values tried, not powers of ten
            ax.set_xticks(values, [f"{v:g}" for v in values])
        ax.xaxis.set_minor_formatter(NullFormatter())   # minor labels (3x10^-2, 4x10^-2, ...) would overlap
    ax.set_xlabel(x)
    ax.set_ylabel(ylabel or y)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if hue is not None:
        ax.legend(fontsize=8)
    return ax


def plot_learning_curves(history: dict[str, Sequence[float]], ax: Axes | None = None, title: str = "",
                         keys: Sequence[str] = ("train_rmse", "valid_rmse")) -> Axes:
    """Per-epoch curves (train vs validation RMSE) from a model's ``history_`` dict."""
    ax = get_axes(ax)
    for key in keys:
        values = np.asarray(history[key], dtype=float)
        if np.isfinite(values).any():
            ax.plot(np.arange(1, len(values) + 1), values, marker=".", label=key.replace("_", " "))
    ax.set_xlabel("epoch")
    ax.set_ylabel("RMSE")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


def plot_ci(table: pd.DataFrame, value: str, low: str, high: str, label: str = "model", ax: Axes | None = None,
            title: str = "", xlabel: str | None = None) -> Axes:
    """Horizontal bars of ``value`` with ``[low, high]`` error bars, one per row (a model)."""
    ax = get_axes(ax, (6, 0.45 * len(table) + 1.2))
    t = table.sort_values(value)
    pos = np.arange(len(t))
    err = np.vstack([t[value] - t[low], t[high] - t[value]])
    ax.barh(pos, t[value], xerr=err, color="tab:blue", alpha=0.7, capsize=3)
    ax.set_yticks(pos, t[label].astype(str))
    ax.set_xlabel(xlabel or value)
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="x")
    ax.figure.tight_layout()
    return ax
