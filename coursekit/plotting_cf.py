r"""Small plotting and table helpers for lessons 02 (collaborative filtering) and 03 (matrix factorization).

Every function draws on a matplotlib ``Axes`` (created when not given) and returns it, so a
lesson can combine them into figures. matplotlib is imported inside the functions, keeping
``import coursekit`` fast.

>>> import numpy as np
>>> item_group_labels(pd.Series([["Drama", "Comedy"], [], ["Action"]])).tolist()
['Drama', '(none)', 'Action']
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from coursekit._validation import CourseKitError

__all__ = ["item_group_labels", "group_column", "plot_matrix", "plot_sweep", "plot_learning_curves",
           "plot_item_map", "plot_ci"]


def _axes(ax=None, figsize=(6, 4)):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def group_column(items: pd.DataFrame) -> str:
    """The item column that groups items for colouring: ``genres`` (MovieLens) or ``category`` (shop).

    >>> group_column(pd.DataFrame({"item_id": [1], "category": ["shoes"]}))
    'category'
    """
    for name in ("genres", "category", "categories", "genre"):
        if name in items.columns:
            return name
    raise CourseKitError(f"no genre/category column among {list(items.columns)}; pass the column name explicitly.")


def item_group_labels(values: pd.Series, none_label: str = "(none)") -> pd.Series:
    """One label per item: the value itself, or the *first* entry when the value is a list (MovieLens genres).

    MovieLens lists genres alphabetically, so "first" is a crude but deterministic choice; use it
    for colouring only.
    """
    def first(v):
        if isinstance(v, (list, tuple, np.ndarray)):
            return str(v[0]) if len(v) else none_label
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return none_label
        return str(v)

    return values.map(first)


def plot_matrix(matrix: pd.DataFrame, title: str = "", ax=None, fmt: str = "{:.2f}", cmap: str = "viridis"):
    """Heat map of a small labelled matrix (a similarity matrix, a toy rating matrix) with the values written in."""
    ax = _axes(ax, (4.5, 4))
    values = np.asarray(matrix, dtype=float)
    im = ax.imshow(values, cmap=cmap)
    ax.set_xticks(range(values.shape[1]), [str(c) for c in matrix.columns], rotation=45, ha="right")
    ax.set_yticks(range(values.shape[0]), [str(r) for r in matrix.index])
    lo, hi = np.nanmin(values), np.nanmax(values)
    mid = (lo + hi) / 2
    for (r, c), v in np.ndenumerate(values):
        ax.text(c, r, fmt.format(v), ha="center", va="center", fontsize=8,
                color="black" if v > mid else "white")
    ax.set_title(title)
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return ax


def plot_sweep(table: pd.DataFrame, x: str, y: str, hue: str | None = None, ax=None, logx: bool = False,
               title: str = "", ylabel: str | None = None, marker: str = "o"):
    """Line plot of ``y`` against ``x`` from a tidy table, one line per value of ``hue``.

    With ``logx`` (and at most 12 distinct positive ``x``), the ticks are the ``x`` values tried.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> t = pd.DataFrame({"k": [10, 100, 400] * 2, "NDCG": [.1, .2, .15, .1, .1, .1], "beta": [0] * 3 + [10] * 3})
    >>> ax = plot_sweep(t, x="k", y="NDCG", hue="beta", logx=True)
    >>> [tick.get_text() for tick in ax.get_xticklabels()], len(ax.get_lines())
    (['10', '100', '400'], 2)
    """
    ax = _axes(ax)
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


def plot_learning_curves(history: dict[str, Sequence[float]], ax=None, title: str = "",
                         keys: Sequence[str] = ("train_rmse", "valid_rmse")):
    """Per-epoch curves (train vs validation RMSE) from a model's ``history_`` dict."""
    ax = _axes(ax)
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


def plot_item_map(xy: np.ndarray, labels: pd.Series | np.ndarray, ax=None, top: int = 8, title: str = "",
                  annotate: dict[int, str] | None = None, size: float = 6.0, xlabel: str = "dimension 1",
                  ylabel: str = "dimension 2", clip: tuple[float, float] | None = (0.01, 0.99)):
    """Scatter of 2-D item coordinates coloured by the ``top`` most frequent labels (the rest grey).

    ``annotate`` maps row positions to text written next to those points (a few known items).
    ``xlabel``/``ylabel`` name the axes (e.g. ``"PC1 (12% of variance)"``). ``clip=(lo, hi)`` limits
    each axis to the ``lo``..``hi`` quantiles of the coordinates (plus a 5% margin), so that a few
    outlying items do not squash the map; how many points fall outside is written in the title.
    ``clip=None`` shows every point.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> xy = np.r_[np.random.default_rng(0).uniform(size=(200, 2)), [[80.0, 0.5]]]   # one outlier
    >>> ax = plot_item_map(xy, ["a"] * 201, xlabel="PC1", ylabel="PC2")
    >>> bool(ax.get_xlim()[1] < 2), ax.get_xlabel(), ax.get_title()
    (True, 'PC1', '(1 of 201 points outside the 1%-99% quantile box, not shown)')
    """
    ax = _axes(ax, (7, 6))
    xy = np.asarray(xy, dtype=float)
    labels = pd.Series(np.asarray(labels, dtype=object))
    if xy.shape != (len(labels), 2):
        raise CourseKitError(f"xy must have shape (n_items, 2) = ({len(labels)}, 2), got {xy.shape}.")
    if clip is not None:
        lo_q, hi_q = clip
        if not (0.0 <= lo_q < hi_q <= 1.0):
            raise CourseKitError(f"clip must be two quantiles 0 <= lo < hi <= 1 (e.g. (0.01, 0.99)) or None, got {clip!r}.")
    common = labels.value_counts().index[:top]
    other = ~labels.isin(common).to_numpy()
    ax.scatter(xy[other, 0], xy[other, 1], s=size, c="lightgrey", label="other")
    for name in common:
        sel = (labels == name).to_numpy()
        ax.scatter(xy[sel, 0], xy[sel, 1], s=size, label=f"{name} ({sel.sum()})", alpha=0.8)
    for pos, text in (annotate or {}).items():
        ax.annotate(text, xy[pos], fontsize=8)
    note = ""
    if clip is not None and len(xy):
        lo, hi = np.quantile(xy, [lo_q, hi_q], axis=0)
        pad = 0.05 * np.maximum(hi - lo, 1e-12)
        lo, hi = lo - pad, hi + pad
        ax.set_xlim(lo[0], hi[0])
        ax.set_ylim(lo[1], hi[1])
        outside = int((~((xy >= lo) & (xy <= hi)).all(axis=1)).sum())
        if outside:
            note = (f"({outside} of {len(xy)} points outside the {lo_q:.0%}-{hi_q:.0%} quantile box, "
                    "not shown)")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(f"{title}\n{note}" if title and note else title or note)
    ax.legend(fontsize=7, markerscale=2, loc="best")
    return ax


def plot_ci(table: pd.DataFrame, value: str, low: str, high: str, label: str = "model", ax=None,
            title: str = "", xlabel: str | None = None):
    """Horizontal bars of ``value`` with ``[low, high]`` error bars, one per row (a model)."""
    ax = _axes(ax, (6, 0.45 * len(table) + 1.2))
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
