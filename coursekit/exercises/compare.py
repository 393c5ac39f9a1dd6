r"""Comparators and formatters of exercise answers: numbers, arrays and tuples of arrays.

An :class:`~coursekit.exercises.checks.Exercise` takes ``compare(expected, got)`` (``None`` when
``got`` is right, else a short explanation), ``same(a, b)`` (whether two answers are equal, to
recognise a known mistake) and ``show(value)`` (the value in the feedback). Every exercise module
builds these from the functions here, so "right up to rounding" means the same everywhere:
``numpy.isclose`` with the exercise's ``rtol`` and ``atol``.

>>> import numpy as np
>>> compare_array(np.eye(2), [[1, 0], [0, 1]]) is None
True
>>> compare_array(np.eye(2), np.zeros((2, 2)))
'2 of 4 entries are wrong; first at index (0, 0): expected 1, got 0.'
>>> compare_arrays((np.ones(2), 3.0), (np.ones(2), 4.0), ("x", "n"))
'n: 1 of 1 entries are wrong; first at index (): expected 3, got 4.'
"""
from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = ["compare_number", "compare_array", "compare_arrays", "same_array", "same_arrays", "show_array",
           "show_arrays"]


def compare_number(expected: float, got: Any, rtol: float = 1e-6, atol: float = 1e-9) -> str | None:
    """``None`` when ``got`` is a real number equal to ``expected`` up to rounding."""
    if isinstance(got, (bool, np.bool_)) or got is None:
        return f"expected a number, got {type(got).__name__}."
    if isinstance(got, (str, bytes)) or (isinstance(got, np.ndarray) and got.dtype.kind in "USOa"):
        return f"expected a number, got text {textwrap.shorten(repr(got), 60)}: return the number itself."
    try:
        value = float(np.asarray(got).item()) if np.ndim(got) == 0 or np.size(got) == 1 else None
    except (TypeError, ValueError):
        value = None
    if value is None:
        return f"expected one number, got {type(got).__name__} {textwrap.shorten(repr(got), 80)}."
    if math.isnan(value) and math.isnan(expected):
        return None
    if not math.isclose(value, expected, rel_tol=rtol, abs_tol=atol):
        return "wrong value."
    return None


def _dense(value: Any) -> np.ndarray:
    return value.toarray() if sp.issparse(value) else np.asarray(value, dtype=np.float64)


def compare_array(expected: Any, got: Any, *, rtol: float = 1e-6, atol: float = 1e-8, what: str = "the array",
                  nan_problem: str | None = None) -> str | None:
    """``None`` when ``got`` (dense or sparse) has ``expected``'s shape and equals it up to rounding.

    Parameters
    ----------
    expected, got : array-like
    rtol, atol : float
        Tolerances of :func:`numpy.isclose`.
    what : str
        What the function should return, named when it returned ``None``.
    nan_problem : str, optional
        Why a NaN in ``got`` is wrong in this exercise (a NaN always is).
    """
    if got is None:
        return f"your function returned None; return {what}."
    if isinstance(got, (str, bytes)) or (isinstance(got, np.ndarray) and got.dtype.kind in "USa"):
        return f"expected a numeric array, got text {textwrap.shorten(repr(got), 60)}."
    try:
        arr = _dense(got).astype(np.float64)
    except (TypeError, ValueError):
        return f"expected a numeric array, got {type(got).__name__}."
    expected = np.asarray(expected, dtype=np.float64)
    if arr.shape != expected.shape:
        return f"expected shape {expected.shape}, got shape {arr.shape}."
    if np.isnan(arr).any():
        return "your answer holds NaN" + (f": {nan_problem}" if nan_problem else "; every entry must be a number.")
    bad = ~np.isclose(arr, expected, rtol=rtol, atol=atol)
    if bad.any():
        where = tuple(int(x) for x in np.argwhere(bad)[0])
        return (f"{int(bad.sum())} of {bad.size} entries are wrong; first at index {where}: "
                f"expected {expected[where]:.6g}, got {arr[where]:.6g}.")
    return None


def compare_arrays(expected: Sequence[Any], got: Any, names: Sequence[str], *, rtol: float = 1e-6,
                   atol: float = 1e-8) -> str | None:
    """``None`` when ``got`` is a tuple (or list) matching ``expected`` entry by entry (:func:`compare_array`)."""
    wanted = f"({', '.join(names)})"
    if got is None:
        return f"your function returned None; return the tuple {wanted}."
    if not isinstance(got, (tuple, list)) or len(got) != len(expected):
        size = f" of length {len(got)}" if isinstance(got, (tuple, list)) else ""
        return f"return a tuple of {len(expected)} values {wanted}, got {type(got).__name__}{size}."
    for name, e, g in zip(names, expected, got):
        problem = compare_array(e, g, rtol=rtol, atol=atol, what=name)
        if problem:
            return f"{name}: {problem}"
    return None


def same_array(a: Any, b: Any, rtol: float = 1e-6, atol: float = 1e-8) -> bool:
    """Whether ``a`` and ``b`` (dense or sparse) have one shape and equal entries up to rounding (NaN equals NaN)."""
    try:
        a, b = _dense(a), _dense(b)
        return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True))
    except Exception:  # noqa: BLE001 - any answer that cannot be compared is simply not the same
        return False


def same_arrays(a: Any, b: Any) -> bool:
    """Whether two tuples (or lists) of arrays have the same length and :func:`same_array` entries."""
    return (isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)) and len(a) == len(b)
            and all(same_array(x, y) for x, y in zip(a, b)))


def show_array(value: Any) -> str:
    """An array (dense or sparse) with its shape and 4 decimals; anything else by ``repr``."""
    if sp.issparse(value):
        value = value.toarray()
    if isinstance(value, np.ndarray):
        with np.printoptions(precision=4, suppress=True, threshold=60, edgeitems=3):
            return f"array of shape {value.shape}:\n{value}"
    return repr(value)


def show_arrays(value: Any, names: Sequence[str] | None = None) -> str:
    """A tuple of arrays: one ``name = array`` per line with ``names``, else ``(array, array, ...)``.

    >>> print(show_arrays((1.0, 2), names=("a", "n")))
    a = 1.0
    n = 2
    """
    numeric = (isinstance(value, (tuple, list))
               and all(isinstance(v, (np.ndarray, int, float, np.number)) or sp.issparse(v) for v in value))
    if numeric and names is not None and len(names) == len(value):
        return "\n".join(f"{n} = {show_array(v)}" for n, v in zip(names, value))
    if numeric and names is None:
        return "(" + ", ".join(show_array(np.asarray(v)) for v in value) + ")"
    return show_array(value)
