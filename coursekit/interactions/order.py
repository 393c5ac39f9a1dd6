r"""Time order of events, with the course's one tie-break rule.

Events are ordered by timestamp; among events with the same timestamp the larger
``item_id`` counts as later, then the original row order. Every module that needs "what
happened before what" (temporal splits, replays, sequence models, training pairs) uses
these two functions, so they all agree on ties.

>>> import pandas as pd
>>> from coursekit.interactions import Interactions
>>> log = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [9, 3, 4], "timestamp": [7, 7, 1]})
>>> time_order(Interactions.from_frame(log)).tolist()
[2, 1, 0]
"""
from __future__ import annotations

import numpy as np

from coursekit._validation import CourseKitError
from coursekit.interactions.log import Interactions


def _timestamps(inter: Interactions, what: str, missing: str) -> np.ndarray:
    if not isinstance(inter, Interactions):
        raise CourseKitError(f"{what} expects coursekit Interactions, got {type(inter).__name__}.")
    if inter.has_timestamps:
        return inter.timestamps
    if missing == "row":
        return np.arange(len(inter))
    raise CourseKitError(f"{what} needs a 'timestamp' column; these interactions have none. "
                         "Load data with timestamps, or use a split/replay that does not need time.")


def time_order(inter: Interactions, missing: str = "error") -> np.ndarray:
    """Row order of ``inter`` by ``(timestamp, item_id, row)``.

    Parameters
    ----------
    inter : Interactions
    missing : {"error", "row"}
        Without a timestamp column: raise, or take the row order as the time order.

    Returns
    -------
    int array (n_events,)
        ``inter.frame.iloc[order]`` is in time order.
    """
    ts = _timestamps(inter, "time_order", missing)
    return np.lexsort((np.arange(len(inter)), inter.item_index, ts))


def user_time_order(inter: Interactions, missing: str = "error") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Events sorted by ``(user, timestamp, item_id, row)``, with positions inside each user.

    Returns
    -------
    order : int array (n_events,)
        ``inter.frame.iloc[order]`` is sorted by user, then time.
    position : int array (n_events,)
        0-based position of each *sorted* event in its user's time line.
    count : int array (n_events,)
        Number of events of the user of each sorted event, :math:`n_u`.

    Examples
    --------
    >>> import pandas as pd
    >>> from coursekit.interactions import Interactions
    >>> log = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [9, 3, 4], "timestamp": [7, 7, 1]})
    >>> order, pos, cnt = user_time_order(Interactions.from_frame(log))
    >>> order.tolist(), pos.tolist(), cnt.tolist()
    ([1, 0, 2], [0, 1, 0], [2, 2, 1])
    """
    ts = _timestamps(inter, "user_time_order", missing)
    rows = np.arange(len(inter))
    order = np.lexsort((rows, inter.item_index, ts, inter.user_index))  # the last key is the primary one
    u_sorted = inter.user_index[order]
    counts = np.bincount(u_sorted, minlength=inter.n_users)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    position = rows - starts[u_sorted]
    return order, position, counts[u_sorted]
