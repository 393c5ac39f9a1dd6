r"""Release bundles of the exercises: one zip for the students, one for the instructors.

    coursekit exercises release   [--folder exercises] [--output dist]   -> dist/exercises-student.zip
    coursekit exercises solutions [--folder exercises] [--output dist]   -> dist/exercises-instructor.zip

The **student bundle** holds each student notebook *generated afresh* from its solution notebook
(never the committed copy, so a stale or hand-edited file cannot leak an answer) and a
``README.md`` with the setup and data instructions and how to hand in. Before the zip is written,
every line of every solution block and every ``solution-only`` cell is searched for in it: a hit
is an error, not a bundle.

The **instructor bundle** holds the solution notebooks, the exercises' ``README.md`` and a
``GRADING.md`` with the grading commands.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

from coursekit._validation import CourseKitError
from coursekit.exercises.generate import BEGIN, END, SOLUTION_ONLY_TAG, cell_source, render_student_notebook

# A fixed timestamp: the same sources always give the same zip.
_DATE = (2024, 1, 1, 0, 0, 0)

STUDENT_README = """\
# Recommender systems course: exercises

One notebook per lesson: `NN_topic.ipynb`. In each, every exercise is a function whose body is

```python
# YOUR CODE HERE
raise NotImplementedError()
```

Replace those two lines with your code, run the cell, then run the `check(...)` cell below it: it prints
`✓` when every test case passes, or the failing case, what was expected, what you returned and a hint.
A function that runs longer than the time limit (10 s per test case) is stopped and reported.

## Setup

* **Colab**: open the notebook and run its first cell; it installs `coursekit`.
* **Locally** (Python 3.10+):

  ```bash
  python -m venv .venv && . .venv/bin/activate
  pip install "coursekit @ git+https://github.com/recsys-course/recsys-course"
  jupyter lab
  ```

## Data

* The **shop** data set (the default, `DATASET = "shop"`) ships inside coursekit: nothing to download,
  it works offline.
* **MovieLens** (ml-latest-small, `DATASET = "movielens"`): download and verify it once with
  `coursekit data fetch movielens`; `coursekit data info` shows where it is cached.

## Handing in

Run the whole notebook top to bottom (Kernel -> Restart and run all), check that the summary cell at the
end lists your statuses, save, and hand in the `.ipynb` file named as your instructor asks (for example
`<your name>.ipynb`). Keep the function names and arguments: the grader calls them by name, runs your
notebook in a fresh kernel (so it must run from top to bottom) and runs the checks itself.
"""

GRADING = """\
# Grading the exercises

```bash
coursekit grade submissions/ --assignment 01 --output grades/     # one folder per assignment
```

`submissions/` holds `<student>.ipynb` files or `<student>/<notebook>.ipynb` folders. Each notebook runs in
a fresh kernel (`--timeout`, default 300 s per notebook); the grader then runs the checks of the exercises
named in `NN_*_solution.ipynb` in its own process (`--case-time-limit`, default 10 s per test case).
It writes `grades/gradebook.csv` (student, exercise, status, points, max_points; status is passed, failed,
not attempted, error or timeout) and `grades/feedback/<student>.md`. See `README.md` for the
solution notebooks, the generator and the nbgrader metadata.
"""


def solution_lines(solution: dict) -> set[str]:
    """Lines that only the solution has: inside solution blocks or ``solution-only`` cells, and not elsewhere.

    Short lines (fewer than 8 characters, e.g. ``else:``) and lines that also occur outside any solution
    block of the same notebook (shared with the student version) are left out.
    """
    secret: set[str] = set()
    public: set[str] = set()
    for cell in solution["cells"]:
        lines = cell_source(cell).split("\n")
        if SOLUTION_ONLY_TAG in cell.get("metadata", {}).get("tags", []):
            secret.update(lines)
            continue
        inside = False
        for line in lines:
            if BEGIN.match(line):
                inside = True
            elif END.match(line):
                inside = False
            else:
                (secret if inside else public).add(line)
    return {line.strip() for line in secret - public
            if len(line.strip()) >= 8 and line.strip() not in {x.strip() for x in public}}


def cell_sources(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    sources = sorted(folder.glob("*_solution.ipynb"))
    if not sources:
        raise CourseKitError(f"--folder {folder} holds no *_solution.ipynb; pass the folder of the solution "
                             "notebooks (--folder exercises, the default, from the repository root).")
    return sources


def _write_zip(path: Path, members: dict[str, str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, members[name])
    return path


def student_bundle(folder: str | Path = "exercises", output: str | Path = "dist") -> Path:
    """Write ``output/exercises-student.zip`` (student notebooks + README); return its path."""
    members = {"exercises/README.md": STUDENT_README}
    secrets: dict[str, set[str]] = {}
    for src in cell_sources(folder):
        members[f"exercises/{src.name.replace('_solution', '')}"] = render_student_notebook(src)
        secrets[src.name] = solution_lines(json.loads(src.read_text(encoding="utf-8")))
    for name, text in members.items():
        if "BEGIN SOLUTION" in text:
            raise CourseKitError(f"{name} still holds a '### BEGIN SOLUTION' marker; refusing to release it.")
        body = {line.strip() for line in _student_text(text).split("\n")}
        for src, lines in secrets.items():
            leaked = sorted(lines & body)
            if leaked:
                raise CourseKitError(f"{name} holds solution text of {src} ({leaked[0]!r}); refusing to release it.")
    return _write_zip(Path(output) / "exercises-student.zip", members)


def _student_text(text: str) -> str:
    """The cell sources of a notebook (or the text itself when it is not a notebook)."""
    try:
        nb = json.loads(text)
    except json.JSONDecodeError:
        return text
    return "\n".join(cell_source(c) for c in nb.get("cells", []))


def instructor_bundle(folder: str | Path = "exercises", output: str | Path = "dist") -> Path:
    """Write ``output/exercises-instructor.zip`` (solution notebooks, README, GRADING); return its path."""
    folder = Path(folder)
    members = {f"exercises/{src.name}": src.read_text(encoding="utf-8") for src in cell_sources(folder)}
    readme = folder / "README.md"
    if readme.exists():
        members["exercises/README.md"] = readme.read_text(encoding="utf-8")
    members["exercises/GRADING.md"] = GRADING
    return _write_zip(Path(output) / "exercises-instructor.zip", members)
