"""One check that several interaction logs share a user and item universe.

Indices line up only between logs cut from the same :class:`~coursekit.interactions.Interactions`
(a split keeps its parent's universe). Evaluation, splits, calibration and every other place
that combines logs call :func:`check_same_universe` before using indices of one log in another.

>>> import pandas as pd
>>> from coursekit.interactions import Interactions
>>> a = Interactions.from_frame(pd.DataFrame({"user_id": [1, 2], "item_id": [5, 6]}))
>>> check_same_universe(a, a.subset([True, False]))
>>> b = Interactions.from_frame(pd.DataFrame({"user_id": [1], "item_id": [5]}))
>>> check_same_universe(a, b, names=("train", "test"))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
coursekit._validation.CourseKitError: train and test have different users universes (2 vs 1 users), ...
"""
from __future__ import annotations

import numpy as np

from coursekit._validation import CourseKitError
from coursekit.interactions.log import Interactions


def check_same_universe(*logs: Interactions, names: tuple[str, ...] | None = None) -> None:
    """Raise unless every log is Interactions over the first log's users and items.

    Parameters
    ----------
    *logs : Interactions
        Two or more logs (``None`` entries, e.g. a split without validation part, are skipped).
    names : tuple of str, optional
        Names used in the error message (default ``"train", "test"`` for two logs, else
        ``"log 0", "log 1", ...``).
    """
    if names is None:
        names = ("train", "test") if len(logs) == 2 else tuple(f"log {i}" for i in range(len(logs)))
    if len(names) != len(logs):
        raise CourseKitError(f"check_same_universe: got {len(logs)} logs but {len(names)} names.")
    pairs = [(n, log) for n, log in zip(names, logs) if log is not None]
    for name, log in pairs:
        if not isinstance(log, Interactions):
            raise CourseKitError(f"{name} must be coursekit Interactions, got {type(log).__name__}.")
    (n0, first), rest = pairs[0], pairs[1:]
    for name, log in rest:
        for kind in ("users", "items"):
            a, b = getattr(first, kind), getattr(log, kind)
            if a is not b and not np.array_equal(a.ids, b.ids):
                raise CourseKitError(
                    f"{n0} and {name} have different {kind} universes ({len(a)} vs {len(b)} {kind}), so their "
                    "indices do not line up. Cut both from one Interactions with coursekit.splits (e.g. "
                    "user_temporal_split(inter)), or build them with the same users=/items= IdMaps."
                )
