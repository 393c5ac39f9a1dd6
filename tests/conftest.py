"""Shared fixtures and test settings.

MovieLens tests skip with a reason when the archive is not available, unless COURSEKIT_REQUIRE_MOVIELENS=1
(set by CI), in which case they fail.

Hypothesis: with ``CI`` set, the "ci" profile derandomises every property test (the same examples on every run,
no example database); otherwise the "dev" profile draws new examples each run and prints how to reproduce a
failure. ``HYPOTHESIS_PROFILE`` picks a profile explicitly.
"""
import os
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import settings

from coursekit.datasets import data_home

settings.register_profile("ci", derandomize=True, deadline=None, database=None, print_blob=True)
settings.register_profile("dev", deadline=None, print_blob=True)
HYPOTHESIS_PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
settings.load_profile(HYPOTHESIS_PROFILE)


def pytest_report_header(config) -> str:
    return f"hypothesis profile: {HYPOTHESIS_PROFILE}"


def movielens_available() -> bool:
    return (Path(data_home()) / "ml-latest-small.zip").exists()


def need_movielens() -> None:
    """Skip (or fail under COURSEKIT_REQUIRE_MOVIELENS=1) when the MovieLens archive is missing."""
    if movielens_available():
        return
    message = ("ml-latest-small.zip not found: set COURSEKIT_DATA_HOME to a folder holding it, "
               "or run `coursekit data fetch movielens` once online")
    if os.environ.get("COURSEKIT_REQUIRE_MOVIELENS") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def movielens():
    need_movielens()
    from coursekit.datasets import load_movielens

    return load_movielens()


@pytest.fixture(scope="session")
def shop():
    from coursekit.datasets import load_shop

    return load_shop()


def execute_notebook(path: Path, tmp: Path, parameters: dict) -> tuple[dict, float]:
    """Run ``path`` with papermill in smoke mode, records in ``tmp/records``; return (records, seconds).

    The notebook runs through :func:`coursekit.runner.run_notebook` (what ``coursekit run`` uses), with
    ``COURSEKIT_SMOKE=1`` and ``SMOKE=True``; a failing cell fails the test with the cell's error.
    """
    from coursekit.record import load_records
    from coursekit.runner import run_notebook

    old = os.environ.get("COURSEKIT_SMOKE")
    os.environ["COURSEKIT_SMOKE"] = "1"
    try:
        run = run_notebook(Path(path), Path(tmp), {"SMOKE": True, **parameters})
    finally:
        os.environ.pop("COURSEKIT_SMOKE") if old is None else os.environ.__setitem__("COURSEKIT_SMOKE", old)
    assert run.status == "ok", f"{Path(path).name} with {parameters} failed: {run.error}"
    return load_records(Path(path).stem, Path(tmp) / "records"), run.seconds


def exercise_namespace(path: Path, cell_ids: list[str], parameters: dict) -> dict:
    """Execute the cells ``cell_ids`` of an exercise notebook (by cell id) in one namespace and return it."""
    import json

    cells = {c["id"]: "".join(c["source"]) for c in json.loads(Path(path).read_text())["cells"]
             if c["cell_type"] == "code"}
    ns: dict = dict(parameters)   # stands in for the parameters cell
    for cid in cell_ids:
        exec(compile(cells[cid], f"{Path(path).name}:{cid}", "exec"), ns)
    return ns


def assert_check_feedback(name: str, wrong_answers=(None, "text", 3.0, (1, 2))) -> None:
    """``check(name, ...)``: a stub is "not attempted", an exception fails with its message, wrong types fail."""
    from coursekit.exercises import check

    def stub(*args):
        raise NotImplementedError()

    def broken(*args):
        raise ValueError("boom")

    assert check(name, stub, verbose=False).status == "not attempted"
    result = check(name, broken, verbose=False)
    assert result.status == "failed" and "boom" in result.message
    for answer in wrong_answers:
        assert check(name, lambda *a, answer=answer: answer, verbose=False).status == "failed"


def assert_known_mistake_hint(module, name: str, wrong: str, hint: str) -> None:
    """The known wrong answer ``module.<wrong>`` fails ``check(name, ...)`` with ``hint`` in its message."""
    from coursekit.exercises import check

    result = check(name, getattr(module, wrong), verbose=False)
    assert result.status == "failed" and hint in " ".join(result.message.split())   # the message is wrapped


class ExerciseNotebookTests(NamedTuple):
    """The tests every exercise notebook pair gets; a test module binds them to module-level names."""

    student_notebook_is_current: Callable[[], None]
    solutions_pass_and_stubs_are_not_attempted: Callable[[], None]
    stub_exception_and_wrong_types: Callable[[str], None]


def exercise_notebook_tests(solution: Path, student: Path, exercises: dict[str, str],
                            cell_ids: tuple[str, ...] = ("imports", "ex1-code", "ex2-code", "ex3-code"),
                            parameters: dict | None = None,
                            wrong_answers: tuple = (None, "text", 3.0, (1, 2))) -> ExerciseNotebookTests:
    """Tests of an exercise notebook pair: the committed student notebook is generated from the solution,
    the solution's functions pass every ``check`` and the student's stubs are "not attempted", and each
    check reports stubs, exceptions and wrong types (:func:`assert_check_feedback`).

    ``exercises`` maps each exercise name to the function the notebook defines for it; ``cell_ids`` are the
    code cells that define them, run with ``parameters`` (default ``SMOKE=True, SEED=0``); ``wrong_answers``
    are returned by a fake student function and must each fail the check.
    """
    from coursekit.exercises import check
    from coursekit.exercises.generate import check_student_notebook, diff_student_notebook

    params = {"SMOKE": True, "SEED": 0} if parameters is None else parameters

    def student_notebook_is_current() -> None:
        assert check_student_notebook(solution, student), diff_student_notebook(solution, student)[:3000]

    def solutions_pass_and_stubs_are_not_attempted() -> None:
        sol, stu = (exercise_namespace(p, list(cell_ids), params) for p in (solution, student))
        for name, fn in exercises.items():
            assert check(name, sol[fn], verbose=False).status == "passed", name
            assert check(name, stu[fn], verbose=False).status == "not attempted", name

    @pytest.mark.parametrize("name", sorted(exercises))
    def stub_exception_and_wrong_types(name: str) -> None:
        assert_check_feedback(name, wrong_answers)

    return ExerciseNotebookTests(student_notebook_is_current, solutions_pass_and_stubs_are_not_attempted,
                                 stub_exception_and_wrong_types)
