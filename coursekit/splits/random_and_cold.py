r"""Splits that ignore time: events at random, or whole items / users held out (cold start).

Each draws with ``numpy.random.default_rng(seed)``, so the same seed gives the same split.

>>> import pandas as pd
>>> from coursekit.interactions import Interactions
>>> log = pd.DataFrame({"user_id": [1] * 10, "item_id": range(10)})
>>> s = random_split(Interactions.from_frame(log), test_frac=0.3, seed=1)
>>> len(s.train), len(s.test), s.valid is None
(7, 3, True)
"""
from __future__ import annotations

import numpy as np

from coursekit._validation import CourseKitError
from coursekit.interactions import Interactions
from coursekit.splits.parts import (
    TEST,
    VALID,
    Split,
    build_split,
    check_fractions,
    check_interactions,
    choose,
    round_half_up,
)

__all__ = ["random_split", "cold_item_split", "cold_user_split"]


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
    >>> s = random_split(Interactions.from_frame(log), test_frac=0.3, seed=1, valid_frac=0.2)
    >>> len(s.train), len(s.test), len(s.valid)
    (5, 3, 2)
    """
    check_interactions(inter)
    test_frac, valid_frac = check_fractions(test_frac, valid_frac)
    n = len(inter)
    n_test, n_valid = int(round_half_up(test_frac * n)), int(round_half_up(valid_frac * n))
    if n_test == 0:
        raise CourseKitError(f"test_frac={test_frac} of {n} events is 0 events; use a larger test_frac.")
    label = np.zeros(n, dtype=np.int8)
    test_rows, valid_rows = choose(np.arange(n), n_test, n_valid, seed)
    label[test_rows], label[valid_rows] = TEST, VALID
    return build_split(inter, label, valid_frac > 0)


def _cold_split(inter: Interactions, index: np.ndarray, n_total: int, kind: str,
                test_frac: float, seed: int, valid_frac: float) -> Split:
    check_interactions(inter)
    test_frac, valid_frac = check_fractions(test_frac, valid_frac)
    active = np.flatnonzero(np.bincount(index, minlength=n_total))
    n_test = int(round_half_up(test_frac * active.size))
    n_valid = int(round_half_up(valid_frac * active.size))
    if n_test == 0:
        raise CourseKitError(f"test_frac={test_frac} of {active.size} active {kind}s is 0 {kind}s; "
                             "use a larger test_frac.")
    if n_test + n_valid >= active.size:
        raise CourseKitError(f"holding out {n_test + n_valid} of {active.size} active {kind}s leaves none "
                             "to train on; lower test_frac/valid_frac.")
    test_ids, valid_ids = choose(active, n_test, n_valid, seed)
    group = np.zeros(n_total, dtype=np.int8)
    group[test_ids], group[valid_ids] = TEST, VALID
    return build_split(inter, group[index], valid_frac > 0)


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
