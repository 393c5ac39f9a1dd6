"""coursekit grade (issue 18): a synthetic class graded into exactly the expected gradebook."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from coursekit.cli import main
from coursekit.exercises.grading import assignment_functions, find_submissions, resolve_assignment

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = ROOT / "exercises" / "01_evaluation_solution.ipynb"
STUDENT = ROOT / "exercises" / "01_evaluation.ipynb"
EX = ["ex01_precision_at_k", "ex01_ndcg_at_k", "ex01_average_precision_at_k", "ex01_temporal_split"]


def _nb(path: Path) -> dict:
    return json.loads(path.read_text())


def _edit(nb: dict, cell_id: str, old: str, new: str) -> dict:
    cell = next(c for c in nb["cells"] if c.get("id") == cell_id)
    src = "".join(cell["source"])
    assert old in src, (cell_id, old)
    cell["source"] = src.replace(old, new)
    return nb


def _insert_after(nb: dict, cell_id: str, source: str) -> dict:
    at = next(i for i, c in enumerate(nb["cells"]) if c.get("id") == cell_id) + 1
    nb["cells"].insert(at, {"cell_type": "code", "id": f"inserted-{at}", "metadata": {}, "outputs": [],
                            "execution_count": None, "source": source})
    return nb


TAMPER = '''
import coursekit.exercises as _ce
import coursekit.exercises.checks as _cc
import coursekit.exercises.ex01 as _e1
def check(name, fn, *a, **k):             # a fake check that always says yes
    print(f"✓ {name}: passed all cases. Well done!")
    _cc._HISTORY[name] = "passed"
    return True
_ce.check = _cc.check = check
_e1.single_user_metric = lambda *a, **k: 0.0   # the reference now agrees with a function returning 0
for _ex in _cc._REGISTRY.values():
    _ex.compare = lambda expected, got: None  # and every answer is right
'''


def synthetic_class(folder: Path) -> dict[str, list[str]]:
    """Write the submissions; return the expected status of each exercise per student."""
    folder.mkdir(parents=True, exist_ok=True)
    solution = _nb(SOLUTION)
    solution["cells"] = [c for c in solution["cells"] if "solution-only" not in c["metadata"].get("tags", [])]
    subs: dict[str, tuple[dict, list[str]]] = {}

    subs["alice_correct"] = (json.loads(json.dumps(solution)), ["passed"] * 4)
    wrong = json.loads(json.dumps(solution))
    _edit(wrong, "ex1-code", "return hits / k", "return hits / len(relevant)")
    _edit(wrong, "ex3-code", "return total / min(k, len(relevant))", "return total / k")
    subs["bob_wrong"] = (wrong, ["failed", "passed", "failed", "passed"])
    subs["carol_stubs"] = (_nb(STUDENT), ["not attempted"] * 4)
    crash = json.loads(json.dumps(solution))
    _insert_after(crash, "ex2-check", "import os\nos._exit(1)   # the kernel dies here")
    subs["dave_crash"] = (crash, ["passed", "passed", "error", "error"])
    loop = json.loads(json.dumps(solution))
    _edit(loop, "ex3-code", "    relevant = set(relevant)\n    hits, total",
          "    while True:\n        pass\n    hits, total")
    subs["erin_loops"] = (loop, ["passed", "passed", "timeout", "passed"])
    tampered = _nb(STUDENT)
    _insert_after(tampered, "imports", TAMPER)
    for cid in ("ex1-code", "ex2-code", "ex3-code"):
        _edit(tampered, cid, "    raise NotImplementedError()", "    return 0.0")
    subs["frank_tampers"] = (tampered, ["failed", "failed", "failed", "not attempted"])
    hang = json.loads(json.dumps(solution))
    _insert_after(hang, "ex1-check", "while True:\n    pass")
    subs["gina_hangs"] = (hang, ["passed", "timeout", "timeout", "timeout"])
    broken = json.loads(json.dumps(solution))
    _edit(broken, "ex2-code", "def ndcg_at_k(recommended, relevant, k):", "def ndcg_at_k(recommended, relevant, k)")
    subs["hugo_syntax_error"] = (broken, ["passed", "error", "passed", "passed"])

    subs["ivan_not_a_notebook"] = (None, ["error"] * 4)

    for name, (nb, _) in subs.items():
        if nb is None:
            (folder / f"{name}.ipynb").write_text("{this is not JSON")
            continue
        if name == "gina_hangs":          # one student per folder, the others flat
            (folder / name).mkdir()
            (folder / name / "01_evaluation.ipynb").write_text(json.dumps(nb))
        else:
            (folder / f"{name}.ipynb").write_text(json.dumps(nb))
    return {name: expected for name, (_, expected) in subs.items()}


def test_assignment_is_read_from_the_solution_notebook():
    assert assignment_functions(SOLUTION) == {
        "ex01_precision_at_k": "precision_at_k", "ex01_ndcg_at_k": "ndcg_at_k",
        "ex01_average_precision_at_k": "average_precision_at_k", "ex01_temporal_split": "temporal_split"}
    assert resolve_assignment("01").resolve() == ROOT / "exercises" / "01_evaluation_solution.ipynb"
    assert resolve_assignment("01", ROOT / "exercises") == ROOT / "exercises" / "01_evaluation_solution.ipynb"


def test_find_submissions_flat_and_in_folders(tmp_path):
    (tmp_path / "a.ipynb").write_text("{}")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "whatever.ipynb").write_text("{}")
    assert [s for s, _ in find_submissions(tmp_path)] == ["a", "b"]


def test_bad_assignment_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "a.ipynb").write_text("{}")
    assert main(["grade", str(tmp_path), "--assignment", "99", "--output", str(tmp_path / "out")]) == 2
    assert "99" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.notebook
def test_synthetic_class_gives_the_expected_gradebook(tmp_path, capsys):
    expected = synthetic_class(tmp_path / "submissions")
    out = tmp_path / "grades"
    code = main(["grade", str(tmp_path / "submissions"), "--assignment", "01", "--output", str(out),
                 "--timeout", "30", "--case-time-limit", "2"])
    assert code == 0
    book = pd.read_csv(out / "gradebook.csv")
    assert list(book.columns) == ["student", "exercise", "status", "points", "max_points"]
    got = {s: [book[(book.student == s) & (book.exercise == e)]["status"].item() for e in EX] for s in expected}
    assert got == expected
    assert (book["points"] == (book["status"] == "passed").astype(float)).all()
    assert (book["max_points"] == 1.0).all()
    feedback = {p.stem: p.read_text() for p in (out / "feedback").glob("*.md")}
    assert set(feedback) == set(expected)
    assert "recall" in feedback["bob_wrong"] and "divided by k" in feedback["bob_wrong"]  # check()'s hints
    assert "kernel died" in feedback["dave_crash"]
    assert "ran for more than 2 s" in feedback["erin_loops"]
    assert "ran out of time" in feedback["gina_hangs"]
    assert "SyntaxError" in feedback["hugo_syntax_error"]
    assert "not attempted yet" in feedback["carol_stubs"]
    assert "could not be read" in feedback["ivan_not_a_notebook"]
