"""Small input checks that fail with a message naming the problem and the fix.

Every public function of coursekit validates its arguments with these helpers, so
that a student sees ``k must be a positive integer, got 0`` instead of a traceback
from deep inside numpy or scipy.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd


class CourseKitError(ValueError):
    """Base class of the errors coursekit raises on bad input."""


class UnknownIdError(CourseKitError, KeyError):
    """An id that is not in the id universe of a dataset or a fitted model."""

    def __str__(self) -> str:  # KeyError would wrap the message in quotes
        return str(self.args[0]) if self.args else ""


class NotFittedError(CourseKitError, AttributeError):
    """A model method that needs ``fit`` was called before ``fit``."""


def check_positive_int(value: Any, name: str) -> int:
    """Return ``value`` as an ``int`` if it is a positive integer, else raise.

    >>> check_positive_int(10, "k")
    10
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise CourseKitError(f"{name} must be a positive integer, got {value!r} ({type(value).__name__}).")
    if value <= 0:
        raise CourseKitError(f"{name} must be a positive integer (>= 1), got {value}.")
    return int(value)


def check_fraction(value: Any, name: str, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a float in (0, 1) (or [0, 1) with ``allow_zero``), else raise."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise CourseKitError(f"{name} must be a number between 0 and 1, got {value!r}.") from None
    low_ok = v >= 0 if allow_zero else v > 0
    if not (low_ok and v < 1):
        bound = "[0, 1)" if allow_zero else "(0, 1)"
        raise CourseKitError(f"{name} must lie in {bound}, got {value!r}.")
    return v


def check_columns(frame: pd.DataFrame, required: Iterable[str], what: str) -> None:
    """Raise if ``frame`` lacks any of the ``required`` columns, listing what it has."""
    if not isinstance(frame, pd.DataFrame):
        raise CourseKitError(f"{what} must be a pandas DataFrame, got {type(frame).__name__}.")
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise CourseKitError(
            f"{what} is missing column(s) {missing}; it has {list(frame.columns)}. "
            f"Rename your columns, e.g. frame.rename(columns={{'userId': 'user_id', 'movieId': 'item_id'}})."
        )


def check_choice(value: Any, name: str, choices: Iterable[str]) -> str:
    """Raise unless ``value`` is one of ``choices``."""
    choices = list(choices)
    if value not in choices:
        raise CourseKitError(f"{name} must be one of {choices}, got {value!r}.")
    return value
