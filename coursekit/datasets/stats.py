r"""Shape statistics of an interaction log, computed by the same code for every data set.

:func:`describe` puts a synthetic data set next to a real one (the shop's calibration against
MovieLens, ``benchmarks/bench_shop_calibration.py``): sizes, density, how long the long tail is
and how much explicit feedback there is.

Definitions (:math:`c_i` = number of events of item :math:`i`, over every item of the
catalogue, items without events included, sorted increasingly, :math:`n` items):

* **top-10% item share**: the share of all events that go to the :math:`\lceil n/10 \rceil`
  most used items;
* **item Gini**: :math:`G = \frac{\sum_{k=1}^{n} (2k - n - 1)\, c_{(k)}}{n \sum_k c_k}`, 0 when
  every item is used equally often, close to 1 when a few items take everything;
* **ratings per user**: over the users with at least one event (users who never rate count as 0);
* **density**: distinct (user, item) pairs over users-with-events :math:`\times` catalogue items.

>>> import pandas as pd
>>> from coursekit.interactions import Interactions
>>> log = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "item_id": [10, 20, 10, 10, 10],
...                     "rating": [4.0, None, 5.0, None, 3.0]})
>>> d = describe(Interactions.from_frame(log), name="toy")
>>> d.loc[["events", "users", "items", "ratings", "median ratings per user"], "toy"].tolist()
[5, 3, 2, 3, 1.0]
>>> round(d.loc["item gini", "toy"], 2), d.loc["top-10% item share", "toy"]
(0.3, 0.8)
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from coursekit._validation import CourseKitError
from coursekit.interactions import Interactions

__all__ = ["describe", "gini", "top_share"]


def gini(counts: np.ndarray) -> float:
    r"""Gini coefficient of non-negative counts (0: all equal; :math:`\to 1`: one takes all).

    >>> gini([1, 1, 1, 1]), gini([0, 0, 0, 4])
    (0.0, 0.75)
    """
    c = np.sort(np.asarray(counts, dtype=np.float64).ravel())
    n, total = c.size, c.sum()
    if n == 0 or total <= 0:
        return float("nan")
    k = np.arange(1, n + 1)
    return float(((2 * k - n - 1) @ c) / (n * total))


def top_share(counts: np.ndarray, frac: float = 0.1) -> float:
    r"""Share of the total held by the :math:`\lceil \mathrm{frac} \cdot n \rceil` largest counts.

    >>> top_share([5, 3, 1, 1], frac=0.25)
    0.5
    """
    c = np.sort(np.asarray(counts, dtype=np.float64).ravel())[::-1]
    if c.size == 0 or c.sum() <= 0:
        return float("nan")
    return float(c[: max(1, math.ceil(frac * c.size))].sum() / c.sum())


def describe(data: Any, name: str | None = None) -> pd.DataFrame:
    """Shape statistics of a :class:`~coursekit.datasets.Dataset` or :class:`~coursekit.Interactions`.

    Parameters
    ----------
    data : Dataset or Interactions
        A data set (its whole catalogue counts as the item universe, see
        ``Dataset.to_interactions``) or an interaction log over its own universe.
    name : str, optional
        Column name (default: the data set's ``name``, or ``"data"``).

    Returns
    -------
    DataFrame
        One column (``name``), one row per statistic: ``events``, ``users``, ``items``,
        ``items with events``, ``distinct user-item pairs``, ``density``, ``repeat share``
        (events on a pair seen before), ``median events per user``, ``q10 / q90 events per user``,
        ``median events per item``, ``top-10% item share``, ``item gini``, ``ratings``,
        ``rated pairs``, ``users with a rating``, ``median ratings per user``,
        ``q10 ratings per user``, ``mean rating``, ``rating sd``.
        Counts are ints, the rest floats (NaN where there are no ratings).
    """
    if isinstance(data, Interactions):
        inter = data
        label = name or "data"
    elif hasattr(data, "to_interactions"):
        inter = data.to_interactions()
        label = name or getattr(data, "name", "data")
    else:
        raise CourseKitError(f"describe expects a Dataset or Interactions, got {type(data).__name__}.")
    n_events = len(inter)
    if n_events == 0:
        raise CourseKitError("describe got an empty interaction log.")
    per_user = inter.user_counts()
    active = per_user > 0
    per_item = inter.item_counts()
    key = inter.user_index.astype(np.int64) * inter.n_items + inter.item_index
    n_pairs = int(np.unique(key).size)
    n_users = int(active.sum())
    out: dict[str, Any] = {
        "events": n_events,
        "users": n_users,
        "items": int(inter.n_items),
        "items with events": int((per_item > 0).sum()),
        "distinct user-item pairs": n_pairs,
        "density": n_pairs / (n_users * inter.n_items),
        "repeat share": 1.0 - n_pairs / n_events,
        "median events per user": float(np.median(per_user[active])),
        "q10 events per user": float(np.quantile(per_user[active], 0.1)),
        "q90 events per user": float(np.quantile(per_user[active], 0.9)),
        "median events per item": float(np.median(per_item)),
        "top-10% item share": top_share(per_item, 0.1),
        "item gini": gini(per_item),
    }
    ratings = inter.ratings if "rating" in inter.frame.columns else np.full(n_events, np.nan)
    rated = ~np.isnan(ratings)
    per_user_r = np.bincount(inter.user_index[rated], minlength=inter.n_users)[active]
    out.update({
        "ratings": int(rated.sum()),
        "rated pairs": int(np.unique(key[rated]).size),
        "users with a rating": int((per_user_r > 0).sum()),
        "median ratings per user": float(np.median(per_user_r)),
        "q10 ratings per user": float(np.quantile(per_user_r, 0.1)),
        "mean rating": float(ratings[rated].mean()) if rated.any() else float("nan"),
        "rating sd": float(ratings[rated].std()) if rated.any() else float("nan"),
    })
    return pd.DataFrame({label: pd.Series(out, dtype=object)})
