r"""Replay a timestamped interaction log in time order, as a stream of events.

A real-time recommender sees the world one event at a time. To study one offline, the
log is *replayed*: events are sorted by time and handed out in that order, and nothing
about an event is shown before its timestamp.

**Order and ties.** Events are sorted by ``(timestamp, item_id, row)``: among events with
the same timestamp, the one with the larger ``item_id`` counts as later, the rule of
:func:`coursekit.interactions.time_order` and :func:`~coursekit.interactions.user_time_order`
(so a user's replayed events come in exactly the order ``leave_last_out`` assumes). For the
time line of all users together the sort is

.. math:: e_1 \prec e_2 \iff (t_1, i_1, r_1) <_{\text{lex}} (t_2, i_2, r_2).

**Warm-up.** Models need something to start from: the events with
:math:`t < t_w` form the *warm-up* (initial training) part, the rest is streamed.
The cut :math:`t_w` is given as a time, or as a fraction :math:`f` of the events, in which
case :math:`t_w = t_{(\lceil f N \rceil + 1)}` and, as in
:func:`coursekit.splits.global_temporal_split`, all events tied with the cut go to the
stream, so the warm-up never contains an event at or after the first streamed time.

**Batches.** :meth:`Replay.batches` groups consecutive stream events by count or by time
window; a batch is *released* at the timestamp of its last event (``released_at``), so a
consumer that acts on a batch never acts before any of its events happened.

Example
-------
>>> import pandas as pd
>>> from coursekit.interactions import Interactions
>>> log = pd.DataFrame({"user_id": [1, 2, 1, 2], "item_id": [5, 6, 7, 5], "timestamp": [10, 30, 20, 20]})
>>> rp = Replay(Interactions.from_frame(log), warmup=0.25)
>>> len(rp.warmup), rp.cut_time
(1, 20)
>>> [(e.timestamp, int(rp.items.ids[e.item])) for e in rp.events()]   # tie at t=20: item 7 after item 5
[(20, 5), (20, 7), (30, 6)]
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from coursekit._validation import CourseKitError, check_positive_int
from coursekit.interactions import RATING, IdMap, Interactions, time_order

__all__ = ["Event", "EventBatch", "Replay"]


@dataclass(frozen=True)
class Event:
    """One streamed event (internal indices; ``value`` is the rating, or NaN)."""

    position: int  # 0-based position in the full time order (warm-up events come first)
    user: int
    item: int
    timestamp: int
    value: float


@dataclass(frozen=True)
class EventBatch:
    """Consecutive stream events as aligned arrays; released at the time of its last event."""

    position: np.ndarray
    user: np.ndarray
    item: np.ndarray
    timestamp: np.ndarray
    value: np.ndarray

    @property
    def released_at(self) -> int:
        """Time of the batch's last event: when a consumer may act on it."""
        return int(self.timestamp[-1])

    def __len__(self) -> int:
        return len(self.user)


class Replay:
    """A time-ordered replay of ``inter`` with a warm-up part for initial training.

    Parameters
    ----------
    inter : Interactions
        Must have timestamps.
    warmup : float, optional
        Fraction of events (by time order) used for warm-up, in [0, 1). Ignored with ``cut_time``.
    cut_time : int, optional
        Explicit warm-up cut: events with ``timestamp < cut_time`` are warm-up.

    Attributes
    ----------
    order : int array
        Row indices of ``inter`` in time order.
    n_warmup : int
        Number of warm-up events (the first ``n_warmup`` of ``order``).
    cut_time : int
        First streamed timestamp (:math:`t_w`).
    """

    def __init__(self, inter: Interactions, warmup: float = 0.5, cut_time: int | None = None):
        self.inter = inter
        self.order = time_order(inter)
        ts = inter.timestamps.astype(np.int64)
        t_sorted = ts[self.order]
        if cut_time is None:
            try:
                frac = float(warmup)
            except (TypeError, ValueError):
                raise CourseKitError(f"warmup must be a fraction in [0, 1), got {warmup!r}.") from None
            if not 0.0 <= frac < 1.0:
                raise CourseKitError(f"warmup must be a fraction in [0, 1), got {warmup!r}; "
                                     "or pass cut_time= for a cut by time.")
            n = int(np.ceil(frac * len(t_sorted)))
            cut_time = int(t_sorted[min(n, len(t_sorted) - 1)]) if n > 0 else int(t_sorted[0])
        self.cut_time = int(cut_time)
        self.n_warmup = int(np.searchsorted(t_sorted, self.cut_time, side="left"))
        if self.n_warmup == len(t_sorted):
            raise CourseKitError(f"no event at or after cut_time={self.cut_time} (last event at "
                                 f"{t_sorted[-1]}); lower the warm-up.")
        self._ts = t_sorted
        self._u = inter.user_index[self.order]
        self._i = inter.item_index[self.order]
        if RATING in inter.frame.columns:
            self._v = inter.frame[RATING].to_numpy(dtype=np.float64)[self.order]
        else:
            self._v = np.full(len(inter), np.nan)

    # ------------------------------------------------------------------ parts
    @property
    def users(self) -> IdMap:
        """The users of ``inter`` (internal index <-> external id)."""
        return self.inter.users

    @property
    def items(self) -> IdMap:
        """The items of ``inter`` (internal index <-> external id)."""
        return self.inter.items

    @property
    def n_stream(self) -> int:
        """Number of streamed (non-warm-up) events."""
        return len(self._ts) - self.n_warmup

    @property
    def warmup(self) -> Interactions:
        """The warm-up events (timestamp < ``cut_time``), same universe as ``inter``."""
        return self.history(self.n_warmup)

    def history(self, position: int) -> Interactions:
        """Every event strictly before ``position`` in time order (what is known when it arrives)."""
        mask = np.zeros(len(self.inter), dtype=bool)
        mask[self.order[:int(position)]] = True
        return self.inter.subset(mask)

    def stream_arrays(self, start: int = 0, stop: int | None = None) -> EventBatch:
        """Stream events ``start..stop`` (counted from the first streamed event) as one batch."""
        a = self.n_warmup + int(start)
        b = len(self._ts) if stop is None else min(self.n_warmup + int(stop), len(self._ts))
        return EventBatch(np.arange(a, b), self._u[a:b], self._i[a:b], self._ts[a:b], self._v[a:b])

    # ------------------------------------------------------------------ iteration
    def events(self, max_events: int | None = None) -> Iterator[Event]:
        """Yield the stream events one by one, in time order (never one before an earlier one)."""
        stop = len(self._ts) if max_events is None else min(len(self._ts), self.n_warmup + int(max_events))
        for p in range(self.n_warmup, stop):
            yield Event(p, int(self._u[p]), int(self._i[p]), int(self._ts[p]), float(self._v[p]))

    def batches(self, size: int | None = None, window: int | None = None) -> Iterator[EventBatch]:
        """Yield consecutive stream events in batches of ``size`` events or of ``window`` seconds.

        With ``window`` :math:`w`, batch :math:`k` holds the events with
        :math:`t_w + k w \\le t < t_w + (k+1) w` (empty windows are skipped).
        """
        if (size is None) == (window is None):
            raise CourseKitError("give exactly one of size= (events per batch) or window= (seconds).")
        n = len(self._ts)
        if size is not None:
            size = check_positive_int(size, "size")
            edges = np.arange(self.n_warmup, n + size, size)
        else:
            window = check_positive_int(window, "window")
            k = (self._ts[self.n_warmup:] - self.cut_time) // window
            edges = self.n_warmup + np.r_[0, np.flatnonzero(np.diff(k)) + 1, n - self.n_warmup]
        edges = np.minimum(edges, n)
        for a, b in zip(edges[:-1], edges[1:]):
            if b > a:
                yield EventBatch(np.arange(a, b), self._u[a:b], self._i[a:b], self._ts[a:b], self._v[a:b])
