r"""Inspecting a split: a summary table, and checks that raise when a guarantee is broken.

>>> import pandas as pd
>>> from coursekit.interactions import Interactions
>>> from coursekit.splits import leave_last_out
>>> log = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [1, 2, 1], "timestamp": [3, 1, 2]})
>>> check_no_leakage(leave_last_out(Interactions.from_frame(log)), temporal="user")   # no error
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from coursekit._validation import CourseKitError, check_choice
from coursekit.interactions import TIMESTAMP, Interactions, check_same_universe
from coursekit.splits.parts import LeakageError, Split, as_split, event_timestamps, named_parts

__all__ = ["split_summary", "check_partition", "check_no_leakage"]


def _check_no_shared_event(parts: list[tuple[str, Interactions]]) -> None:
    """Raise :class:`LeakageError` if an identical event (every common column equal) is in two parts."""
    cols = sorted(set.intersection(*(set(p.frame.columns) for _, p in parts)))
    try:
        hashes = [(n, set(pd.util.hash_pandas_object(p.frame[cols], index=False))) for n, p in parts]
    except TypeError:  # an unhashable column (lists): compare the event columns only
        cols = [c for c in ("user_id", "item_id", "rating", TIMESTAMP) if c in cols]
        hashes = [(n, set(pd.util.hash_pandas_object(p.frame[cols], index=False))) for n, p in parts]
    for i, (n1, h1) in enumerate(hashes):
        for n2, h2 in hashes[i + 1:]:
            shared = h1 & h2
            if shared:
                raise LeakageError(f"event leakage: {len(shared)} event(s) (identical {cols}) are in both "
                                   f"{n1} and {n2}; each event must land in exactly one part.")


def split_summary(split: Split) -> pd.DataFrame:
    """One row per part: events, share of events, active users/items, cold users/items, time range.

    ``cold_users`` / ``cold_items``: users / items of that part with no training event.

    Examples
    --------
    >>> import pandas as pd
    >>> from coursekit.interactions import Interactions
    >>> from coursekit.splits import leave_last_out
    >>> log = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": [1, 2, 1, 3], "timestamp": [1, 2, 3, 4]})
    >>> split_summary(leave_last_out(Interactions.from_frame(log)))[["events", "users", "cold_items"]]
           events  users  cold_items
    train       2      2           0
    test        2      2           2
    """
    split = as_split(split)
    parts = named_parts(split)
    train = split.train
    tr_users, tr_items = train.user_counts() > 0, train.item_counts() > 0
    total = sum(len(p) for _, p in parts)
    rows = {}
    for name, p in parts:
        u, i = np.unique(p.user_index), np.unique(p.item_index)
        row = {"events": len(p), "share": len(p) / total if total else np.nan,
               "users": u.size, "items": i.size,
               "cold_users": int((~tr_users[u]).sum()), "cold_items": int((~tr_items[i]).sum())}
        if p.has_timestamps:
            ts = p.frame[TIMESTAMP]
            row["time_min"], row["time_max"] = (ts.min(), ts.max()) if len(p) else (np.nan, np.nan)
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def check_partition(split: Split, parent: Interactions) -> None:
    """Raise :class:`LeakageError` unless the parts are a partition of ``parent``'s events.

    Compares the multiset of rows (all columns), so an event is in exactly one part and
    none is lost or invented; also checks that every part keeps ``parent``'s universe.
    """
    parts = named_parts(split)
    for name, p in parts:
        if not (np.array_equal(p.users.ids, parent.users.ids) and np.array_equal(p.items.ids, parent.items.ids)):
            raise LeakageError(f"the {name} part does not keep the parent's user/item universe.")
    cols = list(parent.frame.columns)

    def counts(frame: pd.DataFrame) -> pd.Series:
        return pd.util.hash_pandas_object(frame[cols], index=False).value_counts()

    joined = counts(pd.concat([p.frame for _, p in parts], ignore_index=True))
    ref = counts(parent.frame)
    if not joined.sort_index().equals(ref.sort_index()):
        n_parts = sum(len(p) for _, p in parts)
        raise LeakageError(f"the parts ({n_parts} events) are not a partition of the parent's "
                           f"{len(parent)} events: some event is duplicated, lost or changed.")


def check_no_leakage(split: Split, temporal: Literal["global", "user"] | None = None,
                     cold: Literal["item", "user"] | None = None) -> None:
    r"""Raise :class:`LeakageError` if ``split`` breaks the guarantee of its kind.

    Always (also with no option): ``split`` is a :class:`Split` or a plain ``(train, test[, valid])``
    tuple of Interactions over **one** user/item universe (else :class:`CourseKitError`), and no
    event, identical in every column, is in two parts. The guarantee of a kind of split needs
    its option.

    ``temporal="global"``: :math:`\max t_{train} \le \min t_{valid} \le \dots \le \min t_{test}`
    (each part is not later than the next). ``temporal="user"``: per user, the last
    training event is not after the first test (and validation) event, comparing
    ``(timestamp, item_id)`` pairs, i.e. including the tie-break rule.
    ``cold="item"`` / ``"user"``: no test (or validation) item / user has a training event.

    Examples
    --------
    >>> import pandas as pd
    >>> from coursekit.interactions import Interactions
    >>> from coursekit.splits import leave_last_out, random_split
    >>> log = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [1, 2, 1], "timestamp": [3, 1, 2]})
    >>> inter = Interactions.from_frame(log)
    >>> check_no_leakage(leave_last_out(inter), temporal="user")       # fine: no error
    >>> check_no_leakage(random_split(inter, 0.34, seed=3), temporal="global")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    coursekit.splits.parts.LeakageError: temporal leakage: the train part has events at time 3, later than ... (time 2).
    """
    if temporal is not None:
        check_choice(temporal, "temporal", ["global", "user"])
    if cold is not None:
        check_choice(cold, "cold", ["item", "user"])
    split = as_split(split)
    parts = named_parts(split)
    try:
        check_same_universe(*(p for _, p in parts), names=tuple(n for n, _ in parts))
    except CourseKitError as e:  # name the split, whose parts must share one universe
        raise CourseKitError(f"split: {e}") from None
    _check_no_shared_event(parts)
    train = split.train
    later = [(n, p) for n, p in (("valid", split.valid), ("test", split.test)) if p is not None]
    chain = [("train", train)] + later
    if temporal == "global":
        for (n1, p1), (n2, p2) in zip(chain, chain[1:]):
            if len(p1) and len(p2):
                t1 = event_timestamps(p1, "check_no_leakage").max()
                t2 = event_timestamps(p2, "check_no_leakage").min()
                if t1 > t2:
                    raise LeakageError(f"temporal leakage: the {n1} part has events at time {t1}, later than "
                                       f"the first {n2} event (time {t2}).")
    elif temporal == "user":
        for (n1, p1), (n2, p2) in zip(chain, chain[1:]):
            _check_user_order(p1, p2, n1, n2)
    if cold is not None:
        idx = "item_index" if cold == "item" else "user_index"
        in_train = np.bincount(getattr(train, idx), minlength=getattr(train, f"n_{cold}s")) > 0
        for name, p in later:
            bad = np.unique(getattr(p, idx)[in_train[getattr(p, idx)]])
            if bad.size:
                ids = getattr(p, f"{cold}s").ids[bad][:10].tolist()
                raise LeakageError(f"cold-{cold} leakage: {bad.size} {name} {cold}(s) also have training "
                                   f"events, e.g. {cold}_id {ids}.")


def _check_user_order(early: Interactions, late: Interactions, n1: str, n2: str) -> None:
    """Per user: max (t, item) of ``early`` <= min (t, item) of ``late``, lexicographically."""
    if not len(early) or not len(late):
        return
    t = np.concatenate([event_timestamps(early, "check_no_leakage"), event_timestamps(late, "check_no_leakage")])
    it = np.concatenate([early.item_index, late.item_index])
    # dense rank of the (t, item) pair, so one integer compares pairs lexicographically
    o = np.lexsort((it, t))
    new = np.ones(len(t), dtype=bool)
    new[1:] = (t[o][1:] != t[o][:-1]) | (it[o][1:] != it[o][:-1])
    rank = np.empty(len(t), dtype=np.int64)
    rank[o] = np.cumsum(new)
    n_users = early.n_users
    r_early, r_late = rank[:len(early)], rank[len(early):]
    max_early = np.full(n_users, -1, dtype=np.int64)
    np.maximum.at(max_early, early.user_index, r_early)
    min_late = np.full(n_users, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(min_late, late.user_index, r_late)
    bad = np.flatnonzero(max_early > min_late)
    if bad.size:
        ids = early.users.ids[bad][:10].tolist()
        raise LeakageError(f"per-user temporal leakage: {bad.size} user(s) have a {n1} event later than one of "
                           f"their {n2} events (ordering by (timestamp, item_id)), e.g. user_id {ids}.")
