r"""Grade a class: run every submitted exercise notebook, check it from the grader's side, write a gradebook.

    coursekit grade submissions/ --assignment 01 --output grades/

For every submission (``submissions/<student>.ipynb`` or ``submissions/<student>/<any>.ipynb``):

1. **Execute** the notebook in a fresh Jupyter kernel (its ``parameters`` cell followed by
   ``SMOKE = True``), cell after cell, errors allowed, within a per-notebook time limit
   (``--timeout``). After each cell the grader asks the kernel for the student's exercise
   functions (by the names the *solution* notebook's ``check(...)`` cells use) and keeps them,
   pickled by value with ``cloudpickle``; so a notebook that crashes its kernel or loops at cell
   ``k`` still has the functions defined before ``k`` graded.
2. **Check** the functions in a separate, fresh grader process (``python -m
   coursekit.exercises.grading``) that imports coursekit's registered checks itself and computes
   every expected answer before the first student call (``check(..., expected_first=True)``).
   Nothing the notebook printed, recorded or redefined is read: a student who redefines
   ``check``, monkeypatches the reference functions in their kernel or fakes the summary cell
   changes nothing. (Threat model: careless or curious students. The student's functions do run
   in the grader process, as they must to be tested; a student who writes code that attacks the
   grader from inside a graded function is out of scope, as in any autograder that runs student
   code without a sandbox. Run ``coursekit grade`` in a container or VM for untrusted classes.)
3. **Write** ``gradebook.csv`` (``student, exercise, status, points, max_points``; ``status``
   is ``passed``, ``failed``, ``not attempted``, ``error`` or ``timeout``; points are all or
   nothing, :attr:`~coursekit.exercises.checks.Exercise.points`) and ``feedback/<student>.md``
   with the feedback ``check()`` gives (failing case, expected, got, hint) and the notebook's
   first error.

Statuses: ``error`` = the function does not exist after the notebook ran (a syntax error in its
cell, renamed, or the kernel died before its cell) or could not be transferred; ``timeout`` = the
function ran past the per-case time limit, or the notebook ran out of time before defining it.
A broken submission never stops the batch.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import pickle
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from coursekit._validation import CourseKitError

STATUSES = ("passed", "failed", "not attempted", "error", "timeout")
EXERCISES = Path(__file__).resolve().parents[2] / "exercises"
GRADEBOOK_COLUMNS = ["student", "exercise", "status", "points", "max_points"]


# ---------------------------------------------------------------------------- the assignment
def assignment_functions(solution: str | Path) -> dict[str, str]:
    """``{exercise name: function name}`` from the ``check("exNN_...", fn)`` calls of a solution notebook.

    >>> assignment_functions(EXERCISES / "01_evaluation_solution.ipynb")["ex01_precision_at_k"]
    'precision_at_k'
    """
    nb = json.loads(Path(solution).read_text(encoding="utf-8"))
    found: dict[str, str] = {}
    for cell in nb["cells"]:
        if cell.get("cell_type") != "code":
            continue
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        src = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in src.split("\n"))
        try:
            tree = ast.parse(src)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "check"
                    and len(node.args) >= 2 and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str) and isinstance(node.args[1], ast.Name)):
                found[node.args[0].value] = node.args[1].id
    if not found:
        raise CourseKitError(f"{solution} has no check('exNN_...', function) cell: not an exercise notebook.")
    return found


def resolve_assignment(assignment: str | Path, folder: str | Path | None = None) -> Path:
    """A solution notebook from its path or its lesson prefix (``"01"``, ``"01_evaluation"``).

    A prefix is looked up in ``folder`` (default: ``./exercises`` when it exists, else the repository's).
    """
    if folder is None:
        folder = Path("exercises") if Path("exercises").is_dir() else EXERCISES
    path = Path(assignment)
    if path.suffix == ".ipynb":
        if not path.exists():
            raise CourseKitError(f"--assignment {path} does not exist.")
        return path
    matches = sorted(Path(folder).glob(f"{assignment}*_solution.ipynb"))
    if len(matches) != 1:
        known = sorted(p.name for p in Path(folder).glob("*_solution.ipynb"))
        raise CourseKitError(f"--assignment {assignment!r} matches {len(matches)} solution notebooks in {folder}; "
                             f"give a lesson prefix such as '01' or a path. Known: {known}.")
    return matches[0]


def find_submissions(submissions: str | Path) -> list[tuple[str, Path]]:
    """``(student, notebook)`` pairs: ``<folder>/<student>.ipynb`` and ``<folder>/<student>/<one>.ipynb``."""
    root = Path(submissions)
    if root.is_file() and root.suffix == ".ipynb":
        return [(root.stem, root)]
    if not root.is_dir():
        raise CourseKitError(f"SUBMISSIONS {root} is neither a folder nor a notebook.")
    found = [(p.stem, p) for p in sorted(root.glob("*.ipynb"))]
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        notebooks = sorted(p for p in sub.glob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
        if len(notebooks) > 1:
            raise CourseKitError(f"{sub} holds {len(notebooks)} notebooks; keep one submission per student folder.")
        found += [(sub.name, nb) for nb in notebooks]
    names = [s for s, _ in found]
    dupes = sorted({s for s in names if names.count(s) > 1})
    if dupes:
        raise CourseKitError(f"students {dupes} have more than one submission in {root}.")
    if not found:
        raise CourseKitError(f"no .ipynb submission in {root}.")
    return found


# ---------------------------------------------------------------------------- 1. execute in a kernel
_EXTRACT = """\
def __coursekit_extract(names, path):
    import pickle
    try:
        import cloudpickle
    except ImportError as e:
        cloudpickle, reason = None, repr(e)
    out = {{}}
    for name in names:
        fn = globals().get(name)
        if not callable(fn):
            continue
        try:
            out[name] = cloudpickle.dumps(fn) if cloudpickle else "cloudpickle is missing: " + reason
        except BaseException as e:
            out[name] = "could not transfer your function: " + type(e).__name__ + ": " + str(e)
    with open(path, "wb") as f:
        pickle.dump(out, f)
__coursekit_extract({names!r}, {path!r})
del __coursekit_extract
"""


@dataclass
class Execution:
    """What running one submission gave: the transferred functions and what went wrong."""

    functions: dict[str, bytes | str] = field(default_factory=dict)
    timed_out: bool = False
    crashed: str = ""
    first_error: str = ""
    seconds: float = 0.0


def _parameterized(path: Path, parameters: dict[str, Any]):
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    code = "\n".join(f"{k} = {v!r}" for k, v in parameters.items())
    cell = nbformat.v4.new_code_cell(code)
    cell.metadata["tags"] = ["injected-parameters"]
    at = next((i + 1 for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])), 0)
    nb.cells.insert(at, cell)
    return nb


def execute_submission(path: str | Path, names: list[str], timeout: float = 300,
                       parameters: dict[str, Any] | None = None, workdir: str | Path | None = None) -> Execution:
    """Run notebook ``path`` in a fresh kernel and transfer the functions ``names`` (see the module doc)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, DeadKernelError

    path = Path(path)
    result = Execution()
    start = time.perf_counter()
    try:
        nb = _parameterized(path, {"SMOKE": True, **(parameters or {})})
    except Exception as e:  # noqa: BLE001 - not a notebook: every exercise is an error
        result.crashed = f"the notebook could not be read ({type(e).__name__}: {e})"
        return result
    with tempfile.TemporaryDirectory(prefix="coursekit-grade-") as tmp:
        tmp = Path(tmp)
        dump = tmp / "functions.pkl"
        env = {"COURSEKIT_RECORDS": str(tmp / "records"), "COURSEKIT_NOTEBOOK": path.stem}
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=False,
                                interrupt_on_timeout=True, resources={"metadata": {"path": str(workdir or tmp)}})
        extract = nbformat.v4.new_code_cell(_EXTRACT.format(names=list(names), path=str(dump)))
        n_cells = len(nb.cells)
        nb.cells.append(extract)          # nbclient stores each executed cell's outputs in the notebook
        deadline = start + timeout

        def collect() -> None:
            try:
                client.timeout = 60
                client.execute_cell(extract, n_cells, store_history=False)
                with open(dump, "rb") as f:
                    result.functions.update(pickle.load(f))
            except Exception:  # noqa: BLE001 - keep what was collected after the earlier cells
                pass

        try:
            with client.setup_kernel():
                for index, cell in enumerate(nb.cells[:n_cells]):
                    if cell.cell_type != "code":
                        continue
                    left = deadline - time.perf_counter()
                    if left <= 0:
                        result.timed_out = True
                        break
                    client.timeout = max(1, int(left))
                    cell_start = time.perf_counter()
                    try:
                        client.execute_cell(cell, index)
                    except CellExecutionError as e:
                        # nbclient interrupts a cell that runs past client.timeout (interrupt_on_timeout)
                        if time.perf_counter() - cell_start >= client.timeout - 1 or \
                                time.perf_counter() >= deadline - 1:
                            result.timed_out = True
                        elif not result.first_error:
                            result.first_error = f"cell {index}: {e.ename}: {e.evalue}"
                    if time.perf_counter() >= deadline:
                        result.timed_out = True
                    if any(re.search(rf"\bdef\s+{re.escape(n)}\b|\b{re.escape(n)}\s*=", cell.source)
                           for n in names) or result.timed_out:
                        collect()
                    if result.timed_out:
                        break
                collect()
        except DeadKernelError as e:
            result.crashed = f"the kernel died ({e}); the cells after that were not run"
        except Exception as e:  # noqa: BLE001 - a kernel that will not start, a broken notebook
            result.crashed = f"the notebook could not be run ({type(e).__name__}: {e})"
        finally:
            for k, v in old.items():
                os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    result.seconds = time.perf_counter() - start
    return result


# ---------------------------------------------------------------------------- 2. check in a fresh process
def _check_functions(functions: dict[str, bytes | str], names: dict[str, str], time_limit: float | None,
                     out: Path) -> None:
    """In the grader process: unpickle each function and run its registered check; write JSON to ``out``."""
    from coursekit.exercises.checks import check

    results: dict[str, dict] = {}
    for exercise, fn_name in names.items():
        blob = functions.get(fn_name)
        if blob is None:
            results[exercise] = {"status": "error", "message": f"`{fn_name}` is not defined after your notebook ran."}
        elif isinstance(blob, str):
            results[exercise] = {"status": "error", "message": blob}
        else:
            try:
                import cloudpickle

                fn = cloudpickle.loads(blob)
            except BaseException as e:  # noqa: BLE001
                results[exercise] = {"status": "error",
                                     "message": f"could not load `{fn_name}` ({type(e).__name__}: {e})."}
            else:
                r = check(exercise, fn, verbose=False, time_limit=time_limit, expected_first=True)
                status = "timeout" if r.timed_out else r.status
                results[exercise] = {"status": status, "message": r.message, "n_passed": r.n_passed,
                                     "n_cases": r.n_cases}
        out.write_text(json.dumps(results))   # after each exercise: a killed process keeps what it finished


def check_in_grader_process(functions: dict[str, bytes | str], names: dict[str, str],
                            time_limit: float | None = None, timeout: float = 600) -> dict[str, dict]:
    """Run :func:`_check_functions` in a fresh Python process; exercises it did not finish are ``timeout``."""
    with tempfile.TemporaryDirectory(prefix="coursekit-check-") as tmp:
        tmp = Path(tmp)
        (tmp / "in.pkl").write_bytes(pickle.dumps({"functions": functions, "names": names,
                                                   "time_limit": time_limit}))
        out = tmp / "out.json"
        cmd = [sys.executable, "-m", "coursekit.exercises.grading", "--check-functions", str(tmp / "in.pkl"),
               str(out)]
        detail = ""
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=tmp)
            if proc.returncode != 0:
                detail = f"the grader process stopped ({proc.returncode}): {proc.stderr.strip()[-300:]}"
        except subprocess.TimeoutExpired:
            detail = f"checking took more than {timeout:g} s"
        results = json.loads(out.read_text()) if out.exists() else {}
    for exercise in names:
        if exercise not in results:
            results[exercise] = {"status": "timeout" if "took more" in detail else "error",
                                 "message": detail or "not checked."}
    return results


# ---------------------------------------------------------------------------- 3. the class
def grade_submission(path: str | Path, solution: str | Path, timeout: float = 300,
                     case_time_limit: float | None = None) -> tuple[dict[str, dict], Execution]:
    """Grade one notebook: ``{exercise: {"status", "message", ...}}`` and how its execution went."""
    names = assignment_functions(solution)
    execution = execute_submission(path, sorted(set(names.values())), timeout=timeout)
    results = check_in_grader_process(execution.functions, names, case_time_limit, timeout=max(600.0, 3 * timeout))
    for exercise, fn_name in names.items():
        r = results[exercise]
        if r["status"] == "error" and fn_name not in execution.functions:
            if execution.timed_out:
                r["status"] = "timeout"
                r["message"] = (f"your notebook ran for more than {timeout:g} s and was stopped before "
                                f"`{fn_name}` was defined.")
            elif execution.crashed:
                r["message"] += f" Your notebook stopped early: {execution.crashed}."
            elif execution.first_error:
                r["message"] += f" First error in your notebook: {execution.first_error}."
    return results, execution


def _feedback(student: str, notebook: Path, results: dict[str, dict], execution: Execution,
              points: dict[str, float]) -> str:
    got = sum(points[e] for e, r in results.items() if r["status"] == "passed")
    lines = [f"# Feedback for {student}", "", f"Notebook: `{notebook.name}`. Points: {got:g} of "
             f"{sum(points.values()):g}.", ""]
    if execution.timed_out:
        lines += ["**Your notebook ran out of time** and was stopped; exercises after that point were not graded.", ""]
    if execution.crashed:
        lines += [f"**Your notebook stopped early:** {execution.crashed}.", ""]
    if execution.first_error:
        lines += [f"First error while running your notebook: `{execution.first_error}`", ""]
    for exercise, r in results.items():
        lines += [f"## {exercise}: {r['status']} ({points[exercise] if r['status'] == 'passed' else 0:g} / "
                  f"{points[exercise]:g})", "", "```", r.get("message", ""), "```", ""]
    return "\n".join(lines)


def grade_class(submissions: str | Path, assignment: str | Path, output: str | Path, timeout: float = 300,
                case_time_limit: float | None = None, progress: bool = True) -> pd.DataFrame:
    """Grade every submission; write ``gradebook.csv`` and ``feedback/<student>.md`` in ``output``.

    Returns the gradebook (one row per student and exercise, columns ``student, exercise, status,
    points, max_points``).
    """
    from tqdm.auto import tqdm

    from coursekit.exercises.checks import get_exercise

    solution = resolve_assignment(assignment)
    names = assignment_functions(solution)
    points = {e: float(get_exercise(e).points) for e in names}
    found = find_submissions(submissions)
    output = Path(output)
    (output / "feedback").mkdir(parents=True, exist_ok=True)
    rows = []
    bar = tqdm(found, desc="grading", unit="student", disable=not progress)
    for student, notebook in bar:
        bar.set_postfix_str(student)
        try:
            results, execution = grade_submission(notebook, solution, timeout, case_time_limit)
        except Exception as e:  # noqa: BLE001 - one broken submission never stops the batch
            execution = Execution(crashed=f"grading failed ({type(e).__name__}: {e})")
            results = {ex: {"status": "error", "message": execution.crashed} for ex in names}
        for exercise, r in results.items():
            rows.append({"student": student, "exercise": exercise, "status": r["status"],
                         "points": points[exercise] if r["status"] == "passed" else 0.0,
                         "max_points": points[exercise]})
        (output / "feedback" / f"{student}.md").write_text(
            _feedback(student, notebook, results, execution, points), encoding="utf-8")
    book = pd.DataFrame(rows, columns=GRADEBOOK_COLUMNS)
    book.to_csv(output / "gradebook.csv", index=False)
    return book


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="internal: the grader process of coursekit grade")
    parser.add_argument("--check-functions", nargs=2, metavar=("INPUT", "OUTPUT"), required=True)
    args = parser.parse_args(argv)
    data = pickle.loads(Path(args.check_functions[0]).read_bytes())
    _check_functions(data["functions"], data["names"], data["time_limit"], Path(args.check_functions[1]))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
