r"""Train / test (/ validation) splits of an interaction log, without leakage.

Every split takes an :class:`~coursekit.interactions.Interactions` and returns a
:class:`Split` ``(train, test, valid)`` of three ``Interactions`` cut with
:meth:`Interactions.subset`, so all parts share the *universe* (the :class:`IdMap` of
users and items) of their parent: row ``u`` of ``train.matrix()`` and of
``test.matrix()`` are the same user. ``valid`` is ``None`` unless asked for.
Each event of the parent lands in exactly one part. Every split is deterministic:
the random ones given ``seed``, the temporal ones always.

=========================  ==================================================================
``random_split``           events drawn uniformly at random (leaks the future: a baseline)
``global_temporal_split``  one cut time for everybody: events at/after the cut are test
``user_temporal_split``    per user, the latest ``test_frac`` of their events are test
``leave_last_out``         per user, the last ``n_test`` events are test
``cold_item_split``        whole items held out: test items have no training event
``cold_user_split``        whole users held out: test users have no training event
=========================  ==================================================================

**Time order within a user and ties.** Per-user temporal splits order each user's
events by ``(timestamp, item_id)``, stably (original row order last). Among events with
the *same* timestamp (MovieLens has many: a user rates a batch of films in one second)
the one with the **larger item_id counts as later**. The rule is arbitrary but fixed,
so a split never depends on the row order of a file.

Example
-------
>>> import pandas as pd
>>> from coursekit.interactions import Interactions
>>> log = pd.DataFrame({"user_id": [1, 1, 1, 2, 2], "item_id": [10, 11, 12, 10, 12],
...                     "timestamp": [5, 5, 9, 1, 2]})
>>> s = leave_last_out(Interactions.from_frame(log))
>>> s.test.frame[["user_id", "item_id"]].values.tolist()
[[1, 12], [2, 12]]
>>> s.train.n_items == s.test.n_items == 3     # same universe
True
"""
from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np
import pandas as pd

from coursekit._validation import CourseKitError, check_choice, check_fraction, check_seed
from coursekit.interactions import TIMESTAMP, Interactions

__all__ = [
    "Split", "LeakageError", "random_split", "global_temporal_split", "user_temporal_split",
    "leave_last_out", "cold_item_split", "cold_user_split", "split_summary", "check_no_leakage",
    "check_partition", "user_time_order",
]

TRAIN, TEST, VALID = 0, 1, 2


class Split(NamedTuple):
    """The parts of a split; ``valid`` is ``None`` unless a validation part was asked for."""

    train: Interactions
    test: Interactions
    valid: Interactions | None = None


class LeakageError(CourseKitError, AssertionError):
    """A split breaks one of its guarantees (test information reachable from train)."""


# ---------------------------------------------------------------------------- helpers
def _check_inter(inter) -> None:
    if not isinstance(inter, Interactions):
        raise CourseKitError(
            f"a split expects coursekit Interactions, got {type(inter).__name__}. "
            "Build one with Interactions.from_frame(frame) or dataset.to_interactions()."
        )
    if len(inter) == 0:
        raise CourseKitError("cannot split an empty interaction log.")


def _check_fracs(test_frac, valid_frac) -> tuple[float, float]:
    t = check_fraction(test_frac, "test_frac")
    v = check_fraction(valid_frac, "valid_frac", allow_zero=True)
    if t + v >= 1:
        raise CourseKitError(
            f"test_frac + valid_frac must be < 1 so that something is left to train on, "
            f"got {t} + {v} = {t + v}."
        )
    return t, v


def _timestamps(inter: Interactions, what: str) -> np.ndarray:
    if not inter.has_timestamps:
        raise CourseKitError(
            f"{what} needs a '{TIMESTAMP}' column, and these interactions have none "
            f"(columns: {list(inter.frame.columns)}). Use random_split (no time order), or build the "
            "Interactions from a frame with timestamps, e.g. dataset.to_interactions()."
        )
    ts = inter.frame[TIMESTAMP].to_numpy()
    if not (np.issubdtype(ts.dtype, np.number) or np.issubdtype(ts.dtype, np.datetime64)):
        raise CourseKitError(f"'{TIMESTAMP}' must be numeric or datetime, got dtype {ts.dtype}.")
    if pd.isna(ts).any():
        raise CourseKitError(
            f"{int(pd.isna(ts).sum())} events have a missing timestamp; drop or fill them "
            "before a temporal split."
        )
    return ts


def _check_cut(value, ts: np.ndarray, name: str):
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


def _build(inter: Interactions, label: np.ndarray, with_valid: bool) -> Split:
    """Cut ``inter`` by per-event labels (0 train, 1 test, 2 valid)."""
    valid = inter.subset(label == VALID) if with_valid else None
    return Split(inter.subset(label == TRAIN), inter.subset(label == TEST), valid)


def _round_half_up(x: np.ndarray) -> np.ndarray:
    return np.floor(np.asarray(x, dtype=np.float64) + 0.5).astype(np.int64)


def user_time_order(inter: Interactions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Events sorted by ``(user, timestamp, item_id, row)``, with positions inside each user.

    This is the one place the tie-break rule lives: among a user's events with equal
    timestamps, the larger ``item_id`` is later (then the original row order).

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
    >>> log = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [9, 3, 4], "timestamp": [7, 7, 1]})
    >>> order, pos, cnt = user_time_order(Interactions.from_frame(log))
    >>> order.tolist(), pos.tolist(), cnt.tolist()
    ([1, 0, 2], [0, 1, 0], [2, 2, 1])
    """
    ts = _timestamps(inter, "a per-user temporal split")
    rows = np.arange(len(inter))
    # np.lexsort: the LAST key is the primary one
    order = np.lexsort((rows, inter.item_index, ts, inter.user_index))
    u_sorted = inter.user_index[order]
    counts = np.bincount(u_sorted, minlength=inter.n_users)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    position = rows - starts[u_sorted]
    return order, position, counts[u_sorted]


def _choose(ids: np.ndarray, n_test: int, n_valid: int, seed) -> tuple[np.ndarray, np.ndarray]:
    perm = np.random.default_rng(check_seed(seed)).permutation(ids)
    return perm[:n_test], perm[n_test:n_test + n_valid]


# ---------------------------------------------------------------------------- splits
def random_split(inter: Interactions, test_frac: float = 0.2, seed: int = 0,
                 valid_frac: float = 0.0) -> Split:
    r"""Events assigned to test (and validation) uniformly at random.

    Exactly :math:`n_{test} = \lfloor f_{test} N + \tfrac12 \rfloor` of the :math:`N`
    events go to test and :math:`\lfloor f_{valid} N + \tfrac12 \rfloor` to validation,
    drawn without replacement with ``numpy.random.default_rng(seed)``.

    This ignores time, so training data contains events that happen *after* test
    events (future leakage); it is here as the baseline that lesson 01 warns against.

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({"user_id": [1] * 10, "item_id": range(10)})
    >>> s = random_split(Interactions.from_frame(log), test_frac=0.3, seed=1)
    >>> len(s.train), len(s.test), s.valid is None
    (7, 3, True)
    """
    _check_inter(inter)
    test_frac, valid_frac = _check_fracs(test_frac, valid_frac)
    n = len(inter)
    n_test, n_valid = int(_round_half_up(test_frac * n)), int(_round_half_up(valid_frac * n))
    if n_test == 0:
        raise CourseKitError(f"test_frac={test_frac} of {n} events is 0 events; use a larger test_frac.")
    label = np.zeros(n, dtype=np.int8)
    test_rows, valid_rows = _choose(np.arange(n), n_test, n_valid, seed)
    label[test_rows], label[valid_rows] = TEST, VALID
    return _build(inter, label, valid_frac > 0)


def global_temporal_split(inter: Interactions, test_frac: float = 0.2, valid_frac: float = 0.0,
                          cut_time=None, valid_cut_time=None) -> Split:
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
        date with ``int(pd.Timestamp("2020-01-01").timestamp())``); then ``test_frac`` is ignored and validation needs ``valid_cut_time``
        (``valid_frac`` must stay 0).
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
    _check_inter(inter)
    ts = _timestamps(inter, "global_temporal_split")
    if cut_time is None:
        if valid_cut_time is not None:
            raise CourseKitError("valid_cut_time needs cut_time as well; pass both cuts, or use fractions.")
        test_frac, valid_frac = _check_fracs(test_frac, valid_frac)
        srt = np.sort(ts)
        n = len(srt)
        n_test = int(_round_half_up(test_frac * n))
        if n_test == 0:
            raise CourseKitError(f"test_frac={test_frac} of {n} events is 0 events; use a larger test_frac.")
        cut_time = srt[n - n_test]
        n_later = int(_round_half_up((test_frac + valid_frac) * n))
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
    return _build(inter, label, with_valid)


def user_temporal_split(inter: Interactions, test_frac: float = 0.2, valid_frac: float = 0.0) -> Split:
    r"""Per user, the latest ``test_frac`` of their events (by time) are test.

    A user with :math:`n_u` events, ordered by time with the tie-break of
    :func:`user_time_order`, gives its last

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
    _check_inter(inter)
    test_frac, valid_frac = _check_fracs(test_frac, valid_frac)
    order, pos, cnt = user_time_order(inter)
    n_test = np.minimum(_round_half_up(test_frac * cnt), cnt - 1)
    n_valid = np.minimum(_round_half_up(valid_frac * cnt), cnt - 1 - n_test)
    from_end = cnt - 1 - pos            # 0 = the user's latest event
    lab_sorted = np.where(from_end < n_test, TEST, np.where(from_end < n_test + n_valid, VALID, TRAIN))
    label = np.empty(len(inter), dtype=np.int8)
    label[order] = lab_sorted
    if not (label == TEST).any():
        raise CourseKitError(f"test_frac={test_frac} gives no user a test event (users have at most "
                             f"{cnt.max()} events); use a larger test_frac.")
    return _build(inter, label, valid_frac > 0)


def leave_last_out(inter: Interactions, n_test: int = 1, n_valid: int = 0) -> Split:
    r"""Per user, the last ``n_test`` events are test and the ``n_valid`` before them validation.

    Events are ordered per user by ``(timestamp, item_id)`` (:func:`user_time_order`): among
    equal timestamps the **larger item_id is later**, so it is the one held out. Users with
    fewer than :math:`n_{test} + n_{valid} + 1` events stay **entirely in train** (they could
    not keep a training event otherwise); :func:`split_summary` shows how many users are tested.

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({"user_id": [1, 1, 1, 2], "item_id": [30, 20, 10, 5],
    ...                     "timestamp": [100, 100, 50, 7]})
    >>> s = leave_last_out(Interactions.from_frame(log))
    >>> s.test.frame["item_id"].tolist(), len(s.train)   # tie at t=100: item 30 is "later"
    ([30], 3)
    """
    _check_inter(inter)
    for value, name, low in ((n_test, "n_test", 1), (n_valid, "n_valid", 0)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < low:
            raise CourseKitError(f"{name} must be an integer >= {low}, got {value!r}.")
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
    return _build(inter, label, n_valid > 0)


def _cold_split(inter: Interactions, index: np.ndarray, n_total: int, kind: str,
                test_frac: float, seed, valid_frac: float) -> Split:
    _check_inter(inter)
    test_frac, valid_frac = _check_fracs(test_frac, valid_frac)
    active = np.flatnonzero(np.bincount(index, minlength=n_total))
    n_test = int(_round_half_up(test_frac * active.size))
    n_valid = int(_round_half_up(valid_frac * active.size))
    if n_test == 0:
        raise CourseKitError(f"test_frac={test_frac} of {active.size} active {kind}s is 0 {kind}s; "
                             "use a larger test_frac.")
    if n_test + n_valid >= active.size:
        raise CourseKitError(f"holding out {n_test + n_valid} of {active.size} active {kind}s leaves none "
                             "to train on; lower test_frac/valid_frac.")
    test_ids, valid_ids = _choose(active, n_test, n_valid, seed)
    group = np.zeros(n_total, dtype=np.int8)
    group[test_ids], group[valid_ids] = TEST, VALID
    return _build(inter, group[index], valid_frac > 0)


def cold_item_split(inter: Interactions, test_frac: float = 0.2, seed: int = 0,
                    valid_frac: float = 0.0) -> Split:
    r"""Hold out whole items: every event of a held-out item is test.

    :math:`\lfloor f_{test} |I_{active}| + \tfrac12 \rfloor` of the items that have events
    are drawn at random (``seed``); all their events go to test (validation likewise, with
    ``valid_frac``). ``test_frac`` is a share of *items*, not of events. Guarantee: every
    test item has zero training events (strict item cold start), while the universe still
    contains it, so a model can be asked to score it.

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({"user_id": [1, 2, 1, 3, 2], "item_id": [1, 1, 2, 3, 4]})
    >>> s = cold_item_split(Interactions.from_frame(log), test_frac=0.25, seed=0)
    >>> test_items = set(s.test.frame["item_id"])
    >>> len(test_items), test_items & set(s.train.frame["item_id"])
    (1, set())
    """
    return _cold_split(inter, inter.item_index, inter.n_items, "item", test_frac, seed, valid_frac)


def cold_user_split(inter: Interactions, test_frac: float = 0.2, seed: int = 0,
                    valid_frac: float = 0.0) -> Split:
    r"""Hold out whole users: every event of a held-out user is test.

    :math:`\lfloor f_{test} |U_{active}| + \tfrac12 \rfloor` users with events are drawn at
    random (``seed``). Guarantee: test users have zero training events (new-user cold start).

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({"user_id": [1, 1, 2, 3, 4], "item_id": [1, 2, 1, 3, 2]})
    >>> s = cold_user_split(Interactions.from_frame(log), test_frac=0.5, seed=0)
    >>> sorted(set(s.test.frame["user_id"]) & set(s.train.frame["user_id"]))
    []
    """
    return _cold_split(inter, inter.user_index, inter.n_users, "user", test_frac, seed, valid_frac)


# ---------------------------------------------------------------------------- inspection
def _as_split(split) -> Split:
    """``split`` as a :class:`Split`: a Split, or a plain ``(train, test)`` / ``(train, test, valid)`` tuple."""
    if not isinstance(split, tuple) or len(split) not in (2, 3):
        raise CourseKitError(
            f"split must be a Split or a tuple (train, test[, valid]) of Interactions, got "
            f"{type(split).__name__}{f' of length {len(split)}' if isinstance(split, tuple) else ''}."
        )
    split = split if isinstance(split, Split) else Split(*split)
    for name, part in zip(("train", "test", "valid"), split):
        if not (isinstance(part, Interactions) or (name == "valid" and part is None)):
            raise CourseKitError(f"split.{name} must be coursekit Interactions, got {type(part).__name__}.")
    return split


def _parts(split: Split) -> list[tuple[str, Interactions]]:
    split = _as_split(split)
    return [(n, p) for n, p in zip(("train", "valid", "test"), (split.train, split.valid, split.test))
            if p is not None]


def _check_one_universe(parts: list[tuple[str, Interactions]]) -> None:
    """Raise unless every part shares the first part's user and item universe (else indices do not line up)."""
    (n0, p0), rest = parts[0], parts[1:]
    for name, p in rest:
        for kind in ("users", "items"):
            a, b = getattr(p0, kind), getattr(p, kind)
            if a is not b and not np.array_equal(a.ids, b.ids):
                raise CourseKitError(
                    f"split: {n0} and {name} have different {kind} universes ({len(a)} vs {len(b)} {kind}), so "
                    "their indices do not line up. Cut every part from one Interactions with a coursekit.splits "
                    "function (or Interactions.subset)."
                )


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
    >>> log = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": [1, 2, 1, 3], "timestamp": [1, 2, 3, 4]})
    >>> split_summary(leave_last_out(Interactions.from_frame(log)))[["events", "users", "cold_items"]]
           events  users  cold_items
    train       2      2           0
    test        2      2           2
    """
    split = _as_split(split)
    parts = _parts(split)
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
    parts = _parts(split)
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
    >>> log = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [1, 2, 1], "timestamp": [3, 1, 2]})
    >>> inter = Interactions.from_frame(log)
    >>> check_no_leakage(leave_last_out(inter), temporal="user")       # fine: no error
    >>> check_no_leakage(random_split(inter, 0.34, seed=3), temporal="global")
    Traceback (most recent call last):
    ...
    coursekit.splits.LeakageError: temporal leakage: the train part has events at time 3, later than the first test event (time 2).
    """
    if temporal is not None:
        check_choice(temporal, "temporal", ["global", "user"])
    if cold is not None:
        check_choice(cold, "cold", ["item", "user"])
    split = _as_split(split)
    parts = _parts(split)
    _check_one_universe(parts)
    _check_no_shared_event(parts)
    train = split.train
    later = [(n, p) for n, p in (("valid", split.valid), ("test", split.test)) if p is not None]
    if temporal == "global":
        chain = [("train", train)] + later
        for (n1, p1), (n2, p2) in zip(chain, chain[1:]):
            if len(p1) and len(p2):
                t1, t2 = _timestamps(p1, "check_no_leakage").max(), _timestamps(p2, "check_no_leakage").min()
                if t1 > t2:
                    raise LeakageError(f"temporal leakage: the {n1} part has events at time {t1}, later than "
                                       f"the first {n2} event (time {t2}).")
    elif temporal == "user":
        chain = [("train", train)] + later
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
    t = np.concatenate([_timestamps(early, "check_no_leakage"), _timestamps(late, "check_no_leakage")])
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
