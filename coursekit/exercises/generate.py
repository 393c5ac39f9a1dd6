"""Generate a student notebook from its solution notebook (one source, no drift).

Instructors edit only ``exercises/NN_topic_solution.ipynb``. Answers sit between
nbgrader-style markers::

    def precision_at_k(recommended, relevant, k):
        ### BEGIN SOLUTION
        ...
        ### END SOLUTION

The student notebook is the solution with

* each marked block in a **code** cell replaced by ``# YOUR CODE HERE`` and
  ``raise NotImplementedError()``, at the indentation of the ``### BEGIN SOLUTION`` line;
* each marked block in a **markdown** cell replaced by ``YOUR ANSWER HERE``;
* cells tagged ``solution-only`` removed (e.g. an instructor note);
* all outputs, execution counts and execution metadata stripped.

Command line::

    python -m coursekit.exercises.generate exercises/01_evaluation_solution.ipynb -o exercises/01_evaluation.ipynb
    python -m coursekit.exercises.generate exercises/01_evaluation_solution.ipynb --check   # exit 1 if stale

Only the standard library is used (notebooks are JSON), so the output is byte-stable:
the same source always gives the same file.
"""
from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from pathlib import Path

from coursekit._validation import CourseKitError

BEGIN = re.compile(r"^(\s*)#{2,3}\s*BEGIN SOLUTION\s*$")
END = re.compile(r"^\s*#{2,3}\s*END SOLUTION\s*$")
CODE_STUB = "{indent}# YOUR CODE HERE\n{indent}raise NotImplementedError()"
MARKDOWN_STUB = "YOUR ANSWER HERE"
SOLUTION_ONLY_TAG = "solution-only"
DROP_CELL_METADATA = ("execution", "papermill", "collapsed", "scrolled", "ExecuteTime")
DROP_NB_METADATA = ("papermill", "widgets")


def cell_source(cell: dict) -> str:
    """A cell's source as one string (nbformat stores a string or a list of lines)."""
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


_source = cell_source


def replace_solutions(text: str, cell_type: str = "code", where: str = "cell") -> str:
    """Replace every ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` block of one cell's text.

    Examples
    --------
    >>> print(replace_solutions("def f(x):\\n    ### BEGIN SOLUTION\\n    return x\\n    ### END SOLUTION"))
    def f(x):
        # YOUR CODE HERE
        raise NotImplementedError()
    >>> replace_solutions("Answer:\\n### BEGIN SOLUTION\\nIt leaks.\\n### END SOLUTION", "markdown")
    'Answer:\\nYOUR ANSWER HERE'
    """
    lines = text.split("\n")
    out: list[str] = []
    inside, indent = False, ""
    for n, line in enumerate(lines, start=1):
        begin, end = BEGIN.match(line), END.match(line)
        if begin:
            if inside:
                raise CourseKitError(f"{where}, line {n}: '### BEGIN SOLUTION' inside another solution block; "
                                     "close the first one with '### END SOLUTION'.")
            inside, indent = True, begin.group(1)
        elif end:
            if not inside:
                raise CourseKitError(f"{where}, line {n}: '### END SOLUTION' without a matching "
                                     "'### BEGIN SOLUTION'.")
            inside = False
            out.append(CODE_STUB.format(indent=indent) if cell_type == "code" else indent + MARKDOWN_STUB)
        elif not inside:
            out.append(line)
    if inside:
        raise CourseKitError(f"{where}: '### BEGIN SOLUTION' is never closed; add '### END SOLUTION'.")
    return "\n".join(out)


def _as_lines(text: str) -> list[str]:
    """Source as nbformat's list of lines (each but the last ending in a newline)."""
    lines = text.split("\n")
    return [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])


def student_notebook(solution: dict) -> dict:
    """The student version of a solution notebook given as parsed JSON (a new dict)."""
    if not isinstance(solution, dict) or "cells" not in solution:
        raise CourseKitError("not a Jupyter notebook: the JSON has no 'cells'.")
    cells = []
    for i, cell in enumerate(solution["cells"]):
        meta = dict(cell.get("metadata", {}))
        if SOLUTION_ONLY_TAG in meta.get("tags", []):
            continue
        for key in DROP_CELL_METADATA:
            meta.pop(key, None)
        ctype = cell.get("cell_type", "code")
        new = {k: v for k, v in cell.items() if k not in ("outputs", "execution_count", "metadata", "source")}
        new["metadata"] = meta
        text = _source(cell)
        if ctype in ("code", "markdown"):
            text = replace_solutions(text, ctype, where=f"cell {i} ({ctype})")
        new["source"] = _as_lines(text)
        if ctype == "code":
            new["execution_count"] = None
            new["outputs"] = []
        cells.append(new)
    nb = {k: v for k, v in solution.items() if k != "cells"}
    nb["metadata"] = {k: v for k, v in solution.get("metadata", {}).items() if k not in DROP_NB_METADATA}
    nb["cells"] = cells
    return nb


def notebook_json(nb: dict) -> str:
    """The text of notebook ``nb`` in the layout nbformat writes: indent 1, sorted keys, unicode kept, final newline."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


_dumps = notebook_json


def _read(path: Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise CourseKitError(f"{path} does not exist.")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise CourseKitError(f"{path} is not valid notebook JSON ({e}).") from None


def render_student_notebook(src: str | Path) -> str:
    """The text of the student notebook generated from solution notebook ``src``."""
    try:
        return _dumps(student_notebook(_read(src)))
    except CourseKitError as e:
        raise CourseKitError(f"{src}: {e}") from None


def default_destination(src: str | Path) -> Path:
    """``NN_topic_solution.ipynb`` -> ``NN_topic.ipynb`` in the same folder."""
    src = Path(src)
    if "_solution" not in src.stem:
        raise CourseKitError(f"{src.name} is not named *_solution.ipynb; pass the output path with -o.")
    return src.with_name(src.stem.replace("_solution", "") + src.suffix)


def generate_student_notebook(src: str | Path, dst: str | Path | None = None) -> Path:
    """Write the student notebook for solution notebook ``src`` to ``dst``; return ``dst``."""
    dst = Path(dst) if dst is not None else default_destination(src)
    if Path(src).resolve() == dst.resolve():
        raise CourseKitError(f"refusing to overwrite the solution notebook {src} with the student version.")
    text = render_student_notebook(src)
    dst.write_text(text, encoding="utf-8")
    return dst


def diff_student_notebook(src: str | Path, dst: str | Path | None = None, context: int = 2) -> str:
    """Unified diff from the committed ``dst`` to what would be generated from ``src`` ('' if equal)."""
    dst = Path(dst) if dst is not None else default_destination(src)
    expected = render_student_notebook(src)
    actual = dst.read_text(encoding="utf-8") if dst.exists() else ""
    if actual == expected:
        return ""
    return "".join(difflib.unified_diff(actual.splitlines(True), expected.splitlines(True),
                                        fromfile=f"{dst} (committed)", tofile=f"{dst} (generated from {src})",
                                        n=context))


def check_student_notebook(src: str | Path, dst: str | Path | None = None) -> bool:
    """Whether the committed student notebook ``dst`` equals what ``src`` generates."""
    return diff_student_notebook(src, dst) == ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coursekit.exercises.generate",
                                     description="Generate student exercise notebooks from solution notebooks.")
    parser.add_argument("sources", nargs="+", type=Path, help="solution notebook(s), *_solution.ipynb")
    parser.add_argument("-o", "--output", type=Path, help="student notebook path (one source only; "
                        "default: the source name without '_solution')")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 with a diff if a committed student notebook is out of date")
    args = parser.parse_args(argv)
    if args.output and len(args.sources) > 1:
        parser.error("-o works with one source notebook only")
    stale = 0
    try:
        for src in args.sources:
            dst = args.output or default_destination(src)
            if args.check:
                diff = diff_student_notebook(src, dst)
                if diff:
                    stale += 1
                    shown = diff if len(diff) < 6000 else diff[:6000] + "\n... (diff truncated)\n"
                    print(shown, end="")
                    print(f"STALE  {dst} differs from what {src} generates. Regenerate it with\n"
                          f"       python -m coursekit.exercises.generate {src} -o {dst}", file=sys.stderr)
                else:
                    print(f"up to date  {dst}")
            else:
                generate_student_notebook(src, dst)
                print(f"generated  {dst}  (from {src})")
    except CourseKitError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
