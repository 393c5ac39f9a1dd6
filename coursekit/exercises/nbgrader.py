r"""nbgrader-compatible cell metadata for the exercise notebooks.

Instructors who already use `nbgrader <https://nbgrader.readthedocs.io>`_ can import the solution
notebooks as nbgrader *source* notebooks: every cell carries ``metadata.nbgrader`` (schema version 3)

==========================================  =====  ========  ======  ======  ====================
cell                                        grade  solution   locked  points  grade_id
==========================================  =====  ========  ======  ======  ====================
code with ``### BEGIN SOLUTION``            no     yes        no      --      the cell id
``check("exNN_...", fn)`` cell              yes    no         yes     the     the cell id
                                                                      exercise's points
markdown with ``### BEGIN SOLUTION``        yes    yes        no      0       the cell id
other markdown (instructions)               no     no         yes     --      the cell id
other code (install, imports, data)         no metadata: students may edit them
==========================================  =====  ========  ======  ======  ====================

The points of a check cell are :attr:`~coursekit.exercises.checks.Exercise.points` (one source).
A free-text answer is a manually graded cell worth 0 points: set points in nbgrader if you grade it
(``coursekit grade`` grades only the checks). Under nbgrader's autograder (``NBGRADER_EXECUTION`` is
set) :func:`~coursekit.exercises.checks.check` raises ``AssertionError`` when the exercise does not
pass, so an autograded check cell earns its points only when the check passes; in a student's
notebook it keeps printing feedback without raising.

The metadata is committed in the solution notebooks and copied into the student notebooks by the
generator; ``coursekit exercises generate`` writes it, ``--check`` fails when it is stale.
"""
from __future__ import annotations

import ast
import copy
import re

from coursekit.exercises.generate import BEGIN, SOLUTION_ONLY_TAG, cell_source

SCHEMA_VERSION = 3


def _checked_exercise(source: str) -> str | None:
    """The exercise name when ``source`` calls ``check("exNN_...", fn)``, else ``None``."""
    src = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n"))
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "check"
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
                and re.match(r"ex\d\d_", node.args[0].value)):
            return node.args[0].value
    return None


def _has_solution(source: str) -> bool:
    return any(BEGIN.match(line) for line in source.split("\n"))


def cell_metadata(cell: dict) -> dict | None:
    """The ``nbgrader`` metadata of one solution-notebook cell (``None``: the cell has none)."""
    from coursekit.exercises.checks import get_exercise

    ctype, source, cid = cell.get("cell_type"), cell_source(cell), cell.get("id", "")
    base = {"grade_id": cid, "schema_version": SCHEMA_VERSION, "task": False}
    if ctype == "code" and _has_solution(source):
        return {**base, "grade": False, "locked": False, "solution": True}
    exercise = _checked_exercise(source) if ctype == "code" else None
    if exercise:
        return {**base, "grade": True, "locked": True, "points": float(get_exercise(exercise).points),
                "solution": False}
    if ctype == "markdown" and _has_solution(source):
        return {**base, "grade": True, "locked": False, "points": 0.0, "solution": True}
    if ctype == "markdown":
        return {**base, "grade": False, "locked": True, "solution": False}
    return None


def with_nbgrader_metadata(nb: dict) -> dict:
    """A copy of solution notebook ``nb`` with every cell's ``metadata.nbgrader`` set (see the module doc)."""
    out = copy.deepcopy(nb)
    for cell in out["cells"]:
        meta = cell.setdefault("metadata", {})
        meta.pop("nbgrader", None)
        if SOLUTION_ONLY_TAG in meta.get("tags", []):
            continue                    # the instructor note is dropped from the student notebook anyway
        wanted = cell_metadata(cell)
        if wanted is not None:
            meta["nbgrader"] = wanted
    return out
