r"""Splits along time: one global cut, or each user's latest events.

**Time order within a user and ties.** Per-user temporal splits order each user's events with
:func:`coursekit.interactions.user_time_order`: by ``(timestamp, item_id)``, stably (original row
order last). Among events with the *same* timestamp (MovieLens has many: a user rates a batch
of films in one second) the one with the **larger item_id counts as later**. The rule is
arbitrary but fixed, so a split never depends on the row order of a file.

>>> import pandas as pd
>>> from coursekit.interactions import Interactions
>>> log = pd.DataFrame({"user_id": [1, 1, 1, 2, 2], "item_id": [10, 11, 12, 10, 12],
...                     "timestamp": [5, 5, 9, 1, 2]})
>>> leave_last_out(Interactions.from_frame(log)).test.frame[["user_id", "item_id"]].values.tolist()
[[1, 12], [2, 12]]
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from coursekit._validation import CourseKitError, check_fraction, check_nonneg_int, check_positive_int
from coursekit.interactions import Interactions, user_time_order
from coursekit.splits.parts import (
    TEST,
    TRAIN,
    VALID,
    Split,
    build_split,
    check_fractions,
    check_interactions,
    event_timestamps,
    round_half_up,
)

__all__ = ["global_temporal_split", "user_temporal_split", "leave_last_out"]


def _check_cut(value: object, ts: np.ndarray, name: str) -> object:
    """``value`` as a cut comparable with the timestamps ``ts`` (numbers with numbers, datetimes with datetimes)."""
    if np.issubdtype(ts.dtype, np.datetime64):
        try:
            return np.datetime64(pd.Timestamp(value))
        except (TypeError, ValueError):
            raise CourseKitError(f"{name} must be a date/time like the datetime timestamps, got {value!r}.") from None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise CourseKitError(
            f"{name} must be a number in the unit of the timestamps (dtype {ts.dtype}, e.g. seconds since "
            f"1970), got {value!r} ({type(value).__name__}). Convert it, e.g. "
            f"{name}=int(pd.Timestamp('2020-01-01').timestamp()) for seconds."
        )
    return value


def global_temporal_split(inter: Interactions, test_frac: float = 0.2, valid_frac: float = 0.0,
                          cut_time: float | None = None, valid_cut_time: float | None = None) -> Split:
    r"""One cut time for all users: events at or after the cut are test.

    With :math:`t_{(1)} \le \dots \le t_{(N)}` the sorted timestamps and
    :math:`n_{test} = \lfloor f_{test} N + \tfrac12 \rfloor`, the cut is
    :math:`t_c = t_{(N - n_{test} + 1)}` and

    .. math:: \text{test} = \{e : t_e \ge t_c\},\qquad \text{train} = \{e : t_e < t_{v}\}

    where the validation cut :math:`t_v \le t_c` is found the same way for
    :math:`f_{test} + f_{valid}` (validation = :math:`t_v \le t_e < t_c`; without validation
    :math:`t_v = t_c`). Events tied with the cut all go to the later part, so the test share
    can exceed ``test_frac`` when many events share the cut timestamp. Guarantee:
    ``max(train time) < min(test time)``.

    Parameters
    ----------
    cut_time : number, optional
        An explicit cut, in the unit of the timestamps (seconds for the course data: convert a
        date with ``int(pd.Timestamp("2020-01-01").timestamp())``); then ``test_frac`` is ignored
        and validation needs ``valid_cut_time`` (``valid_frac`` must stay 0).
    valid_cut_time : number, optional
        Explicit validation cut, ``<= cut_time``; only together with ``cut_time``.

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({"user_id": [1, 2, 1, 2], "item_id": [1, 2, 3, 4], "timestamp": [1, 2, 3, 4]})
    >>> s = global_temporal_split(Interactions.from_frame(log), test_frac=0.5)
    >>> s.test.frame["timestamp"].tolist()
    [3, 4]
    >>> global_temporal_split(Interactions.from_frame(log), cut_time=4).test.frame["timestamp"].tolist()
    [4]
    """
    check_interactions(inter)
    ts = event_timestamps(inter, "global_temporal_split")
    if cut_time is None:
        if valid_cut_time is not None:
            raise CourseKitError("valid_cut_time needs cut_time as well; pass both cuts, or use fractions.")
        test_frac, valid_frac = check_fractions(test_frac, valid_frac)
        srt = np.sort(ts)
        n = len(srt)
        n_test = int(round_half_up(test_frac * n))
        if n_test == 0:
            raise CourseKitError(f"test_frac={test_frac} of {n} events is 0 events; use a larger test_frac.")
        cut_time = srt[n - n_test]
        n_later = int(round_half_up((test_frac + valid_frac) * n))
        valid_cut_time = srt[n - n_later] if valid_frac > 0 else cut_time
        with_valid = valid_frac > 0
    else:
        if check_fraction(valid_frac, "valid_frac", allow_zero=True) > 0:
            raise CourseKitError("with an explicit cut_time, give the validation cut as valid_cut_time= "
                                 "instead of valid_frac.")
        with_valid = valid_cut_time is not None
        cut_time = _check_cut(cut_time, ts, "cut_time")
        valid_cut_time = cut_time if valid_cut_time is None else _check_cut(valid_cut_time, ts, "valid_cut_time")
        if valid_cut_time > cut_time:
            raise CourseKitError(f"valid_cut_time ({valid_cut_time}) must be <= cut_time ({cut_time}).")
    label = np.where(ts >= cut_time, TEST, np.where(ts >= valid_cut_time, VALID, TRAIN)).astype(np.int8)
    if not (label == TEST).any():
        raise CourseKitError(f"no event at or after cut_time={cut_time} (last event at {ts.max()}).")
    if not (label == TRAIN).any():
        raise CourseKitError(f"no training event before the cut ({valid_cut_time}; first event at "
                             f"{ts.min()}): lower test_frac/valid_frac or move the cut later.")
    return build_split(inter, label, with_valid)


def user_temporal_split(inter: Interactions, test_frac: float = 0.2, valid_frac: float = 0.0) -> Split:
    r"""Per user, the latest ``test_frac`` of their events (by time) are test.

    A user with :math:`n_u` events, ordered by time with the tie-break of
    :func:`~coursekit.interactions.user_time_order`, gives its last

    .. math:: n^{test}_u = \min\big(\lfloor f_{test}\, n_u + \tfrac12 \rfloor,\; n_u - 1\big)

    events to test (round half up; at least one event always stays in train, so a user
    with one event is train only), and the :math:`n^{valid}_u = \min(\lfloor f_{valid}\,
    n_u + \tfrac12 \rfloor, n_u - 1 - n^{test}_u)` events before those to validation.
    Guarantee: for every user, no training event is later than any of their test events.
    Different users' test periods overlap in calendar time (see ``global_temporal_split``
    for a split without that).

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({"user_id": [1] * 5 + [2], "item_id": [1, 2, 3, 4, 5, 1],
    ...                     "timestamp": [5, 4, 3, 2, 1, 9]})
    >>> s = user_temporal_split(Interactions.from_frame(log), test_frac=0.4)
    >>> s.test.frame["item_id"].tolist()    # user 1's two latest; user 2 keeps its only event
    [1, 2]
    """
    check_interactions(inter)
    test_frac, valid_frac = check_fractions(test_frac, valid_frac)
    event_timestamps(inter, "user_temporal_split")
    order, pos, cnt = user_time_order(inter)
    n_test = np.minimum(round_half_up(test_frac * cnt), cnt - 1)
    n_valid = np.minimum(round_half_up(valid_frac * cnt), cnt - 1 - n_test)
    from_end = cnt - 1 - pos            # 0 = the user's latest event
    lab_sorted = np.where(from_end < n_test, TEST, np.where(from_end < n_test + n_valid, VALID, TRAIN))
    label = np.empty(len(inter), dtype=np.int8)
    label[order] = lab_sorted
    if not (label == TEST).any():
        raise CourseKitError(f"test_frac={test_frac} gives no user a test event (users have at most "
                             f"{cnt.max()} events); use a larger test_frac.")
    return build_split(inter, label, valid_frac > 0)


def leave_last_out(inter: Interactions, n_test: int = 1, n_valid: int = 0) -> Split:
    r"""Per user, the last ``n_test`` events are test and the ``n_valid`` before them validation.

    Events are ordered per user by ``(timestamp, item_id)``
    (:func:`~coursekit.interactions.user_time_order`): among equal timestamps the **larger
    item_id is later**, so it is the one held out. Users with fewer than
    :math:`n_{test} + n_{valid} + 1` events stay **entirely in train** (they could not keep a
    training event otherwise); :func:`~coursekit.splits.split_summary` shows how many users are tested.

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({"user_id": [1, 1, 1, 2], "item_id": [30, 20, 10, 5],
    ...                     "timestamp": [100, 100, 50, 7]})
    >>> s = leave_last_out(Interactions.from_frame(log))
    >>> s.test.frame["item_id"].tolist(), len(s.train)   # tie at t=100: item 30 is "later"
    ([30], 3)
    """
    check_interactions(inter)
    n_test, n_valid = check_positive_int(n_test, "n_test"), check_nonneg_int(n_valid, "n_valid")
    event_timestamps(inter, "leave_last_out")
    order, pos, cnt = user_time_order(inter)
    from_end = cnt - 1 - pos
    eligible = cnt >= n_test + n_valid + 1
    lab_sorted = np.where(~eligible, TRAIN,
                          np.where(from_end < n_test, TEST, np.where(from_end < n_test + n_valid, VALID, TRAIN)))
    label = np.empty(len(inter), dtype=np.int8)
    label[order] = lab_sorted
    if not (label == TEST).any():
        raise CourseKitError(f"no user has the {n_test + n_valid + 1} events leave_last_out(n_test={n_test}, "
                             f"n_valid={n_valid}) needs; lower n_test/n_valid.")
    return build_split(inter, label, n_valid > 0)
