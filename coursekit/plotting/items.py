"""Plots of items: a similarity heat map, a 2-D item map, and the group labels that colour it.

>>> item_group_labels(pd.Series([["Drama", "Comedy"], [], ["Action"]])).tolist()
['Drama', '(none)', 'Action']
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from coursekit._validation import CourseKitError
from coursekit.plotting.style import get_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["group_column", "item_group_labels", "plot_matrix", "plot_item_map"]


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


def plot_matrix(matrix: pd.DataFrame, title: str = "", ax: Axes | None = None, fmt: str = "{:.2f}",
                cmap: str = "viridis") -> Axes:
    """Heat map of a small labelled matrix (a similarity matrix, a toy rating matrix) with the values written in."""
    ax = get_axes(ax, (4.5, 4))
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


def plot_item_map(xy: np.ndarray, labels: pd.Series | np.ndarray, ax: Axes | None = None, top: int = 8,
                  title: str = "",
                  annotate: dict[int, str] | None = None, size: float = 6.0, xlabel: str = "dimension 1",
                  ylabel: str = "dimension 2", clip: tuple[float, float] | None = (0.01, 0.99)) -> Axes:
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
    ax = get_axes(ax, (7, 6))
    xy = np.asarray(xy, dtype=float)
    labels = pd.Series(np.asarray(labels, dtype=object))
    if xy.shape != (len(labels), 2):
        raise CourseKitError(f"xy must have shape (n_items, 2) = ({len(labels)}, 2), got {xy.shape}.")
    if clip is not None:
        lo_q, hi_q = clip
        if not (0.0 <= lo_q < hi_q <= 1.0):
            raise CourseKitError(f"clip must be two quantiles 0 <= lo < hi <= 1 (e.g. (0.01, 0.99)) or None, "
                                 f"got {clip!r}.")
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
