r"""Plots that describe an interaction log: popularity's long tail, ratings, activity over time, matrix fill.

The one computation here that a plot annotates is :func:`top_share`, the share of all
interactions that goes to the most popular fraction :math:`f` of the items:

.. math:: \mathrm{share}(f) = \frac{\sum_{j=1}^{\lceil f\,|I| \rceil} c_{(j)}}{\sum_{j=1}^{|I|} c_{(j)}}

with :math:`c_{(1)} \ge c_{(2)} \ge \dots` the item interaction counts sorted descending.

>>> top_share([5, 3, 1, 1], frac=0.25)    # the top 1 of 4 items holds 5 of 10 events
0.5
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from coursekit._validation import CourseKitError, check_fraction, check_positive_int
from coursekit.plotting.style import get_axes

if TYPE_CHECKING:
    import scipy.sparse as sp
    from matplotlib.axes import Axes
    from numpy.typing import ArrayLike

__all__ = ["top_share", "plot_long_tail", "plot_rating_histogram", "events_per_period", "plot_activity_over_time",
           "integer_log_bins", "plot_interaction_density"]


def _counts(item_counts: ArrayLike) -> np.ndarray:
    c = np.asarray(item_counts, dtype=np.float64)
    if c.ndim != 1 or c.size == 0:
        raise CourseKitError(f"item_counts must be a non-empty 1-D array (one count per item), got shape {c.shape}; "
                             "use inter.item_counts().")
    if (c < 0).any() or not np.isfinite(c).all():
        raise CourseKitError("item_counts must be finite and >= 0 (numbers of interactions per item).")
    return c


def top_share(item_counts: ArrayLike, frac: float = 0.1) -> float:
    r"""Share of all interactions that fall on the top ``frac`` most popular items (formula in the module docstring).

    The number of items is :math:`\lceil f\,|I| \rceil` (at least one). Items without
    interactions count (as zeros), so pass counts over the whole catalogue.

    >>> top_share([10, 0, 0, 0, 0, 0, 0, 0, 0, 0], frac=0.1)
    1.0
    """
    c = _counts(item_counts)
    frac = check_fraction(frac, "frac", allow_one=True)
    if c.sum() == 0:
        raise CourseKitError("item_counts sum to 0: there are no interactions to share.")
    n_top = max(1, math.ceil(frac * c.size - 1e-9))
    return float(np.sort(c)[::-1][:n_top].sum() / c.sum())


def plot_long_tail(item_counts: ArrayLike, ax: Axes | None = None, frac: float = 0.1, title: str = "",
                   logy: bool = True) -> Axes:
    """Item interaction counts sorted descending (the long tail), with the top ``frac`` of items shaded.

    The legend states :func:`top_share` for ``frac``. Returns the Axes (one line: the curve).
    """
    c = np.sort(_counts(item_counts))[::-1]
    ax = get_axes(ax)
    rank = np.arange(1, c.size + 1)
    ax.plot(rank, c, color="tab:blue", lw=1.5, label="interactions per item")
    n_top = max(1, math.ceil(frac * c.size - 1e-9))
    ax.axvspan(0.5, n_top + 0.5, color="tab:orange", alpha=0.2,
               label=f"top {frac:.0%} of items: {top_share(c, frac):.0%} of interactions")
    if logy:
        ax.set_yscale("symlog", linthresh=1)   # symlog: items with 0 interactions stay visible
    ax.set_xlabel("item rank by popularity")
    ax.set_ylabel("interactions")
    ax.set_title(title or "Long tail of item popularity")
    ax.legend()
    return ax


def plot_rating_histogram(ratings: ArrayLike, ax: Axes | None = None, title: str = "") -> Axes:
    """Bar chart of how often each rating value occurs (NaN = no rating, left out). One bar per value."""
    r = np.asarray(ratings, dtype=np.float64)
    r = r[~np.isnan(r)]
    if r.size == 0:
        raise CourseKitError("no ratings to plot (all NaN): this data set or subset has implicit feedback only.")
    values, counts = np.unique(r, return_counts=True)
    ax = get_axes(ax)
    width = 0.8 * (np.min(np.diff(values)) if values.size > 1 else 1.0)
    ax.bar(values, counts, width=width, color="tab:blue")
    ax.set_xticks(values, [f"{v:g}" for v in values])
    ax.set_xlabel("rating")
    ax.set_ylabel("count")
    ax.set_title(title or f"Ratings (n = {r.size:,}, mean {r.mean():.2f})")
    return ax


_PERIOD_NAMES = {"D": "day", "W": "week", "M": "month", "Q": "quarter", "Y": "year"}


def events_per_period(timestamps: ArrayLike, groups: ArrayLike | None = None, freq: str = "W",
                      complete_only: bool = False) -> pd.DataFrame:
    """Number of events per calendar period (rows: period start, columns: groups; empty periods are 0).

    Parameters
    ----------
    timestamps : array (n,)
        Seconds since the epoch.
    groups : array (n,), optional
        One label per event (event types, train / test); one column per label.
    freq : str
        A pandas period alias: "D", "W" (Monday to Sunday), "M", "Q", "Y".
    complete_only : bool
        Leave out the first and the last period when the log covers them only in part (it starts
        after the period's first day or ends before its last day). A partial period holds fewer
        events only because it is shorter, so it draws a dip that is not in the data.

    Returns
    -------
    DataFrame
        Indexed by the periods' start times; ``attrs["dropped"]`` lists the start times of the
        partial periods left out.

    Examples
    --------
    >>> day = 86_400
    >>> ts = 1_735_689_600 + day * np.array([0, 1, 5, 6, 19, 20, 21])   # Wed 2025-01-01 to Wed 2025-01-22
    >>> events_per_period(ts, freq="W")["events"].tolist()              # weeks start on Mondays
    [2, 2, 0, 3]
    >>> table = events_per_period(ts, freq="W", complete_only=True)
    >>> table["events"].tolist(), [str(t.date()) for t in table.attrs["dropped"]]
    ([2, 0], ['2024-12-30', '2025-01-20'])
    """
    ts = np.asarray(timestamps)
    if ts.ndim != 1 or ts.size == 0:
        raise CourseKitError(f"timestamps must be a non-empty 1-D array of seconds, got shape {ts.shape}.")
    when = pd.to_datetime(ts, unit="s")
    labels = pd.Series(["events"] * ts.size if groups is None else np.asarray(groups, dtype=object))
    if len(labels) != ts.size:
        raise CourseKitError(f"groups has {len(labels)} labels for {ts.size} timestamps; pass one label per event.")
    periods = pd.Series(when).dt.to_period(freq)
    table = pd.crosstab(periods.dt.start_time.to_numpy(), labels.to_numpy()).sort_index()
    span = pd.period_range(periods.min(), periods.max(), freq=freq)
    table = table.reindex(span.start_time, fill_value=0)
    table.columns.name = None
    dropped = []
    if complete_only:
        first_day, last_day = when.min().normalize(), when.max().normalize()
        keep = np.ones(len(span), dtype=bool)
        if first_day > span[0].start_time:
            keep[0] = False
        if last_day < span[-1].end_time.normalize():
            keep[-1] = False
        dropped = list(table.index[~keep])
        table = table[keep]
    table.attrs["dropped"] = dropped
    return table


def plot_activity_over_time(timestamps: ArrayLike, groups: ArrayLike | None = None, freq: str = "W",
                            ax: Axes | None = None, title: str = "", complete_only: bool = False) -> Axes:
    """Number of events per period (``freq``: a pandas period alias, "D", "W", "M", "Y").

    ``timestamps`` are seconds since the epoch; ``groups`` (optional, one label per event)
    draws one line per label (event types, train / test). ``complete_only`` leaves out a
    partial first or last period (see :func:`events_per_period`), which would draw a spurious
    dip. Returns the Axes (one line per group).
    """
    table = events_per_period(timestamps, groups=groups, freq=freq, complete_only=complete_only)
    ax = get_axes(ax, (8, 3.5))
    for name in table.columns:
        ax.plot(table.index, table[name], lw=1.2, label=str(name))
    ax.set_xlabel("period start" + (" (complete periods only)" if table.attrs["dropped"] else ""))
    ax.set_ylabel(f"events per {_PERIOD_NAMES.get(freq, freq)}")
    ax.set_title(title or "Activity over time")
    if groups is not None:
        ax.legend()
    ax.tick_params(axis="x", labelrotation=30)   # this Axes only (autofmt_xdate would change the whole figure)
    return ax


def integer_log_bins(max_value: int, n_bins: int = 40) -> np.ndarray:
    """Histogram edges for positive integer counts on a log axis, each bin holding whole integers.

    Log-spaced edges cut between integers irregularly, so some bins hold no integer at all and the
    histogram of counts looks like a comb. Here the log-spaced points are rounded to integers,
    duplicates dropped, and the edges put halfway between integers: every bin holds at least one
    integer and the last bin ends at ``max_value + 0.5``.

    Parameters
    ----------
    max_value : int
        The largest count to cover (>= 1).
    n_bins : int
        Number of log-spaced bins asked for; fewer come back where they would be narrower than 1.

    Returns
    -------
    array
        Increasing edges for ``np.histogram`` / ``plt.hist(bins=...)``.

    Examples
    --------
    >>> integer_log_bins(10, n_bins=5).tolist()
    [0.5, 1.5, 2.5, 3.5, 5.5, 9.5, 10.5]
    """
    if isinstance(max_value, bool) or not float(max_value) >= 1 or not float(max_value).is_integer():
        raise CourseKitError(f"max_value must be an integer >= 1 (the largest count), got {max_value!r}.")
    n_bins = check_positive_int(n_bins, "n_bins")
    top = int(max_value)
    points = np.unique(np.round(np.logspace(0, np.log10(top), int(n_bins) + 1)))
    return np.concatenate([points - 0.5, [top + 0.5]]) if top > 1 else np.array([0.5, 1.5])


def plot_interaction_density(matrix: ArrayLike | sp.spmatrix, bins: int = 50, ax: Axes | None = None,
                             title: str = "") -> Axes:
    r"""Fill rate of the user-item matrix, users sorted by activity and items by popularity.

    The sorted matrix is cut into ``bins`` x ``bins`` blocks; each pixel shows the share of the
    block's cells that hold an interaction (log colour scale), so the dense corner of heavy users
    and popular items and the empty rest are visible at once. Returns the Axes (one image).
    """
    import matplotlib.colors as mcolors
    import scipy.sparse as sp

    m = sp.csr_matrix(matrix)
    n_users, n_items = m.shape
    if m.nnz == 0:
        raise CourseKitError("the matrix has no interactions to draw.")
    b = (m > 0).astype(np.float64).tocoo()
    user_rank = np.empty(n_users, np.int64)
    user_rank[np.argsort(-np.asarray(b.sum(axis=1)).ravel(), kind="stable")] = np.arange(n_users)
    item_rank = np.empty(n_items, np.int64)
    item_rank[np.argsort(-np.asarray(b.sum(axis=0)).ravel(), kind="stable")] = np.arange(n_items)
    ub, ib = min(bins, n_users), min(bins, n_items)
    u_edges = np.linspace(0, n_users, ub + 1)
    i_edges = np.linspace(0, n_items, ib + 1)
    filled, _, _ = np.histogram2d(user_rank[b.row], item_rank[b.col], bins=[u_edges, i_edges])
    cells = np.outer(np.diff(np.floor(u_edges)), np.diff(np.floor(i_edges)))
    with np.errstate(invalid="ignore", divide="ignore"):
        fill = np.where(cells > 0, filled / cells, np.nan)
    ax = get_axes(ax, (5, 4))
    positive = fill[fill > 0]
    norm = mcolors.LogNorm(vmin=max(positive.min(), 1e-4), vmax=1.0) if positive.size else None
    im = ax.imshow(np.where(fill > 0, fill, np.nan), aspect="auto", cmap="viridis", norm=norm,
                   extent=(0, n_items, n_users, 0), interpolation="nearest")
    ax.set_xlabel("items, most popular first")
    ax.set_ylabel("users, most active first")
    ax.grid(False)
    ax.set_title(title or f"Matrix fill rate (density {b.nnz / (n_users * n_items):.2%})")
    ax.figure.colorbar(im, ax=ax, label="share of cells filled")
    return ax
