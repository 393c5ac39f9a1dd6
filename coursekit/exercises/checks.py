r"""The ``check(name, student_fn)`` mechanism behind every exercise notebook.

An *exercise* is a name (``"ex01_precision_at_k"``), a title and a list of test
*cases*. Each case holds the arguments to call the student's function with, the
expected answer, and a hint. :func:`check` calls the student's function on every
case and prints friendly feedback:

* ``✓ passed`` when every case gives the expected answer;
* ``✗ failed`` with the first failing case: its inputs, what was expected, what came
  back, and a hint (specific when the answer matches a *known mistake*, such as average
  precision divided by ``k``);
* ``… not attempted yet`` while the function still raises ``NotImplementedError``
  (the untouched stub of the student notebook).

It never raises because of the student's code: an exception of any kind inside the
student's function (``SystemExit`` and ``KeyboardInterrupt`` included) is reported (type
and message) as a failure, and so is an answer of the wrong type (the text ``"0.5"`` is not
the number ``0.5``). Each case has a **time limit** (:attr:`Exercise.time_limit`, 10 s by
default): a function that runs longer (an infinite loop) is stopped and reported as a
failure with ``timed_out=True`` instead of hanging the cell. It needs nothing but coursekit
(no pytest), so it works on Colab.

How the time limit works: on the main thread of a Unix process (a Jupyter kernel, the
grader) a ``SIGALRM`` timer (:func:`signal.setitimer`) raises :class:`CaseTimeout` inside
the student's code, so the loop really stops. Elsewhere (Windows, or ``check`` called from
another thread) the case runs in a daemon thread that is abandoned at the deadline: the
check still reports the timeout, but the loop keeps a CPU busy until the process ends.
Code stuck inside one long C call (a huge numpy operation) is stopped when that call
returns. ``CaseTimeout`` derives from ``BaseException`` so that ``except Exception`` in the
student's code does not swallow it; the timer fires again every half second in case a bare
``except:`` does.

Exercises live in modules ``coursekit/exercises/exNN.py``, which call :func:`register`;
they are discovered on first use.

Example
-------
>>> result = check("ex01_precision_at_k", lambda recommended, relevant, k: 1.0, verbose=False)
>>> result.status
'failed'
>>> bool(result)
False
"""
from __future__ import annotations

import importlib
import os
import pkgutil
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from coursekit._validation import CourseKitError, check_bool
from coursekit.exercises.guard import CaseTimeout, call_with_time_limit, type_problem

Status = Literal["passed", "failed", "not attempted"]
PASSED, FAILED, NOT_ATTEMPTED = "passed", "failed", "not attempted"


@dataclass
class Case:
    """One test case: call ``fn(*args)`` and compare with ``expected``.

    ``expected`` may be a zero-argument callable (computed on first use, e.g. with the
    reference implementation of :mod:`coursekit.metrics`).
    """

    name: str
    args: tuple
    expected: Any
    hint: str = ""

    def expected_value(self) -> Any:
        if callable(self.expected):
            self.expected = self.expected()
        return self.expected


@dataclass
class Mistake:
    """A known wrong solution: when the student's answer equals ``wrong(*case.args)``, show ``hint``."""

    wrong: Callable[..., Any]
    hint: str


@dataclass
class Exercise:
    """A registered exercise.

    Parameters
    ----------
    name, title : str
    cases : callable returning list of Case
        Built lazily, so registering is cheap.
    compare : callable (expected, got) -> str or None
        ``None`` when ``got`` is right, else a short explanation of what is wrong (build it from
        :mod:`coursekit.exercises.compare`).
    hint : str
        General hint shown when a case fails and no known mistake matches.
    mistakes : list of Mistake
    show : callable, optional
        Formats a value for the feedback (default: numbers to 6 digits, else ``repr``, shortened).
    same : callable (a, b) -> bool, optional
        Whether two answers are equal, used to recognise known mistakes (default:
        ``compare(a, b) is None``). Needed when ``compare`` also checks properties of ``b`` alone.
    points : float
        What the exercise is worth in the gradebook of ``coursekit grade`` (default 1; all or nothing).
    time_limit : float
        Seconds the student's function may take on one case (default 10) before it is stopped and
        the check fails with ``timed_out=True``.
    """

    name: str
    title: str
    cases: Callable[[], list[Case]]
    compare: Callable[[Any, Any], str | None]
    hint: str = ""
    mistakes: list[Mistake] = field(default_factory=list)
    show: Callable[[Any], str] | None = None
    same: Callable[[Any, Any], bool] | None = None
    points: float = 1.0
    time_limit: float = 10.0

    def is_same(self, a: Any, b: Any) -> bool:
        return bool(self.same(a, b)) if self.same else self.compare(a, b) is None

    def format(self, value: Any) -> str:
        text = self.show(value) if self.show else _show_value(value)
        return textwrap.shorten(text, 300, placeholder=" ...") if "\n" not in text else text


def _show_value(value: Any) -> str:
    """Numbers with 6 significant digits (no ``np.float64(...)`` wrapper), anything else by ``repr``."""
    if isinstance(value, (float, np.floating)) and not isinstance(value, bool):
        return f"{float(value):.6g}"
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return str(int(value))
    return repr(value)


@dataclass
class CheckResult:
    """What :func:`check` found; ``bool(result)`` is true when it passed.

    Attributes
    ----------
    exercise : str
    status : "passed", "failed" or "not attempted"
    n_passed, n_cases : int
    message : str
        The feedback text that was printed.
    details : list of dict
        One entry per failing case: ``case``, ``expected``, ``got``, ``problem``, ``hint``.
    timed_out : bool
        Whether the student's function ran past the time limit on a case (the check then stops).
    """

    exercise: str
    status: Status
    n_passed: int
    n_cases: int
    message: str
    details: list[dict[str, Any]] = field(default_factory=list)
    timed_out: bool = False

    def __bool__(self) -> bool:
        return self.status == PASSED

    def __repr__(self) -> str:
        return f"CheckResult({self.exercise!r}, status={self.status!r}, passed {self.n_passed}/{self.n_cases})"


# ---------------------------------------------------------------------------- registry
_REGISTRY: dict[str, Exercise] = {}
_HISTORY: dict[str, str] = {}
_BROKEN: dict[str, str] = {}
_DISCOVERED = False


def register(exercise: Exercise) -> Exercise:
    """Add ``exercise`` to the registry (a name may be registered only once)."""
    if exercise.name in _REGISTRY and _REGISTRY[exercise.name] is not exercise:
        raise CourseKitError(f"exercise {exercise.name!r} is registered twice; names must be unique.")
    _REGISTRY[exercise.name] = exercise
    return exercise


def _discover() -> None:
    """Import every ``coursekit.exercises.exNN`` module once, so they register their exercises.

    A module that fails to import is remembered (and named when one of its exercises is asked
    for) instead of breaking the checks of every other lesson.
    """
    global _DISCOVERED
    if _DISCOVERED:
        return
    import coursekit.exercises as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name.startswith("ex") and mod.name[2:4].isdigit():
            try:
                importlib.import_module(f"coursekit.exercises.{mod.name}")
            except Exception as e:  # noqa: BLE001
                _BROKEN[mod.name] = f"{type(e).__name__}: {e}"
    _DISCOVERED = True


def exercise_names() -> list[str]:
    """Sorted names of every registered exercise."""
    _discover()
    return sorted(_REGISTRY)


def get_exercise(name: str) -> Exercise:
    """The registered exercise ``name``; unknown names raise an error listing the known ones."""
    _discover()
    if not isinstance(name, str):
        raise CourseKitError(f"name must be the exercise's name as a string, e.g. check('ex01_precision_at_k', "
                             f"my_function), got {name!r} ({type(name).__name__}).")
    if name not in _REGISTRY:
        import difflib

        broken = "".join(f" Module coursekit.exercises.{m} failed to load ({err}); reinstall or update coursekit."
                         for m, err in _BROKEN.items() if name.startswith(m[:4]))
        close = difflib.get_close_matches(name, list(_REGISTRY), n=1)
        guess = f" Did you mean {close[0]!r}?" if close else ""
        raise CourseKitError(f"unknown exercise name {name!r}.{guess} Known exercises: "
                             f"{', '.join(sorted(_REGISTRY))}.{broken}")
    return _REGISTRY[name]


def summary() -> dict[str, str]:
    """The latest status of every exercise checked in this session (for ``record``)."""
    return dict(_HISTORY)


# ---------------------------------------------------------------------------- feedback
def _fmt_args(args: tuple, names: list[str] | None) -> str:
    parts = []
    for i, a in enumerate(args):
        text = textwrap.shorten(repr(a), 160, placeholder=" ...") if not hasattr(a, "shape") \
            else f"<{type(a).__name__} of shape {a.shape}>"
        parts.append(f"{names[i]}={text}" if names and i < len(names) else text)
    return ", ".join(parts)


def _copy_args(args: tuple) -> tuple:
    """Fresh copies, so a student function that mutates its input cannot spoil later cases."""
    import copy

    return tuple(a.copy() if hasattr(a, "copy") and not isinstance(a, (str, bytes)) else copy.deepcopy(a)
                 for a in args)


def _arg_names(fn: Callable) -> list[str] | None:
    import inspect

    try:
        return [p for p in inspect.signature(fn).parameters]
    except (TypeError, ValueError):
        return None


def _diagnose(ex: Exercise, case: Case, got: Any) -> str:
    for m in ex.mistakes:
        try:
            wrong = m.wrong(*_copy_args(case.args))
            if ex.is_same(wrong, got):
                return m.hint
        except Exception:  # noqa: BLE001 - a detector must never break the feedback
            continue
        except BaseException:  # noqa: BLE001 - nor can the student's answer, compared here
            continue
    return case.hint or ex.hint


# ---------------------------------------------------------------------------- check
def check(name: str, student_fn: Callable, verbose: bool = True, *, time_limit: float | None = None,
          expected_first: bool = False) -> CheckResult:
    """Run the cases of exercise ``name`` against ``student_fn`` and print feedback.

    Parameters
    ----------
    name : str
        A registered exercise, e.g. ``"ex01_precision_at_k"`` (unknown names raise an error
        that lists the known ones).
    student_fn : callable
        The student's function.
    verbose : bool
        Print the feedback (default). The result object carries it in any case.
    time_limit : float, optional
        Seconds per case (default: the exercise's ``time_limit``, 10 s); 0 means no limit.
    expected_first : bool
        Compute every expected answer before the student's function is first called (the grader
        does, so that nothing the student's code does can change an expected answer).

    Returns
    -------
    CheckResult
        ``status`` is ``"passed"``, ``"failed"`` or ``"not attempted"``; ``timed_out`` is true when
        a case ran past the time limit.
    """
    ex = get_exercise(name)
    verbose = check_bool(verbose, "verbose")
    limit = ex.time_limit if time_limit is None else float(time_limit)
    if not callable(student_fn):
        msg = (f"✗ {name}: check needs your function itself, got {type(student_fn).__name__} "
               f"{textwrap.shorten(repr(student_fn), 60)}. Pass the function without calling it, "
               f"e.g. check({name!r}, my_function).")
        return _finish(CheckResult(name, FAILED, 0, 0, msg), verbose)
    try:
        cases = ex.cases()
        if expected_first:
            for case in cases:
                case.expected_value()
    except Exception as e:  # noqa: BLE001 - a broken installation, not the student's fault
        msg = f"! {name}: could not build the test cases ({type(e).__name__}: {e}). Reinstall coursekit."
        return _finish(CheckResult(name, FAILED, 0, 0, msg), verbose)
    names = _arg_names(student_fn)
    n_passed, details, timed_out = 0, [], False
    for case in cases:
        try:
            got = call_with_time_limit(student_fn, _copy_args(case.args), limit)
        except NotImplementedError:
            msg = (f"… {name}: not attempted yet. Replace the `raise NotImplementedError()` line with "
                   "your code, run that cell, then run this check again.")
            return _finish(CheckResult(name, NOT_ATTEMPTED, 0, len(cases), msg), verbose)
        except CaseTimeout:
            timed_out = True
            details.append({"case": case.name, "args": case.args, "expected": None, "got": None,
                            "problem": f"your function ran for more than {limit:g} s and was stopped (an "
                                       "infinite loop? a loop whose condition never changes?). The remaining "
                                       "cases were not run.",
                            "hint": case.hint or ex.hint, "timeout": True})
            break
        except KeyboardInterrupt:
            details.append({"case": case.name, "args": case.args, "expected": None, "got": None,
                            "problem": "your function was interrupted (KeyboardInterrupt); the remaining "
                                       "cases were not run.", "hint": case.hint or ex.hint})
            break
        except BaseException as e:  # noqa: BLE001 - SystemExit & co included: report, never crash the notebook
            details.append({"case": case.name, "args": case.args, "expected": None, "got": None,
                            "problem": f"your function raised {type(e).__name__}: {e}",
                            "hint": case.hint or ex.hint})
            continue
        expected = case.expected_value()
        try:
            problem = type_problem(expected, got) or call_with_time_limit(ex.compare, (expected, got), limit)
        except CaseTimeout:
            problem = "comparing your answer took too long (does it hold a huge or self-referencing object?)."
        except BaseException as e:  # noqa: BLE001 - the answer's own methods may raise anything
            problem = f"could not compare your answer ({type(e).__name__}: {e})."
        if problem is None:
            n_passed += 1
            continue
        details.append({"case": case.name, "args": case.args, "expected": expected, "got": got,
                        "problem": problem, "hint": _diagnose(ex, case, got)})
    if not details:
        msg = f"✓ {name}: passed all {len(cases)} cases. Well done!"
        return _finish(CheckResult(name, PASSED, n_passed, len(cases), msg), verbose)
    first = details[0]
    stopped = timed_out or "interrupted" in details[-1]["problem"]
    head = (f"stopped at case {n_passed + len(details)} of {len(cases)} ({n_passed} passed before)" if stopped
            else f"{len(details)} of {len(cases)} cases failed")
    lines = [f"✗ {name}: {head}. First failing case: {first['case']}",
             f"    inputs:   {_fmt_args(first['args'], names)}"]
    if first["got"] is not None or first["expected"] is not None:
        lines += [f"    expected: {_indent(ex.format(first['expected']))}",
                  f"    got:      {_indent(_safe_format(ex, first['got']))}"]
    lines.append(f"    problem:  {first['problem']}")
    if first["hint"]:
        lines.append("    hint:     " + _indent(textwrap.fill(first["hint"], 88)))
    return _finish(CheckResult(name, FAILED, n_passed, len(cases), "\n".join(lines), details, timed_out),
                   verbose)


def _safe_format(ex: Exercise, value: Any) -> str:
    try:
        return ex.format(value)
    except BaseException as e:  # noqa: BLE001 - the student's object may fail to print
        return f"<{type(value).__name__} that could not be shown: {type(e).__name__}>"


def _indent(text: str) -> str:
    return text.replace("\n", "\n              ")


def _finish(result: CheckResult, verbose: bool) -> CheckResult:
    _HISTORY[result.exercise] = result.status
    if verbose:
        print(result.message)
    if os.environ.get("NBGRADER_EXECUTION") and result.status != PASSED:
        # nbgrader's autograder gives a grade cell its points when the cell does not raise
        raise AssertionError(result.message)
    return result
