"""Small input checks that fail with a message naming the problem and the fix.

Every public function of coursekit validates its arguments with these helpers, so
that a student sees ``k must be a positive integer, got 0`` instead of a traceback
from deep inside numpy or scipy.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
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


def check_nonneg_int(value: Any, name: str) -> int:
    """Return ``value`` as an ``int`` if it is an integer >= 0, else raise.

    >>> check_nonneg_int(0, "n_valid")
    0
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise CourseKitError(f"{name} must be an integer >= 0, got {value!r} ({type(value).__name__}).")
    if value < 0:
        raise CourseKitError(f"{name} must be an integer >= 0, got {value}.")
    return int(value)


def _real(value: Any, name: str, wanted: str) -> float:
    """``value`` as a finite float (bools, strings, NaN and infinities refused), naming ``wanted`` on error."""
    if isinstance(value, (bool, np.bool_)):
        raise CourseKitError(f"{name} must be {wanted}, got {value!r}.")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise CourseKitError(f"{name} must be {wanted}, got {value!r} ({type(value).__name__}).") from None
    if not np.isfinite(v):
        raise CourseKitError(f"{name} must be {wanted}, got {value!r}.")
    return v


def check_nonneg_number(value: Any, name: str) -> float:
    """Return ``value`` as a float if it is a finite number >= 0, else raise.

    >>> check_nonneg_number(0, "reg")
    0.0
    """
    v = _real(value, name, "a finite number >= 0")
    if v < 0:
        raise CourseKitError(f"{name} must be a finite number >= 0, got {value!r}.")
    return v


def check_positive_number(value: Any, name: str) -> float:
    """Return ``value`` as a float if it is a finite number > 0, else raise.

    >>> check_positive_number(0.5, "lr")
    0.5
    """
    v = _real(value, name, "a finite number > 0")
    if v <= 0:
        raise CourseKitError(f"{name} must be a finite number > 0, got {value!r}.")
    return v


def check_fraction(value: Any, name: str, *, allow_zero: bool = False, allow_one: bool = False) -> float:
    """Return ``value`` as a float in (0, 1), else raise; ``allow_zero`` / ``allow_one`` close the interval.

    >>> check_fraction(0.2, "test_frac"), check_fraction(1, "frac", allow_one=True)
    (0.2, 1.0)
    """
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise CourseKitError(f"{name} must be a number between 0 and 1, got {value!r}.") from None
    low_ok = v >= 0 if allow_zero else v > 0
    high_ok = v <= 1 if allow_one else v < 1
    if not (low_ok and high_ok):
        bound = ("[0, " if allow_zero else "(0, ") + ("1]" if allow_one else "1)")
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


def check_seed(value: Any, name: str = "seed") -> int:
    """Return ``value`` as an ``int`` if it is a non-negative integer seed, else raise.

    Accepts Python and numpy integers >= 0; refuses ``bool`` (``True`` is almost surely a slip),
    negative numbers, floats and strings, which numpy and torch would reject with messages
    that do not name the seed (or, for ``True``, silently accept).

    >>> check_seed(42)
    42
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise CourseKitError(f"{name} must be a non-negative integer such as 0 or 42, got {value!r} "
                             f"({type(value).__name__}).")
    if value < 0:
        raise CourseKitError(f"{name} must be a non-negative integer (>= 0), got {value}; use e.g. {name}=0.")
    return int(value)


def check_batch_size(value: Any, name: str = "batch_size") -> int | None:
    """``None`` (the function picks one) or a positive integer; anything else raises."""
    if value is None:
        return None
    return check_positive_int(value, name)


def check_bool(value: Any, name: str) -> bool:
    """Return ``value`` if it is a bool (Python or numpy), else raise (``"no"`` would be truthy)."""
    if not isinstance(value, (bool, np.bool_)):
        raise CourseKitError(f"{name} must be True or False, got {value!r} ({type(value).__name__}).")
    return bool(value)


def check_path(value: Any, name: str) -> Path:
    """Return ``value`` as a :class:`~pathlib.Path` if it is a ``str`` or ``os.PathLike``, else raise."""
    if isinstance(value, (bytes, bytearray)) or not isinstance(value, (str, os.PathLike)):
        raise CourseKitError(f"{name} must be a folder path (str or pathlib.Path), got {value!r} "
                             f"({type(value).__name__}); e.g. {name}='~/data'.")
    return Path(value).expanduser()


def check_id_array(ids: Any, name: str) -> np.ndarray:
    """``ids`` as a 1-D array (a scalar becomes one id); a 2-D (or deeper) array raises."""
    arr = np.atleast_1d(np.asarray(ids))
    if arr.ndim != 1:
        raise CourseKitError(f"{name} must be 1-D ids, got shape {arr.shape}; pass a flat list or array "
                             f"of ids, e.g. np.ravel({name}) if every entry is one id.")
    return arr


def check_memory(n_bytes: float, what: str, fix: str) -> None:
    """Raise before allocating ``n_bytes`` when that exceeds this machine's physical memory."""
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # not POSIX: no cheap way to know
        return
    if n_bytes > total:
        raise CourseKitError(f"{what} would need {n_bytes / 2**30:,.1f} GiB, more than the "
                             f"{total / 2**30:,.1f} GiB of memory of this machine; {fix}")
