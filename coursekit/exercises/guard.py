r"""Guards around a student's function: a time limit per call, and answers of the wrong type.

Used by :func:`coursekit.exercises.checks.check` (see its module doc for the choices): on the main
thread of a Unix process a ``SIGALRM`` timer stops the student's code itself; elsewhere a daemon
thread is abandoned at the deadline.
"""
from __future__ import annotations

import signal
import textwrap
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["CaseTimeout", "call_with_time_limit", "type_problem"]


# ---------------------------------------------------------------------------- time limit
class CaseTimeout(BaseException):
    """Raised inside the student's function when a case runs past its time limit.

    A ``BaseException``, so that ``except Exception`` in the student's code does not swallow it.
    """


def _alarm_available() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def call_with_time_limit(fn: Callable, args: tuple, seconds: float | None) -> Any:
    """``fn(*args)``, raising :class:`CaseTimeout` after ``seconds`` (``None`` or <= 0: no limit).

    On the main thread of a Unix process a ``SIGALRM`` timer interrupts ``fn`` itself (and fires again
    every 0.5 s in case ``fn`` swallows the first one); elsewhere ``fn`` runs in a daemon thread that is
    abandoned at the deadline. Any exception ``fn`` raises (``SystemExit`` included) propagates.

    >>> call_with_time_limit(lambda x: x + 1, (1,), 1.0)
    2
    """
    if seconds is None or seconds <= 0:
        return fn(*args)
    if _alarm_available():
        def on_alarm(signum, frame):  # noqa: ARG001
            raise CaseTimeout(f"ran for more than {seconds:g} s")

        previous_handler = signal.signal(signal.SIGALRM, on_alarm)
        previous_timer = signal.setitimer(signal.ITIMER_REAL, seconds, 0.5)
        try:
            return fn(*args)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous_handler)
            if previous_timer[0] > 0:       # someone else's timer was running: give it back
                signal.setitimer(signal.ITIMER_REAL, *previous_timer)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn(*args)
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            box["error"] = e

    worker = threading.Thread(target=target, daemon=True, name="coursekit-check-case")
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise CaseTimeout(f"ran for more than {seconds:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


# ---------------------------------------------------------------------------- type checks
def _is_numeric(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, float, np.number)):
        return True
    return isinstance(value, np.ndarray) and value.dtype.kind in "iufc"


def _holds_text(value: Any, limit: int = 10_000) -> bool:
    if isinstance(value, (str, bytes)):
        return True
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "USa":
            return True
        return value.dtype.kind == "O" and any(isinstance(v, (str, bytes)) for v in value.ravel()[:limit])
    if isinstance(value, (list, tuple)):
        return any(_holds_text(v, limit) for v in value[:limit])
    return False


def type_problem(expected: Any, got: Any) -> str | None:
    """Why ``got`` has the wrong *type* for ``expected`` (text where numbers are due), else ``None``.

    Checked by :func:`check` before the exercise's own ``compare``, so ``"0.5"`` never passes for ``0.5``.

    >>> type_problem(0.5, "0.5")
    "your function returned text ('0.5'), not a number: return the value itself (0.5, not '0.5')."
    >>> type_problem(0.5, 0.5) is None
    True
    """
    if isinstance(expected, (str, bytes)):
        return None
    if isinstance(got, (str, bytes)):
        what = "a number" if _is_numeric(expected) and np.ndim(expected) == 0 else type(expected).__name__
        return (f"your function returned text ({textwrap.shorten(repr(got), 60)}), not {what}: "
                f"return the value itself (0.5, not '0.5').")
    if isinstance(expected, (tuple, list)) and isinstance(got, (tuple, list)) and len(expected) == len(got):
        for i, (e, g) in enumerate(zip(expected, got)):
            problem = type_problem(e, g)
            if problem:
                return f"item {i} of your answer: {problem}"
        return None
    if _is_numeric(expected) and _holds_text(got):
        return "your answer holds text (strings) where numbers are expected: return numbers, not '0.5'."
    return None
