r"""The parts of a split, and the building blocks every split function shares.

A split labels each event of its parent log ``TRAIN`` (0), ``TEST`` (1) or ``VALID`` (2) and
cuts the parent with :meth:`~coursekit.interactions.Interactions.subset`, so all parts keep the
parent's user and item universe.

>>> import numpy as np, pandas as pd
>>> from coursekit.interactions import Interactions
>>> inter = Interactions.from_frame(pd.DataFrame({"user_id": [1, 1, 2], "item_id": [5, 6, 5]}))
>>> s = build_split(inter, np.array([TRAIN, TEST, TRAIN]), with_valid=False)
>>> len(s.train), len(s.test), s.valid is None
(2, 1, True)
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from coursekit._validation import CourseKitError, check_fraction, check_seed
from coursekit.interactions import TIMESTAMP, Interactions

__all__ = ["Split", "LeakageError"]

TRAIN, TEST, VALID = 0, 1, 2


class Split(NamedTuple):
    """The parts of a split; ``valid`` is ``None`` unless a validation part was asked for."""

    train: Interactions
    test: Interactions
    valid: Interactions | None = None


class LeakageError(CourseKitError, AssertionError):
    """A split breaks one of its guarantees (test information reachable from train)."""


def check_interactions(inter: object) -> None:
    """Raise unless ``inter`` is a non-empty :class:`~coursekit.interactions.Interactions`."""
    if not isinstance(inter, Interactions):
        raise CourseKitError(
            f"a split expects coursekit Interactions, got {type(inter).__name__}. "
            "Build one with Interactions.from_frame(frame) or dataset.to_interactions()."
        )
    if len(inter) == 0:
        raise CourseKitError("cannot split an empty interaction log.")


def check_fractions(test_frac: object, valid_frac: object) -> tuple[float, float]:
    """``(test_frac, valid_frac)`` as floats, test in (0, 1), validation in [0, 1), their sum below 1."""
    t = check_fraction(test_frac, "test_frac")
    v = check_fraction(valid_frac, "valid_frac", allow_zero=True)
    if t + v >= 1:
        raise CourseKitError(
            f"test_frac + valid_frac must be < 1 so that something is left to train on, "
            f"got {t} + {v} = {t + v}."
        )
    return t, v


def event_timestamps(inter: Interactions, what: str) -> np.ndarray:
    """The timestamps of ``inter``, refusing a missing column, a non-numeric dtype or missing values."""
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


def round_half_up(x: np.ndarray | float) -> np.ndarray:
    r""":math:`\lfloor x + \tfrac12 \rfloor` as int64 (numpy's ``round`` rounds half to even).

    >>> round_half_up(np.array([0.5, 1.5, 2.4])).tolist()
    [1, 2, 2]
    """
    return np.floor(np.asarray(x, dtype=np.float64) + 0.5).astype(np.int64)


def choose(ids: np.ndarray, n_test: int, n_valid: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n_test`` and then ``n_valid`` distinct entries of ``ids``, drawn with ``default_rng(seed)``."""
    perm = np.random.default_rng(check_seed(seed)).permutation(ids)
    return perm[:n_test], perm[n_test:n_test + n_valid]


def build_split(inter: Interactions, label: np.ndarray, with_valid: bool) -> Split:
    """Cut ``inter`` by per-event labels (``TRAIN``, ``TEST``, ``VALID``)."""
    valid = inter.subset(label == VALID) if with_valid else None
    return Split(inter.subset(label == TRAIN), inter.subset(label == TEST), valid)


def as_split(split: object) -> Split:
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


def named_parts(split: object) -> list[tuple[str, Interactions]]:
    """``[("train", ...), ("valid", ...), ("test", ...)]`` in time order, without a missing validation part."""
    split = as_split(split)
    return [(n, p) for n, p in zip(("train", "valid", "test"), (split.train, split.valid, split.test))
            if p is not None]
