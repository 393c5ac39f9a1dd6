"""Exercise checks (coursekit.exercises) and the student-notebook generator."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coursekit import CourseKitError
from coursekit.exercises import check, exercise_names, get_exercise, summary
from coursekit.exercises.generate import (
    check_student_notebook,
    diff_student_notebook,
    generate_student_notebook,
    replace_solutions,
    student_notebook,
)
from coursekit.exercises.generate import main as generate_main

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = ROOT / "exercises" / "01_evaluation_solution.ipynb"
STUDENT = ROOT / "exercises" / "01_evaluation.ipynb"
EX01 = ["ex01_average_precision_at_k", "ex01_ndcg_at_k", "ex01_precision_at_k", "ex01_temporal_split"]


# ------------------------------------------------------------------ independent reference solutions
def ref_precision(recommended, relevant, k):
    rel = set(relevant)
    return sum(item in rel for item in list(recommended)[:k]) / k


def ref_ndcg(recommended, relevant, k):
    rel = set(relevant)
    dcg = sum(1 / math.log2(i + 2) for i, item in enumerate(list(recommended)[:k]) if item in rel)
    return dcg / sum(1 / math.log2(i + 2) for i in range(min(k, len(rel))))


def ref_ap(recommended, relevant, k):
    rel, hits, total = set(relevant), 0, 0.0
    for i, item in enumerate(list(recommended)[:k], start=1):
        if item in rel:
            hits += 1
            total += hits / i
    return total / min(k, len(rel))


def ref_split(df, test_frac):
    """A different algorithm from coursekit.splits: explicit per-user rank with pandas."""
    d = df.copy()
    d["_rank"] = d.groupby("user_id")[["timestamp", "item_id"]].apply(
        lambda g: g.apply(tuple, axis=1).rank(method="first")).reset_index(level=0, drop=True)
    n = d.groupby("user_id")["item_id"].transform("size")
    n_test = np.minimum(np.floor(test_frac * n + 0.5), n - 1)
    test = d["_rank"] > n - n_test
    return df[~test.to_numpy()], df[test.to_numpy()]


REFERENCE = {"ex01_precision_at_k": ref_precision, "ex01_ndcg_at_k": ref_ndcg,
             "ex01_average_precision_at_k": ref_ap, "ex01_temporal_split": ref_split}


def stub(*args, **kwargs):
    # YOUR CODE HERE
    raise NotImplementedError()


# ------------------------------------------------------------------ check(): statuses
def test_registry_lists_lesson_01():
    assert set(EX01) <= set(exercise_names())


@pytest.mark.parametrize("name", EX01)
def test_reference_passes(name, capsys):
    result = check(name, REFERENCE[name])
    assert result.status == "passed", result.message
    assert bool(result) and result.n_passed == result.n_cases >= 7
    assert "✓" in capsys.readouterr().out
    assert summary()[name] == "passed"


@pytest.mark.parametrize("name", EX01)
def test_stub_is_not_attempted(name, capsys):
    result = check(name, stub)
    assert result.status == "not attempted" and not result
    assert "not attempted yet" in capsys.readouterr().out


@pytest.mark.parametrize("name", EX01)
def test_exception_in_student_code_is_reported_not_raised(name, capsys):
    def broken(*args):
        return {}["missing"]

    result = check(name, broken)
    assert result.status == "failed"
    out = capsys.readouterr().out
    assert "✗" in out and "KeyError" in out


@pytest.mark.parametrize("name, answer", [
    ("ex01_precision_at_k", None), ("ex01_ndcg_at_k", "0.5"), ("ex01_average_precision_at_k", [0.1, 0.2]),
    ("ex01_temporal_split", None), ("ex01_temporal_split", (1, 2)), ("ex01_temporal_split", pd.DataFrame()),
])
def test_wrong_types_fail_gracefully(name, answer):
    result = check(name, lambda *a: answer, verbose=False)
    assert result.status == "failed" and result.details[0]["problem"]


def test_not_a_function_fails_gracefully():
    result = check("ex01_precision_at_k", 0.5, verbose=False)
    assert result.status == "failed" and "function itself" in result.message


def test_unknown_exercise_lists_the_names():
    with pytest.raises(CourseKitError, match="ex01_precision_at_k"):
        check("ex01_precission_at_k", ref_precision)


# ------------------------------------------------------------------ known wrong answers + hints
def _ap_divided_by_k(rec, rel, k):
    return ref_ap(rec, rel, k) * min(k, len(set(rel))) / k


def _ap_by_hits(rec, rel, k):
    hits = sum(item in set(rel) for item in rec[:k])
    return ref_ap(rec, rel, k) * min(k, len(set(rel))) / max(hits, 1)


@pytest.mark.parametrize("name, wrong, hint", [
    ("ex01_average_precision_at_k", _ap_divided_by_k, "divided by k"),
    ("ex01_average_precision_at_k", _ap_by_hits, "number of hits"),
    ("ex01_average_precision_at_k", ref_precision, "not average precision"),
    ("ex01_precision_at_k", lambda rec, rel, k: sum(i in set(rel) for i in rec[:k]) / len(set(rel)), "recall"),
    ("ex01_precision_at_k", lambda rec, rel, k: sum(i in set(rel) for i in rec[:k]) / len(rec[:k]), "length"),
    ("ex01_ndcg_at_k", lambda rec, rel, k: ref_ndcg(rec, rel, k) * sum(
        1 / math.log2(i + 2) for i in range(min(k, len(set(rel))))), "returned DCG"),
])
def test_known_mistakes_fail_with_specific_hint(name, wrong, hint):
    result = check(name, wrong, verbose=False)
    assert result.status == "failed"
    assert hint in result.message, result.message


def _split_random(df, test_frac):
    test = df.sample(frac=test_frac, random_state=1)
    return df.drop(test.index), test


def _split_banker(df, test_frac):
    d = df.sort_values(["user_id", "timestamp", "item_id"])
    n = d.groupby("user_id")["item_id"].transform("size")
    n_test = np.minimum(np.round(test_frac * n), n - 1)     # round half to even: wrong rule
    test = d.groupby("user_id").cumcount() >= n - n_test
    return d[~test], d[test]


def _split_no_ties(df, test_frac):
    d = df.sort_values(["user_id", "timestamp"], kind="stable")
    n = d.groupby("user_id")["item_id"].transform("size")
    n_test = np.minimum((test_frac * n + 0.5).astype(int), n - 1)
    test = d.groupby("user_id").cumcount() >= n - n_test
    return d[~test], d[test]


@pytest.mark.parametrize("wrong, problem", [
    (_split_random, "leakage"),
    (_split_banker, "wrong number of test events"),
    (_split_no_ties, "same timestamp"),
    (lambda df, f: (df, df.iloc[:0]), "wrong number of test events"),
    (lambda df, f: (df, df), "exactly once"),
    (lambda df, f: (df[["user_id"]], df[["user_id"]]), "lacks column"),
])
def test_wrong_splits_fail(wrong, problem):
    result = check("ex01_temporal_split", wrong, verbose=False)
    assert result.status == "failed"
    assert problem in result.message, result.message


def test_student_input_mutation_does_not_spoil_later_cases():
    def mutating_then_right(df, test_frac):
        out = ref_split(df, test_frac)
        df["timestamp"] = 0          # mutates the caller's frame
        return out

    assert check("ex01_temporal_split", mutating_then_right, verbose=False).status == "passed"


# ------------------------------------------------------------------ agreement of hand cases with coursekit
@pytest.mark.parametrize("name", ["ex01_precision_at_k", "ex01_ndcg_at_k", "ex01_average_precision_at_k"])
def test_hand_cases_agree_with_coursekit_metrics(name):
    from coursekit import metrics
    from coursekit.exercises.ex01 import single_user_metric

    fn = getattr(metrics, name.removeprefix("ex01_"))
    for case in get_exercise(name).cases():
        assert math.isclose(case.expected_value(), single_user_metric(fn, *case.args), abs_tol=1e-12), case.name


def test_result_feedback_shows_expected_and_got():
    result = check("ex01_precision_at_k", lambda rec, rel, k: 0.25, verbose=False)
    assert "expected: 0.666667" in result.message and "got:      0.25" in result.message
    assert result.details[0]["case"] == "two hits in the top 3"


# ------------------------------------------------------------------ generator
SOLUTION_NB = {
    "cells": [
        {"cell_type": "markdown", "id": "note", "metadata": {"tags": ["solution-only"]}, "source": ["secret"]},
        {"cell_type": "code", "id": "f", "execution_count": 3, "metadata": {"tags": ["x"], "execution": {"a": 1}},
         "outputs": [{"output_type": "stream", "name": "stdout", "text": ["hi\n"]}],
         "source": ["def f(x):\n", "    '''doc'''\n", "    ### BEGIN SOLUTION\n", "    y = x + 1\n",
                    "    return y\n", "    ### END SOLUTION\n", "\n", "print(f(1))"]},
        {"cell_type": "code", "id": "top", "execution_count": None, "metadata": {}, "outputs": [],
         "source": ["### BEGIN SOLUTION\n", "a = 1\n", "### END SOLUTION\n", "b = 2"]},
        {"cell_type": "markdown", "id": "q", "metadata": {},
         "source": ["Why?\n", "\n", "### BEGIN SOLUTION\n", "Because.\n", "### END SOLUTION"]},
    ],
    "metadata": {"kernelspec": {"name": "python3"}, "papermill": {"x": 1}},
    "nbformat": 4, "nbformat_minor": 5,
}


def test_student_notebook_replaces_solutions():
    nb = student_notebook(SOLUTION_NB)
    assert [c["id"] for c in nb["cells"]] == ["f", "top", "q"]
    f, top, q = ("".join(c["source"]) for c in nb["cells"])
    assert f == ("def f(x):\n    '''doc'''\n    # YOUR CODE HERE\n    raise NotImplementedError()\n\nprint(f(1))")
    assert top == "# YOUR CODE HERE\nraise NotImplementedError()\nb = 2"
    assert q == "Why?\n\nYOUR ANSWER HERE"
    cell = nb["cells"][0]
    assert cell["outputs"] == [] and cell["execution_count"] is None
    assert cell["metadata"] == {"tags": ["x"]}
    assert "papermill" not in nb["metadata"] and nb["metadata"]["kernelspec"] == {"name": "python3"}
    assert SOLUTION_NB["cells"][1]["outputs"]  # the source is not modified


def test_generated_stub_runs_and_raises_not_implemented():
    nb = student_notebook(SOLUTION_NB)
    ns: dict = {}
    exec("".join(nb["cells"][0]["source"]).replace("print(f(1))", ""), ns)
    with pytest.raises(NotImplementedError):
        ns["f"](1)


@pytest.mark.parametrize("text, match", [
    ("### BEGIN SOLUTION\nx = 1", "never closed"),
    ("x = 1\n### END SOLUTION", "without a matching"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "inside another"),
])
def test_unbalanced_markers_are_clear_errors(text, match):
    with pytest.raises(CourseKitError, match=match):
        replace_solutions(text)


def test_round_trip_and_check(tmp_path):
    src, dst = tmp_path / "02_demo_solution.ipynb", tmp_path / "02_demo.ipynb"
    src.write_text(json.dumps(SOLUTION_NB))
    assert not check_student_notebook(src, dst)              # missing -> stale
    assert generate_student_notebook(src) == dst             # default destination
    assert check_student_notebook(src, dst)
    first = dst.read_text()
    generate_student_notebook(src, dst)
    assert dst.read_text() == first                          # byte-stable
    # the student notebook has no solution left
    assert "y = x + 1" not in first and "Because." not in first and "secret" not in first
    # editing the committed student notebook makes it stale, with a diff naming the change
    dst.write_text(first.replace("YOUR ANSWER HERE", "my answer"))
    assert not check_student_notebook(src, dst)
    assert "my answer" in diff_student_notebook(src, dst)
    assert generate_main([str(src), "--check"]) == 1
    assert generate_main([str(src), "-o", str(dst)]) == 0
    assert generate_main([str(src), "--check"]) == 0


def test_generator_refuses_bad_input(tmp_path, capsys):
    with pytest.raises(CourseKitError, match="_solution"):
        generate_student_notebook(tmp_path / "plain.ipynb")
    bad = tmp_path / "x_solution.ipynb"
    bad.write_text("{not json")
    assert generate_main([str(bad)]) == 2
    assert "not valid notebook JSON" in capsys.readouterr().err


# ------------------------------------------------------------------ the committed notebooks
def test_committed_student_notebook_is_current():
    assert check_student_notebook(SOLUTION, STUDENT), diff_student_notebook(SOLUTION, STUDENT)[:3000]


def _code_cells(path: Path) -> dict[str, str]:
    nb = json.loads(path.read_text())
    return {c["id"]: "".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"}


def _exercise_namespace(path: Path) -> dict:
    """Execute the imports and the exercise definition cells of a notebook (no data, no magics)."""
    cells = _code_cells(path)
    ns: dict = {}
    for cid in ["imports", "ex1-code", "ex2-code", "ex3-code", "ex4-code"]:
        exec(compile(cells[cid], f"{path.name}:{cid}", "exec"), ns)
    return ns


FUNCTIONS = {"ex01_precision_at_k": "precision_at_k", "ex01_ndcg_at_k": "ndcg_at_k",
             "ex01_average_precision_at_k": "average_precision_at_k", "ex01_temporal_split": "temporal_split"}


def test_solution_notebook_functions_pass_every_check():
    ns = _exercise_namespace(SOLUTION)
    for name, fn in FUNCTIONS.items():
        assert check(name, ns[fn], verbose=False).status == "passed", name


def test_student_notebook_functions_are_not_attempted():
    ns = _exercise_namespace(STUDENT)
    for name, fn in FUNCTIONS.items():
        assert check(name, ns[fn], verbose=False).status == "not attempted", name


def test_every_check_cell_names_a_registered_exercise():
    cells = _code_cells(SOLUTION)
    called = {src.split('"')[1] for cid, src in cells.items() if cid.endswith("-check")}
    assert called == set(EX01)
    nb = json.loads(SOLUTION.read_text())
    assert any("parameters" in c["metadata"].get("tags", []) for c in nb["cells"])


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.parametrize("path, expected", [(SOLUTION, "passed"), (STUDENT, "not attempted")],
                         ids=["solution", "student"])
def test_exercise_notebook_runs(path, expected, tmp_path):
    import papermill as pm

    from coursekit.record import load_records

    env = {"COURSEKIT_RECORDS": str(tmp_path / "records"), "COURSEKIT_NOTEBOOK": "ex01_evaluation"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        pm.execute_notebook(str(path), str(tmp_path / path.name), parameters={"SMOKE": True, "DATASET": "shop"},
                            cwd=str(path.parent), kernel_name="python3", progress_bar=False)
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    records = load_records("ex01_evaluation", tmp_path / "records")
    assert records["check_status"] == {name: expected for name in EX01}
    assert records["n_passed"] == (4 if expected == "passed" else 0)
    if expected == "passed":
        assert records["temporal_split_leaked_share"] == 0.0
        assert records["random_split_leaked_share"] > 0.0


def test_a_broken_exercise_module_is_named_not_fatal(monkeypatch):
    from coursekit.exercises import checks

    monkeypatch.setitem(checks._BROKEN, "ex98_demo", "ImportError: no module named 'x'")
    with pytest.raises(CourseKitError, match="ex98_demo failed to load"):
        check("ex98_anything", ref_precision)
    assert check("ex01_precision_at_k", ref_precision, verbose=False).status == "passed"
