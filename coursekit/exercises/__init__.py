"""Exercise checks for the course notebooks.

In a notebook::

    from coursekit.exercises import check
    check("ex01_precision_at_k", precision_at_k)

prints ``✓`` / ``✗`` feedback (with a hint) or ``not attempted yet``, and returns a
:class:`CheckResult`. Instructors: see ``exercises/README.md``; the student notebooks are
generated from the solution notebooks by :mod:`coursekit.exercises.generate`.
"""
from __future__ import annotations

from coursekit.exercises.checks import (
    Case,
    CheckResult,
    Exercise,
    Mistake,
    check,
    exercise_names,
    get_exercise,
    register,
    summary,
)

__all__ = ["check", "summary", "exercise_names", "get_exercise", "register", "Case", "Exercise", "Mistake",
           "CheckResult"]

# The checks of each exercise module (coursekit/exercises/exNN.py) register themselves when checks._discover()
# imports every exNN module.
