"""nbgrader metadata, the student release bundle and the instructor bundle (issue 18)."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from coursekit.cli import main
from coursekit.exercises import check, get_exercise
from coursekit.exercises.bundle import solution_lines, student_bundle
from coursekit.exercises.generate import notebook_json
from coursekit.exercises.grading import assignment_functions
from coursekit.exercises.nbgrader import with_nbgrader_metadata

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "exercises"
SOLUTIONS = sorted(FOLDER.glob("*_solution.ipynb"))


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_solution_notebooks_carry_current_nbgrader_metadata(path):
    text = path.read_text()
    assert notebook_json(with_nbgrader_metadata(json.loads(text))) == text, "run `coursekit exercises generate`"
    cells = json.loads(text)["cells"]
    graded = {c["id"]: c["metadata"]["nbgrader"] for c in cells
              if c["metadata"].get("nbgrader", {}).get("grade") and c["cell_type"] == "code"}
    exercises = assignment_functions(path)
    assert len(graded) == len(exercises)                  # one autograded cell per exercise
    assert sum(m["points"] for m in graded.values()) == sum(get_exercise(e).points for e in exercises)
    for meta in graded.values():
        assert meta["locked"] and not meta["solution"] and meta["schema_version"] == 3
    ids = [c["metadata"]["nbgrader"]["grade_id"] for c in cells if "nbgrader" in c["metadata"]]
    assert len(ids) == len(set(ids)) and all(ids)
    for c in cells:
        src = "".join(c["source"])
        if c["cell_type"] == "code" and "### BEGIN SOLUTION" in src:
            assert c["metadata"]["nbgrader"]["solution"] and not c["metadata"]["nbgrader"]["locked"]


def test_check_raises_under_the_nbgrader_autograder(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with pytest.raises(AssertionError, match="not attempted"):
        check("ex01_precision_at_k", lambda *a: (_ for _ in ()).throw(NotImplementedError()), verbose=False)
    from tests.test_exercises import ref_precision

    assert check("ex01_precision_at_k", ref_precision, verbose=False)      # passing: no exception


def test_release_bundle_has_no_solution_text(tmp_path, capsys):
    assert main(["exercises", "release", "--folder", str(FOLDER), "--output", str(tmp_path)]) == 0
    path = tmp_path / "exercises-student.zip"
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n).decode() for n in z.namelist()}
    expected = {f"exercises/{p.name.replace('_solution', '')}" for p in SOLUTIONS} | {"exercises/README.md"}
    assert set(members) == expected
    everything = "\n".join(members.values())
    assert "BEGIN SOLUTION" not in everything and "Instructor source" not in everything
    n_checked = 0
    for src in SOLUTIONS:
        for line in solution_lines(json.loads(src.read_text())):
            n_checked += 1
            assert line not in everything, (src.name, line)
    assert n_checked > 100
    assert "hits / k" not in members["exercises/01_evaluation.ipynb"]
    assert "coursekit data fetch movielens" in members["exercises/README.md"]
    # the same sources give the same bytes
    first = path.read_bytes()
    student_bundle(FOLDER, tmp_path)
    assert path.read_bytes() == first


def test_release_refuses_a_leaking_notebook(tmp_path, monkeypatch):
    """A generator that kept the answers (markers dropped, code kept) is caught before any zip is written."""
    from coursekit import CourseKitError
    from coursekit.exercises import bundle

    def leaky(src):
        return Path(src).read_text().replace("### BEGIN SOLUTION", "").replace("### END SOLUTION", "")

    monkeypatch.setattr(bundle, "render_student_notebook", leaky)
    with pytest.raises(CourseKitError, match="solution text"):
        student_bundle(FOLDER, tmp_path)
    assert not (tmp_path / "exercises-student.zip").exists()


def test_instructor_bundle_has_the_solutions(tmp_path):
    assert main(["exercises", "solutions", "--folder", str(FOLDER), "--output", str(tmp_path)]) == 0
    with zipfile.ZipFile(tmp_path / "exercises-instructor.zip") as z:
        names = set(z.namelist())
        assert "BEGIN SOLUTION" in z.read("exercises/01_evaluation_solution.ipynb").decode()
        assert "coursekit grade" in z.read("exercises/GRADING.md").decode()
    assert {f"exercises/{p.name}" for p in SOLUTIONS} | {"exercises/README.md", "exercises/GRADING.md"} == names


def test_bundles_refuse_an_empty_folder(tmp_path, capsys):
    assert main(["exercises", "release", "--folder", str(tmp_path), "--output", str(tmp_path)]) == 2
    assert "_solution.ipynb" in capsys.readouterr().err
