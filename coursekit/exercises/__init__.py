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
    Case, CheckResult, Exercise, Mistake, check, exercise_names, get_exercise, register, summary,
)

__all__ = ["check", "summary", "exercise_names", "get_exercise", "register", "Case", "Exercise", "Mistake",
           "CheckResult"]

# issue 8 (lesson 07): the checks of coursekit/exercises/ex07.py (ex07_itemknn_contributions, ex07_deletion_curve,
# ex07_expected_calibration_error) register themselves when checks._discover() imports every exNN module.
# issue 7 (lesson 06): the checks of coursekit/exercises/ex06.py (ex06_strict_cold_item_split,
# ex06_ridge_attribute_map, ex06_ucb1_choice) register themselves the same way.
