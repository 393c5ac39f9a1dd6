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

Modules: :mod:`~coursekit.splits.temporal` (the time-based splits and their tie rule),
:mod:`~coursekit.splits.random_and_cold` (random and cold-start splits),
:mod:`~coursekit.splits.checks` (:func:`split_summary`, :func:`check_no_leakage`,
:func:`check_partition`) and :mod:`~coursekit.splits.parts` (:class:`Split`, :class:`LeakageError`).

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
from coursekit.splits.checks import check_no_leakage, check_partition, split_summary
from coursekit.splits.parts import LeakageError, Split
from coursekit.splits.random_and_cold import cold_item_split, cold_user_split, random_split
from coursekit.splits.temporal import global_temporal_split, leave_last_out, user_temporal_split

__all__ = [
    "Split", "LeakageError", "random_split", "global_temporal_split", "user_temporal_split",
    "leave_last_out", "cold_item_split", "cold_user_split", "split_summary", "check_no_leakage",
    "check_partition",
]
